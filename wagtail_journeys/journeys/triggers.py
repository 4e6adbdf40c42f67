"""Trigger blocks: which events start a journey.

Every trigger but the anniversary and "Python only" ones is an event with
conditions: ``event_name(value)`` names it and ``event_filter(value)`` gives
a ``Q`` over ``Event`` rows (properties, page, template...). A trigger with
a frequency ("3 times in 7 days") counts the contact's matching events,
the new one included, with the same filter.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Q
from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.snippets.blocks import SnippetChooserBlock

from wagtail_journeys.segments import values
from wagtail_journeys.segments.rules import (
    PropertyFilterBlock,
    block_error,
    check_page_target,
    event_fits,
    page_target,
    property_filters,
)

BUILT_IN_EVENTS = (
    "page_viewed, form_submitted, product_viewed, cart_item_added, checkout_started, "
    "order_completed, wishlist_item_added, cart_abandoned, contact_subscribed, email_opened, "
    "email_clicked, unsubscribed"
)


class TriggerBlock(blocks.StructBlock):
    """A trigger that fires on an event."""

    def event_name(self, value) -> str | None:  # pragma: no cover - abstract
        raise NotImplementedError

    def event_filter(self, value) -> Q:
        return Q()

    def frequency(self, value) -> tuple[int, int | None]:
        """(times, within days): how often the event must have happened."""
        return 1, None

    def fires_on(self, value, event) -> bool:
        """Does ``event`` (a stored ``Event``) start the journey for its contact?"""
        from wagtail_journeys.models import Event

        if event.name != self.event_name(value):
            return False
        condition = self.event_filter(value)
        if not event_fits(event, condition):
            return False
        times, days = self.frequency(value)
        if times <= 1:
            return True
        rows = Event.objects.filter(
            condition,
            contact_id=event.contact_id,
            name=event.name,
            occurred_at__lte=event.occurred_at,
        )
        if days:
            rows = rows.filter(occurred_at__gt=event.occurred_at - timedelta(days=days))
        return rows.count() >= times


class _FrequencyMixin(blocks.StructBlock):
    times = blocks.IntegerBlock(label=_("At least N times"), min_value=1, max_value=1000, default=1)
    within_days = blocks.IntegerBlock(
        label=_("Within N days"),
        required=False,
        min_value=1,
        max_value=3650,
        help_text=_("For more than once: the window the events must fall in. Empty: ever."),
    )

    def frequency(self, value):
        return value["times"], value["within_days"]


class EventTriggerBlock(_FrequencyMixin, TriggerBlock):
    event = blocks.CharBlock(
        label=_("Event"), help_text=_("A built-in event (%s) or a custom one.") % BUILT_IN_EVENTS
    )
    filters = blocks.ListBlock(PropertyFilterBlock(), label=_("With properties"), default=[])

    class Meta:
        icon = "pick"
        label = _("An event happens")

    def clean(self, value):
        try:
            values.identifier(value["event"], _("An event name"))
        except ValueError as error:
            raise block_error(event=error) from None
        return super().clean(value)

    def event_name(self, value):
        return value["event"].strip()

    def event_filter(self, value):
        return property_filters(value["filters"])


class PageVisitTriggerBlock(_FrequencyMixin, TriggerBlock):
    page = blocks.PageChooserBlock(label=_("Page"), required=False)
    page_type = blocks.CharBlock(
        label=_("Page type"), required=False, help_text=_("app_label.ModelName")
    )
    path_prefix = blocks.CharBlock(label=_("Path starts with"), required=False)

    class Meta:
        icon = "doc-full"
        label = _("A page is viewed")

    def clean(self, value):
        return check_page_target(super().clean(value))

    def event_name(self, value):
        return "page_viewed"

    def event_filter(self, value):
        return page_target(value)


class FormTriggerBlock(TriggerBlock):
    form = blocks.PageChooserBlock(
        label=_("Form page"), required=False, help_text=_("Empty: any form.")
    )

    class Meta:
        icon = "form"
        label = _("A form is submitted")

    def event_name(self, value):
        return "form_submitted"

    def event_filter(self, value):
        return Q(page_id=value["form"].pk) if value["form"] else Q()


OPENED, CLICKED = "opened", "clicked"


class EmailTriggerBlock(TriggerBlock):
    action = blocks.ChoiceBlock(
        label=_("Action"), choices=[(OPENED, _("opens")), (CLICKED, _("clicks"))], default=OPENED
    )
    template = SnippetChooserBlock(
        "wagtail_journeys.EmailTemplate", label=_("Email"), required=False
    )
    link_contains = blocks.CharBlock(
        label=_("Link contains"), required=False, help_text=_("For clicks: part of the URL.")
    )

    class Meta:
        icon = "mail"
        label = _("An email is opened or clicked")

    def event_name(self, value):
        return f"email_{value['action']}"

    def event_filter(self, value):
        condition = Q()
        if value["template"] is not None:
            condition &= Q(properties__template_id=value["template"].pk)
        if value["action"] == CLICKED and value["link_contains"]:
            condition &= Q(properties__url__icontains=value["link_contains"].strip())
        return condition


class InactiveTriggerBlock(TriggerBlock):
    days = blocks.IntegerBlock(label=_("Inactive for N days"), min_value=1, max_value=3650)

    class Meta:
        icon = "time"
        label = _("A contact becomes inactive")
        help_text = _("No visit, open or click for N days (checked by the scheduler).")

    def event_name(self, value):
        return "became_inactive"

    def event_filter(self, value):
        return Q(properties__days=value["days"])


ENTERED, EXITED = "segment_entered", "segment_exited"


class SegmentTriggerBlock(TriggerBlock):
    change = blocks.ChoiceBlock(
        label=_("When a contact"),
        choices=[(ENTERED, _("enters the segment")), (EXITED, _("leaves the segment"))],
        default=ENTERED,
    )
    segment = SnippetChooserBlock("wagtail_journeys.Segment", label=_("Segment"))

    class Meta:
        icon = "group"
        label = _("A contact enters or leaves a segment")

    def event_name(self, value):
        return value["change"]

    def event_filter(self, value):
        segment = value["segment"]
        return Q(properties__segment_id=segment.pk if segment is not None else -1)


class AnniversaryTriggerBlock(TriggerBlock):
    field = blocks.CharBlock(
        label=_("Date field"),
        help_text=_(
            'A custom field holding a date (e.g. "birthday", as 1990-05-31), or "created_at" '
            "for the day the contact was created."
        ),
    )
    time_of_day = blocks.TimeBlock(
        label=_("At (the contact's time)"), help_text=_("In the contact's timezone.")
    )

    class Meta:
        icon = "date"
        label = _("A date's anniversary (e.g. a birthday)")

    def clean(self, value):
        try:
            values.identifier(value["field"], _("A field name"))
        except ValueError as error:
            raise block_error(field=error) from None
        return super().clean(value)

    def event_name(self, value):
        return None


class ManualTriggerBlock(TriggerBlock):
    class Meta:
        icon = "code"
        label = _("Only from Python (enroll())")
        help_text = _("Contacts enter when code calls wagtail_journeys.enroll(contact, journey).")

    def event_name(self, value):
        return None


class TriggersBlock(blocks.StreamBlock):
    event = EventTriggerBlock()
    page_visit = PageVisitTriggerBlock()
    form = FormTriggerBlock()
    email = EmailTriggerBlock()
    inactive = InactiveTriggerBlock()
    segment = SegmentTriggerBlock()
    anniversary = AnniversaryTriggerBlock()
    manual = ManualTriggerBlock()

    class Meta:
        min_num = 1
        max_num = 1


def anniversary_due(value, contact_date, local_now: datetime) -> bool:
    """Is today the anniversary of ``contact_date`` and its time of day reached, locally?"""
    if (contact_date.month, contact_date.day) == (2, 29) and local_now.month == 2:
        # Born on 29 February: celebrated on the 28th in other years.
        is_day = local_now.day == (29 if _leap(local_now.year) else 28)
    else:
        is_day = (contact_date.month, contact_date.day) == (local_now.month, local_now.day)
    return is_day and local_now.time() >= value["time_of_day"]


def _leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
