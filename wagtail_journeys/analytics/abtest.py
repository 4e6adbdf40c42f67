"""A/B verdicts: which variant of an email or branch of a split does best, and how sure we are.

Method: a one-sided two-proportion z-test (pooled standard error) of the
leading variant against each of the others, at the step's confidence with
a Bonferroni correction for the number of comparisons. No verdict before
every variant has the step's minimum number of recipients: early leads
are mostly noise. With automatic promotion on, the tick records the winner
(``ABDecision``) and every contact who reaches the step afterwards gets it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field

from django.db import IntegrityError, transaction
from django.utils.translation import gettext as _

from wagtail_journeys.analytics import reports
from wagtail_journeys.analytics.counting import run_metric
from wagtail_journeys.models import ABDecision, Journey

logger = logging.getLogger(__name__)

METHOD = _(
    "One-sided two-proportion z-test of the leader against each other variant "
    "(Bonferroni-corrected), after every variant reached the minimum sample."
)
#: Step types that can hold a test.
TESTED_STEPS = ("send_email", "ab_split")


@dataclass
class Arm:
    """One variant: how many got it and how many of them did the metric."""

    key: str
    label: str
    recipients: int
    successes: int
    p_value: float | None = None

    @property
    def rate(self) -> float | None:
        return min(self.successes, self.recipients) / self.recipients if self.recipients else None


@dataclass
class Verdict:
    metric: str
    confidence: float
    min_recipients: int
    arms: list[Arm] = field(default_factory=list)
    #: The winning arm, or None while no variant is significantly ahead.
    winner: Arm | None = None
    #: Why there is no winner yet (or that there is one), for the editor.
    summary: str = ""

    @property
    def leader(self) -> Arm | None:
        rated = [arm for arm in self.arms if arm.rate is not None]
        return max(rated, key=lambda arm: arm.rate) if rated else None


def _normal_sf(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2))


def one_sided_p(leader: Arm, other: Arm) -> float:
    """p-value of "the leader's rate is higher than the other's" (two-proportion z-test)."""
    n1, n2 = leader.recipients, other.recipients
    x1, x2 = min(leader.successes, n1), min(other.successes, n2)
    pooled = (x1 + x2) / (n1 + n2)
    spread = math.sqrt(pooled * (1 - pooled) * (1 / n1 + 1 / n2))
    if spread == 0:
        return 1.0
    return _normal_sf((x1 / n1 - x2 / n2) / spread)


def judge(arms: list[Arm], *, metric: str, confidence: float, min_recipients: int) -> Verdict:
    """The verdict for ``arms`` at ``confidence`` (e.g. 0.95)."""
    verdict = Verdict(metric=metric, confidence=confidence, min_recipients=min_recipients)
    verdict.arms = arms
    if len(arms) < 2:
        verdict.summary = _("There is only one variant.")
        return verdict
    short = [arm for arm in arms if arm.recipients < min_recipients]
    leader = verdict.leader
    if leader is not None:
        for arm in arms:
            if arm is not leader and arm.recipients:
                arm.p_value = one_sided_p(leader, arm)
    if short:
        verdict.summary = _(
            "Not enough data yet: every variant needs %(n)s recipients (fewest so far: %(least)s)."
        ) % {"n": min_recipients, "least": min(arm.recipients for arm in arms)}
        return verdict
    alpha = (1 - confidence) / (len(arms) - 1)
    others = [arm for arm in arms if arm is not leader]
    if all(arm.p_value is not None and arm.p_value < alpha for arm in others):
        verdict.winner = leader
        verdict.summary = _("%(name)s wins at %(confidence)s %% confidence.") % {
            "name": leader.label,
            "confidence": round(confidence * 100),
        }
    else:
        verdict.summary = _("No significant difference yet at %(confidence)s %% confidence.") % {
            "confidence": round(confidence * 100)
        }
    return verdict


def _inside(plan, step_id: str, split_id: str) -> str | None:
    """The branch of ``split_id`` that holds ``step_id`` (None: not inside it)."""
    node = plan.nodes.get(step_id)
    while node is not None and node.parent is not None:
        if node.parent == split_id:
            return node.parent_branch
        node = plan.nodes.get(node.parent)
    return None


def step_verdict(journey: Journey, plan, step_id: str, start=None, end=None) -> Verdict | None:
    """The verdict of the test at ``step_id`` (None: the step is not an A/B test)."""
    node = plan.nodes.get(step_id)
    if node is None or node.type not in TESTED_STEPS:
        return None
    settings = node.value["test"]
    metric = settings["metric"]
    common = {"journey_id": journey.pk}
    if node.type == "send_email":
        if not node.value["variants"]:
            return None
        by_variant = reports.totals_by("variant", start, end, step_id=step_id, **common)
        labels = ["A"] + [chr(ord("B") + n) for n in range(len(node.value["variants"]))]
        arms = [
            Arm(
                key,
                _("Variant %(name)s") % {"name": key},
                by_variant.get(key, reports.Totals()).sent,
                by_variant.get(key, reports.Totals()).count(metric),
            )
            for key in labels
        ]
    else:
        branched = reports.totals_by("variant", start, end, step_id=step_id, **common)
        by_step = reports.totals_by("step_id", start, end, **common)
        successes = dict.fromkeys(node.branches, 0)
        for other_id, counts in by_step.items():
            branch = _inside(plan, other_id, step_id)
            if branch in successes:
                successes[branch] += counts.count(metric)
        arms = [
            Arm(
                key,
                node.labels[key],
                branched.get(key, reports.Totals()).count(run_metric("branched")),
                successes[key],
            )
            for key in node.branches
        ]
    return judge(
        arms,
        metric=metric,
        confidence=float(settings["confidence"]),
        min_recipients=settings["min_recipients"],
    )


def promote_winners(now=None) -> int:
    """Record the winner of every auto-promoting test that has one; returns how many."""
    from wagtail_journeys.journeys.plan import build_plan

    decided = set(ABDecision.objects.values_list("journey_id", "step_id"))
    promoted = 0
    for journey in Journey.objects.filter(live=True, state=Journey.State.RUNNING):
        plan = build_plan(journey)
        for node in plan:
            if node.type not in TESTED_STEPS or (journey.pk, node.id) in decided:
                continue
            if not node.value["test"]["auto_promote"]:
                continue
            verdict = step_verdict(journey, plan, node.id)
            if verdict is None or verdict.winner is None:
                continue
            try:
                with transaction.atomic():
                    ABDecision.objects.create(
                        journey=journey,
                        step_id=node.id,
                        winner=verdict.winner.key,
                        winner_label=verdict.winner.label,
                        metric=verdict.metric,
                        confidence=verdict.confidence,
                        detail={
                            "method": str(METHOD),
                            "summary": str(verdict.summary),
                            "arms": [
                                {
                                    "key": arm.key,
                                    "label": arm.label,
                                    "recipients": arm.recipients,
                                    "successes": arm.successes,
                                    "p_value": arm.p_value,
                                }
                                for arm in verdict.arms
                            ],
                        },
                        **({"decided_at": now} if now else {}),
                    )
            except IntegrityError:
                continue  # another worker decided it at the same moment
            logger.info("A/B test %s of %s: %s", node.id, journey, verdict.summary)
            promoted += 1
    return promoted
