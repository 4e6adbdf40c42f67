"""No event is lost on its way to the journeys (the dispatch outbox in ``journeys.dispatch``).

An event a journey reacts to is written to the outbox with the event; its
dispatch takes it off in the transaction that does the work. A dispatch
task that is lost (a worker killed, Redis restarted, the broker refusing
it) leaves the event in the outbox and a later tick dispatches it again,
which enrolls the contact once, however often that happens.

Lost tasks are real ones: django-q2 is switched from sync mode to its
database broker, and the queued task is deleted (Redis keeps nothing over
a restart) or taken and run like a worker would.
"""

import logging
import threading
import time
from datetime import timedelta

import pytest
from django.db import DatabaseError, connection, connections, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django_q.brokers import get_broker
from django_q.conf import Conf
from django_q.models import OrmQ
from django_q.signing import SignedPackage

from tests.journey_helpers import email_template, fire, later, subscribed, tick_at, trail
from wagtail_journeys import tasks, track
from wagtail_journeys.journeys import dispatch
from wagtail_journeys.journeys.building import block, new_journey
from wagtail_journeys.journeys.dispatch import dispatch_events, redispatch_pending
from wagtail_journeys.journeys.scheduler import tick
from wagtail_journeys.models import (
    Enrollment,
    Event,
    Journey,
    Message,
    MessageEvent,
    PendingDispatch,
)

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("journeys_mail")]

Status = Enrollment.Status


@pytest.fixture
def broker(monkeypatch):
    """django-q2 queueing in the database, as a cluster would, instead of running tasks at once."""
    monkeypatch.setattr(Conf, "SYNC", False)
    return get_broker()


def queued_tasks():
    """(function, args) of each task waiting in the database broker."""
    return [
        (task["func"], task["args"])
        for task in (SignedPackage.loads(row.payload) for row in OrmQ.objects.order_by("pk"))
    ]


def run_queued(broker):
    """Take the queued tasks one by one and run them, as a worker does."""
    results = []
    while taken := broker.dequeue():
        for ack_id, payload in taken:
            task = SignedPackage.loads(payload)
            name = task["func"].rsplit(".", 1)[1]
            results.append(getattr(tasks, name)(*task["args"]))
            broker.acknowledge(ack_id)
    return results


def welcome_journey(name="Welcome", *, published_ago=timedelta(hours=1)):
    """Published an hour ago by default: the catch-up after a publish is for one test only."""
    journey = new_journey(
        name,
        trigger=block("event", event="signed_up"),
        steps=[block("tag", action="add", tag=name.lower())],
    )
    Journey.objects.filter(pk=journey.pk).update(last_published_at=timezone.now() - published_ago)
    return journey


def tags(contact):
    return sorted(contact.tags.names())


def pending():
    return set(PendingDispatch.objects.values_list("event_id", flat=True))


def signed_up(capture, contact):
    fire(capture, contact, "signed_up")
    return Event.objects.filter(contact=contact, name="signed_up").latest("pk")


# -- A process whose journey index is stale -----------------------------------------------------


def test_a_trigger_stored_by_a_process_that_missed_the_publish_enrolls_at_the_next_tick(
    django_capture_on_commit_callbacks, monkeypatch
):
    """Another process trusts its index for INDEX_TTL seconds: for that long, a new journey's
    trigger event gets no outbox row and no dispatch there. The tick catches it up."""
    capture = django_capture_on_commit_callbacks
    # The index another web process built just before the publish, still trusted.
    monkeypatch.setattr(dispatch, "_index", (time.monotonic() + 60, dispatch.JourneyIndex()))
    journey = welcome_journey(published_ago=timedelta(0))
    dispatch._index = (time.monotonic() + 60, dispatch.JourneyIndex())  # the publish forgot it
    contact, early = subscribed(), subscribed()
    event = signed_up(capture, contact)
    assert pending() == set() and not Enrollment.objects.exists(), "the stale process ignored it"
    published = Journey.objects.get(pk=journey.pk).last_published_at
    Event.objects.filter(pk=event.pk).update(occurred_at=published + timedelta(seconds=2))
    before = signed_up(capture, early)  # before the publish: the journey was not live yet
    Event.objects.filter(pk=before.pk).update(occurred_at=published - timedelta(seconds=1))
    # In the outbox: its own dispatch is coming (redispatch_pending), not the catch-up's.
    queued = signed_up(capture, subscribed())
    Event.objects.filter(pk=queued.pk).update(occurred_at=published + timedelta(seconds=3))
    PendingDispatch.objects.create(event=queued, queued_at=published + timedelta(seconds=3))
    dispatch.forget_index()

    # Not while another process may still be storing them with a stale index.
    assert tick_at(capture, published + timedelta(seconds=3)).caught_up == 0
    report = tick_at(capture, published + timedelta(seconds=30))

    assert report.caught_up == 1
    assert tags(contact) == ["welcome"]
    assert not Enrollment.objects.filter(contact=early).exists()
    # A later tick looks again, and finds the contact enrolled.
    assert tick_at(capture, published + timedelta(minutes=1)).caught_up == 0
    assert Enrollment.objects.filter(contact=contact, journey=journey).count() == 1


