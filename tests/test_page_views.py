"""Page views through Wagtail's on_serve_page hook, and who is (not) tracked."""

import pytest
from django.db import connection
from django.test import override_settings
from django.test.utils import CaptureQueriesContext
from wagtail.models import PageViewRestriction

from wagtail_journeys.models import Contact, Event

pytestmark = pytest.mark.django_db

BROWSER = {"HTTP_USER_AGENT": "Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36"}


def page_views():
    return Event.objects.filter(name="page_viewed")


def test_each_view_is_recorded_once_with_page_and_campaign(client, simple_page):
    response = client.get(
        simple_page.url + "?utm_source=news&utm_campaign=autumn",
        HTTP_REFERER="https://search.example/?q=x",
        **BROWSER,
    )
    assert response.status_code == 200
    event = page_views().get()
    assert event.page_id == simple_page.pk
    assert event.path == simple_page.url
    assert event.source == "server"
    assert event.properties["page_type"] == "testapp.simplepage"
    assert event.properties["utm_source"] == "news"
    assert event.properties["utm_campaign"] == "autumn"
    assert event.properties["referrer"] == "https://search.example/?q=x"

    client.get(simple_page.url, **BROWSER)
    assert page_views().count() == 2
    # Both views belong to the same (anonymous) contact, remembered by the cookie.
    assert Contact.objects.count() == 1
    assert Contact.objects.get().is_anonymous


def test_visitor_cookie_is_signed_httponly_lax(client, simple_page):
    response = client.get(simple_page.url, **BROWSER)
    cookie = response.cookies["journeys_visitor"]
    assert cookie["httponly"]
    assert cookie["samesite"] == "Lax"
    assert not cookie["secure"]
    assert cookie["max-age"] == 60 * 60 * 24 * 365
    secure = client.get(simple_page.url, secure=True, **BROWSER)
    # A returning visitor is not sent the cookie again until last_seen moves.
    assert "journeys_visitor" not in secure.cookies or secure.cookies["journeys_visitor"]["secure"]


def test_secure_requests_get_a_secure_cookie(client, simple_page):
    response = client.get(simple_page.url, secure=True, **BROWSER)
    assert response.cookies["journeys_visitor"]["secure"]


@override_settings(WAGTAIL_JOURNEYS={"COOKIE_NAME": "vid", "COOKIE_AGE": 3600})
def test_cookie_name_and_age_are_configurable(client, simple_page):
    response = client.get(simple_page.url, **BROWSER)
    assert response.cookies["vid"]["max-age"] == 3600
    assert "journeys_visitor" not in response.cookies


def test_forged_cookie_is_ignored(client, simple_page):
    client.get(simple_page.url, **BROWSER)
    victim = Contact.objects.get()
    client.cookies["journeys_visitor"] = f"{victim.pk}:forged:signature"
    client.get(simple_page.url, **BROWSER)
    assert Contact.objects.count() == 2
    assert page_views().filter(contact=victim).count() == 1


def test_returning_visitor_costs_at_most_two_queries(client, simple_page):
    client.get(simple_page.url, **BROWSER)
    with (
        override_settings(WAGTAIL_JOURNEYS={"TRACKING_ENABLED": False}),
        CaptureQueriesContext(connection) as untracked,
    ):
        client.get(simple_page.url, **BROWSER)
    with CaptureQueriesContext(connection) as tracked:
        client.get(simple_page.url, **BROWSER)
    assert len(tracked) - len(untracked) <= 2


def test_previews_are_not_recorded(admin_client, simple_page):
    response = admin_client.get(f"/admin/pages/{simple_page.pk}/view_draft/", **BROWSER)
    assert response.status_code == 200
    assert b"Pricing" in response.content
    assert b"tracker.js" not in response.content
    assert not Event.objects.exists()


@pytest.mark.parametrize(
    "user_agent",
    [
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        "python-requests/2.32.0",
        "curl/8.5.0",
    ],
)
def test_bots_are_not_tracked(client, simple_page, user_agent):
    response = client.get(simple_page.url, HTTP_USER_AGENT=user_agent)
    assert response.status_code == 200
    assert not Event.objects.exists()
    assert not Contact.objects.exists()
    assert "journeys_visitor" not in response.cookies


def test_password_protected_page_is_not_a_view_until_unlocked(client, simple_page):
    PageViewRestriction.objects.create(
        page=simple_page, restriction_type=PageViewRestriction.PASSWORD, password="secret"
    )
    response = client.get(simple_page.url, **BROWSER)
    assert response.status_code == 200  # Wagtail's password form
    assert not page_views().exists()


def test_404_is_not_a_page_view(client, home):
    assert client.get("/no-such-page/", **BROWSER).status_code == 404
    assert not Event.objects.exists()


@override_settings(WAGTAIL_JOURNEYS={"TRACKING_ENABLED": False})
def test_tracking_can_be_switched_off(client, simple_page):
    client.get(simple_page.url, **BROWSER)
    assert not Event.objects.exists()


class TestConsentCookieMode:
    settings = {"CONSENT_MODE": "consent_cookie"}

    def test_no_consent_no_tracking_no_cookie(self, client, simple_page):
        with override_settings(WAGTAIL_JOURNEYS=self.settings):
            response = client.get(simple_page.url, **BROWSER)
        assert response.status_code == 200
        assert not Event.objects.exists()
        assert "journeys_visitor" not in response.cookies
        assert b"tracker.js" not in response.content

    def test_consent_given(self, client, simple_page):
        client.cookies["journeys_consent"] = "granted"
        with override_settings(WAGTAIL_JOURNEYS=self.settings):
            response = client.get(simple_page.url, **BROWSER)
        assert page_views().count() == 1
        assert b"tracker.js" in response.content

    @pytest.mark.parametrize("value", ["0", "false", "denied"])
    def test_consent_refused(self, client, simple_page, value):
        client.cookies["journeys_consent"] = value
        with override_settings(WAGTAIL_JOURNEYS=self.settings):
            client.get(simple_page.url, **BROWSER)
        assert not Event.objects.exists()

    def test_withdrawn_consent_deletes_the_visitor_cookie(self, client, simple_page):
        client.get(simple_page.url, **BROWSER)
        client.cookies["journeys_consent"] = "0"
        with override_settings(WAGTAIL_JOURNEYS=self.settings):
            response = client.get(simple_page.url, **BROWSER)
        assert response.cookies["journeys_visitor"].value == ""
        assert page_views().count() == 1


class TestPrivacySignalsMode:
    @pytest.fixture(autouse=True)
    def mode(self, settings):
        settings.WAGTAIL_JOURNEYS = {"CONSENT_MODE": "privacy_signals"}

    def test_gpc_is_honoured(self, client, simple_page):
        client.get(simple_page.url, HTTP_SEC_GPC="1", **BROWSER)
        assert not Event.objects.exists()

    def test_dnt_is_honoured(self, client, simple_page):
        client.get(simple_page.url, HTTP_DNT="1", **BROWSER)
        assert not Event.objects.exists()

    def test_without_signals_the_visit_is_recorded(self, client, simple_page):
        client.get(simple_page.url, **BROWSER)
        assert page_views().count() == 1
