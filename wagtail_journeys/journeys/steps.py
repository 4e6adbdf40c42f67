"""Step blocks: what a journey does, one block per step type.

Each step's ``run(value, ctx)`` returns an ``Outcome`` (go on, take a
branch, wait, exit) and never commits anything itself: the interpreter runs
it inside the enrollment's transaction and records the outcome. ``ctx`` is
the interpreter's ``StepContext`` (contact, enrollment, clock, dry run).

Branching steps (condition, wait until, A/B split) hold nested step lists.
A StreamBlock cannot contain itself, so ``steps_block(depth)`` builds each
level anew, one shallower, down to a level without branching steps.
"""

from __future__ import annotations

import copy
import functools
from datetime import timedelta

from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from wagtail import blocks
from wagtail.snippets.blocks import SnippetChooserBlock

from wagtail_journeys.email import merge
from wagtail_journeys.email.blocks.base import MergeCharBlock
from wagtail_journeys.journeys import timing
from wagtail_journeys.journeys.outcomes import BRANCH, EXIT, NEXT, WAIT, Outcome
from wagtail_journeys.segments import values
from wagtail_journeys.segments.conditions import ALL, MATCH_CHOICES, matches, rules_block
from wagtail_journeys.segments.rules import (
    PropertyFilterBlock,
    block_error,
    event_fits,
    property_filters,
)

#: How deep branches nest (a branch in a branch in a branch in a branch).
BRANCH_DEPTH = 4
YES, NO = "yes", "no"

# StepRun results, spelt here to keep this module free of the models.
SENT, SKIPPED, WAITING, RESUMED, BRANCHED, DONE, RETRYING, EXITED, FAILED = (
    "sent",
    "skipped",
    "waiting",
    "resumed",
    "branched",
    "done",
    "retrying",
    "exited",
    "failed",
)


class StepBlock(blocks.StructBlock):
    """A journey step. Subclasses implement ``run``; branching ones also ``branches``."""

    def run(self, value, ctx) -> Outcome:  # pragma: no cover - abstract
        raise NotImplementedError

    def branches(self, value) -> list[tuple[str, str, object]]:
        """The nested step lists: ``(key, label, StreamValue)``, in order."""
        return []

    def summary(self, value) -> str:
        """A one-line description for the flow diagram and the simulator."""
        return str(self.meta.label)


# -- A/B tests ------------------------------------------------------------------------------

CONFIDENCE_CHOICES = [("0.9", "90 %"), ("0.95", "95 %"), ("0.99", "99 %")]


def ab_test_block(metrics, default: str) -> blocks.StructBlock:
    """How an A/B test is judged, and whether its winner is promoted by itself."""
    return blocks.StructBlock(
        [
            (
                "metric",
                blocks.ChoiceBlock(label=_("Winning metric"), choices=metrics, default=default),
            ),
            (
                "auto_promote",
                blocks.BooleanBlock(
                    label=_("Promote the winner automatically"),
                    required=False,
                    help_text=_(
                        "Once every variant reached the minimum and one wins at the chosen "
                        "confidence, everyone after gets the winner. The decision is logged."
                    ),
                ),
            ),
            (
                "min_recipients",
                blocks.IntegerBlock(
                    label=_("Minimum recipients per variant"),
                    min_value=10,
                    default=500,
                ),
            ),
            (
                "confidence",
                blocks.ChoiceBlock(
                    label=_("Confidence"), choices=CONFIDENCE_CHOICES, default="0.95"
                ),
            ),
        ],
        label=_("A/B test"),
        icon="pick",
        form_classname="journeys-ab-test",
    )


# -- Sending ---------------------------------------------------------------------------------


class EmailVariantBlock(blocks.StructBlock):
    subject = MergeCharBlock(
        label=_("Subject"), required=False, help_text=_("Empty: the template's subject.")
    )
    template = SnippetChooserBlock(
        "wagtail_journeys.EmailTemplate",
        label=_("Other template"),
        required=False,
        help_text=_("Empty: the step's template."),
    )

    class Meta:
        icon = "mail"
        label = _("Variant")


