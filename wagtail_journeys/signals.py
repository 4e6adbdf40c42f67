"""Signals sent by wagtail-journeys, and the one way events are announced."""

from __future__ import annotations

from django.db import transaction
from django.dispatch import Signal

#: Sent once an event is committed to the database. Arguments: ``event``
#: (an ``Event``). Receivers run after the transaction that stored it, so they
#: never see an event that was rolled back.
event_recorded = Signal()

#: Sent after ``event_recorded`` for events stored together (one ``track()``,
#: a segment refresh's ``segment_entered`` events, a delivery batch's
#: ``email_sent``). Arguments: ``events`` (a list of ``Event``). Receivers that
#: queue work (the journey dispatcher) queue it once per batch.
events_recorded = Signal()


def announce_on_commit(events) -> None:
    """Send ``event_recorded`` for each of ``events``, then ``events_recorded``, after commit."""
    events = list(events)
    if not events:
        return

    def announce() -> None:
        for event in events:
            event_recorded.send(sender=type(event), event=event)
        events_recorded.send(sender=type(events[0]), events=events)

    transaction.on_commit(announce)
