"""Web push: sending through pywebpush to a local push service, subscribing, clicks."""

from __future__ import annotations

import base64
import json
import os
import socket
import sys
from io import StringIO

import http_ece
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core import signing
from django.core.management import call_command
from py_vapid import Vapid

from tests.factories import ContactFactory
from tests.loopback import Answer, loopback_fixture
from wagtail_journeys.channels.base import OutboundPush, get_push_backend
from wagtail_journeys.channels.push_links import push_click_url
from wagtail_journeys.channels.webpush import WebPushBackend, generate_vapid_keys
from wagtail_journeys.email import links
from wagtail_journeys.exceptions import (
    ChannelError,
    ConfigurationError,
    MissingExtraError,
    PushSubscriptionGone,
)
from wagtail_journeys.models import (
    ConsentRecord,
    Contact,
    DailyStat,
    Event,
    Message,
    MessageEvent,
    PushSubscription,
)
from wagtail_journeys.tracking.visitors import COOKIE_SALT

ORIGIN = "http://testserver"
SUBSCRIBE = "/journeys/push/subscribe/"
UNSUBSCRIBE = "/journeys/push/unsubscribe/"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def b64url_decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


@pytest.fixture
def vapid(settings):
    public_key, private_key = generate_vapid_keys()
    settings.WAGTAIL_JOURNEYS = {
        "PUSH_BACKEND": "wagtail_journeys.channels.webpush.WebPushBackend",
        "VAPID_PUBLIC_KEY": public_key,
        "VAPID_PRIVATE_KEY": private_key,
        "VAPID_SUBJECT": "mailto:push@example.com",
    }
    return public_key


class Browser:
    """A subscriber's keys, as a browser makes them: an ECDH P-256 pair and an auth secret."""

    def __init__(self, endpoint: str):
        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.auth = os.urandom(16)
        public = self.private_key.public_key().public_bytes(
            serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
        )
        self.subscription = {
            "endpoint": endpoint,
            "keys": {"p256dh": b64url(public), "auth": b64url(self.auth)},
        }

    def decrypt(self, body: bytes) -> dict:
        plain = http_ece.decrypt(
            body, private_key=self.private_key, auth_secret=self.auth, version="aes128gcm"
        )
        return json.loads(plain)


# A push service on 127.0.0.1; it accepts a message as a real one does, with its address.
push_service = loopback_fixture(Answer(201, headers={"Location": "https://push.example/m/1"}))


def outbound(browser: Browser, **overrides) -> OutboundPush:
    values = {
        "message_id": 42,
        "subscription": browser.subscription,
        "title": "Your cart misses you",
        "body": "The lamp is still there, Ada.",
        "url": "https://shop.example.com/journeys/push/c/abc/",
        "icon": "https://shop.example.com/static/icon.png",
    }
    return OutboundPush(**{**values, **overrides})


# Sending


def test_sends_an_encrypted_signed_notification(vapid, push_service):
    browser = Browser(f"{push_service.url}/wpush/v2/abc")

    result = get_push_backend().send(outbound(browser))

    assert result.status == "201"
    assert result.provider_id == "https://push.example/m/1"
    (request,) = push_service.requests
    assert request.path == "/wpush/v2/abc"
    headers = request.headers
    assert headers["content-encoding"] == "aes128gcm"
    assert headers["ttl"] == str(24 * 60 * 60)
    scheme, params = headers["authorization"].split(" ", 1)
    assert scheme == "vapid"
    parts = dict(part.split("=", 1) for part in params.split(","))
    assert set(parts) == {"t", "k"}
    assert parts["k"] == vapid
    assert Vapid.verify(headers["authorization"])
    claims = json.loads(b64url_decode(parts["t"].split(".")[1]))
    assert claims["sub"] == "mailto:push@example.com"
    assert claims["aud"] == push_service.url
    # The body is really encrypted for this browser: only its private key opens it.
    assert b"Your cart" not in request.body
    assert browser.decrypt(request.body) == {
        "title": "Your cart misses you",
        "body": "The lamp is still there, Ada.",
        "url": "https://shop.example.com/journeys/push/c/abc/",
        "icon": "https://shop.example.com/static/icon.png",
        "message_id": 42,
    }


