"""A contact's timeline: events, messages and step runs merged, newest first, a page at a time."""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from django.db.models import Q

from wagtail_journeys.models import Contact, Event, Message, StepRun

#: Timeline entries per page.
TIMELINE_PAGE_SIZE = 50
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


@dataclass
class TimelineEntry:
    """One event, message or step run, placed on the contact's timeline."""

    kind: str
    at: datetime
    item: Any
    rank: int

    @property
    def key(self) -> tuple[datetime, int, int]:
        return (self.at, self.rank, self.item.pk)

    @property
    def cursor(self) -> str:
        """This entry's place, for the ``before`` parameter of the next page."""
        micros = (self.at - _EPOCH) // timedelta(microseconds=1)
        return f"{micros}.{self.rank}.{self.item.pk}"


#: (kind, time field, the contact's rows): the rank of a kind is its index here.
TIMELINE_SOURCES = (
    ("event", "occurred_at", lambda contact: Event.objects.filter(contact=contact)),
    (
        "message",
        "created_at",
        lambda contact: Message.objects.filter(contact=contact).select_related("template"),
    ),
    (
        "step",
        "at",
        lambda contact: StepRun.objects.filter(enrollment__contact=contact).select_related(
            "journey"
        ),
    ),
)


def parse_cursor(value: str | None) -> tuple[datetime, int, int] | None:
    """The ``(time, rank, pk)`` of a ``before`` parameter, or None for the newest entries."""
    try:
        micros, rank, pk = (int(part) for part in (value or "").split("."))
        return _EPOCH + timedelta(microseconds=micros), rank, pk
    except (ValueError, OverflowError):
        return None


def timeline(
    contact: Contact, before: tuple[datetime, int, int] | None, size: int = TIMELINE_PAGE_SIZE
) -> tuple[list[TimelineEntry], bool]:
    """The contact's newest ``size`` entries older than ``before``, and whether more remain.

    Entries are ordered by (time, kind, id), newest first; each kind costs
    one query of at most ``size + 1`` rows, whatever the length of the history.
    """
    streams = []
    for rank, (kind, field, rows) in enumerate(TIMELINE_SOURCES):
        queryset = rows(contact)
        if before is not None:
            at, cursor_rank, pk = before
            if rank < cursor_rank:
                queryset = queryset.filter(**{f"{field}__lte": at})
            elif rank > cursor_rank:
                queryset = queryset.filter(**{f"{field}__lt": at})
            else:
                queryset = queryset.filter(
                    Q(**{f"{field}__lt": at}) | Q(**{field: at, "pk__lt": pk})
                )
        page = queryset.order_by(f"-{field}", "-pk")[: size + 1]
        streams.append([TimelineEntry(kind, getattr(item, field), item, rank) for item in page])
    merged = list(heapq.merge(*streams, key=lambda entry: entry.key, reverse=True))
    return merged[:size], len(merged) > size
