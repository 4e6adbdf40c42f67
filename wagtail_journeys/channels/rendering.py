"""Filling an SMS or push template's merge fields for one contact.

The same merge fields as email (``{{ contact.first_name }}``,
``{{ context.order_ref }}``, ``{{ site_name }}``), rendered as plain text:
an SMS or a notification is not HTML, so nothing is escaped.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from wagtail_journeys.email import links, merge


def _site_name() -> str:
    from wagtail_journeys.email.consent import _brand, _site_name

    return _site_name(_brand())


def channel_values(contact, context: dict[str, Any] | None = None) -> dict[str, Any]:
    """The merge values for one SMS or notification to ``contact``."""
    return merge.merge_values(
        contact,
        site_name=_site_name(),
        unsubscribe_url="",
        preferences_url=links.preferences_url(contact.pk) if contact.pk else "",
        context=context,
    )


def render_sms(template, contact, context: dict[str, Any] | None = None) -> str:
    """The text of ``template`` (an SmsTemplate) for ``contact``."""
    values = channel_values(contact, context)
    text = merge.render(template.body, values, autoescape=False)
    return text.replace("\r\n", "\n").strip()


@dataclass(frozen=True)
class RenderedPush:
    title: str
    body: str
    #: The template's link made absolute (the notification opens it through the click tracker).
    url: str
    icon: str


def render_push(template, contact, context: dict[str, Any] | None = None) -> RenderedPush:
    """The title, text, link and icon of ``template`` (a PushTemplate) for ``contact``."""
    values = channel_values(contact, context)
    return RenderedPush(
        title=merge.render(template.title, values, autoescape=False).strip(),
        body=merge.render(template.body, values, autoescape=False).strip(),
        url=links.absolute(template.url),
        icon=links.absolute(template.icon) if template.icon else "",
    )
