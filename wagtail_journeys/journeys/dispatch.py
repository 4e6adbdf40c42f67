"""Reacting to events: start journeys, end them at goals, wake "wait until" steps.

An in-process index of the live journeys says whether an event can matter
(a trigger, an exit goal, a "wait until" step or a conversion names it), so
a page view that no journey cares about costs one dictionary look-up.

Each event that can matter goes through an outbox, so that no lost task
loses it: ``on_events_stored`` writes a ``PendingDispatch`` row in the
transaction that stores the event; once it commits, ``on_events_recorded``
queues ``dispatch_events`` through django-q2 (inline in sync mode), which
deletes the rows in the transaction that does the work. A task lost on the
way (a worker killed, a Redis restart, a broker that refused it) leaves its
rows behind, and the tick dispatches them again after
``DISPATCH_RETRY_SECONDS`` (``redispatch_pending``), and the trigger events
of the seconds after a publish, when another process's index may not have
known the journey yet (``catch_up_published``). Dispatching an event
twice changes nothing: an event enrolls once per journey, a goal ends an
enrollment once, an event wakes at most one wait and a message converts once.
"""

from __future__ import annotations

import logging
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.db import connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from wagtail_journeys.analytics.conversions import attribute_conversion
from wagtail_journeys.conf import get_setting
from wagtail_journeys.email.sending import batched_delivery
from wagtail_journeys.journeys.entry import try_enroll
from wagtail_journeys.journeys.interpreter import Runner
from wagtail_journeys.journeys.plan import build_plan, revision_plan
from wagtail_journeys.models import Enrollment, Event, Journey, PendingDispatch, StepRun
from wagtail_journeys.queue import enqueue
from wagtail_journeys.segments.rules import event_fits

logger = logging.getLogger(__name__)

DISPATCH_TASK = "wagtail_journeys.tasks.dispatch_events"
REDISPATCH_TASK = "wagtail_journeys.tasks.redispatch_events"
#: Events per dispatch task (and per transaction).
DISPATCH_BATCH = 100
#: How long a process trusts its index of live journeys (another process may publish).
INDEX_TTL = 5.0


@dataclass
class JourneyIndex:
    """The live journeys, by the event names they react to."""

    #: Event name → ids of the running journeys it triggers.
    triggers: dict[str, list[int]] = field(default_factory=dict)
    #: Event names of exit goals and "wait until" steps: contacts in journeys must be looked at.
    watched: set[str] = field(default_factory=set)
    #: Conversion event name → (journey id, window in days) of every journey counting it.
    conversions: dict[str, list[tuple[int, int]]] = field(default_factory=dict)

    def cares_about(self, name: str) -> bool:
        return name in self.triggers or name in self.watched or name in self.conversions


class _UnreadIndex(JourneyIndex):
    """Stands in when the live journeys cannot be read: every event may matter."""

    def cares_about(self, name: str) -> bool:
        return True


_index: tuple[float, JourneyIndex | None] = (0.0, None)


def forget_index(**kwargs) -> None:
    """Drop this process's index (a journey was published, paused or deleted)."""
    global _index
    _index = (0.0, None)


def _walk_steps(plan):
    for node in plan:
        if node.type == "wait_until" and node.value["wait_for"] == "event":
            yield node.value["event"].strip()


def journey_index() -> JourneyIndex:
    global _index
    expires, index = _index
    if index is not None and time.monotonic() < expires:
        return index
    index = JourneyIndex()
    # Paused journeys hold contacts who still reach goals; archived ones hold nobody.
    for journey in Journey.objects.filter(live=True).exclude(state=Journey.State.ARCHIVED):
        if journey.state == Journey.State.RUNNING:
            for name in trigger_names(journey):
                index.triggers.setdefault(name, []).append(journey.pk)
        for child in journey.goals:
            if child.block_type == "event":
                index.watched.add(child.block.event_name(child.value))
        index.watched.update(_walk_steps(build_plan(journey)))
    # Archived and paused journeys' emails still convert within their window.
    counted = Journey.objects.exclude(conversion_event="").values_list(
        "pk", "conversion_event", "conversion_days"
    )
    for pk, name, days in counted:
        index.conversions.setdefault(name, []).append((pk, days))
    _index = (time.monotonic() + INDEX_TTL, index)
    return index


def trigger_names(journey: Journey) -> set[str]:
    """The names of the events that start ``journey``."""
    return {child.block.event_name(child.value) for child in journey.trigger} - {None, ""}


