"""Aggregates for the reports: daily counters kept up to date as things happen; A/B decisions."""

from __future__ import annotations

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from wagtail_journeys.models.records import Record


class DailyStat(Record):
    """How many times ``metric`` happened on ``day`` for one journey step, variant and template.

    Written by ``wagtail_journeys.analytics.counting`` in the transaction
    that stores what is counted (a step run, a sent message, an open), so
    the reports read a few hundred rows instead of counting millions.
    ``journeys_rebuild_stats`` computes the same rows from the raw records.
    Ids are plain integers (0: none), not foreign keys: the numbers outlive
    an erased contact, a deleted template or journey.
    """

    day = models.DateField(_("day"))
    journey_id = models.PositiveIntegerField(_("journey"), default=0)
    step_id = models.CharField(_("step"), max_length=64, blank=True)
    #: An email variant ("A", "B"...) or the branch id an A/B split sent the contact down.
    variant = models.CharField(_("variant"), max_length=64, blank=True)
    template_id = models.PositiveIntegerField(_("email template"), default=0)
    metric = models.CharField(_("metric"), max_length=32)
    #: What the metric is about, when it has a "which": a clicked URL, an exit reason.
    label = models.CharField(_("label"), max_length=300, blank=True)
    count = models.BigIntegerField(_("count"), default=0)
    amount = models.DecimalField(_("amount"), max_digits=18, decimal_places=2, default=0)

    class Meta:
        verbose_name = _("daily statistic")
        verbose_name_plural = _("daily statistics")
        constraints = [
            models.UniqueConstraint(
                fields=[
                    "day",
                    "journey_id",
                    "step_id",
                    "variant",
                    "template_id",
                    "metric",
                    "label",
                ],
                name="journeys_dailystat_key",
            )
        ]
        indexes = [
            models.Index(fields=["journey_id", "day"], name="journeys_stat_journey_idx"),
            models.Index(fields=["template_id", "day"], name="journeys_stat_template_idx"),
            models.Index(fields=["day", "metric"], name="journeys_stat_day_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.metric}: {self.count}"


class ABDecision(Record):
    """A winner promoted for an A/B test: from then on every contact gets it."""

    journey = models.ForeignKey(
        "wagtail_journeys.Journey",
        verbose_name=_("journey"),
        on_delete=models.CASCADE,
        related_name="ab_decisions",
    )
    step_id = models.CharField(_("step"), max_length=64)
    winner = models.CharField(_("winner"), max_length=64)
    winner_label = models.CharField(_("winner name"), max_length=255, blank=True)
    metric = models.CharField(_("metric"), max_length=32)
    confidence = models.FloatField(_("confidence"))
    #: The numbers the verdict was made from, per variant.
    detail = models.JSONField(_("detail"), default=dict, encoder=DjangoJSONEncoder)
    decided_at = models.DateTimeField(_("decided"), default=timezone.now)

    class Meta:
        verbose_name = _("A/B decision")
        verbose_name_plural = _("A/B decisions")
        constraints = [
            models.UniqueConstraint(fields=["journey", "step_id"], name="journeys_ab_decided_once")
        ]

    def __str__(self) -> str:
        return f"{self.journey}: {self.winner_label or self.winner} won"
