"""Carts and wishlists for storefront code: ``get_cart`` and ``get_wishlist``."""

from __future__ import annotations

from datetime import datetime

from django.http import HttpRequest

from wagtail_journeys import conf
from wagtail_journeys.clock import moment
from wagtail_journeys.tracking.visitors import get_visitor


def get_cart(request: HttpRequest, *, create: bool = True, at: datetime | None = None):
    """The visitor's open cart (their abandoned one, reopened, if they have no open cart).

    With ``create=False`` (for templates that only show the cart) nothing is
    written: the open or abandoned cart is returned, or ``None``.
    A cart belongs to a contact, so creating one also creates the anonymous
    contact of a new visitor, and keeps the visitor cookie, even without
    tracking consent: a cart is part of the shop, not of the tracking.
    ``at`` (an aware datetime, default now) dates a new cart's ``created_at``.
    """
    from wagtail_journeys.models import Cart

    at = moment(at)
    visitor = get_visitor(request)
    contact = visitor.contact
    if contact is None:
        if not create:
            return None
        contact = visitor.get_or_create_contact()
    if create:
        visitor.keep_for_shop()
    cart = Cart.objects.filter(contact=contact, status=Cart.Status.OPEN).first()
    if cart is None:
        # A visitor back after their cart was marked abandoned finds it again.
        abandoned = (
            Cart.objects.filter(contact=contact, status=Cart.Status.ABANDONED)
            .order_by("-abandoned_at", "-pk")
            .first()
        )
        if abandoned is not None and not create:
            return abandoned
        if abandoned is not None:
            reopen_cart(abandoned)
            cart = Cart.objects.filter(contact=contact, status=Cart.Status.OPEN).first()
    if cart is None and create:
        cart, _ = Cart.objects.get_or_create(
            contact=contact,
            status=Cart.Status.OPEN,
            defaults={
                "currency": conf.get_setting("DEFAULT_CURRENCY"),
                "created_at": at,
                "updated_at": at,
            },
        )
    return cart


def reopen_cart(cart) -> None:
    """Make an abandoned cart open again, unless its contact already has an open one.

    It keeps ``abandoned_at``: a cart is reported abandoned once, not each
    time it is left again.
    """
    from django.db import IntegrityError, transaction

    from wagtail_journeys.models import Cart

    if cart.status != Cart.Status.ABANDONED:
        return
    if Cart.objects.filter(contact_id=cart.contact_id, status=Cart.Status.OPEN).exists():
        return
    try:
        with transaction.atomic():
            Cart.objects.filter(pk=cart.pk, status=Cart.Status.ABANDONED).update(
                status=Cart.Status.OPEN
            )
    except IntegrityError:
        pass  # another cart of this contact was opened at the same moment: keep that one


def get_wishlist(request: HttpRequest, *, create: bool = True, at: datetime | None = None):
    """The visitor's wishlist; ``create=False`` returns ``None`` instead of creating one.

    ``at`` (an aware datetime, default now) dates a new wishlist's ``created_at``.
    """
    from wagtail_journeys.models import Wishlist

    at = moment(at)
    visitor = get_visitor(request)
    contact = visitor.contact
    if contact is None:
        if not create:
            return None
        contact = visitor.get_or_create_contact()
    if not create:
        return Wishlist.objects.filter(contact=contact).first()
    visitor.keep_for_shop()
    wishlist, _ = Wishlist.objects.get_or_create(
        contact=contact, defaults={"created_at": at, "updated_at": at}
    )
    return wishlist
