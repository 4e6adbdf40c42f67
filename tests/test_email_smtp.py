"""Delivery through Django's SMTP backend to a real SMTP server on loopback (aiosmtpd)."""

import re
import socket
from email import message_from_bytes
from email.policy import default as default_policy

import pytest
from aiosmtpd.controller import Controller

from tests.factories import ContactFactory
from wagtail_journeys.email import tokens
from wagtail_journeys.email.delivery import deliver_messages
from wagtail_journeys.email.sending import send_email, send_emails
from wagtail_journeys.models import Contact, EmailTemplate, Message

pytestmark = pytest.mark.django_db

BODY = [
    {"type": "heading", "value": {"text": "Hello {{ contact.first_name }}", "level": "h1"}},
    {
        "type": "text",
        "value": '<p>New beans. <a href="https://shop.example.com/beans/">Shop</a></p>',
    },
]


def unsubscribe_target(header: str) -> list:
    """The values signed in a ``List-Unsubscribe: <https://…/journeys/u/<token>/>`` header.

    Tokens carry the time they were made, so the header is compared by what it
    signs, not character by character with a URL made a second later.
    """
    match = re.fullmatch(r"<https://shop\.example\.com/journeys/u/([^/]+)/>", header.strip())
    assert match, header
    return tokens.read_token(tokens.UNSUBSCRIBE, match.group(1))


class Recorder:
    """An SMTP handler that keeps every message and counts sessions (TCP connections)."""

    def __init__(self):
        self.sessions = []
        self.messages = []
        #: Recipient -> SMTP reply to give at RCPT instead of accepting.
        self.refuse = {}
        #: Recipient whose DATA is answered 421 and the connection closed.
        self.drop = None

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if address in self.refuse:
            return self.refuse[address]
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        if not any(seen is session for seen in self.sessions):
            self.sessions.append(session)
        if self.drop in envelope.rcpt_tos:
            server.transport.close()
            return "421 Closing the connection"
        self.messages.append(
            (envelope.rcpt_tos, message_from_bytes(envelope.content, policy=default_policy))
        )
        return "250 Message accepted"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def smtp(settings):
    handler = Recorder()
    controller = Controller(handler, hostname="127.0.0.1", port=free_port())
    controller.start()
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = controller.port
    settings.EMAIL_USE_TLS = settings.EMAIL_USE_SSL = False
    settings.EMAIL_TIMEOUT = 10
    settings.WAGTAIL_JOURNEYS = {"BASE_URL": "https://shop.example.com"}
    yield handler
    controller.stop()


def contacts(count, **fields):
    return [
        ContactFactory(status=Contact.Status.SUBSCRIBED, consent={"email": True}, **fields)
        for _ in range(count)
    ]


def template():
    made = EmailTemplate.objects.create(
        name="Beans", subject="Hello {{ contact.first_name }}", from_email="shop@example.com"
    )
    made.body = BODY
    made.save()
    return EmailTemplate.objects.get(pk=made.pk)


