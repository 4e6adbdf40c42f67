"""Exit goals: an event or a condition that ends an enrollment at once.

An event goal is applied the moment the event is dispatched, even to a
contact in the middle of a wait, and checked again before every step
(an event that arrived while a step ran is not missed). A condition goal
is checked before every step.
"""

from __future__ import annotations

from datetime import datetime

from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from wagtail import blocks

from wagtail_journeys.journeys.triggers import EventTriggerBlock
from wagtail_journeys.segments import values
from wagtail_journeys.segments.conditions import ALL, MATCH_CHOICES, matches, rules_block
from wagtail_journeys.segments.rules import block_error, property_filters


class EventGoalBlock(blocks.StructBlock):
    event = EventTriggerBlock.base_blocks["event"]
    filters = EventTriggerBlock.base_blocks["filters"]

    class Meta:
        icon = "success"
        label = _("The contact does an event")
        help_text = _("e.g. order_completed ends an abandoned-cart journey.")

    def clean(self, value):
        value = super().clean(value)
        try:
            values.identifier(value["event"], _("An event name"))
        except ValueError as error:
            raise block_error(event=error) from None
        return value

    def event_name(self, value) -> str:
        return value["event"].strip()

    def event_filter(self, value) -> Q:
        return property_filters(value["filters"])

    def reached(self, value, contact_id: int, since: datetime, until: datetime) -> bool:
        """Has the contact done the event since ``since`` (when they entered)?"""
        from wagtail_journeys.models import Event

        return Event.objects.filter(
            self.event_filter(value),
            contact_id=contact_id,
            name=self.event_name(value),
            occurred_at__gte=since,
            occurred_at__lte=until,
        ).exists()

    def describe(self, value) -> str:
        return str(_("did %(event)s") % {"event": self.event_name(value)})


class ConditionGoalBlock(blocks.StructBlock):
    match = blocks.ChoiceBlock(label=_("Match"), choices=MATCH_CHOICES, default=ALL)
    rules = rules_block(min_num=1)

    class Meta:
        icon = "success"
        label = _("The contact matches rules")

    def met(self, value, contact, now: datetime) -> bool:
        return matches(value["match"], value["rules"], contact, now=now)

    def describe(self, value) -> str:
        return str(_("matched the goal's rules"))


class GoalsBlock(blocks.StreamBlock):
    event = EventGoalBlock()
    condition = ConditionGoalBlock()
