"""Page views, recorded by an ``on_serve_page`` hook."""

from __future__ import annotations

from contextvars import ContextVar

from django.http import HttpRequest

from wagtail_journeys.models.events import Event
from wagtail_journeys.tracking.events import track_request
from wagtail_journeys.tracking.visitors import get_visitor

#: The request whose page is being served, for code that runs inside
#: ``page.serve()`` without the request in hand (the form submission receiver).
serving_request: ContextVar[HttpRequest | None] = ContextVar(
    "wagtail_journeys_serving_request", default=None
)

UTM_PARAMETERS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")


def page_view_properties(page, request: HttpRequest) -> dict:
    """What a ``page_viewed`` event records about the page and how the visitor came."""
    properties = {
        "page_id": page.pk,
        "page_type": page.specific_class._meta.label_lower if page.specific_class else "",
        "title": page.title,
    }
    referrer = request.headers.get("Referer")
    if referrer:
        properties["referrer"] = referrer[:1024]
    for name in UTM_PARAMETERS:
        value = request.GET.get(name)
        if value:
            properties[name] = value[:255]
    return properties


def track_page_views(serve):
    """Wrap Wagtail's serve chain: record a ``page_viewed`` for each page shown.

    Registered with ``order=1`` so that it runs inside core's view-restriction
    check: a visitor stopped by a password or login restriction has not seen
    the page. Wagtail does not call this hook for previews.
    """

    def inner(page, request, serve_args, serve_kwargs):
        visitor = get_visitor(request)
        visitor.page = page
        token = serving_request.set(request)
        try:
            response = serve(page, request, serve_args, serve_kwargs)
        finally:
            serving_request.reset(token)
        if request.method == "GET" and response.status_code == 200:
            track_request(
                request,
                "page_viewed",
                page_view_properties(page, request),
                source=Event.Source.SERVER,
                page=page,
            )
        return response

    return inner