def _index_for_storing() -> JourneyIndex:
    """The index, or, when it cannot be read, one that cares about every event.

    Read while an event is stored: a journey that fails to load (a database
    error, a broken plan) must not fail the page view or lose the event. Its
    events go through the outbox meanwhile, and the tick dispatches them.
    """
    try:
        return journey_index()
    except Exception:
        logger.exception("Could not read the live journeys; events go through the outbox")
        return _UnreadIndex()


def dispatches(name: str) -> bool:
    """Does some live journey react to events called ``name``?"""
    return _index_for_storing().cares_about(name)


def _cared_for(events, index: JourneyIndex) -> list[int]:
    """The ids of ``events`` some live journey reacts to (a contact's, by name)."""
    return [event.pk for event in events if event.contact_id and index.cares_about(event.name)]


def on_events_stored(sender, events, **kwargs) -> None:
    """``events_stored``: put those some live journey cares about in the outbox, in one INSERT.

    Runs in the transaction that stores the events (when there is one), so
    the rows commit with them or not at all.
    """
    now = timezone.now()
    pending = [
        PendingDispatch(event_id=pk, queued_at=now)
        for pk in _cared_for(events, _index_for_storing())
    ]
    if pending:
        PendingDispatch.objects.bulk_create(pending)


def on_events_recorded(sender, events, **kwargs) -> None:
    """Queue the dispatch of committed events that some live journey cares about.

    One task per ``DISPATCH_BATCH`` events of a transaction (a segment
    refresh or an import announces thousands at once).
    """
    try:
        index = journey_index()
    except Exception:
        # Stored with their outbox rows (_index_for_storing): the tick dispatches them.
        logger.exception("Could not read the live journeys")
        return
    ids = _cared_for(events, index)
    for start in range(0, len(ids), DISPATCH_BATCH):
        chunk = ids[start : start + DISPATCH_BATCH]
        try:
            enqueue(DISPATCH_TASK, chunk, group="wagtail_journeys.journeys")
        except Exception:
            # Their outbox rows stay: the tick dispatches them after DISPATCH_RETRY_SECONDS.
            logger.exception("Could not queue the dispatch of events %s", chunk)


def _claim(enrollment: Enrollment, now: datetime) -> bool:
    """Take an enrollment for this process, unless a tick's worker holds it."""
    lease = timedelta(seconds=int(get_setting("TICK_LEASE_SECONDS")))
    taken = (
        Enrollment.objects.filter(pk=enrollment.pk, status__in=Enrollment.IN_JOURNEY)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .update(claimed_until=now + lease, claim=uuid.uuid4().hex)
    )
    return bool(taken)


def _event_goal(journey, event) -> str:
    for child in journey.goals:
        if child.block_type != "event" or child.block.event_name(child.value) != event.name:
            continue
        if event_fits(event, child.block.event_filter(child.value)):
            return _("Goal reached: %(what)s.") % {"what": child.block.describe(child.value)}
    return ""


def _has_woken(enrollment: Enrollment, event) -> bool:
    """Did ``event`` already end a wait of ``enrollment``? (An event dispatched twice.)

    Without this, an event dispatched again would also end the next "wait
    until" step waiting for the same event.
    """
    return StepRun.objects.filter(
        enrollment=enrollment, step_type="wait_until", detail__event_id=event.pk
    ).exists()


def apply_to_enrollments(event, runner: Runner, *, only: int | None = None) -> None:
    """Goals end enrollments at once; a matching event wakes a "wait until" step.

    ``only`` limits this to one enrollment (the simulator's).
    """
    enrollments = (
        Enrollment.objects.filter(contact_id=event.contact_id, status__in=Enrollment.IN_JOURNEY)
        .select_related("revision", "contact")
        .order_by("pk")
    )
    if only is not None:
        enrollments = enrollments.filter(pk=only)
    for enrollment in enrollments:
        if enrollment.revision is None or enrollment.entered_at > event.occurred_at:
            continue
        journey, plan = revision_plan(enrollment.revision)
        reason = _event_goal(journey, event)
        node = plan.nodes.get(enrollment.current_step)
        wakes = (
            not reason
            and enrollment.status == Enrollment.Status.WAITING
            and node is not None
            and node.type == "wait_until"
            and node.block.event_matches(node.value, event)
            and not _has_woken(enrollment, event)
        )
        if not (reason or wakes) or not _claim(enrollment, runner.now):
            continue
        if reason:
            with transaction.atomic():
                runner.exit_for_goal(enrollment, reason)
                enrollment.claimed_until = None
                enrollment.save()
        elif Journey.objects.filter(pk=enrollment.journey_id, state=Journey.State.RUNNING).exists():
            runner.run(enrollment, event=event)
        else:
            # Paused: the event is found by the step when the journey resumes.
            Enrollment.objects.filter(pk=enrollment.pk).update(claimed_until=None)


