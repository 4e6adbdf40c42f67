"""A/B verdicts: the z-test, the minimum-sample guard, and automatic promotion of a winner."""

import pytest
from django.core import mail

from tests.journey_helpers import email_template, fire, later, subscribed, tick_at
from wagtail_journeys.analytics import abtest
from wagtail_journeys.analytics.abtest import Arm, judge
from wagtail_journeys.email import tracking
from wagtail_journeys.journeys.building import block, new_journey, variant
from wagtail_journeys.journeys.plan import build_plan
from wagtail_journeys.models import ABDecision, Message

HUMAN = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0"


def arms(*pairs):
    return [
        Arm(chr(ord("A") + n), f"Variant {n}", sent, won) for n, (sent, won) in enumerate(pairs)
    ]


def test_z_test_matches_the_textbook_value():
    verdict = judge(
        arms((1000, 200), (1000, 150)), metric="opened", confidence=0.95, min_recipients=100
    )
    # pooled p = 0.175, se = sqrt(0.175 * 0.825 * 2 / 1000), z = 2.9427, P(Z > z) = 0.001627
    assert verdict.arms[1].p_value == pytest.approx(0.001627, abs=1e-5)
    assert verdict.winner.key == "A"
    assert "A" not in verdict.summary or "wins" in verdict.summary


def test_no_verdict_before_every_variant_reached_the_minimum():
    verdict = judge(
        arms((1000, 200), (99, 1)), metric="opened", confidence=0.95, min_recipients=100
    )
    assert verdict.winner is None
    assert "Not enough data" in verdict.summary


def test_a_small_difference_is_no_verdict_and_three_arms_are_corrected():
    close = judge(arms((500, 100), (500, 90)), metric="opened", confidence=0.95, min_recipients=100)
    assert close.winner is None
    assert "No significant difference" in close.summary
    # B beats A with p ≈ 0.034 < 0.05, but with three arms each comparison needs p < 0.025.
    three = judge(
        arms((500, 100), (500, 124), (500, 60)),
        metric="opened",
        confidence=0.95,
        min_recipients=100,
    )
    assert three.leader.key == "B"
    assert 0.025 < three.arms[0].p_value < 0.05
    assert three.winner is None


def test_equal_and_empty_arms_are_no_verdict():
    assert (
        judge(arms((200, 0), (200, 0)), metric="x", confidence=0.9, min_recipients=10).winner
        is None
    )
    assert judge(arms((0, 0), (0, 0)), metric="x", confidence=0.9, min_recipients=0).winner is None
    assert judge(arms((100, 5)), metric="x", confidence=0.9, min_recipients=0).winner is None


def _open(message):
    tracking.record_open(message, tracking.Hit(user_agent=HUMAN, at=later(hours=2)), source="pixel")


@pytest.mark.django_db
@pytest.mark.usefixtures("journeys_mail")
def test_the_winning_subject_is_promoted_and_sent_to_everyone_after(
    django_capture_on_commit_callbacks,
):
    capture = django_capture_on_commit_callbacks
    template = email_template("Offer", "Plain subject")
    test = {"metric": "opened", "auto_promote": True, "min_recipients": 10, "confidence": "0.95"}
    journey = new_journey(
        "Offer",
        trigger=block("event", event="signed_up"),
        steps=[
            block(
                "send_email",
                template=template.pk,
                variants=[{"subject": "Exciting subject", "template": None}],
                test=test,
            )
        ],
    )
    for _n in range(40):
        fire(capture, subscribed(), "signed_up")
    by_variant = {key: list(Message.objects.filter(variant=key)) for key in ("A", "B")}
    assert len(by_variant["A"]) >= 10 and len(by_variant["B"]) >= 10
    for message in by_variant["B"]:
        _open(message)

    tick_at(capture, later(hours=3))
    decision = ABDecision.objects.get(journey=journey)
    assert (decision.winner, decision.metric) == ("B", "opened")
    assert {arm["key"]: arm["successes"] for arm in decision.detail["arms"]}["A"] == 0
    assert "z-test" in decision.detail["method"]

    mail.outbox = []
    for _n in range(10):
        fire(capture, subscribed(), "signed_up")
    assert {email.subject for email in mail.outbox} == {"Exciting subject"}
    tick_at(capture, later(hours=4))
    assert ABDecision.objects.count() == 1


@pytest.mark.django_db
@pytest.mark.usefixtures("journeys_mail")
def test_a_split_is_judged_on_the_steps_inside_each_branch(django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    first, second = email_template("One"), email_template("Two")
    test = {"metric": "opened", "auto_promote": False, "min_recipients": 10, "confidence": "0.9"}
    split = block(
        "ab_split",
        variants=[
            variant("plain", [block("send_email", template=first.pk, variants=[])]),
            variant("fancy", [block("send_email", template=second.pk, variants=[])]),
        ],
        test=test,
    )
    journey = new_journey("Split", trigger=block("event", event="signed_up"), steps=[split])
    for _n in range(40):
        fire(capture, subscribed(), "signed_up")
    for message in Message.objects.filter(template=second):
        _open(message)

    plan = build_plan(journey)
    verdict = abtest.step_verdict(journey, plan, journey.steps[0].id)
    by_label = {arm.label: arm for arm in verdict.arms}
    assert by_label["plain"].recipients + by_label["fancy"].recipients == 40
    assert by_label["fancy"].successes == by_label["fancy"].recipients
    assert verdict.winner.label == "fancy"
    # Not auto-promoting: the tick records nothing.
    tick_at(capture, later(hours=3))
    assert not ABDecision.objects.exists()
