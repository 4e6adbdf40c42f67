"""The execution guarantees of the journey engine (DESIGN.md, "Execution model").

No enrollment runs twice, however many ticks and workers run at once; a step
that crashes fails its own enrollment only; a retried step sends nothing
twice; a lost batch is taken up again once its lease ends; paused journeys
hold their contacts and archived ones let everybody go.

The concurrency tests need PostgreSQL (``FOR UPDATE SKIP LOCKED``) and real
commits, so they run in threads, each on its own connection, against a
``transaction=True`` database.
"""

import threading
import time
from datetime import timedelta

import pytest
from django.core import mail
from django.db import connections, transaction
from django.db.models import Count
from django.utils import timezone

from tests.journey_helpers import email_template, tick_at
from wagtail_journeys.conf import get_setting
from wagtail_journeys.journeys import lifecycle
from wagtail_journeys.journeys.building import block, new_journey
from wagtail_journeys.journeys.entry import try_enroll
from wagtail_journeys.journeys.interpreter import Runner
from wagtail_journeys.journeys.scheduler import claim_due, run_claimed, tick
from wagtail_journeys.journeys.steps import TagStepBlock
from wagtail_journeys.models import Contact, Enrollment, Journey, Message, StepRun

Status = Enrollment.Status
Result = StepRun.Result

#: When the contacts entered; their one-day wait ends a day later.
START = timezone.now().replace(microsecond=0) - timedelta(days=3)
DUE = START + timedelta(days=1, minutes=1)
#: Step runs of one trip through [wait, send_email, tag]: entered, waiting,
#: resumed, sent, done, completed.
RUNS_PER_TRIP = 6


