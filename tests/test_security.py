"""Security: the attacks of docs/security.md, tried against the endpoints and the admin.

Much is already tested next to the feature it protects; this file adds what was
missing and does not repeat those tests:

- Click redirect: an altered token, an index outside the message's links, a
  stored ``javascript:`` link, another message's links, an expired token, a
  deleted message (test_email_tracking.py); push click: bad, other-salt and
  expired tokens, non-web targets, a non-push message (test_push.py).
- Open pixel: garbage, altered and other-purpose tokens (test_email_tracking.py).
- Unsubscribe, preferences, confirm: bad and other-purpose tokens, an expired
  confirmation (test_consent.py).
- Webhooks: Anymail basic auth wrong or missing, Mailgun's signature
  (test_email_webhooks.py); Twilio's ``X-Twilio-Signature`` unsigned, another
  token, altered fields, the public URL, no token set (test_sms_webhooks.py);
  the journey webhook step's HMAC signature (test_journey_webhooks.py).
- CSRF: the preference centre form, the unsubscribe page's own form and the
  confirm button need the token; RFC 8058 one-click needs none (test_consent.py).
- Escaping: merge values in the HTML and text parts of an email
  (test_email_rendering.py), editor text in the flow diagram
  (test_journey_flow.py), a journey's name in the reports and the dashboard
  (test_reports_admin.py).
- Permissions: export and erasure (test_gdpr.py, test_contact_admin.py), the
  message pages (test_message_admin.py), the "why" page
  (test_journey_explain.py), the reports (test_reports_admin.py), the simulator
  (test_journey_admin.py).
- Rate limit of the beacon endpoint per visitor (test_beacon.py).
- Visitor cookie: signed, HttpOnly, SameSite=Lax, Secure over HTTPS, a forged
  one ignored (test_page_views.py).

Three tests here found vulnerabilities, since fixed: numeric IPv4 forms as push
endpoints (SSRF), signed cart links listed whole in the links report, and the
simulator showing real contacts to editors without the contact permission.
"""

import base64
import json
import time
from datetime import timedelta

import pytest
from django.core import signing
from django.core.cache import cache
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.admin_helpers import client_for
from tests.factories import ContactFactory
from tests.journey_helpers import email_template, subscribed
from wagtail_journeys.channels.push_links import CLICK_SALT, push_click_url
from wagtail_journeys.email import links, tokens
from wagtail_journeys.journeys.building import block, new_journey
from wagtail_journeys.models import (
    Cart,
    ConsentRecord,
    Contact,
    Event,
    Message,
    MessageEvent,
    PushSubscription,
    Segment,
)
from wagtail_journeys.segments.conditions import matching
from wagtail_journeys.views.carts import restore_cart_url

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("journeys_mail")]

BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"
BROWSER = {"HTTP_USER_AGENT": BROWSER_UA}
ONE_CLICK = {"List-Unsubscribe": "One-Click"}
DAY = 60 * 60 * 24
XSS = "<script>alert(1)</script>"
JOURNEY_EDITOR = ("add_journey", "change_journey", "view_journey", "publish_journey")


@pytest.fixture(autouse=True)
def clear_rate_limits():
    cache.clear()


def path_of(url):
    return "/" + url.split("/", 3)[3]


def make_message(contact=None, **fields):
    values = {
        "status": Message.Status.SENT,
        "to_email": "ada@example.com",
        "subject": "Your cart",
        "links": ["https://shop.example.com/products/lamp/"],
        "sent_at": timezone.now() - timedelta(hours=1),
        **fields,
    }
    return Message.objects.create(
        contact=contact if contact is not None else subscribed(),
        idempotency_key=f"security:{Message.objects.count()}",
        **values,
    )


class _PastSigner(signing.TimestampSigner):
    """Signs as ``signing.dumps`` does, but dated ``at`` (a Unix time) instead of now."""

    def __init__(self, *, at, **kwargs):
        super().__init__(**kwargs)
        self.at = at

    def timestamp(self):
        return signing.b62_encode(int(self.at))


