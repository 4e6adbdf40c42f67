"""Journeys in the admin: editing and publishing, live edits, pause / resume / archive,
the simulator and the template gallery."""

import html
import uuid
from dataclasses import dataclass
from datetime import timedelta

import pytest
from bs4 import BeautifulSoup
from django.contrib.auth.models import User
from django.contrib.messages import get_messages
from django.core.exceptions import ValidationError
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from wagtail.test.utils.form_data import nested_form_data

from tests.admin_helpers import client_for
from tests.journey_helpers import email_template, subscribed
from wagtail_journeys.journeys.building import block, new_journey
from wagtail_journeys.models import Contact, Enrollment, Event, Journey, Message, StepRun

pytestmark = pytest.mark.django_db

EDITOR_PERMISSIONS = ("add_journey", "change_journey", "view_journey")


@pytest.fixture(autouse=True)
def journeys_settings(settings):
    settings.WAGTAIL_JOURNEYS = {"BASE_URL": "https://shop.example.com"}


def url(name, *args):
    return reverse(f"journeys_journeys:{name}", args=args)


def table_rows(response):
    """The cells' text of each row of the page's listing table, the header first."""
    soup = BeautifulSoup(response.content, "html.parser")
    return [
        [" ".join(cell.get_text().split()) for cell in row.find_all(["th", "td"])]
        for row in soup.select_one("table.listing").find_all("tr")
    ]


def page_text(response):
    """The page's text, as a reader sees it (tags dropped, spaces collapsed)."""
    return " ".join(BeautifulSoup(response.content, "html.parser").get_text().split())


def messages_of(response):
    return [str(message).strip() for message in get_messages(response.wsgi_request)]


# -- Form data ---------------------------------------------------------------------------------


def stream(*children):
    """StreamField form data; each child is ``(type, value)`` or ``(type, value, id)``.

    A missing (or None) id is a new block: it gets one, as the admin's JavaScript gives it.
    """
    data = {"count": str(len(children))}
    for index, (block_type, value, *block_id) in enumerate(children):
        data[str(index)] = {
            "type": block_type,
            "value": value,
            "deleted": "",
            "order": str(index),
            "id": (block_id[0] if block_id else None) or str(uuid.uuid4()),
        }
    return data


#: An A/B test's settings as the form posts them (its defaults).
AB_TEST = {"metric": "opened", "min_recipients": "500", "confidence": "0.95"}


def send_email(template, step_id=None):
    value = {"template": str(template.pk), "variants": {"count": "0"}, "test": AB_TEST}
    return ("send_email", value, step_id)


def wait(days=1, step_id=None):
    return ("wait", {"days": str(days), "hours": "0", "minutes": "0", "at_time": ""}, step_id)


def tag(name, step_id=None):
    return ("tag", {"action": "add", "tag": name}, step_id)


def journey_data(steps=(), event="contact_subscribed", **fields):
    data = {
        "name": "Welcome series",
        "description": "",
        "entry_match": "all",
        "reentry": "not_while_active",
        "reentry_days": "",
        "conversion_event": "order_completed",
        "conversion_days": "7",
        **fields,
        "trigger": stream(
            (
                "event",
                {"event": event, "times": "1", "within_days": "", "filters": {"count": "0"}},
            )
        ),
        "entry_rules": stream(),
        "goals": stream(),
        "steps": stream(*steps),
    }
    return nested_form_data(data)


PUBLISH = {"action-publish": "action-publish"}


def welcome_journey(**kwargs):
    welcome = email_template("Welcome", "Welcome {{ contact.first_name }}")
    journey = new_journey(
        kwargs.pop("name", "Welcome series"),
        trigger=block("event", event="contact_subscribed"),
        steps=[block("send_email", template=welcome.pk), block("wait", days=1), block("exit")],
        **kwargs,
    )
    return journey, welcome


def waiting_at(journey, step_id, contact=None, **fields):
    """An enrollment waiting at ``step_id`` of the live revision (``fields`` override)."""
    values = {
        "status": Enrollment.Status.WAITING,
        "next_run_at": timezone.now() + timedelta(days=1),
        "live_key": "live",
        **fields,
    }
    return Enrollment.objects.create(
        journey=journey,
        contact=contact or subscribed(),
        revision=journey.live_revision,
        current_step=step_id,
        **values,
    )


