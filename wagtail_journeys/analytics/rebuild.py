"""Compute the daily counters again from the raw records (``journeys_rebuild_stats``).

For an installation upgraded from a version without counters, or after
counters were lost. The raw records of erased contacts are gone (their
step runs with them), so a rebuild counts less than the live counters,
which keep them.
"""

from __future__ import annotations

from decimal import Decimal

from django.db import transaction
from django.db.models import Count, F
from django.db.models.functions import Coalesce, TruncDate
from django.utils import timezone

from wagtail_journeys.analytics.conversions import conversion_value
from wagtail_journeys.analytics.counting import Tally, event_metric, message_metric, run_metric
from wagtail_journeys.email.links import without_token
from wagtail_journeys.models import DailyStat, Message, MessageEvent, StepRun


def _day(field: str) -> TruncDate:
    return TruncDate(field, tzinfo=timezone.get_current_timezone())


def _add(tally: Tally, metric: str, row: dict, **extra) -> None:
    key = tally_key(row["day"], metric, row, **extra)
    entry = tally.rows[key]
    entry[0] += row["n"]


def tally_key(day, metric: str, row: dict, *, label: str = "") -> tuple:
    return (
        day,
        row.get("journey") or row.get("journey_id") or 0,
        row.get("step_id") or "",
        row.get("variant") or "",
        row.get("template_key") or 0,
        metric,
        (label or "")[:300],
    )


_MESSAGE_KEY = {
    "journey": F("enrollment__journey_id"),
    "template_key": Coalesce("template_id", "sms_template_id", "push_template_id"),
}


def _step_runs(tally: Tally) -> None:
    labelled = {StepRun.Result.EXITED, StepRun.Result.GOAL}
    rows = (
        StepRun.objects.annotate(day=_day("at"), variant=F("branch"))
        .values("day", "journey_id", "step_id", "variant", "result", "reason")
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in rows:
        label = row["reason"] if row["result"] in labelled else ""
        _add(tally, run_metric(row["result"]), row, label=label)


def _messages(tally: Tally) -> None:
    for metric, status, field in (
        ("sent", Message.Status.SENT, "sent_at"),
        ("failed", Message.Status.FAILED, "created_at"),
    ):
        rows = (
            Message.objects.filter(status=status)
            .annotate(day=_day(field), **_MESSAGE_KEY)
            .values("day", "journey", "step_id", "variant", "template_key", "channel")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for row in rows:
            _add(tally, message_metric(metric, row["channel"]), row)
    for metric, field in (("opened", "first_opened_at"), ("clicked", "first_clicked_at")):
        rows = (
            Message.objects.filter(**{f"{field}__isnull": False})
            .annotate(day=_day(field), **_MESSAGE_KEY)
            .values("day", "journey", "step_id", "variant", "template_key", "channel")
            .annotate(n=Count("pk"))
            .order_by()
        )
        for row in rows:
            _add(tally, message_metric(metric, row["channel"]), row)


def _message_events(tally: Tally) -> None:
    rows = (
        MessageEvent.objects.exclude(kind=MessageEvent.Kind.CONVERTED)
        .annotate(
            day=_day("occurred_at"),
            journey=F("message__enrollment__journey_id"),
            step_id=F("message__step_id"),
            variant=F("message__variant"),
            template_key=Coalesce(
                "message__template_id",
                "message__sms_template_id",
                "message__push_template_id",
            ),
            channel=F("message__channel"),
        )
        .values(
            "day",
            "journey",
            "step_id",
            "variant",
            "template_key",
            "channel",
            "kind",
            "machine",
            "url",
        )
        .annotate(n=Count("pk"))
        .order_by()
    )
    for row in rows:
        metric = event_metric(row["kind"], row["machine"])
        if metric is not None:
            label = without_token(row["url"]) if metric == "clicks" else ""
            _add(tally, message_metric(metric, row["channel"]), row, label=label)
    conversions = MessageEvent.objects.filter(kind=MessageEvent.Kind.CONVERTED).annotate(
        journey=F("message__enrollment__journey_id"),
        step_id=F("message__step_id"),
        variant=F("message__variant"),
        template_key=Coalesce(
            "message__template_id", "message__sms_template_id", "message__push_template_id"
        ),
        channel=F("message__channel"),
    )
    fields = ("occurred_at", "journey", "step_id", "variant", "template_key", "channel", "detail")
    for row in conversions.values(*fields).iterator():
        metric = message_metric("converted", row["channel"])
        key = tally_key(timezone.localdate(row["occurred_at"]), metric, row)
        entry = tally.rows[key]
        entry[0] += 1
        entry[1] += conversion_value({"total": (row["detail"] or {}).get("amount")})


def rebuild() -> int:
    """Replace every counter with one computed from the raw records; returns the rows written."""
    tally = Tally()
    _step_runs(tally)
    _messages(tally)
    _message_events(tally)
    for entry in tally.rows.values():
        entry[1] = Decimal(entry[1])
    rows = len(tally.rows)
    with transaction.atomic():
        DailyStat.objects.all().delete()
        tally.save()
    return rows
