"""Wishlist behaviour: the methods of ``Wishlist`` and the events they record."""

from __future__ import annotations

from datetime import datetime

from django.db import transaction

from wagtail_journeys.clock import moment
from wagtail_journeys.commerce.adapters import get_product_adapter, to_price
from wagtail_journeys.commerce.products import product_key, product_properties
from wagtail_journeys.models.events import Event
from wagtail_journeys.tracking.events import record_event


class WishlistMethods:
    """The wishlist API, mixed into the ``Wishlist`` model."""

    def _record(self, name: str, item, at: datetime) -> Event:
        return record_event(
            self.contact,
            name,
            {"wishlist_id": self.pk, **product_properties(item)},
            source=Event.Source.SERVER,
            occurred_at=at,
        )

    def _touch(self, at: datetime, *fields: str) -> None:
        # Set here rather than auto_now, so that a change can be dated in the past.
        self.updated_at = at
        self.save(update_fields=["updated_at", *fields])

    def contains(self, product) -> bool:
        return self.items.filter(**product_key(product)).exists()

    def add(self, product, price=None, *, at: datetime | None = None):
        """Add ``product`` once; adding it again changes nothing.

        Records ``wishlist_item_added``. ``at`` (an aware datetime, default
        now) dates the event, the item's ``added_at`` and ``updated_at``.
        """
        at = moment(at)
        snapshot = get_product_adapter().snapshot(product)
        with transaction.atomic():
            item, created = self.items.get_or_create(
                **product_key(product),
                defaults={
                    "unit_price": snapshot.price if price is None else to_price(price),
                    "currency": snapshot.currency,
                    "title": snapshot.title,
                    "sku": snapshot.sku,
                    "product_url": snapshot.url,
                    "image_url": snapshot.image_url,
                    "added_at": at,
                },
            )
            if created:
                self._touch(at)
                self._record("wishlist_item_added", item, at)
        return item

    def remove(self, product, *, at: datetime | None = None) -> bool:
        """Remove ``product``. Records ``wishlist_item_removed``; False if it was not there.

        ``at`` (an aware datetime, default now) dates the event and ``updated_at``.
        """
        at = moment(at)
        item = self.items.filter(**product_key(product)).first()
        if item is None:
            return False
        with transaction.atomic():
            item.delete()
            self._touch(at)
            self._record("wishlist_item_removed", item, at)
        return True


def merge_wishlists(source, target, *, at: datetime | None = None) -> None:
    """Move contact ``source``'s wishlist items to ``target``'s, without duplicates.

    ``at`` (default now) is the ``updated_at`` of a wishlist that changes owner.
    """
    from wagtail_journeys.models import Wishlist

    at = moment(at)
    source_list = Wishlist.objects.filter(contact=source).first()
    if source_list is None:
        return
    target_list = Wishlist.objects.filter(contact=target).first()
    if target_list is None:
        source_list.contact = target
        source_list._touch(at, "contact")
        return
    for item in source_list.items.all():
        if target_list.items.filter(
            product_type=item.product_type_id, product_id=item.product_id
        ).exists():
            continue
        item.wishlist = target_list
        item.save(update_fields=["wishlist"])
    source_list.delete()
