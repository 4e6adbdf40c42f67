"""The demo storefront: its data loads (and reloads) cleanly and its pages work.

These go through the Django test client with a browser's user agent, as a
visitor would; bad input must always end in a message or a 400, never a 500.
"""

import re
import signal
import subprocess
import sys
from decimal import Decimal

import pytest
from django.contrib.auth import authenticate
from django.contrib.auth.models import User
from django.test import Client
from wagtail.images import get_image_model
from wagtail.models import Page, Revision, Site

from example_site.storefront.demo_data import load_demo_data
from example_site.storefront.models import (
    ContactFormPage,
    HomePage,
    NewsletterFormPage,
    ProductCategory,
    ProductPage,
)
from tests.conftest import BROWSER_UA

pytestmark = pytest.mark.django_db

DEMO_SLUGS = ["shop", "pricing", "blog", "faq", "about", "newsletter", "contact"]


@pytest.fixture
def demo():
    return load_demo_data()


@pytest.fixture
def visitor():
    """A test client that looks like a browser (bots are not tracked, so get no cart)."""
    return Client(HTTP_USER_AGENT=BROWSER_UA)


@pytest.fixture
def product(demo):
    return ProductPage.objects.live().get(sku="KB-COF-002")


def messages_of(response) -> list[str]:
    return [str(message) for message in response.context["messages"]]


def add_to_cart(client, product, quantity="1"):
    return client.post(
        "/cart/add/", {"product_id": product.pk, "quantity": quantity, "next": product.url}
    )


def open_cart(visitor):
    response = visitor.get("/cart/")
    assert response.status_code == 200
    return response.context["cart"]


# The data


def test_demo_data_creates_the_published_shop(demo):
    home = HomePage.objects.get()
    site = Site.objects.get(is_default_site=True)
    assert (site.hostname, site.port, site.root_page_id) == ("127.0.0.1", 8000, home.pk)
    assert home.live and home.live_revision_id
    for slug in DEMO_SLUGS:
        page = home.get_children().get(slug=slug)
        assert page.live and page.live_revision_id, slug
    assert home.hero_cta_link.slug == "shop"
    assert not Page.objects.filter(title="Welcome to your new Wagtail site!").exists()


def test_demo_data_has_eight_products_with_images(demo):
    products = ProductPage.objects.live()
    assert products.count() == 8
    assert ProductCategory.objects.filter(products__isnull=False).distinct().count() == 3
    for product in products:
        assert product.image is not None and product.image.width == 800, product.title
        assert product.price > Decimal("0") and product.sku and product.summary
        assert product.live_revision_id


def test_demo_data_has_both_form_pages_with_fields(demo):
    newsletter = NewsletterFormPage.objects.live().get(slug="newsletter")
    contact = ContactFormPage.objects.live().get(slug="contact")
    assert [(f.clean_name, f.field_type) for f in newsletter.get_form_fields()] == [
        ("email", "email"),
        ("first_name", "singleline"),
    ]
    assert [(f.clean_name, f.field_type) for f in contact.get_form_fields()] == [
        ("name", "singleline"),
        ("email", "email"),
        ("message", "multiline"),
    ]
    # The fields are part of the published revision, so the editor shows them.
    assert len(newsletter.get_latest_revision_as_object().form_fields.all()) == 2


def test_demo_data_creates_the_admin_user(demo):
    user = authenticate(username="admin", password="admin")
    assert user is not None and user.is_superuser and user.is_staff


def test_loading_twice_changes_nothing(demo):
    def counts():
        return {
            model.__name__: model.objects.count()
            for model in (Page, Revision, Site, User, ProductCategory, get_image_model())
        }

    before = counts()
    again = load_demo_data()
    assert again.created == []
    assert counts() == before


