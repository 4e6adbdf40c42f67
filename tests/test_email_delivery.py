"""Delivery of queued email through Anymail's test backend.

The backends below are small subclasses of Anymail's test backend that
behave like a real provider in one respect each (a connection that is
opened, an error answer, a crash after accepting); nothing is mocked.
"""

import re
import smtplib
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from anymail.backends.test import EmailBackend as AnymailTestBackend
from anymail.exceptions import (
    AnymailAPIError,
    AnymailInvalidAddress,
    AnymailRecipientsRefused,
)
from anymail.message import AnymailRecipientStatus
from django.core import mail
from django.core.management import call_command
from django.utils import timezone
from django_q.models import Schedule
from requests import exceptions as requests_exceptions

import wagtail_journeys
from tests.factories import ContactFactory
from wagtail_journeys.email import errors, tokens
from wagtail_journeys.email.delivery import (
    SCHEDULE_NAME,
    claim,
    deliver_due,
    deliver_messages,
    stuck_messages,
)
from wagtail_journeys.email.sending import send_email, send_emails
from wagtail_journeys.models import Contact, EmailTemplate, Event, Message, Topic
from wagtail_journeys.signals import event_recorded

pytestmark = pytest.mark.django_db

ANYMAIL_TEST = "anymail.backends.test.EmailBackend"
BASE = "https://shop.example.com"
JOURNEYS = {"BASE_URL": BASE, "DEFAULT_FROM_EMAIL": "Kettle & Bean <hello@example.com>"}
T0 = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)

BODY = [
    {"type": "heading", "value": {"text": "Hello {{ contact.first_name }}", "level": "h1"}},
    {
        "type": "text",
        "value": '<p>New beans are in. <a href="https://shop.example.com/beans/">See them</a></p>',
    },
]


@pytest.fixture(autouse=True)
def anymail(settings):
    settings.EMAIL_BACKEND = ANYMAIL_TEST
    settings.WAGTAIL_JOURNEYS = dict(JOURNEYS)
    mail.outbox = []
    Backend.reset()


def journeys_settings(settings, **values):
    settings.WAGTAIL_JOURNEYS = {**JOURNEYS, **values}


def make_template(**fields):
    fields.setdefault("name", "Beans")
    fields.setdefault("subject", "Hello {{ contact.first_name }}")
    made = EmailTemplate.objects.create(body=BODY, **fields)
    return EmailTemplate.objects.get(pk=made.pk)


def subscriber(**fields):
    fields.setdefault("status", Contact.Status.SUBSCRIBED)
    fields.setdefault("consent", {"email": True})
    return ContactFactory(**fields)


def sent_to(address):
    return [email for email in mail.outbox if email.to == [address]]


def unsubscribe_target(header: str) -> list:
    """The values signed in a ``List-Unsubscribe: <https://…/journeys/u/<token>/>`` header.

    Tokens carry the time they were made, so the header is compared by what it
    signs, not character by character with a URL made a second later.
    """
    match = re.fullmatch(r"<https://shop\.example\.com/journeys/u/([^/]+)/>", header.strip())
    assert match, header
    return tokens.read_token(tokens.UNSUBSCRIBE, match.group(1))


# Backends that behave like a provider in one way each.


class Backend(AnymailTestBackend):
    """Anymail's test backend with a connection that is really opened and closed."""

    opened = 0
    calls = 0

    @classmethod
    def reset(cls):
        for klass in (Backend, *Backend.__subclasses__()):
            klass.opened = klass.calls = 0

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.session = None

    def open(self):
        if self.session is not None:
            return False
        self.session = object()
        type(self).opened += 1
        return True

    def close(self):
        self.session = None

    def post_to_esp(self, payload, message):
        assert self.session is not None, "sent without an open connection"
        type(self).calls += 1
        return super().post_to_esp(payload, message)


class RejectingBackend(Backend):
    """The provider refuses one address (as an ESP refuses a suppressed recipient)."""

    def post_to_esp(self, payload, message):
        response = super().post_to_esp(payload, message)
        if message.to == ["refused@example.com"]:
            rejected = AnymailRecipientStatus(message_id=None, status="rejected")
            return {"recipient_status": {"refused@example.com": rejected}}
        return response


