"""System checks for every misconfiguration a site can make (``wagtail_journeys.E…``)."""

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register
from django.urls import NoReverseMatch, reverse

from wagtail_journeys import conf

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
