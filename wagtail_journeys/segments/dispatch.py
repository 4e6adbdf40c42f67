"""After an event commits, refresh its contact's membership of the segments it can affect."""

from __future__ import annotations

import logging
import time

from django.db import DatabaseError

from wagtail_journeys.conf import get_setting
from wagtail_journeys.queue import enqueue
from wagtail_journeys.schedules import ensure_schedule

logger = logging.getLogger(__name__)

REFRESH_CONTACT_TASK = "wagtail_journeys.tasks.refresh_contact_segments"
REFRESH_ALL_TASK = "wagtail_journeys.tasks.refresh_segments"
SCHEDULE_NAME = "wagtail_journeys: refresh segments"
#: How long a process trusts its list of what dynamic segments depend on.
DEPENDENCIES_TTL = 30.0

_dependencies: tuple[float, set[str]] = (0.0, set())


def forget_dependencies(**kwargs) -> None:
    """Drop this process's list (a segment was saved or deleted)."""
    global _dependencies
    _dependencies = (0.0, set())


def on_segment_saved(sender, instance, **kwargs) -> None:
    """A saved dynamic segment: new dependencies, and the periodic refresh must exist."""
    forget_dependencies()
    if instance.is_dynamic:
        ensure_refresh_schedule()


def _event_names() -> set[str]:
    """Every event name some dynamic segment depends on, cached for a few seconds.

    Read on every event: one query per ``DEPENDENCIES_TTL`` instead of one
    per page view. Another process's new segment is seen within that time,
    and the periodic refresh covers the gap.
    """
    global _dependencies
    expires, names = _dependencies
    if time.monotonic() < expires:
        return names
    from wagtail_journeys.models import Segment

    names = set()
    for depends_on in Segment.objects.filter(kind=Segment.Kind.DYNAMIC).values_list(
        "depends_on", flat=True
    ):
        names.update(depends_on)
    _dependencies = (time.monotonic() + DEPENDENCIES_TTL, names)
    return names


def on_event_recorded(sender, event, **kwargs) -> None:
    """Queue a membership refresh for the event's contact if a segment can change."""
    if event.contact_id is None or not get_setting("SEGMENT_REFRESH_ON_EVENT"):
        return
    from wagtail_journeys.segments.membership import can_change

    try:
        names = _event_names()
    except DatabaseError:
        logger.exception("Could not read the segments' dependencies")
        return
    if not can_change(event.name, names):
        return

    try:
        enqueue(
            REFRESH_CONTACT_TASK, event.contact_id, event.name, group="wagtail_journeys.segments"
        )
    except Exception:
        # The periodic refresh catches up.
        logger.exception("Could not queue the segment refresh of contact %s", event.contact_id)


def ensure_refresh_schedule() -> None:
    """Create the repeating schedule that refreshes every segment, if missing."""
    ensure_schedule(SCHEDULE_NAME, REFRESH_ALL_TASK, int(get_setting("SEGMENT_REFRESH_MINUTES")))
