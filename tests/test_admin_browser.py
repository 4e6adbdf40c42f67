"""The admin in a real browser, as an editor uses it; each test saves its screens for the docs.

The editor is not a superuser: a group gives them the admin, journeys
(publishing included), email templates and contacts, which is what the
docs tell a site to give its marketing team. Contacts go through the real
pipeline (``track``, dispatch, delivery through Anymail's test backend):
django-q2 runs synchronously in the tests and the live server shares the
test's database.

With ``JOURNEYS_SCREENSHOTS=1`` (``make screenshots``) the screenshots land
in docs/images/, so the documentation shows the admin as it is.
"""

from __future__ import annotations

import math
import os
import tempfile
from pathlib import Path

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.urls import reverse

from tests.conftest import BROWSER_UA
from tests.journey_helpers import subscribed
from wagtail_journeys import track
from wagtail_journeys.email.tracking import Hit, record_click, record_open
from wagtail_journeys.journeys.templates import get_template
from wagtail_journeys.models import Journey, Message

pytestmark = [
    pytest.mark.browser,
    pytest.mark.django_db(transaction=True),
    pytest.mark.usefixtures("journeys_mail"),
]

#: The docs' screenshots are rewritten only on request (``make screenshots``), so that
#: ``make test`` leaves the checkout as it found it; otherwise they go to a scratch directory
#: (the screenshot code still runs).
IMAGES = (
    Path(__file__).parents[1] / "docs" / "images"
    if os.environ.get("JOURNEYS_SCREENSHOTS")
    else Path(tempfile.gettempdir()) / "journeys-screenshots"
)
VIEWPORT = {"width": 1400, "height": 900}
PASSWORD = "a-long-editor-password"
#: Playwright's wait for any one element or page, in milliseconds.
TIMEOUT = 15_000
WELCOME = "Welcome, Ada!"

#: What a marketing team's group gets: codenames of wagtail_journeys' permissions.
EDITOR_PERMISSIONS = [
    "add_journey",
    "change_journey",
    "view_journey",
    "publish_journey",
    "add_emailtemplate",
    "change_emailtemplate",
    "view_emailtemplate",
    "view_contact",
    "change_contact",
    "view_message",
]


@pytest.fixture
def editor(db, settings):
    """A user in a "Marketing" group with the journeys' permissions, not a superuser."""
    # The default avatar: the browser has no network to fetch a Gravatar.
    settings.WAGTAIL_GRAVATAR_PROVIDER_URL = None
    user = User.objects.create_user("editor", "editor@example.com", PASSWORD)
    group = Group.objects.create(name="Marketing")
    group.permissions.set(
        [Permission.objects.get(content_type__app_label="wagtailadmin", codename="access_admin")]
        + list(
            Permission.objects.filter(
                content_type__app_label="wagtail_journeys", codename__in=EDITOR_PERMISSIONS
            )
        )
    )
    user.groups.add(group)
    return user


@pytest.fixture
def page(chromium, live_server, editor):
    """A browser tab logged in as the editor, through the admin's login form."""
    context = chromium.new_context(base_url=live_server.url, viewport=VIEWPORT)
    context.set_default_timeout(TIMEOUT)
    tab = context.new_page()
    tab.goto(reverse("wagtailadmin_login"))
    tab.fill("input[name=username]", editor.username)
    tab.fill("input[name=password]", PASSWORD)
    tab.click("form button[type=submit]")
    tab.wait_for_url(f"**{reverse('wagtailadmin_home')}")
    yield tab
    context.close()


#: The bottom of the lowest content of the page, in CSS pixels. Wagtail's admin scrolls
#: inside its own containers, not the document, which a full-page screenshot alone misses.
CONTENT_BOTTOM = """() => Math.max(
    document.documentElement.scrollHeight,
    ...Array.from(document.querySelectorAll("body *"))
        .filter((el) => el.scrollHeight > el.clientHeight
            && ["auto", "scroll"].includes(getComputedStyle(el).overflowY))
        .map((el) => el.getBoundingClientRect().top + el.scrollHeight),
)"""
#: The tallest screenshot saved, in CSS pixels (a journey's every step expanded is long).
MAX_HEIGHT = 4000


