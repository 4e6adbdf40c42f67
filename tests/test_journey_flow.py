"""The flow diagram in the journey editor: every step and branch, live counts, links, errors."""

import json
import re

import pytest
from bs4 import BeautifulSoup

from tests.journey_helpers import email_template, fire, later, subscribed, tick_at
from tests.test_journey_admin import PUBLISH, journey_data, send_email, stream, url, wait
from wagtail_journeys.email import tracking
from wagtail_journeys.journeys.building import block, new_journey, variant
from wagtail_journeys.journeys.plan import build_plan
from wagtail_journeys.models import EmailTemplate, Message, StepRun

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("journeys_mail")]

HUMAN = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"


def text(element):
    return " ".join(element.get_text().split())


def diagram(response):
    assert response.status_code == 200
    soup = BeautifulSoup(response.content, "html.parser")
    flow = soup.select_one("[data-journey-flow]")
    assert flow is not None
    return flow


def node(flow, step_id):
    return flow.select_one(f'[data-flow-node="{step_id}"]')


def counts(element):
    """The counts a node (or the start, or the end) shows: {"Sent": "3", ...}."""
    box = element.find(class_=re.compile("jflow__(node|terminal)"))
    return {text(item.dt): text(item.dd) for item in box.select(".jflow__counts > div")}


def branch(flow, step_id, key):
    return node(flow, step_id).select_one(f'[data-flow-branch="{key}"]')


def branch_count(flow, step_id, key):
    return text(branch(flow, step_id, key).select_one(".jflow__branch-count"))


def block_ids(response):
    """Every block id in the steps editor's value (each becomes a data-contentpath in JS)."""
    soup = BeautifulSoup(response.content, "html.parser")
    field = soup.select_one('[data-contentpath="steps"] #steps')
    value, _errors = json.loads(field["data-w-block-arguments-value"])
    found = set()

    def walk(value):
        if isinstance(value, dict):
            if isinstance(value.get("id"), str) and "type" in value:
                found.add(value["id"])
            for child in value.values():
                walk(child)
        elif isinstance(value, list):
            for child in value:
                walk(child)

    walk(value)
    return found


def branching_journey(**kwargs):
    """Send, wait a day, then a condition (vip: a gift email) and an A/B split."""
    welcome = email_template("Welcome", "Welcome {{ contact.first_name }}")
    gift = email_template("Gift", "A gift")
    journey = new_journey(
        "Branches",
        trigger=block("event", event="signed_up"),
        steps=[
            block("send_email", template=welcome.pk),
            block("wait", days=1),
            block(
                "condition",
                rules=[block("tag", has=True, tag="vip")],
                yes=[block("send_email", template=gift.pk)],
                no=[],
            ),
            block(
                "ab_split",
                variants=[
                    variant("Short", [block("tag", action="add", tag="short")]),
                    variant("Long", [block("wait", hours=2), block("exit")]),
                ],
            ),
        ],
        **kwargs,
    )
    return journey, welcome, gift


# -- What the diagram shows ----------------------------------------------------------------------