class FlakyBackend(Backend):
    """The provider answers 503 to the first call, then accepts."""

    failures = 1

    def post_to_esp(self, payload, message):
        type(self).calls += 1
        if type(self).calls <= type(self).failures:
            raise AnymailAPIError("Service Unavailable", status_code=503)
        return AnymailTestBackend.post_to_esp(self, payload, message)


class DownBackend(Backend):
    """The provider always answers 503."""

    def post_to_esp(self, payload, message):
        type(self).calls += 1
        raise AnymailAPIError("Service Unavailable", status_code=503)


class CrashingBackend(Backend):
    """The worker dies right after the provider accepted the message to crash@."""

    def post_to_esp(self, payload, message):
        response = super().post_to_esp(payload, message)
        if message.to == ["crash@example.com"]:
            raise SystemExit("worker killed")
        return response


def backend(settings, cls):
    settings.EMAIL_BACKEND = f"{__name__}.{cls.__name__}"


# Queueing and the message that goes out


def test_send_email_queues_and_delivers_after_commit(django_capture_on_commit_callbacks):
    contact = subscriber(first_name="Ada", email="ada@example.com")
    template = make_template(from_name="Kettle & Bean", from_email="shop@example.com")
    template.save_revision()
    template.refresh_from_db()

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        message = send_email(contact, template, {"order": "A-1"}, tags=["journey:7"])
        # Nothing leaves before the transaction that queued it commits.
        assert mail.outbox == [] and message.status == Message.Status.QUEUED
    assert callbacks  # delivery, then what the email_sent event sets off

    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert message.kind == "marketing"
    assert message.to_email == "ada@example.com"
    assert message.context == {"order": "A-1"}
    assert message.template_revision_id == template.latest_revision_id
    assert message.tags == [f"template:{template.pk}", "journey:7"]
    assert message.idempotency_key.startswith("email:")
    assert message.subject == "Hello Ada"
    assert message.sent_at is not None and message.attempts == 1
    assert message.esp_message_id == "0"  # the test backend's id: the outbox index
    assert message.anymail_status == "sent"
    assert "https://shop.example.com/beans/" in message.links

    [email] = mail.outbox
    assert email.to == ["ada@example.com"]
    assert email.from_email == "Kettle & Bean <shop@example.com>"
    assert email.subject == "Hello Ada"
    assert "Hello Ada" in email.body
    [(html, mimetype)] = email.alternatives
    assert mimetype == "text/html" and "Hello Ada" in html
    params = email.anymail_test_params
    assert params["metadata"] == {"journeys_message_id": str(message.pk)}
    assert params["tags"] == [f"template:{template.pk}", "journey:7"]
    headers = params["extra_headers"]
    assert unsubscribe_target(headers["List-Unsubscribe"]) == [message.pk]
    assert headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"

    event = Event.objects.get(name="email_sent")
    assert event.contact == contact
    assert event.properties["message_id"] == message.pk
    assert event.properties["template_id"] == template.pk


def test_send_email_is_public_api():
    assert wagtail_journeys.send_email is send_email
    assert "send_email" in wagtail_journeys.__all__


def test_transactional_mail_has_no_unsubscribe_headers_and_a_default_sender():
    contact = ContactFactory(status=Contact.Status.PENDING)
    template = make_template(kind="transactional", reply_to="help@example.com")
    message = send_email(contact, template)
    deliver_messages([message.pk])

    [email] = mail.outbox
    assert "List-Unsubscribe" not in email.extra_headers
    assert email.from_email == "Kettle & Bean <hello@example.com>"
    assert email.reply_to == ["help@example.com"]


def test_kind_can_be_given_and_must_be_known():
    template = make_template()
    message = send_email(subscriber(), template, kind="transactional")
    assert message.kind == "transactional"
    with pytest.raises(ValueError):
        send_email(subscriber(), template, kind="newsletter")


def test_the_pinned_revision_is_what_is_sent():
    template = make_template(subject="First subject")
    template.save_revision()
    message = send_email(subscriber(), EmailTemplate.objects.get(pk=template.pk))
    template.subject = "Second subject"
    template.save()
    template.save_revision()

    deliver_messages([message.pk])
    assert mail.outbox[0].subject == "First subject"