class SendEmailStepBlock(StepBlock):
    template = SnippetChooserBlock("wagtail_journeys.EmailTemplate", label=_("Email template"))
    variants = blocks.ListBlock(
        EmailVariantBlock(),
        label=_("A/B variants"),
        default=[],
        max_num=4,
        help_text=_(
            "Other subjects or templates, sent to equal shares of contacts (the step's own "
            "email is variant A)."
        ),
    )
    test = ab_test_block(
        [("opened", _("Open rate")), ("clicked", _("Click rate")), ("converted", _("Conversion"))],
        "opened",
    )

    class Meta:
        icon = "mail"
        label = _("Send email")

    def clean(self, value):
        value = super().clean(value)
        for index, variant in enumerate(value["variants"]):
            if not variant["subject"] and variant["template"] is None:
                raise block_error(
                    variants=_("Variant %(n)s changes nothing: give it a subject or a template.")
                    % {"n": index + 2}
                )
        return value

    def summary(self, value):
        template = value["template"]
        return str(_("Send “%(name)s”") % {"name": template or _("(deleted template)")})

    def choose(self, value, ctx) -> tuple[str, object, str]:
        """(variant label, template, subject override) for this contact: fixed per contact."""
        options = [("A", value["template"], "")]
        for index, variant in enumerate(value["variants"]):
            options.append(
                (
                    chr(ord("B") + index),
                    variant["template"] or value["template"],
                    variant["subject"],
                )
            )
        if len(options) == 1:
            return "", value["template"], ""
        winner = ctx.ab_winner()
        for option in options:
            if option[0] == winner:
                return option
        index = timing.pick([1] * len(options), timing.bucket(ctx.step_id, ctx.contact.pk))
        return options[index]

    def run(self, value, ctx):
        variant, template, subject = self.choose(value, ctx)
        detail = {"variant": variant} if variant else {}
        if template is None:
            return Outcome(NEXT, FAILED, _("The email template was deleted."), detail)
        detail["template_id"] = template.pk
        if not ctx.contact.email:
            return Outcome(NEXT, SKIPPED, _("The contact has no email address."), detail)
        return ctx.send_email(template, subject=subject, variant=variant, detail=detail)


class SendSmsStepBlock(StepBlock):
    template = SnippetChooserBlock("wagtail_journeys.SmsTemplate", label=_("SMS template"))

    class Meta:
        icon = "mobile-alt"
        label = _("Send SMS")
        help_text = _(
            "Marketing SMS goes only to contacts who opted in to SMS and have a phone number."
        )

    def summary(self, value):
        template = value["template"]
        return str(_("Send SMS “%(name)s”") % {"name": template or _("(deleted template)")})

    def run(self, value, ctx):
        template = value["template"]
        if template is None:
            return Outcome(NEXT, FAILED, _("The SMS template was deleted."))
        detail = {"template_id": template.pk}
        if not ctx.contact.phone:
            return Outcome(NEXT, SKIPPED, _("The contact has no phone number."), detail)
        return ctx.send_channel("sms", template, detail=detail)


class SendPushStepBlock(StepBlock):
    template = SnippetChooserBlock("wagtail_journeys.PushTemplate", label=_("Push template"))

    class Meta:
        icon = "desktop"
        label = _("Send push notification")
        help_text = _("Goes to every browser the contact allowed to show notifications.")

    def summary(self, value):
        template = value["template"]
        return str(_("Send push “%(name)s”") % {"name": template or _("(deleted template)")})

    def run(self, value, ctx):
        template = value["template"]
        if template is None:
            return Outcome(NEXT, FAILED, _("The push template was deleted."))
        return ctx.send_channel("push", template, detail={"template_id": template.pk})


