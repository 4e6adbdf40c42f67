"""Render an EmailTemplate for one contact: subject, preheader, HTML and plain text.

The HTML is the body's blocks inside a responsive table layout in the
site's brand (``templates/wagtail_journeys/email/layout.html``), with its CSS
inlined by css-inline and every link and image made absolute. The plain text
is written by the same blocks (``render_text``), not stripped from the HTML.

With a ``message``, every http(s) link goes through the click redirect
(``TRACK_CLICKS``), the open pixel is added (``TRACK_OPENS``) and the footer
links are the message's own unsubscribe link and the contact's preference
centre. Without one (previews) links are left as they are.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass, field
from typing import Any

from django.urls import reverse
from django.utils.html import escape

from wagtail_journeys.email import tokens
from wagtail_journeys.email.context import EmailContext, RenderSession
from wagtail_journeys.email.layout import inline_fragment
from wagtail_journeys.models.messages import Kind

__all__ = ["RenderSession", "RenderedEmail", "render_email"]

LAYOUT_HTML = "wagtail_journeys/email/layout.html"
LAYOUT_TEXT = "wagtail_journeys/email/layout.txt"

_ATTRIBUTE_RE = re.compile(r"""\b(href|src)=(["'])(.*?)\2""", re.S | re.I)
_TEXT_URL_RE = re.compile(r"""https?://[^\s<>"'()]+""")


@dataclass
class RenderedEmail:
    """What one contact receives."""

    subject: str
    preheader: str
    html: str
    text: str
    #: Every absolute URL in the message (the click redirect accepts only these).
    links: list[str] = field(default_factory=list)
    #: The message's own unsubscribe link (for the ``List-Unsubscribe`` header).
    unsubscribe_url: str = ""


class _LinkRewriter:
    """Makes URLs absolute, collects them and, when tracking, wraps them in the click redirect."""

    def __init__(self, session: RenderSession, message):
        self.session = session
        self.message_id = message.pk if message is not None else None
        self.track = self.message_id is not None and session.track_clicks
        self.links: list[str] = []
        self._wrapped: dict[str, str] = {}
        self._click_url = session.click_url_factory(self.message_id) if self.track else None

    def link(self, url: str) -> str:
        """The URL to put in the message for the link ``url`` (absolute)."""
        if not url.startswith(("http://", "https://")) or self.session.is_own_url(url):
            return url
        if url not in self._wrapped:
            self._wrapped[url] = self._click_url(len(self.links)) if self.track else url
            self.links.append(url)
        return self._wrapped[url]

    def _attribute(self, match: re.Match) -> str:
        name, quote, raw = match.group(1), match.group(2), html.unescape(match.group(3)).strip()
        if not raw or raw.startswith(("#", "mailto:", "tel:", "data:", "cid:")):
            return match.group(0)
        url = self.session.absolute(raw)
        if name.lower() == "href":
            url = self.link(url)
        return f"{name}={quote}{escape(url)}{quote}"

    def html(self, document: str) -> str:
        return _ATTRIBUTE_RE.sub(self._attribute, document)

    def text(self, document: str) -> str:
        return _TEXT_URL_RE.sub(lambda match: self.link(match.group(0)), document)


def _footer_urls(session: RenderSession, contact, message) -> tuple[str, str]:
    """The unsubscribe and preference-centre URLs of this email."""
    if message is not None and message.pk is not None:
        unsubscribe = session.signed_url("unsubscribe", tokens.UNSUBSCRIBE, message.pk)
    else:
        # A preview has no message to unsubscribe from: the link shows what it will be.
        unsubscribe = session.absolute(reverse("wagtail_journeys:unsubscribe", args=["preview"]))
    if contact.pk is not None:
        preferences = session.signed_url("preferences", tokens.PREFERENCES, contact.pk)
    else:
        preferences = session.absolute(reverse("wagtail_journeys:preferences", args=["preview"]))
    return unsubscribe, preferences


def render_email(
    template,
    contact,
    *,
    message=None,
    context: dict[str, Any] | None = None,
    base: str | None = None,
    session: RenderSession | None = None,
) -> RenderedEmail:
    """Render ``template`` (an EmailTemplate, or one of its revisions' objects) for ``contact``.

    With ``message`` (a saved Message), links are wrapped for click tracking,
    the open pixel and the unsubscribe link are added; without it (previews),
    links are left as they are. Pass one ``session`` (a ``RenderSession``) to
    every call of a batch: it caches what the emails share (brand, images,
    products, recommendations), so each email costs only its own queries.
    """
    session = session or RenderSession(base=base)
    unsubscribe_url, preferences_url = _footer_urls(session, contact, message)
    ctx = EmailContext(
        session,
        contact,
        message=message,
        context=context,
        template=template,
        unsubscribe_url=unsubscribe_url,
        preferences_url=preferences_url,
    )
    body_block = template.body.stream_block
    # A journey's A/B subject variant replaces the template's own.
    subject_source = (context or {}).get("subject_variant") or template.subject
    subject = " ".join(ctx.merge_text(subject_source).split())
    preheader = " ".join(ctx.merge_text(template.preheader).split())
    open_pixel = ""
    if message is not None and message.pk is not None and session.track_opens:
        open_pixel = session.signed_url("open", tokens.OPEN, message.pk)
    flags = {
        # The message's kind wins: a marketing template sent as a transactional
        # confirmation must not carry an unsubscribe footer its headers lack.
        "marketing": (message.kind if message is not None else template.kind) == Kind.MARKETING,
        "preheader": bool(preheader),
        "pixel": bool(open_pixel),
    }
    rewriter = _LinkRewriter(session, message)

    body_html = body_block.render_html(template.body, ctx)
    body_html = rewriter.html(inline_fragment(body_html, session.stylesheet))
    document = session.layout(LAYOUT_HTML, inline=True, **flags).fill(
        {
            "subject": escape(subject),
            "preheader": escape(preheader),
            "body": body_html,
            "unsubscribe_url": escape(unsubscribe_url),
            "preferences_url": escape(preferences_url),
            "open_pixel_url": escape(open_pixel),
        }
    )
    body_text = rewriter.text(body_block.render_text(template.body, ctx))
    text = session.layout(LAYOUT_TEXT, inline=False, **flags).fill(
        {
            "subject": subject,
            "preheader": preheader,
            "body": body_text,
            "unsubscribe_url": unsubscribe_url,
            "preferences_url": preferences_url,
            "open_pixel_url": open_pixel,
        }
    )
    return RenderedEmail(
        subject=subject,
        preheader=preheader,
        html=document,
        text=re.sub(r"\n{3,}", "\n\n", text).strip() + "\n",
        links=rewriter.links,
        unsubscribe_url=unsubscribe_url,
    )
