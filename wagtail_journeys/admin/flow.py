"""The journey editor's flow diagram: every step and branch, with what happened there.

``build_flow`` turns a journey (the version the editor shows) into a tree
of ``FlowStep`` and ``FlowBranch`` for the template, with the counts read
from the daily counters (``analytics.reports``) and the number of contacts
waiting at each step now. ``FlowPanel`` puts it at the top of the Steps
tab; each node links to its block in the StreamField editor (``flow.js``).
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from wagtail.admin.icons import get_icons
from wagtail.admin.panels import Panel
from wagtail.blocks import StreamValue
from wagtail.blocks.list_block import ListValue

from wagtail_journeys.analytics import reports
from wagtail_journeys.analytics.counting import message_metric
from wagtail_journeys.journeys.plan import Node, build_plan
from wagtail_journeys.journeys.steps import StepsBlock

STEPS_FIELD = "steps"
#: The metric counting the step runs that took a branch (one per contact and branch).
BRANCHED = "run_branched"


def _percent(rate: float | None) -> str | None:
    return None if rate is None else f"{rate:.0%}"


#: The steps that send a message, and on which channel.
SENDING_STEPS = {"send_email": "email", "send_sms": "sms", "send_push": "push"}


@dataclass(frozen=True)
class Counts:
    """What a node shows, read off ``reports.Totals`` once, the rates as percentages."""

    passed: int = 0
    sent: int = 0
    delivered: int = 0
    opened: int = 0
    clicked: int = 0
    converted: int = 0
    open_rate: str | None = None
    click_rate: str | None = None

    @classmethod
    def of(cls, totals: reports.Totals | None, step_type: str = "") -> Counts:
        if totals is None:
            return cls()
        channel = SENDING_STEPS.get(step_type, "email")
        if channel != "email":
            # SMS and push are counted apart (``sms_sent``, ``push_clicked``...).
            return cls(
                passed=totals.passed,
                sent=totals.count(message_metric("sent", channel)),
                delivered=totals.count(message_metric("delivered", channel)),
                clicked=totals.count(message_metric("clicked", channel)),
                converted=totals.count(message_metric("converted", channel)),
            )
        return cls(
            passed=totals.passed,
            sent=totals.sent,
            opened=totals.opened,
            clicked=totals.clicked,
            converted=totals.converted,
            open_rate=_percent(totals.open_rate),
            click_rate=_percent(totals.click_rate),
        )


@dataclass
class FlowBranch:
    """One branch of a branching step: its label, how many contacts took it, its steps."""

    key: str
    label: str
    taken: int
    steps: list[FlowStep] = field(default_factory=list)


@dataclass
class FlowStep:
    """One node of the diagram."""

    id: str
    type: str
    label: str
    icon: str
    summary: str
    #: Wagtail's content path of the block ("steps.<id>.yes.<id>"), for the link to it.
    path: str
    waiting: int
    counts: Counts
    has_error: bool = False
    branches: list[FlowBranch] = field(default_factory=list)

    @property
    def sends_email(self) -> bool:
        return self.type == "send_email"

    @property
    def channel(self) -> str:
        """``email``, ``sms`` or ``push`` for a sending step; empty for the others."""
        return SENDING_STEPS.get(self.type, "")


@dataclass
class Flow:
    """The whole diagram: the steps, the start's and the end's counts, the form's errors."""

    steps: list[FlowStep]
    entered: int
    completed: int
    exited: int
    #: Contacts in the journey now, wherever they are.
    waiting: int
    #: Contacts at a step this version does not have (removed in the draft, not yet published).
    waiting_elsewhere: int
    #: The submitted steps have errors; how many steps have their own, how many of those are shown.
    steps_invalid: bool = False
    error_count: int = 0
    errors_shown: int = 0


# -- Building ----------------------------------------------------------------------------------


