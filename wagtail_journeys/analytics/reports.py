"""Reading the counters: totals and rates per journey, step, variant, template, day and link.

Everything here reads ``DailyStat`` (a few rows per step and day), except
``waiting_now``, which counts the contacts at each step from an index.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

from django.db.models import Count, Sum
from django.utils import timezone

from wagtail_journeys.analytics.counting import run_metric
from wagtail_journeys.models import DailyStat, Enrollment, StepRun

R = StepRun.Result
#: Step results that mean the contact went past the step.
PASSED = tuple(run_metric(result) for result in (R.DONE, R.SENT, R.BRANCHED, R.SKIPPED, R.RESUMED))


def _rate(part: int, whole: int) -> float | None:
    return part / whole if whole else None


@dataclass
class Totals:
    """Counts by metric and the conversion revenue, with the rates the reports show.

    Rates are ``None`` when their base is zero (shown as "–", not 0 %). No
    ``__getitem__``: templates would find ``totals.entered`` through it first.
    """

    counts: Counter = field(default_factory=Counter)
    revenue: Decimal = Decimal(0)

    def count(self, metric: str) -> int:
        """The count of any metric (``run_branched``, ``clicks``...)."""
        return self.counts[metric]

    def add(self, metric: str, count: int, amount) -> None:
        self.counts[metric] += count
        self.revenue += Decimal(amount or 0)

    # What the editor reads ------------------------------------------------------------------

    @property
    def entered(self) -> int:
        return self.counts[run_metric(R.ENTERED)]

    @property
    def completed(self) -> int:
        return self.counts[run_metric(R.COMPLETED)]

    @property
    def exited(self) -> int:
        return self.counts[run_metric(R.EXITED)] + self.counts[run_metric(R.GOAL)]

    @property
    def failed_steps(self) -> int:
        return self.counts[run_metric(R.FAILED)]

    @property
    def passed(self) -> int:
        return sum(self.counts[metric] for metric in PASSED)

    @property
    def sent(self) -> int:
        return self.counts["sent"]

    @property
    def delivered(self) -> int:
        """Delivered as the ESP reported it; without delivery reports, sent minus bounced."""
        return self.counts["delivered"] or max(self.sent - self.bounced, 0)

    @property
    def opened(self) -> int:
        return self.counts["opened"]

    @property
    def clicked(self) -> int:
        return self.counts["clicked"]

    @property
    def converted(self) -> int:
        return self.counts["converted"]

    @property
    def machine_opens(self) -> int:
        return self.counts["machine_opens"]

    @property
    def clicks(self) -> int:
        """Every human click (``clicked`` counts messages clicked at least once)."""
        return self.counts["clicks"]

    @property
    def unsubscribed(self) -> int:
        return self.counts["unsubscribed"]

    @property
    def bounced(self) -> int:
        return self.counts["bounced"]

    @property
    def complained(self) -> int:
        return self.counts["complained"]

    @property
    def open_rate(self):
        return _rate(self.opened, self.delivered)

    @property
    def click_rate(self):
        return _rate(self.clicked, self.delivered)

    @property
    def click_to_open(self):
        return _rate(self.clicked, self.opened)

    @property
    def conversion_rate(self):
        return _rate(self.converted, self.delivered)

    @property
    def unsubscribe_rate(self):
        return _rate(self.unsubscribed, self.delivered)

    @property
    def bounce_rate(self):
        return _rate(self.bounced, self.sent)

    @property
    def complaint_rate(self):
        return _rate(self.complained, self.delivered)


def default_range(days: int = 30) -> tuple[date, date]:
    """The last ``days`` days, today included."""
    today = timezone.localdate()
    return today - timedelta(days=days - 1), today


def _rows(start: date | None, end: date | None, **filters):
    rows = DailyStat.objects.filter(**filters)
    if start is not None:
        rows = rows.filter(day__gte=start)
    if end is not None:
        rows = rows.filter(day__lte=end)
    return rows


def totals(start=None, end=None, **filters) -> Totals:
    """All the counters matching ``filters`` (``journey_id=``, ``template_id=``...) summed."""
    result = Totals()
    summed = (
        _rows(start, end, **filters)
        .values("metric")
        .annotate(n=Sum("count"), amount=Sum("amount"))
        .order_by()
    )
    for row in summed:
        result.add(row["metric"], row["n"], row["amount"])
    return result


def totals_by(key: str, start=None, end=None, **filters) -> dict[str, Totals]:
    """``totals`` grouped by a key column (``step_id``, ``variant``, ``template_id``, ``day``)."""
    result: dict = defaultdict(Totals)
    summed = (
        _rows(start, end, **filters)
        .values(key, "metric")
        .annotate(n=Sum("count"), amount=Sum("amount"))
        .order_by()
    )
    for row in summed:
        result[row[key]].add(row["metric"], row["n"], row["amount"])
    return dict(result)


def daily(start: date, end: date, **filters) -> list[tuple[date, Totals]]:
    """One ``Totals`` per day from ``start`` to ``end``, days without anything included."""
    by_day = totals_by("day", start, end, **filters)
    days = (end - start).days + 1
    return [
        (start + timedelta(days=n), by_day.get(start + timedelta(days=n), Totals()))
        for n in range(days)
    ]


def exit_reasons(journey_id: int, start=None, end=None) -> list[tuple[str, int]]:
    """Why contacts left before the end (exit steps, goals, archiving...), most frequent first."""
    rows = (
        _rows(
            start,
            end,
            journey_id=journey_id,
            metric__in=[run_metric(R.EXITED), run_metric(R.GOAL)],
        )
        .values("label")
        .annotate(n=Sum("count"))
        .order_by("-n", "label")
    )
    return [(row["label"], row["n"]) for row in rows]


def link_clicks(start=None, end=None, **filters) -> list[tuple[str, int]]:
    """Human clicks per URL, most clicked first."""
    rows = (
        _rows(start, end, metric="clicks", **filters)
        .values("label")
        .annotate(n=Sum("count"))
        .order_by("-n", "label")
    )
    return [(row["label"], row["n"]) for row in rows]


def waiting_now(journey_id: int) -> dict[str, int]:
    """How many contacts are at each step of the journey now (index-only count)."""
    rows = (
        Enrollment.objects.filter(journey_id=journey_id, status__in=Enrollment.IN_JOURNEY)
        .values("current_step")
        .annotate(n=Count("pk"))
        .order_by()
    )
    return {row["current_step"]: row["n"] for row in rows}


def in_journey_now(journey_ids=None) -> dict[int, int]:
    """Contacts in each journey now."""
    rows = Enrollment.objects.filter(status__in=Enrollment.IN_JOURNEY)
    if journey_ids is not None:
        rows = rows.filter(journey_id__in=list(journey_ids))
    rows = rows.values("journey_id").annotate(n=Count("pk")).order_by()
    return {row["journey_id"]: row["n"] for row in rows}
