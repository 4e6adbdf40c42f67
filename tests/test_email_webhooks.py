"""ESP tracking webhooks: real Postmark and Mailgun payloads through Anymail's views.

The payloads follow the examples in Anymail's own test suite, with our message
id added where we put it when sending (``metadata["journeys_message_id"]``).
"""

import base64
import hashlib
import hmac
import json
import time
from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import ContactFactory
from wagtail_journeys.models import ConsentRecord, Contact, Event, Message, MessageEvent

pytestmark = pytest.mark.django_db

POSTMARK_URL = "/anymail/postmark/tracking/"
MAILGUN_URL = "/anymail/mailgun/tracking/"
MAILGUN_KEY = "tests-mailgun-signing-key"  # tests/settings.py ANYMAIL


def basic_auth(credentials="webhook-user:webhook-pass"):
    return {"HTTP_AUTHORIZATION": "Basic " + base64.b64encode(credentials.encode()).decode()}


@pytest.fixture
def contact():
    return ContactFactory(
        email="ada@example.com", status=Contact.Status.SUBSCRIBED, consent={"email": True}
    )


@pytest.fixture
def message(contact):
    return Message.objects.create(
        contact=contact,
        idempotency_key="webhook-test",
        status=Message.Status.SENT,
        to_email=contact.email,
        esp_message_id="2706ee8a-737c-4285-b032-ccd317af53ed",
        sent_at=timezone.now() - timedelta(days=1),
    )


def post_postmark(client, payload, **auth):
    return client.post(
        POSTMARK_URL,
        data=json.dumps(payload),
        content_type="application/json",
        **(auth or basic_auth()),
    )


def postmark_delivery(message):
    return {
        "RecordType": "Delivery",
        "ServerID": 23,
        "MessageStream": "outbound",
        "MessageID": message.esp_message_id,
        "Recipient": "ada@example.com",
        "Tag": "welcome-email",
        "DeliveredAt": "2026-11-28T13:28:10.2735393-04:00",
        "Details": "Test delivery webhook details",
        "Metadata": {"journeys_message_id": str(message.pk)},
    }


def postmark_bounce(message, bounce_type="HardBounce"):
    return {
        "RecordType": "Bounce",
        "ID": 901542550,
        "Type": bounce_type,
        "TypeCode": 1,
        "ServerID": 23,
        "Name": "Hard bounce",
        "MessageID": message.esp_message_id,
        "Description": "The server was unable to deliver your message.",
        "Details": "smtp;550 5.1.1 The email account that you tried to reach does not exist.",
        "Email": "ada@example.com",
        "From": "shop@example.com",
        "BouncedAt": "2026-11-28T16:28:50.3963933-04:00",
        "DumpAvailable": True,
        "Inactive": True,
        "CanActivate": True,
        "Subject": "Your cart",
    }


# Postmark


def test_postmark_delivery_with_basic_auth_is_stored(client, message):
    response = post_postmark(client, postmark_delivery(message))
    assert response.status_code == 200
    stored = MessageEvent.objects.get(message=message)
    assert (stored.kind, stored.source, stored.machine) == ("delivered", "postmark", False)
    assert stored.occurred_at.isoformat() == "2026-11-28T17:28:10.273539+00:00"
    event = Event.objects.get(name="email_delivered")
    assert event.contact == message.contact
    assert event.properties["message_id"] == message.pk


@pytest.mark.parametrize(
    "auth",
    [basic_auth("webhook-user:wrong"), basic_auth("someone:webhook-pass"), {}],
    ids=["wrong-password", "wrong-user", "none"],
)
def test_postmark_with_wrong_auth_is_rejected_and_stores_nothing(client, message, auth):
    response = client.post(
        POSTMARK_URL,
        data=json.dumps(postmark_bounce(message)),
        content_type="application/json",
        **auth,
    )
    assert response.status_code in (400, 401, 403)
    assert not MessageEvent.objects.exists()
    message.contact.refresh_from_db()
    assert message.contact.status == Contact.Status.SUBSCRIBED


def test_a_retried_report_is_stored_once(client, message):
    for _ in range(3):
        assert post_postmark(client, postmark_bounce(message)).status_code == 200
    assert MessageEvent.objects.count() == 1
    assert Event.objects.filter(name="email_bounced").count() == 1


def test_a_hard_bounce_found_by_esp_id_suppresses_the_address(client, message):
    # No metadata: the message is found by the id Postmark gave at sending.
    post_postmark(client, postmark_bounce(message))
    stored = MessageEvent.objects.get()
    assert stored.kind == "bounced" and stored.detail["hard"] is True
    assert "550 5.1.1" in stored.detail["mta_response"]
    message.contact.refresh_from_db()
    assert message.contact.status == Contact.Status.BOUNCED
    assert Event.objects.get(name="email_bounced").properties["hard"] is True


def test_a_soft_bounce_does_not_suppress(client, message):
    post_postmark(client, postmark_bounce(message, "SoftBounce"))
    assert MessageEvent.objects.get().detail["hard"] is False
    message.contact.refresh_from_db()
    assert message.contact.status == Contact.Status.SUBSCRIBED


