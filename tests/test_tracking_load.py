"""The tracking endpoint under load: gunicorn and wrk on loopback, and every accepted event stored.

A correctness test, not a timed one (bench/load_tracking.py measures the
speed, with the same gunicorn application and wrk script): for about four
seconds wrk posts beacons from returning visitors over eight connections to
two gunicorn workers that write to this test's PostgreSQL database, then
waits for the last answers. Every answer must be a 202 and every 202 one
stored row, with no beacon stored twice: stored by the endpoint itself, and
through the Redis buffer (``BEACON_BUFFER_URL``) by drainers that are killed.
"""

import importlib.util
import os
import shutil
import signal
import threading
import time
from urllib.parse import quote

import pytest
import redis
from django.db import connection
from django.db.models import Count
from django.db.models.fields.json import KT
from django.utils import timezone
from wagtail.models import Page

from bench.load_tracking import (
    COLLECT_PATH,
    Server,
    draining,
    drive,
    serve,
    visitor_cookies,
    wait_for_drain,
)
from tests.conftest import missing_service
from wagtail_journeys.models import Contact, Event
from wagtail_journeys.tracking import buffer

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

BUFFER_URL = "redis://127.0.0.1:6379/12"


def database_url() -> str:
    """This test's database, for gunicorn's workers (the test database, not the configured one)."""
    db = connection.settings_dict
    user = quote(db["USER"]) + (f":{quote(db['PASSWORD'])}" if db["PASSWORD"] else "")
    host = db["HOST"] or "127.0.0.1"
    port = db["PORT"] or 5432
    return f"postgres://{user}@{host}:{port}/{db['NAME']}?conn_max_age=60"


def check_load(load, visitors) -> None:
    assert load.non_2xx == 0, load.statuses
    assert load.not_accepted == {}, "every beacon is trackable and valid"
    assert load.socket_errors == {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    assert load.unanswered == 0, "wrk stopped with beacons in flight"
    assert load.accepted > 0
    stored = Event.objects.filter(source=Event.Source.BROWSER).aggregate(
        rows=Count("pk"),
        beacons=Count(KT("properties__n"), distinct=True),
    )
    assert stored["rows"] == load.accepted
    assert stored["beacons"] == load.accepted, "a beacon was stored twice"
    assert Contact.objects.count() == len(visitors), "each beacon went to its visitor's contact"


def needs_wrk_and_gunicorn() -> None:
    if shutil.which("wrk") is None:
        missing_service("needs wrk (apt-get install wrk)")
    if importlib.util.find_spec("gunicorn") is None:
        missing_service('needs gunicorn (pip install "gunicorn>=23": the bench group)')


def returning_visitors() -> list[Contact]:
    """200 contacts seen a moment ago: the visitors whose cookies wrk sends."""
    return Contact.objects.bulk_create([Contact(last_seen_at=timezone.now()) for _ in range(200)])


def post_beacons(gunicorn, visitors, seconds: int):
    """wrk's beacons from ``visitors`` to ``gunicorn`` for ``seconds``, then the last answers."""
    return drive(
        gunicorn.url,
        path=COLLECT_PATH,
        accepted_status=202,
        seconds=seconds,
        cookies=visitor_cookies(visitor.pk for visitor in visitors),
        page_ids=Page.objects.values_list("pk", flat=True),
        connections=8,
    )


def test_every_accepted_beacon_is_stored_once_under_load():
    needs_wrk_and_gunicorn()
    visitors = returning_visitors()
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
        "BENCH_REDIS_URL": "",  # the tests' local-memory cache and synchronous django-q2
    }

    with serve(env, Server("sync", workers=2)) as gunicorn:
        load = post_beacons(gunicorn, visitors, seconds=4)

    check_load(load, visitors)


@pytest.mark.redis
def test_buffered_beacons_are_stored_once_with_drainers_killed_under_load():
    """Through the Redis buffer, drained by processes of their own, two of them ``kill -9``ed.

    A drainer killed between committing a batch and removing it from the
    list leaves its batch marker; one killed holding the lock holds up the
    next until the lock expires. Either way the last drainer stores the rest,
    each beacon once.
    """
    needs_wrk_and_gunicorn()
    visitors = returning_visitors()
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
        # Redis as the scaled-out site has it: the cache, django-q2's broker, the buffer.
        "BENCH_REDIS_URL": BUFFER_URL,
        "BENCH_LOAD_NAME": "journeys-load-test",
        "BENCH_BUFFER": "1",
    }
    server = redis.Redis.from_url(BUFFER_URL)
    server.flushdb()
    loads = []

    try:
        with serve(env, Server("sync", workers=2)) as gunicorn:
            driver = threading.Thread(
                target=lambda: loads.append(post_beacons(gunicorn, visitors, seconds=6))
            )
            driver.start()
            for _ in range(2):
                with draining(env) as drainer:
                    time.sleep(3)
                    os.kill(drainer, signal.SIGKILL)
            with draining(env):
                driver.join()
                wait_for_drain(BUFFER_URL, timeout=60)
        assert server.llen(buffer.LIST_KEY) == 0
        check_load(loads[0], visitors)
    finally:
        server.flushdb()