def _is_steps(value) -> bool:
    """Is ``value`` a list of steps (a branch), not some other stream (rules, filters)?"""
    return isinstance(value, StreamValue) and isinstance(value.stream_block, StepsBlock)


def _icon(name: str | None) -> str:
    """``name`` if the admin has that icon, else the placeholder (never an empty box)."""
    # ``get_icons`` is the admin's sprite, built once per process.
    if name and f'id="icon-{name}"' in get_icons():
        return name
    return "placeholder"


def _summary(node: Node) -> str:
    # A draft may be saved incomplete, and the blocks' summaries expect complete
    # values: the diagram must show the rest of the journey whatever one step holds.
    try:
        return node.summary
    except (AttributeError, KeyError, TypeError, ValueError):
        return str(node.block.meta.label)


def _branch_path(value, key: str) -> str:
    """The content path from a branching step to the step list of its branch ``key``.

    A yes / no branch is a child of the step's StructBlock (``yes``); an A/B
    variant is a ListBlock item whose id is the key (``variants.<id>.steps``).
    """
    for name, child in value.items():
        if name == key and _is_steps(child):
            return name
        if isinstance(child, ListValue):
            for item in child.bound_blocks:
                if item.id != key:
                    continue
                inner = next((n for n, v in item.value.items() if _is_steps(v)), "steps")
                return f"{name}.{key}.{inner}"
    return key


def _branch_counts(journey_id: int, plan) -> dict[str, dict[str, int]]:
    """Step id → branch key → how many contacts took that branch (one query per branching step)."""
    counts: dict[str, dict[str, int]] = {}
    for node in plan:
        if node.branches:
            by_branch = reports.totals_by("variant", journey_id=journey_id, step_id=node.id)
            counts[node.id] = {key: totals.count(BRANCHED) for key, totals in by_branch.items()}
    return counts


def build_flow(
    journey, error_ids: set[str] | frozenset[str] = frozenset(), steps_invalid: bool = False
) -> Flow:
    """The diagram of ``journey``'s steps (``journey`` must be saved), with its counts.

    ``error_ids`` are the ids of the steps to mark as having errors;
    ``steps_invalid`` says the submitted steps had errors at all.
    """
    plan = build_plan(journey)
    waiting = reports.waiting_now(journey.pk)
    by_step = reports.totals_by("step_id", journey_id=journey.pk)
    taken = _branch_counts(journey.pk, plan)

    children: dict[tuple, list[Node]] = defaultdict(list)
    for node in plan:
        children[(node.parent, node.parent_branch)].append(node)

    def steps_of(parent: str | None, branch: str | None, path: str) -> list[FlowStep]:
        steps = []
        for node in children[(parent, branch)]:
            step_path = f"{path}.{node.id}"
            step = FlowStep(
                id=node.id,
                type=node.type,
                label=str(node.block.meta.label),
                icon=_icon(node.block.meta.icon),
                summary=_summary(node),
                path=step_path,
                waiting=waiting.get(node.id, 0),
                counts=Counts.of(by_step.get(node.id), node.type),
                has_error=node.id in error_ids,
            )
            for key, label in node.labels.items():
                branch_path = f"{step_path}.{_branch_path(node.value, key)}"
                step.branches.append(
                    FlowBranch(
                        key=key,
                        label=label,
                        taken=taken.get(node.id, {}).get(key, 0),
                        steps=steps_of(node.id, key, branch_path),
                    )
                )
            steps.append(step)
        return steps

    steps = steps_of(None, None, STEPS_FIELD)
    totals = reports.totals(journey_id=journey.pk)
    return Flow(
        steps=steps,
        entered=totals.entered,
        completed=totals.completed,
        exited=totals.exited,
        waiting=sum(waiting.values()),
        waiting_elsewhere=sum(n for step_id, n in waiting.items() if step_id not in plan),
        steps_invalid=steps_invalid or bool(error_ids),
        error_count=len(error_ids),
        errors_shown=sum(1 for step_id in error_ids if step_id in plan),
    )


