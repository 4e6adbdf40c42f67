"""What rendering one email, or a batch of them, needs to know.

``RenderSession`` holds what every email of a batch shares (the base URL,
the brand, compiled templates, image renditions, product snapshots, the
recommendation index), so that rendering 10,000 emails does not ask the
database 10,000 times for the same thing. ``EmailContext`` is one email:
the contact, the message, the merge values, and the contact's cart,
wishlist and history, each loaded once and only if a block asks for it.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import contextmanager
from functools import cached_property
from typing import Any

from django.conf import settings
from django.template.loader import get_template
from django.urls import reverse
from wagtail.models import Site
from wagtail.rich_text import expand_db_html

from wagtail_journeys.conf import get_setting
from wagtail_journeys.email import links, merge, tokens
from wagtail_journeys.email.text import html_to_text

#: Our own endpoints (with their arguments after the token): links to them are never wrapped.
_OWN_URLS = (
    ("open", ()),
    ("click", (0,)),
    ("unsubscribe", ()),
    ("preferences", ()),
    ("confirm", ()),
)


class RenderSession:
    """Caches shared by the emails of one batch (or one preview).

    Create one per batch, call ``prefetch(contacts)`` with the batch's
    contacts, and pass it to every ``render_email(..., session=session)``
    call. With ``preview=True`` nothing is written (no discount codes).
    """

    def __init__(self, *, base: str | None = None, preview: bool = False):
        self.base = (base or links.base_url()).rstrip("/")
        self.preview = preview
        self.track_opens = bool(get_setting("TRACK_OPENS"))
        self.track_clicks = bool(get_setting("TRACK_CLICKS"))
        self._templates: dict[str, Any] = {}
        self._renditions: dict[tuple[int, str], str] = {}
        self._products: dict[tuple[int, str], Any] = {}
        self._rich_text: dict[str, tuple[str, str]] = {}
        self._layouts: dict[tuple, Any] = {}
        self._url_templates: dict[tuple, tuple[str, str]] = {}
        #: Per-contact data loaded for a whole batch by ``prefetch()``.
        self.prefetched: dict[str, dict[int, Any]] = {}

    def absolute(self, url: str) -> str:
        """``url`` made absolute against the base URL."""
        if url.startswith(("http://", "https://")):
            return url
        return links.absolute(url, self.base)

    def _url_parts(self, name: str, *extra) -> tuple[str, str]:
        """The absolute URL of view ``name`` cut where its token goes (reversed once per run)."""
        key = (name, *extra)
        if key not in self._url_templates:
            marker = "journeys-token"
            path = reverse(f"wagtail_journeys:{name}", args=[marker, *extra])
            prefix, _marker, suffix = self.absolute(path).partition(marker)
            self._url_templates[key] = (prefix, suffix)
        return self._url_templates[key]

    def signed_url(self, name: str, purpose: str, *values) -> str:
        """The same URL as the ``links`` function for view ``name``, without reversing it each time.

        An email has a handful of signed links: resolving each view's URL
        once per run instead of once per link is a measurable part of
        rendering a batch.
        """
        prefix, suffix = self._url_parts(name)
        return prefix + tokens.make_token(purpose, *values) + suffix

    def click_url_factory(self, message_id: int) -> Callable[[int], str]:
        """``links.click_url(message_id, index)`` for each link ``index`` of one message, cheaply.

        The message's token is signed once, not once per link.
        """
        prefix, suffix = self._url_parts("click", 0)
        start = f"{prefix}{tokens.make_token(tokens.CLICK, message_id)}/"
        end = suffix.removeprefix("/0")
        return lambda index: f"{start}{index}{end}"

    def prefetch(self, contacts) -> None:
        """Load what the shop blocks need for all ``contacts`` at once (three queries).

        Call it with each batch before rendering its emails: every contact's
        cart items, wishlist items and viewed products then come from here.
        """
        from wagtail_journeys.email.recommendations import viewed_products
        from wagtail_journeys.models import CartItem, WishlistItem

        ids = [contact.pk for contact in contacts if contact.pk is not None]
        carts: dict[int, list] = {pk: [] for pk in ids}
        for item in CartItem.objects.filter(cart__contact_id__in=ids).select_related("cart"):
            carts[item.cart.contact_id].append(item)
        wishlists: dict[int, list] = {pk: [] for pk in ids}
        wished = WishlistItem.objects.filter(wishlist__contact_id__in=ids).select_related(
            "wishlist"
        )
        for item in wished.order_by("-pk"):
            wishlists[item.wishlist.contact_id].append(item)
        self.prefetched = {
            "cart_items": carts,
            "wishlist_items": wishlists,
            "viewed": viewed_products(ids, self.recommendation_index),
        }

    def prefetched_for(self, name: str, contact_id: int):
        """What ``prefetch()`` loaded under ``name`` for this contact, or None."""
        return self.prefetched.get(name, {}).get(contact_id)

    def layout(self, name: str, *, marketing: bool, preheader: bool, pixel: bool, inline: bool):
        """The layout template ``name`` with slots for each email (see ``email/layout.py``)."""
        from wagtail_journeys.email.layout import build_layout

        key = (name, marketing, preheader, pixel, inline)
        if key not in self._layouts:
            self._layouts[key] = build_layout(
                self.template(name),
                self.brand,
                marketing=marketing,
                preheader=preheader,
                pixel=pixel,
                inline=inline,
            )
        return self._layouts[key]

    @cached_property
    def stylesheet(self) -> str:
        """The CSS that the body of every email gets inlined."""
        from wagtail_journeys.email.layout import stylesheet

        return stylesheet(self.template("wagtail_journeys/email/styles.html"), self.brand)

    def template(self, name: str):
        """The Django template ``name``, loaded once per session."""
        if name not in self._templates:
            self._templates[name] = get_template(name)
        return self._templates[name]

    @cached_property
    def site(self) -> Site | None:
        return Site.objects.filter(is_default_site=True).select_related("root_page").first()

    @cached_property
    def brand(self) -> dict[str, str]:
        """The default site's email branding, as the layout and blocks use it."""
        from wagtail_journeys.models.branding import EmailBrandSettings

        brand = None
        if self.site is not None:
            brand = EmailBrandSettings.objects.filter(site=self.site).select_related("logo").first()
        brand = brand or EmailBrandSettings()
        default_name = (self.site.site_name if self.site else "") or getattr(
            settings, "WAGTAIL_SITE_NAME", ""
        )
        return {
            "company_name": brand.company_name or default_name,
            "logo_url": self.image_url(brand.logo, "max-400x120") if brand.logo_id else "",
            "primary_colour": brand.primary_colour,
            "background_colour": brand.background_colour,
            "text_colour": brand.text_colour,
            "postal_address": brand.postal_address,
            "footer_text": brand.footer_text,
        }

    @cached_property
    def own_url_prefixes(self) -> tuple[str, ...]:
        """Absolute URL prefixes of the open, click, unsubscribe, preferences and confirm views."""
        return tuple(self._url_parts(name, *extra)[0] for name, extra in _OWN_URLS)

    def is_own_url(self, url: str) -> bool:
        return url.startswith(self.own_url_prefixes)

    def image_url(self, image, filter_spec: str) -> str:
        """The absolute URL of a rendition of a Wagtail image (one query per image and spec)."""
        key = (image.pk, filter_spec)
        if key not in self._renditions:
            self._renditions[key] = self.absolute(image.get_rendition(filter_spec).url)
        return self._renditions[key]

    def product(self, content_type_id: int, product_id):
        """The adapter's snapshot of a product (a live page, or any model), or None if gone."""
        found = self.products([(content_type_id, product_id)])
        return found[0] if found else None

    def products(self, keys) -> list:
        """Snapshots of the products ``keys`` (``(content_type_id, product_id)``), in order."""
        from wagtail_journeys.email.recommendations import load_snapshots

        keys = [(ct, str(pk)) for ct, pk in keys]
        missing = [key for key in keys if key not in self._products]
        if missing:
            found = load_snapshots(missing)
            for key in missing:
                self._products[key] = found.get(key)
        return [self._products[key] for key in keys if self._products[key] is not None]

    def rich_text(self, source: str) -> tuple[str, str]:
        """A rich text value as (HTML merge template, plain-text merge template)."""
        if source not in self._rich_text:
            html = merge.unescape_tags(expand_db_html(source))
            self._rich_text[source] = (html, html_to_text(html, self.base))
        return self._rich_text[source]

    @cached_property
    def recommendation_index(self):
        from wagtail_journeys.email.recommendations import get_index

        return get_index()


