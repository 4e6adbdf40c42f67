"""Cart behaviour: the methods of ``Cart`` and the events they record."""

from __future__ import annotations

from decimal import Decimal

from django.db import models, transaction
from django.db.models import F
from django.utils import timezone

from wagtail_journeys.commerce.adapters import get_product_adapter, to_price
from wagtail_journeys.commerce.products import product_key, product_properties
from wagtail_journeys.exceptions import CommerceError
from wagtail_journeys.models.events import Event
from wagtail_journeys.tracking.events import record_event


def _check_quantity(quantity) -> int:
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 0:
        raise CommerceError(f"Quantity must be a whole number of at least 0, not {quantity!r}.")
    return quantity


class CartMethods:
    """The cart API, mixed into the ``Cart`` model."""

    def _require_open(self) -> None:
        if self.status != self.Status.OPEN:
            raise CommerceError(f"Cart #{self.pk} is {self.status}, not open.")

    def _record(self, name: str, **properties) -> Event:
        return record_event(
            self.contact, name, {"cart_id": self.pk, **properties}, source=Event.Source.SERVER
        )

    def _touch(self) -> None:
        # updated_at is auto_now: saving it marks the cart as recently active.
        self.save(update_fields=["updated_at"])

    @property
    def total(self) -> Decimal:
        """Sum of the line totals of items with a known price."""
        return sum(
            (item.line_total for item in self.items.all() if item.unit_price is not None),
            Decimal("0.00"),
        )

    @property
    def item_count(self) -> int:
        """Number of units in the cart."""
        return self.items.aggregate(n=models.Sum("quantity"))["n"] or 0

    def add(self, product, quantity: int = 1, price=None):
        """Add ``quantity`` of ``product`` (any saved model instance).

        ``price`` overrides the adapter's price, for shops that price per
        customer. Records ``cart_item_added``.
        """
        self._require_open()
        if _check_quantity(quantity) == 0:
            raise CommerceError("Add at least one item.")
        snapshot = get_product_adapter().snapshot(product)
        unit_price = snapshot.price if price is None else to_price(price)
        with transaction.atomic():
            item, created = self.items.get_or_create(
                **product_key(product),
                defaults={
                    "quantity": quantity,
                    "unit_price": unit_price,
                    "currency": snapshot.currency,
                    "title": snapshot.title,
                    "sku": snapshot.sku,
                    "product_url": snapshot.url,
                    "image_url": snapshot.image_url,
                },
            )
            if not created:
                # F() so that two requests adding at once both count.
                type(item).objects.filter(pk=item.pk).update(quantity=F("quantity") + quantity)
                item.refresh_from_db(fields=["quantity"])
            self._touch()
            self._record(
                "cart_item_added",
                **product_properties(item),
                quantity=quantity,
                item_quantity=item.quantity,
            )
        return item

    def remove(self, product) -> bool:
        """Remove ``product`` entirely. Records ``cart_item_removed``; False if absent."""
        self._require_open()
        item = self.items.filter(**product_key(product)).first()
        if item is None:
            return False
        with transaction.atomic():
            item.delete()
            self._touch()
            self._record("cart_item_removed", **product_properties(item), quantity=item.quantity)
        return True

    def set_quantity(self, product, quantity: int):
        """Set ``product``'s quantity; 0 removes it. Records added/removed for the change."""
        self._require_open()
        quantity = _check_quantity(quantity)
        item = self.items.filter(**product_key(product)).first()
        current = item.quantity if item else 0
        if quantity == 0:
            self.remove(product)
            return None
        if quantity > current:
            return self.add(product, quantity - current)
        if quantity < current:
            with transaction.atomic():
                item.quantity = quantity
                item.save(update_fields=["quantity"])
                self._touch()
                self._record(
                    "cart_item_removed",
                    **product_properties(item),
                    quantity=current - quantity,
                    item_quantity=quantity,
                )
        return item

    def start_checkout(self) -> None:
        """Mark the checkout as started. Records ``checkout_started``."""
        self._require_open()
        items = list(self.items.all())
        if not items:
            raise CommerceError("An empty cart cannot be checked out.")
        with transaction.atomic():
            self.checkout_started_at = timezone.now()
            self.save(update_fields=["checkout_started_at", "updated_at"])
            self._record(
                "checkout_started",
                total=float(self.total),
                currency=self.currency,
                item_count=sum(item.quantity for item in items),
            )

    def complete(self, order_ref: str, total) -> None:
        """Mark the cart as bought. Records ``order_completed`` with the order's items."""
        self._require_open()
        if not isinstance(order_ref, str) or not order_ref.strip() or len(order_ref) > 128:
            raise CommerceError("An order reference of 1 to 128 characters is required.")
        total = to_price(total)
        items = list(self.items.select_related("product_type"))
        with transaction.atomic():
            self.status = self.Status.CONVERTED
            self.converted_at = timezone.now()
            self.order_ref = order_ref.strip()
            self.order_total = total
            self.save()
            self._record(
                "order_completed",
                order_ref=self.order_ref,
                total=float(total),
                currency=self.currency,
                item_count=sum(item.quantity for item in items),
                items=[{**product_properties(item), "quantity": item.quantity} for item in items],
            )


def merge_carts(source, target) -> None:
    """Give every cart of contact ``source`` to contact ``target``.

    When both have an open cart, the source's items join the target's cart
    (quantities add up) and the emptied cart is deleted; nothing is lost.
    """
    from wagtail_journeys.models import Cart

    source_open = Cart.objects.filter(contact=source, status=Cart.Status.OPEN).first()
    target_open = Cart.objects.filter(contact=target, status=Cart.Status.OPEN).first()
    if source_open and target_open:
        for item in source_open.items.all():
            existing = target_open.items.filter(
                product_type=item.product_type_id, product_id=item.product_id
            ).first()
            if existing:
                existing.quantity += item.quantity
                existing.save(update_fields=["quantity"])
                item.delete()
            else:
                item.cart = target_open
                item.save(update_fields=["cart"])
        source_open.delete()
        target_open._touch()
    Cart.objects.filter(contact=source).update(contact=target)