def screenshot(page, name: str) -> None:
    """Save the whole page as ``docs/images/<name>``, as wide as the viewport."""
    IMAGES.mkdir(parents=True, exist_ok=True)
    height = min(MAX_HEIGHT, max(VIEWPORT["height"], math.ceil(page.evaluate(CONTENT_BOTTOM))))
    page.set_viewport_size({"width": VIEWPORT["width"], "height": height})
    try:
        page.screenshot(path=IMAGES / name, full_page=True)
    finally:
        page.set_viewport_size(VIEWPORT)


def first_step(steps, block_type: str):
    return next(child for child in steps if child.block_type == block_type)


def counts(flow, box: str) -> dict[str, str]:
    """The counts of one box of the flow diagram, by label: {"Waiting here": "1", ...}.

    ``box`` selects the box: ``[data-flow-start]``, or a step's ``[data-flow-node="<id>"]``
    (whose own counts, not those of the steps in its branches).
    """
    counts = flow.locator(f"{box} > .jflow__counts, {box} > .jflow__node > .jflow__counts")
    terms = counts.locator("dt").all_inner_texts()
    values = counts.locator("dd").all_inner_texts()
    return dict(zip(terms, values, strict=True))


@pytest.fixture
def running_journeys(db, settings, journeys_mail):
    """The welcome series live with three contacts in it (one opened, one clicked); the
    abandoned cart live too, which none of them entered."""
    # The opens come a moment after sending: not too soon to be a person's.
    settings.WAGTAIL_JOURNEYS = {**settings.WAGTAIL_JOURNEYS, "MACHINE_SECONDS": 0}
    journey = get_template("welcome-series").create(publish=True)
    get_template("abandoned-cart").create(publish=True)
    contacts = [
        subscribed(first_name=name, email=f"{name.lower()}@example.com")
        for name in ("Ada", "Grace", "Alan")
    ]
    for contact in contacts:
        track(contact, "contact_subscribed")
    ada, grace, _alan = contacts
    for contact in (ada, grace):
        record_open(
            Message.objects.get(contact=contact), Hit(user_agent=BROWSER_UA), source="pixel"
        )
    record_click(
        Message.objects.get(contact=ada),
        "https://shop.example.com/",
        Hit(user_agent=BROWSER_UA),
        source="redirect",
    )
    return journey, ada


def test_editor_creates_a_journey_from_a_template_changes_a_wait_and_publishes(page):
    # The Journeys listing, then its "Create from template" gallery.
    page.goto(reverse("journeys_journeys:list"))
    page.get_by_role("link", name="Create from template").click()
    row = page.locator("tr[data-template=welcome-series]")
    row.wait_for()
    screenshot(page, "journey-gallery.png")
    row.get_by_role("button", name="Create this journey").click()

    page.locator(".messages").get_by_text("created as a draft").wait_for()
    journey = Journey.objects.get(name="Welcome series")
    assert not journey.live
    wait = first_step(journey.steps, "wait")
    assert wait.value["days"] == 1

    # The flow diagram opens the wait step in the steps editor.
    page.get_by_role("tab", name="Steps").click()
    page.locator(f'[data-journey-flow] [data-flow-step="{wait.id}"]').click()
    days = page.locator(
        f'[data-contentpath="steps"] [data-contentpath="{wait.id}"] [data-contentpath="days"] input'
    )
    days.fill("2")

    revisions = journey.revisions.count()
    page.locator("footer [data-w-dropdown-target=toggle]").click()
    page.get_by_role("button", name="Publish", exact=True).click()
    page.locator(".messages").get_by_text("updated and published").wait_for()

    journey.refresh_from_db()
    assert journey.live
    assert first_step(journey.steps, "wait").value["days"] == 2
    assert journey.revisions.count() == revisions + 1
    assert journey.live_revision == journey.latest_revision

    # A contact subscribes: the welcome email goes out and they wait two days.
    contact = subscribed(first_name="Ada")
    track(contact, "contact_subscribed")
    assert list(Message.objects.filter(contact=contact).values_list("subject", flat=True)) == [
        WELCOME
    ]

    page.goto(reverse("journeys_journeys:edit", args=[journey.pk]))
    page.get_by_role("tab", name="Steps").click()
    flow = page.locator("[data-journey-flow]")
    flow.wait_for()
    send = first_step(journey.steps, "send_email")
    assert counts(flow, "[data-flow-start]") == {
        "Entered": "1",
        "In the journey now": "1",
    }
    sent = counts(flow, f'[data-flow-node="{send.id}"]')
    assert (sent["Sent"], sent["Passed"], sent["Waiting here"]) == ("1", "1", "0")
    waiting = counts(flow, f'[data-flow-node="{wait.id}"]')
    assert waiting["Waiting here"] == "1"
    assert (
        flow.locator(f'[data-flow-node="{wait.id}"] .jflow__summary').inner_text() == "Wait 2 days"
    )
    # Folded, the steps leave the diagram beside them the whole height of the picture.
    for step in journey.steps:
        toggle = page.locator(f'[data-contentpath="{step.id}"] [data-panel-toggle]').first
        if toggle.get_attribute("aria-expanded") == "true":
            toggle.click()
    screenshot(page, "journey-editor-flow.png")


