"""Wishlist behaviour: the methods of ``Wishlist`` and the events they record."""

from __future__ import annotations

from django.db import transaction

from wagtail_journeys.commerce.adapters import get_product_adapter, to_price
from wagtail_journeys.commerce.products import product_key, product_properties
from wagtail_journeys.models.events import Event
from wagtail_journeys.tracking.events import record_event


class WishlistMethods:
    """The wishlist API, mixed into the ``Wishlist`` model."""

    def _record(self, name: str, item) -> Event:
        return record_event(
            self.contact,
            name,
            {"wishlist_id": self.pk, **product_properties(item)},
            source=Event.Source.SERVER,
        )

    def contains(self, product) -> bool:
        return self.items.filter(**product_key(product)).exists()

    def add(self, product, price=None):
        """Add ``product`` once; adding it again changes nothing.

        Records ``wishlist_item_added``.
        """
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
                },
            )
            if created:
                self.save(update_fields=["updated_at"])
                self._record("wishlist_item_added", item)
        return item

    def remove(self, product) -> bool:
        """Remove ``product``. Records ``wishlist_item_removed``; False if it was not there."""
        item = self.items.filter(**product_key(product)).first()
        if item is None:
            return False
        with transaction.atomic():
            item.delete()
            self.save(update_fields=["updated_at"])
            self._record("wishlist_item_removed", item)
        return True


def merge_wishlists(source, target) -> None:
    """Move contact ``source``'s wishlist items to ``target``'s, without duplicates."""
    from wagtail_journeys.models import Wishlist

    source_list = Wishlist.objects.filter(contact=source).first()
    if source_list is None:
        return
    target_list = Wishlist.objects.filter(contact=target).first()
    if target_list is None:
        source_list.contact = target
        source_list.save(update_fields=["contact", "updated_at"])
        return
    for item in source_list.items.all():
        if target_list.items.filter(
            product_type=item.product_type_id, product_id=item.product_id
        ).exists():
            continue
        item.wishlist = target_list
        item.save(update_fields=["wishlist"])
    source_list.delete()