def test_an_idempotency_key_sends_once(django_capture_on_commit_callbacks):
    contact, template = subscriber(), make_template()
    with django_capture_on_commit_callbacks(execute=True):
        first = send_email(contact, template, idempotency_key="step-1:enrollment-9")
    with django_capture_on_commit_callbacks(execute=True):
        again = send_email(contact, template, idempotency_key="step-1:enrollment-9")

    assert again.pk == first.pk
    assert Message.objects.count() == 1
    assert len(mail.outbox) == 1


def test_a_message_can_be_queued_at_a_given_time(django_capture_on_commit_callbacks):
    template = make_template()
    with django_capture_on_commit_callbacks(execute=True):
        one = send_email(subscriber(), template, at=T0)
        many = send_emails([subscriber(), subscriber()], template, at=T0)
        # ``at`` is the clock ``send_after`` is compared with: an hour after it is not due yet.
        later = send_email(subscriber(), template, at=T0, send_after=T0 + timedelta(hours=1))
    created = Message.objects.filter(pk__in=[one.pk, later.pk, *(m.pk for m in many)])
    assert set(created.values_list("created_at", flat=True)) == {T0}
    assert len(mail.outbox) == 3
    later.refresh_from_db()
    assert later.status == Message.Status.QUEUED


def test_a_journeys_message_is_queued_at_the_runners_clock():
    from django.db import transaction

    from wagtail_journeys.journeys.building import block, new_journey
    from wagtail_journeys.journeys.entry import try_enroll
    from wagtail_journeys.journeys.interpreter import Runner

    template = make_template()
    template.save_revision()
    journey = new_journey(
        "Welcome",
        trigger=block("event", event="contact_subscribed"),
        steps=[block("send_email", template=template.pk)],
    )
    contact = subscriber()
    runner = Runner(now=T0)
    with transaction.atomic():
        runner.run(try_enroll(journey, contact, now=T0).enrollment)
        runner.flush()
    assert Message.objects.get(contact=contact).created_at == T0


@pytest.mark.parametrize(
    ("at", "error"), [(datetime(2026, 3, 10, 15, 0), ValueError), ("now", TypeError)]
)
def test_the_time_of_a_message_must_be_an_aware_datetime(at, error):
    template = make_template()
    with pytest.raises(error, match="at must be"):
        send_email(subscriber(), template, at=at)
    with pytest.raises(error, match="at must be"):
        send_emails([subscriber()], template, at=at)
    assert not Message.objects.exists()


def test_send_emails_queues_many_and_skips_those_already_sent(django_capture_on_commit_callbacks):
    contacts = [subscriber() for _ in range(4)]
    template = make_template()
    with django_capture_on_commit_callbacks(execute=True):
        first = send_emails(contacts[:3], template, idempotency_key="campaign-1")
    with django_capture_on_commit_callbacks(execute=True):
        # The new contact is listed twice: it still gets one message.
        second = send_emails(contacts + contacts[-1:], template, idempotency_key="campaign-1")

    assert [m.contact_id for m in second] == [c.pk for c in contacts + contacts[-1:]]
    assert second[-1].pk == second[-2].pk
    assert [m.pk for m in second[:3]] == [m.pk for m in first]
    assert Message.objects.count() == 4
    assert sorted(email.to[0] for email in mail.outbox) == sorted(c.email for c in contacts)


# One connection per batch


def test_a_batch_shares_one_connection(settings, django_capture_on_commit_callbacks):
    backend(settings, Backend)
    contacts = [subscriber() for _ in range(5)]
    with django_capture_on_commit_callbacks(execute=True):
        send_emails(contacts, make_template())

    assert Backend.calls == 5
    assert Backend.opened == 1
    assert Message.objects.filter(status="sent").count() == 5


def test_batches_of_send_batch_size_each_use_one_connection(
    settings, django_capture_on_commit_callbacks
):
    backend(settings, Backend)
    journeys_settings(settings, SEND_BATCH_SIZE=2)
    with django_capture_on_commit_callbacks(execute=True):
        send_emails([subscriber() for _ in range(5)], make_template())

    assert Backend.calls == 5
    assert Backend.opened == 3


