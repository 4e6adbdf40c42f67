"""The tracking endpoint under load: gunicorn and wrk on loopback, and every accepted event stored.

A correctness test, not a timed one (bench/load_tracking.py measures the
speed, with the same gunicorn application and wrk script): for about four
seconds wrk posts beacons from returning visitors over eight connections to
two gunicorn workers that write to this test's PostgreSQL database, then
waits for the last answers. Every answer must be a 202 and every 202 one
stored row, with no beacon stored twice: stored by the endpoint itself, and
through the Redis buffer (``BEACON_BUFFER_URL``) and a drain.
"""

import importlib.util
import shutil
from urllib.parse import quote

import pytest
import redis
from django.db import connection
from django.db.models import Count
from django.db.models.fields.json import KT
from django.utils import timezone
from wagtail.models import Page

from bench.load_tracking import COLLECT_PATH, Server, drive, serve, visitor_cookies
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


@pytest.mark.parametrize(
    "buffered", [False, pytest.param(True, marks=pytest.mark.redis, id="buffered")]
)
def test_every_accepted_beacon_is_stored_once_under_load(buffered, settings):
    if shutil.which("wrk") is None:
        missing_service("needs wrk (apt-get install wrk)")
    if importlib.util.find_spec("gunicorn") is None:
        missing_service('needs gunicorn (pip install "gunicorn>=23": the bench group)')
    visitors = Contact.objects.bulk_create(
        [Contact(last_seen_at=timezone.now()) for _ in range(200)]
    )
    env = {
        "DJANGO_SETTINGS_MODULE": "tests.settings",
        "DATABASE_URL": database_url(),
        "BENCH_REDIS_URL": "",  # the tests' local-memory cache and synchronous django-q2
    }
    if buffered:
        # Redis as the scaled-out site has it; this process drains, as a worker would.
        env.update(BENCH_REDIS_URL=BUFFER_URL, BENCH_LOAD_NAME="journeys-load-test")
        env["BENCH_BUFFER"] = "1"
        settings.WAGTAIL_JOURNEYS = {"BEACON_BUFFER_URL": BUFFER_URL}
        redis.Redis.from_url(BUFFER_URL).flushdb()

    with serve(env, Server("sync", workers=2)) as gunicorn:
        load = drive(
            gunicorn.url,
            path=COLLECT_PATH,
            accepted_status=202,
            seconds=4,
            cookies=visitor_cookies(visitor.pk for visitor in visitors),
            page_ids=Page.objects.values_list("pk", flat=True),
            connections=8,
        )

    assert load.non_2xx == 0, load.statuses
    assert load.not_accepted == {}, "every beacon is trackable and valid"
    assert load.socket_errors == {"connect": 0, "read": 0, "write": 0, "timeout": 0}
    assert load.unanswered == 0, "wrk stopped with beacons in flight"
    assert load.accepted > 0
    if buffered:
        waiting = buffer.waiting()
        while buffer.drain().batches:
            pass
        assert waiting > 0, "the beacons went through the buffer"
        assert buffer.waiting() == 0
        redis.Redis.from_url(BUFFER_URL).flushdb()
    stored = Event.objects.filter(source=Event.Source.BROWSER).aggregate(
        rows=Count("pk"),
        beacons=Count(KT("properties__n"), distinct=True),
    )
    assert stored["rows"] == load.accepted
    assert stored["beacons"] == load.accepted, "a beacon was stored twice"
    assert Contact.objects.count() == len(visitors), "each beacon went to its visitor's contact"
