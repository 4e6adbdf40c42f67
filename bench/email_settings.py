"""Settings of bench/email_delivery.py: the demo storefront plus django-post-office.

The database is a temporary SQLite file (WAL, as the demo runs) and every
email goes over SMTP to the benchmark's own server on loopback.
"""

import os

from example_site.settings.base import *  # noqa: F403
from example_site.settings.base import INSTALLED_APPS

SECRET_KEY = "bench-only-not-secret"
DEBUG = False
INSTALLED_APPS = [*INSTALLED_APPS, "post_office"]

EMAIL_BACKEND = "django.core.mail.backends.smtp.EmailBackend"
EMAIL_HOST = "127.0.0.1"
EMAIL_PORT = int(os.environ.get("BENCH_SMTP_PORT", "8025"))
EMAIL_TIMEOUT = 30
DEFAULT_FROM_EMAIL = "Kettle & Bean <shop@example.com>"

CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

# One worker (the default): delivery tasks run in this process, one batch
# after another, as one worker runs them. More: a django-q2 cluster with that
# many worker processes takes the tasks from the ORM broker.
WORKERS = int(os.environ.get("BENCH_WORKERS", "1"))
Q_CLUSTER = {
    "name": "bench",
    "orm": "default",
    "sync": WORKERS == 1,
    "workers": WORKERS,
    "poll": 0.05,
    "timeout": 600,
    "retry": 1200,
    "max_attempts": 1,
}

# django-post-office with its defaults, except that a failure is not retried.
POST_OFFICE = {"MAX_RETRIES": 0}

WAGTAIL_JOURNEYS = {"BASE_URL": "https://shop.example.com"}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {
        "null": {"class": "logging.NullHandler"},
        "problems": {"class": "logging.StreamHandler", "level": "WARNING"},
    },
    "loggers": {
        # django-q2 logs every task and post-office every batch: only problems are shown.
        "django-q": {"handlers": ["problems"], "propagate": False},
        "post_office": {"handlers": ["null"], "propagate": False},
    },
}