# -- Errors of a submitted form ----------------------------------------------------------------


def _stream_error_ids(error, stream: StreamValue, found: set[str]) -> None:
    """Collect the ids of the steps of ``stream`` that ``error`` (a stream's error) blames."""
    children = list(stream) if stream is not None else []
    for index, child_error in (getattr(error, "block_errors", None) or {}).items():
        if not isinstance(index, int) or index >= len(children):
            continue
        child = children[index]
        own = bool(getattr(child_error, "non_block_errors", None))
        nested = getattr(child_error, "block_errors", None)
        if not isinstance(nested, dict):
            own = True
            nested = {}
        for name, field_error in nested.items():
            value = child.value.get(name) if hasattr(child.value, "get") else None
            if not _branch_error_ids(field_error, value, found):
                own = True
        if own and child.id:
            found.add(child.id)


def _branch_error_ids(error, value, found: set[str]) -> bool:
    """Follow ``error`` into nested steps; False if it is the field's own error."""
    if _is_steps(value):
        _stream_error_ids(error, value, found)
        return not getattr(error, "non_block_errors", None)
    if isinstance(value, ListValue) and isinstance(getattr(error, "block_errors", None), dict):
        items = list(value.bound_blocks)
        nested_only = not getattr(error, "non_block_errors", None)
        for index, item_error in error.block_errors.items():
            if not isinstance(index, int) or index >= len(items):
                continue
            item_errors = getattr(item_error, "block_errors", None)
            if not isinstance(item_errors, dict) or getattr(item_error, "non_block_errors", None):
                nested_only = False
                continue
            for name, field_error in item_errors.items():
                if not _branch_error_ids(field_error, items[index].value.get(name), found):
                    nested_only = False
        return nested_only
    return False


def error_step_ids(form) -> set[str]:
    """Ids of the steps whose own fields have errors in a submitted journey form.

    Wagtail reports a StreamField's errors by position (step 2 › yes › step 1
    › days); the submitted steps give each position its block id.
    """
    if form is None or not form.is_bound or STEPS_FIELD not in form.errors:
        return set()
    try:
        submitted = form[STEPS_FIELD].data
    except (KeyError, ValueError, ValidationError):
        return set()
    found: set[str] = set()
    if isinstance(submitted, StreamValue):
        for error in form.errors.as_data()[STEPS_FIELD]:
            _stream_error_ids(error, submitted, found)
    return found


# -- The panel ---------------------------------------------------------------------------------


class FlowPanel(Panel):
    """The flow diagram, at the top of the Steps tab (beside the steps on a wide screen)."""

    def __init__(self, **kwargs):
        kwargs.setdefault("heading", _("Flow diagram"))
        kwargs.setdefault("icon", "redirect")
        kwargs.setdefault("attrs", {"data-journey-flow-panel": ""})
        super().__init__(**kwargs)

    class BoundPanel(Panel.BoundPanel):
        template_name = "wagtail_journeys/journeys/flow_diagram.html"

        class Media:
            css = {"all": ["wagtail_journeys/flow.css"]}
            js = ["wagtail_journeys/flow.js"]

        def journey(self):
            """The version to draw: the editor's, or the last saved one after a refused submit."""
            instance = self.instance
            if instance is None or instance.pk is None:
                return None
            if self.form is not None and self.form.is_bound:
                # The form may have copied part of the refused submission onto the
                # instance: draw what was saved, which the counts also refer to.
                live = type(instance).objects.filter(pk=instance.pk).first()
                return live.get_latest_revision_as_object() if live is not None else None
            return instance

        def get_context_data(self, parent_context=None):
            context = super().get_context_data(parent_context)
            journey = self.journey()
            context["flow"] = None
            if journey is not None:
                invalid = self.form is not None and STEPS_FIELD in self.form.errors
                context["flow"] = build_flow(journey, error_step_ids(self.form), invalid)
            return context
