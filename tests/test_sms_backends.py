"""The Twilio and HTTP SMS backends against a real HTTP server on loopback.

The Twilio backend runs the real ``twilio`` client, pointed at the server
through ``TWILIO_API_BASE_URL``; the server answers as Twilio's Messages API
does. Nothing here reaches the internet.
"""

import base64
import socket

import pytest

from tests.loopback import loopback_fixture
from wagtail_journeys.channels.base import OutboundSms, get_sms_backend
from wagtail_journeys.channels.http_sms import HttpSmsBackend
from wagtail_journeys.channels.twilio import TwilioSmsBackend
from wagtail_journeys.exceptions import ChannelError, ConfigurationError, MissingExtraError

ACCOUNT_SID = "AC" + "0" * 32
AUTH_TOKEN = "tests-twilio-token"
HTTP_TOKEN = "tests-http-sms-token"
SMS = OutboundSms(
    message_id=42,
    to="+447700900123",
    body="Your basket misses you",
    status_callback="https://shop.example.com/journeys/sms/status/",
)


# Each answer repeats until the next is set, as a provider that keeps saying the same.
provider = loopback_fixture()


@pytest.fixture
def closed_port_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}"


# Twilio


def twilio_message(sid="SM" + "a" * 32, status="queued"):
    """A Messages API answer, trimmed to what matters here."""
    return {
        "sid": sid,
        "account_sid": ACCOUNT_SID,
        "status": status,
        "num_segments": "1",
        "to": SMS.to,
        "body": SMS.body,
        "date_created": "Thu, 30 Jul 2015 20:12:31 +0000",
        "uri": f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages/{sid}.json",
    }


def twilio_error(code, message, status=400):
    return {"code": code, "message": message, "more_info": "", "status": status}


@pytest.fixture
def twilio_settings(settings, provider):
    settings.WAGTAIL_JOURNEYS = {
        "SMS_BACKEND": "wagtail_journeys.channels.twilio.TwilioSmsBackend",
        "SMS_FROM": "+15005550006",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "TWILIO_API_BASE_URL": provider.url,
    }
    return settings


def test_twilio_sends_through_the_messages_api(twilio_settings, provider):
    provider.answer_always(201, twilio_message())

    result = get_sms_backend().send(SMS)

    assert (result.provider_id, result.status) == ("SM" + "a" * 32, "queued")
    request = provider.requests[0]
    assert request.path == f"/2010-04-01/Accounts/{ACCOUNT_SID}/Messages.json"
    assert request.headers["Content-Type"] == "application/x-www-form-urlencoded"
    credentials = base64.b64encode(f"{ACCOUNT_SID}:{AUTH_TOKEN}".encode()).decode()
    assert request.headers["Authorization"] == f"Basic {credentials}"
    assert request.form() == {
        "To": SMS.to,
        "From": "+15005550006",
        "Body": SMS.body,
        "StatusCallback": SMS.status_callback,
    }


def test_twilio_uses_a_messaging_service_and_omits_an_empty_callback(twilio_settings, provider):
    twilio_settings.WAGTAIL_JOURNEYS["SMS_FROM"] = "MG" + "1" * 32
    provider.answer_always(201, twilio_message(status="accepted"))

    result = TwilioSmsBackend().send(OutboundSms(message_id=1, to="+447700900123", body="Hi"))

    assert result.status == "accepted"
    form = provider.requests[-1].form()
    assert form["MessagingServiceSid"] == "MG" + "1" * 32
    assert "From" not in form and "StatusCallback" not in form


@pytest.mark.parametrize(
    ("code", "message"),
    [
        (21211, "The 'To' number +44770 is not a valid phone number."),
        (21610, "Attempt to send to unsubscribed recipient"),
        (21614, "'To' number is not a valid mobile number"),
    ],
)
def test_twilio_recipient_errors_are_permanent(twilio_settings, provider, code, message):
    provider.answer_always(400, twilio_error(code, message))

    with pytest.raises(ChannelError) as caught:
        TwilioSmsBackend().send(SMS)

    assert caught.value.permanent is True
    assert str(code) in str(caught.value) and message in str(caught.value)


def test_twilio_server_errors_and_rate_limits_are_retried(twilio_settings, provider):
    backend = TwilioSmsBackend()
    provider.answer_always(500, {"code": 20500, "message": "Internal Server Error", "status": 500})
    with pytest.raises(ChannelError) as server_error:
        backend.send(SMS)
    provider.answer_always(429, twilio_error(20429, "Too Many Requests", status=429))
    with pytest.raises(ChannelError) as rate_limited:
        backend.send(SMS)

    assert server_error.value.permanent is False
    assert rate_limited.value.permanent is False


def test_twilio_wrong_credentials_are_retried_not_dropped(twilio_settings, provider):
    # The operator can fix the token before the retries run out; the messages should wait.
    provider.answer_always(401, twilio_error(20003, "Authenticate", status=401))

    with pytest.raises(ChannelError) as caught:
        TwilioSmsBackend().send(SMS)

    assert caught.value.permanent is False