# -- Listing, creating, publishing ---------------------------------------------------------------


def test_the_listing_shows_state_and_contacts_in_one_query_whatever_the_number(admin_client):
    journey, _welcome = welcome_journey()
    first_step = journey.steps[0].id
    waiting_at(journey, first_step)
    waiting_at(journey, first_step, status=Enrollment.Status.ACTIVE)
    waiting_at(journey, first_step, status=Enrollment.Status.COMPLETED, live_key=None)

    admin_client.get(url("list"))  # the session and the like, read once
    with CaptureQueriesContext(connection) as one:
        response = admin_client.get(url("list"))
    assert response.status_code == 200
    header, *rows = table_rows(response)
    assert header[1:5] == ["Name", "State", "Status", "Contacts in it"]
    assert rows[0][2:5] == ["Running", "live", "2"]

    for index in range(3):
        other, _template = welcome_journey(name=f"Other {index}")
        waiting_at(other, other.steps[0].id)
    with CaptureQueriesContext(connection) as four:
        admin_client.get(url("list"))
    assert len(four) == len(one)


def test_a_journey_is_built_in_the_admin_form_then_published(admin_client):
    welcome = email_template("Welcome")
    form = admin_client.get(url("add")).content.decode()
    for tab in ("Trigger", "Entry", "Steps", "Goals &amp; settings"):
        assert tab in form

    data = journey_data([send_email(welcome), wait(days=2)])
    response = admin_client.post(url("add"), data)
    assert response.status_code == 302
    journey = Journey.objects.get()
    assert (journey.name, journey.live) == ("Welcome series", False)
    assert [child.block_type for child in journey.trigger] == ["event"]
    assert journey.trigger[0].value["event"] == "contact_subscribed"
    assert [child.block_type for child in journey.steps] == ["send_email", "wait"]
    assert journey.steps[1].value["days"] == 2

    data = journey_data([send_email(welcome, journey.steps[0].id), wait(2, journey.steps[1].id)])
    response = admin_client.post(url("edit", journey.pk), {**data, **PUBLISH})
    assert response.status_code == 302 and response.url == url("list")
    journey.refresh_from_db()
    assert journey.live and journey.accepts_contacts
    assert "Journey 'Welcome series' updated and published." in html.unescape(
        messages_of(response)[-1]
    )


def test_a_bad_journey_is_refused_with_its_errors(admin_client):
    data = journey_data([wait(days=0)], event="not an event!", reentry="once_per_days")
    response = admin_client.post(url("add"), {**data, **PUBLISH})
    assert response.status_code == 200
    content = response.content.decode()
    assert "must be letters, digits and underscores" in content
    assert "Enter a duration, a time of day or weekdays." in content
    assert "Enter the number of days." in content
    assert not Journey.objects.exists()


def test_an_editor_without_publish_permission_saves_drafts_only():
    journey, welcome = welcome_journey()
    editor = client_for(*EDITOR_PERMISSIONS)
    assert editor.get(url("list")).status_code == 200
    steps = [send_email(welcome, journey.steps[0].id)]
    response = editor.post(url("edit", journey.pk), {**journey_data(steps), **PUBLISH})
    assert response.status_code == 302
    journey.refresh_from_db()
    # Saved as a draft: the live version still has its three steps.
    assert journey.has_unpublished_changes
    assert len(journey.steps) == 3
    assert len(journey.get_latest_revision_as_object().steps) == 1

    viewer = client_for("view_journey")
    assert viewer.get(url("edit", journey.pk)).status_code in (302, 403)


def test_a_publisher_publishes_and_archives():
    # The publish permission exists: the journeys are snippets by the time migrate ends.
    publisher = client_for(*EDITOR_PERMISSIONS, "publish_journey", "lock_journey")
    journey, welcome = welcome_journey(publish=False)
    steps = [send_email(welcome, journey.steps[0].id)]
    response = publisher.post(url("edit", journey.pk), {**journey_data(steps), **PUBLISH})
    assert response.status_code == 302
    journey.refresh_from_db()
    assert journey.live and len(journey.steps) == 1
    assert url("archive", journey.pk) in publisher.get(url("edit", journey.pk)).content.decode()
    publisher.post(url("archive", journey.pk))
    journey.refresh_from_db()
    assert journey.state == Journey.State.ARCHIVED and not journey.live


