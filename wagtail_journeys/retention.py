"""Deleting raw events past their retention age; the report counters stay.

``EVENT_RETENTION_DAYS`` (default ``None``: keep everything) bounds how long
page views, clicks and the other raw events are kept. The tick runs the
purge at most once a day, in batches so that no transaction holds the
table for long; ``journeys_purge_events`` runs it by hand. What the reports
show comes from the daily counters (``DailyStat``), which are not events,
so the numbers of past days do not change. Segment rules and journey goals
that look further back than the retention age see only what is kept.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from wagtail_journeys.conf import get_setting
from wagtail_journeys.models import Event

#: Rows deleted per transaction.
PURGE_BATCH = 5000


def retention_cutoff(now: datetime | None = None) -> datetime | None:
    """Events older than this are deleted; None when events are kept forever."""
    days = get_setting("EVENT_RETENTION_DAYS")
    if days is None:
        return None
    return (now or timezone.now()) - timedelta(days=int(days))


def purge_events(now: datetime | None = None, *, limit: int | None = None) -> int:
    """Delete the events older than the retention age; returns how many were deleted.

    ``limit`` stops after about that many (the tick's share); the rest goes next time.
    """
    cutoff = retention_cutoff(now)
    if cutoff is None:
        return 0
    deleted = 0
    while limit is None or deleted < limit:
        take = PURGE_BATCH if limit is None else min(PURGE_BATCH, limit - deleted)
        ids = list(
            Event.objects.filter(occurred_at__lt=cutoff)
            .order_by("occurred_at")
            .values_list("pk", flat=True)[:take]
        )
        if not ids:
            break
        with transaction.atomic():
            deleted += Event.objects.filter(pk__in=ids).delete()[0]
    return deleted
