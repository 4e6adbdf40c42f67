"""Turning a queued ``Message`` into the email the backend sends."""

from __future__ import annotations

import uuid
from email.headerregistry import Address
from email.policy import Compat32

from django.conf import settings
from django.core.mail import EmailMultiAlternatives

from wagtail_journeys.conf import get_setting
from wagtail_journeys.email.rendering import RenderSession, render_email
from wagtail_journeys.models.messages import EmailTemplate, Kind, Message


def sender(template: EmailTemplate) -> str:
    """The From header of ``template``'s emails: its name and address, else the defaults."""
    address = (
        template.from_email or get_setting("DEFAULT_FROM_EMAIL") or settings.DEFAULT_FROM_EMAIL
    )
    if not template.from_name:
        return address
    try:
        return str(Address(display_name=template.from_name, addr_spec=address))
    except (ValueError, IndexError):
        # The setting may already be "Name <address>": keep it as it is.
        return address


def esp_status(email: EmailMultiAlternatives) -> tuple[str, str]:
    """(ESP message id, ESP status) of a sent message; empty for non-Anymail backends."""
    status = getattr(email, "anymail_status", None)
    if status is None:
        return "", ""
    recipient = status.recipients.get(email.to[0].lower()) if status.recipients else None
    message_id = recipient.message_id if recipient is not None else status.message_id
    state = recipient.status if recipient is not None else ",".join(sorted(status.status or ()))
    return ("" if message_id is None else str(message_id)), (state or "")


#: Anymail backends whose ESP takes one tag a message (Anymail's feature matrix,
#: "Single tag only"): more raise ``AnymailUnsupportedFeature`` and fail every email.
SINGLE_TAG_ESPS = frozenset({"Mailjet", "Mailtrap", "Postal", "Postmark", "SparkPost"})
#: Anymail backends without ``metadata`` (Anymail 15): setting it fails every email.
NO_METADATA_ESPS = frozenset({"MailerSend", "Postal"})


def fit_to_esp(email: EmailMultiAlternatives, connection) -> EmailMultiAlternatives:
    """Drop from ``email`` what the backend of ``connection`` would refuse it for.

    Where one tag fits, only the first is sent (``template:<id>``, which every
    message has); Amazon SES takes one when ``AMAZON_SES_MESSAGE_TAG_NAME`` is
    set (tags become a message tag). Without metadata, tracking webhooks are
    matched by the ESP's message id, which delivery stores.
    """
    esp_name = getattr(connection, "esp_name", None)
    single_tag = esp_name in SINGLE_TAG_ESPS or (
        esp_name == "Amazon SES" and getattr(connection, "message_tag_name", None) is not None
    )
    if single_tag:
        email.tags = email.tags[:1]
    if esp_name in NO_METADATA_ESPS:
        vars(email).pop("metadata", None)  # Anymail sends what is set, even when empty
    return email


class _QuickFoldPolicy(Compat32):
    """Django's email policy (compat32), without folding headers that need no folding.

    compat32 runs every header through ``email.header.Header`` on output,
    even a short ASCII one that comes out unchanged; that was a third of the
    time spent turning a rendered email into bytes for SMTP.
    """

    def _fold(self, name, value, sanitize):
        if (
            isinstance(value, str)
            and value.isascii()
            and "\n" not in value
            and "\r" not in value
            and len(name) + 2 + len(value) <= self.max_line_length
        ):
            return f"{name}: {value}{self.linesep}"
        return super()._fold(name, value, sanitize)


_QUICK_FOLD = _QuickFoldPolicy()


class JourneyEmail(EmailMultiAlternatives):
    """The email of one message: Django's, made cheaper to turn into MIME for SMTP.

    Only the MIME path of Django's SMTP backend calls ``message()``; Anymail's
    HTTP backends read the attributes and are unaffected.
    """

    def message(self, *args, **kwargs):
        msg = super().message(*args, **kwargs)
        msg.policy = _QUICK_FOLD
        if msg.is_multipart():
            # A random boundary chosen here: the generator's own choice searches
            # the whole encoded body for a clash with a regex compiled per message.
            msg.set_boundary(f"=============={uuid.uuid4().hex}==")
        return msg


class Composer:
    """Builds the emails of one delivery run, sharing what they have in common.

    One ``RenderSession`` (brand, compiled templates, images, products,
    recommendations) and one copy of each pinned template revision serve
    every message of the run.
    """

    def __init__(self):
        self.session = RenderSession()
        self._versions: dict[int, EmailTemplate] = {}

    def template_for(self, message: Message) -> EmailTemplate | None:
        """The template as it was when the message was queued (its pinned revision)."""
        if message.template_revision_id is None:
            return message.template
        if message.template_revision_id not in self._versions:
            self._versions[message.template_revision_id] = message.template_revision.as_object()
        return self._versions[message.template_revision_id]

    def build(self, message: Message) -> JourneyEmail:
        """Render ``message`` and wrap it for the backend; records subject, sender and links."""
        template = self.template_for(message)
        if template is None:
            raise LookupError("The email template was deleted.")
        rendered = render_email(
            template,
            message.contact,
            message=message,
            context=message.context,
            session=self.session,
        )
        headers = {}
        if message.kind == Kind.MARKETING:
            # RFC 8058 one-click unsubscribe, which Gmail and Yahoo require of bulk senders.
            headers["List-Unsubscribe"] = f"<{rendered.unsubscribe_url}>"
            headers["List-Unsubscribe-Post"] = "List-Unsubscribe=One-Click"
        email = JourneyEmail(
            subject=rendered.subject,
            body=rendered.text,
            from_email=sender(template),
            to=[message.to_email],
            reply_to=[template.reply_to] if template.reply_to else None,
            headers=headers,
        )
        email.attach_alternative(rendered.html, "text/html")
        # Anymail: our id comes back in every tracking webhook; tags group reports at the ESP.
        email.metadata = {"journeys_message_id": str(message.pk)}
        email.tags = list(message.tags or [])
        message.subject = rendered.subject[:998]
        message.from_email = email.from_email[:320]
        message.links = rendered.links
        return email
