"""The plain-text form of an HTML fragment (rich text and raw HTML blocks).

Each block writes its own text form; only blocks whose content *is* HTML use
this: paragraphs become blank-line separated, list items get a dash, a link
becomes ``label (URL)`` with the URL made absolute, an image its alt text.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

from wagtail_journeys.email import links

_BLOCK_TAGS = frozenset(
    {"p", "div", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "table", "tr", "ul", "ol"}
)
_SKIPPED_TAGS = frozenset({"script", "style", "head", "title"})


class _TextParser(HTMLParser):
    def __init__(self, base: str):
        super().__init__(convert_charrefs=True)
        self.base = base
        self.parts: list[str] = []
        self.href_stack: list[tuple[str, int]] = []
        self.skipping = 0

    def _break(self, count: int = 2) -> None:
        self.parts.append("\n" * count)

    def handle_starttag(self, tag, attrs):
        attributes = dict(attrs)
        if tag in _SKIPPED_TAGS:
            self.skipping += 1
        elif tag in _BLOCK_TAGS:
            self._break()
        elif tag == "br":
            self._break(1)
        elif tag == "li":
            self.parts.append("\n- ")
        elif tag in ("td", "th"):
            self.parts.append(" ")
        elif tag == "img" and attributes.get("alt"):
            self.parts.append(attributes["alt"])
        elif tag == "a":
            href = (attributes.get("href") or "").strip()
            self.href_stack.append((href, len(self.parts)))

    def handle_endtag(self, tag):
        if tag in _SKIPPED_TAGS:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _BLOCK_TAGS:
            self._break()
        elif tag == "a" and self.href_stack:
            href, start = self.href_stack.pop()
            if not href or href.startswith("#"):
                return
            # A merge field ({{ preferences_url }}) is filled in after this, into an absolute URL.
            merged = "{{" in href or "%7B%7B" in href
            url = href if href.startswith("mailto:") or merged else links.absolute(href, self.base)
            label = "".join(self.parts[start:]).strip()
            if label != url and label != href.removeprefix("mailto:"):
                self.parts.append(f" ({url})" if label else url)

    def handle_data(self, data):
        if not self.skipping:
            self.parts.append(re.sub(r"\s+", " ", data))


def html_to_text(fragment: str, base: str) -> str:
    """The readable text of an HTML ``fragment``, links made absolute against ``base``."""
    parser = _TextParser(base)
    parser.feed(fragment)
    parser.close()
    text = "".join(parser.parts)
    lines = [line.strip() for line in text.splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()