def test_load_demo_data_command_prints_the_admin_login(capsys):
    from django.core.management import call_command

    call_command("load_demo_data", no_traffic=True)
    call_command("load_demo_data", no_traffic=True)
    out = capsys.readouterr().out
    assert "Demo data already loaded" in out
    assert "Admin: http://127.0.0.1:8000/admin/  user: admin  password: admin" in out


# The pages


def test_every_page_renders(demo, visitor):
    urls = ["/", "/cart/", "/wishlist/", "/login/"]
    urls += [f"/{slug}/" for slug in DEMO_SLUGS]
    urls += [page.url for page in Page.objects.live().filter(depth__gt=3)]
    for url in urls:
        response = visitor.get(url)
        assert response.status_code == 200, url


def test_header_links_to_home_and_shop(demo, visitor):
    html = visitor.get("/pricing/").content.decode()
    assert 'id="home-link" href="/"' in html
    assert re.search(r'<a href="/shop/"[^>]*>Shop</a>', html)


def test_product_page_has_buttons_and_tracks_the_view(product, visitor):
    from wagtail_journeys.models import Event

    response = visitor.get(product.url)
    html = response.content.decode()
    assert 'id="add-to-cart"' in html and 'id="add-to-wishlist"' in html
    assert "€12.90" in html
    event = Event.objects.get(name="product_viewed")
    assert event.properties["sku"] == product.sku


# Cart and wishlist


def test_cart_add_update_remove(product, visitor):
    response = add_to_cart(visitor, product, "2")
    assert response.status_code == 302 and response.url == product.url
    cart = open_cart(visitor)
    assert cart.item_count == 2 and cart.total == Decimal("25.80")
    assert 'id="cart-count">2<' in visitor.get("/").content.decode()

    visitor.post("/cart/update/", {"product_id": product.pk, "quantity": "3"})
    assert open_cart(visitor).item_count == 3

    response = visitor.post("/cart/remove/", {"product_id": product.pk}, follow=True)
    assert f"Removed {product.title} from your cart." in messages_of(response)
    assert open_cart(visitor).item_count == 0


@pytest.mark.parametrize(
    "data, message",
    [
        ({"product_id": "abc", "quantity": "1"}, "Product: Enter a whole number."),
        ({"product_id": "999999", "quantity": "1"}, "Product: This product is not available."),
        ({"product_id": "", "quantity": "1"}, "Product: This field is required."),
        ({"quantity": "abc"}, "Quantity: Enter a whole number."),
        ({"quantity": "-1"}, "Quantity: Ensure this value is greater than or equal to 1."),
        ({"quantity": "0"}, "Quantity: Ensure this value is greater than or equal to 1."),
        ({"quantity": "1000"}, "Quantity: Ensure this value is less than or equal to 99."),
    ],
)
def test_cart_add_rejects_bad_input_with_a_message(product, visitor, data, message):
    data = {"product_id": product.pk, **data}
    response = visitor.post("/cart/add/", data, follow=True)
    assert response.status_code == 200
    assert message in messages_of(response)
    assert open_cart(visitor) is None


def test_cart_update_rejects_bad_quantity(product, visitor):
    add_to_cart(visitor, product)
    response = visitor.post("/cart/update/", {"product_id": product.pk, "quantity": "-3"})
    assert response.status_code == 302
    assert open_cart(visitor).item_count == 1


def test_cart_views_refuse_get_and_missing_csrf(product, visitor):
    assert visitor.get("/cart/add/").status_code == 405
    strict = Client(enforce_csrf_checks=True, HTTP_USER_AGENT=BROWSER_UA)
    assert add_to_cart(strict, product).status_code == 403


def test_unsafe_next_url_is_ignored(product, visitor):
    response = visitor.post(
        "/cart/add/",
        {"product_id": product.pk, "quantity": "1", "next": "https://evil.example/"},
    )
    assert response.url == "/cart/"


