"""The wishlist: show it, save a product, remove one.

The plugin records ``wishlist_item_added`` / ``wishlist_item_removed``, so a
journey can remind a visitor of what they saved or tell them of a price drop.
"""

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from wagtail_journeys import get_wishlist
from wagtail_journeys.exceptions import CommerceError

from ..forms import ProductForm, ProductRemoveForm
from .redirects import redirect_back


@require_GET
def wishlist_detail(request: HttpRequest) -> HttpResponse:
    """The wishlist page; looking at it never creates a wishlist."""
    wishlist = get_wishlist(request, create=False)
    items = list(wishlist.items.all()) if wishlist is not None else []
    return render(
        request, "storefront/wishlist/wishlist.html", {"wishlist": wishlist, "items": items}
    )


@require_POST
def wishlist_add(request: HttpRequest) -> HttpResponse:
    """Save ``product_id``; saving it twice keeps it once."""
    form = ProductForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.error_summary())
        return redirect_back(request, reverse("storefront:wishlist"))
    try:
        get_wishlist(request).add(form.product)
    except CommerceError as error:
        messages.error(request, str(error))
    else:
        messages.success(request, f"Saved {form.product.title} to your wishlist.")
    return redirect_back(request, reverse("storefront:wishlist"))


@require_POST
def wishlist_remove(request: HttpRequest) -> HttpResponse:
    """Remove ``product_id`` from the wishlist."""
    form = ProductRemoveForm(request.POST)
    if not form.is_valid():
        messages.error(request, form.error_summary())
        return redirect_back(request, reverse("storefront:wishlist"))
    wishlist = get_wishlist(request, create=False)
    try:
        removed = wishlist is not None and wishlist.remove(form.product)
    except CommerceError as error:
        messages.error(request, str(error))
    else:
        if removed:
            messages.success(request, f"Removed {form.product.title} from your wishlist.")
        else:
            messages.info(request, f"{form.product.title} was not in your wishlist.")
    return redirect_back(request, reverse("storefront:wishlist"))
