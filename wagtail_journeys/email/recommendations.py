"""Product recommendations: what a contact may like, from what everyone viewed and bought.

Item-to-item, computed in SQL and cached:

- *bought together*: two products in the carts of the same contacts (a
  product in a cart counts once per contact, in a converted cart twice);
- *viewed together*: two product pages viewed by the same contacts;
- *same category*: products sharing the category field
  (``PRODUCT_CATEGORY_FIELD``) of a product the contact looked at;
- *popular*: the products most contacts carted, for contacts without history.

The index of related products is built by a few aggregate queries over the
last ``RECOMMENDATION_DAYS`` days and kept in the default cache for
``RECOMMENDATION_CACHE_SECONDS``; a contact's recommendations then cost two
small queries (their carts and their product views). Products the contact
already viewed, carted or bought are never recommended.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import timedelta

from django.contrib.contenttypes.models import ContentType
from django.core.cache import cache
from django.core.exceptions import FieldDoesNotExist, ValidationError
from django.db.models import Count, F, Q
from django.utils import timezone
from wagtail.coreutils import resolve_model_string
from wagtail.models import Page

from wagtail_journeys.commerce.adapters import get_product_adapter
from wagtail_journeys.conf import get_setting

#: A product: (content type id, primary key as a string), as cart items store it.
Key = tuple[int, str]

CACHE_KEY = "wagtail_journeys:recommendation_index"
#: Related products kept per product, and popular products kept at all.
NEIGHBOURS = 30
POPULAR = 50
PER_CATEGORY = 50


@dataclass
class RecommendationIndex:
    """Related products of each product, the popular ones and the categories."""

    product_types: frozenset[int] = frozenset()
    neighbours: dict[Key, list[tuple[Key, int]]] = field(default_factory=dict)
    popular: list[Key] = field(default_factory=list)
    category_of: dict[Key, object] = field(default_factory=dict)
    by_category: dict[object, list[Key]] = field(default_factory=dict)


def _model(content_type_id: int):
    try:
        return ContentType.objects.get_for_id(content_type_id).model_class()
    except ContentType.DoesNotExist:
        return None


def _since():
    return timezone.now() - timedelta(days=get_setting("RECOMMENDATION_DAYS"))


def _product_types() -> frozenset[int]:
    """Content types that are products: carted or wished for, or named in settings."""
    from wagtail_journeys.models import CartItem, WishlistItem

    found = set(CartItem.objects.values_list("product_type_id", flat=True).distinct())
    found |= set(WishlistItem.objects.values_list("product_type_id", flat=True).distinct())
    for name in get_setting("PRODUCT_PAGE_TYPES"):
        found.add(ContentType.objects.get_for_model(resolve_model_string(name)).pk)
    return frozenset(found)


def _add_pairs(scores, rows, a_type, a_id, b_type, b_id, weight_fields) -> None:
    for row in rows:
        a, b = (row[a_type], str(row[a_id])), (row[b_type], str(row[b_id]))
        if a != b:
            scores[a][b] += sum(row[name] for name in weight_fields)


def _bought_together(since):
    from wagtail_journeys.models import CartItem

    other = "cart__contact__carts__items__"
    return (
        CartItem.objects.filter(added_at__gte=since, **{f"{other}added_at__gte": since})
        .values("product_type_id", "product_id")
        .annotate(
            other_type=F(f"{other}product_type_id"),
            other_id=F(f"{other}product_id"),
            carted=Count("cart__contact_id", distinct=True),
            bought=Count(
                "cart__contact_id",
                distinct=True,
                filter=Q(cart__status="converted", cart__contact__carts__status="converted"),
            ),
        )
    )


def _viewed_together(since, product_types):
    from wagtail_journeys.models import Event

    other = "contact__events__"
    return (
        Event.objects.filter(
            name="page_viewed",
            occurred_at__gte=since,
            page__content_type_id__in=product_types,
            **{
                f"{other}name": "page_viewed",
                f"{other}occurred_at__gte": since,
                f"{other}page__content_type_id__in": product_types,
            },
        )
        .values(a_type=F("page__content_type_id"), a_id=F("page_id"))
        .annotate(
            b_type=F(f"{other}page__content_type_id"),
            b_id=F(f"{other}page_id"),
            viewed=Count("contact_id", distinct=True),
        )
    )


def _popular(since) -> list[Key]:
    from wagtail_journeys.models import CartItem

    rows = (
        CartItem.objects.filter(added_at__gte=since)
        .values("product_type_id", "product_id")
        .annotate(contacts=Count("cart__contact_id", distinct=True))
        .order_by("-contacts", "product_type_id", "product_id")[:POPULAR]
    )
    return [(row["product_type_id"], row["product_id"]) for row in rows]


def _categories(product_types, index: RecommendationIndex) -> None:
    name = get_setting("PRODUCT_CATEGORY_FIELD")
    if not name:
        return
    for content_type_id in product_types:
        model = _model(content_type_id)
        try:
            category_field = model._meta.get_field(name) if model else None
        except FieldDoesNotExist:
            continue
        if category_field is None:
            continue
        queryset = model._default_manager.exclude(**{f"{category_field.attname}__isnull": True})
        if issubclass(model, Page):
            queryset = queryset.live()
        for pk, category in queryset.values_list("pk", category_field.attname).order_by("-pk"):
            key, group = (content_type_id, str(pk)), (content_type_id, category)
            index.category_of[key] = group
            members = index.by_category.setdefault(group, [])
            if len(members) < PER_CATEGORY:
                members.append(key)


def build_index() -> RecommendationIndex:
    """Compute the index from the database (a few aggregate queries)."""
    since = _since()
    product_types = _product_types()
    scores: dict[Key, dict[Key, int]] = defaultdict(lambda: defaultdict(int))
    _add_pairs(
        scores,
        _bought_together(since),
        "product_type_id",
        "product_id",
        "other_type",
        "other_id",
        ("carted", "bought"),
    )
    if product_types:
        _add_pairs(
            scores,
            _viewed_together(since, product_types),
            "a_type",
            "a_id",
            "b_type",
            "b_id",
            ("viewed",),
        )
    index = RecommendationIndex(product_types=product_types, popular=_popular(since))
    for key, related in scores.items():
        ranked = sorted(related.items(), key=lambda item: (-item[1], item[0]))
        index.neighbours[key] = ranked[:NEIGHBOURS]
    _categories(product_types, index)
    return index


def get_index() -> RecommendationIndex:
    """The cached index, built when missing or older than ``RECOMMENDATION_CACHE_SECONDS``."""
    seconds = get_setting("RECOMMENDATION_CACHE_SECONDS")
    if seconds:
        index = cache.get(CACHE_KEY)
        if isinstance(index, RecommendationIndex):
            return index
    index = build_index()
    if seconds:
        cache.set(CACHE_KEY, index, seconds)
    return index


def viewed_products(contact_ids, index: RecommendationIndex) -> dict[int, set[Key]]:
    """The product pages each of ``contact_ids`` viewed recently (one query for all)."""
    from wagtail_journeys.models import Event

    viewed: dict[int, set[Key]] = {contact_id: set() for contact_id in contact_ids}
    if not index.product_types or not viewed:
        return viewed
    rows = (
        Event.objects.filter(
            contact_id__in=list(viewed),
            name="page_viewed",
            occurred_at__gte=_since(),
            page__content_type_id__in=index.product_types,
        )
        .values_list("contact_id", "page__content_type_id", "page_id")
        .distinct()
    )
    for contact_id, type_id, page_id in rows:
        viewed[contact_id].add((type_id, str(page_id)))
    return viewed


def contact_products(contact, index: RecommendationIndex) -> set[Key]:
    """Every product the contact carted, bought or viewed (two queries)."""
    from wagtail_journeys.models import CartItem

    if contact.pk is None:
        return set()
    carted = CartItem.objects.filter(cart__contact=contact).values_list(
        "product_type_id", "product_id"
    )
    return set(carted) | viewed_products([contact.pk], index)[contact.pk]


def candidates(seen: set[Key], index: RecommendationIndex) -> list[Key]:
    """Products for someone who has ``seen`` these, best first, none of ``seen``."""
    scores: dict[Key, int] = defaultdict(int)
    for key in seen:
        for other, score in index.neighbours.get(key, ()):
            if other not in seen:
                scores[other] += score
    ranked = sorted(scores, key=lambda key: (-scores[key], key))
    chosen = set(ranked)
    for key in sorted(seen):
        for other in index.by_category.get(index.category_of.get(key), ()):
            if other not in seen and other not in chosen:
                ranked.append(other)
                chosen.add(other)
    ranked += [key for key in index.popular if key not in seen and key not in chosen]
    return ranked


def recommend(contact, count: int, *, session, seen: set[Key] | None = None) -> list:
    """Up to ``count`` product snapshots for ``contact`` (still existing, live products).

    ``seen``: the products the contact carted, bought or viewed, when the
    caller has them (an email's context loads them for all its blocks).
    """
    index = session.recommendation_index
    if seen is None:
        seen = contact_products(contact, index)
    ranked = candidates(seen, index)
    found: list = []
    start = 0
    while len(found) < count and start < len(ranked):
        chunk = ranked[start : start + count * 2]
        found += session.products(chunk)
        start += len(chunk)
    return found[:count]


def load_snapshots(keys: list[Key]) -> dict[Key, object]:
    """The adapter's snapshot of each product of ``keys`` that still exists (pages: live)."""
    adapter = get_product_adapter()
    by_type: dict[int, list[str]] = defaultdict(list)
    for content_type_id, product_id in keys:
        by_type[content_type_id].append(product_id)
    found: dict[Key, object] = {}
    for content_type_id, ids in by_type.items():
        model = _model(content_type_id)
        if model is None:
            continue
        try:
            queryset = model._default_manager.filter(pk__in=ids)
            if issubclass(model, Page):
                queryset = queryset.live().specific()
            products = list(queryset)
        except (ValueError, ValidationError):
            continue  # ids of another shape than this model's keys
        for product in products:
            found[(content_type_id, str(product.pk))] = adapter.snapshot(product)
    return found
