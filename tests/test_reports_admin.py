"""The reports in the admin: journeys, templates, links, one journey's page, the dashboard panel."""

import io
from datetime import timedelta

import pytest
from bs4 import BeautifulSoup
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from tests.admin_helpers import client_for
from tests.journey_helpers import email_template, fire, later, subscribed
from wagtail_journeys.analytics.counting import Tally
from wagtail_journeys.email import tracking
from wagtail_journeys.journeys.building import block, new_journey
from wagtail_journeys.models import Message

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("journeys_mail")]

HUMAN = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"
LINK = "https://shop.example.com/sale/?a=1&b=<2>"


def text(response):
    return " ".join(BeautifulSoup(response.content, "html.parser").get_text().split())


@pytest.fixture
def busy_journey(django_capture_on_commit_callbacks):
    """A journey five contacts went through: sent, two opened and clicked, one bought."""
    capture = django_capture_on_commit_callbacks
    template = email_template("Welcome <b>mail</b>", "Hi")
    journey = new_journey(
        "Welcome <script>x</script>",
        trigger=block("event", event="signed_up"),
        steps=[block("send_email", template=template.pk), block("wait", days=1)],
    )
    contacts = [subscribed() for _n in range(5)]
    for contact in contacts:
        fire(capture, contact, "signed_up")
    for message in Message.objects.all()[:2]:
        hit = tracking.Hit(user_agent=HUMAN, at=later(hours=1))
        tracking.record_open(message, hit, source="pixel")
        tracking.record_click(message, LINK, hit, source="redirect")
    fire(capture, contacts[0], "order_completed", total=30)
    return journey, template


def test_journeys_report_lists_numbers_and_exports_csv_and_xlsx(admin_client, busy_journey):
    journey, _template = busy_journey
    url = reverse("journeys_reports:index")
    response = admin_client.get(url)
    assert response.status_code == 200
    row = text(response)
    assert "Welcome <script>x</script>" in row  # shown as text, escaped in the HTML
    assert b"<script>x</script>" not in response.content
    assert "40.0 %" in row  # 2 of 5 opened

    csv = admin_client.get(url, {"export": "csv"})
    assert csv.status_code == 200
    lines = b"".join(csv.streaming_content).decode().splitlines()
    header, first = lines[0].split(","), lines[1].split(",")
    values = dict(zip(header, first, strict=False))
    assert values["Sent"] == "5"
    assert values["Converted"] == "1"
    assert values["In the journey now"] == "5"

    xlsx = admin_client.get(url, {"export": "xlsx"})
    sheet = load_workbook(io.BytesIO(b"".join(xlsx.streaming_content))).active
    rows = list(sheet.values)
    assert rows[1][rows[0].index("Opened")] == 2


def test_a_period_filter_limits_the_numbers_and_bad_dates_are_an_error(admin_client, busy_journey):
    url = reverse("journeys_reports:index")
    future = (timezone.localdate() + timedelta(days=10)).isoformat()
    response = admin_client.get(url, {"period_from": future, "period_to": future})
    assert response.status_code == 200
    assert "40.0 %" not in text(response)

    for bad in (
        {"period_from": "2026-02-30"},
        {"period_from": "2026-05-01", "period_to": "2026-04-01"},
        {"period_from": "2020-01-01", "period_to": "2026-01-01"},
    ):
        response = admin_client.get(url, bad)
        assert response.status_code == 200, bad


def test_template_and_link_reports(admin_client, busy_journey):
    _journey, template = busy_journey
    response = admin_client.get(reverse("journeys_reports:templates"))
    assert response.status_code == 200
    assert "Welcome <b>mail</b>" in text(response)
    assert "40.0 %" in text(response)

    links = admin_client.get(reverse("journeys_reports:links"), {"template_id": template.pk})
    assert links.status_code == 200
    assert LINK in text(links)
    assert (
        admin_client.get(reverse("journeys_reports:links"), {"template_id": "x"}).status_code == 200
    )
    csv = admin_client.get(reverse("journeys_reports:links"), {"export": "csv"})
    assert LINK in b"".join(csv.streaming_content).decode()