class NotifyStaffStepBlock(StepBlock):
    to = blocks.EmailBlock(label=_("To"))
    subject = MergeCharBlock(label=_("Subject"))
    body = blocks.TextBlock(
        label=_("Message"),
        help_text=_("Merge fields work: {{ contact.email }}, {{ context.order_ref }}..."),
    )

    class Meta:
        icon = "user"
        label = _("Notify staff")

    def clean(self, value):
        value = super().clean(value)
        problems = merge.errors(value["body"])
        if problems:
            raise block_error(body=problems[0])
        return value

    def summary(self, value):
        return str(_("Email %(to)s") % {"to": value["to"]})

    def run(self, value, ctx):
        return ctx.notify_staff(value["to"], value["subject"], value["body"])


class WebhookStepBlock(StepBlock):
    url = blocks.URLBlock(label=_("URL"))
    secret = blocks.CharBlock(
        label=_("Signing secret"),
        required=False,
        help_text=_("Signs each request (HMAC-SHA256). Empty: the WEBHOOK_SECRET setting."),
    )
    timeout = blocks.IntegerBlock(
        label=_("Timeout (seconds)"), min_value=1, max_value=30, default=10
    )
    retries = blocks.IntegerBlock(label=_("Retries"), min_value=0, max_value=10, default=3)

    class Meta:
        icon = "link"
        label = _("Webhook")

    def clean(self, value):
        value = super().clean(value)
        from wagtail_journeys.conf import get_setting

        if not value["secret"] and not get_setting("WEBHOOK_SECRET"):
            raise block_error(
                secret=_('Enter a secret, or set WAGTAIL_JOURNEYS["WEBHOOK_SECRET"].')
            )
        return value

    def summary(self, value):
        return str(_("POST to %(url)s") % {"url": value["url"]})

    def run(self, value, ctx):
        from wagtail_journeys.journeys.webhooks import call_webhook

        return call_webhook(value, ctx)


# -- Timing ----------------------------------------------------------------------------------


class WaitStepBlock(StepBlock):
    days = blocks.IntegerBlock(label=_("Days"), min_value=0, max_value=3650, default=0)
    hours = blocks.IntegerBlock(label=_("Hours"), min_value=0, max_value=1000, default=0)
    minutes = blocks.IntegerBlock(label=_("Minutes"), min_value=0, max_value=10000, default=0)
    at_time = blocks.TimeBlock(
        label=_("Then until"),
        required=False,
        help_text=_("A time of day in the contact's timezone, e.g. 09:00."),
    )
    weekdays = blocks.MultipleChoiceBlock(
        label=_("On"),
        choices=timing.WEEKDAYS,
        required=False,
        help_text=_("Only these days of the week (in the contact's timezone)."),
    )

    class Meta:
        icon = "time"
        label = _("Wait")

    def delay(self, value) -> timedelta:
        return timedelta(days=value["days"], hours=value["hours"], minutes=value["minutes"])

    def clean(self, value):
        value = super().clean(value)
        if not self.delay(value) and value["at_time"] is None and not value["weekdays"]:
            raise block_error(days=_("Enter a duration, a time of day or weekdays."))
        return value

    def summary(self, value):
        parts = []
        for unit in ("days", "hours", "minutes"):
            if value[unit]:
                # "1 day", "2 days"
                parts.append(f"{value[unit]} {unit if value[unit] != 1 else unit[:-1]}")
        if value["at_time"] is not None:
            parts.append(f"until {value['at_time']:%H:%M}")
        if value["weekdays"]:
            names = dict(timing.WEEKDAYS)
            parts.append("on " + ", ".join(names[day] for day in value["weekdays"]))
        return str(_("Wait %(what)s") % {"what": " ".join(parts)})

    def run(self, value, ctx):
        if ctx.resumed:
            return Outcome(NEXT, DONE, _("The wait is over."))
        until = timing.resolve_wait(
            ctx.contact,
            ctx.now,
            delay=self.delay(value),
            at=value["at_time"],
            weekdays=value["weekdays"],
        )
        if until <= ctx.now:
            return Outcome(NEXT, DONE, _("Nothing to wait for."))
        return Outcome(
            WAIT, WAITING, _("Waiting until %(at)s.") % {"at": timing.readable(until)}, until=until
        )


EVENT, CONDITION = "event", "condition"