def old_token(salt, values, age):
    """A genuine token of ours, made ``age`` seconds ago: no clock is mocked."""
    return _PastSigner(salt=salt, at=time.time() - age).sign_object(list(values))


def salt_of(purpose):
    return f"wagtail_journeys.email.{purpose}"


# 1. No open redirect


@pytest.mark.parametrize("purpose", [tokens.OPEN, tokens.UNSUBSCRIBE, tokens.PREFERENCES])
def test_a_click_refuses_a_valid_token_of_another_purpose(client, purpose):
    message = make_message()
    token = tokens.make_token(purpose, message.pk)
    response = client.get(f"/journeys/c/{token}/0/", **BROWSER)
    assert response.status_code == 400
    assert "Location" not in response
    assert not MessageEvent.objects.exists()


def test_a_push_click_token_is_no_email_click_token(client):
    message = make_message()
    token = signing.dumps([message.pk], salt=CLICK_SALT)
    assert client.get(f"/journeys/c/{token}/0/", **BROWSER).status_code == 400


def test_a_click_token_cannot_carry_its_own_target(client):
    # Neither a token we signed with more values, nor our signature on an
    # edited payload naming a URL, leads anywhere.
    message = make_message()
    longer = tokens.make_token(tokens.CLICK, message.pk, "https://evil.example/")
    payload, stamp, signature = tokens.make_token(tokens.CLICK, message.pk).split(":")
    edited = base64.urlsafe_b64encode(b'["https://evil.example/"]').decode().rstrip("=")
    for token in (longer, f"{edited}:{stamp}:{signature}"):
        response = client.get(f"/journeys/c/{token}/0/", **BROWSER)
        assert response.status_code == 400
        assert "Location" not in response


@pytest.mark.parametrize(
    "stored",
    [
        "//evil.example/",
        "/\\evil.example/",
        " https://evil.example/",
        "data:text/html,<script>alert(1)</script>",
        "JAVASCRIPT:alert(1)",
    ],
)
def test_a_click_never_leads_to_an_edited_link_that_is_not_a_web_url(client, stored):
    message = make_message(links=[stored])
    response = client.get(path_of(links.click_url(message.pk, 0)), **BROWSER)
    assert response.status_code == 400
    assert "Location" not in response


def test_a_negative_index_matches_no_url(client):
    message = make_message()
    token = tokens.make_token(tokens.CLICK, message.pk)
    response = client.get(f"/journeys/c/{token}/-1/", **BROWSER)
    assert response.status_code == 404
    assert "Location" not in response


@pytest.mark.parametrize("stored", ["//evil.example/", "/\\evil.example/", "ftp://evil.example/"])
def test_a_push_click_never_leads_to_a_stored_link_that_is_not_a_web_url(client, stored):
    message = make_message(channel=Message.Channel.PUSH, links=[stored])
    response = client.get(path_of(push_click_url(message)), **BROWSER)
    assert response.status_code == 404
    assert "Location" not in response


# 2. Forged and expired tokens, everywhere


@pytest.fixture
def targets():
    """Something for each kind of link to point at, and what following it would change."""
    contact = subscribed()
    return {
        "contact": contact,
        "message": make_message(contact),
        "push": make_message(contact, channel=Message.Channel.PUSH),
        "cart": Cart.objects.create(contact=contact, status=Cart.Status.ABANDONED, currency="EUR"),
    }