def test_the_journey_page_shows_numbers_chart_funnel_steps(admin_client, busy_journey):
    journey, _template = busy_journey
    response = admin_client.get(reverse("journeys_reports:journey", args=[journey.pk]))
    assert response.status_code == 200
    soup = BeautifulSoup(response.content, "html.parser")
    assert soup.select_one("[data-chart=daily] polyline") is not None
    funnel = [" ".join(li.get_text().split()) for li in soup.select("[data-chart=funnel] li")]
    assert funnel[0].startswith("Entered 5")
    assert funnel[-1].startswith("Converted 1")
    steps = soup.select("[data-report=steps] tbody tr")
    assert len(steps) == 2
    wait_cells = [cell.get_text() for cell in steps[1].find_all("td")]
    assert wait_cells[1] == "5"  # all five wait there now
    assert "Machine opens" in text(response)

    export = admin_client.get(
        reverse("journeys_reports:journey_steps", args=[journey.pk]), {"export": "csv"}
    )
    assert export.status_code == 200
    assert "Send" in b"".join(export.streaming_content).decode()
    assert admin_client.get(reverse("journeys_reports:journey", args=[99999])).status_code == 404


def test_the_journey_page_reads_counters_not_raw_rows(admin_client, busy_journey):
    journey, _template = busy_journey
    url = reverse("journeys_reports:journey", args=[journey.pk])
    admin_client.get(url)
    with CaptureQueriesContext(connection) as few:
        admin_client.get(url)
    # A lot more activity: the page makes the same queries.
    tally = Tally()
    for day in range(20):
        tally.add("sent", later(days=-day), journey_id=journey.pk, count=1000)
    tally.save()
    with CaptureQueriesContext(connection) as many:
        admin_client.get(url)
    assert len(many) == len(few)
    assert not any("journeys_steprun" in query["sql"] for query in many.captured_queries)


def test_reports_need_a_journey_permission(busy_journey):
    journey, _template = busy_journey
    nobody = client_for()
    assert nobody.get(reverse("journeys_reports:index")).status_code in (302, 403)
    assert nobody.get(reverse("journeys_reports:journey", args=[journey.pk])).status_code in (
        302,
        403,
    )
    editor = client_for("change_journey")
    assert editor.get(reverse("journeys_reports:index")).status_code == 200
    assert editor.get(reverse("journeys_reports:journey", args=[journey.pk])).status_code == 200


def test_the_dashboard_shows_the_last_seven_days(admin_client, busy_journey):
    response = admin_client.get(reverse("wagtailadmin_home"))
    assert response.status_code == 200
    soup = BeautifulSoup(response.content, "html.parser")
    panel = soup.select_one("[data-panel=journeys-summary]")
    assert panel is not None
    words = " ".join(panel.get_text(" ").split())
    assert "5 Entered a journey" in words
    assert "40.0 % Open rate" in words
    busiest = [cell.get_text(" ", strip=True) for cell in panel.select("tbody td")]
    assert busiest == ["Welcome <script>x</script>", "5", "5", "1"]
    # Without a journey permission the panel is not there.
    nobody = client_for()
    assert b"journeys-summary" not in nobody.get(reverse("wagtailadmin_home")).content


def test_the_menu_group_holds_reports(admin_client):
    response = admin_client.get(reverse("wagtailadmin_home"))
    assert reverse("journeys_reports:index").encode() in response.content


def test_a_journey_links_to_its_analytics_from_the_listing_and_the_editor(
    admin_client, busy_journey
):
    journey, _template = busy_journey
    target = reverse("journeys_reports:journey", args=[journey.pk]).encode()
    assert target in admin_client.get(reverse("journeys_journeys:list")).content
    assert target in admin_client.get(reverse("journeys_journeys:edit", args=[journey.pk])).content