@pytest.fixture(autouse=True)
def anymail(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    # Small batches, so concurrent ticks interleave over many claims.
    settings.WAGTAIL_JOURNEYS = {"BASE_URL": "https://shop.example.com", "TICK_BATCH_SIZE": 25}
    mail.outbox = []


def nurture(*steps):
    """A journey of ``steps``, by default: wait a day, send an email, tag the contact."""
    if not steps:
        template = email_template("Tips", "Tips for {{ contact.first_name }}")
        steps = (
            block("wait", days=1),
            block("send_email", template=template.pk),
            block("tag", tag="nurtured"),
        )
    return new_journey("Nurture", trigger=block("event", event="nurture_start"), steps=list(steps))


def two_emails():
    """Wait a day, send "First", wait a day, send "Second"."""
    first = email_template("First", "First")
    second = email_template("Second", "Second")
    return nurture(
        block("wait", days=1),
        block("send_email", template=first.pk),
        block("wait", days=1),
        block("send_email", template=second.pk),
    )


def assert_waiting_after_first_email(journey, count, *, due=DUE + timedelta(days=1)):
    """Each of the ``count`` contacts of ``two_emails()`` got "First" once, and waits."""
    assert sorted(message.subject for message in mail.outbox) == ["First"] * count
    assert Message.objects.filter(enrollment__journey=journey).count() == count
    enrollments = Enrollment.objects.filter(journey=journey)
    assert enrollments.count() == count
    for enrollment in enrollments:
        assert enrollment.status == Status.WAITING
        assert enrollment.current_step == step_id(journey, 2)
        assert enrollment.next_run_at == due


def waiting_contacts(journey, count):
    """``count`` contacts who entered ``journey`` at ``START`` and wait at its first step."""
    contacts = Contact.objects.bulk_create(
        Contact(
            email=f"reader{n}@example.com",
            first_name=f"Reader{n}",
            status=Contact.Status.SUBSCRIBED,
            consent={"email": True},
        )
        for n in range(count)
    )
    runner = Runner(now=START)
    with transaction.atomic():
        for contact in contacts:
            runner.run(try_enroll(journey, contact, now=START).enrollment)
        runner.flush()
    assert Enrollment.objects.filter(journey=journey, status=Status.WAITING).count() == count
    return contacts


def step_id(journey, index):
    return journey.steps[index].id


def run_ids(journey):
    return set(StepRun.objects.filter(journey=journey).values_list("pk", flat=True))


def recipients():
    return sorted(address for message in mail.outbox for address in message.to)


def in_threads(*functions):
    """Run each function in its own thread and connection, all released at once."""
    barrier = threading.Barrier(len(functions))
    results = [None] * len(functions)
    errors = []

    def work(index, function):
        try:
            barrier.wait(timeout=30)
            results[index] = function()
        except BaseException as error:  # reported by the test, not lost in the thread
            errors.append(error)
        finally:
            connections.close_all()

    threads = [
        threading.Thread(target=work, args=(index, function))
        for index, function in enumerate(functions)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads), "a worker hangs"
    if errors:
        raise errors[0]
    return results


def assert_each_ran_once(journey, contacts):
    """Every contact went through [wait, send_email, tag] once and only once."""
    enrollments = Enrollment.objects.filter(journey=journey)
    assert enrollments.count() == len(contacts)
    assert set(enrollments.values_list("status", flat=True)) == {Status.COMPLETED}
    assert enrollments.filter(error="").count() == len(contacts)

    messages = Message.objects.filter(enrollment__journey=journey)
    assert messages.count() == len(contacts)
    assert messages.values("contact").distinct().count() == len(contacts)

    runs = StepRun.objects.filter(journey=journey)
    assert runs.count() == RUNS_PER_TRIP * len(contacts)
    per_step = runs.values("enrollment", "step_id", "result").annotate(n=Count("pk"))
    assert [row for row in per_step if row["n"] > 1] == []
    assert runs.filter(step_type="send_email", result=Result.SENT).count() == len(contacts)
    assert runs.filter(step_type="tag", result=Result.DONE).count() == len(contacts)

    tagged = Contact.objects.filter(pk__in=[c.pk for c in contacts], tags__name="nurtured")
    assert tagged.count() == len(contacts)
    assert recipients() == sorted(contact.email for contact in contacts)


# -- Concurrency (PostgreSQL) -----------------------------------------------------------------


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_concurrent_ticks_run_each_enrollment_once():
    journey = nurture()
    contacts = waiting_contacts(journey, 300)

    reports = in_threads(*[lambda: tick(now=DUE, inline=True)] * 4)

    assert sum(report.claimed for report in reports) == 300
    assert sum(report.failed for report in reports) == 0
    left = Enrollment.objects.filter(journey=journey, status=Status.WAITING).count()
    assert left == 0, f"{left} claimed enrollments were not run but left to their lease"
    # The ticks really overlapped: more than one of them found work.
    assert sum(1 for report in reports if report.claimed) > 1
    assert_each_ran_once(journey, contacts)
    assert tick(now=DUE + timedelta(days=30), inline=True).claimed == 0


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_two_workers_given_the_same_batch_run_it_once():
    # django-q2 runs a task again when it outlives ``retry``: two workers, one batch.
    journey = nurture()
    contacts = waiting_contacts(journey, 120)
    ids, claim = claim_due(DUE, 500)
    assert len(ids) == 120

    runners = in_threads(
        lambda: run_claimed(ids, claim, now=DUE), lambda: run_claimed(ids, claim, now=DUE)
    )

    # Three steps (wait, send, tag) for each enrollment, between both workers.
    assert sum(runner.stats["steps"] for runner in runners) == 3 * 120
    assert_each_ran_once(journey, contacts)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_overlapping_claims_take_disjoint_rows_without_waiting():
    journey = nurture()
    waiting_contacts(journey, 100)
    first_claimed, second_done = threading.Event(), threading.Event()

    def first():
        with transaction.atomic():
            ids, _claim = claim_due(DUE, 60)
            first_claimed.set()
            # Keep the transaction (and its row locks) open until the other claim is done.
            second_done.wait(timeout=15)
            return ids, second_done.is_set()

    def second():
        assert first_claimed.wait(timeout=15)
        ids, _claim = claim_due(DUE, 60)
        second_done.set()
        return ids

    (first_ids, overlapped), second_ids = in_threads(first, second)

    assert overlapped, "the second claim waited for the first transaction to end"
    assert len(first_ids) == 60
    assert set(first_ids).isdisjoint(second_ids)
    all_ids = set(Enrollment.objects.filter(journey=journey).values_list("pk", flat=True))
    assert set(first_ids) | set(second_ids) == all_ids


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_a_batch_runs_its_rows_even_if_another_transaction_holds_one_briefly():
    # A claim scan that reached a row just after another tick claimed it keeps
    # that row locked until it commits (PostgreSQL locks, then re-checks), as
    # does a pause or a live edit updating it. The batch owning the row must
    # wait for that lock, not skip the row and leave it to the lease.
    journey = nurture()
    contacts = waiting_contacts(journey, 10)
    ids, claim = claim_due(DUE, 100)
    locked = threading.Event()

    def hold_one_row():
        with transaction.atomic():
            Enrollment.objects.select_for_update().get(pk=ids[0])
            locked.set()
            time.sleep(1)

    def run_batch():
        assert locked.wait(timeout=15)
        return run_claimed(ids, claim, now=DUE)

    _held, runner = in_threads(hold_one_row, run_batch)

    assert runner.stats["steps"] == 3 * 10
    assert_each_ran_once(journey, contacts)


# -- Failures -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_crashing_step_fails_only_its_enrollment(django_capture_on_commit_callbacks, monkeypatch):
    journey = nurture()
    contacts = waiting_contacts(journey, 5)
    victim = contacts[2]
    tag_run = TagStepBlock.run

    def flaky_tag(self, value, ctx):
        if ctx.contact.pk == victim.pk:
            raise RuntimeError("the tag store is down")
        return tag_run(self, value, ctx)

    monkeypatch.setattr(TagStepBlock, "run", flaky_tag)

    report = tick_at(django_capture_on_commit_callbacks, DUE)

    assert (report.claimed, report.batches, report.failed) == (5, 1, 1)
    failed = Enrollment.objects.get(journey=journey, contact=victim)
    assert failed.status == Status.FAILED
    assert "RuntimeError: the tag store is down" in failed.error
    assert failed.next_run_at is None
    failure = StepRun.objects.get(enrollment=failed, result=Result.FAILED)
    assert failure.step_id == step_id(journey, 2)
    assert "the tag store is down" in failure.reason
    # The email its send step queued went with the rolled-back savepoint.
    assert not Message.objects.filter(contact=victim).exists()
    assert list(
        StepRun.objects.filter(enrollment=failed).order_by("pk").values_list("result", flat=True)
    ) == [Result.ENTERED, Result.WAITING, Result.FAILED]

    others = [contact for contact in contacts if contact != victim]
    done = Enrollment.objects.filter(journey=journey, contact__in=others)
    assert set(done.values_list("status", flat=True)) == {Status.COMPLETED}
    assert Message.objects.filter(contact__in=others).count() == 4
    assert recipients() == sorted(contact.email for contact in others)
    assert not victim.tags.exists()
    # A failed enrollment is not picked up again.
    assert tick_at(django_capture_on_commit_callbacks, DUE + timedelta(days=5)).claimed == 0


@pytest.mark.django_db
def test_a_batch_run_twice_runs_once(django_capture_on_commit_callbacks):
    # A duplicated batch task (django-q2 runs a task again when it outlives
    # ``retry``) must neither send again nor cut short the wait that follows.
    journey = two_emails()
    waiting_contacts(journey, 3)
    ids, claim = claim_due(DUE, 100)

    with django_capture_on_commit_callbacks(execute=True):
        run_claimed(ids, claim, now=DUE)
    runs_after_first = run_ids(journey)
    with django_capture_on_commit_callbacks(execute=True):
        again = run_claimed(ids, claim, now=DUE)

    assert again.stats["steps"] == 0
    assert run_ids(journey) == runs_after_first
    assert_waiting_after_first_email(journey, 3)


@pytest.mark.django_db
def test_a_send_step_run_again_sends_nothing_twice(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    journey = nurture()
    (contact,) = waiting_contacts(journey, 1)
    tick_at(capture, DUE)
    enrollment = Enrollment.objects.get(journey=journey)
    message = Message.objects.get(enrollment=enrollment)
    assert message.status == Message.Status.SENT
    assert len(mail.outbox) == 1

    # Put the contact back in front of the send step, as a retry after a crash would.
    Enrollment.objects.filter(pk=enrollment.pk).update(
        status=Status.WAITING,
        current_step=step_id(journey, 1),
        state={},
        next_run_at=DUE + timedelta(hours=1),
        ended_at=None,
    )
    report = tick_at(capture, DUE + timedelta(hours=2))

    assert report.claimed == 1
    assert Message.objects.filter(contact=contact).count() == 1
    assert len(mail.outbox) == 1
    sends = StepRun.objects.filter(enrollment=enrollment, step_type="send_email")
    assert list(sends.values_list("message_id", flat=True)) == [message.pk, message.pk]
    enrollment.refresh_from_db()
    assert enrollment.status == Status.COMPLETED


@pytest.mark.django_db
def test_a_lost_batch_is_claimed_again_after_its_lease(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    journey = two_emails()
    waiting_contacts(journey, 5)
    lease = timedelta(seconds=int(get_setting("TICK_LEASE_SECONDS")))
    # A tick claims the batch and its task is lost: nothing runs it.
    lost_ids, lost_claim = claim_due(DUE, 100)
    assert len(lost_ids) == 5

    assert tick_at(capture, DUE + lease - timedelta(seconds=1)).claimed == 0
    assert mail.outbox == []
    report = tick_at(capture, DUE + lease + timedelta(seconds=1))
    assert (report.claimed, report.failed) == (5, 0)
    runs = run_ids(journey)

    # The lost task turns up at last: the rows carry another claim now.
    with capture(execute=True):
        stale = run_claimed(lost_ids, lost_claim, now=DUE + lease + timedelta(minutes=1))
    assert stale.stats["steps"] == 0
    assert run_ids(journey) == runs
    assert_waiting_after_first_email(journey, 5, due=DUE + lease + timedelta(days=1, seconds=1))


# -- Pause, resume, archive --------------------------------------------------------------------


@pytest.mark.django_db
def test_pause_holds_waiting_contacts_and_resume_continues_them(
    django_capture_on_commit_callbacks,
):
    capture = django_capture_on_commit_callbacks
    journey = nurture()
    contacts = waiting_contacts(journey, 3)

    assert lifecycle.pause(journey) == 3
    assert tick_at(capture, DUE + timedelta(days=2)).claimed == 0
    assert mail.outbox == []
    held = Enrollment.objects.filter(journey=journey)
    assert set(held.values_list("status", flat=True)) == {Status.WAITING}
    assert set(held.values_list("held_run_at", flat=True)) == {START + timedelta(days=1)}

    assert lifecycle.resume(journey) == 3
    report = tick_at(capture, DUE + timedelta(days=2))
    assert (report.claimed, report.failed) == (3, 0)
    assert_each_ran_once(journey, contacts)


@pytest.mark.django_db
def test_a_batch_claimed_before_a_pause_does_not_run_during_it(
    django_capture_on_commit_callbacks,
):
    capture = django_capture_on_commit_callbacks
    journey = nurture()
    contacts = waiting_contacts(journey, 3)
    ids, claim = claim_due(DUE, 100)
    lifecycle.pause(journey)

    with capture(execute=True):
        late = run_claimed(ids, claim, now=DUE)

    assert late.stats["steps"] == 0
    assert mail.outbox == []
    assert not Message.objects.filter(enrollment__journey=journey).exists()
    lifecycle.resume(journey)
    assert tick_at(capture, DUE + timedelta(days=1)).claimed == 3
    assert_each_ran_once(journey, contacts)


@pytest.mark.django_db
def test_archive_exits_everyone(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    journey = nurture()
    contacts = waiting_contacts(journey, 4)
    # One of them is in a batch a worker has not run yet.
    ids, claim = claim_due(DUE, 1)

    assert lifecycle.archive(journey) == 4

    with capture(execute=True):
        assert run_claimed(ids, claim, now=DUE).stats["steps"] == 0
    assert tick_at(capture, DUE + timedelta(days=2)).claimed == 0
    journey.refresh_from_db()
    assert (journey.state, journey.live) == (Journey.State.ARCHIVED, False)
    enrollments = Enrollment.objects.filter(journey=journey)
    assert set(enrollments.values_list("status", flat=True)) == {Status.EXITED}
    assert set(enrollments.values_list("next_run_at", flat=True)) == {None}
    assert StepRun.objects.filter(journey=journey, result=Result.EXITED).count() == len(contacts)
    assert mail.outbox == []
    assert not Message.objects.filter(enrollment__journey=journey).exists()