def test_one_refused_address_does_not_fail_the_batch(settings):
    backend(settings, RejectingBackend)
    template = make_template()
    refused = send_email(subscriber(email="refused@example.com"), template)
    others = [send_email(subscriber(), template) for _ in range(2)]
    deliver_messages([refused.pk] + [m.pk for m in others])

    refused.refresh_from_db()
    assert refused.status == Message.Status.FAILED
    assert "AnymailRecipientsRefused" in refused.status_reason
    assert refused.attempts == 1
    assert Message.objects.filter(status="sent").count() == 2
    assert RejectingBackend.opened == 1
    assert not Event.objects.filter(name="email_sent", contact=refused.contact).exists()


def test_a_deleted_template_fails_with_the_reason():
    template = make_template()
    message = send_email(subscriber(), template)
    template.delete()
    deliver_messages([message.pk])

    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert "could not be rendered" in message.status_reason
    assert "deleted" in message.status_reason
    assert mail.outbox == []


def test_sent_events_reach_receivers_after_commit(django_capture_on_commit_callbacks):
    received = []

    def receiver(sender, event, **kwargs):
        received.append(event.name)

    event_recorded.connect(receiver)
    try:
        message = send_email(subscriber(), make_template())
        with django_capture_on_commit_callbacks(execute=True):
            deliver_messages([message.pk])
    finally:
        event_recorded.disconnect(receiver)
    assert received == ["email_sent"]


# Checks at delivery time


@pytest.mark.parametrize("status", [Contact.Status.BOUNCED, Contact.Status.COMPLAINED])
@pytest.mark.parametrize("kind", ["marketing", "transactional"])
def test_hard_suppressed_contacts_get_nothing(status, kind):
    message = send_email(subscriber(status=status), make_template(), kind=kind)
    deliver_messages([message.pk])

    message.refresh_from_db()
    assert message.status == Message.Status.SUPPRESSED
    assert "hard suppression" in message.status_reason
    assert message.attempts == 0
    assert mail.outbox == []


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"status": Contact.Status.PENDING}, "subscribed contact; this one is pending"),
        ({"status": Contact.Status.UNSUBSCRIBED}, "this one is unsubscribed"),
        ({"consent": {"email": False}}, "withdrew consent"),
    ],
)
def test_marketing_needs_a_subscribed_consenting_contact(fields, reason):
    template = make_template()
    contact = subscriber(**fields)
    marketing = send_email(contact, template)
    transactional = send_email(contact, template, kind="transactional")
    deliver_messages([marketing.pk, transactional.pk])

    marketing.refresh_from_db()
    transactional.refresh_from_db()
    assert marketing.status == Message.Status.SUPPRESSED
    assert reason in marketing.status_reason
    assert transactional.status == Message.Status.SENT
    assert len(mail.outbox) == 1


def test_a_left_topic_is_not_sent():
    offers = Topic.objects.create(name="Offers", slug="offers")
    news = Topic.objects.create(name="News", slug="news")
    contact = subscriber()
    contact.topics_left.add(offers)
    left = send_email(contact, make_template(topic=offers))
    kept = send_email(contact, make_template(topic=news))
    deliver_messages([left.pk, kept.pk])

    left.refresh_from_db()
    kept.refresh_from_db()
    assert left.status == Message.Status.SUPPRESSED
    assert "left the topic 'Offers'" in left.status_reason
    assert kept.status == Message.Status.SENT


def test_consent_is_checked_when_delivering_not_when_queueing():
    contact = subscriber()
    message = send_email(contact, make_template())
    Contact.objects.filter(pk=contact.pk).update(status=Contact.Status.UNSUBSCRIBED)
    deliver_messages([message.pk])

    message.refresh_from_db()
    assert message.status == Message.Status.SUPPRESSED
    assert mail.outbox == []


def test_a_contact_without_an_address_is_suppressed():
    message = send_email(ContactFactory(email=None), make_template(), kind="transactional")
    deliver_messages([message.pk])
    message.refresh_from_db()
    assert message.status == Message.Status.SUPPRESSED
    assert "no email address" in message.status_reason


# Frequency cap