#: name → (salt, the values it signs, the request, the max-age setting)
LINKS = {
    "open": (salt_of(tokens.OPEN), "message", "get", "/journeys/o/{}/", "LINK_MAX_AGE"),
    "click": (salt_of(tokens.CLICK), "message", "get", "/journeys/c/{}/0/", "LINK_MAX_AGE"),
    "unsubscribe": (
        salt_of(tokens.UNSUBSCRIBE),
        "message",
        "one_click",
        "/journeys/u/{}/",
        "LINK_MAX_AGE",
    ),
    "preferences": (
        salt_of(tokens.PREFERENCES),
        "contact",
        "get",
        "/journeys/p/{}/",
        "LINK_MAX_AGE",
    ),
    "confirm": (
        salt_of(tokens.CONFIRM),
        "confirm",
        "post",
        "/journeys/confirm/{}/",
        "CONFIRMATION_MAX_AGE",
    ),
    "restore_cart": (salt_of(tokens.CART), "cart", "get", "/journeys/cart/{}/", "LINK_MAX_AGE"),
    "push_click": (CLICK_SALT, "push", "get", "/journeys/push/c/{}/", "LINK_MAX_AGE"),
}


def _values(targets, kind):
    if kind == "confirm":
        return [targets["contact"].pk, None]
    return [targets[kind].pk]


def _follow(client, name, token):
    _salt, _kind, method, pattern, _setting = LINKS[name]
    path = pattern.format(token)
    if method == "one_click":
        return client.post(path, ONE_CLICK, **BROWSER)
    return getattr(client, method)(path, **BROWSER)


def _assert_refused(name, response, targets):
    if name == "open":
        # The pixel answers with its image whatever happens.
        assert response.status_code == 200 and response["Content-Type"] == "image/gif"
    elif name == "push_click":
        assert response.status_code == 404
    else:
        assert response.status_code == 400
    assert "Location" not in response
    assert "journeys_visitor" not in response.cookies
    assert not MessageEvent.objects.exists()
    assert not ConsentRecord.objects.exists()
    targets["cart"].refresh_from_db()
    assert targets["cart"].status == Cart.Status.ABANDONED
    targets["contact"].refresh_from_db()
    assert targets["contact"].status == Contact.Status.SUBSCRIBED


@pytest.mark.parametrize("name", LINKS)
def test_a_token_signed_with_another_key_is_refused(client, targets, name):
    salt, kind, *_ = LINKS[name]
    forged = signing.dumps(_values(targets, kind), key="not-our-secret-key", salt=salt)
    _assert_refused(name, _follow(client, name, forged), targets)


@pytest.mark.parametrize("name", LINKS)
def test_a_token_older_than_its_max_age_is_refused(client, settings, targets, name):
    salt, kind, _method, _pattern, setting = LINKS[name]
    settings.WAGTAIL_JOURNEYS = {"BASE_URL": "https://shop.example.com", setting: 30 * DAY}
    token = old_token(salt, _values(targets, kind), age=31 * DAY)
    _assert_refused(name, _follow(client, name, token), targets)


@pytest.mark.parametrize("name", LINKS)
def test_a_token_younger_than_its_max_age_still_works(client, settings, targets, name):
    salt, kind, _method, _pattern, setting = LINKS[name]
    settings.WAGTAIL_JOURNEYS = {"BASE_URL": "https://shop.example.com", setting: 30 * DAY}
    token = old_token(salt, _values(targets, kind), age=29 * DAY)
    response = _follow(client, name, token)
    assert response.status_code in (200, 302)


def test_a_confirmation_expires_long_before_other_links_by_default(client, targets):
    # CONFIRMATION_MAX_AGE (7 days) and LINK_MAX_AGE (a year) are separate.
    contact = targets["contact"]
    eight_days = 8 * DAY
    confirm = old_token(salt_of(tokens.CONFIRM), [contact.pk, None], age=eight_days)
    preferences = old_token(salt_of(tokens.PREFERENCES), [contact.pk], age=eight_days)
    response = client.post(f"/journeys/confirm/{confirm}/")
    assert response.status_code == 400
    assert b"expired" in response.content
    assert client.get(f"/journeys/p/{preferences}/").status_code == 200
    year = old_token(salt_of(tokens.PREFERENCES), [contact.pk], age=366 * DAY)
    assert client.get(f"/journeys/p/{year}/").status_code == 400