def trigger_journeys(event, runner: Runner, journeys: dict[int, Journey] | None = None):
    """Enroll the event's contact in each running journey its trigger fires for.

    ``journeys`` caches the live journeys across the events of one batch.
    Returns the new enrollments.
    """
    journey_ids = journey_index().triggers.get(event.name, [])
    journeys = {} if journeys is None else journeys
    missing = [pk for pk in journey_ids if pk not in journeys]
    if missing:
        journeys.update(Journey.objects.filter(live=True).in_bulk(missing))
    entered = []
    for pk in sorted(journey_ids):
        journey = journeys.get(pk)
        if journey is None:
            continue
        fires = any(child.block.fires_on(child.value, event) for child in journey.trigger)
        if not fires:
            continue
        decision = try_enroll(
            journey,
            event.contact,
            now=runner.now,
            entry_key=f"event:{event.pk}",
            context={"event": event.name, "event_id": event.pk, **(event.properties or {})},
            reason=_("Triggered by %(event)s.") % {"event": event.name},
            runner=runner,
        )
        if decision:
            runner.run(decision.enrollment)
            entered.append(decision.enrollment)
    return entered


def _take_pending(event_ids: list[int]) -> list[int]:
    """Delete the outbox rows of ``event_ids``, in the caller's transaction; returns their ids.

    On PostgreSQL the rows stay locked until the caller commits, taken in id
    order: a tick skips them meanwhile, and a second dispatch of the same
    events waits for this one, then finds them gone.
    """
    rows = PendingDispatch.objects.filter(event_id__in=event_ids).order_by("pk")
    if connection.features.has_select_for_update:
        rows = rows.select_for_update()
    taken = list(rows.values_list("pk", flat=True))
    if taken:
        PendingDispatch.objects.filter(pk__in=taken).delete()
    return taken


def _dispatch(event_ids: list[int], now: datetime | None, pending_only: bool) -> dict[str, int]:
    runner = Runner(now=now)
    entered = 0
    index = journey_index()
    journeys: dict[int, Journey] = {}
    with transaction.atomic(), batched_delivery():
        taken = _take_pending(event_ids)
        events = (
            Event.objects.select_related("contact")
            .filter(pk__in=taken if pending_only else event_ids)
            .order_by("occurred_at", "pk")
        )
        for event in events:
            runner.now = now or max(timezone.now(), event.occurred_at)
            if event.name in index.watched:
                apply_to_enrollments(event, runner)
            if event.name in index.triggers:
                entered += len(trigger_journeys(event, runner, journeys))
            if event.name in index.conversions:
                attribute_conversion(event, index.conversions[event.name])
        runner.flush()
    return {"entered": entered, "steps": runner.stats["steps"], "undispatched": 0}


def dispatch_events(
    event_ids: list[int], *, now: datetime | None = None, pending_only: bool = False
) -> dict[str, int]:
    """Everything some events do to journeys: goals, woken waits, new enrollments.

    The events are handled in the order they happened, in one transaction
    (a savepoint per enrollment) that also takes them off the outbox, and
    the emails they queue are delivered in batches once it commits.
    ``pending_only`` skips the events no longer in the outbox (already
    dispatched): what the tick's re-dispatch asks for.

    If the batch fails, its events are dispatched one by one, so that one
    event that cannot be dispatched does not hold back the others; those
    that fail stay in the outbox (``undispatched`` counts them).
    """
    ids = list(event_ids)
    try:
        return _dispatch(ids, now, pending_only)
    except Exception:
        if len(ids) < 2:
            raise
        logger.exception("Dispatching %s events failed; dispatching them one by one", len(ids))
    totals = {"entered": 0, "steps": 0, "undispatched": 0}
    for event_id in ids:
        try:
            stats = _dispatch([event_id], now, pending_only)
        except Exception as error:
            logger.warning("Could not dispatch event %s: %r", event_id, error)
            totals["undispatched"] += 1
            continue
        totals["entered"] += stats["entered"]
        totals["steps"] += stats["steps"]
    return totals


