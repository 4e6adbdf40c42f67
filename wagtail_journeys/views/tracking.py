"""The endpoint the tracker script sends its beacons to."""

from __future__ import annotations

import swapper
from django.http import HttpRequest, JsonResponse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from wagtail_journeys.models.events import Event
from wagtail_journeys.tracking.beacon import BeaconError, parse_beacon, rate_limited
from wagtail_journeys.tracking.events import record_event, touch_last_seen
from wagtail_journeys.tracking.visitors import get_visitor


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _same_origin(request: HttpRequest) -> bool:
    # Browsers send Origin with every sendBeacon POST. Refusing other origins
    # stops other sites from writing events into our visitors' histories.
    origin = request.headers.get("Origin")
    if origin is None or origin == "null":
        return origin is None
    return url_has_allowed_host_and_scheme(
        origin + "/", allowed_hosts={request.get_host()}, require_https=request.is_secure()
    )


@csrf_exempt
@require_POST
def collect(request: HttpRequest) -> JsonResponse:
    """Store one event sent by ``tracker.js``.

    Answers 202 when stored, 204 when the visitor may not be tracked (nothing
    is stored, and the script should not retry), 400 with ``{"error": ...}``
    for invalid input, 403 for another origin and 429 when rate-limited.
    """
    if not _same_origin(request):
        return _error(403, "Events are accepted only from this site's own pages.")
    visitor = get_visitor(request)
    if not visitor.trackable:
        return JsonResponse({}, status=204)
    limiter_key = (
        f"c{visitor.cookie_contact_id}"
        if visitor.cookie_contact_id is not None
        else f"ip{request.META.get('REMOTE_ADDR', '')}"
    )
    if rate_limited(limiter_key):
        return _error(429, "Too many events from this visitor; slow down.")
    try:
        beacon = parse_beacon(request.body)
    except BeaconError as error:
        return _error(400, str(error))

    contact = visitor.get_or_create_contact()
    touch_last_seen(visitor, contact)
    record_event(
        contact,
        beacon.name,
        beacon.properties,
        page=_existing_page(beacon.page_id),
        path=beacon.path,
        source=Event.Source.BROWSER,
    )
    return JsonResponse({"stored": True}, status=202)


def _existing_page(page_id: int | None):
    if page_id is None:
        return None
    Page = swapper.load_model("wagtailcore", "Page")
    return Page.objects.filter(pk=page_id).only("pk").first()