def past_sends(contact, count, *, ago=timedelta(hours=1), kind="marketing"):
    for index in range(count):
        Message.objects.create(
            contact=contact,
            kind=kind,
            status=Message.Status.SENT,
            sent_at=T0 - ago,
            to_email=contact.email,
            idempotency_key=f"past:{contact.pk}:{kind}:{ago}:{index}",
        )


def test_the_frequency_cap_skips_with_the_reason_and_spares_transactional(settings):
    journeys_settings(settings, FREQUENCY_CAP=(2, 86400))
    contact = subscriber()
    past_sends(contact, 2)
    past_sends(contact, 3, kind="transactional")  # transactional mail does not count
    template = make_template()
    marketing = send_email(contact, template)
    receipt = send_email(contact, template, kind="transactional")
    deliver_messages([marketing.pk, receipt.pk], now=T0)

    marketing.refresh_from_db()
    receipt.refresh_from_db()
    assert marketing.status == Message.Status.SKIPPED
    assert marketing.status_reason == (
        "Frequency cap: 2 marketing email(s) already sent in the last day (at most 2)."
    )
    assert receipt.status == Message.Status.SENT
    assert mail.outbox[0].to == [contact.email] and len(mail.outbox) == 1


def test_the_cap_window_rolls(settings):
    journeys_settings(settings, FREQUENCY_CAP=(2, 86400))
    contact = subscriber()
    past_sends(contact, 2, ago=timedelta(hours=25))
    message = send_email(contact, make_template())
    deliver_messages([message.pk], now=T0)
    message.refresh_from_db()
    assert message.status == Message.Status.SENT


def test_messages_of_one_batch_count_towards_the_cap(settings):
    journeys_settings(settings, FREQUENCY_CAP=(2, 86400))
    contact = subscriber()
    template = make_template()
    messages = [send_email(contact, template) for _ in range(3)]
    deliver_messages([m.pk for m in messages], now=T0)

    statuses = [Message.objects.get(pk=m.pk).status for m in messages]
    assert statuses == ["sent", "sent", "skipped"]


def test_fewer_emails_has_its_own_cap_and_none_disables(settings):
    journeys_settings(settings, FREQUENCY_CAP=None, FEWER_EMAILS_CAP=(1, 7 * 86400))
    fewer = subscriber(email_frequency="fewer")
    normal = subscriber()
    for contact in (fewer, normal):
        past_sends(contact, 3, ago=timedelta(days=2))
    template = make_template()
    capped = send_email(fewer, template)
    free = send_email(normal, template)
    deliver_messages([capped.pk, free.pk], now=T0)

    capped.refresh_from_db()
    free.refresh_from_db()
    assert capped.status == Message.Status.SKIPPED
    assert "fewer-emails cap" in capped.status_reason and "7 days" in capped.status_reason
    assert free.status == Message.Status.SENT


# Quiet hours


def test_quiet_hours_defer_until_they_end_then_deliver(settings):
    journeys_settings(settings, QUIET_HOURS=("21:00", "08:00"))
    contact = subscriber(timezone="America/New_York")
    template = make_template()
    message = send_email(contact, template)
    receipt = send_email(contact, template, kind="transactional")
    # 02:30 UTC is 22:30 the evening before in New York (EDT, UTC-4).
    night = datetime(2026, 3, 10, 2, 30, tzinfo=UTC)
    report = deliver_messages([message.pk, receipt.pk], now=night)

    assert (report.deferred, report.sent) == (1, 1)
    message.refresh_from_db()
    assert message.status == Message.Status.QUEUED
    assert message.send_after == datetime(2026, 3, 10, 12, 0, tzinfo=UTC)  # 08:00 EDT
    assert "Quiet hours in America/New_York" in message.status_reason
    assert [email.to for email in mail.outbox] == [[contact.email]]  # only the receipt
    assert Schedule.objects.filter(name=SCHEDULE_NAME).exists()

    # Not before the quiet hours end...
    deliver_due(now=datetime(2026, 3, 10, 11, 59, tzinfo=UTC))
    assert len(mail.outbox) == 1
    # ...then at once.
    deliver_due(now=datetime(2026, 3, 10, 12, 0, tzinfo=UTC))
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert len(mail.outbox) == 2


