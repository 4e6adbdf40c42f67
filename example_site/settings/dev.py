"""Settings for ``make demo`` on a laptop: debug on, emails printed to the console."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DEBUG", default=True)
# Only ever used on a developer's machine; base.py has no default on purpose.
SECRET_KEY = env.str("SECRET_KEY", default="django-insecure-wagtail-journeys-demo-only")
ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

# Journey emails appear in the terminal that runs `make demo`.
EMAIL_BACKEND = env.str("EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
# The demo's webhooks only ever listen on loopback.
ANYMAIL = {"WEBHOOK_SECRET": env.str("ANYMAIL_WEBHOOK_SECRET", default="demo:demo-webhook-secret")}
