"""Carts and wishlists, with a snapshot of every product they hold.

Items point at any product (a Wagtail page or any Django model) through a
generic relation and keep a snapshot of it, so that an email or a report still
renders when the product changes or is deleted. The behaviour (adding,
removing, checking out, the events they record) lives in
``wagtail_journeys.commerce``; these classes only hold the data.
"""

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from wagtail_journeys.commerce.carts import CartMethods
from wagtail_journeys.commerce.wishlists import WishlistMethods
from wagtail_journeys.models.records import Record

# The timestamps below default to now instead of auto_now/auto_now_add: the
# commerce methods set them, to their ``at=`` when given, so that a change
# can be dated in the past (auto_now would overwrite it on every save).


class ProductSnapshot(Record):
    """Fields shared by cart and wishlist items: what the product was when added."""

    product_type = models.ForeignKey(ContentType, on_delete=models.CASCADE, related_name="+")
    product_id = models.CharField(max_length=64)
    product = GenericForeignKey("product_type", "product_id")
    sku = models.CharField(_("SKU"), max_length=128, blank=True)
    title = models.CharField(_("title"), max_length=255)
    unit_price = models.DecimalField(
        _("unit price"), max_digits=12, decimal_places=2, null=True, blank=True
    )
    currency = models.CharField(_("currency"), max_length=3)
    image_url = models.URLField(_("image URL"), max_length=1024, blank=True)
    product_url = models.URLField(_("product URL"), max_length=1024, blank=True)
    added_at = models.DateTimeField(_("added"), default=timezone.now)

    class Meta:
        abstract = True

    def __str__(self) -> str:
        return self.title


class Cart(CartMethods, Record):
    """A contact's cart. At most one cart per contact is open at a time."""

    class Status(models.TextChoices):
        OPEN = "open", _("Open")
        ABANDONED = "abandoned", _("Abandoned")
        CONVERTED = "converted", _("Converted")

    contact = models.ForeignKey(
        "wagtail_journeys.Contact", on_delete=models.CASCADE, related_name="carts"
    )
    status = models.CharField(
        _("status"), max_length=16, choices=Status.choices, default=Status.OPEN
    )
    currency = models.CharField(_("currency"), max_length=3)
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    #: The last change a visitor made; abandonment is measured from here.
    #: Set by the cart's methods, not on every save.
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)
    checkout_started_at = models.DateTimeField(_("checkout started"), null=True, blank=True)
    abandoned_at = models.DateTimeField(_("abandoned"), null=True, blank=True)
    converted_at = models.DateTimeField(_("converted"), null=True, blank=True)
    order_ref = models.CharField(_("order reference"), max_length=128, blank=True)
    order_total = models.DecimalField(
        _("order total"), max_digits=12, decimal_places=2, null=True, blank=True
    )

    class Meta:
        verbose_name = _("cart")
        verbose_name_plural = _("carts")
        constraints = [
            models.UniqueConstraint(
                fields=["contact"],
                condition=models.Q(status="open"),
                name="journeys_one_open_cart_per_contact",
            )
        ]
        indexes = [models.Index(fields=["status", "updated_at"], name="journeys_cart_idle_idx")]

    def __str__(self) -> str:
        return _("Cart #%(pk)s (%(status)s)") % {"pk": self.pk, "status": self.get_status_display()}


class CartItem(ProductSnapshot):
    cart = models.ForeignKey(Cart, on_delete=models.CASCADE, related_name="items")
    quantity = models.PositiveIntegerField(_("quantity"), default=1)

    class Meta:
        verbose_name = _("cart item")
        verbose_name_plural = _("cart items")
        ordering = ["added_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["cart", "product_type", "product_id"], name="journeys_cart_item_unique"
            )
        ]

    @property
    def line_total(self):
        return None if self.unit_price is None else self.unit_price * self.quantity


class Wishlist(WishlistMethods, Record):
    """A contact's wishlist (one per contact)."""

    contact = models.OneToOneField(
        "wagtail_journeys.Contact", on_delete=models.CASCADE, related_name="wishlist"
    )
    created_at = models.DateTimeField(_("created"), default=timezone.now)
    updated_at = models.DateTimeField(_("updated"), default=timezone.now)

    class Meta:
        verbose_name = _("wishlist")
        verbose_name_plural = _("wishlists")

    def __str__(self) -> str:
        return _("Wishlist of %(contact)s") % {"contact": self.contact}


class WishlistItem(ProductSnapshot):
    wishlist = models.ForeignKey(Wishlist, on_delete=models.CASCADE, related_name="items")

    class Meta:
        verbose_name = _("wishlist item")
        verbose_name_plural = _("wishlist items")
        ordering = ["added_at", "pk"]
        constraints = [
            models.UniqueConstraint(
                fields=["wishlist", "product_type", "product_id"],
                name="journeys_wishlist_item_unique",
            )
        ]
