"""Settings of the ``qcluster`` processes that ``tests.processes.Cluster`` starts.

The scale-out configuration of docs/operations.md: PostgreSQL (the test's
database, from ``DATABASE_URL``), django-q2's Redis broker, connections kept
between tasks, and email through Anymail's Postmark backend pointed at the
test's fake provider. ``JOURNEYS_SETTINGS`` (a Python literal) carries the
test's ``WAGTAIL_JOURNEYS``.
"""

import ast
import os

from tests.settings import *  # noqa: F403
from tests.settings import DATABASES

DATABASES["default"]["CONN_MAX_AGE"] = 60

Q_CLUSTER = {
    "name": os.environ["JOURNEYS_Q_NAME"],
    "redis": {"host": "127.0.0.1", "port": int(os.environ["JOURNEYS_REDIS_PORT"]), "db": 0},
    "workers": 2,
    "timeout": 60,
    "retry": 90,
    "max_attempts": 1,
    "ack_failures": True,
    "save_limit": -1,
    "catch_up": False,
}

EMAIL_BACKEND = "anymail.backends.postmark.EmailBackend"
ANYMAIL = {
    "POSTMARK_SERVER_TOKEN": "fake-postmark-token",
    "POSTMARK_API_URL": os.environ["JOURNEYS_ESP_URL"],
    "REQUESTS_TIMEOUT": 2,
}
WAGTAIL_JOURNEYS = ast.literal_eval(os.environ.get("JOURNEYS_SETTINGS", "{}"))