def test_quiet_hours_use_the_default_timezone_and_ignore_a_bad_one(settings):
    journeys_settings(settings, QUIET_HOURS=("21:00", "08:00"), DEFAULT_TIMEZONE="Asia/Tokyo")
    template = make_template()
    tokyo = send_email(subscriber(timezone=""), template)
    bad = send_email(subscriber(timezone="Mars/Olympus_Mons"), template)
    paris = send_email(subscriber(timezone="Europe/Paris"), template)
    # 13:00 UTC: 22:00 in Tokyo (quiet), 14:00 in Paris (not quiet).
    deliver_messages([tokyo.pk, bad.pk, paris.pk], now=datetime(2026, 1, 15, 13, 0, tzinfo=UTC))

    tokyo.refresh_from_db()
    bad.refresh_from_db()
    paris.refresh_from_db()
    assert tokyo.status == bad.status == Message.Status.QUEUED
    assert tokyo.send_after == datetime(2026, 1, 15, 23, 0, tzinfo=UTC)  # 08:00 in Tokyo
    assert bad.send_after == tokyo.send_after
    assert paris.status == Message.Status.SENT


def test_quiet_hours_within_one_day(settings):
    journeys_settings(settings, QUIET_HOURS=("12:00", "14:00"))
    message = send_email(subscriber(timezone="UTC"), make_template())
    deliver_messages([message.pk], now=datetime(2026, 1, 15, 13, 0, tzinfo=UTC))
    message.refresh_from_db()
    assert message.send_after == datetime(2026, 1, 15, 14, 0, tzinfo=UTC)


# Errors, retries and crashes


def test_a_transient_error_is_retried_with_backoff_then_sent(settings):
    backend(settings, FlakyBackend)
    journeys_settings(settings, SEND_RETRY_DELAY=60)
    message = send_email(subscriber(), make_template())

    report = deliver_messages([message.pk], now=T0)
    assert report.retrying == 1
    message.refresh_from_db()
    assert message.status == Message.Status.QUEUED
    assert message.attempts == 1
    assert message.send_after == T0 + timedelta(seconds=60)
    assert "Attempt 1 failed: AnymailAPIError" in message.status_reason
    assert mail.outbox == []

    deliver_due(now=T0 + timedelta(seconds=59))
    assert FlakyBackend.calls == 1
    deliver_due(now=T0 + timedelta(seconds=60))
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    assert message.attempts == 2
    assert message.status_reason == ""
    assert len(mail.outbox) == 1


def test_retries_back_off_and_give_up_after_max_attempts(settings):
    backend(settings, DownBackend)
    journeys_settings(settings, SEND_RETRY_DELAY=10, SEND_MAX_ATTEMPTS=3)
    message = send_email(subscriber(), make_template())

    deliver_messages([message.pk], now=T0)
    message.refresh_from_db()
    assert message.send_after == T0 + timedelta(seconds=10)
    deliver_messages([message.pk], now=message.send_after)
    message.refresh_from_db()
    assert message.send_after == T0 + timedelta(seconds=10 + 20)
    deliver_messages([message.pk], now=message.send_after)
    message.refresh_from_db()
    assert message.status == Message.Status.FAILED
    assert message.status_reason.startswith("Gave up after 3 attempts: AnymailAPIError")
    assert DownBackend.calls == 3


def test_no_second_send_after_a_crash_between_the_esp_call_and_the_status_update(
    settings, django_capture_on_commit_callbacks
):
    backend(settings, CrashingBackend)
    template = make_template()
    before = send_email(subscriber(email="before@example.com"), template)
    crash = send_email(subscriber(email="crash@example.com"), template)
    after = send_email(subscriber(email="after@example.com"), template)
    ids = [before.pk, crash.pk, after.pk]

    with pytest.raises(SystemExit):
        deliver_messages(ids)
    assert [email.to[0] for email in mail.outbox] == ["before@example.com", "crash@example.com"]
    statuses = {m.to_email: m.status for m in Message.objects.filter(pk__in=ids)}
    # What is known was recorded; the message the provider had stays "sending";
    # the one never handed over was given back.
    assert statuses == {
        "before@example.com": "sent",
        "crash@example.com": "sending",
        "after@example.com": "queued",
    }

    # The worker restarts: the task runs again, and so does the schedule.
    backend(settings, Backend)
    deliver_messages(ids)
    deliver_due()
    assert sorted(email.to[0] for email in mail.outbox) == [
        "after@example.com",
        "before@example.com",
        "crash@example.com",
    ]
    assert len(sent_to("crash@example.com")) == 1
    assert list(stuck_messages(timedelta(0))) == [Message.objects.get(pk=crash.pk)]

    out, err = StringIO(), StringIO()
    call_command("journeys_send_queued", "--stuck-minutes=0", stdout=out, stderr=err)
    assert "nothing was due" in out.getvalue()
    assert f"#{crash.pk} to crash@example.com" in err.getvalue()
    assert len(sent_to("crash@example.com")) == 1


