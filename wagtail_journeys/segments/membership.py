"""Materialised membership of dynamic segments, and the events its changes emit.

Membership is refreshed two ways:

- for one contact, just after one of their events commits, in every dynamic
  segment whose rules that event can affect (``refresh_contact``);
- for everyone, periodically, a segment at a time in batches of contact ids
  (``refresh_segment``), which also catches what time alone changes ("in the
  last 7 days") and edits made without an event.

Every change writes a ``segment_entered`` or ``segment_exited`` event (with
``segment_id`` and ``segment`` in its properties) that journeys can trigger on.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import datetime

from django.db import transaction
from django.db.models import F, Max, Min
from django.db.models.functions import Greatest
from django.utils import timezone

from wagtail_journeys.conf import get_setting
from wagtail_journeys.models import Contact, Event, Message, Segment, SegmentMembership
from wagtail_journeys.segments.compiling import CompileContext
from wagtail_journeys.segments.rules import ANY_EVENT
from wagtail_journeys.signals import announce_on_commit

logger = logging.getLogger(__name__)

ENTERED, EXITED = "segment_entered", "segment_exited"
#: Membership events never refresh segments themselves (a segment rule compiles inline).
_OWN_EVENTS = {ENTERED, EXITED}
#: Written by delivery for every message sent: they change the rules that name them (email
#: engagement), never what an "any event" rule checks again (fields, tags, journeys...).
_DELIVERY_EVENTS = {f"{channel}_sent" for channel in Message.Channel.values}
PREVIEW_SAMPLE = 10


@dataclass
class RefreshReport:
    """What a refresh changed."""

    entered: int = 0
    exited: int = 0
    members: int = 0
    seconds: float = 0.0


def _emit(segment: Segment, entered: list[int], exited: list[int], now: datetime) -> None:
    """Store the membership events and announce them once committed."""
    properties = {"segment_id": segment.pk, "segment": segment.name}
    events = [
        Event(
            contact_id=contact_id,
            name=name,
            occurred_at=now,
            source=Event.Source.SYSTEM,
            properties=properties,
        )
        for name, ids in ((ENTERED, entered), (EXITED, exited))
        for contact_id in ids
    ]
    created = Event.objects.bulk_create(events, batch_size=1000)
    announce_on_commit(created)


def _apply(segment: Segment, add: set[int], remove: set[int], now: datetime) -> None:
    # One transaction (the caller's, if any): the memberships, their events and the
    # events' rows in the journeys' dispatch outbox are stored together or not at all.
    with transaction.atomic(savepoint=False):
        SegmentMembership.objects.bulk_create(
            [SegmentMembership(segment=segment, contact_id=pk) for pk in sorted(add)],
            batch_size=1000,
            ignore_conflicts=True,
        )
        ordered = sorted(remove)
        for start in range(0, len(ordered), 1000):
            SegmentMembership.objects.filter(
                segment=segment, contact_id__in=ordered[start : start + 1000]
            ).delete()
        _emit(segment, sorted(add), ordered, now)


def add_members(segment: Segment, contact_ids, *, now: datetime | None = None) -> int:
    """Add contacts to a static segment (by hand, an import, a journey step); returns how many.

    Those already in it are left alone; each new member gets a
    ``segment_entered`` event, as a refresh gives.
    """
    ids = set(contact_ids)
    stored = set(
        SegmentMembership.objects.filter(segment=segment, contact_id__in=ids).values_list(
            "contact_id", flat=True
        )
    )
    new = ids - stored
    if new:
        _apply(segment, new, set(), now or timezone.now())
        Segment.objects.filter(pk=segment.pk).update(member_count=F("member_count") + len(new))
    return len(new)


def remove_members(segment: Segment, contact_ids, *, now: datetime | None = None) -> int:
    """Take contacts out of a static segment; returns how many were in it.

    Each one removed gets a ``segment_exited`` event.
    """
    ids = set(contact_ids)
    stored = set(
        SegmentMembership.objects.filter(segment=segment, contact_id__in=ids).values_list(
            "contact_id", flat=True
        )
    )
    if stored:
        _apply(segment, set(), stored, now or timezone.now())
        Segment.objects.filter(pk=segment.pk).update(
            member_count=Greatest(F("member_count") - len(stored), 0)
        )
    return len(stored)


def refresh_segment(segment: Segment, *, now: datetime | None = None) -> RefreshReport:
    """Bring a dynamic segment's stored members in line with its rules, for every contact.

    Contacts are taken in ranges of ``SEGMENT_REFRESH_BATCH`` ids: each range
    costs one query for who matches and one for who is stored, then the
    difference is written. A static segment only has its count updated.
    """
    started = time.perf_counter()
    now = now or timezone.now()
    report = RefreshReport()
    if segment.is_dynamic:
        condition = segment.condition(CompileContext(now=now))
        size = max(1, int(get_setting("SEGMENT_REFRESH_BATCH")))
        bounds = Contact.objects.aggregate(low=Min("pk"), high=Max("pk"))
        low = bounds["low"] or 0
        high = bounds["high"] or -1
        while low <= high:
            window = {"pk__gte": low, "pk__lt": low + size}
            matching = set(Contact.objects.filter(condition, **window).values_list("pk", flat=True))
            stored = set(
                SegmentMembership.objects.filter(
                    segment=segment, contact_id__gte=low, contact_id__lt=low + size
                ).values_list("contact_id", flat=True)
            )
            add, remove = matching - stored, stored - matching
            if add or remove:
                with transaction.atomic():
                    _apply(segment, add, remove, now)
            report.entered += len(add)
            report.exited += len(remove)
            low += size
    report.members = SegmentMembership.objects.filter(segment=segment).count()
    Segment.objects.filter(pk=segment.pk).update(member_count=report.members, refreshed_at=now)
    segment.member_count, segment.refreshed_at = report.members, now
    report.seconds = time.perf_counter() - started
    return report


def refresh_all(*, now: datetime | None = None) -> dict[str, RefreshReport]:
    """Refresh every segment (what the periodic schedule runs)."""
    reports = {}
    for segment in Segment.objects.order_by("pk"):
        try:
            reports[segment.name] = refresh_segment(segment, now=now)
        except Exception:
            # One broken segment must not stop the others.
            logger.exception("Refreshing segment %s failed", segment.pk)
    return reports


def can_change(event_name: str, depends_on) -> bool:
    """True if an event of this name can change a segment that depends on ``depends_on``."""
    if event_name in _OWN_EVENTS:
        return False
    if event_name in depends_on:
        return True
    return ANY_EVENT in depends_on and event_name not in _DELIVERY_EVENTS


def segments_affected_by(event_name: str | None) -> list[Segment]:
    """The dynamic segments whose membership an event of this name can change."""
    segments = Segment.objects.filter(kind=Segment.Kind.DYNAMIC).order_by("pk")
    if event_name is None:
        return list(segments)
    return [segment for segment in segments if can_change(event_name, segment.depends_on)]


def refresh_contact(
    contact_id: int, event_name: str | None = None, *, now: datetime | None = None
) -> RefreshReport:
    """Update one contact's membership of the segments ``event_name`` can affect (all if None)."""
    now = now or timezone.now()
    report = RefreshReport()
    for segment in segments_affected_by(event_name):
        ctx = CompileContext(now=now, contact_id=contact_id)
        inside = Contact.objects.filter(segment.condition(ctx), pk=contact_id).exists()
        stored = SegmentMembership.objects.filter(segment=segment, contact_id=contact_id).exists()
        if inside == stored:
            continue
        with transaction.atomic():
            _apply(
                segment, {contact_id} if inside else set(), set() if inside else {contact_id}, now
            )
            delta = 1 if inside else -1
            Segment.objects.filter(pk=segment.pk).update(
                member_count=Greatest(F("member_count") + delta, 0)
            )
        report.entered += inside
        report.exited += not inside
    return report


def preview(segment: Segment) -> dict:
    """The live count and a sample of members, for the editor (nothing is stored)."""
    from django.core.exceptions import ValidationError

    started = time.perf_counter()
    try:
        if segment.is_dynamic:
            members = Contact.objects.filter(segment.condition(CompileContext()))
        else:
            members = Contact.objects.filter(segment_memberships__segment_id=segment.pk)
        count = members.count()
        sample = list(members.order_by("-last_seen_at", "-pk")[:PREVIEW_SAMPLE])
    except (ValidationError, ValueError) as error:
        return {"error": str(error), "count": None, "sample": []}
    return {
        "count": count,
        "sample": sample,
        "total_contacts": Contact.objects.count(),
        "milliseconds": round((time.perf_counter() - started) * 1000),
    }