@pytest.mark.parametrize("purpose", [tokens.OPEN, tokens.CLICK, tokens.PREFERENCES])
def test_restore_cart_refuses_tokens_of_other_purposes(client, targets, purpose):
    token = tokens.make_token(purpose, targets["cart"].pk)
    _assert_refused("restore_cart", client.get(f"/journeys/cart/{token}/"), targets)


# 4. CSRF


def test_unsubscribe_from_all_in_the_preference_centre_needs_the_csrf_token():
    contact = subscribed()
    csrf_client = Client(enforce_csrf_checks=True)
    path = path_of(links.preferences_url(contact.pk))
    response = csrf_client.post(path, {"unsubscribe_all": "1"})
    assert response.status_code == 403
    contact.refresh_from_db()
    assert contact.status == Contact.Status.SUBSCRIBED
    assert not ConsentRecord.objects.exists()


def test_one_click_without_csrf_still_needs_a_valid_token():
    message = make_message()
    csrf_client = Client(enforce_csrf_checks=True)
    forged = signing.dumps([message.pk], key="not-our-secret-key", salt=salt_of("unsubscribe"))
    assert csrf_client.post(f"/journeys/u/{forged}/", ONE_CLICK).status_code == 400
    good = path_of(links.unsubscribe_url(message.pk))
    assert csrf_client.post(good, ONE_CLICK).status_code == 200
    message.contact.refresh_from_db()
    assert message.contact.status == Contact.Status.UNSUBSCRIBED


# 5. Escaping in the admin


@pytest.fixture
def hostile(db):
    """A contact whose every field, event and message carries markup."""
    contact = Contact.objects.create(
        email='"<script>alert(4)</script>"@example.com',
        first_name=XSS,
        last_name='"><img src=x onerror=alert(2)>',
        status=Contact.Status.SUBSCRIBED,
        consent={"email": True},
        custom_fields={"city": "<script>alert(3)</script>"},
    )
    Event.objects.create(
        contact=contact,
        name="note_left",
        path="/p/<script>alert(5)</script>",
        properties={"note": "<script>alert(6)</script>", "<b>key</b>": "x"},
        occurred_at=timezone.now(),
    )
    make_message(contact, subject="<script>alert(7)</script>", to_email=contact.email)
    ConsentRecord.objects.create(
        contact=contact,
        channel="email",
        granted=True,
        method=ConsentRecord.Method.FORM,
        source="<script>alert(8)</script>",
    )
    return contact


def assert_escaped(response):
    assert response.status_code == 200
    content = response.content.decode()
    assert "<script>alert(" not in content
    assert "onerror=alert" not in content.replace("onerror=alert(2)&gt;", "")
    assert "<img src=x" not in content
    return content


def test_the_contact_detail_page_and_timeline_escape_everything(admin_client, hostile):
    content = assert_escaped(
        admin_client.get(reverse("journeys_contacts:inspect", args=[hostile.pk]))
    )
    # Shown as text, not dropped.
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content
    assert "&lt;script&gt;alert(6)&lt;/script&gt;" in content
    assert "&lt;script&gt;alert(7)&lt;/script&gt;" in content


def test_the_contact_listing_escapes_names_and_addresses(admin_client, hostile):
    assert_escaped(admin_client.get(reverse("journeys_contacts:index_results")))
    assert_escaped(admin_client.get(reverse("journeys_contacts:index") + "?q=alert"))


def test_the_message_log_and_message_page_escape_the_subject(admin_client, hostile):
    assert_escaped(admin_client.get(reverse("journeys_messages:index")))
    message = Message.objects.get(contact=hostile)
    content = assert_escaped(
        admin_client.get(reverse("journeys_messages:inspect", args=[message.pk]))
    )
    assert "&lt;script&gt;alert(7)&lt;/script&gt;" in content


