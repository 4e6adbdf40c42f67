"""System checks for every misconfiguration a site can make (``wagtail_journeys.E…``)."""

import re
import zoneinfo
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.urls import NoReverseMatch, reverse

from wagtail_journeys import conf
from wagtail_journeys.tracking.buffer import DRAIN_SECONDS

MIDDLEWARE_PATH = "wagtail_journeys.middleware.VisitorMiddleware"
AUTH_MIDDLEWARE_PATH = "django.contrib.auth.middleware.AuthenticationMiddleware"
# django-q2's broker settings; without one of them it silently expects Redis.
Q_BROKER_KEYS = ("orm", "redis", "django_redis", "sqs", "mongo", "ironmq", "disque", "broker_class")

_INT_SETTINGS = (
    "COOKIE_AGE",
    "LAST_SEEN_INTERVAL",
    "BEACON_MAX_BODY_BYTES",
    "MAX_PROPERTIES",
    "MAX_PROPERTY_LENGTH",
    "BEACON_RATE_LIMIT",
    "BEACON_RATE_WINDOW",
    "LINK_MAX_AGE",
    "CONFIRMATION_MAX_AGE",
    "SEND_BATCH_SIZE",
    "SEND_MAX_ATTEMPTS",
    "SEND_RETRY_DELAY",
    "SEND_CLAIM_TIMEOUT",
    "SEGMENT_REFRESH_BATCH",
    "SEGMENT_REFRESH_MINUTES",
    "TICK_MINUTES",
    "TICK_BATCH_SIZE",
    "TICK_LEASE_SECONDS",
    "DISPATCH_RETRY_SECONDS",
    "CART_ABANDONED_AFTER_MINUTES",
    "DETECT_BATCH_SIZE",
    "BEACON_BUFFER_BATCH",
)
#: Numbers that must be at least 1 (a zero would stop the work or run it constantly).
_POSITIVE_SETTINGS = (
    "SEND_CLAIM_TIMEOUT",
    "TICK_MINUTES",
    "TICK_BATCH_SIZE",
    "TICK_LEASE_SECONDS",
    "DISPATCH_RETRY_SECONDS",
    "CART_ABANDONED_AFTER_MINUTES",
    "DETECT_BATCH_SIZE",
    "BEACON_BUFFER_BATCH",
)


@register(Tags.compatibility)
def check_middleware(app_configs, **kwargs):
    middleware = list(getattr(settings, "MIDDLEWARE", None) or [])
    if MIDDLEWARE_PATH not in middleware:
        return [
            Error(
                "VisitorMiddleware is not installed, so no visitor is tracked.",
                hint=f'Add "{MIDDLEWARE_PATH}" to MIDDLEWARE, after {AUTH_MIDDLEWARE_PATH}.',
                id="wagtail_journeys.E001",
            )
        ]
    if AUTH_MIDDLEWARE_PATH in middleware and middleware.index(
        AUTH_MIDDLEWARE_PATH
    ) > middleware.index(MIDDLEWARE_PATH):
        return [
            Warning(
                "VisitorMiddleware runs before AuthenticationMiddleware, so logged-in users "
                "are not linked to their contact.",
                hint=f"Move {MIDDLEWARE_PATH} after {AUTH_MIDDLEWARE_PATH} in MIDDLEWARE.",
                id="wagtail_journeys.W001",
            )
        ]
    return []


@register(Tags.urls)
def check_urls(app_configs, **kwargs):
    try:
        reverse("wagtail_journeys:collect")
    except NoReverseMatch:
        return [
            Error(
                "The wagtail-journeys URLs are not included, so the tracker script has "
                "nowhere to send events.",
                hint='Add path("journeys/", include("wagtail_journeys.urls")) to your URLconf, '
                "before Wagtail's own URLs.",
                id="wagtail_journeys.E002",
            )
        ]
    return []


@register(Tags.compatibility)
def check_task_queue(app_configs, **kwargs):
    cluster = getattr(settings, "Q_CLUSTER", None)
    if not isinstance(cluster, dict) or not any(key in cluster for key in Q_BROKER_KEYS):
        return [
            Error(
                "No django-q2 broker is configured; django-q2 would then expect Redis on "
                "localhost and journeys would never run.",
                hint='Set Q_CLUSTER = {"name": "journeys", "orm": "default"} for the database '
                'broker, or {"redis": "redis://..."} with wagtail-journeys[redis].',
                id="wagtail_journeys.E003",
            )
        ]
    if "django_q" not in {app.split(".")[0] for app in settings.INSTALLED_APPS}:
        return [
            Error(
                "django_q is not in INSTALLED_APPS.",
                hint='Add "django_q" to INSTALLED_APPS.',
                id="wagtail_journeys.E004",
            )
        ]
    return []


