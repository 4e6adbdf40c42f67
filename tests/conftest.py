"""Fixtures shared by the suite, and the rules for tests that need a service.

A test marked ``browser``, ``postgres`` or ``redis`` skips with the reason when
its service is missing, except under ``CI=true``, where a missing service is
a failure: CI must never pass by skipping.
"""

import os
import socket

import pytest
from wagtail.models import Page, Site

IN_CI = os.environ.get("CI") == "true"
CHROMIUM = "/usr/bin/chromium"
BROWSER_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36"
)


def missing_service(reason: str):
    if IN_CI:
        pytest.fail(f"{reason} (required under CI=true)", pytrace=False)
    pytest.skip(reason)


def _redis_reachable() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


def pytest_runtest_setup(item):
    if item.get_closest_marker("postgres"):
        from django.db import connection

        if connection.vendor != "postgresql":
            missing_service(
                "needs PostgreSQL: run with DATABASE_URL=postgres://postgres@127.0.0.1:5432/test"
            )
    if item.get_closest_marker("redis") and not _redis_reachable():
        missing_service("needs Redis on 127.0.0.1:6379")
    if item.get_closest_marker("browser") and not os.path.exists(CHROMIUM):
        missing_service(f"needs Debian's Chromium at {CHROMIUM} (apt-get install chromium)")


@pytest.fixture(scope="session")
def chromium():
    """A headless Debian Chromium driven by Playwright."""
    if not os.path.exists(CHROMIUM):
        missing_service(f"needs Debian's Chromium at {CHROMIUM} (apt-get install chromium)")
    # Playwright's sync API runs an event loop in this thread; the ORM calls
    # the test makes between browser steps are still plain synchronous code.
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM,
            # The user agent is set for the whole browser, not per context:
            # a beacon sent while a page unloads leaves without the context's
            # override, and headless Chromium's own "HeadlessChrome" agent is
            # (rightly) refused as a bot.
            args=[
                "--no-sandbox",
                "--disable-background-networking",
                "--disable-gpu",
                f"--user-agent={BROWSER_UA}",
            ],
        )
        yield browser
        browser.close()


@pytest.fixture
def home(db):
    """The default site's root page."""
    return Site.objects.get(is_default_site=True).root_page


@pytest.fixture
def simple_page(home):
    from tests.testapp.models import SimplePage

    page = SimplePage(title="Pricing", slug="pricing")
    home.add_child(instance=page)
    return page


def _form_page(home, cls, field_cls, slug):
    page = cls(title=f"{cls.__name__}", slug=slug)
    home.add_child(instance=page)
    field_cls.objects.create(page=page, label="Email", field_type="email", required=True)
    field_cls.objects.create(page=page, label="Name", field_type="singleline", required=False)
    return page


@pytest.fixture
def signup_page(home):
    from tests.testapp.models import SignupFormField, SignupFormPage

    return _form_page(home, SignupFormPage, SignupFormField, "signup")


@pytest.fixture
def enquiry_page(home):
    from tests.testapp.models import EnquiryFormField, EnquiryFormPage

    return _form_page(home, EnquiryFormPage, EnquiryFormField, "enquiry")


@pytest.fixture
def gadget(db):
    from tests.testapp.models import Gadget

    return Gadget.objects.create(name="Widget", sku="W-1")


@pytest.fixture
def root_page(db):
    return Page.objects.get(depth=1)


@pytest.fixture
def journeys_mail(settings):
    """Email through Anymail's test backend, links on the shop's address, an empty outbox."""
    from django.core import mail

    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.WAGTAIL_JOURNEYS = {"BASE_URL": "https://shop.example.com"}
    mail.outbox = []


@pytest.fixture
def admin_client(db):
    """A client logged in as a superuser (pytest-django's, with a known password)."""
    from tests.admin_helpers import superuser_client

    return superuser_client()


def restore_wagtail_initial_data() -> None:
    """Put back what Wagtail's migrations create: a locale, the root and home pages, the site,
    the root collection. A transactional test ends with a flush that deletes them."""
    from django.conf import settings
    from wagtail.coreutils import get_supported_content_language_variant
    from wagtail.models import Collection, Locale

    if Collection.objects.exists():
        return
    locale, _ = Locale.objects.get_or_create(
        language_code=get_supported_content_language_variant(settings.LANGUAGE_CODE)
    )
    root = Page.add_root(instance=Page(title="Root", slug="root", locale=locale))
    home = root.add_child(
        instance=Page(title="Welcome to your new Wagtail site!", slug="home", locale=locale)
    )
    Site.objects.create(hostname="localhost", port=80, root_page=home, is_default_site=True)
    Collection.add_root(name="Root")


@pytest.fixture(autouse=True)
def wagtail_initial_data(request):
    """Transactional tests start from what a migrated database holds, whatever ran before."""
    marker = request.node.get_closest_marker("django_db")
    if marker is None or not marker.kwargs.get("transaction"):
        return
    request.getfixturevalue("transactional_db")
    restore_wagtail_initial_data()


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts with an empty cache: rate-limit counters must not carry over."""
    from django.core.cache import cache

    cache.clear()
    yield
    cache.clear()
