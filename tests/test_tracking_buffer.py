"""The buffered write path (``tracking.buffer``): beacons into Redis, then into the database.

Against the machine's Redis (database 13, emptied around each test), with
django-q2 queueing in the database instead of running tasks at once, so a
test sees what is stored before and after the drain a worker would run.
"""

import json
import logging
from datetime import timedelta

import pytest
import redis
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import OrmQ, Schedule
from django_q.signing import SignedPackage

from tests.factories import ContactFactory
from wagtail_journeys import tasks
from wagtail_journeys.models import BeaconBatch, Contact, Event
from wagtail_journeys.signals import events_recorded
from wagtail_journeys.tracking import buffer
from wagtail_journeys.tracking.beacon import BeaconEvent

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.redis]

URL = "/journeys/collect/"
BUFFER_URL = "redis://127.0.0.1:6379/13"


@pytest.fixture(autouse=True)
def buffered(settings, monkeypatch):
    settings.WAGTAIL_JOURNEYS = {
        "BEACON_BUFFER_URL": BUFFER_URL,
        "BEACON_BUFFER_BATCH": 50,
        "BEACON_RATE_LIMIT": 0,  # the tests post more than a visitor may
    }
    monkeypatch.setattr(Conf, "SYNC", False)
    monkeypatch.setattr(buffer, "_schedule_made", False)
    cache.clear()
    server = redis.Redis.from_url(BUFFER_URL)
    server.flushdb()
    yield server
    server.flushdb()


def queued_drains():
    payloads = (SignedPackage.loads(row.payload) for row in OrmQ.objects.all())
    return [task["func"] for task in payloads if task["func"] == buffer.DRAIN_TASK]


def visit(client, page):
    """A first page view: the visitor gets a contact and the cookie that names it."""
    client.get(page.url)
    return Contact.objects.get()


def beacon(client, name="video_played", **payload):
    body = json.dumps({"name": name, **payload})
    return client.post(URL, body, content_type="text/plain;charset=UTF-8")


def test_a_returning_visitors_beacon_waits_in_redis_until_drained(client, simple_page, buffered):
    contact = visit(client, simple_page)
    Contact.objects.filter(pk=contact.pk).update(last_seen_at=timezone.now() - timedelta(hours=1))
    accepted_at = timezone.now()

    first = beacon(
        client,
        "page_time",
        properties={"duration_ms": 4200},
        path=simple_page.url,
        page_id=simple_page.pk,
    )
    second = beacon(client, "video_played", properties={"video": "intro"}, page_id=999999)

    assert (first.status_code, first.json()) == (202, {"queued": True})
    assert second.status_code == 202
    assert not Event.objects.exclude(name="page_viewed").exists()
    assert buffered.llen(buffer.LIST_KEY) == 2
    # One drain queued for both: the second found one queued already.
    assert queued_drains() == [buffer.DRAIN_TASK]

    report = buffer.drain()

    assert report.as_dict() == {"stored": 2, "dropped": 0, "batches": 1}
    page_time, video = Event.objects.exclude(name="page_viewed").order_by("pk")
    assert (page_time.contact, page_time.name, page_time.properties) == (
        contact,
        "page_time",
        {"duration_ms": 4200},
    )
    assert (page_time.page_id, page_time.path, page_time.source) == (
        simple_page.pk,
        simple_page.url,
        Event.Source.BROWSER,
    )
    assert accepted_at <= page_time.occurred_at <= video.occurred_at <= timezone.now()
    assert video.page_id is None  # no such page
    assert buffered.llen(buffer.LIST_KEY) == 0
    contact.refresh_from_db()
    assert contact.last_seen_at >= accepted_at
    # The safety net for drains that are lost: a repeating schedule.
    assert Schedule.objects.filter(name=buffer.SCHEDULE_NAME, func=buffer.DRAIN_TASK).exists()


def test_a_queued_drain_run_by_a_worker_stores_them(client, simple_page):
    visit(client, simple_page)
    for number in range(3):
        assert beacon(client, properties={"number": number}).status_code == 202

    taken = get_broker().dequeue()
    assert [SignedPackage.loads(payload)["func"] for _, payload in taken] == [buffer.DRAIN_TASK]
    assert tasks.drain_beacons() == {"stored": 3, "dropped": 0, "batches": 1}
    numbers = Event.objects.filter(name="video_played").values_list("properties__number", flat=True)
    assert sorted(numbers) == [0, 1, 2]


def test_drained_events_are_announced_like_any_other(client, simple_page):
    visit(client, simple_page)
    beacon(client, "video_played")
    beacon(client, "banner_clicked")
    announced = []

    def receiver(sender, events, **kwargs):
        announced.append(sorted(event.name for event in events))

    events_recorded.connect(receiver)
    try:
        buffer.drain()
    finally:
        events_recorded.disconnect(receiver)
    assert announced == [["banner_clicked", "video_played"]]


def test_a_new_visitor_is_stored_at_once_and_gets_a_cookie(client, buffered):
    response = beacon(client, properties={"video": "intro"})

    assert (response.status_code, response.json()) == (202, {"stored": True})
    assert response.cookies["journeys_visitor"].value
    assert Event.objects.get().properties == {"video": "intro"}
    assert buffered.llen(buffer.LIST_KEY) == 0