@register(Tags.compatibility)
def check_settings(app_configs, **kwargs):
    errors = []
    user_settings = getattr(settings, "WAGTAIL_JOURNEYS", None)
    if user_settings is None:
        return []
    if not isinstance(user_settings, dict):
        return [
            Error(
                "WAGTAIL_JOURNEYS must be a dict.",
                hint="See docs/settings.md for the keys and their defaults.",
                id="wagtail_journeys.E010",
            )
        ]
    for key in sorted(set(user_settings) - set(conf.DEFAULTS)):
        errors.append(
            Error(
                f'WAGTAIL_JOURNEYS["{key}"] is not a wagtail-journeys setting.',
                hint="Check the spelling against docs/settings.md.",
                id="wagtail_journeys.E011",
            )
        )
    mode = conf.get_setting("CONSENT_MODE")
    if mode not in conf.CONSENT_MODES:
        errors.append(
            Error(
                f'WAGTAIL_JOURNEYS["CONSENT_MODE"] is {mode!r}; '
                "nobody is tracked until it is fixed.",
                hint="Use one of: " + ", ".join(repr(m) for m in conf.CONSENT_MODES) + ".",
                id="wagtail_journeys.E012",
            )
        )
    for key in _INT_SETTINGS:
        value = conf.get_setting(key)
        if isinstance(value, bool) or not isinstance(value, int) or value < 0:
            errors.append(
                Error(
                    f'WAGTAIL_JOURNEYS["{key}"] must be a whole number of at least 0, '
                    f"not {value!r}.",
                    id="wagtail_journeys.E013",
                )
            )
    allowlist = conf.get_setting("EVENT_ALLOWLIST")
    if allowlist is not None and (
        isinstance(allowlist, str) or not all(isinstance(name, str) for name in allowlist)
    ):
        errors.append(
            Error(
                'WAGTAIL_JOURNEYS["EVENT_ALLOWLIST"] must be None or a list of event names.',
                id="wagtail_journeys.E014",
            )
        )
    from wagtail_journeys.commerce.adapters import get_product_adapter
    from wagtail_journeys.exceptions import ConfigurationError

    try:
        get_product_adapter()
    except ConfigurationError as error:
        errors.append(Error(str(error), id="wagtail_journeys.E015"))
    if conf.get_setting("RATE_LIMIT_CACHE") not in settings.CACHES:
        errors.append(
            Error(
                'WAGTAIL_JOURNEYS["RATE_LIMIT_CACHE"] names a cache that is not in CACHES.',
                id="wagtail_journeys.E016",
            )
        )
    return errors


@register(Tags.compatibility)
def check_email_apps(app_configs, **kwargs):
    if "wagtail.contrib.settings" not in settings.INSTALLED_APPS:
        return [
            Error(
                "wagtail.contrib.settings is not installed; email branding (logo, colours, "
                "postal address) is a site setting.",
                hint='Add "wagtail.contrib.settings" to INSTALLED_APPS.',
                id="wagtail_journeys.E005",
            )
        ]
    return []


_TIME_OF_DAY = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")


def _is_cap(value) -> bool:
    return value is None or (
        isinstance(value, list | tuple)
        and len(value) == 2
        and all(isinstance(n, int) and not isinstance(n, bool) and n > 0 for n in value)
    )


