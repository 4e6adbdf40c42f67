"""identify(): anonymous history merges into the known contact, losing nothing."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.contrib.auth import get_user_model
from django.test import RequestFactory
from django.utils import timezone

from tests.factories import ContactFactory
from wagtail_journeys import get_cart, get_wishlist, identify, track
from wagtail_journeys.exceptions import InvalidContactDataError
from wagtail_journeys.models import Cart, Contact, Event, Wishlist
from wagtail_journeys.tracking.visitors import Visitor

pytestmark = pytest.mark.django_db


def new_request():
    request = RequestFactory().get("/")
    request.journeys = Visitor(request)
    return request


def test_first_identify_turns_the_anonymous_visitor_into_the_contact():
    request = new_request()
    track(request, "video_played")
    anonymous = request.journeys.contact
    contact = identify(request, email=" Ada@Example.COM ", first_name="Ada", plan="pro")
    assert contact.pk == anonymous.pk
    assert contact.email == "ada@example.com"
    assert contact.first_name == "Ada"
    assert contact.custom_fields == {"plan": "pro"}
    assert list(contact.events.values_list("name", flat=True).order_by("pk")) == [
        "video_played",
        "contact_identified",
    ]


def test_merge_into_known_contact_keeps_both_histories(gadget, simple_page):
    from tests.testapp.models import Gadget

    known = ContactFactory(email="ada@example.com", phone="", custom_fields={"plan": "pro"})
    known.tags.add("vip")
    track(known, "webinar_attended")
    known_cart = Cart.objects.create(contact=known, currency="EUR")
    known_cart.add(gadget, quantity=1)
    Wishlist.objects.create(contact=known).add(gadget)

    request = new_request()
    track(request, "video_played")
    anonymous = request.journeys.contact
    anonymous.phone = "+3212345678"
    anonymous.custom_fields = {"plan": "free", "source": "ads"}
    anonymous.save()
    anonymous.tags.add("visitor")
    cart = get_cart(request)
    other = Gadget.objects.create(name="Gizmo", price=Decimal("5.00"))
    cart.add(gadget, quantity=2)
    cart.add(other)
    get_wishlist(request).add(gadget)
    get_wishlist(request).add(simple_page)

    contact = identify(request, email="ADA@example.com")

    assert contact.pk == known.pk
    assert not Contact.objects.filter(pk=anonymous.pk).exists()
    names = set(contact.events.values_list("name", flat=True))
    assert {"webinar_attended", "video_played", "cart_item_added", "wishlist_item_added"} <= names
    assert contact.phone == "+3212345678"  # filled from the anonymous side
    assert contact.custom_fields == {"plan": "pro", "source": "ads"}  # known side wins
    assert set(contact.tags.names()) == {"vip", "visitor"}
    carts = Cart.objects.filter(contact=contact)
    assert carts.count() == 1
    items = {item.title: item.quantity for item in carts.get().items.all()}
    assert items == {"Widget": 3, "Gizmo": 1}
    assert sorted(item.title for item in contact.wishlist.items.all()) == ["Pricing", "Widget"]
    # The visitor's following requests belong to the known contact.
    assert request.journeys.contact == contact


def test_identify_with_another_email_on_a_known_browser_does_not_merge():
    request = new_request()
    first = identify(request, email="ada@example.com")
    second = identify(request, email="bob@example.com")
    assert first.pk != second.pk
    assert Contact.objects.count() == 2
    assert request.journeys.contact == second


@pytest.mark.parametrize(
    "kwargs",
    [
        {"email": "not-an-email"},
        {"email": ""},
        {"email": None},
        {"email": "a@example.com", "first_name": "x" * 151},
        {"email": "a@example.com", "favourite": ["a", "list"]},
    ],
)
def test_invalid_data_is_rejected_and_nothing_changes(kwargs):
    request = new_request()
    track(request, "video_played")
    with pytest.raises(InvalidContactDataError):
        identify(request, **kwargs)
    contact = Contact.objects.get()
    assert contact.is_anonymous
    assert contact.events.count() == 1


def test_login_links_the_user_and_merges_the_anonymous_visitor(client, simple_page):
    user = get_user_model().objects.create_user("ada", "ada@example.com", "pw")
    own = ContactFactory(email="ada@example.com", user=user)
    client.get(simple_page.url)
    anonymous = Contact.objects.exclude(pk=own.pk).get()
    client.force_login(user)
    client.get(simple_page.url)
    assert not Contact.objects.filter(pk=anonymous.pk).exists()
    assert own.events.filter(name="page_viewed").count() == 2


def test_login_without_contact_adopts_the_visitor(client, simple_page):
    user = get_user_model().objects.create_user("bob", "Bob@example.com", "pw")
    client.get(simple_page.url)
    client.force_login(user)
    client.get(simple_page.url)
    contact = Contact.objects.get()
    assert contact.user == user
    assert contact.email == "bob@example.com"
    assert contact.events.count() == 2


def test_a_second_user_on_the_same_browser_gets_their_own_contact(client, simple_page):
    users = get_user_model().objects
    ada = users.create_user("ada", "ada@example.com", "pw")
    bob = users.create_user("bob", "bob@example.com", "pw")
    client.force_login(ada)
    client.get(simple_page.url)
    client.force_login(bob)
    client.get(simple_page.url)
    assert Contact.objects.get(user=ada).events.count() == 1
    assert Contact.objects.get(user=bob).events.count() == 1
    assert Event.objects.count() == 2


# Dated in the past: ``at=``

PAST = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)


def test_identify_can_be_dated_in_the_past():
    request = new_request()  # no contact yet: identify creates it
    contact = identify(request, email="ada@example.com", first_name="Ada", at=PAST)
    contact.refresh_from_db()
    assert contact.created_at == PAST
    assert contact.custom_fields == {}  # ``at`` is not a custom field
    event = contact.events.get(name="contact_identified")
    assert event.occurred_at == PAST


def test_an_adopted_visitor_keeps_the_date_it_was_first_seen():
    request = new_request()
    track(request, "video_played")
    anonymous = Contact.objects.get()
    contact = identify(request, email="ada@example.com", at=timezone.now() + timedelta(days=1))
    contact.refresh_from_db()
    assert contact.pk == anonymous.pk
    assert contact.created_at == anonymous.created_at


def test_identify_dates_the_merged_cart_at_its_time(gadget):
    from tests.testapp.models import Gadget

    known = ContactFactory(email="ada@example.com")
    Cart.objects.create(contact=known, currency="EUR").add(gadget, at=PAST)
    request = new_request()
    get_cart(request, at=PAST).add(Gadget.objects.create(name="Gizmo"), at=PAST)

    contact = identify(request, email="ada@example.com", at=PAST + timedelta(hours=1))
    cart = Cart.objects.get(contact=contact)
    assert cart.items.count() == 2
    assert cart.updated_at == PAST + timedelta(hours=1)


@pytest.mark.parametrize(
    ("at", "error"), [(datetime(2026, 3, 10, 15, 0), ValueError), (1741618800, TypeError)]
)
def test_identify_refuses_a_time_that_is_not_an_aware_datetime(at, error):
    request = new_request()
    with pytest.raises(error, match="at must be"):
        identify(request, email="ada@example.com", at=at)
    assert not Contact.objects.exists()
