"""The endpoint the tracker script sends its beacons to."""

from __future__ import annotations

import logging

import swapper
from django.http import HttpRequest, JsonResponse
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from wagtail_journeys.models.events import Event
from wagtail_journeys.tracking import buffer
from wagtail_journeys.tracking.beacon import BeaconError, parse_beacon, rate_limited
from wagtail_journeys.tracking.events import record_event, touch_last_seen
from wagtail_journeys.tracking.visitors import get_visitor

logger = logging.getLogger(__name__)


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

    Answers 202 when stored (or, with ``BEACON_BUFFER_URL``, accepted into
    the buffer: ``tracking.buffer``), 204 when the visitor may not be tracked
    (nothing is stored, and the script should not retry), 400 with
    ``{"error": ...}`` for invalid input, 403 for another origin and 429 when
    rate-limited.
    """
    if not _same_origin(request):
        return _error(403, "Events are accepted only from this site's own pages.")
    visitor = get_visitor(request)
    if not visitor.trackable:
        return JsonResponse({}, status=204)
    # A new visitor needs a contact (and a cookie) now; a returning one can wait,
    # and is counted against the rate limit in the buffer's Redis as it is added.
    buffered = buffer.enabled() and visitor.known_contact_id is not None
    if not buffered and _rate_limited(request, visitor):
        return _too_many()
    try:
        beacon = parse_beacon(request.body)
    except BeaconError as error:
        return _error(400, str(error))

    if buffered:
        try:
            if not buffer.accept(visitor.known_contact_id, beacon):
                return _too_many()
            return JsonResponse({"queued": True}, status=202)
        except buffer.BufferUnavailable as error:
            logger.warning("Tracking buffer unavailable, storing directly: %s", error)
            if _rate_limited(request, visitor):
                return _too_many()

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


def _rate_limited(request: HttpRequest, visitor) -> bool:
    if visitor.cookie_contact_id is not None:
        return rate_limited(f"c{visitor.cookie_contact_id}")
    return rate_limited(f"ip{request.META.get('REMOTE_ADDR', '')}")


def _too_many() -> JsonResponse:
    return _error(429, "Too many events from this visitor; slow down.")


def _existing_page(page_id: int | None):
    if page_id is None:
        return None
    Page = swapper.load_model("wagtailcore", "Page")
    return Page.objects.filter(pk=page_id).only("pk").first()
