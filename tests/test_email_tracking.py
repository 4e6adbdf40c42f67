"""The open pixel and the click redirect: signed tokens, machines told from people."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import ContactFactory
from wagtail_journeys.email import links, tokens
from wagtail_journeys.models import Event, Message, MessageEvent

pytestmark = pytest.mark.django_db

BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"
APPLE_PROXY_UA = "Mozilla/5.0"
GMAIL_PROXY_UA = (
    "Mozilla/5.0 (Windows NT 5.1; rv:11.0) Gecko Firefox/11.0 (via ggpht.com GoogleImageProxy)"
)
PRODUCT_URL = "https://shop.example.com/products/lamp/?utm_source=email"


def make_message(contact=None, *, sent_ago=timedelta(hours=1), **fields):
    sent_at = timezone.now() - sent_ago
    values = {
        "status": Message.Status.SENT,
        "to_email": "ada@example.com",
        "subject": "Your cart",
        "step_id": "step-1",
        "links": [PRODUCT_URL, "https://shop.example.com/"],
        "sent_at": sent_at,
        **fields,
    }
    return Message.objects.create(
        contact=contact if contact is not None else ContactFactory(),
        idempotency_key=f"test:{Message.objects.count()}:{sent_at.timestamp()}",
        **values,
    )


def path_of(url):
    return "/" + url.split("/", 3)[3]


def open_path(message):
    return path_of(links.open_pixel_url(message.pk))


def click_path(message, index=0):
    return path_of(links.click_url(message.pk, index))


# The open pixel


def test_open_returns_an_uncached_gif_and_records_a_human_open(client):
    message = make_message()
    response = client.get(open_path(message), HTTP_USER_AGENT=BROWSER_UA)

    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert response.content.startswith(b"GIF89a")
    assert "no-store" in response["Cache-Control"]
    opened = MessageEvent.objects.get(message=message)
    assert opened.kind == "opened" and not opened.machine and opened.source == "pixel"
    message.refresh_from_db()
    assert message.first_opened_at is not None
    event = Event.objects.get(name="email_opened")
    assert event.contact == message.contact
    assert event.properties == {
        "message_id": message.pk,
        "template_id": None,
        "step_id": "step-1",
    }
    message.contact.refresh_from_db()
    assert message.contact.last_engaged_at == message.first_opened_at


def test_every_open_is_stored_but_email_opened_is_recorded_once(client):
    message = make_message()
    for _ in range(3):
        client.get(open_path(message), HTTP_USER_AGENT=BROWSER_UA)
    assert MessageEvent.objects.filter(message=message, kind="opened").count() == 3
    assert Event.objects.filter(name="email_opened").count() == 1


@pytest.mark.parametrize(
    "token",
    ["nonsense", "a" * 300, "e30:1abc:zzzz"],
    ids=["garbage", "long", "forged-signature"],
)
def test_a_bad_token_still_gets_the_image_but_records_nothing(client, token):
    make_message()
    response = client.get(f"/journeys/o/{token}/", HTTP_USER_AGENT=BROWSER_UA)
    assert response.status_code == 200
    assert response["Content-Type"] == "image/gif"
    assert not MessageEvent.objects.exists()
    assert not Event.objects.exists()


def test_an_altered_or_misused_token_records_nothing(client):
    message = make_message()
    token = tokens.make_token(tokens.OPEN, message.pk)
    altered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    client.get(f"/journeys/o/{altered}/", HTTP_USER_AGENT=BROWSER_UA)
    # A valid token of another purpose (the unsubscribe link) is no open token.
    other = tokens.make_token(tokens.UNSUBSCRIBE, message.pk)
    client.get(f"/journeys/o/{other}/", HTTP_USER_AGENT=BROWSER_UA)
    assert not MessageEvent.objects.exists()


@pytest.mark.parametrize(
    ("user_agent", "reason"),
    [
        (APPLE_PROXY_UA, "apple_privacy_proxy"),
        ("", "no_user_agent"),
        ("Barracuda Sentinel (EE)", "scanner_user_agent"),
    ],
)
def test_machine_opens_are_flagged_and_not_counted(client, user_agent, reason):
    message = make_message()
    response = client.get(open_path(message), HTTP_USER_AGENT=user_agent)
    assert response.status_code == 200
    opened = MessageEvent.objects.get(message=message)
    assert opened.machine is True
    assert opened.detail["machine_reason"] == reason
    message.refresh_from_db()
    assert message.first_opened_at is None
    assert not Event.objects.filter(name="email_opened").exists()
    message.contact.refresh_from_db()
    assert message.contact.last_engaged_at is None


def test_an_open_right_after_sending_is_a_machine(client):
    message = make_message(sent_ago=timedelta(seconds=1))
    client.get(open_path(message), HTTP_USER_AGENT=BROWSER_UA)
    assert MessageEvent.objects.get().detail["machine_reason"] == "too_soon_after_sending"


def test_a_head_request_is_a_machine(client):
    message = make_message()
    client.head(open_path(message), HTTP_USER_AGENT=BROWSER_UA)
    assert MessageEvent.objects.get().machine


def test_opens_from_machine_networks_are_machines(client, settings):
    settings.WAGTAIL_JOURNEYS = {"MACHINE_NETWORKS": ["17.0.0.0/8"]}
    message = make_message()
    client.get(open_path(message), HTTP_USER_AGENT=BROWSER_UA, REMOTE_ADDR="17.58.1.2")
    client.get(open_path(message), HTTP_USER_AGENT=BROWSER_UA, REMOTE_ADDR="192.0.2.7")
    assert list(MessageEvent.objects.order_by("pk").values_list("machine", flat=True)) == [
        True,
        False,
    ]


def test_gmail_image_proxy_is_a_person(client):
    message = make_message()
    client.get(open_path(message), HTTP_USER_AGENT=GMAIL_PROXY_UA)
    assert not MessageEvent.objects.get().machine
    assert Event.objects.filter(name="email_opened").count() == 1


def test_an_open_of_an_erased_contacts_message_is_counted_without_an_event(client):
    message = make_message()
    message.contact.delete()
    response = client.get(open_path(message), HTTP_USER_AGENT=BROWSER_UA)
    assert response.status_code == 200
    assert MessageEvent.objects.filter(message=message).count() == 1
    assert not Event.objects.exists()


def test_an_open_of_a_deleted_message_is_ignored(client):
    message = make_message()
    path = open_path(message)
    message.delete()
    assert client.get(path, HTTP_USER_AGENT=BROWSER_UA).status_code == 200
    assert not MessageEvent.objects.exists()


# The click redirect


def test_click_redirects_to_the_link_and_records_it(client):
    message = make_message()
    response = client.get(click_path(message), HTTP_USER_AGENT=BROWSER_UA)

    assert response.status_code == 302
    assert response["Location"] == PRODUCT_URL
    clicked = MessageEvent.objects.get(message=message, kind="clicked")
    assert clicked.url == PRODUCT_URL and not clicked.machine
    event = Event.objects.get(name="email_clicked")
    assert event.properties == {
        "message_id": message.pk,
        "template_id": None,
        "step_id": "step-1",
        "url": PRODUCT_URL,
    }
    message.refresh_from_db()
    assert message.first_clicked_at is not None
    # Nobody clicks an unopened message: the click counts as the first open.
    assert message.first_opened_at == message.first_clicked_at
    implied = MessageEvent.objects.get(message=message, kind="opened")
    assert implied.detail == {"implied_by_click": True}
    assert Event.objects.filter(name="email_opened").count() == 1
    message.contact.refresh_from_db()
    assert message.contact.last_engaged_at == message.first_clicked_at


def test_a_click_after_an_open_adds_no_second_open(client):
    message = make_message()
    client.get(open_path(message), HTTP_USER_AGENT=BROWSER_UA)
    client.get(click_path(message), HTTP_USER_AGENT=BROWSER_UA)
    client.get(click_path(message), HTTP_USER_AGENT=BROWSER_UA)
    assert MessageEvent.objects.filter(kind="opened").count() == 1
    assert Event.objects.filter(name="email_opened").count() == 1
    assert Event.objects.filter(name="email_clicked").count() == 2


def test_an_altered_click_token_is_refused_without_redirecting(client):
    message = make_message()
    token = tokens.make_token(tokens.CLICK, message.pk)
    altered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    response = client.get(f"/journeys/c/{altered}/0/", HTTP_USER_AGENT=BROWSER_UA)
    assert response.status_code == 400
    assert "Location" not in response
    assert b"This link does not work" in response.content
    assert not MessageEvent.objects.exists()


@pytest.mark.parametrize("index", [2, 3, 10**6])
def test_a_click_leads_only_to_an_http_link_stored_with_the_message(client, index):
    # Link 2 is stored but not http(s); 3 and beyond do not exist: even a
    # validly signed token cannot turn us into an open redirect.
    message = make_message()
    message.links.append("javascript:alert(1)")
    message.save()
    response = client.get(click_path(message, index), HTTP_USER_AGENT=BROWSER_UA)
    assert response.status_code == 400
    assert "Location" not in response
    assert not MessageEvent.objects.exists()


def test_a_click_token_leads_to_its_own_messages_links(client):
    message = make_message()
    other = make_message(
        links=["https://elsewhere.example.com/", "https://elsewhere.example.com/2"]
    )
    response = client.get(click_path(message, 1), HTTP_USER_AGENT=BROWSER_UA)
    assert response.status_code == 302
    assert response["Location"] == "https://shop.example.com/"
    assert not other.events.exists()


def test_an_expired_click_token_is_refused(client, settings):
    message = make_message()
    path = click_path(message)
    settings.WAGTAIL_JOURNEYS = {"LINK_MAX_AGE": -1}
    response = client.get(path, HTTP_USER_AGENT=BROWSER_UA)
    assert response.status_code == 400
    assert b"expired" in response.content


@pytest.mark.parametrize(
    ("method", "user_agent", "sent_ago", "reason"),
    [
        ("get", "python-requests/2.32", timedelta(hours=1), "scanner_user_agent"),
        (
            "get",
            "Mozilla/5.0 (compatible; Proofpoint URL Defense)",
            timedelta(hours=1),
            "scanner_user_agent",
        ),
        ("head", BROWSER_UA, timedelta(hours=1), "head_request"),
        ("get", BROWSER_UA, timedelta(seconds=1), "too_soon_after_sending"),
    ],
    ids=["script", "scanner", "head", "too-soon"],
)
def test_link_scanners_are_redirected_but_flagged(client, method, user_agent, sent_ago, reason):
    message = make_message(sent_ago=sent_ago)
    response = getattr(client, method)(click_path(message), HTTP_USER_AGENT=user_agent)
    assert response.status_code == 302
    clicked = MessageEvent.objects.get(kind="clicked")
    assert clicked.machine is True
    if reason:
        assert clicked.detail["machine_reason"] == reason
    message.refresh_from_db()
    assert message.first_clicked_at is None and message.first_opened_at is None
    assert not Event.objects.exists()


def test_machine_window_is_configurable(client, settings):
    settings.WAGTAIL_JOURNEYS = {"MACHINE_SECONDS": 0}
    message = make_message(sent_ago=timedelta(seconds=1))
    client.get(click_path(message), HTTP_USER_AGENT=BROWSER_UA)
    assert not MessageEvent.objects.get(kind="clicked").machine


def test_click_of_a_deleted_message_is_refused(client):
    message = make_message()
    path = click_path(message)
    message.delete()
    assert client.get(path, HTTP_USER_AGENT=BROWSER_UA).status_code == 400


def test_post_is_not_allowed_on_tracking_links(client):
    message = make_message()
    assert client.post(click_path(message)).status_code == 405
    assert client.post(open_path(message)).status_code == 405
