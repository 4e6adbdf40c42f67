"""Web push endpoints: subscribe, unsubscribe, the service worker and the click redirect.

Subscribe and unsubscribe are called by ``tracker.js`` with ``fetch``, like
the beacon endpoint: CSRF-exempt (the script has no CSRF token), protected by
the ``Origin`` check and the SameSite=Lax visitor cookie instead.
"""

from __future__ import annotations

import json
from typing import Any

from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.cache import cache_control
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods, require_POST

from wagtail_journeys.channels import push
from wagtail_journeys.channels.push_links import read_click_token
from wagtail_journeys.email.consent import client_ip
from wagtail_journeys.exceptions import InvalidTokenError
from wagtail_journeys.models.messages import Message
from wagtail_journeys.tracking.beacon import rate_limited
from wagtail_journeys.tracking.visitors import get_visitor
from wagtail_journeys.views.tracking import _same_origin

#: A subscription is about 500 bytes of JSON; anything much larger is not one.
MAX_BODY_BYTES = 4096


def _error(status: int, message: str) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


def _json_body(request: HttpRequest) -> Any:
    if len(request.body) > MAX_BODY_BYTES:
        raise push.InvalidSubscription(f"The body is larger than {MAX_BODY_BYTES} bytes.")
    try:
        return json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise push.InvalidSubscription("The body is not JSON.") from None


@csrf_exempt
@require_POST
def subscribe(request: HttpRequest) -> JsonResponse:
    """Store the browser's push subscription (``PushSubscription.toJSON()``) for the visitor.

    Answers 201 ``{"subscribed": true}`` for a new subscription, 200 for one
    already stored, 400 ``{"error": ...}`` for invalid input, 403 for another
    origin or a visitor who may not be tracked (no consent, a bot, tracking
    off) and 429 when rate-limited.
    """
    if not _same_origin(request):
        return _error(403, "Subscriptions are accepted only from this site's own pages.")
    visitor = get_visitor(request)
    if not visitor.trackable:
        return _error(403, "This visitor has not agreed to tracking; nothing was stored.")
    limiter_key = (
        f"push{visitor.cookie_contact_id}"
        if visitor.cookie_contact_id is not None
        else f"puship{request.META.get('REMOTE_ADDR', '')}"
    )
    if rate_limited(limiter_key):
        return _error(429, "Too many requests from this visitor; slow down.")
    try:
        data = push.parse_subscription(_json_body(request))
    except push.InvalidSubscription as error:
        return _error(400, str(error))
    contact = visitor.get_or_create_contact()
    _, created = push.subscribe(
        contact,
        data,
        user_agent=request.headers.get("User-Agent", ""),
        ip_address=client_ip(request),
    )
    return JsonResponse({"subscribed": True}, status=201 if created else 200)


@csrf_exempt
@require_POST
def unsubscribe(request: HttpRequest) -> JsonResponse:
    """Switch off the visitor's subscription ``{"endpoint": ...}``.

    Works without tracking consent: leaving must always be possible. Answers
    200 ``{"unsubscribed": true}``, or ``false`` when this visitor has no
    such active subscription; 400 for invalid input, 403 for another origin.
    """
    if not _same_origin(request):
        return _error(403, "Requests are accepted only from this site's own pages.")
    try:
        body = _json_body(request)
    except push.InvalidSubscription as error:
        return _error(400, str(error))
    endpoint = body.get("endpoint") if isinstance(body, dict) else None
    if not isinstance(endpoint, str) or not endpoint:
        return _error(400, 'Send the subscription\'s endpoint: {"endpoint": ...}.')
    contact = get_visitor(request).contact
    if contact is None:
        return JsonResponse({"unsubscribed": False})
    subscription = push.unsubscribe(contact, endpoint, ip_address=client_ip(request))
    return JsonResponse({"unsubscribed": subscription is not None})


@require_http_methods(["GET", "HEAD"])
@cache_control(no_cache=True, max_age=0)
def service_worker(request: HttpRequest) -> HttpResponse:
    """The service worker that shows notifications and opens their link on click.

    Served from ``push/sw.js`` with ``Service-Worker-Allowed: /`` so that it
    may control the whole site (scope ``/``) from below the site root.
    """
    script = render_to_string(
        "wagtail_journeys/push/sw.js",
        {"subscribe_url": reverse("wagtail_journeys:push_subscribe")},
    )
    response = HttpResponse(script, content_type="application/javascript; charset=utf-8")
    response["Service-Worker-Allowed"] = "/"
    return response


@require_http_methods(["GET", "HEAD"])
def click(request: HttpRequest, token: str) -> HttpResponse:
    """The link a notification opens: records the click, then redirects to its page.

    The token signs the message; the target is the URL stored with that
    message (``links[0]``), so this never redirects anywhere else. A bad
    token, or a message without a target, is a 404.
    """
    try:
        message_id = read_click_token(token)
    except InvalidTokenError:
        raise Http404("This link is not valid.") from None
    message = (
        Message.objects.select_related("contact")
        .filter(pk=message_id, channel=Message.Channel.PUSH)
        .first()
    )
    stored = message.links if message is not None else None
    url = stored[0] if isinstance(stored, list) and stored else None
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        raise Http404("This link is not valid.")
    # HEAD is a link checker's probe, never a person opening the notification.
    if request.method == "GET":
        push.record_click(message, url, user_agent=request.headers.get("User-Agent", ""))
    return HttpResponseRedirect(url)
