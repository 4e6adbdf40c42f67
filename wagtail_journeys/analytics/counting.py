"""Keeping the daily counters (``DailyStat``) up to date where things happen.

Every place that stores something the reports count (a step run, a sent
message, an open, a click, a conversion) adds it to a ``Tally`` and saves
the tally in the same transaction: one ``INSERT ... ON CONFLICT DO UPDATE``
per batch, which SQLite and PostgreSQL both run. A batch of a hundred step
runs costs one statement, and the counters are exact: they commit or roll
back with what they count.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from decimal import Decimal

from django.db import connections, router
from django.utils import timezone

from wagtail_journeys.email.links import without_token
from wagtail_journeys.models import DailyStat, Enrollment, MessageEvent, StepRun

#: Rows per statement: 9 parameters each, well under SQLite's limit.
_ROWS_PER_STATEMENT = 500
#: Step results whose reason is kept as the label (a handful of distinct texts).
_LABELLED_RESULTS = frozenset({StepRun.Result.EXITED, StepRun.Result.GOAL})
#: The metric a stored MessageEvent counts for: (kind, by a machine) → metric.
_EVENT_METRICS = {
    (MessageEvent.Kind.DELIVERED, False): "delivered",
    (MessageEvent.Kind.BOUNCED, False): "bounced",
    (MessageEvent.Kind.REJECTED, False): "rejected",
    (MessageEvent.Kind.COMPLAINED, False): "complained",
    (MessageEvent.Kind.UNSUBSCRIBED, False): "unsubscribed",
    (MessageEvent.Kind.CONVERTED, False): "converted",
    # Reported after sending (an SMS the carrier could not deliver).
    (MessageEvent.Kind.FAILED, False): "undelivered",
    (MessageEvent.Kind.OPENED, False): "opens",
    (MessageEvent.Kind.OPENED, True): "machine_opens",
    (MessageEvent.Kind.CLICKED, False): "clicks",
    (MessageEvent.Kind.CLICKED, True): "machine_clicks",
}


def run_metric(result: str) -> str:
    """The metric that counts step runs with ``result``."""
    return f"run_{result}"


def message_metric(metric: str, channel: str) -> str:
    """``metric`` for a message of ``channel``: ``sent`` for email, ``sms_sent`` for SMS...

    Each channel is counted apart, so that an SMS does not lower the open rate.
    """
    return metric if channel in ("", "email") else f"{channel}_{metric}"


def event_metric(kind: str, machine: bool) -> str | None:
    """The metric a MessageEvent of ``kind`` counts for (None: not counted)."""
    return _EVENT_METRICS.get((kind, bool(machine)))


class Tally:
    """Counts to add to the daily counters, saved in one statement per 500 rows."""

    def __init__(self):
        self.rows: dict[tuple, list] = defaultdict(lambda: [0, Decimal(0)])

    def add(
        self,
        metric: str,
        at: datetime,
        *,
        journey_id: int | None = 0,
        step_id: str = "",
        variant: str = "",
        template_id: int | None = 0,
        label: str = "",
        count: int = 1,
        amount: Decimal | int = 0,
    ) -> None:
        key = (
            timezone.localdate(at),
            journey_id or 0,
            step_id or "",
            variant or "",
            template_id or 0,
            metric,
            (label or "")[:300],
        )
        row = self.rows[key]
        row[0] += count
        row[1] += Decimal(amount)

    def add_message(self, metric: str, message, at: datetime, journey_id: int | None, **kwargs):
        """Count ``metric`` for a message: its journey, step, variant and template."""
        self.add(
            message_metric(metric, message.channel),
            at,
            journey_id=journey_id,
            step_id=message.step_id,
            variant=message.variant,
            # The email, SMS or push template: the metric's channel says which table.
            template_id=message.template_id or message.sms_template_id or message.push_template_id,
            **kwargs,
        )

    def save(self) -> None:
        """Add the counts to the counters (in the caller's transaction)."""
        if not self.rows:
            return
        using = router.db_for_write(DailyStat)
        connection = connections[using]
        quote = connection.ops.quote_name
        table = quote(DailyStat._meta.db_table)
        keys = ["day", "journey_id", "step_id", "variant", "template_id", "metric", "label"]
        columns = ", ".join(quote(name) for name in [*keys, "count", "amount"])
        conflict = ", ".join(quote(name) for name in keys)
        count, amount = quote("count"), quote("amount")
        items = list(self.rows.items())
        with connection.cursor() as cursor:
            for start in range(0, len(items), _ROWS_PER_STATEMENT):
                chunk = items[start : start + _ROWS_PER_STATEMENT]
                values = ", ".join(["(%s, %s, %s, %s, %s, %s, %s, %s, %s)"] * len(chunk))
                params = []
                for (day, *rest), (number, total) in chunk:
                    params += [
                        connection.ops.adapt_datefield_value(day),
                        *rest,
                        number,
                        connection.ops.adapt_decimalfield_value(total, 18, 2),
                    ]
                cursor.execute(
                    f"INSERT INTO {table} ({columns}) VALUES {values} "
                    f"ON CONFLICT ({conflict}) DO UPDATE SET "
                    f"{count} = {table}.{count} + excluded.{count}, "
                    f"{amount} = {table}.{amount} + excluded.{amount}",
                    params,
                )
        self.rows.clear()


def count_step_runs(runs: Iterable[StepRun], tally: Tally) -> None:
    for run in runs:
        tally.add(
            run_metric(run.result),
            run.at,
            journey_id=run.journey_id,
            step_id=run.step_id,
            variant=run.branch,
            label=run.reason if run.result in _LABELLED_RESULTS else "",
        )


def save_step_runs(runs: list[StepRun]) -> None:
    """Insert step runs and count them, in the caller's transaction."""
    if not runs:
        return
    StepRun.objects.bulk_create(runs, batch_size=1000)
    tally = Tally()
    count_step_runs(runs, tally)
    tally.save()


def journeys_of(messages) -> dict[int, int]:
    """Enrollment id → journey id, for the messages that a journey sent (one query)."""
    ids = {message.enrollment_id for message in messages if message.enrollment_id}
    if not ids:
        return {}
    return dict(Enrollment.objects.filter(pk__in=ids).values_list("pk", "journey_id"))


def journey_of(message) -> int:
    if not message.enrollment_id:
        return 0
    return journeys_of([message]).get(message.enrollment_id, 0)


def count_message_event(event: MessageEvent, message, *, amount: Decimal | int = 0) -> None:
    """Count a MessageEvent that was just stored (duplicates never get here)."""
    metric = event_metric(event.kind, event.machine)
    if metric is None:
        return
    tally = Tally()
    tally.add_message(
        metric,
        message,
        event.occurred_at,
        journey_of(message),
        label=without_token(event.url) if metric == "clicks" else "",
        amount=amount,
    )
    tally.save()


def count_first(metric: str, message, at: datetime) -> None:
    """Count a message's first human open (``opened``) or click (``clicked``)."""
    tally = Tally()
    tally.add_message(metric, message, at, journey_of(message))
    tally.save()