def test_a_spam_complaint_suppresses_and_withdraws_consent(client, message):
    payload = {
        **postmark_bounce(message, "SpamComplaint"),
        "RecordType": "SpamComplaint",
        "TypeCode": 512,
    }
    post_postmark(client, payload)
    message.contact.refresh_from_db()
    assert message.contact.status == Contact.Status.COMPLAINED
    assert message.contact.consent["email"] is False
    record = ConsentRecord.objects.get()
    assert (record.granted, record.method, record.source) == (False, "esp", "Postmark")
    assert Event.objects.filter(name="email_complained").count() == 1
    # A later bounce report does not soften the complaint.
    post_postmark(client, {**postmark_bounce(message), "ID": 5})
    message.contact.refresh_from_db()
    assert message.contact.status == Contact.Status.COMPLAINED


def test_postmark_open_and_click(client, message):
    base = {
        "Client": {"Name": "Chrome", "Company": "Google", "Family": "Chrome"},
        "Platform": "Desktop",
        "UserAgent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_7_5) AppleWebKit Chrome",
        "MessageID": message.esp_message_id,
        "Recipient": "ada@example.com",
        "Metadata": {"journeys_message_id": str(message.pk)},
    }
    post_postmark(
        client,
        {**base, "RecordType": "Open", "FirstOpen": True, "ReceivedAt": "2026-11-29T10:00:00Z"},
    )
    post_postmark(
        client,
        {
            **base,
            "RecordType": "Click",
            "ClickLocation": "HTML",
            "OriginalLink": "https://shop.example.com/products/lamp/",
            "ReceivedAt": "2026-11-29T10:00:05Z",
        },
    )
    message.refresh_from_db()
    assert message.first_opened_at.isoformat() == "2026-11-29T10:00:00+00:00"
    assert message.first_clicked_at.isoformat() == "2026-11-29T10:00:05+00:00"
    clicked = MessageEvent.objects.get(kind="clicked")
    assert clicked.url == "https://shop.example.com/products/lamp/"
    assert set(Event.objects.values_list("name", flat=True)) == {"email_opened", "email_clicked"}
    assert Event.objects.get(name="email_clicked").source == "system"
    message.contact.refresh_from_db()
    assert message.contact.last_engaged_at == message.first_clicked_at


def test_postmark_open_by_apple_privacy_proxy_is_a_machine(client, message):
    post_postmark(
        client,
        {
            "RecordType": "Open",
            "FirstOpen": True,
            "UserAgent": "Mozilla/5.0",
            "MessageID": message.esp_message_id,
            "ReceivedAt": "2026-11-29T10:00:00Z",
            "Recipient": "ada@example.com",
        },
    )
    assert MessageEvent.objects.get().machine is True
    message.refresh_from_db()
    assert message.first_opened_at is None
    assert not Event.objects.exists()


def test_postmark_unsubscribe(client, message):
    payload = {
        "RecordType": "SubscriptionChange",
        "MessageID": message.esp_message_id,
        "ServerID": 23,
        "MessageStream": "outbound",
        "ChangedAt": "2026-11-29T17:17:32Z",
        "Recipient": "ada@example.com",
        "Origin": "Recipient",
        "SuppressSending": True,
        "SuppressionReason": "ManualSuppression",
        "Metadata": {"journeys_message_id": str(message.pk)},
    }
    post_postmark(client, payload)
    post_postmark(client, payload)
    message.contact.refresh_from_db()
    assert message.contact.status == Contact.Status.UNSUBSCRIBED
    assert ConsentRecord.objects.get().method == "esp"
    assert MessageEvent.objects.get().kind == "unsubscribed"
    assert Event.objects.filter(name="unsubscribed").count() == 1


def test_reports_about_unknown_messages_are_accepted_and_ignored(client, message):
    other = {**postmark_delivery(message), "MessageID": "unknown", "Metadata": {}}
    assert post_postmark(client, other).status_code == 200
    bad_id = {**postmark_delivery(message), "Metadata": {"journeys_message_id": "x1"}}
    bad_id["MessageID"] = "unknown-too"
    assert post_postmark(client, bad_id).status_code == 200
    assert not MessageEvent.objects.exists()


def test_a_bounce_of_a_known_address_suppresses_it_without_the_message(client, contact):
    payload = postmark_bounce(Message(esp_message_id="sent-by-another-system"))
    assert post_postmark(client, payload).status_code == 200
    contact.refresh_from_db()
    assert contact.status == Contact.Status.BOUNCED
    assert not MessageEvent.objects.exists()


# Mailgun


def mailgun_signed(event_data, token="651869375b9df3c98fc15c4889b102119add1235c38fc92824"):
    timestamp = str(int(float(event_data["timestamp"])))
    signature = hmac.new(
        MAILGUN_KEY.encode(), f"{timestamp}{token}".encode(), hashlib.sha256
    ).hexdigest()
    return {
        "signature": {"timestamp": timestamp, "token": token, "signature": signature},
        "event-data": event_data,
    }


