"""The links in our emails: open pixel, click redirect, unsubscribe, preference centre, confirm.

Each is reached through a signed token (``email/tokens.py``), never a login.
A forged, altered or expired token gets a plain 400 page (the pixel answers
with its image whatever happens, so that a mail client never shows a broken
image); nothing here answers a bad link with a 500 or a redirect elsewhere.
"""

from __future__ import annotations

import base64
from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.middleware.csrf import CsrfViewMiddleware
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from wagtail_journeys.conf import get_setting
from wagtail_journeys.email import consent, links, tokens
from wagtail_journeys.email.preferences import PreferencesForm, unsubscribe_from_all
from wagtail_journeys.email.tracking import Hit, record_click, record_open
from wagtail_journeys.exceptions import InvalidTokenError
from wagtail_journeys.models.contacts import Contact
from wagtail_journeys.models.messages import ConsentRecord, Message, SignupForm

#: A 1x1 transparent GIF (43 bytes).
PIXEL = base64.b64decode("R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7")


class BadLink(Exception):
    """A link that is not valid any more (or never was)."""


def _read(purpose: str, token: str, max_age_setting: str, arity: int) -> list[Any]:
    try:
        values = tokens.read_token(purpose, token, max_age=get_setting(max_age_setting))
    except InvalidTokenError as error:
        raise BadLink(str(error)) from None
    if len(values) != arity or not isinstance(values[0], int):
        raise BadLink(_("This link is not valid."))
    return values


def _bad_link(request: HttpRequest, reason: str) -> HttpResponse:
    return render(
        request,
        "wagtail_journeys/consent/invalid_link.html",
        {"reason": reason},
        status=400,
    )


def _hit(request: HttpRequest) -> Hit:
    return Hit(
        user_agent=request.headers.get("User-Agent", ""),
        ip=consent.client_ip(request),
        method=request.method,
    )


def _pixel_response() -> HttpResponse:
    response = HttpResponse(PIXEL, content_type="image/gif")
    # Every open must reach us, not a cache on the way.
    response["Cache-Control"] = "no-store, no-cache, must-revalidate, max-age=0"
    return response


@require_http_methods(["GET", "HEAD"])
def open_pixel(request: HttpRequest, token: str) -> HttpResponse:
    """The open pixel: records an open and always answers with the image."""
    try:
        (message_id,) = _read(tokens.OPEN, token, "LINK_MAX_AGE", 1)
    except BadLink:
        return _pixel_response()
    message = Message.objects.select_related("contact").filter(pk=message_id).first()
    if message is not None:
        record_open(message, _hit(request), source="pixel")
    return _pixel_response()


@require_http_methods(["GET", "HEAD"])
def click(request: HttpRequest, token: str, index: int) -> HttpResponse:
    """The click redirect: records the click, then goes to the link's target.

    The token signs the message; the target is link ``index`` of the links
    stored with that message, so this can never redirect anywhere else.
    """
    try:
        (message_id,) = _read(tokens.CLICK, token, "LINK_MAX_AGE", 1)
    except BadLink as error:
        return _bad_link(request, str(error))
    message = Message.objects.select_related("contact").filter(pk=message_id).first()
    stored = message.links if message is not None else None
    url = stored[index] if isinstance(stored, list) and index < len(stored) else None
    if not isinstance(url, str) or not url.lower().startswith(("http://", "https://")):
        return _bad_link(request, _("This link is not valid."))
    record_click(message, url, _hit(request), source="redirect")
    return HttpResponseRedirect(url)


def _unsubscribe_context(message: Message, contact: Contact | None) -> dict[str, Any]:
    return {
        "message": message,
        "contact": contact,
        "preferences_url": links.preferences_url(contact.pk) if contact is not None else "",
    }


@csrf_exempt
@require_http_methods(["GET", "POST"])
def unsubscribe(request: HttpRequest, token: str) -> HttpResponse:
    """Unsubscribe from marketing email: GET asks, POST does it.

    A POST with the body ``List-Unsubscribe=One-Click`` is RFC 8058's
    one-click unsubscribe, sent by the mailbox provider without cookies or a
    CSRF token; the signed token is its only proof and enough. Any other POST
    comes from our page's form and must pass the CSRF check.
    """
    try:
        (message_id,) = _read(tokens.UNSUBSCRIBE, token, "LINK_MAX_AGE", 1)
    except BadLink as error:
        return _bad_link(request, str(error))
    message = Message.objects.select_related("contact").filter(pk=message_id).first()
    if message is None:
        return _bad_link(request, _("This link is not valid."))
    contact = message.contact
    context = _unsubscribe_context(message, contact)
    if request.method == "GET":
        return render(request, "wagtail_journeys/consent/unsubscribe.html", context)

    one_click = request.POST.get("List-Unsubscribe") == "One-Click"
    if not one_click:
        refused = CsrfViewMiddleware(lambda req: None).process_view(request, None, (), {})
        if refused is not None:
            return refused
    if contact is not None:
        consent.unsubscribe(
            contact,
            method=(
                ConsentRecord.Method.ONE_CLICK
                if one_click
                else ConsentRecord.Method.UNSUBSCRIBE_LINK
            ),
            ip_address=consent.client_ip(request),
            message=message,
            detail={"message_id": message.pk},
        )
    return render(request, "wagtail_journeys/consent/unsubscribe.html", {**context, "done": True})


@require_http_methods(["GET", "POST"])
def preferences(request: HttpRequest, token: str) -> HttpResponse:
    """The preference centre: topics, fewer emails, consent per channel, unsubscribe from all."""
    try:
        (contact_id,) = _read(tokens.PREFERENCES, token, "LINK_MAX_AGE", 1)
    except BadLink as error:
        return _bad_link(request, str(error))
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None:
        return _bad_link(request, _("This link is not valid."))
    if request.method == "POST":
        ip_address = consent.client_ip(request)
        if "unsubscribe_all" in request.POST:
            unsubscribe_from_all(contact, ip_address=ip_address)
            messages.success(request, _("You are unsubscribed from all our messages."))
            return redirect(request.path)
        form = PreferencesForm(contact, request.POST)
        if form.is_valid():
            if form.apply(ip_address=ip_address):
                messages.success(request, _("Your preferences are saved."))
            else:
                messages.info(request, _("Nothing changed."))
            return redirect(request.path)
    else:
        form = PreferencesForm(contact)
    return render(
        request,
        "wagtail_journeys/consent/preferences.html",
        {"form": form, "contact": contact},
    )


@require_http_methods(["GET", "POST"])
def confirm(request: HttpRequest, token: str) -> HttpResponse:
    """Double opt-in confirmation: GET shows a button, only its POST subscribes.

    Link scanners follow every link in a message with GET; were that enough
    to confirm, a scanner would subscribe people who never asked to be.
    """
    try:
        contact_id, signup_id = _read(tokens.CONFIRM, token, "CONFIRMATION_MAX_AGE", 2)
    except BadLink as error:
        return _bad_link(request, str(error))
    contact = Contact.objects.filter(pk=contact_id).first()
    if contact is None:
        return _bad_link(request, _("This link is not valid."))
    signup = SignupForm.objects.filter(pk=signup_id).first() if isinstance(signup_id, int) else None
    if request.method == "POST":
        consent.confirm_signup(contact, signup, ip_address=consent.client_ip(request))
        return render(
            request,
            "wagtail_journeys/consent/confirmed.html",
            {"contact": contact, "preferences_url": links.preferences_url(contact.pk)},
        )
    return render(request, "wagtail_journeys/consent/confirm.html", {"contact": contact})
