"""The report counters: kept up to date by the real pipeline, equal to a rebuild from raw rows."""

import io
from collections import Counter
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.management import call_command

from tests.journey_helpers import email_template, fire, later, subscribed, tick_at
from wagtail_journeys.analytics import reports
from wagtail_journeys.analytics.conversions import conversion_value
from wagtail_journeys.analytics.counting import Tally
from wagtail_journeys.email import consent, tracking
from wagtail_journeys.journeys.building import block, new_journey
from wagtail_journeys.models import ConsentRecord, DailyStat, Message, MessageEvent

pytestmark = [pytest.mark.django_db, pytest.mark.usefixtures("journeys_mail")]

HUMAN = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"
LINK = "https://shop.example.com/sale/"


def snapshot():
    return sorted(
        DailyStat.objects.values_list(
            "day",
            "journey_id",
            "step_id",
            "variant",
            "template_id",
            "metric",
            "label",
            "count",
            "amount",
        )
    )


def _journey():
    first = email_template("First", "First for {{ contact.first_name }}")
    second = email_template("Second", "Second")
    return (
        new_journey(
            "Series",
            trigger=block("event", event="signed_up"),
            steps=[
                block(
                    "send_email",
                    template=first.pk,
                    variants=[{"subject": "Other", "template": None}],
                ),
                block("wait", days=1),
                block("send_email", template=second.pk),
            ],
            goals=[block("event", event="goal_done", filters=[])],
        ),
        first,
        second,
    )


def _open_and_click(message, at):
    hit = tracking.Hit(user_agent=HUMAN, at=at)
    tracking.record_open(message, hit, source="pixel")
    tracking.record_click(message, LINK, hit, source="redirect")
    tracking.record_click(message, LINK, hit, source="redirect")
    # A link scanner right after sending: kept apart, never counted as a person.
    scanner = tracking.Hit(user_agent="", at=message.sent_at)
    tracking.record_open(message, scanner, source="pixel")


