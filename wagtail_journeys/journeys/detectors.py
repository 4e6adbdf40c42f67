"""Events nobody does but time: abandoned carts, inactivity, anniversaries.

Each detector is SQL over an index, in batches of ``DETECT_BATCH_SIZE``,
run by every tick. Each emits an event once per occasion (a cart is
abandoned once; a contact becomes inactive once per stretch of inactivity)
and the event starts journeys like any other.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Exists, OuterRef, Q
from django.db.models.functions import Coalesce, Greatest
from django.utils import timezone

from wagtail_journeys.conf import get_setting
from wagtail_journeys.email.sending import batched_delivery
from wagtail_journeys.models import Cart, Contact, Enrollment, Event, Journey
from wagtail_journeys.tracking.events import record_event


def _batch() -> int:
    return max(1, int(get_setting("DETECT_BATCH_SIZE")))


def detect_abandoned_carts(now: datetime) -> int:
    """Mark idle open carts of known contacts abandoned; one ``cart_abandoned`` event each.

    A cart is reported once: reopened (its contact came back) and left again,
    it keeps its ``abandoned_at`` and is not reported a second time.
    """
    cutoff = now - timedelta(minutes=int(get_setting("CART_ABANDONED_AFTER_MINUTES")))
    idle = (
        Cart.objects.filter(
            status=Cart.Status.OPEN, updated_at__lte=cutoff, abandoned_at__isnull=True
        )
        .filter(items__isnull=False, contact__email__isnull=False)
        .exclude(contact__email="")
        .values_list("pk", flat=True)
        .distinct()
        .order_by()
    )
    found = 0
    for cart_id in list(idle[: _batch()]):
        with transaction.atomic():
            # The status change is the guard: whoever flips it emits the one event.
            flipped = Cart.objects.filter(
                pk=cart_id,
                status=Cart.Status.OPEN,
                updated_at__lte=cutoff,
                abandoned_at__isnull=True,
            ).update(status=Cart.Status.ABANDONED, abandoned_at=now)
            if not flipped:
                continue
            cart = Cart.objects.select_related("contact").get(pk=cart_id)
            record_event(
                cart.contact,
                "cart_abandoned",
                {
                    "cart_id": cart.pk,
                    "total": float(cart.total),
                    "currency": cart.currency,
                    "items": cart.item_count,
                },
                source=Event.Source.SYSTEM,
                occurred_at=now,
            )
            found += 1
    return found


def _inactivity_days() -> set[int]:
    days = set()
    for journey in Journey.objects.filter(live=True, state=Journey.State.RUNNING):
        for child in journey.trigger:
            if child.block_type == "inactive":
                days.add(child.value["days"])
    return days


def detect_inactive(now: datetime) -> int:
    """``became_inactive`` (``days``: N) for contacts with no visit, open or click in N days.

    Once per stretch: not again until the contact is seen or engages, which
    moves their last activity past the event.
    """
    found = 0
    for days in sorted(_inactivity_days()):
        cutoff = now - timedelta(days=days)
        last_active = Greatest(
            Coalesce("last_seen_at", "created_at"), Coalesce("last_engaged_at", "created_at")
        )
        told = Event.objects.filter(
            contact_id=OuterRef("pk"),
            name="became_inactive",
            properties__days=days,
            occurred_at__gte=OuterRef("journeys_last_active"),
        )
        quiet = (
            Contact.objects.exclude(email__isnull=True)
            .exclude(email="")
            .filter(Q(last_seen_at__lt=cutoff) | Q(last_seen_at__isnull=True))
            .annotate(journeys_last_active=last_active)
            .filter(journeys_last_active__lt=cutoff)
            .filter(~Exists(told))
            .order_by("pk")
        )
        for contact in quiet[: _batch()]:
            record_event(
                contact,
                "became_inactive",
                {"days": days},
                source=Event.Source.SYSTEM,
                occurred_at=now,
            )
            found += 1
    return found


def detect_anniversaries(now: datetime) -> int:
    """Enroll contacts whose date field's anniversary is today, at the trigger's local time."""
    from wagtail_journeys.email.policies import contact_timezone
    from wagtail_journeys.journeys.entry import try_enroll
    from wagtail_journeys.journeys.interpreter import Runner
    from wagtail_journeys.journeys.triggers import anniversary_due

    found = 0
    runner = Runner(now=now)
    journeys = Journey.objects.filter(live=True, state=Journey.State.RUNNING)
    for journey in journeys:
        for child in journey.trigger:
            if child.block_type != "anniversary":
                continue
            field = child.value["field"].strip()
            # Every timezone's "today" is one of these three UTC dates.
            days = [(now + timedelta(days=offset)).date() for offset in (-1, 0, 1)]
            if field == "created_at":
                on_day = Q()
                for day in days:
                    on_day |= Q(created_at__month=day.month, created_at__day=day.day)
            else:
                on_day = Q()
                for day in days:
                    on_day |= Q(**{f"custom_fields__{field}__endswith": f"-{day:%m-%d}"})
                    if (day.month, day.day) == (2, 28):
                        on_day |= Q(**{f"custom_fields__{field}__endswith": "-02-29"})
            done = Enrollment.objects.filter(
                journey=journey, contact_id=OuterRef("pk"), entry_key__startswith="anniversary:"
            ).filter(entered_at__gte=now - timedelta(days=300))
            candidates = Contact.objects.filter(on_day).filter(~Exists(done)).order_by("pk")
            for contact in candidates[: _batch()]:
                date = _contact_date(contact, field)
                local_now = now.astimezone(contact_timezone(contact))
                if date is None or not anniversary_due(child.value, date, local_now):
                    continue
                decision = try_enroll(
                    journey,
                    contact,
                    now=now,
                    entry_key=f"anniversary:{local_now.year}",
                    context={"event": "anniversary", "field": field, "year": local_now.year},
                    reason=f"Anniversary of {field}",
                )
                if decision:
                    with transaction.atomic(), batched_delivery():
                        runner.run(decision.enrollment)
                        runner.flush()
                    found += 1
    return found


def _contact_date(contact: Contact, field: str):
    from datetime import date

    if field == "created_at":
        return timezone.localtime(contact.created_at).date() if contact.created_at else None
    raw = (contact.custom_fields or {}).get(field)
    try:
        return date.fromisoformat(str(raw)[:10])
    except ValueError:
        return None


#: How often the detectors that read every contact run, at most (per process).
_EVERY = {
    "became_inactive": timedelta(hours=1),
    "anniversaries": timedelta(minutes=10),
    # A verdict moves slowly; each look reads every live journey's plan.
    "ab_winners": timedelta(minutes=10),
    "retention": timedelta(days=1),
}
_last_run: dict[str, datetime] = {}


def _due(name: str, now: datetime) -> bool:
    # Inactivity counts in days and anniversaries in minutes past a time of
    # day: running them every minute would re-read all contacts for nothing.
    last = _last_run.get(name)
    if last is not None and last <= now < last + _EVERY[name]:
        return False
    _last_run[name] = now
    return True


def detect_all(now: datetime) -> dict[str, int]:
    """Run the detectors; returns how many events, entries or decisions each made.

    Abandoned carts are looked for at every tick (an index range); inactivity
    at most hourly, anniversaries and A/B winners to promote every ten minutes,
    raw events past ``EVENT_RETENTION_DAYS`` once a day.
    """
    from wagtail_journeys.analytics.abtest import promote_winners
    from wagtail_journeys.retention import purge_events

    return {
        "abandoned_carts": detect_abandoned_carts(now),
        "became_inactive": detect_inactive(now) if _due("became_inactive", now) else 0,
        "anniversaries": detect_anniversaries(now) if _due("anniversaries", now) else 0,
        "ab_winners_promoted": promote_winners(now) if _due("ab_winners", now) else 0,
        "events_purged": purge_events(now) if _due("retention", now) else 0,
    }
