"""Journeys run by themselves: triggers, steps, waits, goals, re-entry, failures."""

from datetime import timedelta

import pytest
from django.core import mail

from tests.journey_helpers import (
    email_template,
    enrollment_of,
    fire,
    later,
    subjects,
    subscribed,
    tick_at,
    trail,
)
from wagtail_journeys.journeys.building import block, new_journey
from wagtail_journeys.models import Enrollment, Message

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("journeys_mail")]


def test_send_wait_send(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    welcome = email_template("Welcome", "Welcome {{ contact.first_name }}")
    story = email_template("Story", "Our story")
    journey = new_journey(
        "Welcome series",
        trigger=block("event", event="contact_subscribed"),
        steps=[
            block("send_email", template=welcome.pk),
            block("wait", days=1),
            block("send_email", template=story.pk),
        ],
    )
    contact = subscribed(first_name="Ada")
    fire(capture, contact, "contact_subscribed")
    enrollment = enrollment_of(contact, journey)
    assert enrollment.status == Enrollment.Status.WAITING
    assert len(mail.outbox) == 1
    assert mail.outbox[0].subject == "Welcome Ada"

    tick_at(capture, later(hours=23))
    assert len(mail.outbox) == 1
    tick_at(capture, later(days=1, minutes=1))
    assert len(mail.outbox) == 2
    assert subjects(contact) == ["Welcome Ada", "Our story"]
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.COMPLETED
    assert [step for step, *_ in trail(enrollment)] == [
        "",
        "send_email",
        "wait",
        "wait",
        "send_email",
        "",
    ]
    assert Message.objects.filter(enrollment=enrollment).count() == 2


# -- Triggers --------------------------------------------------------------------------------


def _tag_journey(name, trigger, **fields):
    return new_journey(
        name, trigger=trigger, steps=[block("tag", action="add", tag=name)], **fields
    )


def _tags(contact):
    return sorted(contact.tags.names())


def test_event_trigger_with_property_filter_and_frequency(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    _tag_journey(
        "pricing",
        block(
            "event",
            event="page_time",
            filters=[{"key": "path", "operator": "equals", "value": "/pricing/"}],
            times=3,
            within_days=7,
        ),
    )
    contact = subscribed()
    fire(capture, contact, "page_time", path="/pricing/")
    fire(capture, contact, "page_time", path="/other/")
    fire(capture, contact, "page_time", path="/pricing/")
    assert _tags(contact) == []
    fire(capture, contact, "page_time", path="/pricing/")
    assert _tags(contact) == ["pricing"]


def test_frequency_window_excludes_old_events(django_capture_on_commit_callbacks):
    from wagtail_journeys.models import Event

    capture = django_capture_on_commit_callbacks
    _tag_journey("twice", block("event", event="product_viewed", times=2, within_days=7))
    contact = subscribed()
    Event.objects.create(contact=contact, name="product_viewed", occurred_at=later(days=-8))
    fire(capture, contact, "product_viewed")
    assert _tags(contact) == []
    fire(capture, contact, "product_viewed")
    assert _tags(contact) == ["twice"]


def test_email_click_trigger_filters_template_and_link(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    template = email_template()
    other = email_template("Other")
    _tag_journey(
        "clicked-sale",
        block("email", action="clicked", template=template.pk, link_contains="/sale/"),
    )
    contact = subscribed()
    fire(capture, contact, "email_clicked", template_id=other.pk, url="https://x.example/sale/")
    fire(capture, contact, "email_clicked", template_id=template.pk, url="https://x.example/faq/")
    assert _tags(contact) == []
    fire(capture, contact, "email_clicked", template_id=template.pk, url="https://x.example/sale/")
    assert _tags(contact) == ["clicked-sale"]


def test_segment_entered_trigger(django_capture_on_commit_callbacks):
    from wagtail_journeys.models import Segment
    from wagtail_journeys.segments import membership

    capture = django_capture_on_commit_callbacks
    vips = Segment.objects.create(name="VIPs", kind=Segment.Kind.STATIC)
    others = Segment.objects.create(name="Others", kind=Segment.Kind.STATIC)
    _tag_journey("vip-welcome", block("segment", change="segment_entered", segment=vips.pk))
    contact = subscribed()
    with capture(execute=True):
        membership.add_members(others, [contact.pk])
    assert _tags(contact) == []
    with capture(execute=True):
        membership.add_members(vips, [contact.pk])
    assert _tags(contact) == ["vip-welcome"]


def test_form_trigger_names_the_form(django_capture_on_commit_callbacks, home):
    from wagtail_journeys.models import Event

    capture = django_capture_on_commit_callbacks
    _tag_journey("contact-form", block("form", form=home.pk))
    contact = subscribed()
    with capture(execute=True):
        Event.objects.create(contact=contact, name="form_submitted")  # no dispatch: not recorded
        from wagtail_journeys.tracking.events import record_event

        record_event(contact, "form_submitted", {}, page=None)
    assert _tags(contact) == []
    with capture(execute=True):
        record_event(contact, "form_submitted", {}, page=home)
    assert _tags(contact) == ["contact-form"]


def test_manual_trigger_and_enroll_api(django_capture_on_commit_callbacks):
    from wagtail_journeys import enroll

    capture = django_capture_on_commit_callbacks
    journey = _tag_journey("manual", block("manual"))
    contact = subscribed()
    fire(capture, contact, "contact_subscribed")
    assert _tags(contact) == []
    with capture(execute=True):
        enrollment = enroll(contact, journey, context={"reason": "vip"})
    assert enrollment.status == Enrollment.Status.COMPLETED
    assert enrollment.context == {"reason": "vip"}
    assert _tags(contact) == ["manual"]
    # Not while in it is the default; once completed, they may enter again.
    assert enroll(contact, journey) is not None


def test_paused_and_unpublished_journeys_take_nobody(django_capture_on_commit_callbacks):
    from wagtail_journeys.journeys import lifecycle

    capture = django_capture_on_commit_callbacks
    journey = _tag_journey("paused", block("event", event="signed_up"))
    lifecycle.pause(journey)
    contact = subscribed()
    fire(capture, contact, "signed_up")
    assert _tags(contact) == []
    lifecycle.resume(journey)
    fire(capture, contact, "signed_up")
    assert _tags(contact) == ["paused"]
    draft = new_journey(
        "draft", trigger=block("event", event="drafted"), steps=[block("exit")], publish=False
    )
    fire(capture, contact, "drafted")
    assert not Enrollment.objects.filter(journey=draft).exists()


# -- Entry rules and re-entry ----------------------------------------------------------------


def test_entry_rules_use_the_segment_engine(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    _tag_journey(
        "vip-only",
        block("event", event="visited"),
        entry_rules=[block("tag", has=True, tag="vip")],
    )
    plain, vip = subscribed(), subscribed()
    vip.tags.add("vip")
    fire(capture, plain, "visited")
    fire(capture, vip, "visited")
    assert _tags(plain) == []
    assert "vip-only" in _tags(vip)


@pytest.mark.parametrize(
    ("policy", "days", "expected"),
    [("once", None, 1), ("every_time", None, 3), ("not_while_active", None, 2)],
)
def test_reentry_policies(django_capture_on_commit_callbacks, policy, days, expected):
    capture = django_capture_on_commit_callbacks
    journey = new_journey(
        f"re-entry {policy}",
        trigger=block("event", event="poked"),
        steps=[block("wait", hours=1)],
        reentry=policy,
        reentry_days=days,
    )
    contact = subscribed()
    fire(capture, contact, "poked")
    fire(capture, contact, "poked")  # while the first is waiting
    tick_at(capture, later(hours=2))  # the first completes
    fire(capture, contact, "poked")
    assert Enrollment.objects.filter(journey=journey, contact=contact).count() == expected


def test_reentry_once_per_days(django_capture_on_commit_callbacks):
    from wagtail_journeys.models import Event

    capture = django_capture_on_commit_callbacks
    journey = new_journey(
        "weekly",
        trigger=block("event", event="poked"),
        steps=[block("tag", action="add", tag="poked")],
        reentry="once_per_days",
        reentry_days=7,
    )
    contact = subscribed()
    fire(capture, contact, "poked")
    fire(capture, contact, "poked")
    assert Enrollment.objects.filter(journey=journey).count() == 1
    Enrollment.objects.filter(journey=journey).update(entered_at=later(days=-8))
    fire(capture, contact, "poked")
    assert Enrollment.objects.filter(journey=journey).count() == 2
    assert Event.objects.filter(name="poked").count() == 3


def test_same_event_dispatched_twice_enrolls_once(django_capture_on_commit_callbacks):
    from wagtail_journeys.journeys.dispatch import dispatch_event

    capture = django_capture_on_commit_callbacks
    journey = new_journey(
        "every time",
        trigger=block("event", event="poked"),
        steps=[block("wait", days=1)],
        reentry="every_time",
    )
    contact = subscribed()
    event = fire(capture, contact, "poked")
    dispatch_event(event.pk)
    assert Enrollment.objects.filter(journey=journey).count() == 1


# -- Steps and branches ----------------------------------------------------------------------


def test_condition_branches(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    new_journey(
        "split",
        trigger=block("event", event="go"),
        steps=[
            block(
                "condition",
                rules=[block("tag", has=True, tag="vip")],
                yes=[block("tag", action="add", tag="yes")],
                no=[block("tag", action="add", tag="no")],
            ),
            block("tag", action="add", tag="after"),
        ],
    )
    vip, plain = subscribed(), subscribed()
    vip.tags.add("vip")
    fire(capture, vip, "go")
    fire(capture, plain, "go")
    assert _tags(vip) == ["after", "vip", "yes"]
    assert _tags(plain) == ["after", "no"]


def test_branches_nest_four_deep(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    always = [block("status", statuses=["subscribed"])]

    def nested(level):
        if level == 0:
            return [block("tag", action="add", tag="deepest")]
        return [block("condition", rules=always, yes=nested(level - 1), no=[])]

    new_journey("deep", trigger=block("event", event="go"), steps=nested(4))
    contact = subscribed()
    fire(capture, contact, "go")
    assert _tags(contact) == ["deepest"]


def test_ab_split_is_weighted_and_fixed_per_contact(django_capture_on_commit_callbacks):
    from wagtail_journeys.journeys.building import variant

    capture = django_capture_on_commit_callbacks
    journey = new_journey(
        "ab",
        trigger=block("event", event="go"),
        steps=[
            block(
                "ab_split",
                variants=[
                    variant("A", [block("tag", action="add", tag="A")], weight=80),
                    variant("B", [block("tag", action="add", tag="B")], weight=20),
                ],
            )
        ],
        reentry="every_time",
    )
    contacts = [subscribed() for _ in range(60)]
    for contact in contacts:
        fire(capture, contact, "go")
    chosen = {contact.pk: _tags(contact) for contact in contacts}
    a_count = sum(tags == ["A"] for tags in chosen.values())
    assert all(tags in (["A"], ["B"]) for tags in chosen.values())
    assert 36 <= a_count <= 58  # 80% of 60 = 48, give or take
    # The same contact always takes the same variant.
    for contact in contacts[:10]:
        fire(capture, contact, "go")
        assert _tags(contact) == chosen[contact.pk]
    assert Enrollment.objects.filter(journey=journey).count() == 70


def test_send_email_variants_and_suppression(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    template = email_template("Offer", "Offer A")
    journey = new_journey(
        "variants",
        trigger=block("event", event="go"),
        steps=[block("send_email", template=template.pk, variants=[{"subject": "Offer B"}])],
        reentry="every_time",
    )
    contacts = [subscribed() for _ in range(20)]
    for contact in contacts:
        fire(capture, contact, "go")
    sent = set(Message.objects.values_list("subject", "variant"))
    assert sent == {("Offer A", "A"), ("Offer B", "B")}
    gone = subscribed()
    gone.status = "unsubscribed"
    gone.save()
    fire(capture, gone, "go")
    run = trail(Enrollment.objects.get(journey=journey, contact=gone))
    assert ("send_email", "skipped", "") in run
    assert Message.objects.get(contact=gone).status == Message.Status.SUPPRESSED


def test_update_field_tag_and_static_segment_steps(django_capture_on_commit_callbacks):
    from wagtail_journeys.models import Segment, SegmentMembership

    capture = django_capture_on_commit_callbacks
    retarget = Segment.objects.create(name="Retarget", kind=Segment.Kind.STATIC)
    new_journey(
        "changes",
        trigger=block("event", event="go"),
        steps=[
            block("update_field", field="custom", custom_field="score", value="42"),
            block("update_field", field="first_name", value="Grace"),
            block("segment", action="add", segment=retarget.pk),
            block("tag", action="add", tag="seen"),
            block("tag", action="remove", tag="new"),
        ],
    )
    contact = subscribed(first_name="Ada")
    contact.tags.add("new")
    fire(capture, contact, "go")
    contact.refresh_from_db()
    assert contact.custom_fields["score"] == 42
    assert contact.first_name == "Grace"
    assert _tags(contact) == ["seen"]
    assert SegmentMembership.objects.filter(segment=retarget, contact=contact).exists()


def test_unsubscribe_step(django_capture_on_commit_callbacks):
    from wagtail_journeys.models import ConsentRecord

    capture = django_capture_on_commit_callbacks
    new_journey(
        "bye",
        trigger=block("event", event="go"),
        steps=[block("update_field", field="unsubscribe")],
    )
    contact = subscribed()
    fire(capture, contact, "go")
    contact.refresh_from_db()
    assert contact.status == "unsubscribed"
    assert ConsentRecord.objects.get(contact=contact).method == "journey"


def test_exit_step_ends_the_journey(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    journey = new_journey(
        "exit",
        trigger=block("event", event="go"),
        steps=[block("exit"), block("tag", action="add", tag="never")],
    )
    contact = subscribed()
    fire(capture, contact, "go")
    enrollment = enrollment_of(contact, journey)
    assert enrollment.status == Enrollment.Status.EXITED
    assert _tags(contact) == []


# -- Waits ------------------------------------------------------------------------------------


def test_wait_until_time_of_day_in_contact_timezone():
    from datetime import UTC, datetime, time

    from wagtail_journeys.journeys.timing import resolve_wait
    from wagtail_journeys.models import Contact

    contact = Contact(timezone="America/New_York")
    start = datetime(2026, 11, 27, 20, 0, tzinfo=UTC)  # Friday 15:00 in New York
    # One hour, then 09:00 New York time on a weekday: Monday 09:00 EST = 14:00 UTC.
    end = resolve_wait(contact, start, delay=timedelta(hours=1), at=time(9), weekdays=["0", "1"])
    assert end == datetime(2026, 11, 30, 14, 0, tzinfo=UTC)
    same_day = resolve_wait(contact, start, delay=timedelta(), at=time(16))
    assert same_day == datetime(2026, 11, 27, 21, 0, tzinfo=UTC)


def test_wait_until_event_yes_and_timeout_no(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    journey = new_journey(
        "await order",
        trigger=block("event", event="cart_abandoned"),
        steps=[
            block(
                "wait_until",
                wait_for="event",
                event="order_completed",
                timeout_days=1,
                timeout_hours=0,
                yes=[block("tag", action="add", tag="bought")],
                no=[block("tag", action="add", tag="lost")],
            )
        ],
    )
    buyer, loser = subscribed(), subscribed()
    fire(capture, buyer, "cart_abandoned")
    fire(capture, loser, "cart_abandoned")
    fire(capture, buyer, "order_completed")
    assert _tags(buyer) == ["bought"]
    assert enrollment_of(buyer, journey).status == Enrollment.Status.COMPLETED
    tick_at(capture, later(hours=23))
    assert _tags(loser) == []
    tick_at(capture, later(days=1, minutes=1))
    assert _tags(loser) == ["lost"]


def test_wait_until_condition_checked_on_resume(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    new_journey(
        "await vip",
        trigger=block("event", event="go"),
        steps=[
            block(
                "wait_until",
                wait_for="condition",
                rules=[block("tag", has=True, tag="vip")],
                timeout_days=2,
                timeout_hours=0,
                yes=[block("tag", action="add", tag="became-vip")],
                no=[],
            )
        ],
    )
    contact = subscribed()
    fire(capture, contact, "go")
    contact.tags.add("vip")
    tick_at(capture, later(hours=1, minutes=1))
    assert "became-vip" in _tags(contact)


# -- Goals ----------------------------------------------------------------------------------------


def test_exit_goal_mid_wait_ends_at_once(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    reminder = email_template("Reminder", "You left something")
    journey = new_journey(
        "abandoned",
        trigger=block("event", event="cart_abandoned"),
        steps=[block("wait", hours=1), block("send_email", template=reminder.pk)],
        goals=[block("event", event="order_completed", filters=[])],
    )
    contact = subscribed()
    fire(capture, contact, "cart_abandoned")
    fire(capture, contact, "order_completed")
    enrollment = enrollment_of(contact, journey)
    assert enrollment.status == Enrollment.Status.EXITED
    assert enrollment.next_run_at is None
    assert "order_completed" in enrollment.exit_reason
    tick_at(capture, later(hours=2))
    assert not Message.objects.filter(contact=contact).exists()
    assert trail(enrollment)[-1][1] == "goal"


def test_condition_goal_checked_before_every_step(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    journey = new_journey(
        "until vip",
        trigger=block("event", event="go"),
        steps=[block("wait", hours=1), block("tag", action="add", tag="nudged")],
        goals=[block("condition", match="all", rules=[block("tag", has=True, tag="vip")])],
    )
    contact = subscribed()
    fire(capture, contact, "go")
    contact.tags.add("vip")
    tick_at(capture, later(hours=2))
    assert "nudged" not in _tags(contact)
    assert enrollment_of(contact, journey).status == Enrollment.Status.EXITED


# -- Validation -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("steps", "fragment"),
    [
        ([block("wait")], "duration"),
        ([block("wait_until", wait_for="event", event="Bad Name", timeout_days=1)], "event"),
        ([block("wait_until", wait_for="event", event="ok", timeout_days=0, timeout_hours=0)], ""),
        ([block("update_field", field="custom", custom_field="bad key!", value="1")], ""),
        ([block("update_field", field="timezone", value="Mars/Olympus")], "timezone"),
        ([block("ab_split", variants=[])], ""),
    ],
)
def test_invalid_steps_are_refused_at_save(steps, fragment):
    from django.core.exceptions import ValidationError

    with pytest.raises(ValidationError) as caught:
        new_journey("bad", trigger=block("event", event="go"), steps=steps)
    assert "steps" in caught.value.message_dict
    assert fragment in str(caught.value).lower()


def test_dynamic_segment_refused_in_segment_step():
    from django.core.exceptions import ValidationError

    from wagtail_journeys.models import Segment

    dynamic = Segment.objects.create(
        name="Dyn", kind=Segment.Kind.DYNAMIC, rules=[block("tag", has=True, tag="x")]
    )
    with pytest.raises(ValidationError, match="static"):
        new_journey(
            "bad segment",
            trigger=block("event", event="go"),
            steps=[block("segment", action="add", segment=dynamic.pk)],
        )


# -- Failures ----------------------------------------------------------------------------------


def test_a_deleted_template_fails_the_step_not_the_journey(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    template = email_template()
    journey = new_journey(
        "orphan",
        trigger=block("event", event="go"),
        steps=[block("send_email", template=template.pk), block("tag", action="add", tag="on")],
    )
    template.delete()
    contact = subscribed()
    fire(capture, contact, "go")
    assert ("send_email", "failed", "") in trail(enrollment_of(contact, journey))
    assert _tags(contact) == ["on"]


def test_page_visit_trigger_by_page_and_path(django_capture_on_commit_callbacks, home):
    from wagtail_journeys.tracking.events import record_event

    capture = django_capture_on_commit_callbacks
    _tag_journey("home-twice", block("page_visit", page=home.pk, times=2, within_days=7))
    _tag_journey("blog", block("page_visit", path_prefix="/blog/"))
    contact = subscribed()
    with capture(execute=True):
        record_event(contact, "page_viewed", page=home, path="/")
        record_event(contact, "page_viewed", path="/shop/")
    assert _tags(contact) == []
    with capture(execute=True):
        record_event(contact, "page_viewed", page=home, path="/")
        record_event(contact, "page_viewed", path="/blog/hello/")
    assert _tags(contact) == ["blog", "home-twice"]


def test_segment_step_removes_from_a_static_segment(django_capture_on_commit_callbacks):
    from wagtail_journeys.models import Event, Segment, SegmentMembership
    from wagtail_journeys.segments import membership

    capture = django_capture_on_commit_callbacks
    prospects = Segment.objects.create(name="Prospects", kind=Segment.Kind.STATIC)
    new_journey(
        "graduate",
        trigger=block("event", event="order_completed"),
        steps=[block("segment", action="remove", segment=prospects.pk)],
    )
    contact = subscribed()
    with capture(execute=True):
        membership.add_members(prospects, [contact.pk])
    fire(capture, contact, "order_completed")
    assert not SegmentMembership.objects.filter(segment=prospects).exists()
    assert Event.objects.filter(contact=contact, name="segment_exited").count() == 1
    prospects.refresh_from_db()
    assert prospects.member_count == 0
