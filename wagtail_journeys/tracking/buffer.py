"""Beacons accepted into Redis and stored in batches: the buffered write path.

Without a buffer the tracking endpoint stores each beacon before it answers:
an ORM insert, the contact and page looked up, the signals, about 2 ms of
Python a request (600 beacons a second on two cores, docs/performance.md).
With ``BEACON_BUFFER_URL`` set, a returning visitor's beacon is checked as
before (origin, consent, bots, rate limit, validation), appended to a Redis
list and answered 202; a django-q2 task moves the list into the database in
batches of ``BEACON_BUFFER_BATCH``, one INSERT each, and announces the events
as ``record_event`` does, so journeys and segments react to them as to any
other event, a moment later.

Nothing accepted is lost by a crash and nothing is stored twice: a batch's
events are inserted in one transaction with a ``BeaconBatch`` row named
after the batch's first beacon, and only then is the batch removed from the
list, by a script that first checks the list still starts with that beacon.
A drain that died between the two finds the row the next time and removes
the batch without storing it again. What the buffer does not survive is
Redis losing its data: run it with persistence (``appendonly yes``) if a
beacon must survive a Redis restart (docs/operations.md).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from wagtail_journeys.conf import get_setting
from wagtail_journeys.queue import enqueue
from wagtail_journeys.schedules import ensure_schedule

logger = logging.getLogger(__name__)

LIST_KEY = "wagtail_journeys:beacons"
#: Set when a drain is queued, so that a busy endpoint queues one, not one a beacon.
#: It expires, so a queued drain that was lost holds nothing up for long.
SCHEDULED_KEY = LIST_KEY + ":scheduled"
SCHEDULED_SECONDS = 2
LOCK_KEY = LIST_KEY + ":lock"
LOCK_SECONDS = 15
#: A drain hands over to a fresh task after this long, so one busy list
#: never holds a worker for good.
DRAIN_SECONDS = 20.0
#: Once caught up, a drain reads the list at most this often.
BATCH_INTERVAL = 0.2
DRAIN_TASK = "wagtail_journeys.tasks.drain_beacons"
SCHEDULE_NAME = "wagtail_journeys: drain buffered beacons"
#: How long a stored batch's marker is kept: far longer than any drain.
MARKER_AGE = timedelta(days=1)

# Remove the batch only if the list still starts with its first beacon: a drain
# that lost its lock and was overtaken must not remove beacons it never stored.
_TRIM = """
if redis.call('LINDEX', KEYS[1], 0) == ARGV[1] then
    redis.call('LTRIM', KEYS[1], ARGV[2], -1)
    return 1
end
return 0
"""

# One round trip a beacon: count it against the visitor's rate limit (a fixed
# window, as ``beacon.rate_limited`` counts), then append it and, if no drain
# is queued, say so by setting the key. -1: over the limit, nothing appended.
_ACCEPT = """
local limit = tonumber(ARGV[2])
if limit > 0 then
    local count = redis.call('INCR', KEYS[3])
    if count == 1 then
        redis.call('EXPIRE', KEYS[3], ARGV[3])
    end
    if count > limit then
        return -1
    end
end
redis.call('RPUSH', KEYS[1], ARGV[1])
if redis.call('SET', KEYS[2], 1, 'NX', 'EX', ARGV[4]) then
    return 1
