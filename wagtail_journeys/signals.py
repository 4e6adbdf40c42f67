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

#: Sent by ``announce_on_commit`` at once, inside the transaction that stores
#: the events when there is one. Arguments: ``events`` (a list of ``Event``).
#: For what must be committed with the events or not at all (the journeys'
#: dispatch outbox); a receiver that raises rolls the events back.
events_stored = Signal()


def announce_on_commit(events) -> None:
    """Send ``events_stored`` now, and ``event_recorded`` and ``events_recorded`` after commit.

    Call it in the transaction that stored ``events``: ``event_recorded``
    goes out for each event, then ``events_recorded`` once for them all.
    """
    events = list(events)
    if not events:
        return
    events_stored.send(sender=type(events[0]), events=events)

    def announce() -> None:
        for event in events:
            event_recorded.send(sender=type(event), event=event)
        events_recorded.send(sender=type(events[0]), events=events)

    transaction.on_commit(announce)
