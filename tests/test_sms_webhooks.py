"""Twilio's webhooks: status callbacks and inbound texts, signed with Twilio's real algorithm."""

import pytest
from django.urls import reverse
from twilio.request_validator import RequestValidator

from tests.factories import ContactFactory
from wagtail_journeys.models import ConsentRecord, DailyStat, Event, Message, MessageEvent
from wagtail_journeys.views.sms import EMPTY_TWIML, normalise_phone

pytestmark = pytest.mark.django_db

AUTH_TOKEN = "tests-twilio-token"
BASE_URL = "https://shop.example.com"
SID = "SM" + "b" * 32


@pytest.fixture(autouse=True)
def twilio_settings(settings):
    settings.WAGTAIL_JOURNEYS = {"BASE_URL": BASE_URL, "TWILIO_AUTH_TOKEN": AUTH_TOKEN}
    return settings


def signed_post(client, name, params, *, url=None, token=AUTH_TOKEN, **extra):
    """POST ``params`` as Twilio does, signed for the public URL (behind the proxy)."""
    path = reverse(f"wagtail_journeys:{name}")
    signature = RequestValidator(token).compute_signature(url or BASE_URL + path, params)
    return client.post(path, params, HTTP_X_TWILIO_SIGNATURE=signature, **extra)


@pytest.fixture
def contact():
    return ContactFactory(phone="+44 7700 900123", consent={"email": True, "sms": True})


@pytest.fixture
def message(contact):
    return Message.objects.create(
        contact=contact,
        channel=Message.Channel.SMS,
        idempotency_key="sms-webhook-test",
        status=Message.Status.SENT,
        to_phone="+447700900123",
        step_id="step-sms",
        esp_message_id=SID,
    )


def status_report(status, sid=SID, **more):
    return {
        "MessageSid": sid,
        "SmsSid": sid,
        "AccountSid": "AC" + "0" * 32,
        "MessageStatus": status,
        "SmsStatus": status,
        "To": "+447700900123",
        "From": "+15005550006",
        "ApiVersion": "2010-04-01",
        **more,
    }


def inbound_text(body, sender="+447700900123", **more):
    return {
        "MessageSid": "SM" + "c" * 32,
        "AccountSid": "AC" + "0" * 32,
        "From": sender,
        "To": "+15005550006",
        "Body": body,
        "NumMedia": "0",
        **more,
    }


# Status callbacks


def test_delivered_report_is_stored_counted_and_announced(client, message, contact):
    response = signed_post(client, "sms_status", status_report("delivered"))

    assert response.status_code == 200
    event = MessageEvent.objects.get()
    assert (event.message, event.kind, event.source) == (message, "delivered", "twilio")
    assert event.dedupe_key == f"twilio:{SID}:delivered"
    assert DailyStat.objects.get(metric="sms_delivered").count == 1
    journey_event = Event.objects.get(name="sms_delivered")
    assert journey_event.contact == contact
    assert journey_event.properties["message_id"] == message.pk
    assert journey_event.properties["step_id"] == "step-sms"
    assert journey_event.properties["error_code"] is None


@pytest.mark.parametrize("status", ["undelivered", "failed"])
def test_failure_report_keeps_twilios_error_code(client, message, status):
    response = signed_post(client, "sms_status", status_report(status, ErrorCode="30006"))

    assert response.status_code == 200
    assert MessageEvent.objects.get().kind == "failed"
    properties = Event.objects.get(name="sms_failed").properties
    assert properties["error_code"] == 30006
    assert properties["status"] == status


def test_retried_report_is_stored_once(client, message):
    for _ in range(3):
        assert signed_post(client, "sms_status", status_report("delivered")).status_code == 200

    assert MessageEvent.objects.count() == 1
    assert Event.objects.filter(name="sms_delivered").count() == 1
    assert DailyStat.objects.get(metric="sms_delivered").count == 1


@pytest.mark.parametrize("status", ["queued", "sending", "sent", "accepted"])
def test_progress_reports_store_nothing(client, message, status):
    assert signed_post(client, "sms_status", status_report(status)).status_code == 200

    assert not MessageEvent.objects.exists()
    assert not Event.objects.exists()


def test_unknown_message_is_acknowledged_and_ignored(client, message):
    response = signed_post(client, "sms_status", status_report("delivered", sid="SM" + "f" * 32))

    assert response.status_code == 200
    assert not MessageEvent.objects.exists()


def test_email_message_with_the_same_id_is_not_an_sms(client, message):
    Message.objects.filter(pk=message.pk).update(channel=Message.Channel.EMAIL)

    assert signed_post(client, "sms_status", status_report("delivered")).status_code == 200

    assert not MessageEvent.objects.exists()


def test_report_without_a_sid_or_status_is_a_bad_request(client, message):
    response = signed_post(client, "sms_status", {"Foo": "bar", "MessageStatus": "delivered"})

    assert response.status_code == 400
    assert not MessageEvent.objects.exists()


# Signatures


def test_unsigned_request_is_refused(client, message):
    response = client.post(reverse("wagtail_journeys:sms_status"), status_report("delivered"))

    assert response.status_code == 403
    assert b"Missing X-Twilio-Signature" in response.content
    assert not MessageEvent.objects.exists()


def test_signature_with_another_token_is_refused(client, message):
    response = signed_post(client, "sms_status", status_report("delivered"), token="not-ours")

    assert response.status_code == 403
    assert b"Invalid X-Twilio-Signature" in response.content
    assert not MessageEvent.objects.exists()


