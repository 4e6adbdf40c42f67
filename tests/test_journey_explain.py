"""Why a contact is, or is not, in a journey: the trail, or the condition that kept them out."""

import pytest
from django.contrib.auth.models import Group, Permission
from django.urls import reverse

from tests.journey_helpers import fire, subscribed
from wagtail_journeys.journeys.building import block, new_journey
from wagtail_journeys.journeys.explain import explain

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("journeys_mail")]


def _checks(explanation):
    return [(check.what, check.passed) for check in explanation.checks]


def test_trail_of_a_contact_who_entered(django_capture_on_commit_callbacks):
    journey = new_journey("wait", trigger=block("event", event="go"), steps=[block("wait", days=1)])
    contact = subscribed()
    fire(django_capture_on_commit_callbacks, contact, "go")
    explanation = explain(journey, contact)
    assert explanation.entered
    assert [run.result for run in explanation.trail] == ["entered", "waiting"]


def test_what_kept_a_contact_out(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    journey = new_journey(
        "big orders",
        trigger=block(
            "event",
            event="order_completed",
            filters=[{"key": "total", "operator": "gte", "value": "100"}],
        ),
        steps=[block("tag", tag="big")],
        entry_rules=[block("tag", has=True, tag="vip")],
    )
    contact = subscribed()
    assert _checks(explain(journey, contact)) == [
        ("Journey", True),
        ("Trigger", False),
        ("Entry rules", False),
        ("Re-entry", True),
    ]
    assert "never did order_completed" in explain(journey, contact).checks[1].detail
    fire(capture, contact, "order_completed", total=20)
    assert "never with the trigger's properties" in explain(journey, contact).checks[1].detail
    fire(capture, contact, "order_completed", total=150)  # fires, but the rules keep them out
    explanation = explain(journey, contact)
    assert not explanation.entered
    assert _checks(explanation)[1:3] == [("Trigger", True), ("Entry rules", False)]


def test_admin_page_needs_the_view_permission(client, django_user_model):
    journey = new_journey("live", trigger=block("manual"), steps=[block("exit")])
    contact = subscribed()
    url = reverse("journeys_contacts:journeys", args=[contact.pk])
    editor = django_user_model.objects.create_user("editor", password="pw")
    group = Group.objects.create(name="Contact readers")
    group.permissions.add(Permission.objects.get(codename="access_admin"))
    editor.groups.add(group)
    client.force_login(editor)
    assert client.get(url).status_code in (302, 403)
    group.permissions.add(Permission.objects.get(codename="view_contact"))
    response = client.get(url)
    assert response.status_code == 200
    assert journey.name in response.content.decode()
    assert "Contacts enter only when code calls enroll()." in response.content.decode()
    assert client.get(reverse("journeys_contacts:journeys", args=[999999])).status_code == 404
