"""StreamField blocks of the storefront's pages.

Each block names its icon, help text, preview and template, so that the
block chooser in the page editor explains itself (as in bakerydemo).
"""

from wagtail import blocks
from wagtail.images.blocks import ImageChooserBlock


class ImageBlock(blocks.StructBlock):
    """An image with an optional caption and credit."""

    image = ImageChooserBlock()
    caption = blocks.CharBlock(required=False, help_text="Shown under the image.")
    attribution = blocks.CharBlock(required=False, help_text="Who made the image.")

    class Meta:
        icon = "image"
        label = "Image"
        template = "storefront/blocks/image_block.html"
        description = "A full-width image with a caption."


class HeadingBlock(blocks.StructBlock):
    """A section heading; the size sets the outline of the page for screen readers."""

    heading_text = blocks.CharBlock(classname="title")
    size = blocks.ChoiceBlock(
        choices=[("h2", "H2"), ("h3", "H3"), ("h4", "H4")],
        default="h2",
        help_text="Use H2 for sections and H3 or H4 below them.",
    )

    class Meta:
        icon = "title"
        label = "Heading"
        template = "storefront/blocks/heading_block.html"
        preview_value = {"heading_text": "Freshly roasted every week", "size": "h2"}
        description = "A section heading."


class BlockQuote(blocks.StructBlock):
    """A quotation, optionally attributed."""

    text = blocks.TextBlock()
    attribute_name = blocks.CharBlock(required=False, label="Attributed to")

    class Meta:
        icon = "openquote"
        label = "Quote"
        template = "storefront/blocks/blockquote.html"
        preview_value = {
            "text": "The best cup of coffee is the one you share.",
            "attribute_name": "A regular customer",
        }
        description = "A quotation, such as a customer review."


class QuestionBlock(blocks.StructBlock):
    """One question and its answer, for FAQ pages."""

    question = blocks.CharBlock(help_text="Phrase it the way a customer would ask it.")
    answer = blocks.RichTextBlock(features=["bold", "italic", "link", "ul", "ol"])

    class Meta:
        icon = "help"
        label = "Question"
        template = "storefront/blocks/question_block.html"
        preview_value = {
            "question": "How fresh is the coffee?",
            "answer": "<p>We roast every Monday and ship within two days.</p>",
        }
        description = "A question and answer that the visitor can expand."


class BaseStreamBlock(blocks.StreamBlock):
    """The blocks of ordinary content pages: the building set shared by most pages."""

    heading_block = HeadingBlock()
    paragraph_block = blocks.RichTextBlock(
        icon="pilcrow",
        label="Paragraph",
        template="storefront/blocks/paragraph_block.html",
        description="Formatted text with links.",
        preview_value="<p>Every bean is roasted in small batches in our own workshop.</p>",
    )
    image_block = ImageBlock()
    block_quote = BlockQuote()
    question_block = QuestionBlock()


class PricingPlanBlock(blocks.StructBlock):
    """One subscription plan of the pricing page."""

    name = blocks.CharBlock(help_text="For example “Taster” or “Café”.")
    price = blocks.DecimalBlock(min_value=0, decimal_places=2, help_text="Price per period.")
    period = blocks.CharBlock(default="month", help_text="What the price pays for, e.g. “month”.")
    description = blocks.TextBlock(required=False)
    features = blocks.ListBlock(
        blocks.CharBlock(label="Feature"), help_text="One short line per benefit."
    )
    cta_text = blocks.CharBlock(default="Choose plan", label="Button text")
    cta_page = blocks.PageChooserBlock(
        required=False, label="Button link", help_text="Where the button leads, e.g. the shop."
    )
    highlighted = blocks.BooleanBlock(
        required=False, help_text="Draw attention to this plan (the one most people pick)."
    )

    class Meta:
        icon = "tag"
        label = "Pricing plan"
        template = "storefront/blocks/pricing_plan_block.html"
        preview_value = {
            "name": "Regular",
            "price": "24.00",
            "period": "month",
            "description": "Two bags of freshly roasted coffee a month.",
            "features": ["2 × 250 g", "Free shipping", "Pause any time"],
            "cta_text": "Choose plan",
            "highlighted": True,
        }
        description = "A plan with its price, benefits and a button."


class PricingStreamBlock(blocks.StreamBlock):
    """The plans of a pricing page, shown side by side."""

    plan = PricingPlanBlock()
