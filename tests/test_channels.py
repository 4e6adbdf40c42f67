"""SMS and push through journeys: consent, caps, quiet hours, retries, the 48-hour reminder."""

import io
from datetime import UTC, datetime, timedelta

import pytest
from bs4 import BeautifulSoup
from django.core.management import call_command
from django.urls import reverse

from tests.journey_helpers import email_template, fire, later, subscribed, tick_at
from tests.test_analytics import snapshot
from wagtail_journeys.analytics import reports
from wagtail_journeys.channels import base
from wagtail_journeys.channels.delivery import deliver_channel_due, deliver_channel_messages
from wagtail_journeys.channels.sending import send_sms
from wagtail_journeys.email import consent, tracking
from wagtail_journeys.exceptions import ChannelError
from wagtail_journeys.journeys.building import block, new_journey
from wagtail_journeys.models import ConsentRecord, Enrollment, Message, SmsTemplate, StepRun

pytestmark = pytest.mark.django_db

HUMAN = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"


@pytest.fixture(autouse=True)
def channels(settings):
    from django.core import mail

    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.WAGTAIL_JOURNEYS = {
        "BASE_URL": "https://shop.example.com",
        "SMS_BACKEND": "wagtail_journeys.channels.base.TestSmsBackend",
        "PUSH_BACKEND": "wagtail_journeys.channels.base.TestPushBackend",
    }
    mail.outbox = []
    base.sms_outbox.clear()
    base.push_outbox.clear()


def sms_template(body="Hi {{ contact.first_name }}, your basket misses you.", kind="marketing"):
    template = SmsTemplate.objects.create(name="Reminder", body=body, kind=kind)
    template.save_revision(log_action=False)
    return template


def texter(**fields):
    """A subscribed contact with a phone number who opted in to SMS."""
    contact = subscribed(phone="+447700900123", **fields)
    consent.set_channel_consent(contact, "sms", True, method=ConsentRecord.Method.FORM)
    contact.refresh_from_db()
    return contact


def reminder_journey():
    """Email; if it is not opened within 48 hours, an SMS."""
    welcome = email_template("Offer", "Our offer, {{ contact.first_name }}")
    return new_journey(
        "Offer with SMS reminder",
        trigger=block("event", event="signed_up"),
        steps=[
            block("send_email", template=welcome.pk),
            block(
                "wait_until",
                wait_for="event",
                event="email_opened",
                filters=[],
                timeout_days=2,
                timeout_hours=0,
                yes=[],
                no=[block("send_sms", template=sms_template().pk)],
            ),
        ],
    )


def test_the_48_hour_sms_reminder_goes_only_to_who_did_not_open(
    django_capture_on_commit_callbacks, admin_client
):
    capture = django_capture_on_commit_callbacks
    journey = reminder_journey()
    reader, ignorer = texter(first_name="Ada"), texter(first_name="Bo")
    for contact in (reader, ignorer):
        fire(capture, contact, "signed_up")
    opened = Message.objects.get(contact=reader, channel=Message.Channel.EMAIL)
    with capture(execute=True):
        tracking.record_open(
            opened, tracking.Hit(user_agent=HUMAN, at=later(hours=3)), source="pixel"
        )

    tick_at(capture, later(hours=47))
    assert base.sms_outbox == []
    tick_at(capture, later(hours=48, minutes=1))

    [sms] = base.sms_outbox
    assert (sms.to, sms.body) == ("+447700900123", "Hi Bo, your basket misses you.")
    message = Message.objects.get(channel=Message.Channel.SMS)
    assert (message.contact, message.status, message.body) == (ignorer, "sent", sms.body)
    assert message.esp_message_id == f"test-{message.pk}"
    assert Enrollment.objects.get(contact=ignorer, journey=journey).status == "completed"
    sent_run = StepRun.objects.get(enrollment__contact=ignorer, step_type="send_sms")
    assert sent_run.message_id == message.pk
    assert ignorer.events.filter(name="sms_sent").exists()
    assert not Message.objects.filter(contact=reader, channel=Message.Channel.SMS).exists()

    # The same tick again sends nothing more.
    tick_at(capture, later(hours=49))
    assert len(base.sms_outbox) == 1

    # The SMS is counted apart from the emails, and a rebuild agrees with the live counters.
    totals = reports.totals(journey_id=journey.pk)
    assert (totals.sent, totals.count("sms_sent")) == (2, 1)
    counted = snapshot()
    call_command("journeys_rebuild_stats", stdout=io.StringIO())
    assert snapshot() == counted

    # The flow diagram shows the SMS step's own numbers.
    edit = admin_client.get(reverse("journeys_journeys:edit", args=[journey.pk]))
    sms_step = journey.steps[1].value["no"][0].id
    link = BeautifulSoup(edit.content, "html.parser").find(attrs={"data-flow-step": sms_step})
    node = " ".join(link.find_parent("li").get_text(" ").split())
    assert "Sent 1" in node
    assert "Delivered 0" in node


def test_marketing_sms_needs_an_opt_in_and_stop_stops_everything(
    django_capture_on_commit_callbacks,
):
    capture = django_capture_on_commit_callbacks
    template = sms_template()
    never_asked = subscribed(phone="+447700900001")
    with capture(execute=True):
        message = send_sms(never_asked, template)
    message.refresh_from_db()
    assert message.status == "suppressed"
    assert "explicit opt-in" in message.status_reason

    stopped = texter()
    consent.set_channel_consent(stopped, "sms", False, method=ConsentRecord.Method.ESP)
    stopped.refresh_from_db()
    with capture(execute=True):
        receipt = send_sms(stopped, sms_template("Your order shipped.", kind="transactional"))
    receipt.refresh_from_db()
    assert receipt.status == "suppressed"
    assert "STOP" in receipt.status_reason

    no_phone = subscribed()
    consent.set_channel_consent(no_phone, "sms", True, method=ConsentRecord.Method.FORM)
    no_phone.refresh_from_db()
    with capture(execute=True):
        nothing = send_sms(no_phone, template)
    nothing.refresh_from_db()
    assert (nothing.status, nothing.status_reason) == (
        "suppressed",
        "The contact has no phone number.",
    )
    assert base.sms_outbox == []


