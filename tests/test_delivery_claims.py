"""Claims, hand-over and what a worker that dies mid-batch leaves behind (``email.claims``).

A killed process runs no ``finally``: these tests build the rows such a
worker leaves (a batch claimed, one group handed over, nothing recorded)
with the same functions delivery uses, then check that the claims never
handed over are given back and sent once, and that the handed-over ones are
reported and never sent again. ``test_scale_out.py`` kills real workers.
"""

from datetime import UTC, datetime, timedelta

import pytest
from anymail.backends.test import EmailBackend as AnymailTestBackend
from django.core import mail
from django.db import DatabaseError, connections
from django.utils import timezone

from tests.factories import ContactFactory
from wagtail_journeys.email import delivery
from wagtail_journeys.email.claims import claim, due, hand_over, release_abandoned, stuck_messages
from wagtail_journeys.email.sending import send_email
from wagtail_journeys.models import Contact, EmailTemplate, Message

pytestmark = pytest.mark.django_db

Status = Message.Status
T0 = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
TIMEOUT = 300


@pytest.fixture(autouse=True)
def anymail(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.WAGTAIL_JOURNEYS = {"BASE_URL": "https://shop.example.com", "SEND_CLAIM_TIMEOUT": 300}
    mail.outbox = []


def queued(count, send_after=T0):
    template = EmailTemplate.objects.create(
        name="Beans", subject="Beans", body=[{"type": "text", "value": "<p>Hi</p>"}]
    )
    contacts = [
        ContactFactory(
            email=f"c{n}@example.com", status=Contact.Status.SUBSCRIBED, consent={"email": True}
        )
        for n in range(count)
    ]
    # Queued without the after-commit delivery (the test's transaction never commits, and
    # ``send_after`` is not due otherwise): these tests deliver by hand.
    return [send_email(contact, template, send_after=send_after) for contact in contacts]


def killed_mid_batch(messages):
    """The rows a worker killed while the provider had its first group leaves."""
    claimed = claim(
        list(Message.objects.filter(pk__in=[m.pk for m in messages]).order_by("pk")), T0
    )
    handed = hand_over(claimed[:10], T0)
    assert len(claimed) == len(messages) and len(handed) == 10
    return claimed


def test_claims_never_handed_over_are_given_back_after_the_timeout_and_sent_once():
    messages = queued(25)
    killed_mid_batch(messages)

    assert release_abandoned(T0 + timedelta(seconds=TIMEOUT - 1)) == 0
    assert release_abandoned(T0 + timedelta(seconds=TIMEOUT + 1)) == 15

    rows = Message.objects.order_by("pk")
    assert [m.status for m in rows] == [Status.SENDING] * 10 + [Status.QUEUED] * 15
    assert all(m.attempts == 0 and m.handed_at is None for m in rows[10:])
    later = T0 + timedelta(seconds=TIMEOUT + 2)
    report = delivery.deliver_due(now=later)
    assert report.sent == 15
    assert sorted(email.to[0] for email in mail.outbox) == sorted(m.to_email for m in messages[10:])
    # The group the provider had is reported, once it has been quiet long enough, and kept.
    assert list(stuck_messages(now=later)) == []
    assert list(stuck_messages(now=T0 + timedelta(minutes=16))) == list(rows[:10])
    delivery.deliver_due(now=T0 + timedelta(hours=1))
    assert len(mail.outbox) == 15


def test_a_slow_worker_coming_back_after_its_claim_was_given_back_sends_nothing():
    messages = queued(3)
    stale = claim(list(Message.objects.filter(pk__in=[m.pk for m in messages]).order_by("pk")), T0)
    release_abandoned(T0 + timedelta(seconds=TIMEOUT + 1))
    # Another worker claims the messages again and sends them.
    report = delivery.deliver_messages([m.pk for m in messages], now=T0 + timedelta(minutes=6))
    assert report.sent == 3 and len(mail.outbox) == 3

    # The first worker wakes up: nothing of its claim is its own any more.
    assert hand_over(stale, T0 + timedelta(minutes=7)) == []
    assert set(Message.objects.values_list("status", flat=True)) == {Status.SENT}


def test_a_stale_worker_cannot_overwrite_what_the_next_one_recorded():
    from wagtail_journeys.email.transport import Outcome, SendRun

    messages = queued(1)
    stale = claim(list(Message.objects.filter(pk=messages[0].pk)), T0)
    release_abandoned(T0 + timedelta(seconds=TIMEOUT + 1))
    delivery.deliver_messages([messages[0].pk], now=T0 + timedelta(minutes=6))

    # The stale worker's render had failed: its outcome must not touch the row.
    run = SendRun(lambda: T0, connection=None)
    run.outcomes[stale[0].pk] = Outcome(Status.FAILED, "could not render")
    run.record(stale)
    message = Message.objects.get()
    assert message.status == Status.SENT and message.status_reason == ""


def test_outcomes_are_written_group_by_group_and_only_the_next_group_is_handed_over(
    monkeypatch,
):
    from wagtail_journeys.email import transport

    seen = []
    real_hand_over = transport.hand_over

    def watching(messages, now):
        # What the database says each time a group is about to go.
        seen.append(list(Message.objects.order_by("pk").values_list("status", "handed_at")))
        return real_hand_over(messages, now)

    monkeypatch.setattr(transport, "hand_over", watching)
    messages = queued(25)
    delivery.deliver_messages([m.pk for m in messages], now=T0)

    chunk = delivery.PIPELINE_CHUNK
    assert len(seen) == 3
    for group, rows in enumerate(seen):
        # Every group sent before is recorded as sent; nothing else is handed over,
        # so a worker killed now would leave only the group in flight unknown.
        assert [status for status, _ in rows[: group * chunk]] == [Status.SENT] * group * chunk
        assert all(
            status == Status.SENDING and handed is None for status, handed in rows[group * chunk :]
        )
    assert set(Message.objects.values_list("status", flat=True)) == {Status.SENT}
    assert not Message.objects.filter(handed_at__isnull=True).exists()


def test_due_messages_exclude_claimed_ones():
    messages = queued(2)
    claim([Message.objects.get(pk=messages[0].pk)], T0)
    assert list(due(T0)) == [Message.objects.get(pk=messages[1].pk)]


class ConnectionDroppingBackend(AnymailTestBackend):
    """Accepts every email; after the 15th, the worker's database connection is terminated."""

    backend_pid = None

    def send_messages(self, email_messages):
        sent = super().send_messages(email_messages)
        if len(mail.outbox) == 15:
            import psycopg

            database = connections["default"].settings_dict
            with psycopg.connect(
                host=database["HOST"] or "127.0.0.1",
                port=database["PORT"] or 5432,
                user=database["USER"] or "postgres",
                dbname=database["NAME"],
                autocommit=True,
            ) as other:
                other.execute("SELECT pg_terminate_backend(%s)", [self.backend_pid])
        return sent


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_outcomes_survive_a_dropped_database_connection(settings):
    # What the provider took is known only in the worker's memory: a connection
    # dropped between sending and recording must not leave those emails unknown.
    settings.EMAIL_BACKEND = f"{__name__}.ConnectionDroppingBackend"
    due_at = timezone.now() + timedelta(days=1)  # not delivered as its transaction commits
    messages = queued(25, send_after=due_at)
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        ConnectionDroppingBackend.backend_pid = cursor.fetchone()[0]

    try:
        delivery.deliver_messages([m.pk for m in messages], now=due_at)
    except DatabaseError:
        connections["default"].close()  # as django-q2 does before its next task
    delivery.deliver_due(now=due_at + timedelta(seconds=TIMEOUT + 1))

    assert sorted(email.to[0] for email in mail.outbox) == sorted(m.to_email for m in messages)
    assert set(Message.objects.values_list("status", flat=True)) == {Status.SENT}


@pytest.mark.django_db(transaction=True)
def test_outcomes_committed_with_their_acknowledgement_lost_are_not_recorded_twice(monkeypatch):
    # The connection drops as the COMMIT is acknowledged: the outcomes are in the
    # database, the worker sees an error and writes again over a new connection.
    from django.db import OperationalError

    from wagtail_journeys.email import transport
    from wagtail_journeys.models import Event

    write = transport._write_outcomes
    calls = []

    def commit_then_lose_the_answer(*args):
        calls.append(len(args[0]))
        write(*args)
        if len(calls) == 1:
            raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr(transport, "_write_outcomes", commit_then_lose_the_answer)
    due_at = timezone.now() + timedelta(days=1)
    messages = queued(5, send_after=due_at)
    delivery.deliver_messages([m.pk for m in messages], now=due_at)

    assert calls[0] == 5 and calls[1:] == [0] * (len(calls) - 1)
    assert set(Message.objects.values_list("status", flat=True)) == {Status.SENT}
    assert Event.objects.filter(name="email_sent").count() == 5
