"""Settings of bench/journeys.py: those of bench/segments.py, plus email and django-q2.

Email goes to
Anymail's test backend (no network); django-q2 tasks go to its ORM broker
(the demo's) or to Redis (``BENCH_BROKER=redis``) and stay there (no cluster
runs), so queueing a delivery task costs what it costs a live site and
delivery is timed apart, by the benchmark itself.
"""

import os

from bench.segments_settings import *  # noqa: F403
from bench.segments_settings import LOGGING

EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
DEFAULT_FROM_EMAIL = "Kettle & Bean <shop@example.com>"

Q_CLUSTER = {
    "name": "bench",
    "orm": "default",
    "sync": False,
    "workers": 1,
    "timeout": 600,
    "retry": 1200,
    "max_attempts": 1,
}
if os.environ.get("BENCH_BROKER") == "redis":
    # The scale-out broker: queueing a task touches no database connection.
    del Q_CLUSTER["orm"]
    Q_CLUSTER["name"] = f"bench-journeys-{os.getpid()}"
    Q_CLUSTER["redis"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")

LOGGING["loggers"] = {
    "django-q": {"handlers": ["problems"], "level": "WARNING", "propagate": False}
}
