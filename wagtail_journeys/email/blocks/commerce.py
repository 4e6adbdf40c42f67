"""Shop blocks of an email: product card, cart items, wishlist, recommendations, discount code."""

from __future__ import annotations

from decimal import Decimal
from functools import cached_property

from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.coreutils import resolve_model_string

from wagtail_journeys.conf import get_setting
from wagtail_journeys.email.blocks.base import EmailBlock, MergeCharBlock, struct_errors

TEMPLATES = "wagtail_journeys/email/blocks/"
_CURRENCY_SYMBOLS = {"EUR": "€", "USD": "$", "GBP": "£", "JPY": "¥"}


def format_price(price: Decimal | None, currency: str) -> str:
    """``€12.50``; an unknown currency goes after the amount (``12.50 CHF``)."""
    if price is None:
        return ""
    symbol = _CURRENCY_SYMBOLS.get(currency)
    return f"{symbol}{price:.2f}" if symbol else f"{price:.2f} {currency}".strip()


def product_item(session, *, title, url, image_url, price, currency, quantity=None) -> dict:
    """What the product templates show of one product or line: every URL absolute."""
    line_total = None if price is None or quantity is None else price * quantity
    return {
        "title": title,
        "url": session.absolute(url) if url else "",
        "image_url": session.absolute(image_url) if image_url else "",
        "price": format_price(price, currency),
        "quantity": quantity,
        "line_total": format_price(line_total, currency),
    }


def snapshot_item(session, snapshot) -> dict:
    return product_item(
        session,
        title=snapshot.title,
        url=snapshot.url,
        image_url=snapshot.image_url,
        price=snapshot.price,
        currency=snapshot.currency,
    )


def items_text(heading: str, items: list[dict], link_label: str = "", link: str = "") -> str:
    """The plain-text form of a list of products."""
    lines = [heading, ""] if heading else []
    for item in items:
        quantity = f"{item['quantity']} × " if item["quantity"] else ""
        price = item["line_total"] or item["price"]
        lines.append(f"- {quantity}{item['title']}" + (f" ({price})" if price else ""))
        if item["url"]:
            lines.append(f"  {item['url']}")
    if link:
        lines += ["", f"{link_label}: {link}"]
    return "\n".join(lines)


class ProductChooserBlock(blocks.PageChooserBlock):
    """Chooses a product: a page of ``WAGTAIL_JOURNEYS["PRODUCT_PAGE_TYPES"]`` (any if empty).

    The page types are read from settings when the chooser is first used, not
    when the block is defined, and are left out of migrations.
    """

    @cached_property
    def target_models(self):
        names = self.page_type or get_setting("PRODUCT_PAGE_TYPES")
        return [resolve_model_string(name) for name in names]

    def deconstruct(self):
        path, args, kwargs = super().deconstruct()
        kwargs.pop("page_type", None)
        return path, args, kwargs


class ProductCardBlock(EmailBlock, blocks.StructBlock):
    product = ProductChooserBlock(label=_("Product"))
    button_label = blocks.CharBlock(label=_("Button label"), default=_("View product"))
    show_price = blocks.BooleanBlock(label=_("Show the price"), required=False, default=True)

    class Meta:
        icon = "tag"
        label = _("Product")
        help_text = _("Title, picture, price and a link, read from the product when sending.")
        description = _("One product, with its picture and price.")
        template = TEMPLATES + "product_card.html"
        preview_value = {"product": None, "button_label": "View product", "show_price": True}

    def item(self, value, ctx) -> dict | None:
        page = value["product"]
        if page is None:
            return None
        snapshot = ctx.session.product(page.content_type_id, page.pk)
        return None if snapshot is None else snapshot_item(ctx.session, snapshot)

    def get_email_context(self, value, ctx):
        item = self.item(value, ctx)
        if item is None:
            return None
        return {
            "item": item,
            "button_label": value["button_label"],
            "show_price": value["show_price"],
        }

    def render_text(self, value, ctx):
        item = self.item(value, ctx)
        if item is None:
            return ""
        price = f" ({item['price']})" if value["show_price"] and item["price"] else ""
        return f"{item['title']}{price}\n{value['button_label']}: {item['url']}"


class CartItemsBlock(EmailBlock, blocks.StructBlock):
    heading = MergeCharBlock(label=_("Heading"), required=False, default=_("Your cart"))
    button_label = blocks.CharBlock(label=_("Button label"), default=_("Return to your cart"))
    show_images = blocks.BooleanBlock(label=_("Show pictures"), required=False, default=True)

    class Meta:
        icon = "list-ul"
        label = _("Cart items")
        help_text = _(
            "The items of the cart that triggered the email (or the contact's latest cart), "
            "with a link that brings the cart back. Left out when the cart is empty."
        )
        description = _("The contact's cart: pictures, titles, quantities, prices.")
        template = TEMPLATES + "cart_items.html"
        preview_value = {
            "heading": "Your cart",
            "button_label": "Return to your cart",
            "show_images": True,
        }

    def items(self, ctx) -> tuple[list[dict], str]:
        """The cart's lines and the link that restores the cart."""
        if ctx.is_sample:
            from wagtail_journeys.email.previews import sample_cart_items

            return [product_item(ctx.session, **line) for line in sample_cart_items()], "#"
        lines = ctx.cart_items
        items = [
            product_item(
                ctx.session,
                title=line.title,
                url=line.product_url,
                image_url=line.image_url,
                price=line.unit_price,
                currency=line.currency,
                quantity=line.quantity,
            )
            for line in lines
        ]
        return items, ctx.cart_restore_url

    def get_email_context(self, value, ctx):
        items, link = ctx.once("items", lambda: self.items(ctx))
        if not items:
            return None
        return {
            "heading": ctx.merge_text(value["heading"]),
            "items": items,
            "restore_url": link,
            "button_label": value["button_label"],
            "show_images": value["show_images"],
        }

    def render_text(self, value, ctx):
        items, link = ctx.once("items", lambda: self.items(ctx))
        if not items:
            return ""
        return items_text(ctx.merge_text(value["heading"]), items, value["button_label"], link)


