"""System checks name every misconfiguration with a stable id."""

from types import SimpleNamespace

import pytest
from django.core import checks
from django.test import override_settings

from tests import settings as test_settings


def check_ids():
    return {message.id for message in checks.run_checks(include_deployment_checks=False)}


def test_the_test_settings_pass():
    assert not {i for i in check_ids() if i and i.startswith("wagtail_journeys")}


def test_missing_middleware():
    middleware = [m for m in test_settings.MIDDLEWARE if "journeys" not in m]
    with override_settings(MIDDLEWARE=middleware):
        assert "wagtail_journeys.E001" in check_ids()


def test_middleware_before_authentication():
    middleware = ["wagtail_journeys.middleware.VisitorMiddleware"] + [
        m for m in test_settings.MIDDLEWARE if "journeys" not in m
    ]
    with override_settings(MIDDLEWARE=middleware):
        assert "wagtail_journeys.W001" in check_ids()


def test_urls_not_included():
    with override_settings(ROOT_URLCONF="tests.urls_without_journeys"):
        assert "wagtail_journeys.E002" in check_ids()


@pytest.mark.parametrize("cluster", [None, {"name": "x"}, {"name": "x", "workers": 2}])
def test_no_task_broker(settings, cluster):
    if cluster is None:
        del settings.Q_CLUSTER
    else:
        settings.Q_CLUSTER = cluster
    assert "wagtail_journeys.E003" in check_ids()


@pytest.mark.parametrize(
    ("value", "check_id"),
    [
        ("not a dict", "wagtail_journeys.E010"),
        ({"CONSENT_MOD": "always"}, "wagtail_journeys.E011"),
        ({"CONSENT_MODE": "sometimes"}, "wagtail_journeys.E012"),
        ({"COOKIE_AGE": "a year"}, "wagtail_journeys.E013"),
        ({"BEACON_RATE_LIMIT": -1}, "wagtail_journeys.E013"),
        ({"EVENT_ALLOWLIST": "video_played"}, "wagtail_journeys.E014"),
        ({"PRODUCT_ADAPTER": "shop.adapters.Missing"}, "wagtail_journeys.E015"),
        ({"RATE_LIMIT_CACHE": "redis"}, "wagtail_journeys.E016"),
        ({"SEND_BATCH_SIZE": "100"}, "wagtail_journeys.E013"),
        ({"SEND_CLAIM_TIMEOUT": 0}, "wagtail_journeys.E022"),
        ({"BASE_URL": "shop.example.com"}, "wagtail_journeys.E017"),
        ({"BASE_URL": "ftp://shop.example.com"}, "wagtail_journeys.E017"),
        ({"QUIET_HOURS": ("9pm", "8am")}, "wagtail_journeys.E018"),
        ({"QUIET_HOURS": "21:00-08:00"}, "wagtail_journeys.E018"),
        ({"FREQUENCY_CAP": 5}, "wagtail_journeys.E019"),
        ({"FEWER_EMAILS_CAP": (0, 3600)}, "wagtail_journeys.E019"),
        ({"DEFAULT_TIMEZONE": "Mars/Olympus"}, "wagtail_journeys.E020"),
        ({"DEFAULT_TIMEZONE": "../etc"}, "wagtail_journeys.E020"),
        ({"TRACK_OPENS": "yes"}, "wagtail_journeys.E021"),
        ({"SEGMENT_REFRESH_ON_EVENT": "yes"}, "wagtail_journeys.E021"),
        ({"SEGMENT_REFRESH_BATCH": "lots"}, "wagtail_journeys.E013"),
        ({"TICK_BATCH_SIZE": 0}, "wagtail_journeys.E022"),
        ({"BEACON_BUFFER_BATCH": 0}, "wagtail_journeys.E022"),
        ({"BEACON_BUFFER_BATCH": "500"}, "wagtail_journeys.E013"),
        ({"BEACON_BUFFER_URL": "127.0.0.1:6379"}, "wagtail_journeys.E028"),
        ({"BEACON_BUFFER_URL": ""}, "wagtail_journeys.E028"),
        ({"BEACON_BUFFER_URL": 6379}, "wagtail_journeys.E028"),
        ({"CART_ABANDONED_AFTER_MINUTES": 0}, "wagtail_journeys.E022"),
        ({"WEBHOOK_SECRET": ""}, "wagtail_journeys.E023"),
        ({"WEBHOOK_SECRET": 42}, "wagtail_journeys.E023"),
        ({"TICK_LEASE_SECONDS": 30}, "wagtail_journeys.W002"),
    ],
)
def test_bad_settings(settings, value, check_id):
    settings.WAGTAIL_JOURNEYS = value
    assert check_id in check_ids()