def test_the_preview_outlines_the_trigger_and_the_nested_steps(admin_client):
    welcome = email_template("Welcome")
    data = journey_data(
        [
            send_email(welcome),
            (
                "condition",
                {
                    "match": "all",
                    "rules": stream(("tag", {"has": "on", "tag": "vip"})),
                    "yes": stream(tag("gold")),
                    "no": stream(),
                },
                None,
            ),
            wait(days=3),
        ]
    )
    assert admin_client.post(url("preview_on_add"), data).json()["is_valid"]
    preview = BeautifulSoup(admin_client.get(url("preview_on_add")).content, "html.parser")
    assert "An event happens" in preview.select_one(".trigger").get_text()
    top = preview.select_one("ol.steps")
    summaries = [
        " ".join(step.select_one(".summary").get_text().split())
        for step in top.find_all("li", class_="step", recursive=False)
    ]
    assert summaries == ["Send “Welcome”", "If the contact matches 1 rule", "Wait 3 days"]
    condition = top.find_all("li", class_="step", recursive=False)[1]
    branches = condition.select("li.branch")
    assert [b.select_one(".branch-label").get_text() for b in branches] == ["Yes", "No"]
    nested = branches[0].select_one("li.step")
    assert nested["data-depth"] == "1"
    assert "Add tag “gold”" in nested.get_text()
    assert "no steps" in branches[1].get_text()


# -- Removing steps where contacts wait ---------------------------------------------------------


def two_waits_journey():
    welcome = email_template("Welcome")
    reminder = email_template("Reminder")
    journey = new_journey(
        "Onboarding",
        trigger=block("event", event="contact_subscribed"),
        steps=[
            block("send_email", template=welcome.pk),
            block("wait", days=1),
            block("send_email", template=reminder.pk),
            block("wait", days=2),
        ],
    )
    return journey, welcome, reminder


def test_publishing_a_removal_needs_confirmation_and_then_moves_the_contacts(admin_client):
    journey, welcome, reminder = two_waits_journey()
    send_1, wait_1, send_2, wait_2 = (child.id for child in journey.steps)
    ada = waiting_at(journey, wait_1)
    bob = waiting_at(journey, wait_1)
    old_revision = journey.live_revision_id
    # The first wait goes: Ada and Bob wait there.
    data = journey_data(
        [send_email(welcome, send_1), send_email(reminder, send_2), wait(2, wait_2)]
    )

    response = admin_client.post(url("edit", journey.pk), {**data, **PUBLISH})
    assert response.status_code == 200
    content = response.content.decode()
    assert "Not published: contacts wait at steps this change removes." in content
    assert "“Wait 1 day”: 2 contacts" in content
    assert f'data-removed-step="{wait_1}"' in content
    assert 'name="confirm_removed_steps"' in content
    journey.refresh_from_db()
    assert journey.live_revision_id == old_revision
    ada.refresh_from_db()
    assert (ada.current_step, ada.revision_id) == (wait_1, old_revision)

    response = admin_client.post(
        url("edit", journey.pk), {**data, **PUBLISH, "confirm_removed_steps": "on"}
    )
    assert response.status_code == 302
    journey.refresh_from_db()
    assert journey.live_revision_id != old_revision
    for enrollment in (ada, bob):
        enrollment.refresh_from_db()
        assert enrollment.current_step == send_2
        assert enrollment.revision_id == journey.live_revision_id
        assert enrollment.status == Enrollment.Status.WAITING
    assert StepRun.objects.filter(result=StepRun.Result.MOVED, step_id=wait_1).count() == 2