def test_the_steps_tab_shows_every_step_branch_and_nested_step(admin_client):
    journey, *_ = branching_journey()
    response = admin_client.get(url("edit", journey.pk))
    content = response.content.decode()
    assert "wagtail_journeys/flow.js" in content and "wagtail_journeys/flow.css" in content
    flow = diagram(response)
    # The panel is in the Steps tab, before the steps editor.
    tab = flow.find_parent(id="tab-steps")
    assert tab is not None
    assert content.index("data-journey-flow") < content.index('data-contentpath="steps"')

    plan = build_plan(journey)
    shown = [link["data-flow-step"] for link in flow.select("[data-flow-step]")]
    assert shown == [step.id for step in plan]
    summaries = [text(n.select_one(".jflow__summary")) for n in flow.select(".jflow__node")]
    assert summaries == [
        "Send “Welcome”",
        "Wait 1 day",
        "If the contact matches 1 rule",
        "Send “Gift”",
        "A/B split",
        "Add tag “short”",
        "Wait 2 hours",
        "Exit",
    ]
    condition, split = journey.steps[2], journey.steps[3]
    assert [
        text(b.select_one(".jflow__branch-name"))
        for b in node(flow, condition.id).select("[data-flow-branch]")
    ] == ["Yes", "No"]
    assert "No steps: goes on after this step." in text(branch(flow, condition.id, "no"))
    names = [
        text(b.select_one(".jflow__branch-name"))
        for b in node(flow, split.id).select("[data-flow-branch]")
    ]
    assert names == ["Short", "Long"]
    long_key = split.value["variants"].bound_blocks[1].id
    assert [
        link["data-flow-step"]
        for link in branch(flow, split.id, long_key).select("[data-flow-step]")
    ] == [step.id for step in split.value["variants"][1]["steps"]]
    # Each node has its icon; the start and the end are there.
    assert len(flow.select(".jflow__node svg.icon")) == 8
    assert flow.select_one("[data-flow-start]") and flow.select_one("[data-flow-end]")


def test_each_node_links_to_its_block_in_the_steps_editor(admin_client):
    journey, *_ = branching_journey()
    response = admin_client.get(url("edit", journey.pk))
    flow = diagram(response)
    in_editor = block_ids(response)
    links = flow.select("[data-flow-step]")
    assert links and all(link.name == "a" for link in links)
    for link in links:
        assert link["data-flow-step"] in in_editor
        assert link["href"].startswith("#:w:contentpath=steps.")
        assert link["href"].endswith(link["data-flow-step"])
        assert text(link)  # a text label, not an icon alone

    condition, split = journey.steps[2], journey.steps[3]
    gift = condition.value["yes"][0]
    assert flow.select_one(f'[data-flow-step="{gift.id}"]')["href"] == (
        f"#:w:contentpath=steps.{condition.id}.yes.{gift.id}"
    )
    short = split.value["variants"].bound_blocks[0]
    first = short.value["steps"][0]
    assert flow.select_one(f'[data-flow-step="{first.id}"]')["href"] == (
        f"#:w:contentpath=steps.{split.id}.variants.{short.id}.steps.{first.id}"
    )


def test_the_counts_are_those_of_the_contacts_who_went_through(
    admin_client, django_capture_on_commit_callbacks
):
    capture = django_capture_on_commit_callbacks
    journey, welcome, gift = branching_journey()
    contacts = [subscribed(first_name=f"C{n}") for n in range(4)]
    contacts[0].tags.add("vip")
    for contact in contacts:
        fire(capture, contact, "signed_up")
    message = Message.objects.filter(template=welcome).order_by("pk").first()
    tracking.record_open(message, tracking.Hit(user_agent=HUMAN, at=later(hours=1)), source="pixel")

    send, wait_step, condition, split = (step.id for step in journey.steps)
    flow = diagram(admin_client.get(url("edit", journey.pk)))
    assert counts(node(flow, send)) == {
        "Waiting here": "0",
        "Passed": "4",
        "Sent": "4",
        "Opened": "1 (25%)",
        "Clicked": "0 (0%)",
        "Converted": "0",
    }
    assert counts(node(flow, wait_step)) == {"Waiting here": "4", "Passed": "0"}
    assert counts(flow.select_one("[data-flow-start]").parent) == {
        "Entered": "4",
        "In the journey now": "4",
    }

    tick_at(capture, later(days=1, minutes=5))
    flow = diagram(admin_client.get(url("edit", journey.pk)))
    assert counts(node(flow, wait_step)) == {"Waiting here": "0", "Passed": "4"}
    assert branch_count(flow, condition, "yes") == "1 contact"
    assert branch_count(flow, condition, "no") == "3 contacts"
    gift_step = journey.steps[2].value["yes"][0].id
    assert counts(node(flow, gift_step))["Sent"] == "1"
    # The split's branch counts are the contacts who took each variant.
    taken = {
        key: StepRun.objects.filter(step_id=split, branch=key).count()
        for key in (item.id for item in journey.steps[3].value["variants"].bound_blocks)
    }
    assert sum(taken.values()) == 4
    for key, number in taken.items():
        assert branch_count(flow, split, key) == f"{number} contact{'s' if number != 1 else ''}"
    long_wait = journey.steps[3].value["variants"][1]["steps"][0].id
    assert counts(node(flow, long_wait))["Waiting here"] == str(taken[list(taken)[1]])
    end = counts(flow.select_one("[data-flow-end]").parent)
    assert end == {"Completed": str(taken[list(taken)[0]]), "Exited early": "0"}


