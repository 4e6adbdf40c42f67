"""The tick: claim due enrollments in batches and run them; run the detectors.

Waiting enrollments keep ``next_run_at``; an index holds only the rows
where it is set, so a tick reads the due range of that index, whatever else
waits (cost grows with what is due, not with what waits). Claiming writes a
lease (``claimed_until``) and a claim id: a batch task runs only the rows
still carrying its claim, so a batch whose task was lost is claimed again
once the lease ends, and a stale task finds nothing to do. On PostgreSQL
the claim also uses ``FOR UPDATE SKIP LOCKED``, so ticks on several
machines at once take different rows.

The tick also dispatches again the events whose dispatch task was lost
(``dispatch.redispatch_pending``) and the trigger events stored just after a
publish (``dispatch.catch_up_published``).
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from wagtail_journeys.conf import get_setting
from wagtail_journeys.email.sending import batched_delivery
from wagtail_journeys.journeys import detectors
from wagtail_journeys.journeys.dispatch import catch_up_published, redispatch_pending
from wagtail_journeys.journeys.interpreter import Runner
from wagtail_journeys.models import Enrollment
from wagtail_journeys.queue import enqueue
from wagtail_journeys.schedules import ensure_schedule

logger = logging.getLogger(__name__)

RUN_TASK = "wagtail_journeys.tasks.run_enrollments"
TICK_TASK = "wagtail_journeys.tasks.tick"
SCHEDULE_NAME = "wagtail_journeys: tick"


@dataclass
class TickReport:
    claimed: int = 0
    batches: int = 0
    steps: int = 0
    failed: int = 0
    #: Events dispatched again (their first dispatch was lost).
    redispatched: int = 0
    #: Trigger events of just-published journeys dispatched again (``catch_up_published``).
    caught_up: int = 0
    detected: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return {
            "claimed": self.claimed,
            "batches": self.batches,
            "steps": self.steps,
            "failed": self.failed,
            "redispatched": self.redispatched,
            "caught_up": self.caught_up,
            **self.detected,
        }


def ensure_tick_schedule() -> None:
    """Create the repeating schedule that runs the tick every ``TICK_MINUTES``, if missing."""
    ensure_schedule(SCHEDULE_NAME, TICK_TASK, int(get_setting("TICK_MINUTES")))


def claim_due(now: datetime, size: int) -> tuple[list[int], str]:
    """Claim up to ``size`` due enrollments; returns their ids and the claim id."""
    lease = timedelta(seconds=int(get_setting("TICK_LEASE_SECONDS")))
    claim = uuid.uuid4().hex
    with transaction.atomic():
        due = (
            Enrollment.objects.filter(next_run_at__lte=now)
            .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
            .order_by("next_run_at")
        )
        if connection.features.has_select_for_update_skip_locked:
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[:size])
        if ids:
            Enrollment.objects.filter(pk__in=ids).update(claimed_until=now + lease, claim=claim)
    return ids, claim


def run_claimed(ids: list[int], claim: str, *, now: datetime | None = None) -> Runner:
    """Run the enrollments of one claim, in one transaction with a savepoint each."""
    runner = Runner(now=now)
    with transaction.atomic(), batched_delivery():
        rows = Enrollment.objects.filter(
            pk__in=ids,
            claim=claim,
            # Running an enrollment ends its lease: a batch run twice finds nothing left.
            claimed_until__isnull=False,
            # A pause moves next_run_at aside: a batch claimed before it waits for the resume.
            next_run_at__isnull=False,
        ).select_related("contact", "revision")
        if connection.features.has_select_for_update_of:
            # Wait, never skip: another transaction (a tick's claim scan, a pause) holds a
            # row of this claim only briefly. Locked in id order, so two lockers of the
            # same rows cannot deadlock each other.
            rows = rows.select_for_update(of=("self",)).order_by("pk")
        for enrollment in sorted(rows, key=lambda row: (row.next_run_at, row.pk)):
            runner.run(enrollment)
        runner.flush()
    return runner


def tick(
    *, now: datetime | None = None, inline: bool = False, limit: int | None = None
) -> TickReport:
    """One tick: detectors, events left in the dispatch outbox, then everything due.

    ``inline`` runs the batches here (``journeys_tick``, tests); otherwise
    each batch becomes a django-q2 task, so several workers share the work.
    ``now`` moves the clock (time travel in tests and the simulator).
    """
    now = now or timezone.now()
    report = TickReport(detected=detectors.detect_all(now))
    report.redispatched = redispatch_pending(now, inline=inline)
    report.caught_up = catch_up_published(now, inline=inline)
    size = max(1, int(get_setting("TICK_BATCH_SIZE")))
    while limit is None or report.claimed < limit:
        ids, claim = claim_due(now, size if limit is None else min(size, limit - report.claimed))
        if not ids:
            break
        report.claimed += len(ids)
        report.batches += 1
        if inline:
            runner = run_claimed(ids, claim, now=now)
            report.steps += runner.stats["steps"]
            report.failed += runner.stats["failed"]
            continue

        try:
            enqueue(RUN_TASK, ids, claim, group="wagtail_journeys.journeys")
        except Exception:
            # The lease runs out and a later tick claims these again.
            logger.exception("Could not queue a batch of %s enrollments", len(ids))
            break
    return report