class _ProductListBlock(EmailBlock):
    """A heading and a list of products; subclasses say which with ``items(value, ctx)``."""

    def _items(self, value, ctx) -> list[dict]:
        return ctx.once("items", lambda: self.items(value, ctx))

    def get_email_context(self, value, ctx):
        items = self._items(value, ctx)
        return {"heading": ctx.merge_text(value["heading"]), "items": items} if items else None

    def render_text(self, value, ctx):
        items = self._items(value, ctx)
        return items_text(ctx.merge_text(value["heading"]), items) if items else ""


class WishlistItemsBlock(_ProductListBlock, blocks.StructBlock):
    heading = MergeCharBlock(label=_("Heading"), required=False, default=_("Your wishlist"))
    limit = blocks.IntegerBlock(label=_("At most"), default=4, min_value=1, max_value=12)

    class Meta:
        icon = "pick"
        label = _("Wishlist items")
        help_text = _("The newest items of the contact's wishlist; left out when it is empty.")
        description = _("What the contact saved for later.")
        template = TEMPLATES + "product_list.html"
        preview_value = {"heading": "Your wishlist", "limit": 4}

    def items(self, value, ctx) -> list[dict]:
        if ctx.is_sample:
            from wagtail_journeys.email.previews import sample_cart_items

            lines = [{**line, "quantity": None} for line in sample_cart_items()]
            return [product_item(ctx.session, **line) for line in lines][: value["limit"]]
        return [
            product_item(
                ctx.session,
                title=line.title,
                url=line.product_url,
                image_url=line.image_url,
                price=line.unit_price,
                currency=line.currency,
            )
            for line in ctx.wishlist_items[: value["limit"]]
        ]


class RecommendationsBlock(_ProductListBlock, blocks.StructBlock):
    heading = MergeCharBlock(label=_("Heading"), required=False, default=_("You might also like"))
    count = blocks.IntegerBlock(label=_("Products"), default=3, min_value=1, max_value=12)

    class Meta:
        icon = "list-ol"
        label = _("Recommendations")
        help_text = _(
            "Products related to what the contact viewed, carted or bought (bought together "
            "or viewed together by other contacts, or of the same category), never ones they "
            "already have. New contacts see the most popular products."
        )
        description = _("Products picked for each contact.")
        template = TEMPLATES + "product_list.html"
        preview_value = {"heading": "You might also like", "count": 3}

    def items(self, value, ctx) -> list[dict]:
        return [snapshot_item(ctx.session, item) for item in ctx.recommendations(value["count"])]


class DiscountCodeBlock(EmailBlock, blocks.StructBlock):
    text = MergeCharBlock(
        label=_("Text"), default=_("Here is 10% off your next order:"), max_length=255
    )
    kind = blocks.ChoiceBlock(
        label=_("Code"),
        choices=[("fixed", _("The same code for everyone")), ("unique", _("A unique code each"))],
        default="fixed",
    )
    code = blocks.CharBlock(
        label=_("Fixed code"), required=False, max_length=64, help_text=_("For “the same code”.")
    )
    prefix = blocks.CharBlock(
        label=_("Prefix of unique codes"),
        required=False,
        max_length=20,
        default="SAVE",
        help_text=_("Unique codes look like SAVE-7KQ2M9XD; each is recorded per contact."),
    )

    class Meta:
        icon = "ticket"
        label = _("Discount code")
        help_text = _(
            "A fixed code, or a unique one generated once per contact and kept: the same "
            "contact always sees the same code. Create the codes in your shop too."
        )
        description = _("A discount code, fixed or unique per contact.")
        template = TEMPLATES + "discount_code.html"
        preview_value = {
            "text": "Here is 10% off:",
            "kind": "fixed",
            "code": "WELCOME10",
            "prefix": "",
        }

    def clean(self, value):
        value = super().clean(value)
        if value["kind"] == "fixed" and not value["code"]:
            raise struct_errors(code=_("Enter the code everyone gets."))
        return value

    def code_for(self, value, ctx) -> str:
        """The code to show: the fixed one, or the contact's own."""
        if value["kind"] == "fixed":
            return value["code"]
        from wagtail_journeys.email.discounts import code_for

        return code_for(ctx, value["prefix"])

    def get_email_context(self, value, ctx):
        code = self.code_for(value, ctx)
        return {"text": ctx.merge_text(value["text"]), "code": code} if code else None

    def render_text(self, value, ctx):
        code = self.code_for(value, ctx)
        return f"{ctx.merge_text(value['text'])}\n\n    {code}" if code else ""
