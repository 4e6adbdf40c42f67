"""What every email block can do: render itself as HTML and as plain text for one contact.

Blocks are rendered by ``wagtail_journeys.email.rendering`` through
``render_html(value, ctx)`` and ``render_text(value, ctx)``, where ``ctx`` is
the ``EmailContext`` of one email (the contact, merge values, the cart...).
Wagtail's own ``render()`` (``{% include_block %}``, the block previews of
the StreamField chooser) renders the block for the sample contact.
"""

from __future__ import annotations

from collections.abc import Iterator

from django.core.exceptions import ValidationError
from django.utils.safestring import mark_safe
from wagtail import blocks

from wagtail_journeys.email import merge


class EmailBlock:
    """Mixin for block classes of an email body.

    Subclasses set ``Meta.template`` and override ``get_email_context()``
    (return ``None`` to render nothing) and ``render_text()``.
    """

    def get_email_context(self, value, ctx) -> dict | None:
        """The template context of this block in one email; ``None`` renders nothing."""
        return {"value": value}

    def render_html(self, value, ctx) -> str:
        """This block's HTML in the email ``ctx``."""
        data = self.get_email_context(value, ctx)
        if data is None:
            return ""
        data["brand"] = ctx.session.brand
        return ctx.session.template(self.meta.template).render(data)

    def render_text(self, value, ctx) -> str:
        """This block's plain-text form in the email ``ctx`` (empty: left out)."""
        return ""

    def render(self, value, context=None):
        # Wagtail's path ({% include_block %}, block previews): the sample contact.
        from wagtail_journeys.email.previews import sample_email_context

        return mark_safe(self.render_html(value, sample_email_context()))  # noqa: S308

    def get_preview_template(self, value, context=None):
        return "wagtail_journeys/email/block_preview.html"


class EmailStreamBlock(EmailBlock, blocks.StreamBlock):
    """A list of email blocks; each child renders with its block id in ``ctx.block_id``."""

    def render_html(self, value, ctx) -> str:
        parts = []
        for child in value:
            with ctx.inside_block(child.id):
                parts.append(child.block.render_html(child.value, ctx))
        return "".join(parts)

    def render_text(self, value, ctx) -> str:
        parts = []
        for child in value:
            with ctx.inside_block(child.id):
                text = child.block.render_text(child.value, ctx)
            if text.strip():
                parts.append(text.strip("\n"))
        return "\n\n".join(parts)


def validate_merge_fields(source: str) -> None:
    """Raise a block-level ValidationError if ``source`` has bad merge fields."""
    messages = merge.errors(source)
    if messages:
        raise ValidationError(" ".join(messages))


class MergeCharBlock(blocks.CharBlock):
    """One line of text that takes merge fields, checked when the editor saves."""

    def clean(self, value):
        value = super().clean(value)
        validate_merge_fields(value)
        return value


def merge_sources(block, value) -> Iterator[str]:
    """Every merge template ``block`` fills in when it renders ``value``, nested blocks included.

    A block lists its own with an ``own_merge_sources(value)`` method; a
    ``MergeCharBlock`` is one; streams, structs and lists are searched. Raw
    HTML and plain URLs are not merge templates: a ``{{ }}`` in them is sent
    as it is.
    """
    if value is None:
        return
    own = getattr(block, "own_merge_sources", None)
    if own is not None:
        yield from own(value)
    elif isinstance(block, MergeCharBlock):
        yield value
    elif isinstance(block, blocks.StreamBlock):
        for child in value:
            yield from merge_sources(child.block, child.value)
    elif isinstance(block, blocks.StructBlock):
        for name, child_block in block.child_blocks.items():
            yield from merge_sources(child_block, value.get(name))
    elif isinstance(block, blocks.ListBlock):
        for item in value:
            yield from merge_sources(block.child_block, item)


def shows_merge_field(body: blocks.StreamValue, name: str) -> bool:
    """Whether an email ``body`` shows the context value ``name`` (``confirm_url``) anywhere."""
    return any(merge.shows_field(source, name) for source in merge_sources(body.stream_block, body))


def struct_errors(**errors) -> blocks.StructBlockValidationError:
    """A StructBlock error with one message per named child block."""
    return blocks.StructBlockValidationError(
        block_errors={name: ValidationError(message) for name, message in errors.items()}
    )