@pytest.mark.parametrize("status", [404, 410])
def test_a_gone_subscription_raises_push_subscription_gone(vapid, push_service, status):
    push_service.answer_always(status)
    with pytest.raises(PushSubscriptionGone) as caught:
        WebPushBackend().send(outbound(Browser(f"{push_service.url}/gone")))
    assert caught.value.permanent


@pytest.mark.parametrize("status", [400, 413])
def test_a_refused_message_is_a_permanent_error(vapid, push_service, status):
    push_service.answer_always(status)
    with pytest.raises(ChannelError) as caught:
        WebPushBackend().send(outbound(Browser(f"{push_service.url}/x")))
    assert caught.value.permanent
    assert not isinstance(caught.value, PushSubscriptionGone)


@pytest.mark.parametrize("status", [429, 500, 503])
def test_a_busy_or_failing_push_service_is_retried(vapid, push_service, status):
    push_service.answer_always(status, headers={"Retry-After": "120"})
    with pytest.raises(ChannelError) as caught:
        WebPushBackend().send(outbound(Browser(f"{push_service.url}/x")))
    assert not caught.value.permanent
    assert str(status) in str(caught.value)


def test_an_unreachable_push_service_is_retried(vapid):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # Nothing listens on the port any more: the connection is refused.
    with pytest.raises(ChannelError) as caught:
        WebPushBackend().send(outbound(Browser(f"http://127.0.0.1:{port}/x")))
    assert not caught.value.permanent


def test_missing_pywebpush_names_the_extra(vapid, monkeypatch):
    monkeypatch.setitem(sys.modules, "pywebpush", None)
    with pytest.raises(MissingExtraError, match=r'pip install "wagtail-journeys\[push\]"'):
        WebPushBackend()


@pytest.mark.parametrize(
    ("missing", "setting"),
    [("VAPID_PRIVATE_KEY", "VAPID_PRIVATE_KEY"), ("VAPID_SUBJECT", "VAPID_SUBJECT")],
)
def test_missing_vapid_settings_name_the_key(vapid, settings, missing, setting):
    settings.WAGTAIL_JOURNEYS = {**settings.WAGTAIL_JOURNEYS, missing: None}
    with pytest.raises(ConfigurationError, match=setting):
        WebPushBackend()


def test_a_subject_that_is_not_mailto_or_https_is_refused(vapid, settings):
    settings.WAGTAIL_JOURNEYS = {**settings.WAGTAIL_JOURNEYS, "VAPID_SUBJECT": "push@example.com"}
    with pytest.raises(ConfigurationError, match="VAPID_SUBJECT"):
        WebPushBackend()


def test_journeys_vapid_keys_prints_a_matching_pair():
    out = StringIO()
    call_command("journeys_vapid_keys", "--subject", "https://shop.example.com", stdout=out)
    namespace: dict = {}
    exec(out.getvalue(), namespace)  # the output is Python to paste into settings
    config = namespace["WAGTAIL_JOURNEYS"]
    public = b64url_decode(config["VAPID_PUBLIC_KEY"])
    private = b64url_decode(config["VAPID_PRIVATE_KEY"])
    assert len(public) == 65 and public[0] == 4
    assert len(private) == 32
    derived = Vapid.from_string(config["VAPID_PRIVATE_KEY"]).public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    assert derived == public
    assert config["VAPID_SUBJECT"] == "https://shop.example.com"
    assert config["PUSH_BACKEND"] == "wagtail_journeys.channels.webpush.WebPushBackend"


# Subscribing


def subscription_json(endpoint="https://fcm.googleapis.com/fcm/send/abc:123", **keys):
    browser_keys = Browser(endpoint).subscription["keys"]
    return {"endpoint": endpoint, "expirationTime": None, "keys": {**browser_keys, **keys}}


def post(client, url, data, **extra):
    body = data if isinstance(data, str | bytes) else json.dumps(data)
    return client.post(url, body, content_type="application/json", HTTP_ORIGIN=ORIGIN, **extra)


def as_visitor(client, contact):
    client.cookies["journeys_visitor"] = signing.get_cookie_signer(
        salt="journeys_visitor" + COOKIE_SALT
    ).sign(str(contact.pk))


