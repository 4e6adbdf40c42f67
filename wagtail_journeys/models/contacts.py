"""Contacts: every visitor, anonymous until they identify."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _
from taggit.managers import TaggableManager
from taggit.models import TaggedItemBase

from wagtail_journeys.models.records import Record


class ContactTag(TaggedItemBase, Record):
    content_object = models.ForeignKey(
        "wagtail_journeys.Contact", on_delete=models.CASCADE, related_name="tagged_items"
    )

    class Meta:
        verbose_name = _("contact tag")
        verbose_name_plural = _("contact tags")


class EmailFrequency(models.TextChoices):
    """How much marketing mail a contact wants (the preference centre's "fewer emails")."""

    NORMAL = "normal", _("All emails")
    FEWER = "fewer", _("Fewer emails")


class Contact(Record):
    """A person we know something about.

    Anonymous visitors are contacts without an email address; ``identify()``
    merges their history into the known contact when they give one.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Pending")
        SUBSCRIBED = "subscribed", _("Subscribed")
        UNSUBSCRIBED = "unsubscribed", _("Unsubscribed")
        BOUNCED = "bounced", _("Bounced")
        COMPLAINED = "complained", _("Complained")

    email = models.EmailField(_("email"), max_length=254, null=True, blank=True, unique=True)
    phone = models.CharField(_("phone"), max_length=32, blank=True)
    first_name = models.CharField(_("first name"), max_length=150, blank=True)
    last_name = models.CharField(_("last name"), max_length=150, blank=True)
    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name=_("user"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="journeys_contact",
    )
    timezone = models.CharField(_("timezone"), max_length=64, blank=True)
    locale = models.CharField(_("locale"), max_length=16, blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    custom_fields = models.JSONField(_("custom fields"), default=dict, blank=True)
    #: Consent per channel, e.g. ``{"email": true, "sms": false}``.
    consent = models.JSONField(_("consent"), default=dict, blank=True)
    tags = TaggableManager(through=ContactTag, blank=True)
    #: Topics the contact left in the preference centre.
    topics_left = models.ManyToManyField(
        "wagtail_journeys.Topic", verbose_name=_("topics left"), blank=True, related_name="+"
    )
    email_frequency = models.CharField(
        _("email frequency"),
        max_length=16,
        choices=EmailFrequency.choices,
        default=EmailFrequency.NORMAL,
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    last_seen_at = models.DateTimeField(_("last seen"), null=True, blank=True)
    last_engaged_at = models.DateTimeField(_("last engaged"), null=True, blank=True)

    class Meta:
        verbose_name = _("contact")
        verbose_name_plural = _("contacts")
        indexes = [models.Index(fields=["last_seen_at"], name="journeys_contact_seen_idx")]
        permissions = [
            ("export_contact", _("Can export a contact's personal data")),
            ("erase_contact", _("Can erase a contact's personal data")),
        ]

    def __str__(self) -> str:
        return self.email or _("Anonymous visitor #%(pk)s") % {"pk": self.pk}

    @property
    def is_suppressed(self) -> bool:
        """True when no marketing email may go to this contact."""
        return self.status in (
            self.Status.UNSUBSCRIBED,
            self.Status.BOUNCED,
            self.Status.COMPLAINED,
        )

    @property
    def is_anonymous(self) -> bool:
        """True until the contact has given an email address."""
        return not self.email

    @property
    def full_name(self) -> str:
        return " ".join(part for part in (self.first_name, self.last_name) if part)