class WaitUntilStepBlock(StepBlock):
    """Wait for an event or a condition, at most a while; then a yes or a no branch."""

    def __init__(self, inner=None, **kwargs):
        inner = inner or blocks.StreamBlock([], required=False)
        children = [
            (
                "wait_for",
                blocks.ChoiceBlock(
                    label=_("Wait for"),
                    choices=[(EVENT, _("an event")), (CONDITION, _("the contact to match rules"))],
                    default=EVENT,
                ),
            ),
            ("event", blocks.CharBlock(label=_("Event"), required=False)),
            (
                "filters",
                blocks.ListBlock(PropertyFilterBlock(), label=_("With properties"), default=[]),
            ),
            ("match", blocks.ChoiceBlock(label=_("Match"), choices=MATCH_CHOICES, default=ALL)),
            ("rules", _RULES),
            (
                "timeout_days",
                blocks.IntegerBlock(label=_("At most (days)"), min_value=0, default=1),
            ),
            ("timeout_hours", blocks.IntegerBlock(label=_("and hours"), min_value=0, default=0)),
            ("yes", _copy_named(inner, _("Yes: it happened"))),
            ("no", _copy_named(inner, _("No: timed out"))),
        ]
        super().__init__(children, **kwargs)

    class Meta:
        icon = "history"
        label = _("Wait until")

    def timeout(self, value) -> timedelta:
        return timedelta(days=value["timeout_days"], hours=value["timeout_hours"])

    def clean(self, value):
        value = super().clean(value)
        if value["wait_for"] == EVENT:
            try:
                values.identifier(value["event"], _("An event name"))
            except ValueError as error:
                raise block_error(event=error) from None
        elif not value["rules"]:
            raise block_error(rules=_("Add at least one rule to wait for."))
        if not self.timeout(value):
            raise block_error(timeout_days=_("Enter how long to wait at most."))
        return value

    def branches(self, value):
        return [(YES, str(_("Yes")), value["yes"]), (NO, str(_("No")), value["no"])]

    def summary(self, value):
        what = value["event"] if value["wait_for"] == EVENT else _("the rules match")
        return str(
            _("Wait until %(what)s (at most %(timeout)s)")
            % {"what": what, "timeout": self.timeout(value)}
        )

    def event_matches(self, value, event) -> bool:
        """Does ``event`` (stored) end this wait with "yes"?"""
        if value["wait_for"] != EVENT or event.name != value["event"].strip():
            return False
        return event_fits(event, property_filters(value["filters"]))

    def run(self, value, ctx):
        if ctx.event is not None:
            # The event's id marks it used: dispatched twice, it wakes no later wait.
            happened = _("%(event)s happened.") % {"event": ctx.event.name}
            return Outcome(BRANCH, BRANCHED, happened, {"event_id": ctx.event.pk}, branch=YES)
        if value["wait_for"] == CONDITION and matches(
            value["match"], value["rules"], ctx.contact, now=ctx.now
        ):
            return Outcome(BRANCH, BRANCHED, _("The contact matches the rules."), branch=YES)
        # An event that arrived while this enrollment was busy is not lost.
        if value["wait_for"] == EVENT and ctx.resumed and ctx.event_since(self, value):
            happened = _("%(event)s happened.") % {"event": value["event"]}
            return Outcome(BRANCH, BRANCHED, happened, branch=YES)
        started = ctx.wait_started
        deadline = started + self.timeout(value)
        if ctx.now >= deadline:
            return Outcome(BRANCH, BRANCHED, _("Timed out."), branch=NO)
        until = deadline
        if value["wait_for"] == CONDITION:
            # Rules can change without an event (time passing): look again every hour.
            until = min(deadline, ctx.now + timedelta(hours=1))
        return Outcome(
            WAIT,
            WAITING,
            _("Waiting for %(what)s until %(at)s.")
            % {"what": value["event"] or _("the rules"), "at": timing.readable(deadline)},
            until=until,
        )


# -- Branching -------------------------------------------------------------------------------