def test_dashboard_panel_leads_to_the_journey_chart(page, running_journeys):
    journey, _ada = running_journeys

    page.goto(reverse("wagtailadmin_home"))
    panel = page.locator("[data-panel=journeys-summary]")
    panel.wait_for()
    tiles = dict(
        zip(
            panel.locator(".journeys-tile__label").all_inner_texts(),
            panel.locator(".journeys-tile__value").all_inner_texts(),
            strict=True,
        )
    )
    assert (tiles["Entered a journey"], tiles["Emails sent"]) == ("3", "3")
    screenshot(page, "dashboard.png")

    panel.get_by_role("link", name=journey.name).click()
    page.wait_for_url(f"**{reverse('journeys_reports:journey', args=[journey.pk])}")
    lines = page.locator("[data-chart=daily] polyline")
    lines.first.wait_for()
    assert lines.count() == 5
    for index in range(lines.count()):
        points = lines.nth(index).get_attribute("points").split()
        assert len(points) == 30  # the last 30 days, today included
    # Today's "entered" is 3, the chart's top: its last point is at the top of the drawing.
    entered = page.locator("[data-chart=daily] polyline.journeys-chart__line--entered")
    first_y = float(entered.get_attribute("points").split()[0].split(",")[1])
    last_y = float(entered.get_attribute("points").split()[-1].split(",")[1])
    assert last_y < first_y
    funnel = page.locator("[data-chart=funnel] li").all_inner_texts()
    assert [stage.split()[:2] for stage in funnel][:2] == [["Entered", "3"], ["Sent", "3"]]
    screenshot(page, "journey-analytics.png")

    page.get_by_role("navigation", name="Main menu").get_by_role("button", name="Journeys").click()
    page.get_by_role("navigation", name="Main menu").get_by_role("link", name="Reports").click()
    page.locator("table.listing").get_by_role("link", name=journey.name).wait_for()
    screenshot(page, "reports.png")


def test_contact_timeline_and_why(page, running_journeys):
    journey, ada = running_journeys

    page.goto(reverse("journeys_contacts:index"))
    page.get_by_role("link", name=ada.email).click()
    timeline = page.locator("#timeline")
    timeline.wait_for()
    # What she did, what she was sent and each step she went through, newest first.
    assert timeline.locator("tr[data-kind=event]").get_by_text("contact_subscribed").count() == 1
    assert timeline.locator("tr[data-kind=message]").get_by_text(WELCOME).count() == 1
    assert timeline.locator("tr[data-kind=event]").get_by_text("email_clicked").count() == 1
    steps = timeline.locator("tr[data-kind=step]").all_inner_texts()
    assert len(steps) == 3  # entered, sent the welcome email, waiting
    assert all(journey.name in step for step in steps)
    screenshot(page, "contact-detail.png")

    page.locator("#profile").get_by_role("link", name="Journeys: why").click()
    entered = page.locator(f"section[data-journey='{journey.pk}']")
    entered.wait_for()
    assert "Waiting" in entered.inner_text()
    cart = Journey.objects.get(name="Abandoned cart")
    never = page.locator(f"section[data-journey='{cart.pk}']")
    assert "Never entered" in never.inner_text()
    assert never.get_by_text("keeps them out").count() >= 1
    screenshot(page, "contact-why.png")
