"""Settings for running the storefront's own checks quickly (in-memory database, no network).

The repository's test suite uses ``tests.settings``; this module is for
``DJANGO_SETTINGS_MODULE=example_site.settings.test`` runs of the demo project.
"""

from .base import *  # noqa: F403
from .base import Q_CLUSTER, env

SECRET_KEY = "example-site-tests-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["*"]

DATABASES = {"default": env.db("DATABASE_URL", default="sqlite://:memory:")}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"].setdefault("OPTIONS", {}).update(
        {"transaction_mode": "IMMEDIATE", "timeout": 20}
    )

STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.InMemoryStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
# Fast hashing: the demo data creates a user in every test that loads it.
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
# Tasks run inline, so a test sees a journey's effects without a worker.
Q_CLUSTER = {**Q_CLUSTER, "name": "demo-tests", "sync": True}