def test_the_consent_records_escape_the_contact(admin_client, hostile):
    assert_escaped(admin_client.get(reverse("journeys_consent:index")))


def test_the_why_page_escapes_journey_names_and_event_properties(admin_client, hostile):
    new_journey(
        XSS,
        trigger=block(
            "event",
            event="note_left",
            filters=[{"key": "note", "operator": "equals", "value": "<script>alert(9)</script>"}],
        ),
        steps=[block("tag", tag="<script>alert(10)</script>")],
    )
    content = assert_escaped(
        admin_client.get(reverse("journeys_contacts:journeys", args=[hostile.pk]))
    )
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in content


def test_the_reports_escape_template_names_and_clicked_urls(admin_client, hostile):
    template = email_template(name=XSS)
    message = make_message(
        hostile,
        template=template,
        links=['https://shop.example.com/?q="><script>alert(11)</script>'],
    )
    assert client_click(message).status_code == 302
    journey = new_journey(XSS, trigger=block("manual"), steps=[block("exit")])
    for name, args in [
        ("index", []),
        ("templates", []),
        ("links", []),
        ("journey", [journey.pk]),
        ("journey_steps", [journey.pk]),
    ]:
        content = assert_escaped(admin_client.get(reverse(f"journeys_reports:{name}", args=args)))
        if name == "links":
            assert "&lt;script&gt;alert(11)&lt;/script&gt;" in content


def client_click(message, index=0):
    return Client().get(path_of(links.click_url(message.pk, index)), **BROWSER)


# 6. SQL metacharacters in segment rules


def field_rule(field, operator, value, *, custom_field="", custom_type="text"):
    return {
        "type": "field",
        "value": {
            "field": field,
            "custom_field": custom_field,
            "custom_type": custom_type,
            "operator": operator,
            "value": value,
        },
    }


def event_rule(event, filters):
    return {
        "type": "event",
        "value": {
            "event": event,
            "filters": filters,
            "comparison": "at_least",
            "count": 1,
            "period": "ever",
            "days": None,
            "start": None,
            "end": None,
        },
    }


def matched(*rules):
    """Who a dynamic segment of ``rules`` matches; saved as an editor would, validated first."""
    segment = Segment(name=f"s{Segment.objects.count()}", kind=Segment.Kind.DYNAMIC, rules=rules)
    segment.full_clean()
    segment.save()
    return matching(segment.match, segment.rules)


def last_names(*rules):
    return set(matched(*rules).values_list("last_name", flat=True))


NAMES = ["100% natural", "1000 natural", "snake_case", "snakeXcase", "back\\slash", "backslash"]
INJECTION = "' OR 1=1 --"


@pytest.fixture
def named(db):
    for name in [*NAMES, INJECTION, "O'Brien"]:
        ContactFactory(last_name=name)


@pytest.mark.parametrize(
    ("operator", "value", "expected"),
    [
        ("contains", "%", {"100% natural"}),
        ("contains", "_", {"snake_case"}),
        ("contains", "\\", {"back\\slash"}),
        ("starts_with", "%", set()),
        ("ends_with", "_case", {"snake_case"}),
        ("equals", INJECTION, {INJECTION}),
        ("contains", INJECTION, {INJECTION}),
        ("contains", "'", {INJECTION, "O'Brien"}),
        ("equals", "' OR '1'='1", set()),
        ("starts_with", "100%", {"100% natural"}),
    ],
)
def test_like_and_quote_characters_in_a_field_rule_match_literally(
    named, operator, value, expected
):
    assert last_names(field_rule("last_name", operator, value)) == expected


