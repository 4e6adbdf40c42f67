"""The message log in the admin: its filters, and a message's page with the email as sent."""

import html
import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.core import mail
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.factories import ContactFactory
from tests.journey_helpers import subscribed
from wagtail_journeys import send_email
from wagtail_journeys.gdpr import erase_contact
from wagtail_journeys.journeys.building import block, new_journey
from wagtail_journeys.models import EmailTemplate, Enrollment, Message, MessageEvent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("journeys_mail")]

BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"
APPLE_PROXY_UA = "Mozilla/5.0"
SALE_URL = "https://shop.example.com/sale/"


def url(name, *args):
    return reverse(f"journeys_messages:{name}", args=args)


def make_template(name="Sale", body="Everything 20% off"):
    template = EmailTemplate.objects.create(
        name=name,
        subject="Our sale starts now, {{ contact.first_name }}",
        body=[{"type": "text", "value": f'<p>{body}: <a href="{SALE_URL}">shop</a></p>'}],
    )
    template.save_revision(log_action=False)
    return template


def send(contact, template, capture) -> Message:
    """Queue and deliver through the real pipeline (Anymail's test backend)."""
    with capture(execute=True):
        message = send_email(contact, template)
    message.refresh_from_db()
    assert message.status == Message.Status.SENT
    return message


def message(n, **fields):
    return Message.objects.create(idempotency_key=f"log-{n}", subject=f"Message {n}", **fields)


def listed(client, query=""):
    response = client.get(url("index_results") + query)
    assert response.status_code == 200
    page = response.content.decode()
    return set(re.findall(r"Message \d+", page)), page


# The listing


def test_filters_narrow_the_message_log(admin_client):
    sale, welcome = make_template("Sale"), make_template("Welcome")
    journey = new_journey("Onboarding", trigger=block("manual"), steps=[block("exit")])
    enrollment = Enrollment.objects.create(journey=journey, contact=ContactFactory())
    now = timezone.now()
    message(1, status=Message.Status.SENT, template=sale, sent_at=now - timedelta(days=10))
    message(2, status=Message.Status.SENT, template=welcome, enrollment=enrollment, sent_at=now)
    message(3, status=Message.Status.FAILED, kind="transactional", template=welcome)

    assert listed(admin_client)[0] == {"Message 1", "Message 2", "Message 3"}
    assert listed(admin_client, "?status=failed")[0] == {"Message 3"}
    assert listed(admin_client, "?kind=transactional")[0] == {"Message 3"}
    assert listed(admin_client, "?channel=email")[0] == {"Message 1", "Message 2", "Message 3"}
    assert listed(admin_client, f"?template={welcome.pk}")[0] == {"Message 2", "Message 3"}
    assert listed(admin_client, f"?journey={journey.pk}")[0] == {"Message 2"}
    since = (now - timedelta(days=1)).date().isoformat()
    assert listed(admin_client, f"?sent_at_from={since}")[0] == {"Message 2"}
    until = (now - timedelta(days=5)).date().isoformat()
    assert listed(admin_client, f"?sent_at_to={until}")[0] == {"Message 1"}


@pytest.mark.parametrize(
    "query, problem",
    [
        ("?status=lost", "Status: Select a valid choice."),
        ("?kind=spam", "Kind: Select a valid choice."),
        ("?template=abc", "Template: Select a valid choice."),
        ("?journey=999999", "Journey: Select a valid choice."),
        ("?sent_at_from=yesterday", "Sent: Enter a valid date."),
        ("?stuck=maybe", "Stuck: Select a valid choice."),
    ],
)
def test_bad_filter_values_list_nothing_and_say_why(admin_client, query, problem):
    message(1)
    shown, page = listed(admin_client, query)
    assert shown == set()
    assert "These filters cannot be applied." in page and problem in page
    assert admin_client.get(url("index") + query).status_code == 200


# A message's page


def srcdoc(page: str) -> str:
    """The HTML document shown in the page's sandboxed iframe."""
    frame = re.search(r"<iframe ([^>]*)>", page).group(1)
    assert 'sandbox=""' in frame
    return html.unescape(re.search(r'srcdoc="([^"]*)"', frame).group(1))


