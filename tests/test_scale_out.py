"""Scale-out with real processes: PostgreSQL, django-q2's Redis broker, three ``qcluster``s.

The journey is send → wait one minute → send. Contacts sign up (events
stored in this process, their dispatch queued in Redis as the web processes
of a site queue it); everything after that happens in three ``qcluster``
processes of two workers each, with the repeating schedules they run
themselves (the tick, delivery retries): entry, the first email, the wait,
the tick that ends it, the second email. Email goes through Anymail's
Postmark backend to a fake Postmark on loopback that counts what it
accepted per message.

``test_twenty_thousand_contacts_get_each_email_exactly_once`` is issue 8's
scale-out proof (``JOURNEYS_SCALE_CONTACTS`` changes the size). The fault
tests then break things while the workers run: a whole ``qcluster`` killed
with SIGKILL in the middle of a delivery batch, a provider answering 500s
and timing out, every database connection of the workers dropped, Redis
killed and restarted (losing what it queued). After recovery: nobody got
an email twice, nobody is missing one except a message the provider may
have had when its answer was lost, which stays *Sending* and is reported in
the admin, and no journey step ran twice or was skipped.
"""

from __future__ import annotations

import os
import re
import time
from collections import Counter
from datetime import timedelta

import pytest
from django.db import connection, transaction
from django.db.models import Count, Q
from django.urls import reverse
from django.utils import timezone

from tests.admin_helpers import superuser_client
from tests.conftest import missing_service
from tests.fake_esp import FakePostmark
from tests.journey_helpers import email_template
from tests.processes import Cluster, RedisServer, wait_for
from wagtail_journeys.email.delivery import PIPELINE_CHUNK
from wagtail_journeys.journeys.building import block, new_journey
from wagtail_journeys.models import (
    Contact,
    Enrollment,
    Event,
    Message,
    PendingDispatch,
    StepRun,
)
from wagtail_journeys.signals import announce_on_commit

pytestmark = [
    pytest.mark.processes,
    pytest.mark.postgres,
    pytest.mark.redis,
    pytest.mark.django_db(transaction=True),
]

Status = Message.Status
CONTACTS = int(os.environ.get("JOURNEYS_SCALE_CONTACTS", "20000"))
WORKERS = 3
#: ``Q_CLUSTER["workers"]`` in tests/cluster_settings.py.
WORKERS_PER_CLUSTER = 2
SETTINGS = {
    "BASE_URL": "https://shop.example.com",
    # Two emails a contact: the default cap (5 a week) never bites; keep it out of the count.
    "FREQUENCY_CAP": None,
    # Recovery within the test's patience: a lost tick batch is claimed again after
    # 30 s, a claim a dead worker never handed over is given back after 20 s, and
    # a message the provider refused is tried again after 1 s.
    "TICK_LEASE_SECONDS": 30,
    "SEND_CLAIM_TIMEOUT": 20,
    "SEND_RETRY_DELAY": 1,
    "SEND_MAX_ATTEMPTS": 10,
    # A dispatch task lost with Redis is queued again by the next tick after 5 s.
    "DISPATCH_RETRY_SECONDS": 5,
}
#: The step runs of one trip through the journey, in order.
TRIP = [
    ("", StepRun.Result.ENTERED),
    ("send_email", StepRun.Result.SENT),
    ("wait", StepRun.Result.WAITING),
    ("wait", StepRun.Result.RESUMED),
    ("send_email", StepRun.Result.SENT),
    ("", StepRun.Result.COMPLETED),
]


@pytest.fixture
def redis_server():
    if not RedisServer.available():
        missing_service("needs redis-server on the PATH (apt-get install redis-server)")
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture
def esp():
    with FakePostmark() as server:
        yield server


@pytest.fixture
def cluster(redis_server, esp, settings, monkeypatch):
    """Three ``qcluster`` processes (not started), and this process queueing into their Redis."""
    from django_q.conf import Conf

    settings.WAGTAIL_JOURNEYS = SETTINGS
    workers = Cluster(WORKERS, redis=redis_server, esp_url=esp.url, settings=SETTINGS)
    # This process is a web process of the site: it queues, the clusters work.
    for name, value in {
        "SYNC": False,
        "ORM": None,
        "REDIS": {"host": "127.0.0.1", "port": redis_server.port, "db": 0},
        "PREFIX": workers.name,
        "CLUSTER_NAME": workers.name,
    }.items():
        monkeypatch.setattr(Conf, name, value)
    yield workers
    workers.stop()