def test_metacharacters_in_custom_fields_and_event_properties_match_literally():
    percent = ContactFactory(custom_fields={"note": "50% off"})
    ContactFactory(custom_fields={"note": "500 off"})
    quote = ContactFactory()
    Event.objects.create(contact=quote, name="searched", properties={"q": INJECTION})
    Event.objects.create(contact=percent, name="searched", properties={"q": "anything"})
    custom = field_rule("custom", "contains", "%", custom_field="note")
    assert set(matched(custom)) == {percent}
    for operator in ("equals", "contains"):
        rule = event_rule("searched", [{"key": "q", "operator": operator, "value": INJECTION}])
        assert set(matched(rule)) == {quote}
    wildcard = event_rule("searched", [{"key": "q", "operator": "contains", "value": "_"}])
    assert not matched(wildcard).exists()


# 7. Editors without the contact permissions


@pytest.fixture
def journey_editor():
    return client_for(*JOURNEY_EDITOR)


def denied(response):
    return response.status_code == 403 or (
        response.status_code == 302 and response["Location"] == "/admin/"
    )


def test_a_journey_editor_sees_no_contact_message_or_consent_page(journey_editor, hostile):
    ada = subscribed(email="ada@example.com")
    message = make_message(ada)
    record = ConsentRecord.objects.filter(contact=hostile).get()
    gets = [
        reverse("journeys_contacts:index"),
        reverse("journeys_contacts:index_results"),
        reverse("journeys_contacts:inspect", args=[ada.pk]),
        reverse("journeys_contacts:journeys", args=[ada.pk]),
        reverse("journeys_contacts:export", args=[ada.pk]),
        reverse("journeys_contacts:erase", args=[ada.pk]),
        reverse("journeys_messages:index"),
        reverse("journeys_messages:inspect", args=[message.pk]),
        reverse("journeys_consent:index"),
        reverse("journeys_consent:inspect", args=[record.pk]),
    ]
    for url in gets:
        response = journey_editor.get(url)
        assert denied(response), url
        assert b"ada@example.com" not in response.content
    posts = [
        reverse("journeys_contacts:erase", args=[ada.pk]),
        reverse("journeys_contacts:unsubscribe", args=[ada.pk]),
        reverse("journeys_contacts:enrol", args=[ada.pk]),
    ]
    for url in posts:
        assert denied(journey_editor.post(url)), url
    ada.refresh_from_db()
    assert ada.status == Contact.Status.SUBSCRIBED


def test_the_reports_show_a_journey_editor_no_email_address(journey_editor):
    ada = subscribed(email="ada.lovelace@example.com")
    template = email_template(name="Welcome")
    journey = new_journey("Welcome", trigger=block("manual"), steps=[block("exit")])
    message = make_message(ada, template=template, to_email=ada.email)
    assert client_click(message).status_code == 302
    pages = [
        reverse("wagtailadmin_home"),
        reverse("journeys_reports:index"),
        reverse("journeys_reports:templates"),
        reverse("journeys_reports:links"),
        reverse("journeys_reports:journey", args=[journey.pk]),
        reverse("journeys_reports:journey_steps", args=[journey.pk]),
    ]
    for url in pages:
        response = journey_editor.get(url)
        assert response.status_code == 200, url
        assert b"ada.lovelace" not in response.content, url


def test_the_links_report_holds_no_personal_signed_link(journey_editor, targets):
    restore = restore_cart_url(targets["cart"].pk)
    message = make_message(targets["contact"], links=[restore])
    assert client_click(message).status_code == 302
    response = journey_editor.get(reverse("journeys_reports:links"))
    assert response.status_code == 200
    # The link is listed, its signed token is not: nobody can open that cart from the report.
    token = restore.rstrip("/").rsplit("/", 1)[-1]
    assert "/journeys/cart/…/".encode() in response.content
    assert token.encode() not in response.content


def test_the_simulator_shows_a_journey_editor_no_real_contact(journey_editor):
    subscribed(email="bea@example.com", first_name="Beatrix")
    template = email_template("Hi", "Hello {{ contact.first_name }}")
    journey = new_journey(
        "Hello",
        trigger=block("event", event="signed_up"),
        steps=[block("send_email", template=template.pk)],
    )
    form = {
        "contact": "bea@example.com",
        "email": "",
        "first_name": "",
        "custom_fields": "",
        "tags": "",
        "events": "",
        "trigger_properties": "",
        "version": "live",
    }
    response = journey_editor.post(reverse("journeys_journeys:simulate", args=[journey.pk]), form)
    assert b"Beatrix" not in response.content


