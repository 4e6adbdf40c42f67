"""Events time makes: abandoned carts, inactivity, anniversaries; and journeys in segments."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from tests.journey_helpers import enrollment_of, fire, subscribed, tick_at
from wagtail_journeys.identity import merge_contacts
from wagtail_journeys.journeys.building import block, new_journey
from wagtail_journeys.journeys.detectors import detect_abandoned_carts
from wagtail_journeys.models import Cart, Contact, Enrollment, Event, Segment
from wagtail_journeys.segments.conditions import matches

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("journeys_mail")]


def _cart(contact, gadget, idle_minutes):
    cart = Cart.objects.create(contact=contact, currency="EUR")
    cart.add(gadget, quantity=2, price="9.50")
    Cart.objects.filter(pk=cart.pk).update(
        updated_at=timezone.now() - timedelta(minutes=idle_minutes)
    )
    return cart


def test_abandoned_cart_detected_once_and_starts_the_journey(
    gadget, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    journey = new_journey(
        "cart",
        trigger=block("event", event="cart_abandoned"),
        steps=[block("tag", action="add", tag="abandoned")],
        reentry="every_time",
    )
    known = subscribed()
    idle = _cart(known, gadget, idle_minutes=61)
    _cart(subscribed(), gadget, idle_minutes=30)  # not idle long enough
    _cart(Contact.objects.create(), gadget, idle_minutes=120)  # anonymous: nobody to email
    tick_at(capture, timezone.now())
    tick_at(capture, timezone.now())
    events = Event.objects.filter(name="cart_abandoned")
    assert [event.properties["cart_id"] for event in events] == [idle.pk]
    assert events[0].properties["total"] == 19.0
    idle.refresh_from_db()
    assert idle.status == Cart.Status.ABANDONED
    assert enrollment_of(known, journey).context["cart_id"] == idle.pk
    assert "abandoned" in known.tags.names()

    # The contact comes back: the cart reopens; left again, it is not reported twice.
    from django.test import RequestFactory

    from wagtail_journeys import get_cart
    from wagtail_journeys.tracking.visitors import Visitor

    request = RequestFactory().get("/")
    request.journeys = Visitor(request)
    request.journeys.set_contact(known)
    assert get_cart(request, create=False) == idle  # shown, not reopened
    assert get_cart(request) == idle
    idle.refresh_from_db()
    assert idle.status == Cart.Status.OPEN
    Cart.objects.filter(pk=idle.pk).update(updated_at=timezone.now() - timedelta(hours=3))
    assert detect_abandoned_carts(timezone.now()) == 0


def test_became_inactive_once_per_stretch(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    journey = new_journey(
        "win-back",
        trigger=block("inactive", days=90),
        steps=[block("tag", action="add", tag="asleep")],
        reentry="every_time",
    )
    now = timezone.now()
    asleep = subscribed()
    awake = subscribed()
    Contact.objects.filter(pk=asleep.pk).update(
        created_at=now - timedelta(days=400), last_seen_at=now - timedelta(days=100)
    )
    Contact.objects.filter(pk=awake.pk).update(
        created_at=now - timedelta(days=400), last_seen_at=now - timedelta(days=3)
    )
    tick_at(capture, now)
    tick_at(capture, now + timedelta(minutes=5))
    assert Event.objects.filter(name="became_inactive", contact=asleep).count() == 1
    assert not Event.objects.filter(contact=awake).exists()
    assert Enrollment.objects.filter(journey=journey).count() == 1
    # Seen again, then quiet for another 90 days: a new stretch.
    Contact.objects.filter(pk=asleep.pk).update(last_seen_at=now + timedelta(days=1))
    tick_at(capture, now + timedelta(days=92))
    assert Event.objects.filter(name="became_inactive", contact=asleep).count() == 2


def test_birthday_at_nine_in_the_contacts_timezone(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    journey = new_journey(
        "birthday",
        trigger=block("anniversary", field="birthday", time_of_day="09:00:00"),
        steps=[block("tag", action="add", tag="celebrated")],
        reentry="every_time",
    )
    tokyo = subscribed(timezone="Asia/Tokyo", custom_fields={"birthday": "1990-06-15"})
    paris = subscribed(timezone="Europe/Paris", custom_fields={"birthday": "1985-06-15"})
    subscribed(custom_fields={"birthday": "1985-06-16"})
    # 2026-06-15 01:00 UTC: 10:00 in Tokyo, 03:00 in Paris.
    tick_at(capture, datetime(2026, 6, 15, 1, 0, tzinfo=UTC))
    assert list(Enrollment.objects.values_list("contact_id", flat=True)) == [tokyo.pk]
    # 07:30 UTC is 09:30 in Paris; Tokyo is not enrolled twice.
    tick_at(capture, datetime(2026, 6, 15, 7, 30, tzinfo=UTC))
    tick_at(capture, datetime(2026, 6, 15, 8, 30, tzinfo=UTC))
    assert sorted(Enrollment.objects.values_list("contact_id", flat=True)) == sorted(
        [tokyo.pk, paris.pk]
    )
    assert enrollment_of(paris, journey).context["year"] == 2026


def test_journey_rule_in_segments_and_conditions(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    wait = block("wait", days=1)
    journey = new_journey(
        "onboarding", trigger=block("event", event="go"), steps=[block("tag", tag="a"), wait]
    )
    inside, outside = subscribed(), subscribed()
    fire(capture, inside, "go")
    in_now = [block("journey", journey=journey.pk, state="in_now")]
    reached = [block("journey", journey=journey.pk, state="ever", step=wait["id"])]
    assert matches("all", _rules(in_now), inside)
    assert not matches("all", _rules(in_now), outside)
    assert matches("all", _rules(reached), inside)
    segment = Segment(name="In onboarding", kind=Segment.Kind.DYNAMIC, rules=reached)
    segment.full_clean()
    bad = Segment(
        name="Bad step",
        kind=Segment.Kind.DYNAMIC,
        rules=[block("journey", journey=journey.pk, state="ever", step="no-such-step")],
    )
    with pytest.raises(Exception, match="rules"):
        bad.full_clean()


def _rules(raw):
    return Segment._meta.get_field("rules").to_python(raw)


def test_merging_contacts_moves_enrollments(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    journey = new_journey("wait", trigger=block("event", event="go"), steps=[block("wait", days=1)])
    anonymous = Contact.objects.create()
    known = subscribed()
    fire(capture, anonymous, "go")
    fire(capture, known, "go")
    merge_contacts(anonymous, known)
    rows = Enrollment.objects.filter(journey=journey, contact=known)
    assert rows.count() == 2
    assert sorted(rows.values_list("status", flat=True)) == ["exited", "waiting"]


def test_gdpr_export_includes_journeys(django_capture_on_commit_callbacks):
    from wagtail_journeys.gdpr import erase_contact, export_contact

    capture = django_capture_on_commit_callbacks
    new_journey("wait", trigger=block("event", event="go"), steps=[block("wait", days=1)])
    contact = subscribed()
    fire(capture, contact, "go")
    data = export_contact(contact)
    assert data["journeys"][0]["journey_name"] == "wait"
    assert [step["result"] for step in data["journeys"][0]["steps"]] == ["entered", "waiting"]
    assert erase_contact(contact)["enrollments"] == 1
    assert not Enrollment.objects.exists()
