"""Conditional content: blocks shown only to contacts who match a few simple rules.

The rules are deliberately small (a contact field, custom field, tag or
status compared with a value). Whether a contact matches is decided in one
place, ``ConditionalValue.matches()`` → ``contact_matches()``, so that the
segments engine can later answer it with its own compiler instead.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.utils.translation import gettext_lazy as _
from wagtail import blocks

from wagtail_journeys.email.blocks.base import EmailBlock, struct_errors

FIELD_CHOICES = [
    ("status", _("Status")),
    ("tag", _("Tag")),
    ("first_name", _("First name")),
    ("last_name", _("Last name")),
    ("email", _("Email")),
    ("locale", _("Language")),
    ("timezone", _("Timezone")),
    ("email_frequency", _("Email frequency")),
    ("custom", _("Custom field")),
]
OPERATOR_CHOICES = [
    ("equals", _("is")),
    ("not_equals", _("is not")),
    ("contains", _("contains")),
    ("is_set", _("is set")),
    ("is_not_set", _("is not set")),
]


def _field_value(contact, field: str, key: str) -> str:
    if field == "custom":
        custom = contact.custom_fields if isinstance(contact.custom_fields, dict) else {}
        value = custom.get(key)
        return "" if value is None else str(value)
    return str(getattr(contact, field, "") or "")


def rule_matches(rule, contact, tags: Iterable[str]) -> bool:
    """Whether ``contact`` matches one rule (a ConditionBlock value)."""
    field, operator = rule["field"], rule["operator"]
    expected = (rule.get("value") or "").strip().lower()
    if field == "tag":
        if operator in ("equals", "contains"):
            return expected in tags
        if operator == "not_equals":
            return expected not in tags
        return bool(tags) if operator == "is_set" else not tags
    actual = _field_value(contact, field, rule.get("key") or "").strip().lower()
    if operator == "equals":
        return actual == expected
    if operator == "not_equals":
        return actual != expected
    if operator == "contains":
        return expected in actual
    if operator == "is_set":
        return bool(actual)
    return not actual


def contact_matches(rules, contact, *, match: str = "all", tags: Iterable[str] = ()) -> bool:
    """Whether ``contact`` matches ``rules`` (all of them, or any with ``match="any"``).

    ``tags`` are the contact's tag names, lower-cased (loaded by the caller,
    once per email). No rules: everyone matches.
    """
    tags = frozenset(tags)
    results = [rule_matches(rule, contact, tags) for rule in rules]
    if not results:
        return True
    return any(results) if match == "any" else all(results)


class ConditionBlock(blocks.StructBlock):
    field = blocks.ChoiceBlock(label=_("Field"), choices=FIELD_CHOICES, default="status")
    key = blocks.CharBlock(
        label=_("Custom field name"),
        required=False,
        max_length=100,
        help_text=_("For custom fields."),
    )
    operator = blocks.ChoiceBlock(label=_("Condition"), choices=OPERATOR_CHOICES, default="equals")
    value = blocks.CharBlock(label=_("Value"), required=False, max_length=255)

    class Meta:
        icon = "filter"
        label = _("Rule")
        help_text = _(
            "Compared without regard to case. A tag rule “is VIP” means “has the tag VIP”."
        )

    def clean(self, value):
        value = super().clean(value)
        if value["field"] == "custom" and not value["key"]:
            raise struct_errors(key=_("Name the custom field."))
        if value["operator"] in ("equals", "not_equals", "contains") and not value["value"]:
            raise struct_errors(value=_("Enter the value to compare with."))
        return value


class ConditionalValue(blocks.StructValue):
    def matches(self, contact, tags: Iterable[str] = ()) -> bool:
        """Whether ``contact`` (with its lower-cased ``tags``) should see this content."""
        return contact_matches(self["conditions"], contact, match=self["match"], tags=tags)


class ConditionalBlock(EmailBlock, blocks.StructBlock):
    """Content shown only to matching contacts.

    Built with its content stream: ``ConditionalBlock([("content", stream)])``.
    """

    match = blocks.ChoiceBlock(
        label=_("Show to contacts matching"),
        choices=[("all", _("all rules")), ("any", _("any rule"))],
        default="all",
    )
    conditions = blocks.ListBlock(ConditionBlock(), label=_("Rules"), min_num=1)

    class Meta:
        icon = "decision"
        label = _("Conditional content")
        help_text = _("Shown only to contacts who match the rules; others see nothing here.")
        description = _("Content for some contacts only (by status, tag or field).")
        value_class = ConditionalValue
        preview_value = {
            "match": "all",
            "conditions": [
                {"field": "status", "key": "", "operator": "equals", "value": "subscribed"}
            ],
            "content": [("heading", {"text": "Only for subscribers", "level": "h2"})],
        }

    def render_html(self, value, ctx):
        # No wrapper of its own: the content renders as if it stood in the body.
        if not value.matches(ctx.contact, ctx.tags):
            return ""
        return self.child_blocks["content"].render_html(value["content"], ctx)

    def render_text(self, value, ctx):
        if not value.matches(ctx.contact, ctx.tags):
            return ""
        return self.child_blocks["content"].render_text(value["content"], ctx)