def two_emails():
    first = email_template("First", "First")
    second = email_template("Second", "Second")
    return new_journey(
        "Scale",
        trigger=block("event", event="scale_signup"),
        steps=[
            block("send_email", template=first.pk),
            block("wait", minutes=1),
            block("send_email", template=second.pk),
        ],
    )


def sign_up(count: int, start: int = 0) -> list[int]:
    """``count`` new subscribed contacts, each with the event that enrols them."""
    contacts = Contact.objects.bulk_create(
        Contact(
            email=f"reader{n}@example.com",
            first_name=f"Reader{n}",
            status=Contact.Status.SUBSCRIBED,
            consent={"email": True},
        )
        for n in range(start, start + count)
    )
    now = timezone.now()
    for offset in range(0, count, 1000):
        with transaction.atomic():
            events = Event.objects.bulk_create(
                Event(contact=contact, name="scale_signup", occurred_at=now)
                for contact in contacts[offset : offset + 1000]
            )
            announce_on_commit(events)
    return [contact.pk for contact in contacts]


def finished(journey, count: int, cluster: Cluster):
    """True once every enrollment has left the journey; fails early if a process died."""
    for process in cluster.processes:
        if process is not None and process.poll() is not None:
            raise AssertionError(f"a qcluster exited with {process.returncode}")
    return (
        Enrollment.objects.filter(journey=journey).exclude(status__in=Enrollment.IN_JOURNEY).count()
        == count
    )


#: A message handed to the provider longer ago than this has no answer coming: the
#: client (2 s timeout) gave up on it, and its outcome stays unknown.
ANSWER_LOST_AFTER = timedelta(seconds=15)


def settled() -> bool:
    """No message is waiting to be sent or being sent (bar those whose outcome was lost).

    One query, so one snapshot: in two, a message could go from *Sending* back to
    *Queued* (the provider answered 500) between them and be missed by both. A
    message handed over moments ago may still be answered 500 and queued again.
    """
    handed_recently = Q(handed_at__gt=timezone.now() - ANSWER_LOST_AFTER)
    return not Message.objects.filter(
        Q(status=Status.QUEUED)
        | Q(status=Status.SENDING, handed_at=None)
        | Q(status=Status.SENDING) & handed_recently
    ).exists()


def assert_each_step_once(journey, count: int) -> None:
    """Every contact made the whole trip, each step exactly once, in order."""
    enrollments = Enrollment.objects.filter(journey=journey)
    assert enrollments.count() == count
    assert Counter(enrollments.values_list("status", flat=True)) == {"completed": count}
    doubled = (
        StepRun.objects.filter(journey=journey)
        .values("enrollment", "step_id", "result")
        .annotate(runs=Count("pk"))
        .filter(runs__gt=1)
    )
    assert not doubled.exists(), list(doubled[:5])
    runs = Counter(
        {
            (step_type, result): runs
            for step_type, result, runs in StepRun.objects.filter(journey=journey)
            .values_list("step_type", "result")
            .annotate(runs=Count("pk"))
            .order_by()
        }
    )
    assert runs == Counter({step: trips * count for step, trips in Counter(TRIP).items()})


def assert_each_email_once(esp: FakePostmark, count: int, *, unknown=frozenset()) -> None:
    """Each contact got "First" and "Second" once; ``unknown`` messages may be missing."""
    assert esp.twice() == {}
    messages = Message.objects.all()
    assert messages.count() == 2 * count
    per_contact = Counter(messages.values_list("subject", flat=True))
    assert per_contact == {"First": count, "Second": count}
    statuses = dict(messages.values_list("pk", "status"))
    sent = {pk for pk, status in statuses.items() if status == Status.SENT}
    sending = {pk for pk, status in statuses.items() if status == Status.SENDING}
    assert sent | sending == set(statuses), Counter(statuses.values())
    assert sending <= set(unknown)
    # What the provider accepted is exactly what we recorded as sent, plus at most
    # the messages whose answer was lost.
    assert sent <= set(esp.accepted)
    assert set(esp.accepted) - sent <= sending


