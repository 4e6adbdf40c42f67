"""Email templates, the message outbox and what happened to each message."""

import swapper
from django.contrib.contenttypes.fields import GenericRelation
from django.core.exceptions import ValidationError
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.fields import StreamField
from wagtail.models import PreviewableMixin, RevisionMixin

from wagtail_journeys.email import merge
from wagtail_journeys.email.blocks import EmailBodyBlock
from wagtail_journeys.email.blocks.base import shows_merge_field
from wagtail_journeys.models.records import Record


class Kind(models.TextChoices):
    """Marketing mail needs consent and obeys caps; transactional mail does not."""

    MARKETING = "marketing", _("Marketing")
    TRANSACTIONAL = "transactional", _("Transactional")


class Topic(models.Model):
    """A subject a contact can subscribe to or leave in the preference centre."""

    name = models.CharField(_("name"), max_length=100)
    slug = models.SlugField(_("slug"), max_length=100, unique=True)
    description = models.TextField(_("description"), blank=True)

    class Meta:
        verbose_name = _("email topic")
        verbose_name_plural = _("email topics")
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class EmailTemplate(PreviewableMixin, RevisionMixin, models.Model):
    """An email an editor writes once and the plugin renders for each contact."""

    name = models.CharField(_("name"), max_length=255)
    kind = models.CharField(
        _("kind"),
        max_length=16,
        choices=Kind.choices,
        default=Kind.MARKETING,
        help_text=_(
            "Marketing mail goes only to subscribed contacts, carries an unsubscribe link and "
            "counts towards the frequency cap. Transactional mail (receipts, confirmations) "
            "does not."
        ),
    )
    topic = models.ForeignKey(
        Topic,
        verbose_name=_("topic"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="templates",
        help_text=_("Contacts who left this topic in the preference centre do not get it."),
    )
    subject = models.CharField(
        _("subject"),
        max_length=255,
        help_text=_("Merge fields work here: {{ contact.first_name }}"),
    )
    preheader = models.CharField(
        _("preheader"),
        max_length=255,
        blank=True,
        help_text=_("The preview line mail apps show after the subject."),
    )
    from_name = models.CharField(_("from name"), max_length=100, blank=True)
    from_email = models.EmailField(
        _("from address"), blank=True, help_text=_("Empty: the DEFAULT_FROM_EMAIL setting.")
    )
    reply_to = models.EmailField(_("reply-to address"), blank=True)
    body = StreamField(EmailBodyBlock(), verbose_name=_("body"), blank=True)
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    _revisions = GenericRelation("wagtailcore.Revision", related_query_name="email_template")

    class Meta:
        verbose_name = _("email template")
        verbose_name_plural = _("email templates")
        ordering = ["name"]
        permissions = [("use_raw_html", _("Can use raw HTML blocks in email templates"))]

    def __str__(self) -> str:
        return self.name

    @property
    def revisions(self):
        # RevisionMixin expects this for a model with a GenericRelation of its own.
        return self._revisions

    def clean(self):
        """Check the merge fields of the subject and preheader (the body's blocks check theirs)."""
        super().clean()
        errors = {
            name: messages
            for name in ("subject", "preheader")
            if (messages := merge.errors(getattr(self, name)))
        }
        if errors:
            raise ValidationError(errors)

    preview_modes = [("html", _("HTML")), ("text", _("Plain text"))]

    def get_preview_template(self, request, mode_name):
        return "wagtail_journeys/email/preview.html"

    def get_preview_context(self, request, mode_name):
        from wagtail_journeys.email.previews import preview_context

        return preview_context(self, request, mode_name)


class Message(Record):
    """One message to one contact: the outbox row and its delivery record.

    A message is written (``queued``) in the same transaction as whatever
    decided to send it, marked ``sending`` just before the ESP call and
    ``sent`` or ``failed`` after. A message found in ``sending`` was being
    sent when a worker died: it is reported, never sent again.
    """

    class Status(models.TextChoices):
        QUEUED = "queued", _("Queued")
        SENDING = "sending", _("Sending")
        SENT = "sent", _("Sent")
        FAILED = "failed", _("Failed")
        SUPPRESSED = "suppressed", _("Suppressed")
        SKIPPED = "skipped", _("Skipped")

    class Channel(models.TextChoices):
        EMAIL = "email", _("Email")
        SMS = "sms", _("SMS")
        PUSH = "push", _("Push")

    contact = models.ForeignKey(
        "wagtail_journeys.Contact",
        verbose_name=_("contact"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="messages",
    )
    channel = models.CharField(
        _("channel"), max_length=16, choices=Channel.choices, default=Channel.EMAIL
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices, default=Kind.MARKETING)
    template = models.ForeignKey(
        EmailTemplate,
        verbose_name=_("template"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
    )
    template_revision = models.ForeignKey(
        "wagtailcore.Revision",
        verbose_name=_("template revision"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    #: Extra values for the template (``cart_id``, trigger properties...).
    context = models.JSONField(_("context"), default=dict, blank=True, encoder=DjangoJSONEncoder)
    tags = models.JSONField(_("tags"), default=list, blank=True)
    enrollment = models.ForeignKey(
        "wagtail_journeys.Enrollment",
        verbose_name=_("enrollment"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
    )
    step_id = models.CharField(_("step"), max_length=64, blank=True)
    variant = models.CharField(_("variant"), max_length=64, blank=True)
    idempotency_key = models.CharField(_("idempotency key"), max_length=255, unique=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.QUEUED
    )
    status_reason = models.TextField(_("reason"), blank=True)
    attempts = models.PositiveSmallIntegerField(_("attempts"), default=0)
    #: Not before this time: quiet hours and retry back-off defer a message here.
    send_after = models.DateTimeField(_("send after"), null=True, blank=True)
    to_email = models.EmailField(_("to"), blank=True)
    #: SMS: the number it went to (E.164).
    to_phone = models.CharField(_("to phone"), max_length=32, blank=True)
    #: Push: the browser it went to.
    push_subscription = models.ForeignKey(
        "wagtail_journeys.PushSubscription",
        verbose_name=_("push subscription"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
    )
    sms_template = models.ForeignKey(
        "wagtail_journeys.SmsTemplate",
        verbose_name=_("SMS template"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
    )
    push_template = models.ForeignKey(
        "wagtail_journeys.PushTemplate",
        verbose_name=_("push template"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
    )
    #: SMS and push: the text as rendered for the contact when it was queued (what was sent).
    body = models.TextField(_("text"), blank=True)
    from_email = models.CharField(_("from"), max_length=320, blank=True)
    subject = models.CharField(_("subject"), max_length=998, blank=True)
    #: Every absolute URL in the sent message: the click redirect goes only to these.
    links = models.JSONField(_("links"), default=list, blank=True)
    esp_message_id = models.CharField(_("ESP message id"), max_length=255, blank=True)
    anymail_status = models.CharField(_("ESP status"), max_length=32, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    #: When a worker claimed it (status ``sending``).
    sending_at = models.DateTimeField(_("sending since"), null=True, blank=True)
    #: When it was handed to the provider. A claim never handed over is given
    #: back once ``SEND_CLAIM_TIMEOUT`` passes; a handed one whose outcome was
    #: lost stays ``sending`` and is reported, never sent again.
    handed_at = models.DateTimeField(_("handed to the provider"), null=True, blank=True)
    sent_at = models.DateTimeField(_("sent"), null=True, blank=True)
    first_opened_at = models.DateTimeField(_("first opened"), null=True, blank=True)
    first_clicked_at = models.DateTimeField(_("first clicked"), null=True, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        indexes = [
            models.Index(fields=["status", "send_after"], name="journeys_message_due_idx"),
            models.Index(fields=["contact", "sent_at"], name="journeys_message_cap_idx"),
            models.Index(fields=["esp_message_id"], name="journeys_message_esp_idx"),
        ]

    def __str__(self) -> str:
        to = self.to_email or self.to_phone or self.contact_id
        return f"{self.get_channel_display()} #{self.pk} to {to}"


class MessageEvent(Record):
    """Something that happened to a sent message: delivered, opened, clicked..."""

    class Kind(models.TextChoices):
        DELIVERED = "delivered", _("Delivered")
        DEFERRED = "deferred", _("Deferred")
        BOUNCED = "bounced", _("Bounced")
        REJECTED = "rejected", _("Rejected")
        COMPLAINED = "complained", _("Complained")
        OPENED = "opened", _("Opened")
        CLICKED = "clicked", _("Clicked")
        UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
        FAILED = "failed", _("Failed")
        CONVERTED = "converted", _("Converted")

    message = models.ForeignKey(
        Message, verbose_name=_("message"), on_delete=models.CASCADE, related_name="events"
    )
    kind = models.CharField(_("kind"), max_length=16, choices=Kind.choices)
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)
    url = models.URLField(_("URL"), max_length=2048, blank=True)
    #: Opened or clicked by software (privacy proxies, link scanners), not a person.
    machine = models.BooleanField(_("machine"), default=False)
    source = models.CharField(_("source"), max_length=32, blank=True)
    #: Identifies the report so that an ESP's retried webhook is stored once.
    dedupe_key = models.CharField(_("de-duplication key"), max_length=255, unique=True)
    detail = models.JSONField(_("detail"), default=dict, blank=True, encoder=DjangoJSONEncoder)

    class Meta:
        verbose_name = _("message event")
        verbose_name_plural = _("message events")
        indexes = [models.Index(fields=["message", "kind"], name="journeys_msgevent_kind_idx")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.message_id})"


class ConsentRecord(Record):
    """The audit trail of consent: what was given or withdrawn, when, how, from where."""

    class Method(models.TextChoices):
        FORM = "form", _("Form")
        DOUBLE_OPT_IN = "double_opt_in", _("Confirmed by email")
        PREFERENCE_CENTRE = "preference_centre", _("Preference centre")
        ONE_CLICK = "one_click", _("One-click unsubscribe")
        UNSUBSCRIBE_LINK = "unsubscribe_link", _("Unsubscribe link")
        ESP = "esp", _("Reported by the email provider")
        ADMIN = "admin", _("Admin")
        API = "api", _("Python API")
        IMPORT = "import", _("Import")
        JOURNEY = "journey", _("Journey step")

    contact = models.ForeignKey(
        "wagtail_journeys.Contact",
        verbose_name=_("contact"),
        on_delete=models.CASCADE,
        related_name="consent_records",
    )
    channel = models.CharField(_("channel"), max_length=16, default="email")
    topic = models.ForeignKey(
        Topic, verbose_name=_("topic"), null=True, blank=True, on_delete=models.SET_NULL
    )
    granted = models.BooleanField(_("granted"))
    method = models.CharField(_("method"), max_length=32, choices=Method.choices)
    source = models.CharField(_("source"), max_length=2048, blank=True)
    ip_address = models.GenericIPAddressField(_("IP address"), null=True, blank=True)
    created_at = models.DateTimeField(_("recorded"), default=timezone.now)
    detail = models.JSONField(_("detail"), default=dict, blank=True, encoder=DjangoJSONEncoder)

    class Meta:
        verbose_name = _("consent record")
        verbose_name_plural = _("consent records")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        verb = _("granted") if self.granted else _("withdrawn")
        return f"{self.channel} {verb} ({self.get_method_display()})"


#: The context value holding a signup's confirmation link.
CONFIRM_URL = "confirm_url"


def confirm_url_missing(template: EmailTemplate, *, in_signup_form: bool = True) -> str:
    """The error shown when the confirmation email ``template`` has no confirmation link.

    ``in_signup_form``: shown at the signup form's field, which can be left empty.
    """
    message = _(
        "“%(template)s” does not show {{ confirm_url }} in its body, so no one could confirm "
        "their signup. Add a button whose URL is {{ confirm_url }} (or put it in a text block)"
    ) % {"template": template}
    if in_signup_form:
        return message + _(", or leave this empty to send the built-in confirmation email.")
    return message + "."


class SignupForm(models.Model):
    """Makes a Wagtail form page a newsletter signup, with or without double opt-in."""

    page = models.OneToOneField(
        swapper.get_model_name("wagtailcore", "Page"),
        verbose_name=_("form page"),
        on_delete=models.CASCADE,
        related_name="+",
        help_text=_("Submissions of this form with an email address subscribe the contact."),
    )
    double_opt_in = models.BooleanField(
        _("double opt-in"),
        default=True,
        help_text=_("Send a confirmation email; subscribe only when its link is followed."),
    )
    topics = models.ManyToManyField(Topic, verbose_name=_("topics"), blank=True)
    confirmation_template = models.ForeignKey(
        EmailTemplate,
        verbose_name=_("confirmation email"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text=_("Empty: a plain built-in confirmation email. Use {{ confirm_url }} in it."),
    )

    class Meta:
        verbose_name = _("signup form")
        verbose_name_plural = _("signup forms")

    def __str__(self) -> str:
        return str(self.page)

    def clean(self):
        """Refuse a confirmation template without the confirmation link: no one could confirm."""
        super().clean()
        template = self.confirmation_template
        if not self.double_opt_in or template is None:
            return
        # What is sent is the template's latest revision (send_email pins it).
        body = template.get_latest_revision_as_object().body
        if not shows_merge_field(body, CONFIRM_URL):
            raise ValidationError({"confirmation_template": confirm_url_missing(template)})


class DiscountCode(Record):
    """A unique code generated for one contact by one discount block."""

    contact = models.ForeignKey(
        "wagtail_journeys.Contact",
        verbose_name=_("contact"),
        null=True,
        on_delete=models.SET_NULL,
        related_name="discount_codes",
    )
    block_id = models.CharField(_("block"), max_length=64)
    code = models.CharField(_("code"), max_length=64, unique=True)
    template = models.ForeignKey(
        EmailTemplate, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)

    class Meta:
        verbose_name = _("discount code")
        verbose_name_plural = _("discount codes")
        constraints = [
            models.UniqueConstraint(
                fields=["contact", "block_id"], name="journeys_discount_once_per_contact"
            )
        ]

    def __str__(self) -> str:
        return self.code