def test_wishlist_add_and_remove(product, visitor):
    visitor.post("/wishlist/add/", {"product_id": product.pk})
    visitor.post("/wishlist/add/", {"product_id": product.pk})
    response = visitor.get("/wishlist/")
    assert [item.title for item in response.context["items"]] == [product.title]
    assert 'id="remove-from-wishlist"' in visitor.get(product.url).content.decode()

    visitor.post("/wishlist/remove/", {"product_id": product.pk})
    assert visitor.get("/wishlist/").context["items"] == []
    response = visitor.post("/wishlist/add/", {"product_id": "nope"}, follow=True)
    assert "Product: Enter a whole number." in messages_of(response)


# Checkout


def test_checkout_places_the_order(product, visitor):
    add_to_cart(visitor, product, "2")
    response = visitor.get("/checkout/")
    assert response.status_code == 200
    assert 'id="place-order"' in response.content.decode()

    response = visitor.post(
        "/checkout/",
        {"email": "Buyer@Example.com", "name": "Ana Buyer", "card_number": "4242 4242 4242 4242"},
        follow=True,
    )
    assert response.redirect_chain[-1][0] == "/checkout/thank-you/"
    order_ref = response.context["order"]["ref"]
    assert order_ref in response.content.decode()

    from wagtail_journeys.models import Cart, Contact

    cart = Cart.objects.get(order_ref=order_ref)
    assert cart.status == Cart.Status.CONVERTED and cart.order_total == Decimal("25.80")
    assert cart.contact == Contact.objects.get(email="buyer@example.com")
    assert (cart.contact.first_name, cart.contact.last_name) == ("Ana", "Buyer")
    # The cart is spent: the next checkout finds nothing to buy.
    assert visitor.get("/checkout/").url == "/cart/"


def test_checkout_with_an_empty_cart_redirects_with_a_message(demo, visitor):
    response = visitor.get("/checkout/", follow=True)
    assert response.redirect_chain == [("/cart/", 302)]
    assert "Your cart is empty" in messages_of(response)[0]
    response = visitor.post("/checkout/", {"email": "a@example.com"})
    assert response.status_code == 302


@pytest.mark.parametrize(
    "data, field",
    [
        ({"email": "not-an-email", "name": "Ana", "card_number": "4242424242424242"}, "email"),
        ({"email": "a@example.com", "name": "   ", "card_number": "4242424242424242"}, "name"),
        ({"email": "a@example.com", "name": "Ana", "card_number": "1234 5678"}, "card_number"),
        (
            {"email": "a@example.com", "name": "Ana", "card_number": "4242424242424241"},
            "card_number",
        ),
        ({}, "email"),
    ],
)
def test_checkout_rejects_bad_input_with_a_400(product, visitor, data, field):
    add_to_cart(visitor, product)
    response = visitor.post("/checkout/", data)
    assert response.status_code == 400
    assert field in response.context["form"].errors
    assert open_cart(visitor).status == "open"


def test_thank_you_page_without_an_order_redirects(demo, visitor):
    assert visitor.get("/checkout/thank-you/").url == "/cart/"


# Forms and login


def test_newsletter_signup_is_stored(demo, visitor):
    page = NewsletterFormPage.objects.get(slug="newsletter")
    response = visitor.post(page.url, {"email": "reader@example.com", "first_name": "Rea"})
    assert response.status_code == 200
    assert 'id="form-thank-you"' in response.content.decode()
    assert page.get_submission_class().objects.filter(page=page).count() == 1


def test_login_and_logout(demo, visitor):
    response = visitor.post("/login/", {"username": "admin", "password": "wrong"})
    assert response.status_code == 200 and response.context["form"].errors
    response = visitor.post("/login/", {"username": "admin", "password": "admin"})
    assert response.status_code == 302 and response.url == "/"
    assert 'id="logout-button"' in visitor.get("/").content.decode()
    assert visitor.post("/logout/").url == "/"
    assert 'id="login-link"' in visitor.get("/").content.decode()