def test_altered_fields_break_the_signature(client, message):
    path = reverse("wagtail_journeys:sms_status")
    signature = RequestValidator(AUTH_TOKEN).compute_signature(
        BASE_URL + path, status_report("failed")
    )

    response = client.post(path, status_report("delivered"), HTTP_X_TWILIO_SIGNATURE=signature)

    assert response.status_code == 403


def test_signature_is_checked_against_the_public_url_not_the_internal_one(client, message):
    # Django sees http://testserver (the proxy's upstream); Twilio signed the public URL.
    internal = "http://testserver" + reverse("wagtail_journeys:sms_status")
    response = signed_post(client, "sms_status", status_report("delivered"), url=internal)

    assert response.status_code == 403


def test_without_a_token_webhooks_are_refused_with_the_setting_to_add(
    client, message, twilio_settings
):
    twilio_settings.WAGTAIL_JOURNEYS = {"BASE_URL": BASE_URL}

    response = signed_post(client, "sms_status", status_report("delivered"))

    assert response.status_code == 403
    assert b'WAGTAIL_JOURNEYS["TWILIO_AUTH_TOKEN"]' in response.content


@pytest.mark.parametrize("name", ["sms_status", "sms_inbound"])
def test_get_is_not_allowed(client, name):
    assert client.get(reverse(f"wagtail_journeys:{name}")).status_code == 405


@pytest.mark.parametrize("name", ["sms_status", "sms_inbound"])
def test_garbage_body_is_a_client_error(client, name):
    response = client.post(
        reverse(f"wagtail_journeys:{name}"),
        data=b"\xff\xfe--not a form\x00",
        content_type="multipart/form-data; boundary=nope",
        HTTP_X_TWILIO_SIGNATURE="garbage",
    )

    assert 400 <= response.status_code < 500


# Inbound texts: STOP and START


@pytest.mark.parametrize("word", ["STOP", "stop", "  Stop\n", "STOPALL", "unsubscribe", "Cancel"])
def test_stop_withdraws_sms_consent(client, contact, word):
    response = signed_post(client, "sms_inbound", inbound_text(word))

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/xml")
    assert response.content.decode() == EMPTY_TWIML
    contact.refresh_from_db()
    assert contact.consent == {"email": True, "sms": False}
    record = ConsentRecord.objects.get()
    assert (record.channel, record.granted, record.method) == ("sms", False, "esp")
    assert Event.objects.get(name="sms_stopped").contact == contact


def test_start_gives_sms_consent(client, contact):
    contact.consent = {"email": True, "sms": False}
    contact.save()

    response = signed_post(client, "sms_inbound", inbound_text("start"))

    assert response.status_code == 200
    contact.refresh_from_db()
    assert contact.consent["sms"] is True
    record = ConsentRecord.objects.get()
    assert (record.channel, record.granted) == ("sms", True)
    assert Event.objects.filter(name="sms_started", contact=contact).count() == 1


def test_retried_stop_changes_and_records_once(client, contact):
    for _ in range(2):
        assert signed_post(client, "sms_inbound", inbound_text("STOP")).status_code == 200

    assert ConsentRecord.objects.count() == 1
    assert Event.objects.filter(name="sms_stopped").count() == 1


def test_stop_reaches_every_contact_with_the_number_however_written(client, contact):
    same = ContactFactory(phone="+44 (7700) 900-123", consent={"sms": True})
    national = ContactFactory(phone="07700 900123", consent={"sms": True})
    other = ContactFactory(phone="+44 7700 900124", consent={"sms": True})

    signed_post(client, "sms_inbound", inbound_text("STOP"))

    for person in (contact, same, national, other):
        person.refresh_from_db()
    assert contact.consent["sms"] is False and same.consent["sms"] is False
    assert national.consent["sms"] is True and other.consent["sms"] is True


def test_twilios_opt_out_type_counts_as_stop(client, contact):
    # A keyword configured in Twilio's console ("ARRET"): Twilio says what it meant.
    signed_post(client, "sms_inbound", inbound_text("ARRET", OptOutType="STOP"))

    contact.refresh_from_db()
    assert contact.consent["sms"] is False


@pytest.mark.parametrize("body", ["Thanks!", "please stop sending", ""])
def test_other_texts_change_nothing(client, contact, body):
    response = signed_post(client, "sms_inbound", inbound_text(body))

    assert response.status_code == 200
    assert response.content.decode() == EMPTY_TWIML
    contact.refresh_from_db()
    assert contact.consent["sms"] is True
    assert not ConsentRecord.objects.exists()
    assert not Event.objects.exists()


def test_stop_from_an_unknown_number_is_answered_and_ignored(client, contact):
    response = signed_post(client, "sms_inbound", inbound_text("STOP", sender="+15550100199"))

    assert response.status_code == 200
    assert not ConsentRecord.objects.exists()


def test_inbound_without_a_sender_is_a_bad_request(client, contact):
    response = signed_post(client, "sms_inbound", {"Body": "STOP"})

    assert response.status_code == 400
    assert not ConsentRecord.objects.exists()


def test_inbound_unsigned_is_refused(client, contact):
    response = client.post(reverse("wagtail_journeys:sms_inbound"), inbound_text("STOP"))

    assert response.status_code == 403
    contact.refresh_from_db()
    assert contact.consent["sms"] is True


@pytest.mark.parametrize(
    ("raw", "normal"),
    [
        ("+44 7700 900123", "+447700900123"),
        (" +1 (555) 010-0199 ", "+15550100199"),
        ("07700-900123", "07700900123"),
        ("no digits", ""),
    ],
)
def test_normalise_phone(raw, normal):
    assert normalise_phone(raw) == normal