def test_counters_follow_the_pipeline_and_equal_a_rebuild(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    journey, first, second = _journey()
    contacts = [subscribed(first_name=f"C{n}") for n in range(6)]
    for contact in contacts:
        fire(capture, contact, "signed_up")
    sent = list(Message.objects.filter(status=Message.Status.SENT).order_by("pk"))
    assert len(sent) == 6

    # Two read it and click; one of them buys; one unsubscribes; one reaches the goal.
    for message in sent[:2]:
        _open_and_click(message, later(hours=1))
    fire(capture, contacts[0], "order_completed", total=42.5, order_ref="A1")
    consent.unsubscribe(contacts[2], method=ConsentRecord.Method.UNSUBSCRIBE_LINK, message=sent[2])
    fire(capture, contacts[3], "goal_done")
    tick_at(capture, later(days=1, minutes=5))

    total = reports.totals(journey_id=journey.pk)
    assert total.entered == 6
    assert total.sent == 6 + 4  # the unsubscribed and the goal-reacher got no second email
    assert total.opened == 2
    assert total.clicked == 2
    assert total.clicks == 4
    assert total.machine_opens == 2
    assert total.converted == 1
    assert total.revenue == Decimal("42.50")
    assert total.unsubscribed == 1
    assert total.exited == 1
    assert total.open_rate == pytest.approx(2 / 10)
    assert total.click_to_open == 1.0
    assert dict(reports.exit_reasons(journey.pk)) == {"Goal reached: did goal_done.": 1}
    assert reports.link_clicks(journey_id=journey.pk) == [(LINK, 4)]

    steps = reports.totals_by("step_id", journey_id=journey.pk)
    send_first = journey.steps[0].id
    assert steps[send_first].sent == 6
    assert steps[send_first].converted == 1
    assert steps[journey.steps[2].id].sent == 4
    variants = reports.totals_by("variant", journey_id=journey.pk, step_id=send_first)
    # Which contact gets which variant hangs on the step's random id: compare with the messages.
    sent_variants = Counter(
        Message.objects.filter(step_id=send_first).values_list("variant", flat=True)
    )
    assert {name: counts.sent for name, counts in variants.items() if counts.sent} == dict(
        sent_variants
    )
    assert set(sent_variants) <= {"A", "B"}
    by_template = reports.totals_by("template_id")
    assert by_template[second.pk].sent == 4

    incremental = snapshot()
    call_command("journeys_rebuild_stats", stdout=io.StringIO())
    assert snapshot() == incremental


def test_a_conversion_counts_once_per_message_within_the_window(
    django_capture_on_commit_callbacks,
):
    capture = django_capture_on_commit_callbacks
    journey, *_ = _journey()
    contact = subscribed()
    fire(capture, contact, "signed_up")
    fire(capture, contact, "order_completed", total="10.00")
    fire(capture, contact, "order_completed", total="99.00")
    assert reports.totals(journey_id=journey.pk).converted == 1
    assert reports.totals(journey_id=journey.pk).revenue == Decimal("10.00")
    assert MessageEvent.objects.filter(kind=MessageEvent.Kind.CONVERTED).count() == 1

    # Past the window (7 days by default), an order is nobody's conversion.
    other = subscribed()
    fire(capture, other, "signed_up")
    Message.objects.filter(contact=other).update(sent_at=later(days=-8))
    fire(capture, other, "order_completed", total=5)
    assert reports.totals(journey_id=journey.pk).converted == 1


@pytest.mark.parametrize(
    ("properties", "value"),
    [
        ({"total": 12.345}, Decimal("12.35")),
        ({"value": "7"}, Decimal("7.00")),
        ({"total": "NaN", "revenue": 3}, Decimal("3.00")),
        ({"total": True}, Decimal(0)),
        ({"total": "1e400"}, Decimal(0)),
        ({"total": [1]}, Decimal(0)),
        (None, Decimal(0)),
    ],
)
def test_conversion_value_takes_only_finite_numbers(properties, value):
    assert conversion_value(properties) == value


def test_tally_adds_up_in_one_statement_per_batch(django_assert_num_queries):
    tally = Tally()
    now = later()
    for n in range(1200):
        tally.add("sent", now, journey_id=1, step_id=f"s{n % 3}")
    tally.add("converted", now, journey_id=1, amount=Decimal("2.50"))
    with django_assert_num_queries(1):
        tally.save()
    tally.add("sent", now + timedelta(seconds=1), journey_id=1, step_id="s0")
    tally.save()
    assert reports.totals(journey_id=1).sent == 1201
    assert reports.totals_by("step_id", journey_id=1)["s0"].sent == 401
    assert reports.totals(journey_id=1).revenue == Decimal("2.50")


def test_rates_without_a_base_are_none():
    empty = reports.Totals()
    assert empty.open_rate is None
    assert empty.click_to_open is None
    assert empty.bounce_rate is None


def test_the_daily_chart_has_round_ticks_and_a_point_per_day():
    from datetime import date

    from wagtail_journeys.analytics import charts

    days = [(date(2026, 11, day), reports.Totals()) for day in range(1, 11)]
    days[3][1].add("sent", 7, 0)
    chart = charts.line_chart(days, [("sent", "Sent", "sent")])
    assert [value for _y, value in chart.y_labels] == [0, 2, 4, 6, 8]
    assert len(chart.series[0].points.split()) == 10
    assert chart.series[0].total == 7
    assert not chart.empty
    assert charts.line_chart([], []).empty
    stages = charts.funnel([("Entered", 10), ("Sent", 5), ("Opened", 0), ("Clicked", 0)])
    assert [stage.percent for stage in stages] == [100.0, 50.0, 0.0, 0.0]
    assert stages[1].of_previous == 0.5
    assert stages[3].of_previous is None
