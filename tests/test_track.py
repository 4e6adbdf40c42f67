"""track() from Python and the template tags."""

from decimal import Decimal

import pytest
from django.template import Context, Template
from django.test import RequestFactory

from tests.factories import ContactFactory
from wagtail_journeys import track
from wagtail_journeys.exceptions import InvalidEventError
from wagtail_journeys.models import Event
from wagtail_journeys.signals import event_recorded
from wagtail_journeys.tracking.visitors import Visitor

pytestmark = pytest.mark.django_db

BROWSER_UA = "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36"


def new_request(**headers):
    request = RequestFactory().get("/products/lamp/", **headers)
    request.journeys = Visitor(request)
    return request


def test_track_a_contact_always_records():
    contact = ContactFactory()
    event = track(contact, "webinar_attended", webinar="intro", seats=Decimal("2.5"))
    assert event.contact == contact
    assert event.source == "python"
    event.refresh_from_db()
    assert event.properties == {"webinar": "intro", "seats": "2.5"}


def test_track_a_request_records_for_its_visitor():
    request = new_request(HTTP_USER_AGENT=BROWSER_UA)
    event = track(request, "video_played", video="intro")
    assert event.contact == request.journeys.contact
    assert event.path == "/products/lamp/"


def test_track_a_bot_request_records_nothing():
    assert track(new_request(HTTP_USER_AGENT="Googlebot/2.1"), "video_played") is None
    assert not Event.objects.exists()


@pytest.mark.parametrize("name", ["Video Played", "", "9lives", "a" * 65, None])
def test_invalid_names_raise(name):
    with pytest.raises(InvalidEventError):
        track(ContactFactory(), name)
    assert not Event.objects.exists()


def test_unserialisable_properties_raise():
    with pytest.raises(InvalidEventError):
        track(ContactFactory(), "x_y", thing=object())


def test_track_needs_a_request_or_contact():
    with pytest.raises(TypeError):
        track("ada@example.com", "x_y")


def test_event_recorded_signal_fires_after_commit(django_capture_on_commit_callbacks):
    received = []

    def receiver(sender, event, **kwargs):
        received.append(event.name)

    event_recorded.connect(receiver)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            track(ContactFactory(), "x_y")
            assert received == []
        assert received == ["x_y"]
    finally:
        event_recorded.disconnect(receiver)


def render(template, request, **context):
    return Template("{% load wagtail_journeys_tags %}" + template).render(
        Context({"request": request, **context})
    )


def test_journeys_event_tag_records_and_outputs_nothing(simple_page):
    request = new_request(HTTP_USER_AGENT=BROWSER_UA)
    html = render(
        '{% journeys_event "product_viewed" sku="L-1" price=price page=page %}',
        request,
        price=Decimal("19.90"),
        page=simple_page,
    )
    assert html == ""
    event = Event.objects.get(name="product_viewed")
    assert event.properties == {"sku": "L-1", "price": "19.90", "page": "Pricing"}


def test_journeys_event_tag_skips_previews():
    request = new_request(HTTP_USER_AGENT=BROWSER_UA)
    request.is_preview = True
    render('{% journeys_event "product_viewed" sku="L-1" %}', request)
    assert not Event.objects.exists()


def test_tracker_tag_points_at_the_endpoint(simple_page):
    request = new_request(HTTP_USER_AGENT=BROWSER_UA)
    html = render("{% journeys_tracker %}", request, page=simple_page)
    assert 'src="/static/wagtail_journeys/tracker.js"' in html
    assert 'data-journeys-endpoint="/journeys/collect/"' in html
    assert f'data-journeys-page-id="{simple_page.pk}"' in html
    assert render("{% journeys_tracker %}", new_request(HTTP_USER_AGENT="Googlebot/2.1")) == ""


def test_cart_and_wishlist_tags_create_nothing(gadget):
    request = new_request()
    html = render(
        "{% journeys_cart as cart %}{% journeys_wishlist as wl %}[{{ cart }}|{{ wl }}]", request
    )
    assert html == "[None|None]"
    from wagtail_journeys import get_cart

    get_cart(request).add(gadget, quantity=2)
    assert render("{% journeys_cart as cart %}{{ cart.item_count }}", request) == "2"


def test_a_failing_signal_receiver_is_logged_and_stops_nothing(
    django_capture_on_commit_callbacks, caplog
):
    from wagtail_journeys.signals import events_recorded

    seen = []

    def broken(sender, event, **kwargs):
        raise RuntimeError("a site's receiver failed")

    def batch(sender, events, **kwargs):
        seen.extend(event.name for event in events)

    event_recorded.connect(broken, dispatch_uid="test-broken")
    events_recorded.connect(batch, dispatch_uid="test-batch")
    try:
        contact = ContactFactory()
        with django_capture_on_commit_callbacks(execute=True):
            track(contact, "video_played")
    finally:
        event_recorded.disconnect(dispatch_uid="test-broken")
        events_recorded.disconnect(dispatch_uid="test-batch")
    assert seen == ["video_played"]
    assert "a site's receiver failed" in caplog.text