def test_twenty_thousand_contacts_get_each_email_exactly_once(cluster, esp):
    journey = two_emails()
    started = time.monotonic()
    cluster.start()
    sign_up(CONTACTS)
    try:
        wait_for(lambda: finished(journey, CONTACTS, cluster), 900, "every contact to finish")
        wait_for(
            lambda: (
                esp.total() >= 2 * CONTACTS
                and not Message.objects.exclude(status=Status.SENT).exists()
            ),
            120,
            "every email to be sent and recorded",
        )
    except AssertionError as error:
        raise AssertionError(f"{error}\n{cluster.log_tail()}") from None
    elapsed = time.monotonic() - started

    assert_each_email_once(esp, CONTACTS)
    assert esp.total() == 2 * CONTACTS
    assert_each_step_once(journey, CONTACTS)
    print(f"\n{CONTACTS} contacts, {2 * CONTACTS} emails, {WORKERS} qclusters: {elapsed:.0f} s")


# Faults


def in_flight() -> bool:
    """A delivery batch is under way: claimed messages not yet recorded."""
    return Message.objects.filter(status=Status.SENDING).exists()


def drop_database_connections() -> int:
    """Terminate every other session on the test database (the workers' connections)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        return cursor.fetchone()[0]


def test_crashes_dropped_connections_a_redis_restart_and_a_failing_provider(
    cluster, esp, redis_server
):
    contacts = int(os.environ.get("JOURNEYS_FAULT_CONTACTS", "2000"))
    journey = two_emails()
    # The provider refuses one request in 13 with a 500, and one in 101 it takes
    # but answers after the client (2 s) gave up: those stay unknown.
    esp.fail_every(13)
    esp.hang_every(101, 3)

    # 1. Redis restarted before any worker took the sign-ups' dispatch tasks: all lost.
    sign_up(contacts)
    assert PendingDispatch.objects.count() == contacts
    redis_server.restart()
    cluster.start()

    # 2. Every qcluster killed with SIGKILL while delivery batches are in flight.
    orphans = 0
    for _attempt in range(10):
        wait_for(lambda: in_flight() and esp.total() > 100, 120, "a delivery batch in flight")
        for index in range(WORKERS):
            cluster.kill(index)
        orphans = Message.objects.filter(status=Status.SENDING).count()
        if orphans:
            break
        cluster.start()
    assert orphans, "no kill landed in the middle of a batch"
    killed_at = esp.total()
    cluster.start()

    # 3. The workers' database connections dropped while they work.
    wait_for(lambda: esp.total() > killed_at + 200, 180, "delivery to resume after the crash")
    assert drop_database_connections() > 0

    # 4. Redis killed and restarted while they work: every task it had queued is lost.
    dropped_at = esp.total()
    wait_for(lambda: esp.total() > dropped_at + 200, 180, "delivery to resume after the drop")
    redis_server.restart()

    try:
        wait_for(lambda: finished(journey, contacts, cluster), 600, "every contact to finish")
        # The last retries and given-back claims go out with the every-minute schedule.
        wait_for(settled, 300, "no message left to send")
    except AssertionError as error:
        raise AssertionError(f"{error}\n{cluster.log_tail()}") from None

    stuck = set(Message.objects.filter(status=Status.SENDING).values_list("pk", flat=True))
    assert esp.refused > 0 and esp.hung
    # Nothing twice; nothing missing but the messages whose outcome is unknown: the
    # provider's lost answers, and the groups in flight when the workers were killed.
    assert_each_email_once(esp, contacts, unknown=stuck)
    assert esp.hung <= stuck
    # The kill leaves at most one group in flight per worker process unknown.
    assert len(stuck - esp.hung) <= PIPELINE_CHUNK * WORKERS * WORKERS_PER_CLUSTER
    assert_each_step_once(journey, contacts)
    assert not PendingDispatch.objects.exists()
    print(
        f"\n{contacts} contacts: {orphans} messages in flight at the kill, {esp.refused} "
        f"answers 500, {len(esp.hung)} lost answers; {len(stuck)} left sending"
    )

    # Fifteen minutes later they are reported in the admin.
    Message.objects.filter(pk__in=stuck).update(handed_at=timezone.now() - timedelta(minutes=16))
    client = superuser_client()
    home = client.get(reverse("wagtailadmin_home")).content.decode()
    assert f"{len(stuck)} message{'s have' if len(stuck) > 1 else ' has'} been sending" in home
    listed = client.get(reverse("journeys_messages:index_results") + "?stuck=yes")
    assert listed.status_code == 200
    inspect = reverse("journeys_messages:inspect", args=[0]).replace("/0/", r"/(\d+)/")
    shown = {int(pk) for pk in re.findall(inspect, listed.content.decode())}
    assert shown and shown <= stuck