def test_delivering_the_same_ids_twice_sends_once():
    message = send_email(subscriber(), make_template())
    deliver_messages([message.pk])
    deliver_messages([message.pk])
    assert len(mail.outbox) == 1


def test_two_workers_never_claim_the_same_message():
    template = make_template()
    ids = [send_email(subscriber(), template).pk for _ in range(4)]
    # Both workers loaded the same queued rows; the first claims one of them first.
    worker_a = list(Message.objects.filter(pk__in=ids[1:2]))
    worker_b = list(Message.objects.filter(pk__in=ids).order_by("pk"))
    now = timezone.now()

    assert [m.pk for m in claim(worker_a, now)] == ids[1:2]
    got = claim(worker_b, now)
    assert [m.pk for m in got] == [ids[0], ids[2], ids[3]]
    assert claim(worker_b, now) == []
    assert Message.objects.filter(status="sending").count() == 4


@pytest.mark.parametrize(
    ("error", "verdict"),
    [
        (AnymailAPIError("x", status_code=503), errors.RETRY),
        (AnymailAPIError("x", status_code=429), errors.RETRY),
        (AnymailAPIError("x", status_code=400), errors.FAIL),
        (AnymailAPIError("unparsable answer"), errors.UNKNOWN),
        (AnymailRecipientsRefused(), errors.FAIL),
        (AnymailInvalidAddress("bad"), errors.FAIL),
        (requests_exceptions.ConnectTimeout(), errors.RETRY),
        (requests_exceptions.ReadTimeout(), errors.UNKNOWN),
        (smtplib.SMTPServerDisconnected(), errors.RETRY),
        (smtplib.SMTPDataError(451, b"try later"), errors.RETRY),
        (smtplib.SMTPDataError(554, b"rejected"), errors.FAIL),
        (smtplib.SMTPRecipientsRefused({"a@b.c": (450, b"busy")}), errors.RETRY),
        (smtplib.SMTPRecipientsRefused({"a@b.c": (550, b"no such user")}), errors.FAIL),
        (ConnectionRefusedError(), errors.RETRY),
        (TimeoutError(), errors.RETRY),
        (RuntimeError("a post_send receiver failed"), errors.UNKNOWN),
    ],
)
def test_errors_are_retried_only_when_the_provider_surely_did_not_take_the_message(error, verdict):
    assert errors.classify_error(error) == verdict


# The command and the schedule


def test_the_command_delivers_what_is_due():
    template = make_template()
    due = send_email(subscriber(), template)
    later = send_email(subscriber(), template, send_after=timezone.now() + timedelta(hours=1))
    out = StringIO()
    call_command("journeys_send_queued", stdout=out, stderr=StringIO())

    assert "1 sent" in out.getvalue()
    assert Message.objects.get(pk=due.pk).status == Message.Status.SENT
    assert Message.objects.get(pk=later.pk).status == Message.Status.QUEUED


def test_the_command_installs_the_repeating_schedule():
    call_command("journeys_send_queued", "--install-schedule", stdout=StringIO())
    call_command("journeys_send_queued", "--install-schedule", stdout=StringIO())
    schedule = Schedule.objects.get(name=SCHEDULE_NAME)
    assert schedule.func == "wagtail_journeys.tasks.send_queued"
    assert (schedule.schedule_type, schedule.minutes, schedule.repeats) == ("I", 1, -1)


def test_the_scheduled_task_delivers():
    from wagtail_journeys import tasks

    message = send_email(subscriber(), make_template())
    assert tasks.send_queued()["sent"] == 1
    assert Message.objects.get(pk=message.pk).status == Message.Status.SENT


