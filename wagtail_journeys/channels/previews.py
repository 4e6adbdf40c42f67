"""Previews of SMS and push templates, rendered for a chosen contact or a sample one.

The contact is chosen as for email previews (``email.previews``):
``?contact=<id or email>`` on the preview URL, else the contact last chosen
in "Preview for a contact" (kept in the editor's session), else an unsaved
sample contact. Nothing is sent or written.
"""

from __future__ import annotations

from urllib.parse import urlsplit

from django.http import HttpRequest

from wagtail_journeys.channels.rendering import render_push, render_sms
from wagtail_journeys.channels.sms_text import non_gsm_characters, segments
from wagtail_journeys.email.previews import preview_contact, sample_contact

#: The phone number the sample contact's SMS preview is addressed to (a UK drama number).
SAMPLE_PHONE = "+44 7700 900123"


def _contact(request: HttpRequest | None):
    """The chosen contact and the one to render for (the sample when none is chosen)."""
    chosen = preview_contact(request)
    return chosen, chosen or sample_contact()


def is_web_url(url: str) -> bool:
    """Whether ``url`` is an http(s) URL, safe to use as a link or image in the admin."""
    return urlsplit(url).scheme in ("http", "https")


def sms_preview_context(template, request: HttpRequest | None = None) -> dict:
    """The context of ``channels/sms_preview.html``: the rendered text and what it costs."""
    chosen, contact = _contact(request)
    text = render_sms(template, contact)
    return {
        "contact": chosen,
        "to": (contact.phone or "") if chosen else SAMPLE_PHONE,
        "text": text,
        "length": segments(text),
        "non_gsm": non_gsm_characters(text),
    }


def push_preview_context(template, request: HttpRequest | None = None) -> dict:
    """The context of ``channels/push_preview.html``: the notification as a browser shows it."""
    chosen, contact = _contact(request)
    push = render_push(template, contact)
    return {
        "contact": chosen,
        "push": push,
        # The link and icon are the editor's text: anything but http(s) (a
        # ``javascript:`` URL) is shown as text, never followed in the admin.
        "link_is_web": is_web_url(push.url),
        "icon_is_web": is_web_url(push.icon),
    }