@register(Tags.compatibility)
def check_email_settings(app_configs, **kwargs):
    if not isinstance(getattr(settings, "WAGTAIL_JOURNEYS", None) or {}, dict):
        return []  # E010 already says so
    errors = []
    base_url = conf.get_setting("BASE_URL")
    if base_url is not None:
        parts = urlsplit(str(base_url))
        if parts.scheme not in ("http", "https") or not parts.netloc:
            errors.append(
                Error(
                    f'WAGTAIL_JOURNEYS["BASE_URL"] must be an absolute http(s) URL, '
                    f"not {base_url!r}; links in emails are built on it.",
                    hint='For example "https://shop.example.com".',
                    id="wagtail_journeys.E017",
                )
            )
    quiet = conf.get_setting("QUIET_HOURS")
    if quiet is not None and not (
        isinstance(quiet, list | tuple)
        and len(quiet) == 2
        and all(isinstance(t, str) and _TIME_OF_DAY.match(t) for t in quiet)
    ):
        errors.append(
            Error(
                f'WAGTAIL_JOURNEYS["QUIET_HOURS"] must be None or a pair of "HH:MM" times, '
                f"not {quiet!r}.",
                hint='For example ("21:00", "08:00"): no marketing email from 21:00 to 08:00 '
                "in the contact's timezone.",
                id="wagtail_journeys.E018",
            )
        )
    for key in ("FREQUENCY_CAP", "FEWER_EMAILS_CAP"):
        value = conf.get_setting(key)
        if not _is_cap(value):
            errors.append(
                Error(
                    f'WAGTAIL_JOURNEYS["{key}"] must be None or (messages, seconds) with two '
                    f"whole numbers above 0, not {value!r}.",
                    hint="For example (5, 604800): at most 5 marketing emails in 7 days.",
                    id="wagtail_journeys.E019",
                )
            )
    zone = conf.get_setting("DEFAULT_TIMEZONE")
    if zone is not None:
        try:
            zoneinfo.ZoneInfo(str(zone))
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            errors.append(
                Error(
                    f'WAGTAIL_JOURNEYS["DEFAULT_TIMEZONE"] is not a known timezone: {zone!r}.',
                    hint='Use an IANA name such as "Europe/Paris", or None for TIME_ZONE.',
                    id="wagtail_journeys.E020",
                )
            )
    for key in ("TRACK_OPENS", "TRACK_CLICKS", "SEGMENT_REFRESH_ON_EVENT"):
        if not isinstance(conf.get_setting(key), bool):
            errors.append(
                Error(
                    f'WAGTAIL_JOURNEYS["{key}"] must be True or False.',
                    id="wagtail_journeys.E021",
                )
            )
    return errors


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


@register(Tags.compatibility)
def check_journey_settings(app_configs, **kwargs):
    """The scheduler's numbers, the webhook secret, and the lease against django-q2's timeout."""
    if not isinstance(getattr(settings, "WAGTAIL_JOURNEYS", None) or {}, dict):
        return []  # E010 already says so
    errors = []
    for key in _POSITIVE_SETTINGS:
        value = conf.get_setting(key)
        if _whole(value) and value < 1:
            errors.append(
                Error(f'WAGTAIL_JOURNEYS["{key}"] must be at least 1.', id="wagtail_journeys.E022")
            )
    secret = conf.get_setting("WEBHOOK_SECRET")
    if secret is not None and (not isinstance(secret, str) or not secret.strip()):
        errors.append(
            Error(
                'WAGTAIL_JOURNEYS["WEBHOOK_SECRET"] must be None or a non-empty string.',
                id="wagtail_journeys.E023",
            )
        )
    lease = conf.get_setting("TICK_LEASE_SECONDS")
    timeout = (getattr(settings, "Q_CLUSTER", None) or {}).get("timeout")
    if _whole(lease) and _whole(timeout) and lease <= timeout:
        errors.append(
            Warning(
                f'WAGTAIL_JOURNEYS["TICK_LEASE_SECONDS"] ({lease}) is not longer than '
                f'Q_CLUSTER["timeout"] ({timeout}): a batch still running could be claimed '
                "again by the next tick (its sends are not repeated, but its steps are re-run).",
                hint="Make the lease longer than the task timeout.",
                id="wagtail_journeys.W002",
            )
        )
    return errors


@register(Tags.compatibility)
def check_channel_settings(app_configs, **kwargs):
    """The SMS and push backends: importable, and given the settings they need."""
    if not isinstance(getattr(settings, "WAGTAIL_JOURNEYS", None) or {}, dict):
        return []  # E010 already says so
    from wagtail_journeys.channels.base import BasePushBackend, BaseSmsBackend, backend_class
    from wagtail_journeys.exceptions import ConfigurationError

    errors = []
    for setting, base in (("SMS_BACKEND", BaseSmsBackend), ("PUSH_BACKEND", BasePushBackend)):
        try:
            found = backend_class(setting, base)
        except ConfigurationError as error:
            errors.append(Error(str(error), id="wagtail_journeys.E024"))
            continue
        for problem in found.check_settings():
            errors.append(Error(f"{setting}: {problem}", id="wagtail_journeys.E025"))
    for key in ("SMS_FREQUENCY_CAP", "PUSH_FREQUENCY_CAP"):
        value = conf.get_setting(key)
        if value is not None and not _is_cap(value):
            errors.append(
                Error(
                    f'WAGTAIL_JOURNEYS["{key}"] must be (count, seconds) or None; got {value!r}.',
                    id="wagtail_journeys.E026",
                )
            )
    return errors


