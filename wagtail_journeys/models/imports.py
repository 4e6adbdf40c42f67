"""Contact imports: a CSV file uploaded into a static segment, processed by a task."""

from django.conf import settings
from django.db import models
from django.utils.translation import gettext_lazy as _

from wagtail_journeys.models.records import Record


class SegmentImport(Record):
    """One CSV file of contacts being added to a static segment, with its progress and errors.

    The file's text is kept only until the import finishes: it holds personal
    data, and the report (counts and the rows refused) is all that is needed
    afterwards.
    """

    class Status(models.TextChoices):
        PENDING = "pending", _("Waiting")
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    segment = models.ForeignKey(
        "wagtail_journeys.Segment",
        verbose_name=_("segment"),
        on_delete=models.CASCADE,
        related_name="imports",
    )
    filename = models.CharField(_("file name"), max_length=255, blank=True)
    contents = models.TextField(_("contents"), blank=True)
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.PENDING
    )
    total_rows = models.PositiveIntegerField(_("rows"), default=0)
    processed_rows = models.PositiveIntegerField(_("rows processed"), default=0)
    created_count = models.PositiveIntegerField(_("contacts created"), default=0)
    updated_count = models.PositiveIntegerField(_("contacts updated"), default=0)
    added_count = models.PositiveIntegerField(_("members added"), default=0)
    error_count = models.PositiveIntegerField(_("rows refused"), default=0)
    #: The first rows refused: ``{"row": 7, "value": "bob@", "reason": "…"}`` each.
    errors = models.JSONField(_("errors"), default=list, blank=True)
    #: Why the whole import failed, when it did.
    failure = models.TextField(_("failure"), blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    created_at = models.DateTimeField(_("created"), auto_now_add=True)
    updated_at = models.DateTimeField(_("updated"), auto_now=True)
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)

    class Meta:
        verbose_name = _("segment import")
        verbose_name_plural = _("segment imports")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.filename or f"Import #{self.pk}"

    @property
    def is_finished(self) -> bool:
        return self.status in (self.Status.DONE, self.Status.FAILED)
