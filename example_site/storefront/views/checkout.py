"""Checkout: contact details and a simulated payment, then a thank-you page.

Opening the checkout records ``checkout_started``; a valid submission
identifies the visitor by email (so an abandoned-cart journey can reach
them next time) and completes the cart, which records ``order_completed``.
No payment provider is involved and no card number is stored.
"""

import secrets

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods

from wagtail_journeys import get_cart, identify
from wagtail_journeys.exceptions import CommerceError, InvalidContactDataError

from ..forms import CheckoutForm

#: Session key of the last order, read by the thank-you page.
LAST_ORDER_SESSION_KEY = "storefront_last_order"


def new_order_ref() -> str:
    """A short, unguessable order reference such as ``KB-20250101-3F9A1C``."""
    return f"KB-{timezone.now():%Y%m%d}-{secrets.token_hex(3).upper()}"


@require_http_methods(["GET", "POST"])
def checkout(request: HttpRequest) -> HttpResponse:
    """GET starts the checkout and shows the form; POST places the order."""
    cart = get_cart(request, create=False)
    if cart is None or not cart.item_count:
        messages.info(request, "Your cart is empty: add a product before checking out.")
        return redirect("storefront:cart")

    if request.method == "POST":
        form = CheckoutForm(request.POST)
        if form.is_valid():
            response = _place_order(request, cart, form)
            if response is not None:
                return response
    else:
        try:
            cart.start_checkout()
        except CommerceError as error:
            messages.error(request, str(error))
            return redirect("storefront:cart")
        form = CheckoutForm(initial=_initial_data(request))

    return render(
        request,
        "storefront/checkout/checkout.html",
        {"form": form, "cart": cart, "items": list(cart.items.all())},
        # The form is shown again with its errors: tell clients it was bad input.
        status=400 if form.is_bound else 200,
    )


def _initial_data(request: HttpRequest) -> dict:
    user = request.user
    if not user.is_authenticated:
        return {}
    return {"email": user.email, "name": user.get_full_name()}


def _place_order(request: HttpRequest, cart, form: CheckoutForm) -> HttpResponse | None:
    """Identify the buyer and complete the cart; None when the form must be shown again."""
    first_name, last_name = form.split_name()
    fields = {"first_name": first_name}
    if last_name:
        fields["last_name"] = last_name
    try:
        identify(request, email=form.cleaned_data["email"], **fields)
    except InvalidContactDataError as error:
        # Its messages may name contact fields the form does not have.
        form.add_error(None, " ".join(error.messages))
        return None

    # identify() may have merged this visitor into a contact that already had
    # the address, and moved (or merged) the cart with it: read it again.
    cart = type(cart).objects.filter(pk=cart.pk).first() or get_cart(request, create=False)
    if cart is None or not cart.item_count:
        messages.error(request, "Your cart is empty: add a product before checking out.")
        return redirect("storefront:cart")

    items = list(cart.items.all())
    order = {
        "ref": new_order_ref(),
        "total": str(cart.total),
        "currency": cart.currency,
        "email": form.cleaned_data["email"],
        "card_last4": form.cleaned_data["card_number"],
        "lines": [
            {"title": item.title, "quantity": item.quantity, "line_total": str(item.line_total)}
            for item in items
        ],
    }
    try:
        # The payment is simulated: a valid-looking card always succeeds.
        cart.complete(order["ref"], cart.total)
    except CommerceError as error:
        messages.error(request, str(error))
        return redirect("storefront:cart")
    # Post/redirect/get, so that reloading the thank-you page orders nothing.
    request.session[LAST_ORDER_SESSION_KEY] = order
    return redirect("storefront:checkout_complete")


@require_GET
def checkout_complete(request: HttpRequest) -> HttpResponse:
    """The thank-you page of the visitor's last order."""
    order = request.session.get(LAST_ORDER_SESSION_KEY)
    if order is None:
        return redirect("storefront:cart")
    return render(request, "storefront/checkout/thank_you.html", {"order": order})
