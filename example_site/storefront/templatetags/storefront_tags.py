"""Template tags of the storefront: ``{% load storefront_tags %}``."""

from decimal import Decimal, InvalidOperation

from django import template
from wagtail.models import Site

register = template.Library()

#: Symbols of the currencies the demo might show; others are shown by code.
CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£"}


@register.filter
def money(amount, currency: str = "EUR") -> str:
    """``{{ page.price|money }}`` → “€14.50”; ``{{ item.unit_price|money:item.currency }}``."""
    if amount is None or amount == "":
        return ""
    try:
        amount = Decimal(str(amount)).quantize(Decimal("0.01"))
    except InvalidOperation:
        return str(amount)
    symbol = CURRENCY_SYMBOLS.get(currency)
    return f"{symbol}{amount}" if symbol else f"{amount} {currency}"


@register.simple_tag(takes_context=True)
def site_root(context):
    """The home page of the site serving this request (None outside any site)."""
    request = context.get("request")
    site = Site.find_for_request(request) if request is not None else None
    return site.root_page.specific if site is not None else None


@register.inclusion_tag("storefront/includes/main_menu.html", takes_context=True)
def main_menu(context):
    """The pages below the home page that editors marked “Show in menus”.

    A link is marked current on its page and on the pages below it, so
    “Shop” stays highlighted on a product page.
    """
    root = site_root(context)
    if root is None:
        return {"menu": []}
    request = context.get("request")
    current_path = request.path if request is not None else ""
    menu = []
    for page in root.get_children().live().in_menu():
        url = page.get_url(request)
        menu.append(
            {"page": page, "url": url, "active": bool(url) and current_path.startswith(url)}
        )
    return {"menu": menu}