def test_an_event_is_stored_with_its_outbox_row_when_the_journeys_cannot_be_read(
    django_capture_on_commit_callbacks, monkeypatch, caplog
):
    capture = django_capture_on_commit_callbacks
    welcome_journey()
    contact = subscribed()

    def broken():
        raise RuntimeError("a journey that cannot be loaded")

    monkeypatch.setattr(dispatch, "journey_index", broken)
    with caplog.at_level(logging.ERROR, logger="wagtail_journeys.journeys.dispatch"):
        event = signed_up(capture, contact)
    assert "Could not read the live journeys" in caplog.text
    assert pending() == {event.pk}, "kept for the tick, which dispatches it once it can"

    monkeypatch.undo()
    dispatch.forget_index()
    tick_at(capture, later(minutes=2))
    assert tags(contact) == ["welcome"]


# -- Lost tasks ---------------------------------------------------------------------------------


def test_a_lost_dispatch_task_enrolls_its_contact_at_a_later_tick_once(
    django_capture_on_commit_callbacks, broker
):
    capture = django_capture_on_commit_callbacks
    journey = welcome_journey()
    contact = subscribed()
    event = signed_up(capture, contact)
    assert queued_tasks() == [(dispatch.DISPATCH_TASK, ([event.pk],))]
    assert pending() == {event.pk}

    # Redis restarts: the queued task is gone.
    OrmQ.objects.all().delete()
    tick_at(capture, later(seconds=30))
    assert not Enrollment.objects.filter(contact=contact).exists()
    assert pending() == {event.pk}, "within the grace period the task may still come"

    report = tick_at(capture, later(minutes=2))
    assert report.redispatched == 1
    enrollment = Enrollment.objects.get(contact=contact, journey=journey)
    assert enrollment.status == Status.COMPLETED
    assert tags(contact) == ["welcome"]
    assert pending() == set()

    assert tick_at(capture, later(minutes=10)).redispatched == 0
    assert Enrollment.objects.filter(contact=contact).count() == 1


def test_a_task_the_broker_refuses_is_dispatched_by_a_later_tick(
    django_capture_on_commit_callbacks, monkeypatch, caplog
):
    capture = django_capture_on_commit_callbacks
    welcome_journey()
    contact = subscribed()

    def broker_down(*args, **kwargs):
        raise ConnectionError("Redis is down")

    with monkeypatch.context() as patched:
        patched.setattr("django_q.tasks.async_task", broker_down)
        with caplog.at_level(logging.ERROR, logger="wagtail_journeys.journeys.dispatch"):
            event = signed_up(capture, contact)
    assert "Could not queue the dispatch" in caplog.text
    assert not Enrollment.objects.filter(contact=contact).exists()
    assert pending() == {event.pk}

    tick_at(capture, later(minutes=2))
    assert tags(contact) == ["welcome"]
    assert pending() == set()


def test_a_dispatch_that_crashes_before_commit_stays_pending(
    django_capture_on_commit_callbacks, monkeypatch
):
    # A worker killed mid-task, or its database connection dropped: nothing commits.
    capture = django_capture_on_commit_callbacks
    welcome_journey()
    contact = subscribed()
    with monkeypatch.context() as patched:
        patched.setattr(dispatch, "trigger_journeys", _crash)
        event = signed_up(capture, contact)
    assert not Enrollment.objects.filter(contact=contact).exists()
    assert pending() == {event.pk}

    tick_at(capture, later(minutes=2))
    assert tags(contact) == ["welcome"]
    assert pending() == set()


def _crash(*args, **kwargs):
    raise ConnectionError("server closed the connection unexpectedly")


