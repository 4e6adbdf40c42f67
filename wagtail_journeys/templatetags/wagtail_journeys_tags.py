"""Template tags for storefront templates: ``{% load wagtail_journeys_tags %}``."""

from __future__ import annotations

from django import template
from django.urls import reverse
from django.utils.translation import gettext as _

from wagtail_journeys.commerce import get_cart, get_wishlist
from wagtail_journeys.conf import get_setting
from wagtail_journeys.models.events import Event
from wagtail_journeys.tracking.events import track_request
from wagtail_journeys.tracking.visitors import get_visitor

register = template.Library()


def _live_request(context):
    """The request, unless there is none or it renders a preview."""
    request = context.get("request")
    if request is None or getattr(request, "is_preview", False):
        return None
    return request


@register.inclusion_tag("wagtail_journeys/tracker.html", takes_context=True)
def journeys_tracker(context):
    """The tracker script: time on page and ``journeys.track()`` for custom events.

    Renders nothing for previews, bots and visitors who may not be tracked.
    """
    request = _live_request(context)
    if request is None or not get_visitor(request).trackable:
        return {"enabled": False}
    page = context.get("page")
    return {
        "enabled": True,
        "endpoint": reverse("wagtail_journeys:collect"),
        "page_id": getattr(page, "pk", None) if hasattr(page, "get_url_parts") else None,
        "push": _push_config(),
    }


def _push_config() -> dict[str, str] | None:
    """What ``journeys.push.subscribe()`` needs, or None when web push is not set up."""
    key = get_setting("VAPID_PUBLIC_KEY")
    if not key:
        return None
    return {
        "key": key,
        "subscribe": reverse("wagtail_journeys:push_subscribe"),
        "unsubscribe": reverse("wagtail_journeys:push_unsubscribe"),
        "worker": reverse("wagtail_journeys:push_service_worker"),
    }


@register.inclusion_tag("wagtail_journeys/push/button.html", takes_context=True)
def journeys_push_button(context, label=None, css_class=""):
    """A button that asks for permission to send notifications, when clicked.

    ``{% journeys_push_button "Tell me about offers" css_class="btn" %}``. It is
    rendered hidden and ``tracker.js`` shows it where the browser supports web
    push; renders nothing without ``VAPID_PUBLIC_KEY`` or for visitors who may
    not be tracked. Needs ``{% journeys_tracker %}`` on the same page.
    """
    request = _live_request(context)
    enabled = (
        request is not None
        and bool(get_setting("VAPID_PUBLIC_KEY"))
        and get_visitor(request).trackable
    )
    return {
        "enabled": enabled,
        "label": label or _("Turn on notifications"),
        "css_class": css_class,
    }


@register.simple_tag(takes_context=True)
def journeys_event(context, event_name, **properties):
    """Record a server-side event while the template renders; outputs nothing.

    ``{% journeys_event "product_viewed" sku=page.sku price=page.price %}``
    """
    request = _live_request(context)
    if request is not None:
        properties = {name: _plain(value) for name, value in properties.items()}
        track_request(request, event_name, properties, source=Event.Source.SERVER)
    return ""


def _plain(value):
    # Templates hand over whatever the context holds (a Decimal price, a
    # page, an image); keep JSON's own types and store the rest as text.
    if value is None or isinstance(value, str | int | float | bool):
        return value
    return str(value)


@register.simple_tag(takes_context=True)
def journeys_cart(context):
    """``{% journeys_cart as cart %}``: the visitor's open cart or None; creates nothing."""
    request = context.get("request")
    return None if request is None else get_cart(request, create=False)


@register.simple_tag(takes_context=True)
def journeys_wishlist(context):
    """``{% journeys_wishlist as wishlist %}``: the visitor's wishlist or None; creates nothing."""
    request = context.get("request")
    return None if request is None else get_wishlist(request, create=False)
