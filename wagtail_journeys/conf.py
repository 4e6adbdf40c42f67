"""Settings for wagtail-journeys, read from the ``WAGTAIL_JOURNEYS`` dict.

Every value is read when it is needed (never cached at import), so
``override_settings(WAGTAIL_JOURNEYS={...})`` works in tests and a changed
setting needs no restart of anything but the process that reads it.
"""

from typing import Any

from django.conf import settings

from wagtail_journeys.exceptions import ConfigurationError

#: Consent modes (see docs/settings.md).
CONSENT_ALWAYS = "always"
CONSENT_COOKIE = "consent_cookie"
CONSENT_PRIVACY_SIGNALS = "privacy_signals"
CONSENT_MODES = (CONSENT_ALWAYS, CONSENT_COOKIE, CONSENT_PRIVACY_SIGNALS)

DEFAULTS: dict[str, Any] = {
    # Tracking
    "TRACKING_ENABLED": True,
    "CONSENT_MODE": CONSENT_ALWAYS,
    "CONSENT_COOKIE_NAME": "journeys_consent",
    "COOKIE_NAME": "journeys_visitor",
    "COOKIE_AGE": 60 * 60 * 24 * 365,
    "LAST_SEEN_INTERVAL": 300,
    # Beacon endpoint
    "EVENT_ALLOWLIST": None,
    "BEACON_MAX_BODY_BYTES": 8192,
    "MAX_PROPERTIES": 20,
    "MAX_PROPERTY_LENGTH": 500,
    "BEACON_RATE_LIMIT": 60,
    "BEACON_RATE_WINDOW": 60,
    "RATE_LIMIT_CACHE": "default",
    "BEACON_BUFFER_URL": None,
    "BEACON_BUFFER_BATCH": 500,
    # Commerce
    "PRODUCT_ADAPTER": "wagtail_journeys.commerce.adapters.ProductAdapter",
    "DEFAULT_CURRENCY": "EUR",
    # Email
    "BASE_URL": None,
    "DEFAULT_FROM_EMAIL": None,
    "TRACK_OPENS": True,
    "TRACK_CLICKS": True,
    "LINK_MAX_AGE": 60 * 60 * 24 * 365,
    "CONFIRMATION_MAX_AGE": 60 * 60 * 24 * 7,
    "SEND_BATCH_SIZE": 100,
    "SEND_MAX_ATTEMPTS": 5,
    "SEND_RETRY_DELAY": 60,
    "SEND_CLAIM_TIMEOUT": 300,
    "FREQUENCY_CAP": (5, 60 * 60 * 24 * 7),
    "FEWER_EMAILS_CAP": (1, 60 * 60 * 24 * 7),
    "QUIET_HOURS": None,
    "DEFAULT_TIMEZONE": None,
    # Email templates
    "MERGE_FIELDS": ("confirm_url",),
    "PRODUCT_PAGE_TYPES": (),
    "CART_URL": "/cart/",
    "RECOMMENDATION_DAYS": 90,
    "RECOMMENDATION_CACHE_SECONDS": 600,
    "PRODUCT_CATEGORY_FIELD": "category",
    # Email tracking: telling machines from people
    "MACHINE_SECONDS": 5,
    "MACHINE_NETWORKS": (),
    "SCANNER_USER_AGENTS": (
        "bot",
        "spider",
        "crawl",
        "scan",
        "headless",
        "preview",
        "python-",
        "curl/",
        "wget/",
        "go-http-client",
        "okhttp",
        "java/",
        "libwww",
        "barracuda",
        "proofpoint",
        "mimecast",
    ),
    # Segments
    "SEGMENT_REFRESH_BATCH": 50_000,
    "SEGMENT_REFRESH_MINUTES": 15,
    "SEGMENT_REFRESH_ON_EVENT": True,
    # Journeys
    "TICK_MINUTES": 1,
    "TICK_BATCH_SIZE": 200,
    "TICK_LEASE_SECONDS": 300,
    "DISPATCH_RETRY_SECONDS": 60,
    "CART_ABANDONED_AFTER_MINUTES": 60,
    "DETECT_BATCH_SIZE": 1000,
    "WEBHOOK_SECRET": None,
    "EVENT_RETENTION_DAYS": None,
    # Channels: SMS and web push
    "SMS_BACKEND": "wagtail_journeys.channels.base.ConsoleSmsBackend",
    "PUSH_BACKEND": "wagtail_journeys.channels.base.ConsolePushBackend",
    "SMS_FROM": None,
    "SMS_FREQUENCY_CAP": (2, 60 * 60 * 24 * 7),
    "PUSH_FREQUENCY_CAP": (3, 60 * 60 * 24),
    "TWILIO_ACCOUNT_SID": None,
    "TWILIO_AUTH_TOKEN": None,
    "TWILIO_API_BASE_URL": None,
    "SMS_HTTP_URL": None,
    "SMS_HTTP_TOKEN": None,
    "VAPID_PUBLIC_KEY": None,
    "VAPID_PRIVATE_KEY": None,
    "VAPID_SUBJECT": None,
}


def get_setting(name: str) -> Any:
    """Return the ``WAGTAIL_JOURNEYS[name]`` setting, or its documented default."""
    if name not in DEFAULTS:
        # A typo in our own code, not the user's: fail loudly.
        raise ConfigurationError(f"Unknown wagtail-journeys setting {name!r}.")
    user_settings = getattr(settings, "WAGTAIL_JOURNEYS", None) or {}
    if not isinstance(user_settings, dict):
        raise ConfigurationError("The WAGTAIL_JOURNEYS setting must be a dict.")
    return user_settings.get(name, DEFAULTS[name])