def test_contacts_at_a_removed_last_step_leave_the_journey(admin_client):
    journey, welcome, reminder = two_waits_journey()
    send_1, wait_1, send_2, wait_2 = (child.id for child in journey.steps)
    carol = waiting_at(journey, wait_2)
    data = journey_data(
        [send_email(welcome, send_1), wait(1, wait_1), send_email(reminder, send_2)]
    )
    refused = admin_client.post(url("edit", journey.pk), {**data, **PUBLISH})
    assert "“Wait 2 days”: 1 contact" in refused.content.decode()
    admin_client.post(url("edit", journey.pk), {**data, **PUBLISH, "confirm_removed_steps": "on"})
    carol.refresh_from_db()
    assert carol.status == Enrollment.Status.EXITED
    assert carol.exit_reason == "Step removed by a live edit."


def test_saving_a_draft_or_keeping_the_steps_needs_no_confirmation(admin_client):
    journey, welcome, reminder = two_waits_journey()
    send_1, wait_1, send_2, wait_2 = (child.id for child in journey.steps)
    ada = waiting_at(journey, wait_1)
    removal = journey_data([send_email(welcome, send_1), send_email(reminder, send_2)])
    assert admin_client.post(url("edit", journey.pk), removal).status_code == 302
    ada.refresh_from_db()
    assert ada.current_step == wait_1

    # Publishing with Ada's step kept (only a later one removed from nobody) goes through.
    kept = journey_data(
        [send_email(welcome, send_1), wait(1, wait_1), send_email(reminder, send_2)]
    )
    response = admin_client.post(url("edit", journey.pk), {**kept, **PUBLISH})
    assert response.status_code == 302
    journey.refresh_from_db()
    assert len(journey.steps) == 3
    ada.refresh_from_db()
    assert (ada.current_step, ada.revision_id) == (wait_1, journey.live_revision_id)


# -- Pause, resume, archive ---------------------------------------------------------------------


def test_pause_and_resume_hold_and_release_the_waiting_contacts(admin_client):
    journey, _welcome = welcome_journey()
    ada = waiting_at(journey, journey.steps[1].id)
    due = ada.next_run_at

    # A GET only asks: nothing changes until the form is posted.
    page = admin_client.get(url("pause", journey.pk))
    assert (
        page.status_code == 200
        and "Nobody enters while the journey is paused" in page.content.decode()
    )
    journey.refresh_from_db()
    assert journey.state == Journey.State.RUNNING

    response = admin_client.post(url("pause", journey.pk), {"next": url("list")})
    assert response.status_code == 302 and response.url == url("list")
    assert messages_of(response) == ["“Welcome series” paused: 1 contact is held."]
    journey.refresh_from_db()
    ada.refresh_from_db()
    assert journey.state == Journey.State.PAUSED
    assert (ada.next_run_at, ada.held_run_at) == (None, due)

    edit = admin_client.get(url("edit", journey.pk)).content.decode()
    assert "This journey is paused: nobody enters it and 1 contact is held." in edit
    assert url("resume", journey.pk) in edit and url("pause", journey.pk) not in edit
    _header, row = table_rows(admin_client.get(url("list")))
    assert "Paused" in row and "Resume" in row[1]

    # Pausing twice is refused with a message, not an error.
    again = admin_client.post(url("pause", journey.pk))
    assert again.url == url("edit", journey.pk)
    assert "cannot be changed that way: it is paused" in messages_of(again)[0]

    response = admin_client.post(url("resume", journey.pk))
    assert response.url == url("edit", journey.pk)
    assert messages_of(response)[-1] == "“Welcome series” resumed: 1 held contact goes on."
    journey.refresh_from_db()
    ada.refresh_from_db()
    assert journey.state == Journey.State.RUNNING and journey.accepts_contacts
    assert (ada.next_run_at, ada.held_run_at) == (due, None)
    assert (
        "This journey is paused" not in admin_client.get(url("edit", journey.pk)).content.decode()
    )


