"""Finding a product's rows: the generic key every item stores."""

from __future__ import annotations

from django.contrib.contenttypes.models import ContentType
from django.db import models

from wagtail_journeys.exceptions import CommerceError


def product_key(product) -> dict:
    """The ``product_type``/``product_id`` lookup for a saved model instance."""
    if not isinstance(product, models.Model) or product.pk is None:
        raise CommerceError(f"{product!r} is not a saved product (a model instance with a pk).")
    # Pages are stored under their specific type, so that one product is one
    # row whether the caller passed the Page or the ProductPage instance.
    specific = getattr(product, "specific", product)
    return {
        "product_type": ContentType.objects.get_for_model(specific),
        "product_id": str(product.pk),
    }


def product_properties(item) -> dict:
    """The event properties that describe an item's product."""
    return {
        "product_type": item.product_type.natural_key()[0] + "." + item.product_type.model,
        "product_id": item.product_id,
        "sku": item.sku,
        "title": item.title,
        "price": None if item.unit_price is None else str(item.unit_price),
        "currency": item.currency,
    }
