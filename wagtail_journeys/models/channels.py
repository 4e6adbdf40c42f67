"""SMS and web push: the templates editors write and the browsers that agreed to notifications."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.contrib.contenttypes.fields import GenericRelation
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail.models import PreviewableMixin, RevisionMixin

from wagtail_journeys.email import merge
from wagtail_journeys.models.messages import Kind
from wagtail_journeys.models.records import Record

KIND_HELP = _(
    "Marketing messages need the contact's consent to this channel and count towards its "
    "frequency cap; transactional ones (order updates) do not."
)


class ChannelTemplate(PreviewableMixin, RevisionMixin, models.Model):
    """What SMS and push templates share: a name, a kind, revisions and a preview."""

    name = models.CharField(_("name"), max_length=255)
    kind = models.CharField(
        _("kind"), max_length=16, choices=Kind.choices, default=Kind.MARKETING, help_text=KIND_HELP
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)

    #: The fields whose merge fields are checked when the editor saves.
    merge_fields: tuple[str, ...] = ()

    class Meta:
        abstract = True
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def revisions(self):
        return self._revisions

    def clean(self):
        super().clean()
        errors = {
            name: problems
            for name in self.merge_fields
            if (problems := merge.errors(getattr(self, name)))
        }
        if errors:
            raise ValidationError(errors)


def _is_web_address(value: str) -> bool:
    """A path on this site or an http(s) URL: what a notification may open or show."""
    if value.startswith("/") and not value.startswith("//"):
        return True
    return urlsplit(value).scheme in ("http", "https") and bool(urlsplit(value).netloc)


class SmsTemplate(ChannelTemplate):
    """A text message with merge fields (``{{ contact.first_name }}``)."""

    body = models.TextField(
        _("text"),
        help_text=_(
            "Merge fields work: {{ contact.first_name }}, {{ context.order_ref }}. Long texts "
            "are sent as several SMS segments, each billed."
        ),
    )
    _revisions = GenericRelation("wagtailcore.Revision", related_query_name="sms_template")

    merge_fields = ("body",)

    class Meta(ChannelTemplate.Meta):
        verbose_name = _("SMS template")
        verbose_name_plural = _("SMS templates")

    def clean(self):
        # Browsers submit line breaks as CRLF: two characters each in an SMS, for nothing.
        self.body = self.body.replace("\r\n", "\n").replace("\r", "\n")
        super().clean()

    def get_preview_template(self, request, mode_name):
        return "wagtail_journeys/channels/sms_preview.html"

    def get_preview_context(self, request, mode_name):
        from wagtail_journeys.channels.previews import sms_preview_context

        context = super().get_preview_context(request, mode_name)
        return {**context, **sms_preview_context(self, request)}


class PushTemplate(ChannelTemplate):
    """A web push notification: a title, a short text, an icon and the page a click opens."""

    title = models.CharField(_("title"), max_length=100, help_text=_("Merge fields work here."))
    body = models.CharField(_("text"), max_length=300, help_text=_("Merge fields work here."))
    icon = models.CharField(
        _("icon URL"), max_length=500, blank=True, help_text=_("Empty: the site's default icon.")
    )
    url = models.CharField(
        _("link"),
        max_length=500,
        help_text=_("The page a click opens: a path on this site (/shop/) or a full URL."),
    )
    _revisions = GenericRelation("wagtailcore.Revision", related_query_name="push_template")

    merge_fields = ("title", "body")

    class Meta(ChannelTemplate.Meta):
        verbose_name = _("push template")
        verbose_name_plural = _("push templates")

    def clean(self):
        errors = {}
        for name in ("url", "icon"):
            value = getattr(self, name).strip()
            setattr(self, name, value)
            if value and not _is_web_address(value):
                errors[name] = _("Give a path on this site (/shop/) or an http(s) address.")
        try:
            super().clean()
        except ValidationError as error:
            errors.update(error.message_dict)
        if errors:
            raise ValidationError(errors)

    def get_preview_template(self, request, mode_name):
        return "wagtail_journeys/channels/push_preview.html"

    def get_preview_context(self, request, mode_name):
        from wagtail_journeys.channels.previews import push_preview_context

        context = super().get_preview_context(request, mode_name)
        return {**context, **push_preview_context(self, request)}


class PushSubscription(Record):
    """One browser that agreed to notifications (the Push API's subscription)."""

    contact = models.ForeignKey(
        "wagtail_journeys.Contact",
        verbose_name=_("contact"),
        on_delete=models.CASCADE,
        related_name="push_subscriptions",
    )
    endpoint = models.URLField(_("endpoint"), max_length=1000, unique=True)
    p256dh = models.CharField(_("public key"), max_length=200)
    auth = models.CharField(_("auth secret"), max_length=100)
    user_agent = models.CharField(_("browser"), max_length=512, blank=True)
    active = models.BooleanField(
        _("active"), default=True, help_text=_("Off once the push service said it is gone.")
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    last_sent_at = models.DateTimeField(_("last sent"), null=True, blank=True)

    class Meta:
        verbose_name = _("push subscription")
        verbose_name_plural = _("push subscriptions")
        indexes = [models.Index(fields=["contact", "active"], name="journeys_push_contact_idx")]

    def __str__(self) -> str:
        return f"{self.contact} ({self.user_agent[:40] or self.endpoint[:40]})"

    def as_webpush(self) -> dict:
        """The subscription as the Push API gives it (pywebpush's ``subscription_info``)."""
        return {"endpoint": self.endpoint, "keys": {"p256dh": self.p256dh, "auth": self.auth}}