class ConditionStepBlock(StepBlock):
    def __init__(self, inner=None, **kwargs):
        inner = inner or blocks.StreamBlock([], required=False)
        super().__init__(
            [
                ("match", blocks.ChoiceBlock(label=_("Match"), choices=MATCH_CHOICES, default=ALL)),
                ("rules", _RULES_REQUIRED),
                ("yes", _copy_named(inner, _("Yes: the contact matches"))),
                ("no", _copy_named(inner, _("No"))),
            ],
            **kwargs,
        )

    class Meta:
        icon = "redirect"
        label = _("Condition (yes / no)")

    def branches(self, value):
        return [(YES, str(_("Yes")), value["yes"]), (NO, str(_("No")), value["no"])]

    def summary(self, value):
        count = len(value["rules"])
        if value["match"] == ALL:
            return str(
                ngettext(
                    "If the contact matches %(n)s rule",
                    "If the contact matches all %(n)s rules",
                    count,
                )
                % {"n": count}
            )
        return str(
            ngettext(
                "If the contact matches %(n)s rule",
                "If the contact matches any of %(n)s rules",
                count,
            )
            % {"n": count}
        )

    def run(self, value, ctx):
        if matches(value["match"], value["rules"], ctx.contact, now=ctx.now):
            return Outcome(BRANCH, BRANCHED, _("The contact matches the rules."), branch=YES)
        return Outcome(BRANCH, BRANCHED, _("The contact does not match the rules."), branch=NO)


class ABSplitStepBlock(StepBlock):
    def __init__(self, inner=None, **kwargs):
        inner = inner or blocks.StreamBlock([], required=False)
        variant = blocks.StructBlock(
            [
                ("name", blocks.CharBlock(label=_("Name"), max_length=40)),
                (
                    "weight",
                    blocks.IntegerBlock(label=_("Weight"), min_value=1, max_value=100, default=50),
                ),
                ("steps", _copy_named(inner, _("Steps"))),
            ],
            icon="sliders",
            label=_("Variant"),
        )
        super().__init__(
            [
                ("variants", blocks.ListBlock(variant, label=_("Variants"), min_num=2, max_num=5)),
                (
                    "test",
                    ab_test_block(
                        [
                            ("converted", _("Conversion")),
                            ("clicked", _("Click rate")),
                            ("opened", _("Open rate")),
                        ],
                        "converted",
                    ),
                ),
            ],
            **kwargs,
        )

    class Meta:
        icon = "sliders"
        label = _("A/B split")
        help_text = _(
            "Each contact takes one variant, always the same, in proportion to the weights."
        )

    def clean(self, value):
        value = super().clean(value)
        names = [variant["name"].strip().lower() for variant in value["variants"]]
        if len(set(names)) != len(names):
            raise block_error(variants=_("Give each variant its own name."))
        return value

    def branches(self, value):
        return [
            (item.id, item.value["name"], item.value["steps"])
            for item in value["variants"].bound_blocks
        ]

    def run(self, value, ctx):
        items = list(value["variants"].bound_blocks)
        winner = ctx.ab_winner()
        promoted = [item for item in items if item.id == winner]
        if promoted:
            chosen = promoted[0]
        else:
            index = timing.pick(
                [item.value["weight"] for item in items],
                timing.bucket(ctx.step_id, ctx.contact.pk),
            )
            chosen = items[index]
        return Outcome(
            BRANCH,
            BRANCHED,
            _("Variant %(name)s.") % {"name": chosen.value["name"]},
            {"variant": chosen.value["name"]},
            branch=chosen.id,
        )


# -- Changing the contact --------------------------------------------------------------------


ADD, REMOVE = "add", "remove"


class TagStepBlock(StepBlock):
    action = blocks.ChoiceBlock(
        label=_("Action"),
        choices=[(ADD, _("Add the tag")), (REMOVE, _("Remove the tag"))],
        default=ADD,
    )
    tag = blocks.CharBlock(label=_("Tag"), max_length=100)

    class Meta:
        icon = "tag"
        label = _("Add or remove a tag")

    def summary(self, value):
        return f"{value['action'].capitalize()} tag “{value['tag']}”"

    def run(self, value, ctx):
        if value["action"] == ADD:
            ctx.contact.tags.add(value["tag"].strip())
        else:
            ctx.contact.tags.remove(value["tag"].strip())
        return Outcome(NEXT, DONE, self.summary(value))