def test_a_worker_stopped_while_rendering_sends_what_it_handed_over_and_gives_back_the_rest(
    monkeypatch,
):
    # Rendering and sending overlap: the first group goes to the sending
    # thread while the next renders. Stopping then (Ctrl-C, SIGTERM) must
    # leave every message either sent once or queued again, never lost.
    from wagtail_journeys.email import delivery
    from wagtail_journeys.email.composing import Composer

    template = make_template()
    messages = [send_email(subscriber(email=f"p{i}@example.com"), template) for i in range(25)]
    build = Composer.build
    built = []

    def build_until_stopped(self, message):
        if len(built) == delivery.PIPELINE_CHUNK + 3:
            raise KeyboardInterrupt
        built.append(message.pk)
        return build(self, message)

    monkeypatch.setattr(Composer, "build", build_until_stopped)
    with pytest.raises(KeyboardInterrupt):
        deliver_messages([m.pk for m in messages])

    statuses = dict(Message.objects.values_list("pk", "status"))
    sent = {pk for pk, status in statuses.items() if status == Message.Status.SENT}
    # Only the group handed over can have gone (the sender stops after its
    # current email), and what went is recorded as sent; the rest is queued.
    assert sent <= {m.pk for m in messages[: delivery.PIPELINE_CHUNK]}
    assert len(mail.outbox) == len(sent)
    assert set(statuses.values()) <= {Message.Status.SENT, Message.Status.QUEUED}
    assert Message.objects.filter(status=Message.Status.QUEUED).count() == 25 - len(sent)

    monkeypatch.setattr(Composer, "build", build)
    deliver_messages([m.pk for m in messages])
    assert sorted(email.to[0] for email in mail.outbox) == sorted(m.to_email for m in messages)


BOTH = ["template", "journey"]


def fitted(connection):
    from anymail.message import AnymailMessage

    from wagtail_journeys.email.composing import fit_to_esp

    email = AnymailMessage(
        subject="Hi",
        body="Hi",
        from_email="shop@example.com",
        to=["ada@example.com"],
        tags=["template:3", "journey:7"],
        metadata={"journeys_message_id": "9"},
    )
    return fit_to_esp(email, connection)


@pytest.mark.parametrize(
    ("backend_path", "anymail_settings", "tags", "metadata"),
    [
        ("anymail.backends.postmark.EmailBackend", {"POSTMARK_SERVER_TOKEN": "t"}, 1, True),
        ("anymail.backends.sparkpost.EmailBackend", {"SPARKPOST_API_KEY": "k"}, 1, True),
        (
            "anymail.backends.postal.EmailBackend",
            {"POSTAL_API_URL": "u", "POSTAL_API_KEY": "k"},
            1,
            False,
        ),
        ("anymail.backends.mailersend.EmailBackend", {"MAILERSEND_API_TOKEN": "t"}, 2, False),
        ("anymail.backends.mailgun.EmailBackend", {"MAILGUN_API_KEY": "k"}, 2, True),
        (ANYMAIL_TEST, {}, 2, True),
    ],
)
def test_emails_fit_what_the_esp_takes(settings, backend_path, anymail_settings, tags, metadata):
    # Postmark and the other single-tag ESPs refuse a message with two tags, Postal
    # and MailerSend any metadata (AnymailUnsupportedFeature): every email would fail.
    from django.core.mail import get_connection

    settings.ANYMAIL = anymail_settings
    connection = get_connection(backend_path)
    email = fitted(connection)
    assert len(email.tags) == tags and email.tags[0] == "template:3"
    assert bool(getattr(email, "metadata", None)) is metadata
    # The ESP's own payload builder takes it (it raises AnymailUnsupportedFeature otherwise).
    connection.build_message_payload(email, connection.send_defaults)


@pytest.mark.parametrize(("tag_name", "expected"), [("Type", 1), (None, 2)])
def test_amazon_ses_takes_one_tag_only_as_a_message_tag(tag_name, expected):
    # boto3 is not installed here: the attributes Anymail's SES backend sets.
    ses = type("SesBackend", (), {"esp_name": "Amazon SES", "message_tag_name": tag_name})()
    assert len(fitted(ses).tags) == expected
