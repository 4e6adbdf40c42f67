"""Content blocks of an email: heading, text, image, button, columns, divider, spacer, raw HTML."""

from __future__ import annotations

from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.images.blocks import ImageChooserBlock
from wagtail.rich_text import RichText

from wagtail_journeys.email import merge
from wagtail_journeys.email.blocks.base import (
    EmailBlock,
    MergeCharBlock,
    struct_errors,
    validate_merge_fields,
)
from wagtail_journeys.email.merge import unescape_tags
from wagtail_journeys.email.text import html_to_text

TEMPLATES = "wagtail_journeys/email/blocks/"


class HeadingBlock(EmailBlock, blocks.StructBlock):
    text = MergeCharBlock(
        label=_("Text"), max_length=255, help_text=_("Merge fields work: {{ contact.first_name }}")
    )
    level = blocks.ChoiceBlock(
        label=_("Size"),
        choices=[("h1", _("Large")), ("h2", _("Medium")), ("h3", _("Small"))],
        default="h2",
    )

    class Meta:
        icon = "title"
        label = _("Heading")
        help_text = _("A title or section heading.")
        description = _("A heading in the brand's text colour.")
        template = TEMPLATES + "heading.html"
        preview_value = {"text": "Hello {{ contact.first_name }}", "level": "h1"}

    def get_email_context(self, value, ctx):
        return {"text": ctx.merge_text(value["text"]), "level": value["level"]}

    def render_text(self, value, ctx):
        text = ctx.merge_text(value["text"])
        underline = "=" if value["level"] == "h1" else "-"
        return f"{text}\n{underline * min(len(text), 72)}"


class EmailRichTextBlock(EmailBlock, blocks.RichTextBlock):
    """Rich text whose merge fields are filled (and HTML-escaped) per contact."""

    def __init__(self, **kwargs):
        kwargs.setdefault("features", ["h3", "bold", "italic", "link", "ol", "ul"])
        super().__init__(**kwargs)

    class Meta:
        icon = "pilcrow"
        label = _("Text")
        help_text = _(
            'Merge fields work, e.g. {{ contact.first_name|default:"there" }}. '
            "Links to pages become absolute links."
        )
        description = _("Paragraphs, lists and links, with merge fields.")
        template = TEMPLATES + "rich_text.html"
        preview_value = RichText(
            '<p>Hi {{ contact.first_name|default:"there" }}, thanks for shopping with us.</p>'
        )

    def clean(self, value):
        value = super().clean(value)
        validate_merge_fields(unescape_tags(value.source))
        return value

    def own_merge_sources(self, value):
        return [unescape_tags(value.source)]

    def get_email_context(self, value, ctx):
        html, _text = ctx.session.rich_text(value.source)
        return {"html": mark_safe(ctx.merge_html(html))}  # noqa: S308 - escaped by merge

    def render_text(self, value, ctx):
        _html, text = ctx.session.rich_text(value.source)
        return ctx.merge_text(text)


class ImageBlock(EmailBlock, blocks.StructBlock):
    image = ImageChooserBlock(label=_("Image"))
    alt = blocks.CharBlock(
        label=_("Alternative text"),
        required=False,
        max_length=255,
        help_text=_("Read out by screen readers and shown when images are blocked."),
    )
    link = blocks.URLBlock(label=_("Link"), required=False)

    class Meta:
        icon = "image"
        label = _("Image")
        help_text = _("Shown full width; upload at least 1200 pixels wide for sharp screens.")
        description = _("A picture, optionally linked.")
        template = TEMPLATES + "image.html"
        preview_value = {"image": None, "alt": "", "link": ""}

    def get_email_context(self, value, ctx):
        image = value["image"]
        if image is None:
            return None
        return {
            "src": ctx.session.image_url(image, "width-1200"),
            "alt": value["alt"] or image.title,
            "link": ctx.session.absolute(value["link"]) if value["link"] else "",
        }

    def render_text(self, value, ctx):
        image = value["image"]
        if image is None:
            return ""
        alt = value["alt"] or image.title
        return f"[{alt}] {ctx.session.absolute(value['link'])}" if value["link"] else f"[{alt}]"


#: Schemes a button's URL may have once its merge fields are filled.
_MERGED_URL_SCHEMES = ("http://", "https://", "mailto:")


def _is_merged_url(url: str) -> bool:
    return "{{" in url or "{%" in url


