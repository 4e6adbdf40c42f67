"""Web push opt-in in a real browser: no prompt on load, a prompt on click, the subscription stored.

Headless Chromium cannot reach a real push service here, so the init script
stands in for ``PushManager.subscribe``; everything else (the tag, tracker.js,
the service worker's registration with scope "/", the POST) is real.
"""

import base64
import json
import os
import time

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.http import HttpResponse
from django.template import RequestContext, Template
from django.urls import path

from tests import urls as test_urls
from tests.browser_helpers import close_and_settle
from wagtail_journeys.channels.webpush import generate_vapid_keys
from wagtail_journeys.models import Event, PushSubscription

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.urls(__name__),
]

PAGE = Template(
    "{% load wagtail_journeys_tags %}<!doctype html><html><head><title>Offers</title></head>"
    '<body><h1>Offers</h1>{% journeys_push_button "Tell me about offers" %}'
    "{% journeys_tracker %}</body></html>"
)


def offers_page(request):
    return HttpResponse(PAGE.render(RequestContext(request)))


urlpatterns = [path("offers/", offers_page), *test_urls.urlpatterns]

ENDPOINT = "https://push.example.test/send/abc123"


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def stub_script() -> str:
    public = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint)
    )
    subscription = {
        "endpoint": ENDPOINT,
        "expirationTime": None,
        "keys": {"p256dh": b64url(public), "auth": b64url(os.urandom(16))},
    }
    return """
    window.__permissionRequests = 0;
    if (window.Notification) {
      const ask = Notification.requestPermission.bind(Notification);
      Notification.requestPermission = function (callback) {
        window.__permissionRequests += 1;
        return ask(callback);
      };
    }
    if (window.PushManager) {
      PushManager.prototype.getSubscription = async function () { return null; };
      PushManager.prototype.subscribe = async function (options) {
        window.__subscribeOptions = {
          userVisibleOnly: options.userVisibleOnly,
          keyBytes: new Uint8Array(options.applicationServerKey).length,
        };
        const data = SUBSCRIPTION;
        return { endpoint: data.endpoint, toJSON: () => data };
      };
    }
    """.replace("SUBSCRIPTION", json.dumps(subscription))


def wait_for(query, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = query()
        if found:
            return found
        time.sleep(0.2)
    raise AssertionError(f"nothing within {timeout} s")


def test_permission_is_asked_only_on_click_and_the_subscription_arrives(
    chromium, live_server, settings
):
    public_key, private_key = generate_vapid_keys()
    settings.WAGTAIL_JOURNEYS = {
        "VAPID_PUBLIC_KEY": public_key,
        "VAPID_PRIVATE_KEY": private_key,
        "VAPID_SUBJECT": "mailto:push@example.com",
    }
    context = chromium.new_context(base_url=live_server.url)
    context.grant_permissions(["notifications"])
    context.add_init_script(stub_script())
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto("/offers/")
        button = page.locator("[data-journeys-push-button]")
        button.wait_for(state="visible")  # tracker.js shows it where push works
        page.wait_for_timeout(500)
        assert page.evaluate("window.__permissionRequests") == 0
        assert page.evaluate("window.journeys.push.supported") is True
        assert not PushSubscription.objects.exists()

        button.click()
        page.wait_for_selector("[data-journeys-push-button][data-journeys-push-state=subscribed]")

        assert page.evaluate("window.__permissionRequests") == 1
        assert page.evaluate("window.__subscribeOptions") == {
            "userVisibleOnly": True,
            "keyBytes": 65,
        }
        scope = page.evaluate(
            "navigator.serviceWorker.getRegistration('/').then(r => r && r.scope)"
        )
        assert scope == f"{live_server.url}/"
        subscription = wait_for(lambda: PushSubscription.objects.filter(endpoint=ENDPOINT).first())
        assert subscription.active
        assert subscription.contact.consent["push"] is True
        assert Event.objects.filter(contact=subscription.contact, name="push_subscribed").exists()
        assert errors == []
    finally:
        close_and_settle(context)


def test_without_a_vapid_key_there_is_no_button_and_no_error(chromium, live_server):
    context = chromium.new_context(base_url=live_server.url)
    context.add_init_script(stub_script())
    page = context.new_page()
    errors = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    try:
        page.goto("/offers/")
        page.wait_for_function("window.journeys !== undefined")
        assert page.locator("[data-journeys-push-button]").count() == 0
        assert page.evaluate("window.journeys.push.supported") is False
        assert page.evaluate("window.journeys.push.subscribe()") == "unsupported"
        assert page.evaluate("window.__permissionRequests") == 0
        assert errors == []
    finally:
        close_and_settle(context)
