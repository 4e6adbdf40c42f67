"""The beacon endpoint: good input is stored, every kind of bad input is a 400 storing nothing."""

import json

import pytest
from django.core.cache import cache

from wagtail_journeys.models import Contact, Event

pytestmark = pytest.mark.django_db

URL = "/journeys/collect/"


@pytest.fixture(autouse=True)
def clear_rate_limits():
    cache.clear()


def post(client, payload, **extra):
    body = payload if isinstance(payload, bytes | str) else json.dumps(payload)
    return client.post(URL, body, content_type="text/plain;charset=UTF-8", **extra)


def test_page_time_is_stored_for_the_cookie_visitor(client, simple_page):
    client.get(simple_page.url)
    visitor = Contact.objects.get()
    response = post(
        client,
        {
            "name": "page_time",
            "properties": {"duration_ms": 4200},
            "path": simple_page.url,
            "page_id": simple_page.pk,
        },
        HTTP_ORIGIN="http://testserver",
    )
    assert response.status_code == 202
    event = Event.objects.get(name="page_time")
    assert event.contact == visitor
    assert event.properties == {"duration_ms": 4200}
    assert event.page_id == simple_page.pk
    assert event.path == simple_page.url
    assert event.source == "browser"


def test_custom_event_from_a_new_visitor_creates_the_contact(client):
    response = post(client, {"name": "video_played", "properties": {"video": "intro", "at": 1.5}})
    assert response.status_code == 202
    assert response.cookies["journeys_visitor"]["httponly"]
    event = Event.objects.get()
    assert event.properties == {"video": "intro", "at": 1.5}


def test_unknown_page_id_is_stored_without_page(client):
    assert post(client, {"name": "clicked_banner", "page_id": 999999}).status_code == 202
    assert Event.objects.get().page is None


BAD_INPUTS = {
    "not json": b"{nope",
    "not utf-8": b"\xff\xfe",
    "array": [1, 2],
    "missing name": {"properties": {}},
    "bad name": {"name": "Video Played"},
    "name too long": {"name": "a" * 65},
    "server-only event": {"name": "order_completed", "properties": {"total": 1000}},
    "unknown key": {"name": "x_y", "contact_id": 1},
    "properties not object": {"name": "x_y", "properties": [1]},
    "bad property name": {"name": "x_y", "properties": {"bad key": 1}},
    "nested property": {"name": "x_y", "properties": {"a": {"b": 1}}},
    "list property": {"name": "x_y", "properties": {"a": [1]}},
    "long property": {"name": "x_y", "properties": {"a": "x" * 501}},
    "too many properties": {"name": "x_y", "properties": {f"p{i}": i for i in range(21)}},
    "page_time without duration": {"name": "page_time", "properties": {}},
    "negative duration": {"name": "page_time", "properties": {"duration_ms": -5}},
    "huge duration": {"name": "page_time", "properties": {"duration_ms": 10**12}},
    "duration as text": {"name": "page_time", "properties": {"duration_ms": "500"}},
    "bad path": {"name": "x_y", "path": "https://evil.example/"},
    "bad page id": {"name": "x_y", "page_id": "3"},
    "body too large": {
        "name": "x_y",
        "properties": {"a": "x" * 400, "b": "y" * 400} | {f"p{i}": "z" * 450 for i in range(18)},
    },
}


@pytest.mark.parametrize("payload", BAD_INPUTS.values(), ids=BAD_INPUTS.keys())
def test_bad_input_is_a_400_with_a_reason_and_stores_nothing(client, payload):
    response = post(client, payload)
    assert response.status_code == 400
    assert response.json()["error"]
    assert not Event.objects.exists()
    assert not Contact.objects.exists()


def test_nan_is_rejected(client):
    response = post(client, '{"name": "x_y", "properties": {"a": NaN}}')
    assert response.status_code == 400
    assert not Event.objects.exists()


def test_get_is_not_allowed(client):
    assert client.get(URL).status_code == 405


def test_other_origins_are_refused(client):
    response = post(client, {"name": "x_y"}, HTTP_ORIGIN="https://evil.example")
    assert response.status_code == 403
    assert not Event.objects.exists()


def test_allowlist_limits_custom_names(client, settings):
    settings.WAGTAIL_JOURNEYS = {"EVENT_ALLOWLIST": ["video_played"]}
    assert post(client, {"name": "video_played"}).status_code == 202
    assert post(client, {"name": "page_time", "properties": {"duration_ms": 10}}).status_code == 202
    response = post(client, {"name": "something_else"})
    assert response.status_code == 400
    assert "allowed" in response.json()["error"]
    assert Event.objects.count() == 2


def test_rate_limit_per_visitor(client, settings, simple_page):
    client.get(simple_page.url)  # the visitor cookie is the limiter's key
    settings.WAGTAIL_JOURNEYS = {"BEACON_RATE_LIMIT": 3}
    statuses = [post(client, {"name": "x_y"}).status_code for _ in range(5)]
    assert statuses == [202, 202, 202, 429, 429]
    assert Event.objects.exclude(name="page_viewed").count() == 3
    # Another visitor has their own allowance.
    other = client.__class__()
    assert post(other, {"name": "x_y"}, REMOTE_ADDR="10.0.0.9").status_code == 202


def test_bots_and_refused_consent_store_nothing(client, settings):
    assert post(client, {"name": "x_y"}, HTTP_USER_AGENT="Googlebot/2.1").status_code == 204
    settings.WAGTAIL_JOURNEYS = {"CONSENT_MODE": "consent_cookie"}
    assert post(client, {"name": "x_y"}).status_code == 204
    assert not Event.objects.exists()