def test_a_queued_retry_lost_again_is_queued_again_after_another_grace_period(
    django_capture_on_commit_callbacks, broker
):
    capture = django_capture_on_commit_callbacks
    welcome_journey()
    contact = subscribed()
    event = signed_up(capture, contact)
    OrmQ.objects.all().delete()
    start = timezone.now()

    assert tick(now=start + timedelta(seconds=61)).redispatched == 1
    assert queued_tasks() == [(dispatch.REDISPATCH_TASK, ([event.pk],))]
    assert PendingDispatch.objects.get().queued_at == start + timedelta(seconds=61)
    # The next ticks leave it to its task for another grace period.
    assert tick(now=start + timedelta(seconds=100)).redispatched == 0
    OrmQ.objects.all().delete()  # lost again
    assert tick(now=start + timedelta(seconds=125)).redispatched == 1

    run_queued(broker)
    assert tags(contact) == ["welcome"]
    assert pending() == set()


def test_a_slow_task_and_its_retry_enroll_once(django_capture_on_commit_callbacks, broker):
    # The first task waited behind a backlog longer than the grace period: both run.
    capture = django_capture_on_commit_callbacks
    journey = welcome_journey()
    contact = subscribed()
    event = signed_up(capture, contact)
    tick(now=later(minutes=2))
    assert [func for func, _args in queued_tasks()] == [
        dispatch.DISPATCH_TASK,
        dispatch.REDISPATCH_TASK,
    ]

    first, retry = run_queued(broker)
    assert first["entered"] == 1
    assert retry == {"entered": 0, "steps": 0, "undispatched": 0}
    assert Enrollment.objects.filter(contact=contact, journey=journey).count() == 1
    assert pending() == set()
    # Run in the other order, the retry enrolls and the first task finds the entry taken.
    assert dispatch_events([event.pk])["entered"] == 0


def test_the_grace_period_is_a_setting(django_capture_on_commit_callbacks, broker, settings):
    capture = django_capture_on_commit_callbacks
    settings.WAGTAIL_JOURNEYS = {**settings.WAGTAIL_JOURNEYS, "DISPATCH_RETRY_SECONDS": 600}
    welcome_journey()
    contact = subscribed()
    signed_up(capture, contact)
    OrmQ.objects.all().delete()
    tick_at(capture, later(minutes=9))
    assert tags(contact) == []
    tick_at(capture, later(minutes=11))
    assert tags(contact) == ["welcome"]


def test_one_event_that_cannot_be_dispatched_does_not_hold_back_the_others(
    django_capture_on_commit_callbacks, broker, monkeypatch
):
    capture = django_capture_on_commit_callbacks
    welcome_journey()
    contacts = [subscribed() for _ in range(3)]
    events = [signed_up(capture, contact) for contact in contacts]
    OrmQ.objects.all().delete()
    real = dispatch.trigger_journeys

    def fails_for_the_second(event, *args, **kwargs):
        if event.pk == events[1].pk:
            raise ValueError("a bad event")
        return real(event, *args, **kwargs)

    monkeypatch.setattr(dispatch, "trigger_journeys", fails_for_the_second)
    report = dispatch_events([event.pk for event in events], pending_only=True)
    assert report["entered"] == 2
    assert report["undispatched"] == 1
    assert [tags(contact) for contact in contacts] == [["welcome"], [], ["welcome"]]
    assert pending() == {events[1].pk}


# -- What stays in the outbox -------------------------------------------------------------------


def test_a_dispatched_event_leaves_no_row_and_others_never_get_one(
    django_capture_on_commit_callbacks,
):
    capture = django_capture_on_commit_callbacks
    welcome_journey()
    contact = subscribed()
    fire(capture, contact, "signed_up")
    fire(capture, contact, "page_viewed")
    assert tags(contact) == ["welcome"]
    assert PendingDispatch.objects.count() == 0

    # Written with the event, before its transaction commits.
    with transaction.atomic():
        event = track(contact, "signed_up")
        other = track(contact, "page_viewed")
        assert pending() == {event.pk}
    assert other.pk not in pending()


def test_a_rolled_back_event_leaves_no_row():
    welcome_journey()
    contact = subscribed()
    with pytest.raises(RuntimeError), transaction.atomic():
        track(contact, "signed_up")
        raise RuntimeError("the view failed")
    assert PendingDispatch.objects.count() == 0