@pytest.mark.parametrize(
    "value",
    [
        {"BASE_URL": "https://shop.example.com", "QUIET_HOURS": ("21:00", "08:00")},
        {"FREQUENCY_CAP": None, "FEWER_EMAILS_CAP": [1, 604800]},
        {"DEFAULT_TIMEZONE": "Europe/Paris", "TRACK_CLICKS": False},
        {"TICK_MINUTES": 5, "WEBHOOK_SECRET": "s3cret", "TICK_LEASE_SECONDS": 600},
        {"BEACON_BUFFER_URL": "redis://127.0.0.1:6379/1", "BEACON_BUFFER_BATCH": 200},
    ],
)
def test_good_email_settings_pass(settings, value):
    settings.WAGTAIL_JOURNEYS = value
    assert not {i for i in check_ids() if i and i.startswith("wagtail_journeys")}


def test_settings_app_missing(monkeypatch):
    from wagtail_journeys import checks as journeys_checks

    # Changing INSTALLED_APPS for real reloads the app registry mid-test; the
    # check only reads the list, so give it one without the settings app.
    apps = [a for a in test_settings.INSTALLED_APPS if a != "wagtail.contrib.settings"]
    monkeypatch.setattr(journeys_checks, "settings", SimpleNamespace(INSTALLED_APPS=apps))
    assert [e.id for e in journeys_checks.check_email_apps(None)] == ["wagtail_journeys.E005"]


POSTMARK = "anymail.backends.postmark.EmailBackend"
SECRET = {"POSTMARK_SERVER_TOKEN": "t", "WEBHOOK_SECRET": "user:password"}


@pytest.mark.parametrize(
    ("backend", "anymail", "urlconf", "expected"),
    [
        (POSTMARK, SECRET, "tests.urls", set()),
        (POSTMARK, SECRET, "tests.urls_without_journeys", {"wagtail_journeys.W003"}),
        (POSTMARK, {"POSTMARK_SERVER_TOKEN": "t"}, "tests.urls", {"wagtail_journeys.W004"}),
        # No ESP, no webhooks to receive.
        ("anymail.backends.test.EmailBackend", {}, "tests.urls_without_journeys", set()),
        ("django.core.mail.backends.smtp.EmailBackend", {}, "tests.urls_without_journeys", set()),
    ],
)
def test_esp_webhooks(backend, anymail, urlconf, expected):
    # Without Anymail's webhook no bounce is ever suppressed; without its secret anyone
    # can post one.
    with override_settings(EMAIL_BACKEND=backend, ANYMAIL=anymail, ROOT_URLCONF=urlconf):
        found = {i for i in check_ids() if i in ("wagtail_journeys.W003", "wagtail_journeys.W004")}
    assert found == expected


def test_a_task_timeout_shorter_than_a_beacon_drain_is_a_warning(settings):
    settings.WAGTAIL_JOURNEYS = {"BEACON_BUFFER_URL": "redis://127.0.0.1:6379/2"}
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 20}
    assert "wagtail_journeys.W005" in check_ids()
    settings.Q_CLUSTER = {**settings.Q_CLUSTER, "timeout": 60}
    assert "wagtail_journeys.W005" not in check_ids()