def post_mailgun(client, payload, **auth):
    return client.post(
        MAILGUN_URL,
        data=json.dumps(payload),
        content_type="application/json",
        **(auth or basic_auth()),
    )


def mailgun_event(message, event, **extra):
    return {
        "event": event,
        "id": "hTWCTD81RtiDN-...",
        "timestamp": time.time() - 3600,
        "log-level": "info",
        "recipient": "ada@example.com",
        "recipient-domain": "example.com",
        "tags": ["journey-welcome"],
        "user-variables": {"journeys_message_id": str(message.pk)},
        "message": {
            "headers": {
                "to": "ada@example.com",
                "message-id": "20261128211713.1.DF5966851B4BAA99@mg.example.com",
                "from": "shop@example.com",
                "subject": "Your cart",
            },
            "attachments": [],
            "size": 809,
        },
        **extra,
    }


def test_mailgun_delivered_is_stored(client, message):
    payload = mailgun_signed(
        mailgun_event(
            message,
            "delivered",
            **{
                "delivery-status": {
                    "tls": True,
                    "mx-host": "smtp-in.example.com",
                    "attempt-no": 1,
                    "description": "",
                    "code": 250,
                    "message": "OK",
                }
            },
        )
    )
    assert post_mailgun(client, payload).status_code == 200
    stored = MessageEvent.objects.get()
    assert (stored.kind, stored.source) == ("delivered", "mailgun")
    assert Event.objects.filter(name="email_delivered").count() == 1
    # Mailgun retries with the same signature token: stored once.
    assert post_mailgun(client, payload).status_code == 200
    assert MessageEvent.objects.count() == 1


def test_mailgun_with_a_bad_signature_is_rejected(client, message):
    payload = mailgun_signed(mailgun_event(message, "delivered"))
    payload["signature"]["signature"] = "0" * 64
    assert post_mailgun(client, payload).status_code == 400
    assert not MessageEvent.objects.exists()


def test_mailgun_with_wrong_basic_auth_is_rejected_despite_a_good_signature(client, message):
    payload = mailgun_signed(mailgun_event(message, "delivered"))
    response = post_mailgun(client, payload, **basic_auth("webhook-user:nope"))
    assert response.status_code == 400
    assert not MessageEvent.objects.exists()


def test_mailgun_permanent_failure_is_a_hard_bounce(client, message):
    event = mailgun_event(
        message,
        "failed",
        severity="permanent",
        reason="bounce",
        **{"delivery-status": {"code": 550, "message": "5.1.1 The email account does not exist"}},
    )
    post_mailgun(client, mailgun_signed(event))
    assert MessageEvent.objects.get().kind == "bounced"
    message.contact.refresh_from_db()
    assert message.contact.status == Contact.Status.BOUNCED


def test_mailgun_temporary_failure_is_deferred(client, message):
    event = mailgun_event(
        message,
        "failed",
        severity="temporary",
        reason="generic",
        **{"delivery-status": {"code": 498, "message": "No MX for example.com"}},
    )
    post_mailgun(client, mailgun_signed(event))
    assert MessageEvent.objects.get().kind == "deferred"
    assert not Event.objects.exists()
    message.contact.refresh_from_db()
    assert message.contact.status == Contact.Status.SUBSCRIBED


def test_mailgun_complaint(client, message):
    post_mailgun(client, mailgun_signed(mailgun_event(message, "complained")))
    message.contact.refresh_from_db()
    assert message.contact.status == Contact.Status.COMPLAINED
    assert Event.objects.filter(name="email_complained").count() == 1


def test_mailgun_open_and_click(client, message):
    client_info = {
        "client-type": "browser",
        "client-os": "OS X",
        "device-type": "desktop",
        "client-name": "Chrome",
        "user-agent": "Mozilla/5.0 (Macintosh; Intel Mac OS X 10_13_6) Chrome/126.0",
    }
    opened = mailgun_event(message, "opened", **{"client-info": client_info})
    clicked = mailgun_event(
        message,
        "clicked",
        url="https://shop.example.com/cart/",
        timestamp=1795000100.5,
        **{"client-info": client_info},
    )
    post_mailgun(client, mailgun_signed(opened, token="a" * 50))
    post_mailgun(client, mailgun_signed(clicked, token="b" * 50))
    assert sorted(MessageEvent.objects.values_list("kind", flat=True)) == ["clicked", "opened"]
    assert MessageEvent.objects.get(kind="clicked").url == "https://shop.example.com/cart/"
    message.refresh_from_db()
    assert message.first_opened_at is not None and message.first_clicked_at is not None
    assert Event.objects.filter(name__in=["email_opened", "email_clicked"]).count() == 2


def test_mailgun_unsubscribe(client, message):
    post_mailgun(client, mailgun_signed(mailgun_event(message, "unsubscribed")))
    message.contact.refresh_from_db()
    assert message.contact.status == Contact.Status.UNSUBSCRIBED
    assert message.contact.consent["email"] is False