@pytest.mark.django_db
def test_subscribing_stores_the_browser_and_the_consent(client):
    data = subscription_json()

    response = post(client, SUBSCRIBE, data, HTTP_USER_AGENT="Mozilla/5.0 (X11) Firefox/128.0")

    assert response.status_code == 201
    assert response.json() == {"subscribed": True}
    subscription = PushSubscription.objects.get()
    assert subscription.as_webpush() == {"endpoint": data["endpoint"], "keys": data["keys"]}
    assert subscription.active
    assert subscription.user_agent == "Mozilla/5.0 (X11) Firefox/128.0"
    contact = subscription.contact
    assert contact.consent["push"] is True
    record = ConsentRecord.objects.get(contact=contact)
    assert (record.channel, record.granted, record.ip_address) == ("push", True, "127.0.0.1")
    event = Event.objects.get(contact=contact, name="push_subscribed")
    assert event.properties == {"subscription_id": subscription.pk}
    # The new visitor got their cookie, so later page views are theirs.
    assert "journeys_visitor" in response.cookies


@pytest.mark.django_db
def test_subscribing_again_is_idempotent(client):
    data = subscription_json()
    assert post(client, SUBSCRIBE, data).status_code == 201

    response = post(client, SUBSCRIBE, data)

    assert response.status_code == 200
    assert PushSubscription.objects.count() == 1
    assert ConsentRecord.objects.count() == 1
    assert Event.objects.filter(name="push_subscribed").count() == 1


@pytest.mark.django_db
def test_subscribing_belongs_to_the_visitors_contact(client):
    contact = ContactFactory()
    as_visitor(client, contact)

    assert post(client, SUBSCRIBE, subscription_json()).status_code == 201

    assert PushSubscription.objects.get().contact == contact
    assert Contact.objects.count() == 1


@pytest.mark.django_db
def test_new_keys_for_a_known_endpoint_replace_the_old_ones(client):
    assert post(client, SUBSCRIBE, subscription_json()).status_code == 201
    fresh = subscription_json()

    assert post(client, SUBSCRIBE, fresh).status_code == 201

    subscription = PushSubscription.objects.get()
    assert subscription.p256dh == fresh["keys"]["p256dh"]
    assert subscription.auth == fresh["keys"]["auth"]


GOOD_P256DH = subscription_json()["keys"]["p256dh"]


@pytest.mark.parametrize(
    ("body", "error"),
    [
        ("{not json", "not JSON"),
        ("[]", "JSON object"),
        ({"endpoint": "https://push.example.com/x"}, "keys"),
        (subscription_json(endpoint="http://push.example.com/x"), "https://"),
        (subscription_json(endpoint="https://10.0.0.5/x"), "push service"),
        (subscription_json(endpoint="https://127.0.0.1:8000/x"), "push service"),
        (subscription_json(endpoint="https://localhost/x"), "push service"),
        (subscription_json(endpoint="https://intranet/x"), "push service"),
        (subscription_json(endpoint="javascript:alert(1)"), "URL"),
        (subscription_json(endpoint="https://push.example.com/" + "a" * 1000), "longer"),
        (subscription_json(endpoint=12), "URL"),
        (subscription_json(p256dh="not base64!"), "base64url"),
        (subscription_json(p256dh="+/" + GOOD_P256DH[2:]), "base64url"),
        (subscription_json(p256dh=b64url(b"\x04" * 20)), "65 bytes"),
        (subscription_json(auth=b64url(b"short")), "16 bytes"),
        (subscription_json(auth=None), "auth"),
        ("x" * 5000, "larger"),
    ],
)
@pytest.mark.django_db
def test_invalid_subscriptions_are_refused_with_a_reason(client, body, error):
    response = post(client, SUBSCRIBE, body)

    assert response.status_code == 400
    assert error in response.json()["error"]
    assert not PushSubscription.objects.exists()
    assert not ConsentRecord.objects.exists()


@pytest.mark.django_db
def test_a_local_push_service_is_allowed_only_with_debug(client, settings):
    data = subscription_json(endpoint="http://localhost:8080/push/1")
    assert post(client, SUBSCRIBE, data).status_code == 400

    settings.DEBUG = True
    assert post(client, SUBSCRIBE, data).status_code == 201


