"""The demo storefront in a real browser: time on page and add to cart arrive as events."""

import time

import pytest
from django.core.management import call_command

from tests.browser_helpers import close_and_settle
from wagtail_journeys.models import Event

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def wait_for_event(timeout=10, **filters):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        event = Event.objects.filter(**filters).order_by("-pk").first()
        if event is not None:
            return event
        time.sleep(0.2)
    raise AssertionError(f"no event {filters} within {timeout} s")


def test_time_on_page_and_add_to_cart(chromium, live_server):
    from example_site.storefront.models import ProductPage

    call_command("load_demo_data", verbosity=0, no_traffic=True)
    product = ProductPage.objects.live().order_by("pk").first()

    context = chromium.new_context(base_url=live_server.url)
    page = context.new_page()
    try:
        page.goto(product.url)
        assert page.locator("h1").first.inner_text().strip() == product.title
        viewed = wait_for_event(name="page_viewed", page_id=product.pk)
        contact = viewed.contact
        started = time.monotonic()
        page.wait_for_timeout(3000)
        page.goto("/")  # leaving the page fires pagehide: the beacon goes out
        stayed_ms = (time.monotonic() - started) * 1000

        page_time = wait_for_event(name="page_time", path=product.url)
        assert page_time.contact == contact
        assert page_time.source == "browser"
        assert page_time.page_id == product.pk
        duration = page_time.properties["duration_ms"]
        assert 2900 <= duration <= stayed_ms + 500

        page.goto(product.url)
        page.click("#add-to-cart")
        page.wait_for_load_state()
        added = wait_for_event(name="cart_item_added", contact=contact)
        assert added.properties["product_id"] == str(product.pk)
        assert added.properties["title"] == product.title
        assert contact.carts.get().items.get().quantity == 1
    finally:
        close_and_settle(context)
