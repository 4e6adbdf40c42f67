"""Events: the append-only record of what each contact did."""

import swapper
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from wagtail_journeys.models.records import Record


class Event(Record):
    """One thing a contact did (or that happened to them), at one moment."""

    class Source(models.TextChoices):
        SERVER = "server", _("Server")
        BROWSER = "browser", _("Browser")
        PYTHON = "python", _("Python API")
        FORM = "form", _("Form")
        SYSTEM = "system", _("System")

    contact = models.ForeignKey(
        "wagtail_journeys.Contact",
        verbose_name=_("contact"),
        on_delete=models.CASCADE,
        related_name="events",
    )
    name = models.CharField(_("name"), max_length=64)
    occurred_at = models.DateTimeField(_("occurred at"), default=timezone.now)
    properties = models.JSONField(
        _("properties"), default=dict, blank=True, encoder=DjangoJSONEncoder
    )
    page = models.ForeignKey(
        swapper.get_model_name("wagtailcore", "Page"),
        verbose_name=_("page"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    path = models.CharField(_("path"), max_length=2048, blank=True)
    source = models.CharField(
        _("source"), max_length=16, choices=Source.choices, default=Source.PYTHON
    )

    class Meta:
        verbose_name = _("event")
        verbose_name_plural = _("events")
        indexes = [
            models.Index(
                fields=["contact", "name", "occurred_at"], name="journeys_event_contact_idx"
            ),
            models.Index(fields=["name", "occurred_at"], name="journeys_event_name_idx"),
            # A contact's timeline in the admin, newest first, a page at a time.
            models.Index(fields=["contact", "-occurred_at"], name="journeys_event_timeline_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.name} @ {self.occurred_at:%Y-%m-%d %H:%M:%S}"
