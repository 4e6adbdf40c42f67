"""StreamField blocks of an email body.

A StreamBlock cannot contain itself, so the body is built in layers: the
content blocks; columns of content blocks; conditional content holding
either; and the body holding all of them. Every block renders HTML and
plain text (``render_html`` / ``render_text``, see ``base.py``).
"""

from django.utils.translation import gettext_lazy as _

from wagtail_journeys.email.blocks.base import EmailBlock, EmailStreamBlock
from wagtail_journeys.email.blocks.commerce import (
    CartItemsBlock,
    DiscountCodeBlock,
    ProductCardBlock,
    RecommendationsBlock,
    WishlistItemsBlock,
)
from wagtail_journeys.email.blocks.conditions import ConditionalBlock
from wagtail_journeys.email.blocks.content import (
    ButtonBlock,
    ColumnsBlock,
    DividerBlock,
    EmailRawHTMLBlock,
    EmailRichTextBlock,
    HeadingBlock,
    ImageBlock,
    SpacerBlock,
)

__all__ = [
    "EmailBlock",
    "EmailBodyBlock",
    "EmailStreamBlock",
    "RAW_HTML_BLOCK_NAME",
]

#: The name of raw HTML blocks in every stream (checked against the permission).
RAW_HTML_BLOCK_NAME = "raw_html"


def content_blocks() -> list[tuple[str, EmailBlock]]:
    """The blocks that fit anywhere, a column included."""
    return [
        ("heading", HeadingBlock()),
        ("text", EmailRichTextBlock()),
        ("image", ImageBlock()),
        ("button", ButtonBlock()),
        ("product", ProductCardBlock()),
        ("discount", DiscountCodeBlock()),
        ("divider", DividerBlock()),
        ("spacer", SpacerBlock()),
        (RAW_HTML_BLOCK_NAME, EmailRawHTMLBlock()),
    ]


def commerce_lists() -> list[tuple[str, EmailBlock]]:
    """Full-width product lists, too wide for a column."""
    return [
        ("cart_items", CartItemsBlock()),
        ("wishlist_items", WishlistItemsBlock()),
        ("recommendations", RecommendationsBlock()),
    ]


def columns_block() -> ColumnsBlock:
    return ColumnsBlock(
        [
            ("left", EmailStreamBlock(content_blocks(), required=False, label=_("Left"))),
            ("right", EmailStreamBlock(content_blocks(), required=False, label=_("Right"))),
        ]
    )


class EmailBodyBlock(EmailStreamBlock):
    """The body of an email template."""

    def __init__(self, local_blocks=None, **kwargs):
        if local_blocks is None:
            conditional_content = EmailStreamBlock(
                [*content_blocks(), ("columns", columns_block()), *commerce_lists()],
                label=_("Content"),
            )
            local_blocks = [
                *content_blocks(),
                ("columns", columns_block()),
                *commerce_lists(),
                ("conditional", ConditionalBlock([("content", conditional_content)])),
            ]
        super().__init__(local_blocks, **kwargs)
