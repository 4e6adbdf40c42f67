"""Contacts in the admin: the filtered listing, the detail page and its actions."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from tests.admin_helpers import client_for
from tests.factories import ContactFactory
from tests.journey_helpers import subscribed
from wagtail_journeys.admin.timeline import timeline
from wagtail_journeys.journeys.building import block, new_journey
from wagtail_journeys.models import (
    Cart,
    ConsentRecord,
    Contact,
    Enrollment,
    Event,
    Message,
    Segment,
    StepRun,
    Wishlist,
)
from wagtail_journeys.segments.membership import add_members

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("journeys_mail")]


def url(name, *args):
    return reverse(f"journeys_contacts:{name}", args=args)


def denied(response):
    # Wagtail answers PermissionDenied with a redirect to the dashboard (or a 403).
    return response.status_code == 403 or (
        response.status_code == 302 and response["Location"] == "/admin/"
    )


def listed(client, query=""):
    """The addresses the listing shows for ``query`` (the results fragment the filters load)."""
    response = client.get(url("index_results") + query)
    assert response.status_code == 200
    html = response.content.decode()
    return {
        email for email in Contact.objects.values_list("email", flat=True) if email in html
    }, html


def flash(response):
    """The message the request left for the next page (earlier unread ones are kept before it)."""
    return [str(message).strip() for message in get_messages(response.wsgi_request)][-1]


def live_journey(name="Welcome", **fields):
    return new_journey(name, trigger=block("manual"), steps=[block("wait", days=1)], **fields)


# The listing


def test_filters_narrow_the_listing(admin_client):
    ada = ContactFactory(email="ada@example.com", status=Contact.Status.SUBSCRIBED)
    bob = ContactFactory(email="bob@example.com", status=Contact.Status.BOUNCED)
    cy = ContactFactory(email="cy@example.com", status=Contact.Status.SUBSCRIBED)
    ada.tags.add("VIP")
    segment = Segment.objects.create(name="Static", kind=Segment.Kind.STATIC)
    add_members(segment, [bob.pk, cy.pk])
    journey = live_journey()
    Enrollment.objects.create(journey=journey, contact=ada, status=Enrollment.Status.WAITING)
    Enrollment.objects.create(journey=journey, contact=bob, status=Enrollment.Status.COMPLETED)

    everyone = {"ada@example.com", "bob@example.com", "cy@example.com"}
    assert listed(admin_client)[0] == everyone
    assert listed(admin_client, "?status=subscribed")[0] == {"ada@example.com", "cy@example.com"}
    assert listed(admin_client, "?status=bounced&status=subscribed")[0] == everyone
    assert listed(admin_client, "?tag=vip")[0] == {"ada@example.com"}
    assert listed(admin_client, f"?segment={segment.pk}")[0] == {
        "bob@example.com",
        "cy@example.com",
    }
    assert listed(admin_client, f"?journey={journey.pk}")[0] == {"ada@example.com"}
    assert listed(admin_client, f"?journey={journey.pk}&journey_when=now")[0] == {"ada@example.com"}
    assert listed(admin_client, f"?journey={journey.pk}&journey_when=ever")[0] == {
        "ada@example.com",
        "bob@example.com",
    }
    assert listed(admin_client, f"?segment={segment.pk}&status=subscribed")[0] == {"cy@example.com"}


def test_search_finds_a_full_name_and_an_address(admin_client):
    ContactFactory(email="ada@example.com", first_name="Ada", last_name="Lovelace")
    ContactFactory(email="grace@example.com", first_name="Grace", last_name="Hopper")
    assert listed(admin_client, "?q=ada+lovelace")[0] == {"ada@example.com"}
    assert listed(admin_client, "?q=grace@")[0] == {"grace@example.com"}


@pytest.mark.parametrize(
    "query, label",
    [
        ("?status=nonsense", "Status"),
        ("?segment=abc", "Segment"),
        ("?segment=999999", "Segment"),
        ("?journey=abc", "Journey"),
        ("?journey_when=sometimes", "In the journey"),
    ],
)
def test_bad_filter_values_list_nothing_and_say_why(admin_client, query, label):
    ContactFactory(email="ada@example.com")
    shown, html = listed(admin_client, query)
    assert shown == set()
    assert "These filters cannot be applied." in html
    assert f"{label}: Select a valid choice." in html
    # The whole page too, not only the results fragment.
    page = admin_client.get(url("index") + query)
    assert page.status_code == 200
    assert "These filters cannot be applied." in page.content.decode()


def test_a_contact_in_the_listing_opens_its_detail_page(admin_client):
    ada = ContactFactory(email="ada@example.com")
    html = admin_client.get(url("index")).content.decode()
    assert url("inspect", ada.pk) in html
    assert "/edit/" not in html


# The detail page


@pytest.fixture
def ada(gadget):
    contact = subscribed(email="ada@example.com", first_name="Ada", last_name="Lovelace")
    contact.tags.add("vip")
    ConsentRecord.objects.create(
        contact=contact, granted=True, method=ConsentRecord.Method.FORM, source="/signup/"
    )
    cart = Cart.objects.create(contact=contact, currency="EUR")
    cart.add(gadget, quantity=2)
    Wishlist.objects.create(contact=contact).add(gadget)
    return contact


def test_detail_page_shows_profile_consent_timeline_and_carts(admin_client, ada):
    journey = live_journey()
    Event.objects.create(contact=ada, name="page_viewed", path="/lamps/")
    Message.objects.create(
        contact=ada,
        idempotency_key="detail",
        to_email=ada.email,
        subject="Your lamp is waiting",
        status=Message.Status.SENT,
    )
    enrollment = Enrollment.objects.create(journey=journey, contact=ada)
    StepRun.objects.create(
        enrollment=enrollment, journey=journey, result=StepRun.Result.ENTERED, reason="by hand"
    )

    response = admin_client.get(url("inspect", ada.pk))
    assert response.status_code == 200
    html = response.content.decode()
    assert "Lovelace" in html and "vip" in html
    assert "email: given" in html
    assert "/signup/" in html  # the consent record
    assert 'data-kind="event"' in html and "page_viewed" in html
    assert 'data-kind="message"' in html and "Your lamp is waiting" in html
    assert 'data-kind="step"' in html and "by hand" in html
    assert "Widget" in html  # in the cart and on the wishlist
    assert url("journeys", ada.pk) in html
    assert url("export", ada.pk) in html and url("erase", ada.pk) in html


def test_detail_page_without_export_erase_or_change_permission(ada):
    client = client_for("view_contact")
    html = client.get(url("inspect", ada.pk)).content.decode()
    assert url("journeys", ada.pk) in html
    assert url("export", ada.pk) not in html
    assert url("erase", ada.pk) not in html
    assert url("unsubscribe", ada.pk) not in html and url("enrol", ada.pk) not in html


def test_timeline_is_paginated_newest_first(admin_client):
    contact = ContactFactory()
    start = timezone.now() - timedelta(days=1)
    Event.objects.bulk_create(
        Event(contact=contact, name=f"event_{n:03}", occurred_at=start + timedelta(minutes=n))
        for n in range(120)
    )
    seen = []
    page = admin_client.get(url("inspect", contact.pk))
    for _page in range(5):
        html = page.content.decode()
        names = [
            line.split("<strong>")[1].split("<")[0]
            for line in html.split("\n")
            if "<strong>event_" in line
        ]
        seen += names
        if "before=" not in html:
            break
        cursor = html.split("?before=")[1].split("#")[0]
        page = admin_client.get(url("inspect", contact.pk) + f"?before={cursor}")
    assert seen == [f"event_{n:03}" for n in reversed(range(120))]
    assert "Newest" in page.content.decode()
    # A mangled cursor starts again from the newest.
    mangled = admin_client.get(url("inspect", contact.pk) + "?before=x.y.z")
    assert mangled.status_code == 200
    assert "event_119" in mangled.content.decode()


def test_timeline_pages_through_kinds_that_share_a_moment(django_assert_max_num_queries):
    contact = ContactFactory()
    journey = live_journey()
    enrollment = Enrollment.objects.create(journey=journey, contact=contact)
    at = timezone.now().replace(microsecond=0)
    expected = []
    for n in range(3):
        moment = at - timedelta(seconds=n)
        for _ in range(2):
            event = Event.objects.create(contact=contact, name="tick", occurred_at=moment)
            message = Message.objects.create(
                contact=contact, idempotency_key=f"tie-{event.pk}", created_at=moment
            )
            run = StepRun.objects.create(
                enrollment=enrollment, journey=journey, at=moment, result="waiting"
            )
            expected += [(moment, 0, event.pk), (moment, 1, message.pk), (moment, 2, run.pk)]
    walked, before = [], None
    while True:
        # One query per kind, whatever the page.
        with django_assert_max_num_queries(3):
            entries, more = timeline(contact, before, size=4)
        walked += [entry.key for entry in entries]
        if not more:
            break
        before = entries[-1].key
    assert walked == sorted(expected, reverse=True)


# Actions


def test_unsubscribe_needs_change_permission_and_a_post(ada):
    viewer = client_for("view_contact")
    assert denied(viewer.post(url("unsubscribe", ada.pk)))
    editor = client_for("view_contact", "change_contact")
    assert editor.get(url("unsubscribe", ada.pk)).status_code == 405
    ada.refresh_from_db()
    assert ada.status == Contact.Status.SUBSCRIBED

    response = editor.post(url("unsubscribe", ada.pk))
    assert response.status_code == 302 and response["Location"] == url("inspect", ada.pk)
    ada.refresh_from_db()
    assert ada.status == Contact.Status.UNSUBSCRIBED and ada.consent["email"] is False
    record = ada.consent_records.latest("created_at")
    assert (record.granted, record.method) == (False, ConsentRecord.Method.ADMIN)
    assert "was unsubscribed" in flash(response)
    again = editor.post(url("unsubscribe", ada.pk))
    assert "nothing changed" in flash(again)


def test_unsubscribe_needs_the_csrf_token(ada):
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    assert client.post(url("unsubscribe", ada.pk)).status_code == 403
    ada.refresh_from_db()
    assert ada.status == Contact.Status.SUBSCRIBED


def test_enrol_puts_the_contact_into_a_live_journey(ada):
    journey = live_journey()
    editor = client_for("view_contact", "change_contact")
    page = editor.get(url("inspect", ada.pk)).content.decode()
    assert url("enrol", ada.pk) in page and "Welcome" in page

    response = editor.post(url("enrol", ada.pk), {"journey": journey.pk})
    assert response.status_code == 302
    enrollment = Enrollment.objects.get(contact=ada, journey=journey)
    assert enrollment.status == Enrollment.Status.WAITING
    assert "entered Welcome (Waiting)" in flash(response)


def test_enrol_says_why_a_journey_refuses(ada):
    journey = live_journey()
    picky = live_journey("Big spenders", entry_rules=[block("tag", has=True, tag="whale")])
    editor = client_for("view_contact", "change_contact")
    editor.post(url("enrol", ada.pk), {"journey": journey.pk})

    again = editor.post(url("enrol", ada.pk), {"journey": journey.pk})
    assert "Re-entry: the contact is already in this journey." in flash(again)
    refused = editor.post(url("enrol", ada.pk), {"journey": picky.pk})
    assert "Entry rules: the contact does not match them." in flash(refused)
    assert not Enrollment.objects.filter(journey=picky).exists()

    draft = new_journey("Draft", trigger=block("manual"), steps=[block("exit")], publish=False)
    not_live = editor.post(url("enrol", ada.pk), {"journey": draft.pk})
    assert "Choose a journey that is published and running." in flash(not_live)
    assert "published and running" in flash(editor.post(url("enrol", ada.pk), {"journey": "x"}))


def test_enrol_needs_change_permission_and_a_post(ada):
    journey = live_journey()
    viewer = client_for("view_contact")
    assert denied(viewer.post(url("enrol", ada.pk), {"journey": journey.pk}))
    editor = client_for("view_contact", "change_contact")
    assert editor.get(url("enrol", ada.pk)).status_code == 405
    assert not Enrollment.objects.exists()
    assert editor.post(url("enrol", 999999), {"journey": journey.pk}).status_code == 404


def test_export_and_erase_keep_their_own_permissions(ada):
    editor = client_for("view_contact", "change_contact")
    assert denied(editor.get(url("export", ada.pk)))
    assert denied(editor.post(url("erase", ada.pk)))
    exporter = client_for("view_contact", "export_contact")
    assert exporter.get(url("export", ada.pk)).status_code == 200
    eraser = client_for("view_contact", "erase_contact")
    assert eraser.post(url("erase", ada.pk)).status_code == 302
    assert not Contact.objects.filter(pk=ada.pk).exists()