def test_a_delivered_message_shows_the_email_as_sent_and_its_events(
    admin_client, client, django_capture_on_commit_callbacks
):
    contact = subscribed(email="ada@example.com", first_name="Ada")
    template = make_template()
    sent = send(contact, template, django_capture_on_commit_callbacks)
    [email] = mail.outbox
    sent_html = email.alternatives[0][0]
    # Edited after sending: the page still shows the revision the message went out with.
    template.body = [{"type": "text", "value": "<p>Prices are back to normal</p>"}]
    template.save()
    template.save_revision(log_action=False)

    # What happened to it: the ESP's report, Apple's proxy fetching the pixel, the person.
    MessageEvent.objects.create(message=sent, kind="delivered", source="esp", dedupe_key="d1")
    pixel = re.search(r'src="(https://shop\.example\.com/journeys/o/[^"]+)"', sent_html).group(1)
    click = re.search(r'href="(https://shop\.example\.com/journeys/c/[^"]+)"', sent_html).group(1)
    Message.objects.filter(pk=sent.pk).update(sent_at=timezone.now() - timedelta(hours=1))
    client.get(urlsplit(pixel).path, HTTP_USER_AGENT=APPLE_PROXY_UA)
    client.get(urlsplit(click).path, HTTP_USER_AGENT=BROWSER_UA)
    events_before = MessageEvent.objects.count()

    response = admin_client.get(url("inspect", sent.pk))
    assert response.status_code == 200
    page = response.content.decode()
    assert "Our sale starts now, Ada" in page
    document = srcdoc(page)
    assert "Everything 20% off" in document and "Everything 20% off" in sent_html
    assert "Prices are back to normal" not in document
    # Viewing is not reading: no pixel, links straight to where they lead.
    assert "/journeys/o/" not in document and "/journeys/c/" not in document
    assert f'href="{SALE_URL}"' in document
    assert "Everything 20% off: shop" in page  # the plain-text part
    assert MessageEvent.objects.count() == events_before

    kinds = re.findall(r'<tr data-kind="(\w+)">', page)
    # In time order; the click also counts as the person's first open (the proxy's did not).
    assert kinds[:2] == ["delivered", "opened"]
    assert sorted(kinds[2:]) == ["clicked", "opened"]
    assert "Implied by a click" in page
    assert "a machine</strong> (apple_privacy_proxy)" in page
    assert "a person" in page and SALE_URL in page


def test_an_erased_contacts_message_shows_what_is_kept(
    admin_client, django_capture_on_commit_callbacks
):
    contact = subscribed(email="ada@example.com")
    sent = send(contact, make_template(), django_capture_on_commit_callbacks)
    MessageEvent.objects.create(message=sent, kind="delivered", dedupe_key="d1")
    erase_contact(contact)
    response = admin_client.get(url("inspect", sent.pk))
    assert response.status_code == 200
    page = response.content.decode()
    assert "The contact was erased or deleted" in page
    assert "<iframe" not in page
    assert "ada@example.com" not in page
    assert 'data-kind="delivered"' in page


def test_a_message_whose_template_is_gone_shows_what_is_stored(
    admin_client, django_capture_on_commit_callbacks
):
    contact = subscribed(email="ada@example.com", first_name="Ada")
    template = make_template()
    sent = send(contact, template, django_capture_on_commit_callbacks)
    template.revisions.all().delete()
    template.delete()
    page = admin_client.get(url("inspect", sent.pk)).content.decode()
    assert "The email template was deleted" in page
    assert "Our sale starts now, Ada" in page


def test_a_queued_message_shows_what_it_will_be(admin_client):
    contact = subscribed(email="ada@example.com", first_name="Ada")
    template = make_template()
    queued = Message.objects.create(
        contact=contact,
        template=template,
        template_revision=template.latest_revision,
        idempotency_key="queued",
        to_email=contact.email,
    )
    page = admin_client.get(url("inspect", queued.pk)).content.decode()
    assert "This message was not sent (Queued)" in page
    assert "Our sale starts now, Ada" in page
    assert "Everything 20% off" in srcdoc(page)


def test_message_pages_need_the_view_permission():
    queued = message(1)
    user = User.objects.create_user("editor", password="pw")
    group = Group.objects.create(name="Message readers")
    group.permissions.add(Permission.objects.get(codename="access_admin"))
    user.groups.add(group)
    client = Client()
    client.force_login(user)
    assert client.get(url("inspect", queued.pk)).status_code in (302, 403)
    group.permissions.add(Permission.objects.get(codename="view_message"))
    assert client.get(url("inspect", queued.pk)).status_code == 200
    assert client.get(url("inspect", 999999)).status_code == 404
