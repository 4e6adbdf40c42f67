"""The layout around every email's body, rendered once per batch with slots for each email.

Rendering ``layout.html`` and inlining its CSS for every email would repeat
the same work thousands of times: the layout is rendered once per batch
(and per kind of email) with markers where an email's own values go, its
CSS inlined, and then cut at the markers. Each email only fills the slots.
"""

from __future__ import annotations

import re

import css_inline
from django.utils.safestring import mark_safe

SLOTS = ("subject", "preheader", "body", "unsubscribe_url", "preferences_url", "open_pixel_url")
_MARKER = "journeys-slot-{}-end"
_MARKER_RE = re.compile(r"journeys-slot-(\w+?)-end")
_STYLE_RE = re.compile(r"</?style[^>]*>")

inliner = css_inline.CSSInliner(keep_at_rules=True, load_remote_stylesheets=False)


class Layout:
    """A rendered layout cut into literal pieces and named slots."""

    def __init__(self, rendered: str):
        parts = _MARKER_RE.split(rendered)
        self.literals = parts[0::2]
        self.slots = parts[1::2]

    def fill(self, values: dict[str, str]) -> str:
        """The layout with each slot replaced by ``values[slot]`` (already escaped for HTML)."""
        pieces = [self.literals[0]]
        for slot, literal in zip(self.slots, self.literals[1:], strict=True):
            pieces.append(values[slot])
            pieces.append(literal)
        return "".join(pieces)


def build_layout(
    template, brand: dict, *, marketing: bool, preheader: bool, pixel: bool, inline: bool
) -> Layout:
    """Render ``template`` (a loaded template) with slot markers, its CSS inlined if ``inline``."""
    context = {name: mark_safe(_MARKER.format(name)) for name in SLOTS}  # noqa: S308
    if not preheader:
        context["preheader"] = ""
    if not pixel:
        context["open_pixel_url"] = ""
    context.update(brand=brand, marketing=marketing)
    rendered = template.render(context)
    return Layout(inliner.inline(rendered) if inline else rendered)


def stylesheet(template, brand: dict) -> str:
    """The CSS of ``styles.html`` for ``brand``, without its ``<style>`` tags."""
    return _STYLE_RE.sub("", template.render({"brand": brand}))


def inline_fragment(html: str, css: str) -> str:
    """``html`` (an email's body) with ``css`` copied into its style attributes."""
    return inliner.inline_fragment(html, css)