class ButtonBlock(EmailBlock, blocks.StructBlock):
    """A button to a page, a URL, or a link known only when sending (``{{ confirm_url }}``)."""

    label = MergeCharBlock(label=_("Label"), max_length=80)
    page = blocks.PageChooserBlock(label=_("Page"), required=False)
    url = blocks.URLBlock(label=_("or URL"), required=False)

    class Meta:
        icon = "link"
        label = _("Button")
        help_text = _(
            "Choose a page or enter a URL. The URL can be a merge field holding a link, "
            "such as {{ confirm_url }} in a double opt-in confirmation email."
        )
        description = _("A call-to-action button in the brand colour.")
        template = TEMPLATES + "button.html"
        preview_value = {"label": "Shop now", "page": None, "url": "https://example.com/"}

    def clean(self, value):
        url = (value["url"] or "").strip()
        if _is_merged_url(url):
            # A merge field is not a URL until it is filled: check it as a merge
            # template, and the other fields as usual.
            value = super().clean(
                self._to_struct_value(
                    [(name, "" if name == "url" else child) for name, child in value.items()]
                )
            )
            messages = merge.errors(url)
            if messages:
                raise struct_errors(url=" ".join(messages))
            value["url"] = url
        else:
            value = super().clean(value)
        if not value["page"] and not value["url"]:
            raise struct_errors(url=_("Choose a page or enter a URL."))
        if value["page"] and value["url"]:
            raise struct_errors(url=_("Choose a page or enter a URL, not both."))
        return value

    def own_merge_sources(self, value):
        return [value["label"] or "", value["url"] or ""]

    def href(self, value, ctx) -> str:
        page = value["page"]
        if page is not None:
            url = page.get_url()
            return ctx.session.absolute(url) if url else ""
        url = value["url"] or ""
        if not _is_merged_url(url):
            return ctx.session.absolute(url) if url else ""
        url = ctx.merge_text(url).strip()
        if not url:
            # A preview has no confirm_url (nor any context): show the button anyway.
            return "#" if ctx.preview else ""
        url = ctx.session.absolute(url)
        # Whatever a merge field holds, a button never links to javascript: and the like.
        return url if url.lower().startswith(_MERGED_URL_SCHEMES) else ""

    def get_email_context(self, value, ctx):
        href = self.href(value, ctx)
        if not href:
            return None
        return {"label": ctx.merge_text(value["label"]), "href": href}

    def render_text(self, value, ctx):
        href = self.href(value, ctx)
        return f"{ctx.merge_text(value['label'])}: {href}" if href else ""


class DividerBlock(EmailBlock, blocks.StaticBlock):
    class Meta:
        icon = "horizontalrule"
        label = _("Divider")
        help_text = _("A thin horizontal line.")
        description = _("Separates two parts of the email.")
        admin_text = _("A horizontal line.")
        template = TEMPLATES + "divider.html"
        preview_value = None

    def render_text(self, value, ctx):
        return "-" * 40


class SpacerBlock(EmailBlock, blocks.StructBlock):
    height = blocks.IntegerBlock(
        label=_("Height in pixels"), default=24, min_value=4, max_value=120
    )

    class Meta:
        icon = "arrows-up-down"
        label = _("Spacer")
        help_text = _("Empty vertical space.")
        description = _("Adds breathing room between blocks.")
        template = TEMPLATES + "spacer.html"
        preview_value = {"height": 24}

    def render_text(self, value, ctx):
        return ""


class EmailRawHTMLBlock(EmailBlock, blocks.RawHTMLBlock):
    """HTML pasted as it is; only users with ``use_raw_html`` may add or change it."""

    class Meta:
        icon = "code"
        label = _("Raw HTML")
        help_text = _(
            "Inserted as it is, without any check. Only users allowed to use raw HTML "
            "(the “Can use raw HTML blocks in email templates” permission) can add or change it."
        )
        description = _("Custom HTML, for users with the raw HTML permission.")
        template = TEMPLATES + "raw_html.html"
        preview_value = "<p><em>Custom HTML</em></p>"

    def get_email_context(self, value, ctx):
        return {"html": mark_safe(value)}  # noqa: S308 - trusted users only, see the permission

    def render_text(self, value, ctx):
        return html_to_text(value, ctx.session.base)


class ColumnsBlock(EmailBlock, blocks.StructBlock):
    """Two columns side by side, stacked on narrow screens.

    Built with its ``left`` and ``right`` streams:
    ``ColumnsBlock([("left", stream), ("right", stream)])``.
    """

    class Meta:
        icon = "table"
        label = _("Two columns")
        help_text = _("Side by side on wide screens, one above the other on phones.")
        description = _("Two columns of content.")
        template = TEMPLATES + "columns.html"
        preview_value = {
            "left": [("heading", {"text": "Left", "level": "h3"})],
            "right": [("heading", {"text": "Right", "level": "h3"})],
        }

    def get_email_context(self, value, ctx):
        return {
            "left": mark_safe(self.child_blocks["left"].render_html(value["left"], ctx)),  # noqa: S308
            "right": mark_safe(self.child_blocks["right"].render_html(value["right"], ctx)),  # noqa: S308
        }

    def render_text(self, value, ctx):
        parts = [
            self.child_blocks[name].render_text(value[name], ctx) for name in ("left", "right")
        ]
        return "\n\n".join(part for part in parts if part.strip())


def require_fields(value, *names, message=None) -> None:
    """Raise a StructBlock error on each of ``names`` that is empty in ``value``."""
    missing = {name: message or _("This field is required.") for name in names if not value[name]}
    if missing:
        raise struct_errors(**missing)
