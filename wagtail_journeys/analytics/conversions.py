"""Conversions: the journey's conversion event, done within its window after one of its emails.

Attribution is last touch, per journey: the conversion goes to the latest
email that journey sent the contact within ``conversion_days`` before the
event. A message converts once (its first conversion and that event's
value); the conversion is stored as a ``converted`` MessageEvent, so it
shows on the message and the counters can be rebuilt from it.
"""

from __future__ import annotations

from datetime import timedelta
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from wagtail_journeys.analytics.counting import count_message_event
from wagtail_journeys.models import Message, MessageEvent

#: Event properties read as the conversion's value, in this order.
VALUE_PROPERTIES = ("total", "value", "revenue")


def conversion_value(properties) -> Decimal:
    """The event's value (an order's total), or 0 if it has none that is a finite number."""
    for name in VALUE_PROPERTIES:
        raw = (properties or {}).get(name)
        if raw is None or isinstance(raw, bool):
            continue
        try:
            value = Decimal(str(raw))
        except (InvalidOperation, ValueError):
            continue
        if value.is_finite() and abs(value) < Decimal("1e15"):
            return value.quantize(Decimal("0.01"), rounding=ROUND_HALF_UP)
    return Decimal(0)


def attribute_conversion(event, journeys: list[tuple[int, int]]) -> int:
    """Credit ``event`` to the last email of each of ``journeys`` ((id, window days)) before it.

    Returns how many messages it converted.
    """
    value = conversion_value(event.properties)
    converted = 0
    for journey_id, days in journeys:
        message = (
            Message.objects.filter(
                contact_id=event.contact_id,
                enrollment__journey_id=journey_id,
                status=Message.Status.SENT,
                sent_at__lte=event.occurred_at,
                sent_at__gte=event.occurred_at - timedelta(days=days),
            )
            .order_by("-sent_at", "-pk")
            .first()
        )
        if message is None:
            continue
        stored, created = MessageEvent.objects.get_or_create(
            dedupe_key=f"converted:{message.pk}",
            defaults={
                "message": message,
                "kind": MessageEvent.Kind.CONVERTED,
                "occurred_at": event.occurred_at,
                "source": "journeys",
                "detail": {"event_id": event.pk, "event": event.name, "amount": str(value)},
            },
        )
        if created:
            count_message_event(stored, message, amount=value)
            converted += 1
    return converted
