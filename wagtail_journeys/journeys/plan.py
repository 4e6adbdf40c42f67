"""A journey's steps as a graph: each step knows what comes after it and where branches lead.

The steps are a tree of StreamField blocks (branches hold nested lists);
the interpreter needs, for any step id, the step itself, the step that
follows it once it is done (the next one in its list, or whatever follows
the branching step that holds the list), and the first step of each branch.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Node:
    """One step of a plan."""

    id: str
    type: str
    block: Any
    value: Any
    #: The step that follows this one when it is done (None: the journey ends).
    next: str | None
    #: Where each branch leads: its first step, or ``next`` for an empty branch.
    branches: dict[str, str | None] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)
    #: The branching step this one is inside, and which of its branches.
    parent: str | None = None
    parent_branch: str | None = None
    depth: int = 0

    @property
    def summary(self) -> str:
        return self.block.summary(self.value)


@dataclass
class Plan:
    """Every step of one version of a journey, by block id, in reading order."""

    nodes: dict[str, Node] = field(default_factory=dict)
    first: str | None = None

    def __contains__(self, step_id: str) -> bool:
        return step_id in self.nodes

    def __getitem__(self, step_id: str) -> Node:
        return self.nodes[step_id]

    def __iter__(self):
        return iter(self.nodes.values())

    def surviving_successor(self, step_id: str, other: Plan) -> str | None:
        """The first step after ``step_id`` here that also exists in ``other`` (None: the end).

        The rule for a contact whose step a live edit removed: they go on
        with the step that followed theirs, if it survived, and so on.
        """
        current = self.nodes[step_id].next if step_id in self.nodes else None
        while current is not None and current not in other:
            current = self.nodes[current].next
        return current


def _walk(plan: Plan, steps, after: str | None, parent: str | None, branch: str | None, depth: int):
    children = list(steps or [])
    ids = [child.id for child in children]
    for index, child in enumerate(children):
        following = ids[index + 1] if index + 1 < len(ids) else after
        node = Node(
            id=child.id,
            type=child.block_type,
            block=child.block,
            value=child.value,
            next=following,
            parent=parent,
            parent_branch=branch,
            depth=depth,
        )
        plan.nodes[child.id] = node
        for key, label, nested in child.block.branches(child.value):
            nested = list(nested or [])
            node.branches[key] = nested[0].id if nested else following
            node.labels[key] = label
            _walk(plan, nested, following, child.id, key, depth + 1)
    return ids[0] if ids else after


def build_plan(journey) -> Plan:
    """The plan of ``journey``'s steps (a Journey, or a revision's object)."""
    plan = Plan()
    plan.first = _walk(plan, journey.steps, None, None, None, 0)
    return plan


#: Plans of pinned revisions, shared by every enrollment of a batch (and of later ones).
_CACHE: OrderedDict[tuple, tuple[float, Any, Plan]] = OrderedDict()
_CACHE_SIZE = 64
#: Revisions never change, but the snippets their blocks hold (templates,
#: segments) are read with them: a cached plan is rebuilt after this long.
_CACHE_SECONDS = 60.0


def revision_plan(revision) -> tuple[Any, Plan]:
    """(journey as of ``revision``, its plan), cached by revision for a minute."""
    # The creation time is in the key because a rolled-back transaction can hand
    # the same id to another revision (SQLite, tests).
    key = (revision.pk, revision.created_at)
    cached = _CACHE.get(key)
    if cached is not None and time.monotonic() < cached[0]:
        _CACHE.move_to_end(key)
        return cached[1], cached[2]
    journey = revision.as_object()
    plan = build_plan(journey)
    _CACHE[key] = (time.monotonic() + _CACHE_SECONDS, journey, plan)
    _CACHE.move_to_end(key)
    if len(_CACHE) > _CACHE_SIZE:
        _CACHE.popitem(last=False)
    return journey, plan