def test_a_logged_in_visitor_is_stored_at_once(client, simple_page, buffered):
    user = get_user_model().objects.create_user("ada", "ada@example.com", "x")
    client.force_login(user)
    visit(client, simple_page)

    assert beacon(client).json() == {"stored": True}
    assert Event.objects.filter(name="video_played", contact__user=user).exists()
    assert buffered.llen(buffer.LIST_KEY) == 0


def test_redis_down_stores_directly_and_says_so(client, simple_page, settings, caplog):
    visit(client, simple_page)
    settings.WAGTAIL_JOURNEYS = {"BEACON_BUFFER_URL": "redis://127.0.0.1:1/0"}

    with caplog.at_level(logging.WARNING, logger="wagtail_journeys.views.tracking"):
        response = beacon(client)

    assert (response.status_code, response.json()) == (202, {"stored": True})
    assert Event.objects.filter(name="video_played").count() == 1
    assert "Tracking buffer unavailable, storing directly" in caplog.text


def test_a_drain_that_died_before_removing_its_batch_stores_nothing_twice(
    client, simple_page, buffered
):
    visit(client, simple_page)
    for number in range(70):
        assert beacon(client, properties={"number": number}).status_code == 202
    # What a drain killed between its commit and its trim leaves: the first
    # batch of 50 stored and still at the head of the list.
    head = buffered.lrange(buffer.LIST_KEY, 0, 49)
    buffer._store(head, buffer.DrainReport())
    assert Event.objects.filter(name="video_played").count() == 50

    report = buffer.drain()

    assert report.as_dict() == {"stored": 20, "dropped": 0, "batches": 2}
    numbers = Event.objects.filter(name="video_played").values_list("properties__number", flat=True)
    assert sorted(numbers) == list(range(70))
    assert buffered.llen(buffer.LIST_KEY) == 0


def test_a_drain_that_was_overtaken_removes_nothing_it_did_not_store(buffered):
    buffered.rpush(buffer.LIST_KEY, b"first", b"second", b"third")
    trim = buffered.register_script(buffer._TRIM)

    assert trim(keys=[buffer.LIST_KEY], args=[b"second", 2]) == 0
    assert buffered.lrange(buffer.LIST_KEY, 0, -1) == [b"first", b"second", b"third"]
    assert trim(keys=[buffer.LIST_KEY], args=[b"first", 2]) == 1
    assert buffered.lrange(buffer.LIST_KEY, 0, -1) == [b"third"]


def test_beacons_of_an_erased_contact_and_garbage_are_dropped(client, simple_page, buffered):
    contact = visit(client, simple_page)
    beacon(client, properties={"number": 1})
    buffered.rpush(buffer.LIST_KEY, b"not a beacon")
    other = ContactFactory()
    buffer.accept(other.pk, BeaconEvent("video_played", {"number": 2}, path="", page_id=None))
    contact.delete()  # erased while its beacon waited

    report = buffer.drain()

    assert report.as_dict() == {"stored": 1, "dropped": 2, "batches": 1}
    assert list(Event.objects.values_list("contact", "properties")) == [(other.pk, {"number": 2})]
    assert buffered.llen(buffer.LIST_KEY) == 0


def test_one_drain_at_a_time_and_the_next_is_queued_for_what_is_left(client, simple_page, buffered):
    visit(client, simple_page)
    for number in range(120):
        assert beacon(client, properties={"number": number}).status_code == 202
    OrmQ.objects.all().delete()

    lock = buffered.lock(buffer.LOCK_KEY, timeout=30)
    assert lock.acquire(blocking=False)
    assert buffer.drain().as_dict() == {"stored": 0, "dropped": 0, "batches": 0}
    lock.release()

    # A drain that runs out of time leaves the rest to a drain it queues.
    report = buffer.drain(seconds=0.0001)
    assert report.batches == 1
    assert report.stored == 50
    assert queued_drains() == [buffer.DRAIN_TASK]
    assert buffer.waiting() == 70
    assert buffer.drain().stored == 70
    assert Event.objects.filter(name="video_played").count() == 120


def test_old_batch_markers_are_forgotten(buffered):
    BeaconBatch.objects.create(key="old", size=3, stored_at=timezone.now() - timedelta(days=2))
    BeaconBatch.objects.create(key="new", size=3)
    buffer.drain()
    assert list(BeaconBatch.objects.values_list("key", flat=True)) == ["new"]


def test_the_rate_limit_holds_when_buffered(client, simple_page, settings, buffered):
    contact = visit(client, simple_page)
    settings.WAGTAIL_JOURNEYS = {
        "BEACON_BUFFER_URL": BUFFER_URL,
        "BEACON_RATE_LIMIT": 3,
        "BEACON_RATE_WINDOW": 60,
    }

    statuses = [beacon(client, properties={"number": n}).status_code for n in range(5)]

    assert statuses == [202, 202, 202, 429, 429]
    assert buffered.llen(buffer.LIST_KEY) == 3
    assert 0 < buffered.ttl(f"{buffer.LIST_KEY}:limit:{contact.pk}") <= 60
    assert beacon(client, "Bad Name").status_code == 400  # still refused, whatever the count


def test_a_drain_after_the_buffer_was_switched_off_does_nothing(settings, buffered):
    buffered.rpush(buffer.LIST_KEY, b"left behind")
    settings.WAGTAIL_JOURNEYS = {}
    assert tasks.drain_beacons() == {"stored": 0, "dropped": 0, "batches": 0}