def test_twilio_unreachable_is_retried(twilio_settings, closed_port_url):
    twilio_settings.WAGTAIL_JOURNEYS["TWILIO_API_BASE_URL"] = closed_port_url

    with pytest.raises(ChannelError) as caught:
        TwilioSmsBackend().send(SMS)

    assert caught.value.permanent is False
    assert "Could not reach Twilio" in str(caught.value)


def test_twilio_timeout_is_retried(twilio_settings, provider, monkeypatch):
    monkeypatch.setattr(TwilioSmsBackend, "timeout", 0.2)
    provider.answer_always(201, twilio_message(), delay=1)

    with pytest.raises(ChannelError) as caught:
        TwilioSmsBackend().send(SMS)

    assert caught.value.permanent is False


@pytest.mark.parametrize("missing", ["TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "SMS_FROM"])
def test_twilio_names_the_missing_setting(twilio_settings, missing):
    del twilio_settings.WAGTAIL_JOURNEYS[missing]

    with pytest.raises(ConfigurationError, match=f'WAGTAIL_JOURNEYS\\["{missing}"\\]'):
        TwilioSmsBackend()


def test_twilio_without_the_package_names_the_extra(twilio_settings, monkeypatch):
    import builtins

    real_import = builtins.__import__

    def no_twilio(name, *args, **kwargs):
        if name == "twilio" or name.startswith("twilio."):
            raise ImportError(f"No module named {name!r}")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_twilio)

    with pytest.raises(MissingExtraError, match=r'pip install "wagtail-journeys\[sms\]"'):
        TwilioSmsBackend()


# The generic HTTP backend


@pytest.fixture
def http_settings(settings, provider):
    settings.WAGTAIL_JOURNEYS = {
        "SMS_BACKEND": "wagtail_journeys.channels.http_sms.HttpSmsBackend",
        "SMS_FROM": "Shop",
        "SMS_HTTP_URL": f"{provider.url}/v1/sms",
        "SMS_HTTP_TOKEN": HTTP_TOKEN,
    }
    return settings


def test_http_posts_json_with_the_bearer_token(http_settings, provider):
    provider.answer_always(202, {"id": 9876, "status": "accepted"})

    result = get_sms_backend().send(SMS)

    assert (result.provider_id, result.status) == ("9876", "accepted")
    request = provider.requests[0]
    assert request.path == "/v1/sms"
    assert request.headers["Authorization"] == f"Bearer {HTTP_TOKEN}"
    assert request.headers["Content-Type"] == "application/json"
    assert request.json() == {
        "to": SMS.to,
        "from": "Shop",
        "body": SMS.body,
        "message_id": 42,
        "status_callback": SMS.status_callback,
    }


def test_http_accepts_an_answer_without_an_id(http_settings, provider):
    provider.answer_always(200, "OK")

    result = HttpSmsBackend().send(SMS)

    assert result.provider_id == ""


def test_http_sends_no_authorization_without_a_token(http_settings, provider):
    del http_settings.WAGTAIL_JOURNEYS["SMS_HTTP_TOKEN"]
    provider.answer_always(200, {"id": "a1"})

    HttpSmsBackend().send(SMS)

    assert "Authorization" not in provider.requests[0].headers


def test_http_client_error_is_permanent_with_the_providers_text(http_settings, provider):
    provider.answer_always(422, {"error": "invalid number +447700900123"})

    with pytest.raises(ChannelError) as caught:
        HttpSmsBackend().send(SMS)

    assert caught.value.permanent is True
    assert "HTTP 422" in str(caught.value) and "invalid number" in str(caught.value)


@pytest.mark.parametrize("status", [500, 503, 429])
def test_http_server_errors_are_retried(http_settings, provider, status):
    provider.answer_always(status, {"error": "try later"})

    with pytest.raises(ChannelError) as caught:
        HttpSmsBackend().send(SMS)

    assert caught.value.permanent is False


def test_http_unreachable_and_timeout_are_retried(
    http_settings, provider, closed_port_url, monkeypatch
):
    monkeypatch.setattr(HttpSmsBackend, "timeout", 0.2)
    provider.answer_always(200, {"id": "late"}, delay=1)
    with pytest.raises(ChannelError) as timed_out:
        HttpSmsBackend().send(SMS)
    http_settings.WAGTAIL_JOURNEYS["SMS_HTTP_URL"] = f"{closed_port_url}/v1/sms"
    with pytest.raises(ChannelError) as refused:
        HttpSmsBackend().send(SMS)

    assert timed_out.value.permanent is False
    assert refused.value.permanent is False


def test_http_names_the_missing_url(settings):
    settings.WAGTAIL_JOURNEYS = {"SMS_BACKEND": "wagtail_journeys.channels.http_sms.HttpSmsBackend"}

    with pytest.raises(ConfigurationError, match=r'WAGTAIL_JOURNEYS\["SMS_HTTP_URL"\]'):
        get_sms_backend()
