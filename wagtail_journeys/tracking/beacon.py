"""Validation and rate limiting for events sent by the browser.

Everything here assumes hostile input: the endpoint is public and csrf-exempt
(``navigator.sendBeacon`` cannot send a CSRF header), so a request is either
valid in every part or stores nothing.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from django.core.cache import caches

from wagtail_journeys import conf
from wagtail_journeys.tracking.events import EVENT_NAME_RE

#: Built-in events the browser may send. The others (orders, carts, emails…)
#: are facts only the server knows; accepting them from a beacon would let any
#: visitor forge a purchase and trigger journeys with it.
BROWSER_BUILTINS = frozenset({"page_time"})
SERVER_BUILTINS = frozenset(
    {
        "page_viewed",
        "form_submitted",
        "product_viewed",
        "cart_item_added",
        "cart_item_removed",
        "checkout_started",
        "order_completed",
        "wishlist_item_added",
        "wishlist_item_removed",
        "cart_abandoned",
        "contact_subscribed",
        "contact_identified",
        "email_sent",
        "email_delivered",
        "email_opened",
        "email_clicked",
        "email_bounced",
        "email_complained",
        "unsubscribed",
        "became_inactive",
        "segment_entered",
        "segment_exited",
        "sms_sent",
        "sms_delivered",
        "sms_failed",
        "sms_stopped",
        "sms_started",
        "push_sent",
        "push_subscribed",
        "push_unsubscribed",
        "push_clicked",
    }
)
PROPERTY_NAME_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")
ALLOWED_KEYS = frozenset({"name", "properties", "path", "page_id"})
MAX_PAGE_TIME_MS = 24 * 60 * 60 * 1000


class BeaconError(ValueError):
    """The request is invalid; the message says what to fix."""


@dataclass(frozen=True)
class BeaconEvent:
    name: str
    properties: dict[str, Any]
    path: str
    page_id: int | None


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _clean_value(name: str, value: Any) -> Any:
    if value is None or isinstance(value, bool) or _is_int(value):
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise BeaconError(f"Property {name!r} must be a finite number.")
        return value
    if isinstance(value, str):
        limit = conf.get_setting("MAX_PROPERTY_LENGTH")
        if len(value) > limit:
            raise BeaconError(f"Property {name!r} is longer than {limit} characters.")
        return value
    raise BeaconError(
        f"Property {name!r} must be a string, number, boolean or null, not {type(value).__name__}."
    )


def parse_beacon(body: bytes) -> BeaconEvent:
    """Parse and validate one event sent by the tracker script."""
    limit = conf.get_setting("BEACON_MAX_BODY_BYTES")
    if len(body) > limit:
        raise BeaconError(f"The request body is larger than {limit} bytes.")
    try:
        data = json.loads(body.decode("utf-8"))
    # ValueError: JSON errors, and integers past Python's 4,300 digits; RecursionError: nesting.
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise BeaconError("The request body is not valid JSON.") from None
    if not isinstance(data, dict):
        raise BeaconError("The request body must be a JSON object.")
    unknown = set(data) - ALLOWED_KEYS
    if unknown:
        raise BeaconError(f"Unknown keys: {', '.join(sorted(unknown))}.")

    name = data.get("name")
    if not isinstance(name, str) or not EVENT_NAME_RE.match(name):
        raise BeaconError("'name' must be a lower_snake_case event name of at most 64 characters.")
    if name in SERVER_BUILTINS:
        raise BeaconError(f"{name!r} is recorded by the server and cannot be sent by a browser.")
    allowlist = conf.get_setting("EVENT_ALLOWLIST")
    if allowlist is not None and name not in BROWSER_BUILTINS and name not in allowlist:
        raise BeaconError(f"{name!r} is not an allowed event name.")

    properties = data.get("properties", {})
    if not isinstance(properties, dict):
        raise BeaconError("'properties' must be a JSON object.")
    max_properties = conf.get_setting("MAX_PROPERTIES")
    if len(properties) > max_properties:
        raise BeaconError(f"At most {max_properties} properties are accepted.")
    cleaned = {}
    for key, value in properties.items():
        if not PROPERTY_NAME_RE.match(key):
            raise BeaconError(f"Property name {key[:70]!r} is not a valid identifier.")
        cleaned[key] = _clean_value(key, value)

    if name == "page_time":
        duration = cleaned.get("duration_ms")
        if not _is_int(duration) or not 0 <= duration <= MAX_PAGE_TIME_MS:
            raise BeaconError("'page_time' needs a whole 'duration_ms' between 0 and 86400000.")

    path = data.get("path", "")
    if not isinstance(path, str) or len(path) > 2048 or (path and not path.startswith("/")):
        raise BeaconError("'path' must be a URL path starting with '/', at most 2048 characters.")
    page_id = data.get("page_id")
    if page_id is not None and (not _is_int(page_id) or page_id < 1):
        raise BeaconError("'page_id' must be a positive whole number.")
    return BeaconEvent(name=name, properties=cleaned, path=path, page_id=page_id)


def rate_limited(key: str) -> bool:
    """Count one request for ``key``; True once it exceeds the configured rate.

    A fixed window in the configured cache: coarse, but one cache round trip
    for a returning visitor (the window's counter exists) and shared by every
    process that shares the cache.
    """
    limit = conf.get_setting("BEACON_RATE_LIMIT")
    if not limit:
        return False
    cache = caches[conf.get_setting("RATE_LIMIT_CACHE")]
    cache_key = f"wagtail_journeys:beacon:{key}"
    try:
        return cache.incr(cache_key) > limit
    except ValueError:
        # No counter yet (or it just expired): this is the window's first request.
        # Another process may have started it meanwhile; then this one counts there.
        if cache.add(cache_key, 1, timeout=conf.get_setting("BEACON_RATE_WINDOW")):
            return False
        try:
            return cache.incr(cache_key) > limit
        except ValueError:
            return False