end
return 0
"""

_clients: dict[tuple[int, str], tuple] = {}
_schedule_made = False


class BufferUnavailable(Exception):
    """Redis could not take the beacon; the caller stores it directly instead."""


def enabled() -> bool:
    """Whether beacons go through the buffer (``BEACON_BUFFER_URL`` is set)."""
    return bool(get_setting("BEACON_BUFFER_URL"))


def client():
    """The Redis client of ``BEACON_BUFFER_URL``, made once in each process."""
    return _connection()[0]


def _connection() -> tuple:
    import redis

    url = get_setting("BEACON_BUFFER_URL")
    key = (os.getpid(), url)  # a forked worker never shares its parent's connections
    found = _clients.get(key)
    if found is None:
        made = redis.Redis.from_url(url, socket_timeout=5, socket_connect_timeout=2)
        found = _clients[key] = (made, made.register_script(_ACCEPT), made.register_script(_TRIM))
    return found


@dataclass
class DrainReport:
    stored: int = 0
    dropped: int = 0
    batches: int = 0

    def as_dict(self) -> dict[str, int]:
        return {"stored": self.stored, "dropped": self.dropped, "batches": self.batches}


def accept(contact_id: int, beacon, *, at: datetime | None = None) -> bool:
    """Append one validated beacon of ``contact_id`` to the buffer, if within its rate limit.

    False when the contact is over ``BEACON_RATE_LIMIT`` (counted here, in
    the buffer's Redis, in the same round trip). Raises ``BufferUnavailable``
    when Redis cannot take it. Queues a drain unless one is already queued.
    """
    import redis  # an optional extra; BEACON_BUFFER_URL's check (E028) says so

    record = json.dumps(
        {
            "id": uuid.uuid4().hex,
            "contact": contact_id,
            "name": beacon.name,
            "properties": beacon.properties,
            "path": beacon.path,
            "page": beacon.page_id,
            "at": (at or timezone.now()).isoformat(),
        },
        separators=(",", ":"),
    )
    _, append, _ = _connection()
    try:
        outcome = append(
            keys=[LIST_KEY, SCHEDULED_KEY, f"{LIST_KEY}:limit:{contact_id}"],
            args=[
                record,
                get_setting("BEACON_RATE_LIMIT"),
                get_setting("BEACON_RATE_WINDOW"),
                SCHEDULED_SECONDS,
            ],
        )
    except redis.RedisError as error:
        raise BufferUnavailable(str(error)) from error
    if outcome == 1:
        _queue_drain()
    return outcome != -1


def _queue_drain() -> None:
    try:
        enqueue(DRAIN_TASK, group="wagtail_journeys.beacons")
    except Exception:
        # The beacons wait in Redis: the repeating schedule drains them.
        logger.exception("Could not queue a drain of the buffered beacons")


def waiting() -> int:
    """How many beacons are in the buffer, not yet stored."""
    return client().llen(LIST_KEY)


def drain(*, seconds: float = DRAIN_SECONDS) -> DrainReport:
    """Store the buffered beacons, batch by batch, for about ``seconds`` at most.

    One drain runs at a time (a lock in Redis); another that finds it taken
    returns at once. A drain that stops with beacons left queues the next.
    """
    global _schedule_made
    if not enabled():
        return DrainReport()  # the buffer was switched off; the schedule may outlive it
    if not _schedule_made:
        # The safety net for drains that were never queued or were lost.
        ensure_schedule(SCHEDULE_NAME, DRAIN_TASK, minutes=1)
        _schedule_made = True
    from redis.exceptions import LockError  # redis is an optional extra

    redis_client, _, trim = _connection()
    report = DrainReport()
    lock = redis_client.lock(LOCK_KEY, timeout=LOCK_SECONDS)
    if not lock.acquire(blocking=False):
        return report
    size = max(1, int(get_setting("BEACON_BUFFER_BATCH")))
    deadline = time.monotonic() + seconds
    try:
        # Beacons accepted from now on queue a drain of their own.
        redis_client.delete(SCHEDULED_KEY)
        _forget_old_markers()
        while raw := redis_client.lrange(LIST_KEY, 0, size - 1):
            read_at = time.monotonic()
            done = _store(raw, report)
            trim(keys=[LIST_KEY], args=[raw[0], done])
            report.batches += 1
            if time.monotonic() >= deadline:
                break
            lock.extend(LOCK_SECONDS, replace_ttl=True)
            if len(raw) < size:
                # Caught up: let the next batch gather, so that a steady stream is
                # stored in batches rather than one INSERT (and its queries) a beacon.
                time.sleep(max(0.0, read_at + BATCH_INTERVAL - time.monotonic()))
    finally:
        try:
            lock.release()
        except LockError:
            # A batch outlasted the lock; another drain may have run meanwhile, which
            # the batch markers and the checked trim make harmless.
            logger.warning("A beacon drain outlasted its lock (%s s)", LOCK_SECONDS)
    if redis_client.llen(LIST_KEY):
        redis_client.set(SCHEDULED_KEY, 1, ex=SCHEDULED_SECONDS)
        _queue_drain()
    return report


def _batch_key(first: bytes) -> str:
    return hashlib.blake2b(first, digest_size=16).hexdigest()


def _store(raw: list[bytes], report: DrainReport) -> int:
    """Store one batch read from the head of the list; how many beacons it spans."""
    from wagtail_journeys.models import BeaconBatch

    key = _batch_key(raw[0])
    try:
        with transaction.atomic():
            BeaconBatch.objects.create(key=key, size=len(raw))
            _insert(raw, report)
    except IntegrityError:
        # Stored already: by a drain that died before removing it from the list, or
        # by another drain while this one's lock ran out. Nothing of this try stays.
        return BeaconBatch.objects.get(pk=key).size
    return len(raw)


def _insert(raw: list[bytes], report: DrainReport) -> None:
    import swapper

    from wagtail_journeys.models import Contact, Event
    from wagtail_journeys.signals import announce_on_commit

    records = []
    for item in raw:
        try:
            record = json.loads(item)
            records.append(
                (
                    int(record["contact"]),
                    record["name"],
                    record["properties"],
                    record["path"],
                    record["page"],
                    datetime.fromisoformat(record["at"]),
                )
            )
        except (ValueError, KeyError, TypeError):
            # Only this module writes the list; something else wrote this.
            logger.error("Dropped a buffered beacon that is not one: %r", item[:200])
            report.dropped += 1

    contact_ids = {record[0] for record in records}
    # A contact erased or merged away since its beacon was accepted: GDPR erasure
    # must win, and a merged contact's cookie already names the one it became.
    contacts = set(Contact.objects.filter(pk__in=contact_ids).values_list("pk", flat=True))
    page_ids = {record[4] for record in records if record[4] is not None}
    Page = swapper.load_model("wagtailcore", "Page")
    pages = set(Page.objects.filter(pk__in=page_ids).values_list("pk", flat=True))
    events = [
        Event(
            contact_id=contact_id,
            name=name,
            properties=properties,
            path=path[:2048],
            page_id=page_id if page_id in pages else None,
            source=Event.Source.BROWSER,
            occurred_at=occurred_at,
        )
        for contact_id, name, properties, path, page_id, occurred_at in records
        if contact_id in contacts
    ]
    gone = len(records) - len(events)
    if gone:
        logger.info("Dropped %s buffered beacons of contacts that no longer exist", gone)
        report.dropped += gone
    if not events:
        return
    Event.objects.bulk_create(events)
    # Last seen as touch_last_seen moves it: at most once an interval.
    now = timezone.now()
    stale = now - timedelta(seconds=get_setting("LAST_SEEN_INTERVAL"))
    seen = {event.contact_id for event in events}
    Contact.objects.filter(
        Q(last_seen_at__lt=stale) | Q(last_seen_at__isnull=True), pk__in=seen
    ).update(last_seen_at=now)
    announce_on_commit(events)
    report.stored += len(events)


def _forget_old_markers() -> None:
    from wagtail_journeys.models import BeaconBatch

    BeaconBatch.objects.filter(stored_at__lt=timezone.now() - MARKER_AGE).delete()