def test_a_batch_goes_over_one_smtp_session(smtp, django_capture_on_commit_callbacks):
    people = contacts(6, first_name="Grace")
    with django_capture_on_commit_callbacks(execute=True):
        messages = send_emails(people, template())

    assert len(smtp.sessions) == 1
    assert sorted(rcpt for rcpt, _ in smtp.messages) == sorted([c.email] for c in people)
    by_address = {rcpt[0]: received for rcpt, received in smtp.messages}
    for message in messages:
        message.refresh_from_db()
        assert message.status == Message.Status.SENT
        assert message.esp_message_id == ""  # plain SMTP: no ESP id
        received = by_address[message.to_email]
        assert received["Subject"] == "Hello Grace"
        assert received["From"] == "shop@example.com"
        # A long header may be folded after the colon.
        assert unsubscribe_target(str(received["List-Unsubscribe"])) == [message.pk]
        assert received["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
        assert received.get_content_type() == "multipart/alternative"
        text, html = received.iter_parts()
        assert text.get_content_type() == "text/plain" and "Hello Grace" in text.get_content()
        assert html.get_content_type() == "text/html" and "Hello Grace" in html.get_content()


def test_a_busy_mailbox_is_retried_and_the_rest_of_the_batch_goes(smtp):
    smtp.refuse["busy@example.com"] = "451 4.2.1 Mailbox busy, try later"
    smtp.refuse["gone@example.com"] = "550 5.1.1 No such user"
    tpl = template()
    busy = send_email(contacts(1, email="busy@example.com")[0], tpl)
    gone = send_email(contacts(1, email="gone@example.com")[0], tpl)
    fine = [send_email(contact, tpl) for contact in contacts(2)]
    deliver_messages([busy.pk, gone.pk] + [m.pk for m in fine])

    busy.refresh_from_db()
    gone.refresh_from_db()
    assert busy.status == Message.Status.QUEUED and busy.send_after is not None
    assert "SMTPRecipientsRefused" in busy.status_reason
    assert gone.status == Message.Status.FAILED and "550" in gone.status_reason
    assert Message.objects.filter(status="sent").count() == 2
    assert len(smtp.messages) == 2
    assert len(smtp.sessions) == 1


def test_a_dropped_connection_is_reopened_for_the_rest(smtp):
    smtp.drop = "drop@example.com"
    tpl = template()
    first = send_email(contacts(1)[0], tpl)
    dropped = send_email(contacts(1, email="drop@example.com")[0], tpl)
    rest = [send_email(contact, tpl) for contact in contacts(2)]
    deliver_messages([first.pk, dropped.pk] + [m.pk for m in rest])

    dropped.refresh_from_db()
    assert dropped.status == Message.Status.QUEUED  # 421: not accepted, retried later
    assert Message.objects.filter(status="sent").count() == 3
    assert len(smtp.messages) == 3
    assert len(smtp.sessions) == 2


def test_an_unreachable_server_leaves_the_batch_queued_for_a_retry(settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
    settings.EMAIL_HOST = "127.0.0.1"
    settings.EMAIL_PORT = free_port()  # nothing listens there
    settings.WAGTAIL_JOURNEYS = {"BASE_URL": "https://shop.example.com"}
    tpl = template()
    messages = [send_email(contact, tpl) for contact in contacts(2)]
    report = deliver_messages([m.pk for m in messages])

    assert report.retrying == 2
    for message in messages:
        message.refresh_from_db()
        assert message.status == Message.Status.QUEUED
        assert message.attempts == 1
        assert "ConnectionRefusedError" in message.status_reason


@pytest.mark.parametrize(
    "subject",
    [
        "Your cart misses you",
        "Zoë, your cart misses you: café, crème and more",
        "A subject long enough to need folding, " * 4,
        "Tabs\tand  double  spaces stay",
    ],
)
def test_the_quick_fold_policy_writes_the_bytes_compat32_writes(subject):
    # JourneyEmail skips header folding where it would change nothing: the
    # bytes must be exactly those of Django's own policy.
    from email.policy import compat32

    from wagtail_journeys.email.composing import JourneyEmail

    email = JourneyEmail(
        subject=subject,
        body="Hello Zoë\n",
        from_email='"Kettle & Bean, Lyon" <shop@example.com>',
        to=["Zoë Martin <zoe@example.com>"],
        reply_to=["help@example.com"],
        headers={"List-Unsubscribe": "<https://shop.example.com/journeys/u/" + "x" * 90 + "/>"},
    )
    email.attach_alternative("<p>Hello Zoë</p>", "text/html")
    quick = email.message()
    plain = email.message()
    plain.policy = compat32
    plain.set_boundary(quick.get_boundary())
    for name in ("Date", "Message-ID"):
        plain.replace_header(name, quick[name])
    assert quick.as_bytes(linesep="\r\n") == plain.as_bytes(linesep="\r\n")