def dispatch_event(event_id: int, *, now: datetime | None = None) -> dict[str, int]:
    """``dispatch_events`` for one event."""
    return dispatch_events([event_id], now=now)


def _claim_pending(now: datetime, cutoff: datetime) -> list[int]:
    """Take up to ``DISPATCH_BATCH`` outbox rows queued before ``cutoff``; returns their ids.

    They are stamped ``now``: the next sweep leaves them to their task for
    another grace period.
    """
    with transaction.atomic():
        due = PendingDispatch.objects.filter(queued_at__lte=cutoff).order_by("queued_at", "pk")
        if connection.features.has_select_for_update_skip_locked:
            # Rows a dispatch holds (or another tick took) are skipped, not waited for.
            due = due.select_for_update(skip_locked=True)
        ids = list(due.values_list("pk", flat=True)[:DISPATCH_BATCH])
        if ids:
            PendingDispatch.objects.filter(pk__in=ids).update(queued_at=now)
    return ids


def catch_up_published(now: datetime | None = None, *, inline: bool = False) -> int:
    """Dispatch the trigger events stored in the seconds after a journey was published.

    Every process trusts its journey index for ``INDEX_TTL`` seconds, so for
    that long after a publish another process may store a trigger event of
    the new journey with neither an outbox row nor a dispatch. Once that
    window has passed, the tick dispatches the window's trigger events whose
    contact the journey has not enrolled (again, for those it refused: that
    is harmless). It looks at the publishes of the last two tick periods, so
    one missed tick loses nothing. Returns how many events it dispatched.
    """
    now = now or timezone.now()
    window = timedelta(seconds=INDEX_TTL + 1)
    looked_at = timedelta(minutes=2 * max(1, int(get_setting("TICK_MINUTES"))))
    published = Journey.objects.filter(
        live=True,
        state=Journey.State.RUNNING,
        last_published_at__gt=now - window - looked_at,
        last_published_at__lte=now - window,
    )
    ids: set[int] = set()
    for journey in published:
        names = trigger_names(journey)
        start = journey.last_published_at
        missed = (
            Event.objects.filter(
                name__in=names, occurred_at__gte=start, occurred_at__lt=start + window
            )
            # Not those whose contact it enrolled (most: every process but the stale
            # ones), nor those still in the outbox (their own dispatch is coming).
            .exclude(
                Exists(
                    Enrollment.objects.filter(journey=journey, contact_id=OuterRef("contact_id"))
                )
            )
            .exclude(Exists(PendingDispatch.objects.filter(event_id=OuterRef("pk"))))
        )
        ids.update(missed.values_list("pk", flat=True))
    ordered = sorted(ids)
    for offset in range(0, len(ordered), DISPATCH_BATCH):
        batch = ordered[offset : offset + DISPATCH_BATCH]
        try:
            if inline:
                dispatch_events(batch, now=now)
            else:
                enqueue(DISPATCH_TASK, batch, group="wagtail_journeys.journeys")
        except Exception:
            # The next tick looks at the same publish again.
            logger.exception("Could not dispatch %s events of a new journey's trigger", len(batch))
    return len(ordered)


def redispatch_pending(now: datetime | None = None, *, inline: bool = False) -> int:
    """Dispatch again the events still in the outbox ``DISPATCH_RETRY_SECONDS`` after queueing.

    Their task was lost, refused by the broker, failed, or is still waiting
    behind others (dispatching it twice is harmless). Each batch of
    ``DISPATCH_BATCH`` becomes a django-q2 task, or runs here when
    ``inline``; its rows are stamped ``now``, so a batch lost again is
    retried after another grace period. Returns how many events were sent
    again.
    """
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=int(get_setting("DISPATCH_RETRY_SECONDS")))
    count = 0
    while ids := _claim_pending(now, cutoff):
        count += len(ids)
        if inline:
            try:
                dispatch_events(ids, now=now, pending_only=True)
            except Exception:
                # One event that cannot be dispatched must not stop the tick; it stays pending.
                logger.exception("Could not dispatch pending events %s", ids)
            continue

        try:
            enqueue(REDISPATCH_TASK, ids, group="wagtail_journeys.journeys")
        except Exception:
            # Still in the outbox: the next tick after the grace period tries again.
            logger.exception("Could not queue the dispatch of %s pending events", len(ids))
            break
    if count:
        # Not routine: tasks were lost, refused, failed or queued behind a long backlog.
        logger.warning("Dispatched %s pending events again", count)
    return count
