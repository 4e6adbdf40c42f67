"""Product adapters: how any product model becomes a cart or wishlist item.

The default adapter reads the attributes most shops already have. A shop whose
products look different subclasses ``ProductAdapter`` and names it in
``WAGTAIL_JOURNEYS["PRODUCT_ADAPTER"]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache

from django.utils.module_loading import import_string

from wagtail_journeys import conf
from wagtail_journeys.exceptions import CommerceError, ConfigurationError


@dataclass(frozen=True)
class ProductSnapshot:
    """What a cart or wishlist item remembers of a product."""

    title: str
    price: Decimal | None
    currency: str
    sku: str = ""
    url: str = ""
    image_url: str = ""


class ProductAdapter:
    """Reads a product's title, price, currency, SKU, URL and image.

    Works for Wagtail pages (``title``, ``full_url``) and plain Django models
    (``__str__``, ``get_absolute_url()``). Override any ``get_*`` method.
    """

    image_filter_spec = "fill-400x400"

    def snapshot(self, product) -> ProductSnapshot:
        return ProductSnapshot(
            title=self.get_title(product)[:255],
            price=self.get_price(product),
            currency=self.get_currency(product),
            sku=self.get_sku(product)[:128],
            url=self.get_url(product)[:1024],
            image_url=self.get_image_url(product)[:1024],
        )

    def get_title(self, product) -> str:
        return str(getattr(product, "title", "") or product)

    def get_price(self, product) -> Decimal | None:
        price = getattr(product, "price", None)
        return None if price is None else to_price(price)

    def get_currency(self, product) -> str:
        return getattr(product, "currency", "") or conf.get_setting("DEFAULT_CURRENCY")

    def get_sku(self, product) -> str:
        return str(getattr(product, "sku", "") or "")

    def get_url(self, product) -> str:
        # Wagtail pages know their absolute URL; other models only a path.
        url = getattr(product, "full_url", None)
        if url is None and hasattr(product, "get_absolute_url"):
            url = product.get_absolute_url()
        return url or ""

    def get_image_url(self, product) -> str:
        image = getattr(product, "image", None)
        if image is None or not hasattr(image, "get_rendition"):
            return ""
        return image.get_rendition(self.image_filter_spec).full_url


def to_price(value) -> Decimal:
    """``value`` as a non-negative Decimal with two places, or CommerceError."""
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        raise CommerceError(f"{value!r} is not a price.") from None
    if not price.is_finite() or price < 0:
        raise CommerceError(f"{value!r} is not a price.")
    return price.quantize(Decimal("0.01"))


@lru_cache(maxsize=8)
def _load_adapter(path: str) -> ProductAdapter:
    try:
        return import_string(path)()
    except ImportError as error:
        raise ConfigurationError(
            f'WAGTAIL_JOURNEYS["PRODUCT_ADAPTER"] = {path!r} cannot be imported: {error}'
        ) from error


def get_product_adapter() -> ProductAdapter:
    """The adapter named by ``WAGTAIL_JOURNEYS["PRODUCT_ADAPTER"]``."""
    return _load_adapter(conf.get_setting("PRODUCT_ADAPTER"))
