"""Signals sent by wagtail-journeys."""

from django.dispatch import Signal

#: Sent once an event is committed to the database. Arguments: ``event``
#: (an ``Event``). Receivers run after the transaction that stored it, so they
#: never see an event that was rolled back.
event_recorded = Signal()
