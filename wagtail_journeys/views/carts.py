"""The "return to your cart" link of cart emails.

The link carries a signed token naming the cart. Following it makes the
browser the cart's contact's (the visitor cookie), reopens the cart if it
was only abandoned and the contact has no other open cart, and lands on the
shop's cart page (``CART_URL``). Anyone holding the email can do this, so
the link gives a cart back and nothing more: it does not log anyone in.
"""

from __future__ import annotations

from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.shortcuts import render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from wagtail_journeys.commerce import reopen_cart
from wagtail_journeys.conf import get_setting
from wagtail_journeys.email import links, tokens
from wagtail_journeys.exceptions import InvalidTokenError
from wagtail_journeys.models import Cart
from wagtail_journeys.tracking.visitors import get_visitor


def restore_cart_url(cart_id: int, base: str | None = None) -> str:
    """The absolute link that brings cart ``cart_id`` back in the browser that follows it."""
    token = tokens.make_token(tokens.CART, cart_id)
    return links.absolute(reverse("wagtail_journeys:restore_cart", args=[token]), base)


@require_safe
def restore_cart(request: HttpRequest, token: str) -> HttpResponse:
    """Follow a cart email's link: give this browser the cart back and show it."""
    try:
        values = tokens.read_token(tokens.CART, token, max_age=get_setting("LINK_MAX_AGE"))
    except InvalidTokenError as error:
        return _bad_link(request, str(error))
    cart = None
    if len(values) == 1 and isinstance(values[0], int):
        cart = Cart.objects.select_related("contact").filter(pk=values[0]).first()
    if cart is None:
        return _bad_link(request, _("This cart does not exist any more."))
    reopen_cart(cart)
    visitor = get_visitor(request)
    visitor.set_contact(cart.contact)
    # The cart is a service the visitor asked for: its cookie is necessary.
    visitor.keep_for_shop()
    return HttpResponseRedirect(get_setting("CART_URL"))


def _bad_link(request: HttpRequest, reason: str) -> HttpResponse:
    return render(
        request, "wagtail_journeys/consent/invalid_link.html", {"reason": reason}, status=400
    )