# 8. Rate limits


def beacon(client, **extra):
    return client.post(
        "/journeys/collect/", json.dumps({"name": "x_y"}), content_type="text/plain", **extra
    )


def test_the_collect_limit_holds_for_a_cookieless_visitor_and_forged_cookies(settings):
    settings.WAGTAIL_JOURNEYS = {"BEACON_RATE_LIMIT": 3}
    statuses = []
    for attempt in range(5):
        # A new forged cookie every time: it is ignored, the address still counts.
        client = Client()
        client.cookies["journeys_visitor"] = f"{attempt}:forged:signature"
        statuses.append(beacon(client, REMOTE_ADDR="203.0.113.7", **BROWSER).status_code)
    assert statuses == [202, 202, 202, 429, 429]
    assert beacon(Client(), REMOTE_ADDR="203.0.113.8", **BROWSER).status_code == 202


def b64url(raw):
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def subscription(n):
    return json.dumps(
        {
            "endpoint": f"https://push.example.com/send/{n}",
            "keys": {"p256dh": b64url(b"\x04" + bytes(64)), "auth": b64url(bytes(16))},
        }
    )


def test_push_subscribe_is_rate_limited(settings):
    settings.WAGTAIL_JOURNEYS = {"BEACON_RATE_LIMIT": 2}
    client = Client()
    statuses = [
        client.post(
            "/journeys/push/subscribe/",
            subscription(n),
            content_type="application/json",
            REMOTE_ADDR="203.0.113.9",
            **BROWSER,
        ).status_code
        for n in range(5)
    ]
    # The first request counts against the address; the visitor has a cookie from then on.
    assert statuses == [201, 201, 201, 429, 429]
    assert PushSubscription.objects.count() == 3


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://127.1/x",
        "https://0177.0.0.1/x",
        "https://0x7f.0.0.1/x",
        "https://169.254.43518/latest/meta-data/",
    ],
)
def test_a_push_endpoint_on_a_numeric_private_address_is_refused(endpoint):
    body = json.loads(subscription(0))
    body["endpoint"] = endpoint
    response = Client().post(
        "/journeys/push/subscribe/", json.dumps(body), content_type="application/json", **BROWSER
    )
    assert response.status_code == 400
    assert not PushSubscription.objects.exists()


# 9. Cookies


@pytest.mark.parametrize("secure", [False, True])
def test_every_visitor_cookie_we_set_is_httponly_lax_and_secure_over_https(targets, secure):
    restore = Client().get(path_of(restore_cart_url(targets["cart"].pk)), secure=secure, **BROWSER)
    collected = beacon(Client(), secure=secure, **BROWSER)
    for response in (restore, collected):
        cookie = response.cookies["journeys_visitor"]
        assert cookie["httponly"]
        assert cookie["samesite"] == "Lax"
        assert bool(cookie["secure"]) is secure


def test_the_consent_cookie_is_read_never_written(settings, simple_page):
    settings.WAGTAIL_JOURNEYS = {"CONSENT_MODE": "consent_cookie"}
    client = Client()
    client.cookies["journeys_consent"] = "yes"
    response = client.get(simple_page.url, **BROWSER)
    assert "journeys_visitor" in response.cookies
    assert "journeys_consent" not in response.cookies
    # Withdrawing consent (the site's banner writes "no") deletes the visitor cookie.
    client.cookies["journeys_consent"] = "no"
    response = client.get(simple_page.url, **BROWSER)
    assert response.cookies["journeys_visitor"].value == ""
    assert response.cookies["journeys_visitor"]["max-age"] == 0
    assert "journeys_consent" not in response.cookies