@pytest.mark.django_db
def test_without_tracking_consent_nothing_is_stored(client, settings):
    settings.WAGTAIL_JOURNEYS = {"CONSENT_MODE": "consent_cookie"}

    response = post(client, SUBSCRIBE, subscription_json())

    assert response.status_code == 403
    assert "error" in response.json()
    assert not Contact.objects.exists()
    assert not PushSubscription.objects.exists()

    client.cookies["journeys_consent"] = "yes"
    assert post(client, SUBSCRIBE, subscription_json()).status_code == 201


@pytest.mark.django_db
def test_another_origin_cannot_subscribe(client):
    response = client.post(
        SUBSCRIBE,
        json.dumps(subscription_json()),
        content_type="application/json",
        HTTP_ORIGIN="https://evil.example",
    )
    assert response.status_code == 403
    assert not PushSubscription.objects.exists()


@pytest.mark.django_db
def test_subscribe_takes_only_post(client):
    assert client.get(SUBSCRIBE).status_code == 405


@pytest.mark.django_db
def test_unsubscribing_switches_the_browser_off(client):
    data = subscription_json()
    post(client, SUBSCRIBE, data)

    response = post(client, UNSUBSCRIBE, {"endpoint": data["endpoint"]})

    assert response.status_code == 200
    assert response.json() == {"unsubscribed": True}
    subscription = PushSubscription.objects.get()
    assert not subscription.active
    contact = subscription.contact
    contact.refresh_from_db()
    assert contact.consent["push"] is False
    assert list(ConsentRecord.objects.order_by("pk").values_list("granted", flat=True)) == [
        True,
        False,
    ]
    event = Event.objects.get(name="push_unsubscribed")
    assert event.properties == {"subscription_id": subscription.pk}
    # Once is enough.
    assert post(client, UNSUBSCRIBE, {"endpoint": data["endpoint"]}).json() == {
        "unsubscribed": False
    }


@pytest.mark.django_db
def test_nobody_unsubscribes_another_visitors_browser(client):
    data = subscription_json()
    post(client, SUBSCRIBE, data)
    client.cookies.clear()

    response = post(client, UNSUBSCRIBE, {"endpoint": data["endpoint"]})
    assert response.json() == {"unsubscribed": False}

    as_visitor(client, ContactFactory())
    assert post(client, UNSUBSCRIBE, {"endpoint": data["endpoint"]}).json() == {
        "unsubscribed": False
    }
    assert PushSubscription.objects.get().active


@pytest.mark.django_db
def test_unsubscribe_refuses_bad_input(client):
    assert post(client, UNSUBSCRIBE, "nope").status_code == 400
    assert post(client, UNSUBSCRIBE, {"endpoint": 3}).status_code == 400


# The service worker


@pytest.mark.django_db
def test_the_service_worker_may_control_the_whole_site(client):
    response = client.get("/journeys/push/sw.js")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/javascript")
    assert response["Service-Worker-Allowed"] == "/"
    script = response.content.decode()
    assert 'addEventListener("push"' in script
    assert "showNotification" in script
    assert 'addEventListener("notificationclick"' in script
    assert "openWindow" in script
    assert '"/journeys/push/subscribe/"' in script


# Tracker configuration


@pytest.mark.django_db
def test_the_tracker_gets_the_push_config_only_with_a_vapid_key(client, simple_page, settings):
    html = client.get(simple_page.url).content.decode()
    assert "data-journeys-push-key" not in html

    settings.WAGTAIL_JOURNEYS = {"VAPID_PUBLIC_KEY": "BPublicKey"}
    html = client.get(simple_page.url).content.decode()
    assert 'data-journeys-push-key="BPublicKey"' in html
    assert 'data-journeys-push-subscribe="/journeys/push/subscribe/"' in html
    assert 'data-journeys-push-worker="/journeys/push/sw.js"' in html