@register(Tags.compatibility)
def check_retention(app_configs, **kwargs):
    """``EVENT_RETENTION_DAYS``: None or a whole number of days, at least 1."""
    if not isinstance(getattr(settings, "WAGTAIL_JOURNEYS", None) or {}, dict):
        return []  # E010 already says so
    value = conf.get_setting("EVENT_RETENTION_DAYS")
    if value is None or (_whole(value) and value >= 1):
        return []
    return [
        Error(
            f'WAGTAIL_JOURNEYS["EVENT_RETENTION_DAYS"] must be None or at least 1; got {value!r}.',
            id="wagtail_journeys.E027",
        )
    ]


#: A beacon drain's longest run, and a batch's margin past it.
DRAIN_TASK_SECONDS = int(DRAIN_SECONDS) + 10


@register(Tags.compatibility)
def check_beacon_buffer(app_configs, **kwargs):
    """``BEACON_BUFFER_URL``: None, or a Redis URL with the ``redis`` package installed."""
    if not isinstance(getattr(settings, "WAGTAIL_JOURNEYS", None) or {}, dict):
        return []  # E010 already says so
    url = conf.get_setting("BEACON_BUFFER_URL")
    if url is None:
        return []
    problem = _beacon_buffer_problem(url)
    if problem:
        return [
            Error(
                f'WAGTAIL_JOURNEYS["BEACON_BUFFER_URL"] {problem[0]}.',
                hint=problem[1],
                id="wagtail_journeys.E028",
            )
        ]
    timeout = (getattr(settings, "Q_CLUSTER", None) or {}).get("timeout")
    if _whole(timeout) and timeout <= DRAIN_TASK_SECONDS:
        return [
            Warning(
                f'Q_CLUSTER["timeout"] ({timeout}) is not longer than a beacon drain '
                f"(up to {DRAIN_TASK_SECONDS} s): workers would be stopped mid-drain again and "
                "again (nothing is lost or stored twice, but the buffer drains slowly).",
                hint=f'Set Q_CLUSTER["timeout"] above {DRAIN_TASK_SECONDS}.',
                id="wagtail_journeys.W005",
            )
        ]
    return []


def _beacon_buffer_problem(url) -> tuple[str, str] | None:
    """What is wrong with ``url`` as ``BEACON_BUFFER_URL``, and the hint; None if nothing."""
    if not isinstance(url, str) or not url:
        return (
            f"must be None or a Redis URL, not {url!r}",
            'For example "redis://127.0.0.1:6379/1".',
        )
    try:
        import redis
    except ImportError:
        return "needs the redis package", 'pip install "wagtail-journeys[redis]"'
    try:
        redis.connection.parse_url(url)
    except ValueError as error:
        return f"is not a Redis URL ({error})", 'For example "redis://127.0.0.1:6379/1".'
    return None


#: Anymail backends that talk to no ESP, so have no webhooks to receive.
_LOCAL_ANYMAIL_BACKENDS = {"test", "console"}


@register(Tags.compatibility, Tags.urls)
def check_esp_webhooks(app_configs, **kwargs):
    """An Anymail ESP whose reports cannot come back: no bounces suppressed, no opens counted."""
    backend = str(getattr(settings, "EMAIL_BACKEND", ""))
    parts = backend.split(".")
    esp = parts[2] if len(parts) == 4 and parts[:2] == ["anymail", "backends"] else None
    if esp is None or esp in _LOCAL_ANYMAIL_BACKENDS:
        return []
    problems = []
    try:
        reverse(f"anymail:{esp}_tracking_webhook")
    except NoReverseMatch:
        problems.append(
            Warning(
                f"EMAIL_BACKEND sends through Anymail ({esp}), but Anymail's tracking webhook "
                "is not in your URLconf: bounces and complaints are never suppressed, and "
                "deliveries, opens and clicks reported by the ESP are lost.",
                hint='Add path("anymail/", include("anymail.urls")) and point the ESP\'s '
                "tracking webhook at it (docs/email.md).",
                id="wagtail_journeys.W003",
            )
        )
    anymail = getattr(settings, "ANYMAIL", None) or {}
    if isinstance(anymail, dict) and not anymail.get("WEBHOOK_SECRET"):
        problems.append(
            Warning(
                "ANYMAIL has no WEBHOOK_SECRET: anyone who finds the webhook URL can post "
                "tracking reports, and a forged bounce or complaint suppresses a contact.",
                hint='Set ANYMAIL["WEBHOOK_SECRET"] = "user:password" and put the same basic '
                "auth in the ESP's webhook URL.",
                id="wagtail_journeys.W004",
            )
        )
    return problems
