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


class PendingDispatch(Record):
    """An event some journey reacts to whose dispatch has not committed yet: the outbox.

    Written in the transaction that stores the event and deleted in the one
    that dispatches it, so an event whose django-q2 task was lost (a worker
    killed, a Redis restart, a broker that refused it) is still here, and the
    tick dispatches it again (``journeys.dispatch``).
    """

    # No database constraint and no cascade: a foreign key that cascades would make
    # Django's deletion collector load every event deleted (retention purges, erasure)
    # and delete them 100 at a time instead of in one statement. A row whose event is
    # gone is removed by the next sweep, which finds nothing to dispatch for it.
    event = models.OneToOneField(
        Event,
        verbose_name=_("event"),
        primary_key=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="+",
    )
    queued_at = models.DateTimeField(_("queued at"), default=timezone.now)

    class Meta:
        verbose_name = _("pending dispatch")
        verbose_name_plural = _("pending dispatches")
        indexes = [models.Index(fields=["queued_at"], name="journeys_pending_queued_idx")]

    def __str__(self) -> str:
        return f"event {self.event_id} queued {self.queued_at:%Y-%m-%d %H:%M:%S}"


class BeaconBatch(models.Model):
    """A batch of buffered beacons stored as events (``tracking.buffer``).

    Inserted in the transaction that stores the batch's events, before the
    batch leaves the Redis list: a drain that died in between finds it and
    removes the batch without storing it twice. Named after the batch's first
    beacon, which no later batch can start with; kept a day.
    """

    key = models.CharField(_("key"), max_length=32, primary_key=True)
    size = models.PositiveIntegerField(_("size"))
    stored_at = models.DateTimeField(_("stored at"), default=timezone.now, db_index=True)

    class Meta:
        verbose_name = _("beacon batch")
        verbose_name_plural = _("beacon batches")

    def __str__(self) -> str:
        return f"{self.size} beacons stored {self.stored_at:%Y-%m-%d %H:%M:%S}"