def test_archive_asks_for_confirmation_then_takes_everyone_out(admin_client):
    journey, _welcome = welcome_journey()
    ada = waiting_at(journey, journey.steps[1].id)
    page = admin_client.get(url("archive", journey.pk))
    content = page.content.decode()
    assert "Archiving ends the journey" in content
    assert "with 1 contact in it now" in content
    journey.refresh_from_db()
    assert journey.live and journey.state == Journey.State.RUNNING

    response = admin_client.post(url("archive", journey.pk))
    assert messages_of(response) == ["“Welcome series” archived: 1 contact left it."]
    journey.refresh_from_db()
    ada.refresh_from_db()
    assert journey.state == Journey.State.ARCHIVED and not journey.live
    assert ada.status == Enrollment.Status.EXITED
    assert "This journey is archived" in admin_client.get(url("edit", journey.pk)).content.decode()


def test_lifecycle_actions_need_the_right_permissions():
    journey, _welcome = welcome_journey()
    viewer = client_for("view_journey")
    for name in ("pause", "resume", "archive"):
        assert viewer.post(url(name, journey.pk)).status_code in (302, 403)
    assert url("pause", journey.pk) not in viewer.get(url("list")).content.decode()
    journey.refresh_from_db()
    assert journey.state == Journey.State.RUNNING

    # An editor who may not publish may pause, but not archive (it unpublishes).
    editor = client_for(*EDITOR_PERMISSIONS)
    assert url("archive", journey.pk) not in editor.get(url("edit", journey.pk)).content.decode()
    assert editor.post(url("archive", journey.pk)).status_code in (302, 403)
    journey.refresh_from_db()
    assert journey.live and journey.state == Journey.State.RUNNING
    editor.post(url("pause", journey.pk))
    journey.refresh_from_db()
    assert journey.state == Journey.State.PAUSED

    assert Client().post(url("pause", journey.pk)).status_code == 302  # to the login page
    assert admin_client_csrf(journey).status_code == 403


def admin_client_csrf(journey):
    """A POST without the CSRF token, as a forged form on another site would send it."""
    client = Client(enforce_csrf_checks=True)
    client.force_login(User.objects.create_superuser("csrf", "csrf@example.com", "pw"))
    return client.post(url("pause", journey.pk))


def test_a_paused_journey_stays_paused_when_a_draft_is_published(admin_client):
    journey, welcome = welcome_journey()
    running_revision = journey.live_revision_id
    ids = [child.id for child in journey.steps]
    data = journey_data([send_email(welcome, ids[0]), wait(1, ids[1]), ("exit", {}, ids[2])])
    # A draft saved while running, published once the journey is paused.
    assert admin_client.post(url("edit", journey.pk), data).status_code == 302
    admin_client.post(url("pause", journey.pk))
    response = admin_client.post(url("edit", journey.pk), {**data, **PUBLISH})
    assert response.status_code == 302
    journey.refresh_from_db()
    assert journey.state == Journey.State.PAUSED

    # Nor does publishing an older version again, made while it was running.
    revert = url("revisions_revert", journey.pk, running_revision)
    assert admin_client.post(revert, {**data, **PUBLISH}).status_code == 302
    journey.refresh_from_db()
    assert journey.live_revision_id not in (running_revision, None)
    assert journey.state == Journey.State.PAUSED


# -- The simulator ------------------------------------------------------------------------------


def waiting_for_an_order_journey():
    welcome = email_template("Welcome", "Welcome {{ contact.first_name }}")
    reminder = email_template("Reminder", "Still thinking, {{ contact.first_name }}?")
    return new_journey(
        "Order follow-up",
        trigger=block("event", event="contact_subscribed"),
        steps=[
            block("send_email", template=welcome.pk),
            block(
                "wait_until",
                wait_for="event",
                event="order_completed",
                timeout_days=1,
                yes=[block("tag", tag="buyer")],
                no=[block("send_email", template=reminder.pk)],
            ),
        ],
    )


def simulation(**fields):
    return {
        "contact": "",
        "email": "",
        "first_name": "",
        "custom_fields": "",
        "tags": "",
        "events": "",
        "trigger_properties": "",
        "version": "draft",
        **fields,
    }