class EmailContext:
    """One email being rendered for one contact."""

    def __init__(
        self,
        session: RenderSession,
        contact,
        *,
        message=None,
        context: dict[str, Any] | None = None,
        template=None,
        unsubscribe_url: str = "",
        preferences_url: str = "",
    ):
        self.session = session
        self.contact = contact
        self.message = message
        self.context = dict(context or {})
        self.template = template
        self.block_id = ""
        self._once: dict = {}
        self.merge = merge.merge_values(
            contact,
            site_name=session.brand["company_name"],
            unsubscribe_url=unsubscribe_url,
            preferences_url=preferences_url,
            context=self.context,
        )

    @property
    def preview(self) -> bool:
        return self.session.preview

    @property
    def is_sample(self) -> bool:
        """The contact is the unsaved sample contact of a preview."""
        return self.contact.pk is None

    def once(self, name: str, compute: Callable[[], Any]) -> Any:
        """``compute()`` for the block being rendered, worked out once per email.

        Blocks render twice, as HTML and as text: what they look up (items,
        a condition) is the same both times.
        """
        key = (name, self.block_id)
        if key not in self._once:
            self._once[key] = compute()
        return self._once[key]

    @contextmanager
    def inside_block(self, block_id: str):
        """Set ``block_id`` (the id of the stream child being rendered) for a while."""
        outer, self.block_id = self.block_id, block_id or ""
        try:
            yield
        finally:
            self.block_id = outer

    def merge_text(self, source: str) -> str:
        """``source`` with merge fields filled, unescaped (for text, or a template that escapes)."""
        return merge.render(source, self.merge, autoescape=False)

    def merge_html(self, source: str) -> str:
        """HTML ``source`` with merge fields filled and HTML-escaped."""
        return merge.render(source, self.merge, autoescape=True)

    @cached_property
    def all_cart_items(self) -> list:
        """Every item of every cart of the contact, with its cart (one query)."""
        from wagtail_journeys.models import CartItem

        if self.is_sample:
            return []
        prefetched = self.session.prefetched_for("cart_items", self.contact.pk)
        if prefetched is not None:
            return prefetched
        return list(CartItem.objects.filter(cart__contact=self.contact).select_related("cart"))

    @cached_property
    def cart_items(self) -> list:
        """Items of the cart this email is about.

        The cart named by ``context["cart_id"]`` if it is this contact's;
        without one, the contact's most recent open or abandoned cart.
        """
        from wagtail_journeys.models import Cart

        cart_id = self.context.get("cart_id")
        if cart_id not in (None, ""):
            try:
                cart_id = int(cart_id)
            except (TypeError, ValueError):
                return []
        else:
            carts = {
                item.cart
                for item in self.all_cart_items
                if item.cart.status in (Cart.Status.OPEN, Cart.Status.ABANDONED)
            }
            if not carts:
                return []
            cart_id = max(carts, key=lambda cart: (cart.updated_at, cart.pk)).pk
        return [item for item in self.all_cart_items if item.cart_id == cart_id]

    @cached_property
    def cart_restore_url(self) -> str:
        """The link that brings the cart of ``cart_items`` back, or "" without items."""
        items = self.cart_items
        if not items:
            return ""
        return self.session.signed_url("restore_cart", tokens.CART, items[0].cart_id)

    @cached_property
    def wishlist_items(self) -> list:
        from wagtail_journeys.models import WishlistItem

        if self.is_sample:
            return []
        prefetched = self.session.prefetched_for("wishlist_items", self.contact.pk)
        if prefetched is not None:
            return prefetched
        return list(WishlistItem.objects.filter(wishlist__contact=self.contact).order_by("-pk"))

    @cached_property
    def tags(self) -> frozenset[str]:
        """The contact's tags, lower-cased."""
        if self.is_sample:
            return frozenset()
        return frozenset(name.lower() for name in self.contact.tags.names())

    def recommendations(self, count: int) -> list:
        """``count`` product snapshots related to what the contact viewed, carted or bought."""
        from wagtail_journeys.email.recommendations import recommend

        cache = self.__dict__.setdefault("_recommendations", {})
        if count not in cache:
            cache[count] = recommend(self.contact, count, session=self.session, seen=self.seen)
        return cache[count]

    @cached_property
    def seen(self) -> set:
        """Products the contact carted, bought or viewed (recommendations leave them out)."""
        from wagtail_journeys.email.recommendations import viewed_products

        if self.is_sample:
            return set()
        seen = {(item.product_type_id, item.product_id) for item in self.all_cart_items}
        viewed = self.session.prefetched_for("viewed", self.contact.pk)
        if viewed is None:
            index = self.session.recommendation_index
            viewed = viewed_products([self.contact.pk], index)[self.contact.pk]
        return seen | viewed
