"""Signals sent by wagtail-journeys, and the one way events are announced."""

from __future__ import annotations

import logging

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

logger = logging.getLogger(__name__)


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
        # Robust: a site's receiver that raises is logged, and neither stops the other
        # receivers nor the transaction's later on-commit work (delivery tasks).
        results = []
        for event in events:
            results += event_recorded.send_robust(sender=type(event), event=event)
        results += events_recorded.send_robust(sender=type(events[0]), events=events)
        for receiver, result in results:
            if isinstance(result, Exception):
                logger.error("Signal receiver %r failed", receiver, exc_info=result)

    transaction.on_commit(announce)