def test_the_simulator_shows_the_timeline_of_a_synthetic_contact(admin_client):
    journey = waiting_for_an_order_journey()
    page = admin_client.get(url("simulate", journey.pk))
    assert page.status_code == 200 and 'name="events"' in page.content.decode()

    response = admin_client.post(
        url("simulate", journey.pk),
        simulation(first_name="Ada", events='order_completed after 2h {"total": 50}'),
    )
    assert response.status_code == 200
    header, *rows = table_rows(response)
    assert header == ["Time", "Step", "Result", "Branch", "Why", "Subject"]
    assert [row[:4] for row in rows] == [
        ["+0m", "Send “Welcome”", "Queued to send", ""],
        ["+0m", "Wait until order_completed (at most 1 day, 0:00:00)", "Waiting", ""],
        ["+2h", "order_completed", "Event", ""],
        ["+2h", "Wait until order_completed (at most 1 day, 0:00:00)", "Took a branch", "Yes"],
        ["+2h", "Add tag “buyer”", "Done", ""],
        ["+2h", "Journey", "Completed", ""],
    ]
    assert rows[0][5] == "Welcome Ada"
    assert "At the end of the simulation the contact is: Completed." in page_text(response)
    # A dry run: nobody was created, entered or sent anything.
    assert not Contact.objects.filter(first_name="Ada").exists()
    assert not Enrollment.objects.exists() and not Message.objects.exists()
    assert not Event.objects.exists()


def test_the_simulator_runs_an_existing_contact_down_the_other_branch(admin_client):
    journey = waiting_for_an_order_journey()
    subscribed(email="bea@example.com", first_name="Bea")
    response = admin_client.post(
        url("simulate", journey.pk), simulation(contact="BEA@example.com", version="live")
    )
    _header, *rows = table_rows(response)
    assert rows[-2][1:] == [
        "Send “Reminder”",
        "Queued to send",
        "",
        "Queued.",
        "Still thinking, Bea?",
    ]
    assert rows[-3][3] == "No" and rows[-3][0] == "+1d"
    assert not Enrollment.objects.exists()


def test_the_simulator_says_when_the_contact_would_not_enter(admin_client):
    journey, _welcome = welcome_journey(reentry=Journey.ReEntry.ONCE)
    bea = subscribed(email="bea@example.com")
    waiting_at(journey, journey.steps[1].id, contact=bea)
    response = admin_client.post(url("simulate", journey.pk), simulation(contact="bea@example.com"))
    assert response.status_code == 200
    assert "The contact does not enter the journey." in response.content.decode()
    assert "once per contact" in response.content.decode()


@pytest.mark.parametrize(
    ("fields", "error"),
    [
        ({"events": "order-completed"}, "Line 1: An event name must be letters"),
        ({"events": "order completed"}, "Line 1: Write an event as"),
        ({"events": "\n\norder_completed after soon"}, "Line 3: “soon” is not a duration"),
        ({"events": "order_completed after 400d"}, "covers one year at most"),
        ({"events": "order_completed after"}, "Write an event as"),
        ({"events": 'order_completed {"total": 50'}, "The properties are not valid JSON"),
        ({"events": "order_completed [1, 2]"}, "The properties must be a JSON object"),
        ({"events": "order_completed {}\nx after 2h [1]"}, "Line 2: The properties must be"),
        ({"events": 'order_completed {"total": NaN}'}, "NaN is not a JSON value"),
        ({"events": 'order_completed {"total": 1e999}'}, "1e999 is too large a number"),
        ({"events": "order_completed " + "{" * 5000 + "}" * 5000}, "Ensure this value has at most"),
        ({"events": "e {" + '"a":' * 1000 + "1" + "}" * 1000}, "The properties"),
        ({"events": "\n".join(["order_completed"] * 51)}, "at most 50 events"),
        ({"custom_fields": "[1, 2]"}, "The custom fields must be a JSON object"),
        ({"custom_fields": "{'plan': 'pro'}"}, "The custom fields are not valid JSON"),
        ({"trigger_properties": "null"}, "The trigger properties must be a JSON object"),
        ({"tags": ",".join(f"t{i}" for i in range(30))}, "At most 20 tags"),
        ({"contact": "nobody@example.com"}, "No contact has this email address."),
        ({"contact": "not an email"}, "Enter a valid email address."),
        ({"contact": "bea@example.com", "first_name": "Bea"}, "not both"),
        ({"email": "bea@example.com"}, "choose them as the existing contact"),
        ({"version": "live"}, "no live version"),
        ({"version": "yesterday"}, "Select a valid choice."),
    ],
)
def test_bad_simulator_input_is_a_form_error(admin_client, fields, error):
    journey = new_journey(
        "Draft only",
        trigger=block("event", event="signed_up"),
        steps=[block("exit")],
        publish=False,
    )
    subscribed(email="bea@example.com")
    response = admin_client.post(url("simulate", journey.pk), simulation(**fields))
    assert response.status_code == 200
    assert error in html.unescape(response.content.decode())
    assert "Timeline" not in response.content.decode()


