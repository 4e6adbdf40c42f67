"""The cart: show it, add a product, change a quantity, remove a line.

Every change goes through the plugin's cart API, which records the
``cart_item_added`` / ``cart_item_removed`` events that journeys react to.
"""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from wagtail_journeys import get_cart
from wagtail_journeys.exceptions import CommerceError

from ..forms import CartAddForm, CartUpdateForm, ProductRemoveForm
from .redirects import redirect_back


@require_GET
def cart_detail(request: HttpRequest) -> HttpResponse:
    """The cart page; looking at it never creates a cart."""
    cart = get_cart(request, create=False)
    items = list(cart.items.all()) if cart is not None else []
    return render(request, "storefront/cart/cart.html", {"cart": cart, "items": items})


@require_POST
def cart_add(request: HttpRequest) -> HttpResponse:
    """Add ``quantity`` of ``product_id`` and go back to the page the button was on."""
    form = CartAddForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.error_summary())
        return redirect_back(request, reverse("storefront:cart"))
    quantity = form.cleaned_data["quantity"]
    try:
        get_cart(request).add(form.product, quantity=quantity)
    except CommerceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Added {quantity} × {form.product.title} to your cart.")
    return redirect_back(request, reverse("storefront:cart"))


@require_POST
def cart_update(request: HttpRequest) -> HttpResponse:
    """Set a line's quantity (0 removes it)."""
    form = CartUpdateForm(request.POST)
    cart = get_cart(request, create=False)
    if not form.is_valid():
        messages.error(request, form.error_summary())
    elif cart is None:
        messages.error(request, "Your cart is empty.")
    else:
        try:
            cart.set_quantity(form.product, form.cleaned_data["quantity"])
        except CommerceError as error:
            messages.error(request, str(error))
        else:
            messages.success(request, "Your cart was updated.")
    return redirect("storefront:cart")


@require_POST
def cart_remove(request: HttpRequest) -> HttpResponse:
    """Remove a line, whatever its quantity."""
    form = ProductRemoveForm(request.POST)
    cart = get_cart(request, create=False)
    if not form.is_valid():
        messages.error(request, form.error_summary())
        return redirect("storefront:cart")
    try:
        removed = cart is not None and cart.remove(form.product)
    except CommerceError as error:
        messages.error(request, str(error))
    else:
        if removed:
            messages.success(request, f"Removed {form.product.title} from your cart.")
        else:
            messages.info(request, f"{form.product.title} was not in your cart.")
    return redirect("storefront:cart")
