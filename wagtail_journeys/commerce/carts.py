"""Cart behaviour: the methods of ``Cart`` and the events they record."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal

from django.db import models, transaction
from django.db.models import F

from wagtail_journeys.clock import moment
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

    def _record(self, name: str, *, at: datetime, **properties) -> Event:
        return record_event(
            self.contact,
            name,
            {"cart_id": self.pk, **properties},
            source=Event.Source.SERVER,
            occurred_at=at,
        )

    def _touch(self, at: datetime) -> None:
        # Set here rather than auto_now, so that a change dated in the past
        # (``at=``) is seen as idle by the abandoned-cart detector.
        self.updated_at = at
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

    def add(self, product, quantity: int = 1, price=None, *, at: datetime | None = None):
        """Add ``quantity`` of ``product`` (any saved model instance).

        ``price`` overrides the adapter's price, for shops that price per
        customer. Records ``cart_item_added``. ``at`` (an aware datetime,
        default now) dates the change: the event, the cart's ``updated_at``
        and a new item's ``added_at``.
        """
        self._require_open()
        at = moment(at)
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
                    "added_at": at,
                },
            )
            if not created:
                # F() so that two requests adding at once both count.
                type(item).objects.filter(pk=item.pk).update(quantity=F("quantity") + quantity)
                item.refresh_from_db(fields=["quantity"])
            self._touch(at)
            self._record(
                "cart_item_added",
                at=at,
                **product_properties(item),
                quantity=quantity,
                item_quantity=item.quantity,
            )
        return item

    def remove(self, product, *, at: datetime | None = None) -> bool:
        """Remove ``product`` entirely. Records ``cart_item_removed``; False if absent.

        ``at`` (an aware datetime, default now) dates the event and ``updated_at``.
        """
        self._require_open()
        at = moment(at)
        item = self.items.filter(**product_key(product)).first()
        if item is None:
            return False
        with transaction.atomic():
            item.delete()
            self._touch(at)
            self._record(
                "cart_item_removed", at=at, **product_properties(item), quantity=item.quantity
            )
        return True

    def set_quantity(self, product, quantity: int, *, at: datetime | None = None):
        """Set ``product``'s quantity; 0 removes it. Records added/removed for the change.

        ``at`` (an aware datetime, default now) dates the change, as for ``add``.
        """
        self._require_open()
        quantity = _check_quantity(quantity)
        at = moment(at)
        item = self.items.filter(**product_key(product)).first()
        current = item.quantity if item else 0
        if quantity == 0:
            self.remove(product, at=at)
            return None
        if quantity > current:
            return self.add(product, quantity - current, at=at)
        if quantity < current:
            with transaction.atomic():
                item.quantity = quantity
                item.save(update_fields=["quantity"])
                self._touch(at)
                self._record(
                    "cart_item_removed",
                    at=at,
                    **product_properties(item),
                    quantity=current - quantity,
                    item_quantity=quantity,
                )
        return item

    def start_checkout(self, *, at: datetime | None = None) -> None:
        """Mark the checkout as started. Records ``checkout_started``.

        ``at`` (an aware datetime, default now) dates the event,
        ``checkout_started_at`` and ``updated_at``.
        """
        self._require_open()
        at = moment(at)
        items = list(self.items.all())
        if not items:
            raise CommerceError("An empty cart cannot be checked out.")
        with transaction.atomic():
            self.checkout_started_at = self.updated_at = at
            self.save(update_fields=["checkout_started_at", "updated_at"])
            self._record(
                "checkout_started",
                at=at,
                total=float(self.total),
                currency=self.currency,
                item_count=sum(item.quantity for item in items),
            )

    def complete(self, order_ref: str, total, *, at: datetime | None = None) -> None:
        """Mark the cart as bought. Records ``order_completed`` with the order's items.

        ``at`` (an aware datetime, default now) dates the event,
        ``converted_at`` and ``updated_at``.
        """
        self._require_open()
        at = moment(at)
        if not isinstance(order_ref, str) or not order_ref.strip() or len(order_ref) > 128:
            raise CommerceError("An order reference of 1 to 128 characters is required.")
        total = to_price(total)
        items = list(self.items.select_related("product_type"))
        with transaction.atomic():
            self.status = self.Status.CONVERTED
            self.converted_at = self.updated_at = at
            self.order_ref = order_ref.strip()
            self.order_total = total
            self.save()
            self._record(
                "order_completed",
                at=at,
                order_ref=self.order_ref,
                total=float(total),
                currency=self.currency,
                item_count=sum(item.quantity for item in items),
                items=[{**product_properties(item), "quantity": item.quantity} for item in items],
            )


def merge_carts(source, target, *, at: datetime | None = None) -> None:
    """Give every cart of contact ``source`` to contact ``target``.

    When both have an open cart, the source's items join the target's cart
    (quantities add up) and the emptied cart is deleted; nothing is lost.
    ``at`` (default now) is the target cart's new ``updated_at`` then.
    """
    from wagtail_journeys.models import Cart

    at = moment(at)
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
        target_open._touch(at)
    Cart.objects.filter(contact=source).update(contact=target)