def test_a_step_that_crashes_in_the_simulator_is_reported(admin_client, monkeypatch):
    journey = waiting_for_an_order_journey()

    def broken(self, value, ctx):
        raise RuntimeError("the template engine fell over")

    monkeypatch.setattr("wagtail_journeys.journeys.steps.SendEmailStepBlock.run", broken)
    response = admin_client.post(url("simulate", journey.pk), simulation(first_name="Ada"))
    assert response.status_code == 200
    assert "The simulation stopped: a step failed (the template engine fell over)." in (
        html.unescape(response.content.decode())
    )


def test_the_simulator_needs_the_right_to_change_journeys():
    journey = waiting_for_an_order_journey()
    viewer = client_for("view_journey")
    assert viewer.get(url("simulate", journey.pk)).status_code in (302, 403)
    assert viewer.post(url("simulate", journey.pk), simulation()).status_code in (302, 403)
    assert admin_404(journey.pk + 100).status_code == 404


def admin_404(pk):
    client = Client()
    client.force_login(User.objects.create_superuser("other", "other@example.com", "pw"))
    return client.get(url("simulate", pk))


# -- Create from template -----------------------------------------------------------------------


@dataclass
class BrokenTemplate:
    slug: str = "broken"
    name: str = "Broken"
    description: str = "Its emails do not validate."

    def create(self, user=None):
        raise ValidationError({"subject": "Enter a subject."})


def test_the_gallery_lists_the_templates_and_creates_a_draft_journey(admin_client):
    from wagtail_journeys.journeys.templates import JOURNEY_TEMPLATES

    assert url("templates") in admin_client.get(url("list")).content.decode()
    page = admin_client.get(url("templates"))
    assert page.status_code == 200
    _header, *rows = table_rows(page)
    assert [row[0] for row in rows] == [template.name for template in JOURNEY_TEMPLATES]
    assert rows[0][1] == JOURNEY_TEMPLATES[0].description

    chosen = JOURNEY_TEMPLATES[1]
    response = admin_client.post(url("templates"), {"template": chosen.slug})
    journey = Journey.objects.get()
    assert response.status_code == 302 and response.url == url("edit", journey.pk)
    assert (journey.name, journey.live) == (chosen.name, False)
    assert journey.latest_revision.user.username == "admin"
    assert messages_of(response) == [
        f"“{chosen.name}” created as a draft: check its emails and steps, then publish it."
    ]
    assert admin_client.get(response.url).status_code == 200


def test_the_gallery_refuses_unknown_and_failing_templates_with_a_message(
    admin_client, monkeypatch
):
    response = admin_client.post(url("templates"), {"template": "no-such-thing"})
    assert response.url == url("templates")
    assert messages_of(response) == ["There is no journey template “no-such-thing”."]

    monkeypatch.setattr("wagtail_journeys.journeys.templates.JOURNEY_TEMPLATES", [BrokenTemplate()])
    assert "Its emails do not validate." in admin_client.get(url("templates")).content.decode()
    response = admin_client.post(url("templates"), {"template": "broken"})
    assert response.url == url("templates")
    assert messages_of(response)[-1] == "“Broken” could not be created: Enter a subject."
    assert not Journey.objects.exists()


def test_the_gallery_needs_the_right_to_add_journeys():
    viewer = client_for("view_journey", "change_journey")
    assert url("templates") not in viewer.get(url("list")).content.decode()
    assert viewer.get(url("templates")).status_code in (302, 403)
    assert viewer.post(url("templates"), {"template": "welcome-series"}).status_code in (302, 403)
    assert not Journey.objects.exists()
