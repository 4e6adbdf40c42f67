"""Settings of bench/segments.py: the demo storefront's, on the benchmark's own database.

DATABASE_URL names it: a temporary SQLite file (WAL, as the demo runs) or a
fresh PostgreSQL database the benchmark creates and drops.
"""

from example_site.settings.base import *  # noqa: F403

SECRET_KEY = "bench-only-not-secret"
DEBUG = False  # DEBUG would keep every query in memory

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

WAGTAIL_JOURNEYS = {
    "BASE_URL": "https://shop.example.com",
    "PRODUCT_PAGE_TYPES": ["storefront.ProductPage"],
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"problems": {"class": "logging.StreamHandler", "level": "WARNING"}},
    "root": {"handlers": ["problems"], "level": "WARNING"},
}
