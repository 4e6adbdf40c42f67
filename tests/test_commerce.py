"""Carts and wishlists: every call records its event, items keep a product snapshot."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import RequestFactory
from django.utils import timezone

from tests.journey_helpers import enrollment_of, subscribed
from wagtail_journeys import get_cart, get_wishlist
from wagtail_journeys.commerce.adapters import ProductAdapter
from wagtail_journeys.exceptions import CommerceError
from wagtail_journeys.journeys.building import block, new_journey
from wagtail_journeys.journeys.detectors import detect_abandoned_carts
from wagtail_journeys.models import Cart, Contact, Event, Wishlist
from wagtail_journeys.tracking.visitors import Visitor

#: A moment in the past that ``at=`` dates the calls at.
PAST = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)

pytestmark = pytest.mark.django_db


@pytest.fixture
def request_():
    request = RequestFactory().get("/")
    request.journeys = Visitor(request)
    return request


def events(name):
    return list(Event.objects.filter(name=name).order_by("pk"))


def test_get_cart_without_create_writes_nothing(request_):
    assert get_cart(request_, create=False) is None
    assert get_wishlist(request_, create=False) is None
    assert not Contact.objects.exists()


def test_cart_calls_record_their_events(request_, gadget):
    cart = get_cart(request_)
    assert get_cart(request_) == cart  # one open cart per visitor

    item = cart.add(gadget, quantity=2)
    assert (item.title, item.sku, item.unit_price, item.currency) == (
        "Widget",
        "W-1",
        Decimal("9.99"),
        "EUR",
    )
    assert item.product_url == f"/gadgets/{gadget.pk}/"
    assert item.product == gadget
    added = events("cart_item_added")[0]
    assert added.contact == cart.contact
    assert added.properties["product_type"] == "testapp.gadget"
    assert added.properties["product_id"] == str(gadget.pk)
    assert added.properties["quantity"] == 2
    assert added.properties["price"] == "9.99"

    cart.add(gadget)  # adds up
    assert cart.items.get().quantity == 3
    assert cart.total == Decimal("29.97")
    assert cart.item_count == 3

    cart.set_quantity(gadget, 1)
    removed = events("cart_item_removed")[0]
    assert removed.properties["quantity"] == 2
    cart.set_quantity(gadget, 4)
    assert events("cart_item_added")[-1].properties["quantity"] == 3
    assert cart.remove(gadget) is True
    assert cart.remove(gadget) is False
    assert len(events("cart_item_removed")) == 2

    cart.add(gadget, price="7.50")
    cart.start_checkout()
    started = events("checkout_started")[0]
    assert started.properties == {
        "cart_id": cart.pk,
        "total": 7.5,
        "currency": "EUR",
        "item_count": 1,
    }
    cart.complete("ORDER-1", Decimal("7.50"))
    cart.refresh_from_db()
    assert cart.status == Cart.Status.CONVERTED
    order = events("order_completed")[0]
    assert order.properties["order_ref"] == "ORDER-1"
    assert order.properties["total"] == 7.5
    assert order.properties["items"][0]["sku"] == "W-1"
    # After an order, the visitor's next cart is a new one.
    assert get_cart(request_) != cart


def test_a_page_is_a_product_too(request_, simple_page):
    item = get_cart(request_).add(simple_page.page_ptr)
    assert item.title == "Pricing"
    assert item.product_url == "http://localhost/pricing/"
    assert item.product == simple_page  # stored under the specific type
    assert item.unit_price is None


@pytest.mark.parametrize("quantity", [0, -1, 1.5, "2", True])
def test_bad_quantities_are_refused(request_, gadget, quantity):
    cart = get_cart(request_)
    with pytest.raises(CommerceError):
        cart.add(gadget, quantity=quantity)
    assert not cart.items.exists()
    assert not Event.objects.exists()


@pytest.mark.parametrize("price", ["abc", "-1", "NaN", "Infinity"])
def test_bad_prices_are_refused(request_, gadget, price):
    with pytest.raises(CommerceError):
        get_cart(request_).add(gadget, price=price)


def test_unsaved_product_is_refused(request_):
    from tests.testapp.models import Gadget

    with pytest.raises(CommerceError):
        get_cart(request_).add(Gadget(name="ghost"))


def test_empty_cart_cannot_check_out_and_closed_cart_cannot_change(request_, gadget):
    cart = get_cart(request_)
    with pytest.raises(CommerceError):
        cart.start_checkout()
    cart.add(gadget)
    with pytest.raises(CommerceError):
        cart.complete("", 10)
    cart.complete("A-1", 10)
    with pytest.raises(CommerceError):
        cart.add(gadget)


def test_wishlist_calls_record_their_events(request_, gadget):
    wishlist = get_wishlist(request_)
    wishlist.add(gadget)
    wishlist.add(gadget)  # once only
    assert wishlist.items.count() == 1
    assert wishlist.contains(gadget)
    assert len(events("wishlist_item_added")) == 1
    assert events("wishlist_item_added")[0].properties["sku"] == "W-1"
    assert wishlist.remove(gadget) is True
    assert wishlist.remove(gadget) is False
    assert len(events("wishlist_item_removed")) == 1


class EuroCentsAdapter(ProductAdapter):
    def get_title(self, product):
        return product.name.upper()

    def get_currency(self, product):
        return "USD"


def test_product_adapter_is_configurable(request_, gadget, settings):
    settings.WAGTAIL_JOURNEYS = {"PRODUCT_ADAPTER": "tests.test_commerce.EuroCentsAdapter"}
    item = get_cart(request_).add(gadget)
    assert (item.title, item.currency) == ("WIDGET", "USD")


def test_a_cart_works_without_tracking_consent(client, settings, gadget, simple_page):
    """The cart cookie is strictly necessary; page views stay untracked."""
    settings.WAGTAIL_JOURNEYS = {"CONSENT_MODE": "consent_cookie"}
    request = RequestFactory().get("/")
    request.journeys = Visitor(request)
    get_cart(request).add(gadget)
    response = client.get(simple_page.url)  # a response to carry the cookie
    request.journeys.update_cookie(response)
    cookie = response.cookies["journeys_visitor"]
    assert cookie.value

    client.cookies["journeys_visitor"] = cookie.value
    response = client.get(simple_page.url)
    assert "journeys_visitor" not in response.cookies  # kept, not deleted
    assert not Event.objects.filter(name="page_viewed").exists()
    assert Cart.objects.get().items.count() == 1


# Dated in the past: ``at=``


def occurred(name):
    return [event.occurred_at for event in events(name)]


def test_cart_calls_can_be_dated_in_the_past(request_, gadget, simple_page):
    cart = get_cart(request_, at=PAST)
    assert (cart.created_at, cart.updated_at) == (PAST, PAST)

    item = cart.add(gadget, quantity=3, at=PAST + timedelta(minutes=1))
    assert item.added_at == PAST + timedelta(minutes=1)
    cart.set_quantity(gadget, 1, at=PAST + timedelta(minutes=2))
    cart.set_quantity(gadget, 2, at=PAST + timedelta(minutes=3))
    cart.add(simple_page.page_ptr, at=PAST + timedelta(minutes=4))
    cart.remove(simple_page.page_ptr, at=PAST + timedelta(minutes=5))
    cart.refresh_from_db()
    assert cart.updated_at == PAST + timedelta(minutes=5)
    assert occurred("cart_item_added") == [
        PAST + timedelta(minutes=1),
        PAST + timedelta(minutes=3),
        PAST + timedelta(minutes=4),
    ]
    assert occurred("cart_item_removed") == [
        PAST + timedelta(minutes=2),
        PAST + timedelta(minutes=5),
    ]

    cart.start_checkout(at=PAST + timedelta(minutes=6))
    cart.complete("ORDER-1", Decimal("19.98"), at=PAST + timedelta(minutes=9))
    cart.refresh_from_db()
    assert cart.checkout_started_at == PAST + timedelta(minutes=6)
    assert cart.converted_at == cart.updated_at == PAST + timedelta(minutes=9)
    assert occurred("checkout_started") == [PAST + timedelta(minutes=6)]
    assert occurred("order_completed") == [PAST + timedelta(minutes=9)]


def test_without_at_a_change_is_dated_now(request_, gadget):
    cart = get_cart(request_, at=PAST)
    before = timezone.now()
    cart.add(gadget)
    cart.refresh_from_db()
    assert cart.created_at == PAST  # only the change moves, not the creation
    assert cart.updated_at >= before
    assert events("cart_item_added")[0].occurred_at >= before


@pytest.mark.parametrize(
    ("at", "error"),
    [(datetime(2026, 3, 10, 15, 0), ValueError), ("2026-03-10T15:00Z", TypeError)],
)
def test_at_must_be_an_aware_datetime(request_, gadget, at, error):
    cart = get_cart(request_)
    with pytest.raises(error, match="at must be"):
        cart.add(gadget, at=at)
    with pytest.raises(error, match="at must be"):
        get_wishlist(request_).add(gadget, at=at)
    assert not cart.items.exists()
    assert not Event.objects.exists()


def test_wishlist_calls_can_be_dated_in_the_past(request_, gadget):
    wishlist = get_wishlist(request_, at=PAST)
    item = wishlist.add(gadget, at=PAST + timedelta(minutes=1))
    assert item.added_at == PAST + timedelta(minutes=1)
    wishlist.remove(gadget, at=PAST + timedelta(minutes=2))
    wishlist = Wishlist.objects.get()
    assert (wishlist.created_at, wishlist.updated_at) == (PAST, PAST + timedelta(minutes=2))
    assert occurred("wishlist_item_added") == [PAST + timedelta(minutes=1)]
    assert occurred("wishlist_item_removed") == [PAST + timedelta(minutes=2)]


def test_a_cart_dated_two_hours_ago_is_abandoned_and_starts_its_journey(
    request_, gadget, journeys_mail, django_capture_on_commit_callbacks
):
    journey = new_journey(
        "Abandoned cart",
        trigger=block("event", event="cart_abandoned"),
        steps=[block("tag", action="add", tag="cart-reminded")],
    )
    known = subscribed()
    request_.journeys.set_contact(known)
    now = timezone.now()
    cart = get_cart(request_, at=now - timedelta(hours=2))
    cart.add(gadget, quantity=2, at=now - timedelta(hours=2))

    with django_capture_on_commit_callbacks(execute=True):
        assert detect_abandoned_carts(now) == 1
    cart.refresh_from_db()
    assert (cart.status, cart.abandoned_at) == (Cart.Status.ABANDONED, now)
    assert events("cart_abandoned")[0].properties["cart_id"] == cart.pk
    assert enrollment_of(known, journey).context["cart_id"] == cart.pk
    assert "cart-reminded" in known.tags.names()