def test_outside_a_transaction_an_event_and_its_row_are_stored_together(
    monkeypatch, django_assert_num_queries
):
    # The tracking endpoint runs without a transaction: a page view stays one INSERT, an
    # event a journey reacts to gets one, so that it is never stored without its row.
    welcome_journey()
    contact = subscribed()
    dispatch.journey_index()
    with django_assert_num_queries(1):
        track(contact, "page_viewed")
    with django_assert_num_queries(2):
        track(contact, "signed_up")
    opened = []
    real_atomic = transaction.atomic

    def atomic(*args, **kwargs):
        opened.append(args)
        return real_atomic(*args, **kwargs)

    def insert_fails(*args, **kwargs):
        raise DatabaseError("server closed the connection unexpectedly")

    monkeypatch.setattr(transaction, "get_autocommit", lambda using=None: True)
    monkeypatch.setattr(transaction, "atomic", atomic)
    track(contact, "page_viewed")
    assert opened == []
    monkeypatch.setattr(PendingDispatch.objects, "bulk_create", insert_fails)
    with pytest.raises(DatabaseError):
        track(contact, "signed_up")
    assert len(opened) == 1
    stored = Event.objects.filter(contact=contact).order_by("pk").values_list("name", flat=True)
    assert list(stored) == ["page_viewed", "signed_up", "page_viewed"]


def test_bulk_recorded_events_are_written_in_one_insert(django_capture_on_commit_callbacks):
    from wagtail_journeys.models import Segment
    from wagtail_journeys.segments import membership

    capture = django_capture_on_commit_callbacks
    vips = Segment.objects.create(name="VIPs", kind=Segment.Kind.STATIC)
    new_journey(
        "VIP welcome",
        trigger=block("segment", change="segment_entered", segment=vips.pk),
        steps=[block("tag", action="add", tag="vip")],
    )
    contacts = [subscribed() for _ in range(30)]
    with capture(execute=True), CaptureQueriesContext(connection) as queries:
        membership.add_members(vips, [contact.pk for contact in contacts])
        assert PendingDispatch.objects.count() == 30
    inserts = [
        query["sql"]
        for query in queries.captured_queries
        if query["sql"].startswith("INSERT") and PendingDispatch._meta.db_table in query["sql"]
    ]
    assert len(inserts) == 1
    assert PendingDispatch.objects.count() == 0
    assert all(tags(contact) == ["vip"] for contact in contacts)


def test_an_event_deleted_while_pending_is_cleared_by_the_tick(
    django_capture_on_commit_callbacks, broker
):
    # Retention or erasure deleted it; the row has no constraint to stop that.
    capture = django_capture_on_commit_callbacks
    welcome_journey()
    contact = subscribed()
    signed_up(capture, contact)
    OrmQ.objects.all().delete()
    Event.objects.filter(contact=contact).delete()
    assert PendingDispatch.objects.count() == 1
    tick_at(capture, later(minutes=2))
    assert PendingDispatch.objects.count() == 0


def test_erasure_removes_the_contacts_pending_events(django_capture_on_commit_callbacks, broker):
    from wagtail_journeys.gdpr import erase_contact

    capture = django_capture_on_commit_callbacks
    welcome_journey()
    contact, other = subscribed(), subscribed()
    signed_up(capture, contact)
    kept = signed_up(capture, other)
    erase_contact(contact)
    assert pending() == {kept.pk}


# -- Dispatching the same event twice -----------------------------------------------------------