#: Fields an "update field" step may set ("status" only to unsubscribe, through consent).
UPDATABLE_FIELDS = ("first_name", "last_name", "phone", "timezone", "locale")
CUSTOM, UNSUBSCRIBE = "custom", "unsubscribe"


class UpdateFieldStepBlock(StepBlock):
    field = blocks.ChoiceBlock(
        label=_("Field"),
        choices=[(name, name.replace("_", " ").capitalize()) for name in UPDATABLE_FIELDS]
        + [(CUSTOM, _("Custom field")), (UNSUBSCRIBE, _("Unsubscribe from marketing email"))],
    )
    custom_field = blocks.CharBlock(label=_("Custom field name"), required=False)
    value = blocks.CharBlock(
        label=_("New value"),
        required=False,
        help_text=_("For custom fields: true, false, a number or text. Empty clears the field."),
    )

    class Meta:
        icon = "edit"
        label = _("Update a field")

    def clean(self, value):
        value = super().clean(value)
        if value["field"] == CUSTOM:
            try:
                values.identifier(value["custom_field"], _("A custom field name"))
            except ValueError as error:
                raise block_error(custom_field=error) from None
        if value["field"] == "timezone" and value["value"]:
            from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

            try:
                ZoneInfo(value["value"].strip())
            except (ZoneInfoNotFoundError, ValueError):
                raise block_error(value=_("Not a timezone name such as Europe/Paris.")) from None
        return value

    @staticmethod
    def parsed(raw: str):
        raw = (raw or "").strip()
        lowered = raw.lower()
        if lowered in ("true", "false"):
            return lowered == "true"
        try:
            number = float(raw)
        except ValueError:
            return raw
        return int(number) if number.is_integer() and "." not in raw else number

    def summary(self, value):
        if value["field"] == UNSUBSCRIBE:
            return str(_("Unsubscribe from marketing email"))
        name = value["custom_field"] if value["field"] == CUSTOM else value["field"]
        return f"Set {name} to “{value['value']}”"

    def run(self, value, ctx):
        contact = ctx.contact
        if value["field"] == UNSUBSCRIBE:
            from wagtail_journeys.email.consent import unsubscribe
            from wagtail_journeys.models import ConsentRecord

            unsubscribe(
                contact,
                method=ConsentRecord.Method.JOURNEY,
                source=f"journey:{ctx.enrollment.journey_id}",
            )
        elif value["field"] == CUSTOM:
            key = value["custom_field"].strip()
            fields = dict(contact.custom_fields or {})
            if value["value"]:
                fields[key] = self.parsed(value["value"])
            else:
                fields.pop(key, None)
            contact.custom_fields = fields
            contact.save(update_fields=["custom_fields"])
        else:
            setattr(contact, value["field"], value["value"].strip())
            contact.save(update_fields=[value["field"]])
        return Outcome(NEXT, DONE, self.summary(value))


class SegmentStepBlock(StepBlock):
    action = blocks.ChoiceBlock(
        label=_("Action"),
        choices=[(ADD, _("Add to the segment")), (REMOVE, _("Remove from the segment"))],
        default=ADD,
    )
    segment = SnippetChooserBlock(
        "wagtail_journeys.Segment", label=_("Static segment"), help_text=_("A static list.")
    )

    class Meta:
        icon = "group"
        label = _("Add to or remove from a segment")

    def clean(self, value):
        value = super().clean(value)
        segment = value["segment"]
        if segment is not None and segment.is_dynamic:
            raise block_error(
                segment=_("Choose a static segment: a dynamic one's members follow its rules.")
            )
        return value

    def summary(self, value):
        verb = _("Add to") if value["action"] == ADD else _("Remove from")
        return f"{verb} “{value['segment'] or _('(deleted segment)')}”"

    def run(self, value, ctx):
        from wagtail_journeys.segments import membership

        segment = value["segment"]
        if segment is None:
            return Outcome(NEXT, FAILED, _("The segment was deleted."))
        if value["action"] == ADD:
            membership.add_members(segment, [ctx.contact.pk], now=ctx.now)
        else:
            membership.remove_members(segment, [ctx.contact.pk], now=ctx.now)
        return Outcome(NEXT, DONE, self.summary(value))


