"""A contact's personal data: exporting it (right of access) and erasing it (right to erasure).

Erasure removes everything that identifies the person and keeps what the
statistics need: each message they were sent stays, with its status,
timestamps and events (delivered, opened, clicked...), but without the
address, the subject, the personalised context or the links, and no longer
tied to a contact. Counts of sends, opens and clicks are therefore the same
before and after an erasure.
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit, urlunsplit

from django.core.serializers.json import DjangoJSONEncoder
from django.db import models, transaction
from django.utils import timezone

from wagtail_journeys.models.commerce import Cart, Wishlist
from wagtail_journeys.models.contacts import Contact
from wagtail_journeys.models.events import PendingDispatch
from wagtail_journeys.models.messages import DiscountCode, Message, MessageEvent

FORMAT_VERSION = 1


def _row(instance: models.Model, exclude: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every concrete field of ``instance`` (foreign keys as ids)."""
    return {
        field.attname: getattr(instance, field.attname)
        for field in instance._meta.concrete_fields
        if field.name not in exclude
    }


def export_contact(contact: Contact) -> dict[str, Any]:
    """Everything stored about ``contact``, as plain data (see ``export_contact_json``)."""
    messages = list(Message.objects.filter(contact=contact).order_by("created_at", "pk"))
    message_events = MessageEvent.objects.filter(message__contact=contact).order_by(
        "occurred_at", "pk"
    )
    carts = Cart.objects.filter(contact=contact).prefetch_related("items").order_by("pk")
    wishlist = Wishlist.objects.filter(contact=contact).prefetch_related("items").first()
    return {
        "format_version": FORMAT_VERSION,
        "exported_at": timezone.now(),
        "contact": _row(contact),
        "tags": sorted(contact.tags.names()),
        "topics_left": list(contact.topics_left.values_list("slug", flat=True)),
        "consent_records": [
            _row(record) for record in contact.consent_records.order_by("created_at", "pk")
        ],
        "events": [_row(event) for event in contact.events.order_by("occurred_at", "pk")],
        "messages": [_row(message) for message in messages],
        "message_events": [_row(event) for event in message_events],
        "carts": [
            {**_row(cart), "items": [_row(item) for item in cart.items.all()]} for cart in carts
        ],
        "wishlists": (
            [{**_row(wishlist), "items": [_row(item) for item in wishlist.items.all()]}]
            if wishlist is not None
            else []
        ),
        "push_subscriptions": [
            _row(subscription)
            for subscription in contact.push_subscriptions.order_by("created_at", "pk")
        ],
        "discount_codes": [
            _row(code) for code in DiscountCode.objects.filter(contact=contact).order_by("pk")
        ],
        "journeys": [
            {
                **_row(enrollment),
                "journey_name": enrollment.journey.name,
                "steps": [_row(run) for run in enrollment.runs.order_by("at", "pk")],
            }
            for enrollment in contact.enrollments.select_related("journey").order_by("pk")
        ],
    }


def export_contact_json(contact: Contact) -> str:
    """``export_contact`` as indented JSON: the file a person who asked for their data gets."""
    return json.dumps(export_contact(contact), cls=DjangoJSONEncoder, indent=2, ensure_ascii=False)


def _strip_query(url: str) -> str:
    # Query strings and fragments carry personal tokens (cart restore links,
    # signed parameters); scheme, host and path are enough for link statistics.
    parts = urlsplit(url)
    return urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))


def erase_contact(contact: Contact) -> dict[str, int]:
    """Remove ``contact`` and their personal data, keeping anonymous message statistics.

    Deleted: the contact, their events, consent records, carts, wishlist,
    tags and journey enrollments (with their step runs). Kept without
    personal detail: their messages (address, subject, context, links and
    error text cleared, contact unset) and those messages' events
    (detail cleared, URL without its query string). Discount codes stay, no
    longer linked to anyone, so a used code is still recognised. Returns how
    many rows of each kind were touched.
    """
    with transaction.atomic():
        contact = Contact.objects.select_for_update().get(pk=contact.pk)
        message_ids = list(Message.objects.filter(contact=contact).values_list("pk", flat=True))
        summary = {
            "events": contact.events.count(),
            "consent_records": contact.consent_records.count(),
            "carts": Cart.objects.filter(contact=contact).count(),
            "wishlists": Wishlist.objects.filter(contact=contact).count(),
            "messages": len(message_ids),
            "enrollments": contact.enrollments.count(),
        }
        events = MessageEvent.objects.filter(message_id__in=message_ids)
        for event in events.exclude(url="").only("pk", "url"):
            MessageEvent.objects.filter(pk=event.pk).update(url=_strip_query(event.url))
        summary["message_events"] = events.update(detail={})
        Message.objects.filter(pk__in=message_ids).update(
            contact=None,
            to_email="",
            to_phone="",
            subject="",
            body="",
            status_reason="",
            context={},
            links=[],
        )
        DiscountCode.objects.filter(contact=contact).update(contact=None)
        contact.tags.clear()
        # Their events waiting in the dispatch outbox (no foreign key cascades there).
        PendingDispatch.objects.filter(event__contact=contact).delete()
        # Events, consent records, carts and the wishlist go with the contact
        # (their foreign keys cascade).
        contact.delete()
    return summary
