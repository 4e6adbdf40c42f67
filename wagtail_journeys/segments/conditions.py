"""Rules grouped with AND / OR / NOT, compiled into one query: the one condition engine.

Segments, journey entry rules, condition splits and conditional email
content all hold a ``ConditionBlock`` value and ask it the same two
questions through this module:

- ``matching(value)``: a queryset of every contact that matches;
- ``matches(value, contact)``: does this one contact match?

Both come from the same compiled ``Q``, so a segment's count and a
journey's decision cannot disagree.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q, QuerySet
from django.utils.translation import gettext_lazy as _
from wagtail import blocks

from wagtail_journeys.segments.compiling import FALSE, CompileContext
from wagtail_journeys.segments.rules import ANY_EVENT, LEAF_RULES

ALL, ANY = "all", "any"
MATCH_CHOICES = [(ALL, _("all of these rules (AND)")), (ANY, _("any of these rules (OR)"))]
#: How deep groups nest inside a condition (groups in groups in groups).
GROUP_DEPTH = 3


class RulesBlock(blocks.StreamBlock):
    """A list of rules and groups; how they combine is the enclosing block's ``match``."""

    def compile_all(self, value, ctx: CompileContext, match: str) -> Q:
        parts = [child.block.compile(child.value, ctx) for child in value]
        if not parts:
            return FALSE
        combined = parts[0]
        for part in parts[1:]:
            combined = (combined & part) if match == ALL else (combined | part)
        return combined

    def events(self, value) -> set[str]:
        names: set[str] = set()
        for child in value:
            names |= child.block.events(child.value)
        return names


class GroupBlock(blocks.StructBlock):
    """Rules combined with AND or OR, optionally negated (NOT)."""

    def compile(self, value, ctx: CompileContext) -> Q:
        combined = self.child_blocks["rules"].compile_all(value["rules"], ctx, value["match"])
        return ~combined if value["negate"] else combined

    def events(self, value) -> set[str]:
        return self.child_blocks["rules"].events(value["rules"])


def rules_block(depth: int = GROUP_DEPTH, **kwargs) -> RulesBlock:
    """The rules of a condition, with groups nested ``depth`` levels deep.

    A StreamBlock cannot contain itself, so each level is a new block built
    here, one level shallower, down to a list of plain rules.
    """
    children = list(LEAF_RULES)
    if depth > 0:
        children.append(
            (
                "group",
                GroupBlock(
                    [
                        ("match", blocks.ChoiceBlock(choices=MATCH_CHOICES, default=ALL)),
                        (
                            "negate",
                            blocks.BooleanBlock(
                                label=_("NOT: match contacts this group does not match"),
                                required=False,
                            ),
                        ),
                        ("rules", rules_block(depth - 1, min_num=1)),
                    ],
                    icon="folder-open-inverse",
                    label=_("Group"),
                ),
            )
        )
    return RulesBlock(children, **kwargs)


def compile_condition(
    match: str,
    rules,
    *,
    now: datetime | None = None,
    contact_id: int | None = None,
    ctx: CompileContext | None = None,
) -> Q:
    """The ``Q`` over contacts of ``rules`` (a ``rules_block()`` value) combined by ``match``.

    No rules match nobody. ``contact_id`` narrows every subquery to that
    contact (for ``matches``); ``now`` fixes the clock.
    """
    if ctx is None:
        ctx = (
            CompileContext(contact_id=contact_id)
            if now is None
            else CompileContext(now=now, contact_id=contact_id)
        )
    return rules.stream_block.compile_all(rules, ctx, match)


def condition_events(rules) -> set[str]:
    """The event names that can change what ``rules`` match (``"*"``: any event)."""
    return rules.stream_block.events(rules)


def matching(match: str, rules, *, now: datetime | None = None) -> QuerySet:
    """Every contact that matches: one query."""
    from wagtail_journeys.models import Contact

    return Contact.objects.filter(compile_condition(match, rules, now=now))


def matches(match: str, rules, contact, *, now: datetime | None = None) -> bool:
    """Does ``contact`` match? The same compiled condition, narrowed to one contact."""
    from wagtail_journeys.models import Contact

    if contact.pk is None:
        return False
    condition = compile_condition(match, rules, now=now, contact_id=contact.pk)
    return Contact.objects.filter(condition, pk=contact.pk).exists()


__all__ = [
    "ALL",
    "ANY",
    "ANY_EVENT",
    "GROUP_DEPTH",
    "compile_condition",
    "condition_events",
    "matches",
    "matching",
    "rules_block",
]
