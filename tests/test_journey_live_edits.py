"""Editing a live journey: waiting contacts move by step id; the simulator equals a real run."""

from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from tests.journey_helpers import (
    email_template,
    enrollment_of,
    fire,
    later,
    subscribed,
    tick_at,
    trail,
)
from wagtail_journeys.journeys.building import block, new_journey
from wagtail_journeys.journeys.live_edits import removed_steps
from wagtail_journeys.journeys.simulator import SimulatedEvent, simulate
from wagtail_journeys.models import Enrollment, Journey, StepRun
from wagtail_journeys.tracking.events import record_event

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("journeys_mail")]


def _publish(journey: Journey, steps) -> None:
    journey.steps = steps
    journey.save_revision(log_action=False).publish(log_action=False)


def _raw(journey):
    return list(journey.steps.raw_data)


def test_live_edit_keeps_moves_and_exits_waiting_contacts(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    first_wait = block("wait", days=1)
    second_wait = block("wait", days=2)
    kept_tag = block("tag", action="add", tag="kept")
    journey = new_journey(
        "editable",
        trigger=block("event", event="go"),
        steps=[first_wait, kept_tag, second_wait, block("tag", action="add", tag="end")],
    )
    at_first, at_second = subscribed(), subscribed()
    fire(capture, at_first, "go")
    fire(capture, at_second, "go")
    tick_at(capture, later(days=1, minutes=1))  # both move on to the second wait
    fire(capture, at_first, "go")  # not while in it: stays where it is
    Enrollment.objects.filter(contact=at_first).update(current_step=first_wait["id"])

    # The new version drops the first wait and adds a step at the end.
    new_steps = [kept_tag, second_wait, block("tag", action="add", tag="new-end")]
    journey.refresh_from_db()
    assert [(step.step_id, step.contacts) for step in removed_steps(journey, new_steps)] == [
        (first_wait["id"], 1)
    ]
    _publish(journey, new_steps)
    journey.refresh_from_db()

    moved = enrollment_of(at_first, journey)
    assert moved.current_step == kept_tag["id"]
    assert moved.revision_id == journey.live_revision_id
    assert StepRun.objects.filter(enrollment=moved, result="moved").count() == 1
    stayed = enrollment_of(at_second, journey)
    assert stayed.current_step == second_wait["id"]
    assert stayed.revision_id == journey.live_revision_id
    # The moved contact runs the next surviving step at once; the other keeps its wait.
    tick_at(capture, later(minutes=1))
    assert "kept" in at_first.tags.names()
    tick_at(capture, later(days=3, minutes=2))
    tick_at(capture, later(days=5))
    assert sorted(at_second.tags.names()) == ["kept", "new-end"]


def test_live_edit_exits_contacts_when_nothing_after_survives(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    wait = block("wait", days=1)
    journey = new_journey(
        "shrinking", trigger=block("event", event="go"), steps=[block("tag", tag="a"), wait]
    )
    contact = subscribed()
    fire(capture, contact, "go")
    journey.refresh_from_db()
    _publish(journey, [_raw(journey)[0]])
    enrollment = enrollment_of(contact, journey)
    assert enrollment.status == Enrollment.Status.EXITED
    assert enrollment.exit_reason == "Step removed by a live edit."
    assert enrollment.next_run_at is None


def _abandoned_cart_journey():
    reminder = email_template("Reminder", "You left something, {{ contact.first_name }}")
    discount = email_template("Discount", "10% off for you")
    return new_journey(
        "cart",
        trigger=block("event", event="cart_abandoned"),
        steps=[
            block("wait", hours=1),
            block("send_email", template=reminder.pk),
            block(
                "wait_until",
                wait_for="event",
                event="order_completed",
                timeout_days=1,
                timeout_hours=0,
                yes=[block("tag", action="add", tag="recovered")],
                no=[block("send_email", template=discount.pk)],
            ),
        ],
        goals=[block("event", event="refunded", filters=[])],
    )


@pytest.mark.parametrize("buys", [False, True])
def test_simulator_timeline_equals_the_real_run(django_capture_on_commit_callbacks, buys):
    capture = django_capture_on_commit_callbacks
    journey = _abandoned_cart_journey()
    start = timezone.now()
    contact = subscribed(first_name="Ada")
    events = [SimulatedEvent("order_completed", timedelta(hours=5))] if buys else []
    timeline = simulate(journey, contact=contact, events=events, draft=False, start=start)
    assert not Enrollment.objects.exists()  # nothing kept
    assert mail.outbox == []  # nothing sent

    fire(capture, contact, "cart_abandoned")
    tick_at(capture, start + timedelta(hours=1, minutes=1))
    if buys:
        # The order happens when the simulation said: five hours in.
        with capture(execute=True):
            record_event(contact, "order_completed", occurred_at=start + timedelta(hours=5))
    tick_at(capture, start + timedelta(days=1, hours=2))
    real = [
        (step, result, branch) for step, result, branch in trail(enrollment_of(contact, journey))
    ]
    simulated = [
        (entry.step_type, entry.result, entry.detail.get("branch_key", ""))
        for entry in timeline.entries
        if entry.result != "event"
    ]
    assert [(s, r) for s, r, _b in real[1:]] == [(s, r) for s, r, _b in simulated], (
        real,
        simulated,
    )
    subjects = [
        entry.detail.get("subject") for entry in timeline.entries if entry.step_type == "send_email"
    ]
    assert subjects[0] == "You left something, Ada"
    assert len(subjects) == (1 if buys else 2)
    assert len(mail.outbox) == len(subjects)
    branches = [entry.branch for entry in timeline.entries if entry.branch]
    assert branches == (["Yes"] if buys else ["No"])


def test_simulator_synthetic_contact_and_entry_rules():
    journey = new_journey(
        "vip",
        trigger=block("event", event="go"),
        steps=[block("wait", days=2), block("tag", action="add", tag="x")],
        entry_rules=[block("tag", has=True, tag="vip")],
    )
    refused = simulate(journey, fields={"first_name": "Bo"})
    assert not refused.entered
    assert "Entry rules" in refused.refusal
    timeline = simulate(journey, fields={"first_name": "Bo", "tags": ["vip"]})
    assert timeline.status == Enrollment.Status.COMPLETED
    wait = timeline.entries[0]
    assert wait.step_type == "wait" and wait.result == "waiting"
    assert timeline.entries[1].at - wait.at == timedelta(days=2)
    assert not Enrollment.objects.exists()


def test_simulate_command(capsys):
    from django.core.management import call_command

    _abandoned_cart_journey()
    call_command(
        "journeys_simulate",
        "cart",
        "--field",
        "first_name=Cy",
        "--event",
        "order_completed after 3h",
    )
    out = capsys.readouterr().out
    assert "You left something, Cy" in out
    assert "Ends: completed." in out
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="not a duration"):
        call_command("journeys_simulate", "cart", "--event", "order_completed after soon")