# -- Errors --------------------------------------------------------------------------------------


def test_a_step_with_an_error_is_marked_after_a_refused_publish(admin_client):
    welcome = email_template("Welcome")
    journey = new_journey(
        "Marked",
        trigger=block("event", event="contact_subscribed"),
        steps=[
            block("send_email", template=welcome.pk),
            block("wait", days=1),
            block(
                "condition",
                rules=[block("tag", has=True, tag="vip")],
                yes=[block("wait", days=2)],
                no=[],
            ),
        ],
    )
    send, first_wait, condition = journey.steps
    nested_wait = condition.value["yes"][0]
    data = journey_data(
        [
            send_email(welcome, send.id),
            wait(days=0, step_id=first_wait.id),
            (
                "condition",
                {
                    "match": "all",
                    "rules": stream(("tag", {"has": "on", "tag": "vip"})),
                    "yes": stream(wait(days=0, step_id=nested_wait.id)),
                    "no": stream(),
                },
                condition.id,
            ),
        ]
    )
    response = admin_client.post(url("edit", journey.pk), {**data, **PUBLISH})
    flow = diagram(response)
    assert "2 steps have errors" in text(flow.select_one("[data-flow-errors]"))
    marked = {
        n["data-flow-node"]
        for n in flow.select("[data-flow-node]")
        if n.find(class_="jflow__node", recursive=False).select_one("[data-flow-error]")
    }
    assert marked == {first_wait.id, nested_wait.id}
    assert "jflow__node--error" not in str(node(flow, condition.id).select_one(".jflow__node"))

    # Without errors in the steps, nothing is marked.
    flow = diagram(admin_client.get(url("edit", journey.pk)))
    assert not flow.select("[data-flow-error]") and not flow.select("[data-flow-errors]")


# -- Journeys that are unusual -------------------------------------------------------------------


def test_a_new_journey_asks_for_a_draft_first(admin_client):
    flow = diagram(admin_client.get(url("add")))
    assert text(flow) == "Save a draft to see the diagram."


def test_an_empty_journey_and_a_deleted_template_still_show(admin_client):
    empty = new_journey("Empty", trigger=block("event", event="signed_up"), steps=[])
    flow = diagram(admin_client.get(url("edit", empty.pk)))
    assert not flow.select("[data-flow-step]")
    assert flow.select_one("[data-flow-start]") and flow.select_one("[data-flow-end]")

    journey, welcome, _gift = branching_journey()
    EmailTemplate.objects.filter(pk=welcome.pk).delete()
    flow = diagram(admin_client.get(url("edit", journey.pk)))
    summary = node(flow, journey.steps[0].id).select_one(".jflow__summary")
    assert text(summary) == "Send “(deleted template)”"


def test_editor_text_is_escaped(admin_client):
    template = email_template("<b>Bold</b> offer")
    journey = new_journey(
        "Escaped",
        trigger=block("event", event="signed_up"),
        steps=[
            block("send_email", template=template.pk),
            block("tag", action="add", tag="<script>alert(1)</script>"),
        ],
    )
    response = admin_client.get(url("edit", journey.pk))
    content = response.content.decode()
    assert "<script>alert(1)</script>" not in content
    assert "<b>Bold</b>" not in content
    flow = diagram(response)
    summaries = [text(n) for n in flow.select(".jflow__summary")]
    assert summaries == ["Send “<b>Bold</b> offer”", "Add tag “<script>alert(1)</script>”"]
