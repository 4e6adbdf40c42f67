"""Conditional content: blocks shown only to contacts who match segment rules.

The rules are the segments' own (``segments.conditions.rules_block``): a
contact field, tag, status, consent, behaviour, cart, another segment...,
and whether a contact sees the content is answered by the same compiled
condition that counts a segment, so an email and a segment never disagree.
"""

from __future__ import annotations

from django.utils.translation import gettext_lazy as _
from wagtail import blocks

from wagtail_journeys.email.blocks.base import EmailBlock
from wagtail_journeys.segments.conditions import ALL, MATCH_CHOICES, matches, rules_block


class ConditionalValue(blocks.StructValue):
    def matches(self, contact) -> bool:
        """Whether ``contact`` should see this content (one query).

        A contact not yet saved (the sample contact of a preview) sees it, so
        that the editor sees what matching contacts get.
        """
        if contact.pk is None:
            return True
        return matches(self["match"], self["rules"], contact)


class ConditionalBlock(EmailBlock, blocks.StructBlock):
    """Content shown only to matching contacts.

    Built with its content stream: ``ConditionalBlock([("content", stream)])``.
    """

    match = blocks.ChoiceBlock(
        label=_("Show to contacts matching"), choices=MATCH_CHOICES, default=ALL
    )
    rules = rules_block(depth=1, min_num=1, label=_("Rules"))

    class Meta:
        icon = "decision"
        label = _("Conditional content")
        help_text = _("Shown only to contacts who match the rules; others see nothing here.")
        description = _("Content for some contacts only (by field, tag, behaviour or segment).")
        value_class = ConditionalValue
        preview_value = {
            "match": ALL,
            "rules": [("status", {"statuses": ["subscribed"]})],
            "content": [("heading", {"text": "Only for subscribers", "level": "h2"})],
        }

    def _shown(self, value, ctx) -> bool:
        return ctx.once("conditional", lambda: value.matches(ctx.contact))

    def render_html(self, value, ctx):
        # No wrapper of its own: the content renders as if it stood in the body.
        if not self._shown(value, ctx):
            return ""
        return self.child_blocks["content"].render_html(value["content"], ctx)

    def render_text(self, value, ctx):
        if not self._shown(value, ctx):
            return ""
        return self.child_blocks["content"].render_text(value["content"], ctx)