def test_an_event_dispatched_twice_enrolls_once(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    journey = welcome_journey()
    contact = subscribed()
    event = signed_up(capture, contact)
    assert dispatch_events([event.pk]) == {"entered": 0, "steps": 0, "undispatched": 0}
    assert Enrollment.objects.filter(contact=contact, journey=journey).count() == 1
    assert tags(contact) == ["welcome"]


def test_a_goal_dispatched_twice_ends_the_enrollment_once(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    journey = new_journey(
        "Abandoned",
        trigger=block("event", event="cart_abandoned"),
        steps=[block("wait", hours=1), block("tag", action="add", tag="reminded")],
        goals=[block("event", event="order_completed", filters=[])],
    )
    contact = subscribed()
    fire(capture, contact, "cart_abandoned")
    fire(capture, contact, "order_completed")
    enrollment = Enrollment.objects.get(contact=contact, journey=journey)
    assert enrollment.status == Status.EXITED
    steps = trail(enrollment)
    order = Event.objects.get(contact=contact, name="order_completed")

    dispatch_events([order.pk])
    enrollment.refresh_from_db()
    assert enrollment.status == Status.EXITED
    assert trail(enrollment) == steps


def test_an_event_dispatched_twice_wakes_one_wait(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    journey = new_journey(
        "Two visits",
        trigger=block("event", event="signed_up"),
        steps=[
            _wait_for("visited", yes=[block("tag", action="add", tag="once")]),
            _wait_for("visited", yes=[block("tag", action="add", tag="twice")]),
        ],
    )
    contact = subscribed()
    fire(capture, contact, "signed_up")
    fire(capture, contact, "visited")
    assert tags(contact) == ["once"]
    visit = Event.objects.get(contact=contact, name="visited")

    dispatch_events([visit.pk])
    assert tags(contact) == ["once"]
    enrollment = Enrollment.objects.get(contact=contact, journey=journey)
    assert enrollment.status == Status.WAITING
    assert enrollment.current_step == journey.steps[1].id

    fire(capture, contact, "visited")
    assert tags(contact) == ["once", "twice"]


def _wait_for(event, yes):
    return block(
        "wait_until",
        wait_for="event",
        event=event,
        timeout_days=7,
        timeout_hours=0,
        yes=yes,
        no=[],
    )


def test_an_order_dispatched_twice_converts_once(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    template = email_template("Welcome", "Welcome")
    new_journey(
        "Welcome email",
        trigger=block("event", event="signed_up"),
        steps=[block("send_email", template=template.pk)],
        conversion_event="order_completed",
    )
    contact = subscribed()
    fire(capture, contact, "signed_up")
    assert Message.objects.get(contact=contact).status == Message.Status.SENT
    fire(capture, contact, "order_completed", total="20.00")
    order = Event.objects.get(contact=contact, name="order_completed")

    dispatch_events([order.pk])
    converted = MessageEvent.objects.filter(kind=MessageEvent.Kind.CONVERTED)
    assert converted.count() == 1
    from wagtail_journeys.analytics import reports

    assert reports.totals().converted == 1


# -- Checks -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("value", "check"), [(0, "E022"), ("60", "E013"), (-5, "E013")])
def test_the_grace_period_must_be_a_whole_number_of_seconds(settings, value, check):
    from wagtail_journeys.checks import check_journey_settings, check_settings

    settings.WAGTAIL_JOURNEYS = {"DISPATCH_RETRY_SECONDS": value}
    ids = {error.id for error in check_settings(None) + check_journey_settings(None)}
    assert f"wagtail_journeys.{check}" in ids


# -- Several ticks at once (PostgreSQL) ---------------------------------------------------------


def _in_threads(*functions):
    results, errors = [None] * len(functions), []

    def work(index, function):
        try:
            results[index] = function()
        except BaseException as error:  # reported by the test, not lost in the thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=work, args=item) for item in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads), "a thread hangs"
    if errors:
        raise errors[0]
    return results


def _lost_events(count):
    """``count`` contacts whose ``signed_up`` event is in the outbox, its task lost."""
    contacts = [subscribed() for _ in range(count)]
    Event.objects.bulk_create(Event(contact=contact, name="signed_up") for contact in contacts)
    queued = timezone.now() - timedelta(minutes=5)
    PendingDispatch.objects.bulk_create(
        PendingDispatch(event=event, queued_at=queued)
        for event in Event.objects.filter(name="signed_up")
    )
    return contacts


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_ticks_dispatch_each_pending_event_once():
    journey = welcome_journey()
    contacts = _lost_events(250)
    now = timezone.now()

    counts = _in_threads(*[lambda: redispatch_pending(now, inline=True)] * 4)

    assert sum(counts) == 250, "a pending event was dispatched by two ticks"
    assert Enrollment.objects.filter(journey=journey).count() == 250
    assert Enrollment.objects.filter(journey=journey, status=Status.COMPLETED).count() == 250
    assert {tuple(tags(contact)) for contact in contacts} == {("welcome",)}
    assert PendingDispatch.objects.count() == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_tick_skips_events_a_dispatch_is_handling():
    journey = welcome_journey()
    _lost_events(1)
    (event_id,) = pending()
    taken, swept = threading.Event(), threading.Event()

    def slow_dispatch():
        # A dispatch that holds the event, then dies before committing.
        with transaction.atomic():
            dispatch._take_pending([event_id])
            taken.set()
            assert swept.wait(timeout=15)
            time.sleep(0.2)
            transaction.set_rollback(True)

    def sweep():
        assert taken.wait(timeout=15)
        try:
            return redispatch_pending(timezone.now(), inline=True)
        finally:
            swept.set()

    _held, swept_count = _in_threads(slow_dispatch, sweep)
    assert swept_count == 0, "the tick took an event a dispatch was handling"
    assert not Enrollment.objects.filter(journey=journey).exists()
    assert pending() == {event_id}, "the crashed dispatch left the event pending"
    assert redispatch_pending(timezone.now(), inline=True) == 1
    assert Enrollment.objects.filter(journey=journey).count() == 1