class ExitStepBlock(StepBlock):
    class Meta:
        icon = "logout"
        label = _("Exit")

    def run(self, value, ctx):
        return Outcome(EXIT, EXITED, _("Reached an exit step."))


# -- The nested lists --------------------------------------------------------------------------

_RULES = rules_block(required=False)
_RULES_REQUIRED = rules_block(min_num=1)

#: Steps that do not branch, shared by every level (same names everywhere).
LEAF_STEPS = [
    ("send_email", SendEmailStepBlock()),
    ("send_sms", SendSmsStepBlock()),
    ("send_push", SendPushStepBlock()),
    ("wait", WaitStepBlock()),
    ("tag", TagStepBlock()),
    ("update_field", UpdateFieldStepBlock()),
    ("segment", SegmentStepBlock()),
    ("webhook", WebhookStepBlock()),
    ("notify_staff", NotifyStaffStepBlock()),
    ("exit", ExitStepBlock()),
]


def _copy_named(block: blocks.Block, label) -> blocks.Block:
    """``block`` under another name and label, sharing its children.

    Each branch needs a block object of its own (a block knows its name), but
    the children can be shared, which keeps the admin's block definitions
    and the migrations small whatever the depth.
    """
    twin = copy.copy(block)
    twin.meta = copy.copy(block.meta)
    twin.meta.label = label
    twin.meta.required = False
    return twin


class StepsBlock(blocks.StreamBlock):
    """A list of steps whose branching steps hold lists ``depth - 1`` deep.

    Unlike other StreamBlocks it is written into migrations by reference
    (class and depth), not as its full definition: the tree has five
    branches per level sharing their child blocks, and Wagtail rebuilds a
    migration's frozen definition without sharing, 5⁴ copies of everything,
    each time Django renders a model state (minutes per ``migrate``). The
    steps' JSON does not depend on the definition, so nothing is lost.
    """

    def __init__(self, local_blocks=None, depth: int = BRANCH_DEPTH, **kwargs):
        self._depth = depth
        self._options = kwargs
        if local_blocks is None:
            local_blocks = list(LEAF_STEPS)
            if depth > 0:
                inner = StepsBlock(depth=depth - 1, required=False)
                # The branching steps come right after the waits in the chooser.
                after_wait = [name for name, _block in local_blocks].index("wait") + 1
                local_blocks[after_wait:after_wait] = [
                    ("wait_until", WaitUntilStepBlock(inner)),
                    ("condition", ConditionStepBlock(inner)),
                    ("ab_split", ABSplitStepBlock(inner)),
                ]
        super().__init__(local_blocks, **kwargs)

    def deconstruct(self):
        return (
            "wagtail_journeys.journeys.steps.StepsBlock",
            (),
            {"depth": self._depth, **self._options},
        )

    def deconstruct_with_lookup(self, lookup):
        return self.deconstruct()

    @classmethod
    def construct_from_lookup(cls, lookup, *args, **kwargs):
        return cls(*args, **kwargs)


def steps_block(depth: int = BRANCH_DEPTH, **kwargs) -> StepsBlock:
    """The steps of a journey, with branches nested ``depth`` levels deep."""
    return StepsBlock(depth=depth, **kwargs)


@functools.cache
def _step_labels() -> dict[str, str]:
    return {name: block.meta.label for name, block in steps_block(depth=1).child_blocks.items()}


def step_label(step_type: str) -> str:
    """The editor's name of a step type ("Send email"); the type itself if it is unknown."""
    return str(_step_labels().get(step_type, step_type))