def test_every_demo_page_opens_in_the_editor(demo, client):
    client.force_login(User.objects.get(username="admin"))
    for page in Page.objects.filter(depth__gt=1):
        response = client.get(f"/admin/pages/{page.pk}/edit/")
        assert response.status_code == 200, page.specific_class.__name__
    assert client.get("/admin/snippets/storefront/productcategory/").status_code == 200


# rundemo


def test_rundemo_stops_the_worker_when_the_server_stops(monkeypatch):
    """However runserver ends (here: Ctrl-C at once), the worker process is ended too."""
    from example_site.storefront.management.commands import rundemo

    started = []

    def start_worker(self):
        worker = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
        started.append(worker)
        return worker

    def runserver(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(rundemo.Command, "start_worker", start_worker)
    monkeypatch.setattr(rundemo, "call_command", runserver)
    previous = signal.getsignal(signal.SIGTERM)

    rundemo.Command().run_from_argv(["manage.py", "rundemo", "--skip-checks"])

    assert started[0].poll() is not None
    assert signal.getsignal(signal.SIGTERM) is previous


def test_demo_data_sets_up_email(demo):
    from wagtail_journeys.email.rendering import render_email
    from wagtail_journeys.models import Contact, EmailBrandSettings, EmailTemplate, SignupForm

    site = Site.objects.get(is_default_site=True)
    assert "Bristol" in EmailBrandSettings.for_site(site).postal_address
    signup = SignupForm.objects.get()
    assert signup.page.slug == "newsletter" and signup.double_opt_in
    assert set(signup.topics.values_list("slug", flat=True)) == {"newsletter", "offers"}
    contact = Contact.objects.create(email="ada@example.com", first_name="Ada")
    for template in EmailTemplate.objects.all():
        assert template.latest_revision is not None
    welcome = render_email(EmailTemplate.objects.get(name="Welcome to the newsletter"), contact)
    assert welcome.subject == "Welcome to Kettle & Bean, Ada"
    assert 'href="http://127.0.0.1:8000/shop/"' in welcome.html
    assert "WELCOME-" in welcome.text and "Bristol" in welcome.text


def test_demo_data_has_the_example_segments(demo):
    from wagtail_journeys.models import Contact, Event, Segment
    from wagtail_journeys.segments.membership import refresh_segment

    names = set(Segment.objects.values_list("name", flat=True))
    assert "Viewed pricing, never bought" in names and len(names) == 4
    looker = Contact.objects.create(email="looker@example.com")
    buyer = Contact.objects.create(email="buyer@example.com")
    for contact in (looker, buyer):
        Event.objects.create(contact=contact, name="page_viewed", path="/pricing/")
    Event.objects.create(contact=buyer, name="order_completed")
    pricing = Segment.objects.get(name="Viewed pricing, never bought")
    refresh_segment(pricing)
    assert list(pricing.memberships.values_list("contact__email", flat=True)) == [looker.email]


def test_demo_data_publishes_the_journey_templates(demo):
    from wagtail_journeys.journeys.templates import JOURNEY_TEMPLATES
    from wagtail_journeys.models import EmailTemplate, Journey

    journeys = Journey.objects.all()
    assert sorted(journeys.values_list("name", flat=True)) == sorted(
        template.name for template in JOURNEY_TEMPLATES
    )
    for journey in journeys:
        assert journey.accepts_contacts and journey.live_revision_id, journey.name
        assert journey.live_revision.user.username == "admin"
    welcome = EmailTemplate.objects.get(name="Welcome series: 1 Welcome")
    assert welcome.latest_revision is not None
    [button] = [child for child in welcome.body if child.block_type == "button"]
    assert button.value["page"].slug == "shop"

    revisions = Revision.objects.count()
    assert load_demo_data().created == []
    assert Journey.objects.count() == len(JOURNEY_TEMPLATES)
    assert Revision.objects.count() == revisions
