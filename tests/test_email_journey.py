"""The whole email loop, as the issue's "done when" reads: send, open, click, unsubscribe, silence.

Each step goes through the real parts: ``send_email`` writes the outbox row and
delivers on commit (django-q2 in sync mode) through Anymail's test backend;
the open, click and one-click unsubscribe are HTTP requests to the links and
headers of the email that was actually sent.
"""

import re
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
from django.core import mail
from django.test import Client
from django.utils import timezone

from tests.factories import ContactFactory
from wagtail_journeys import send_email
from wagtail_journeys.models import Contact, EmailTemplate, Event, Message

pytestmark = pytest.mark.django_db

BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"
SALE_URL = "https://shop.example.com/sale/"


@pytest.fixture(autouse=True)
def anymail(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.WAGTAIL_JOURNEYS = {"BASE_URL": "https://shop.example.com"}
    mail.outbox = []


@pytest.fixture
def template():
    return EmailTemplate.objects.create(
        name="Sale",
        subject="Our sale starts now, {{ contact.first_name }}",
        body=[
            {"type": "text", "value": f'<p>Everything 20% off: <a href="{SALE_URL}">shop</a></p>'}
        ],
    )


def path_of(url: str) -> str:
    return urlsplit(url).path


def send(contact, template, django_capture_on_commit_callbacks) -> Message:
    with django_capture_on_commit_callbacks(execute=True):
        message = send_email(contact, template)
    message.refresh_from_db()
    return message


def test_send_open_click_unsubscribe_then_no_more_marketing(
    client, template, django_capture_on_commit_callbacks
):
    contact = ContactFactory(status=Contact.Status.SUBSCRIBED, first_name="Ada")
    message = send(contact, template, django_capture_on_commit_callbacks)
    assert message.status == Message.Status.SENT
    [sent] = mail.outbox
    assert sent.subject == "Our sale starts now, Ada"
    html = sent.alternatives[0][0]
    # The person reads it an hour later (earlier hits are taken for scanners).
    Message.objects.filter(pk=message.pk).update(sent_at=timezone.now() - timedelta(hours=1))

    pixel = re.search(r'src="(https://shop\.example\.com/journeys/o/[^"]+)"', html).group(1)
    assert client.get(path_of(pixel), HTTP_USER_AGENT=BROWSER_UA).status_code == 200
    click = re.search(r'href="(https://shop\.example\.com/journeys/c/[^"]+)"', html).group(1)
    response = client.get(path_of(click), HTTP_USER_AGENT=BROWSER_UA)
    assert (response.status_code, response["Location"]) == (302, SALE_URL)
    names = set(Event.objects.filter(contact=contact).values_list("name", flat=True))
    assert {"email_sent", "email_opened", "email_clicked"} <= names

    # The mailbox provider's one-click unsubscribe: a bare POST, no cookie, no CSRF token.
    unsubscribe = sent.extra_headers["List-Unsubscribe"].strip("<>")
    assert sent.extra_headers["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    provider = Client(enforce_csrf_checks=True)
    response = provider.post(
        path_of(unsubscribe),
        data="List-Unsubscribe=One-Click",
        content_type="application/x-www-form-urlencoded",
    )
    assert response.status_code == 200
    contact.refresh_from_db()
    assert contact.status == Contact.Status.UNSUBSCRIBED

    again = send(contact, template, django_capture_on_commit_callbacks)
    assert again.status == Message.Status.SUPPRESSED
    assert len(mail.outbox) == 1
