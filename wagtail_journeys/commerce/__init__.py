"""Carts and wishlists for storefront code: ``get_cart`` and ``get_wishlist``."""

from __future__ import annotations

from django.http import HttpRequest

from wagtail_journeys import conf
from wagtail_journeys.tracking.visitors import get_visitor


def get_cart(request: HttpRequest, *, create: bool = True):
    """The visitor's open cart.

    With ``create=False`` (for templates that only show the cart) nothing is
    written and ``None`` is returned when the visitor has no open cart.
    A cart belongs to a contact, so creating one also creates the anonymous
    contact of a new visitor, and keeps the visitor cookie, even without
    tracking consent: a cart is part of the shop, not of the tracking.
    """
    from wagtail_journeys.models import Cart

    visitor = get_visitor(request)
    contact = visitor.contact
    if contact is None:
        if not create:
            return None
        contact = visitor.get_or_create_contact()
    if create:
        visitor.keep_for_shop()
    cart = Cart.objects.filter(contact=contact, status=Cart.Status.OPEN).first()
    if cart is None and create:
        cart, _ = Cart.objects.get_or_create(
            contact=contact,
            status=Cart.Status.OPEN,
            defaults={"currency": conf.get_setting("DEFAULT_CURRENCY")},
        )
    return cart


def get_wishlist(request: HttpRequest, *, create: bool = True):
    """The visitor's wishlist; ``create=False`` returns ``None`` instead of creating one."""
    from wagtail_journeys.models import Wishlist

    visitor = get_visitor(request)
    contact = visitor.contact
    if contact is None:
        if not create:
            return None
        contact = visitor.get_or_create_contact()
    if not create:
        return Wishlist.objects.filter(contact=contact).first()
    visitor.keep_for_shop()
    wishlist, _ = Wishlist.objects.get_or_create(contact=contact)
    return wishlist