def test_the_sms_cap_is_its_own_and_quiet_hours_defer(settings, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    settings.WAGTAIL_JOURNEYS = {
        **settings.WAGTAIL_JOURNEYS,
        "SMS_FREQUENCY_CAP": (2, 7 * 86400),
        "FREQUENCY_CAP": (1, 86400),
    }
    contact = texter()
    template = sms_template()
    with capture(execute=True):
        messages = [send_sms(contact, template) for _n in range(3)]
    statuses = [Message.objects.get(pk=m.pk).status for m in messages]
    assert statuses == ["sent", "sent", "skipped"]
    assert "SMS frequency cap" in Message.objects.get(pk=messages[2].pk).status_reason
    # Email has its own allowance, untouched by the SMS.
    with capture(execute=True):
        from wagtail_journeys import send_email

        email = send_email(contact, email_template())
    assert Message.objects.get(pk=email.pk).status == "sent"

    settings.WAGTAIL_JOURNEYS = {
        **settings.WAGTAIL_JOURNEYS,
        "QUIET_HOURS": ("21:00", "08:00"),
        "SMS_FREQUENCY_CAP": None,
    }
    night = datetime(2026, 3, 10, 23, 0, tzinfo=UTC)
    late = send_sms(contact, template, at=night)
    deliver_channel_messages([late.pk], now=night)
    late.refresh_from_db()
    assert (late.status, late.send_after) == ("queued", datetime(2026, 3, 11, 8, 0, tzinfo=UTC))
    deliver_channel_due(now=datetime(2026, 3, 11, 8, 0, tzinfo=UTC))
    late.refresh_from_db()
    assert late.status == "sent"


class FlakySmsBackend(base.BaseSmsBackend):
    """Fails as told by ``failures``: retryable errors, then a permanent one, then sends."""

    failures: list = []

    def send(self, sms):
        if self.failures:
            raise self.failures.pop(0)
        return base.SendResult(provider_id="SM1", status="queued")


def test_provider_errors_retry_with_back_off_or_fail(settings):
    settings.WAGTAIL_JOURNEYS = {
        **settings.WAGTAIL_JOURNEYS,
        "SMS_BACKEND": f"{__name__}.FlakySmsBackend",
        "SEND_RETRY_DELAY": 60,
    }
    contact = texter()
    t0 = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
    FlakySmsBackend.failures = [ChannelError("503 from the provider"), RuntimeError("timeout")]
    message = send_sms(contact, sms_template(), at=t0)
    deliver_channel_messages([message.pk], now=t0)
    message.refresh_from_db()
    assert (message.status, message.send_after) == ("queued", t0 + timedelta(seconds=60))
    assert "503" in message.status_reason
    deliver_channel_due(now=t0 + timedelta(seconds=30))  # not due yet
    message.refresh_from_db()
    assert message.attempts == 1
    deliver_channel_due(now=t0 + timedelta(seconds=60))
    message.refresh_from_db()
    assert (message.status, message.send_after) == ("queued", t0 + timedelta(seconds=180))
    deliver_channel_due(now=t0 + timedelta(seconds=180))
    message.refresh_from_db()
    assert (message.status, message.esp_message_id, message.attempts) == ("sent", "SM1", 3)

    FlakySmsBackend.failures = [ChannelError("21211 invalid number", permanent=True)]
    refused = send_sms(contact, sms_template(), at=t0)
    deliver_channel_messages([refused.pk], now=t0)
    refused.refresh_from_db()
    assert (refused.status, refused.status_reason) == ("failed", "21211 invalid number")


def test_a_message_left_sending_is_never_sent_again():
    contact = texter()
    message = send_sms(contact, sms_template())
    # A worker claimed it, called the provider and died before writing the outcome.
    Message.objects.filter(pk=message.pk).update(status="sending", attempts=1)
    deliver_channel_messages([message.pk])
    deliver_channel_due()
    assert base.sms_outbox == []
    assert Message.objects.get(pk=message.pk).status == "sending"


class NeedsAKeyBackend(base.BaseSmsBackend):
    @classmethod
    def check_settings(cls):
        return ['Set WAGTAIL_JOURNEYS["SMS_API_KEY"].']


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({"SMS_BACKEND": "no.such.Backend"}, "wagtail_journeys.E024"),
        (
            {"PUSH_BACKEND": "wagtail_journeys.channels.base.TestSmsBackend"},
            "wagtail_journeys.E024",
        ),
        ({"SMS_BACKEND": f"{__name__}.NeedsAKeyBackend"}, "wagtail_journeys.E025"),
        ({"SMS_FREQUENCY_CAP": (2,)}, "wagtail_journeys.E026"),
        ({"PUSH_FREQUENCY_CAP": "often"}, "wagtail_journeys.E026"),
    ],
)
def test_channel_settings_are_checked(settings, overrides, expected):
    from wagtail_journeys.checks import check_channel_settings

    assert check_channel_settings(None) == []
    settings.WAGTAIL_JOURNEYS = {**settings.WAGTAIL_JOURNEYS, **overrides}
    assert [error.id for error in check_channel_settings(None)] == [expected]