@pytest.mark.django_db
def test_the_push_button_renders_hidden_only_with_a_vapid_key(rf, settings):
    from django.template import Context, Template

    template = Template(
        '{% load wagtail_journeys_tags %}{% journeys_push_button "Notify me" css_class="btn" %}'
    )
    request = rf.get("/", HTTP_USER_AGENT="Mozilla/5.0 (X11) Firefox/128.0")
    assert template.render(Context({"request": request})).strip() == ""

    settings.WAGTAIL_JOURNEYS = {"VAPID_PUBLIC_KEY": "BPublicKey"}
    html = template.render(Context({"request": request}))
    assert html == (
        '<button type="button" data-journeys-push-button class="btn" hidden>Notify me</button>'
    )

    bot = rf.get("/", HTTP_USER_AGENT="Googlebot/2.1")
    assert template.render(Context({"request": bot})).strip() == ""


# Clicks


@pytest.fixture
def push_message(db):
    contact = ContactFactory()
    return Message.objects.create(
        contact=contact,
        channel=Message.Channel.PUSH,
        idempotency_key="push-test-1",
        step_id="notify",
        status=Message.Status.SENT,
        links=["https://shop.example.com/lamps/?utm_source=push"],
    )


def path_of(url: str) -> str:
    return url.removeprefix(links.base_url())


def test_push_click_url_is_absolute():
    message = Message(pk=7)
    assert push_click_url(message, base="https://shop.example.com").startswith(
        "https://shop.example.com/journeys/push/c/"
    )


def test_a_click_redirects_to_the_stored_url_and_counts(client, push_message):
    target = push_message.links[0]
    url = path_of(push_click_url(push_message))

    response = client.get(url, HTTP_USER_AGENT="Mozilla/5.0 (Android) Chrome/126.0")

    assert response.status_code == 302
    assert response["Location"] == target
    click = MessageEvent.objects.get(message=push_message)
    assert (click.kind, click.url, click.machine) == ("clicked", target, False)
    push_message.refresh_from_db()
    first_clicked_at = push_message.first_clicked_at
    assert first_clicked_at is not None
    event = Event.objects.get(name="push_clicked")
    assert event.contact == push_message.contact
    assert event.properties == {"message_id": push_message.pk, "step_id": "notify", "url": target}
    push_message.contact.refresh_from_db()
    assert push_message.contact.last_engaged_at is not None

    client.get(url, HTTP_USER_AGENT="Mozilla/5.0 (Android) Chrome/126.0")

    # Every hit is a click; only the first is the message's first click.
    assert MessageEvent.objects.filter(message=push_message, kind="clicked").count() == 2
    assert Event.objects.filter(name="push_clicked").count() == 2
    push_message.refresh_from_db()
    assert push_message.first_clicked_at == first_clicked_at
    stats = dict(DailyStat.objects.values_list("metric", "count"))
    # Counted as push, apart from email's clicks.
    assert stats["push_clicks"] == 2
    assert stats["push_clicked"] == 1


def test_a_head_request_redirects_without_counting(client, push_message):
    response = client.head(path_of(push_click_url(push_message)))
    assert response.status_code == 302
    assert not MessageEvent.objects.exists()


@pytest.mark.parametrize(
    "token",
    [
        "forged",
        signing.dumps([1], salt="wagtail_journeys.email.click"),
        signing.dumps(["1"], salt="wagtail_journeys.push.click"),
    ],
)
def test_a_bad_token_is_a_404(client, push_message, token):
    response = client.get(f"/journeys/push/c/{token}/")
    assert response.status_code == 404
    assert not MessageEvent.objects.exists()


def test_an_expired_token_is_a_404(client, push_message, settings):
    url = path_of(push_click_url(push_message))
    settings.WAGTAIL_JOURNEYS = {"LINK_MAX_AGE": -1}
    assert client.get(url).status_code == 404


@pytest.mark.parametrize("stored", [[], ["javascript:alert(1)"], [None], {"0": "x"}])
def test_only_a_stored_web_url_is_a_target(client, push_message, stored):
    push_message.links = stored
    push_message.save(update_fields=["links"])
    assert client.get(path_of(push_click_url(push_message))).status_code == 404


def test_an_email_message_has_no_push_click(client, push_message):
    push_message.channel = Message.Channel.EMAIL
    push_message.save(update_fields=["channel"])
    assert client.get(path_of(push_click_url(push_message))).status_code == 404
