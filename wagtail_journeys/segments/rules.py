"""The rule blocks of a segment: what a contact is (fields, tags, status, consent) and did.

Every block compiles its value with ``compile(value, ctx)`` into a ``Q`` over
contacts (see ``compiling``) and checks the editor's values in ``clean()``,
with the error at the rule's own field. ``events(value)`` names the events
that can change the rule's answer, so a new event refreshes only the
segments it can affect.
"""

from __future__ import annotations

import contextlib
from datetime import datetime, time, timedelta

from django.core.exceptions import ValidationError
from django.db.models import DecimalField, ExpressionWrapper, F, Q, Sum
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from wagtail import blocks
from wagtail.snippets.blocks import SnippetChooserBlock

from wagtail_journeys.segments import values
from wagtail_journeys.segments.compiling import (
    AT_LEAST,
    AT_MOST,
    EXACTLY,
    FALSE,
    CompileContext,
    contacts_in,
    counted,
    json_number,
)

#: Any event can change the answer (contact fields, tags and status change without one).
ANY_EVENT = "*"

TEXT, NUMBER, DATE, BOOLEAN = "text", "number", "date", "boolean"

#: Contact fields a rule can test, with their type.
CONTACT_FIELDS = {
    "email": TEXT,
    "first_name": TEXT,
    "last_name": TEXT,
    "phone": TEXT,
    "timezone": TEXT,
    "locale": TEXT,
    "status": TEXT,
    "email_frequency": TEXT,
    "created_at": DATE,
    "last_seen_at": DATE,
    "last_engaged_at": DATE,
}
CUSTOM = "custom"

OPERATORS = {
    "equals": (_("is"), (TEXT, NUMBER, DATE)),
    "not_equals": (_("is not"), (TEXT, NUMBER)),
    "contains": (_("contains"), (TEXT,)),
    "not_contains": (_("does not contain"), (TEXT,)),
    "starts_with": (_("starts with"), (TEXT,)),
    "ends_with": (_("ends with"), (TEXT,)),
    "gt": (_("is greater than"), (NUMBER,)),
    "gte": (_("is at least"), (NUMBER,)),
    "lt": (_("is less than"), (NUMBER,)),
    "lte": (_("is at most"), (NUMBER,)),
    "before": (_("is before (date)"), (DATE,)),
    "after": (_("is after (date)"), (DATE,)),
    "within_last_days": (_("is within the last N days"), (DATE,)),
    "more_than_days_ago": (_("is more than N days ago"), (DATE,)),
    "is_true": (_("is yes"), (BOOLEAN,)),
    "is_false": (_("is no"), (BOOLEAN,)),
    "is_set": (_("is set"), (TEXT, NUMBER, DATE, BOOLEAN)),
    "is_not_set": (_("is not set"), (TEXT, NUMBER, DATE, BOOLEAN)),
}
#: Operators that take no value.
NO_VALUE = {"is_true", "is_false", "is_set", "is_not_set"}

COMPARISON_CHOICES = [
    (AT_LEAST, _("at least")),
    (AT_MOST, _("at most")),
    (EXACTLY, _("exactly")),
]
EVER, LAST_DAYS, BETWEEN = "ever", "last_days", "between"
PERIOD_CHOICES = [
    (LAST_DAYS, _("in the last N days")),
    (EVER, _("ever")),
    (BETWEEN, _("between two dates")),
]


def block_error(**errors) -> blocks.StructBlockValidationError:
    """A StructBlock's validation error with each message at its field."""
    return blocks.StructBlockValidationError(
        block_errors={name: ValidationError(str(message)) for name, message in errors.items()}
    )


def _start_of(day) -> datetime:
    return timezone.make_aware(datetime.combine(day, time.min))


class RuleBlock(blocks.StructBlock):
    """A rule: ``compile(value, ctx)`` gives its ``Q``; ``events(value)`` what can change it."""

    def compile(self, value, ctx: CompileContext) -> Q:  # pragma: no cover - abstract
        raise NotImplementedError

    def events(self, value) -> set[str]:
        return {ANY_EVENT}


class FieldRuleBlock(RuleBlock):
    field = blocks.ChoiceBlock(
        label=_("Field"),
        choices=[(name, name.replace("_", " ").capitalize()) for name in CONTACT_FIELDS]
        + [(CUSTOM, _("Custom field"))],
    )
    custom_field = blocks.CharBlock(
        label=_("Custom field name"), required=False, help_text=_("For custom fields: its key.")
    )
    custom_type = blocks.ChoiceBlock(
        label=_("Custom field type"),
        choices=[
            (TEXT, _("Text")),
            (NUMBER, _("Number")),
            (DATE, _("Date")),
            (BOOLEAN, _("Yes/no")),
        ],
        default=TEXT,
    )
    operator = blocks.ChoiceBlock(
        label=_("Operator"), choices=[(name, label) for name, (label, _types) in OPERATORS.items()]
    )
    value = blocks.CharBlock(label=_("Value"), required=False)

    class Meta:
        icon = "user"
        label = _("Contact field")
        help_text = _("Compare a contact field or a custom field with a value.")

    def _target(self, value) -> tuple[str, str]:
        if value["field"] == CUSTOM:
            return f"custom_fields__{value['custom_field'].strip()}", value["custom_type"]
        return value["field"], CONTACT_FIELDS[value["field"]]

    def clean(self, value):
        value = super().clean(value)
        if value["field"] == CUSTOM:
            try:
                values.identifier(value["custom_field"], _("A custom field name"))
            except ValueError as error:
                raise block_error(custom_field=error) from None
        _lookup, kind = self._target(value)
        operator = value["operator"]
        if kind not in OPERATORS[operator][1]:
            raise block_error(operator=_("This operator does not apply to this kind of field."))
        if operator not in NO_VALUE:
            try:
                self._parse(kind, operator, value["value"])
            except ValueError as error:
                raise block_error(value=error) from None
        return value

    @staticmethod
    def _parse(kind: str, operator: str, raw):
        if operator in ("within_last_days", "more_than_days_ago"):
            return values.days(raw)
        if kind == NUMBER:
            return values.number(raw)
        if kind == DATE:
            return values.iso_date(raw)
        if not str(raw or "").strip() and operator != "equals":
            raise ValueError(_("Enter a value."))
        return str(raw or "")

    def compile(self, value, ctx):
        lookup, kind = self._target(value)
        operator = value["operator"]
        custom = value["field"] == CUSTOM
        if operator in ("is_set", "is_not_set"):
            if custom:
                key = value["custom_field"].strip()
                present = Q(custom_fields__has_key=key) & ~Q(**{f"{lookup}__isnull": True})
                if kind == TEXT:
                    present &= ~Q(**{lookup: ""})
            elif kind == TEXT:
                present = ~Q(**{lookup: ""}) & Q(**{f"{lookup}__isnull": False})
            else:
                present = Q(**{f"{lookup}__isnull": False})
            return present if operator == "is_set" else ~present
        if operator in ("is_true", "is_false"):
            return Q(**{lookup: operator == "is_true"})
        parsed = self._parse(kind, operator, value["value"])
        if kind == DATE:
            return self._date(lookup, operator, parsed, ctx, custom)
        if kind == NUMBER:
            if custom:
                key = value["custom_field"].strip()
                lookup_name = "exact" if operator in ("equals", "not_equals") else operator
                compared = json_number("custom_fields", key, lookup_name, float(parsed))
                return ~compared if operator == "not_equals" else compared
            if operator == "equals":
                return Q(**{lookup: parsed})
            if operator == "not_equals":
                return ~Q(**{lookup: parsed})
            return Q(**{f"{lookup}__{operator}": parsed})
        text = {
            "equals": Q(**{f"{lookup}__iexact": parsed}),
            "not_equals": ~Q(**{f"{lookup}__iexact": parsed}),
            "contains": Q(**{f"{lookup}__icontains": parsed}),
            "not_contains": ~Q(**{f"{lookup}__icontains": parsed}),
            "starts_with": Q(**{f"{lookup}__istartswith": parsed}),
            "ends_with": Q(**{f"{lookup}__iendswith": parsed}),
        }
        return text[operator]

    @staticmethod
    def _date(lookup, operator, parsed, ctx, custom) -> Q:
        # Custom dates are stored as ISO text ("1990-05-31"), which sorts as dates do.
        if operator in ("within_last_days", "more_than_days_ago"):
            since = ctx.now - timedelta(days=parsed)
            bound = since.date().isoformat() if custom else since
            if operator == "within_last_days":
                return Q(**{f"{lookup}__gte": bound})
            return Q(**{f"{lookup}__lt": bound})
        if custom:
            day = parsed.isoformat()
            next_day = (parsed + timedelta(days=1)).isoformat()
        else:
            day, next_day = _start_of(parsed), _start_of(parsed + timedelta(days=1))
        if operator == "before":
            return Q(**{f"{lookup}__lt": day})
        if operator == "after":
            return Q(**{f"{lookup}__gte": next_day})
        return Q(**{f"{lookup}__gte": day, f"{lookup}__lt": next_day})


class TagRuleBlock(RuleBlock):
    has = blocks.BooleanBlock(label=_("Has the tag"), required=False, default=True)
    tag = blocks.CharBlock(label=_("Tag"))

    class Meta:
        icon = "tag"
        label = _("Tag")
        help_text = _("Contacts with (or without) a tag.")

    def compile(self, value, ctx):
        from wagtail_journeys.models import ContactTag

        tagged = contacts_in(
            ContactTag.objects.filter(tag__name__iexact=value["tag"].strip()),
            ctx,
            column="content_object_id",
        )
        return tagged if value["has"] else ~tagged


class StatusRuleBlock(RuleBlock):
    statuses = blocks.MultipleChoiceBlock(
        label=_("Status is one of"),
        choices=[
            ("pending", _("Pending")),
            ("subscribed", _("Subscribed")),
            ("unsubscribed", _("Unsubscribed")),
            ("bounced", _("Bounced")),
            ("complained", _("Complained")),
        ],
    )

    class Meta:
        icon = "tick"
        label = _("Status")

    def compile(self, value, ctx):
        return Q(status__in=list(value["statuses"]))


class ConsentRuleBlock(RuleBlock):
    channel = blocks.ChoiceBlock(
        label=_("Channel"), choices=[("email", _("Email")), ("sms", _("SMS")), ("push", _("Push"))]
    )
    given = blocks.BooleanBlock(label=_("Consent given"), required=False, default=True)

    class Meta:
        icon = "lock"
        label = _("Consent")

    def compile(self, value, ctx):
        granted = Q(**{f"consent__{value['channel']}": True})
        return granted if value["given"] else ~granted


class _CountedBlock(RuleBlock):
    """Shared by the event and page-visit rules: how often, and when."""

    comparison = blocks.ChoiceBlock(
        label=_("How often"), choices=COMPARISON_CHOICES, default=AT_LEAST
    )
    count = blocks.IntegerBlock(label=_("Times"), min_value=0, max_value=1_000_000, default=1)
    period = blocks.ChoiceBlock(label=_("When"), choices=PERIOD_CHOICES, default=LAST_DAYS)
    days = blocks.IntegerBlock(label=_("Days"), required=False, min_value=1, max_value=36500)
    start = blocks.DateBlock(label=_("From"), required=False)
    end = blocks.DateBlock(label=_("To (included)"), required=False)

    def clean(self, value):
        value = super().clean(value)
        if value["period"] == LAST_DAYS and not value["days"]:
            raise block_error(days=_("Enter the number of days."))
        if value["period"] == BETWEEN:
            if not value["start"] or not value["end"]:
                raise block_error(start=_("Enter both dates."))
            if value["start"] > value["end"]:
                raise block_error(end=_("The end is before the start: no date is in this range."))
        return value

    def within(self, rows, value, ctx):
        if value["period"] == LAST_DAYS:
            return rows.filter(occurred_at__gte=ctx.now - timedelta(days=value["days"]))
        if value["period"] == BETWEEN:
            return rows.filter(
                occurred_at__gte=_start_of(value["start"]),
                occurred_at__lt=_start_of(value["end"] + timedelta(days=1)),
            )
        return rows


class PropertyFilterBlock(blocks.StructBlock):
    key = blocks.CharBlock(label=_("Property"))
    operator = blocks.ChoiceBlock(
        label=_("Operator"),
        choices=[
            ("equals", _("is")),
            ("not_equals", _("is not")),
            ("contains", _("contains")),
            ("gte", _("is at least (number)")),
            ("lte", _("is at most (number)")),
        ],
        default="equals",
    )
    value = blocks.CharBlock(label=_("Value"))

    class Meta:
        icon = "filter"
        label = _("Property filter")

    def clean(self, value):
        value = super().clean(value)
        try:
            values.identifier(value["key"], _("A property name"))
        except ValueError as error:
            raise block_error(key=error) from None
        if value["operator"] in ("gte", "lte"):
            try:
                values.number(value["value"])
            except ValueError as error:
                raise block_error(value=error) from None
        return value

    def to_q(self, value) -> Q:
        lookup = f"properties__{value['key']}"
        raw = value["value"]
        if value["operator"] in ("gte", "lte"):
            number = float(values.number(raw))
            return json_number("properties", value["key"], value["operator"], number)
        if value["operator"] == "contains":
            return Q(**{f"{lookup}__icontains": raw})
        # Properties arrive as JSON: "42" may have been sent as a number or a string.
        same = Q(**{lookup: raw})
        with contextlib.suppress(ValueError):
            same |= Q(**{lookup: float(values.number(raw))})
        return same if value["operator"] == "equals" else ~same


def property_filters(items) -> Q:
    """The ``Q`` over events of a list of property filters (all must hold; none: ``Q()``)."""
    condition = Q()
    for item in items:
        condition &= _PROPERTY_FILTER.to_q(item)
    return condition


def event_fits(event, condition: Q) -> bool:
    """Does a stored event meet ``condition`` (a ``Q`` over events)? ``Q()`` always does."""
    from wagtail_journeys.models import Event

    return not condition or Event.objects.filter(condition, pk=event.pk).exists()


_PROPERTY_FILTER = PropertyFilterBlock()


class EventRuleBlock(_CountedBlock):
    event = blocks.CharBlock(label=_("Event"), help_text=_("e.g. product_viewed, order_completed"))
    filters = blocks.ListBlock(PropertyFilterBlock(), label=_("With properties"), default=[])

    class Meta:
        icon = "pick"
        label = _("Performed an event")
        help_text = _(
            "Did an event (with these properties) at least / at most / exactly N times in a "
            'period. "Has not done X in 30 days": at most 0 times in the last 30 days.'
        )

    def clean(self, value):
        try:
            values.identifier(value["event"], _("An event name"))
        except ValueError as error:
            raise block_error(event=error) from None
        return super().clean(value)

    def rows(self, value, ctx):
        from wagtail_journeys.models import Event

        rows = Event.objects.filter(property_filters(value["filters"]), name=value["event"].strip())
        return self.within(rows, value, ctx)

    def compile(self, value, ctx):
        return counted(self.rows(value, ctx), value["comparison"], value["count"], ctx)

    def events(self, value):
        return {value["event"].strip()}


class PageVisitRuleBlock(_CountedBlock):
    page = blocks.PageChooserBlock(label=_("Page"), required=False)
    page_type = blocks.CharBlock(
        label=_("Page type"),
        required=False,
        help_text=_("app_label.ModelName, e.g. shop.ProductPage"),
    )
    path_prefix = blocks.CharBlock(label=_("Path starts with"), required=False)
    min_seconds = blocks.IntegerBlock(
        label=_("Stayed at least (seconds)"), required=False, min_value=1, max_value=86400
    )

    class Meta:
        icon = "doc-full"
        label = _("Visited a page")
        help_text = _(
            "Visits of a page, of pages of a type, or under a path; optionally time spent."
        )

    def clean(self, value):
        return check_page_target(super().clean(value))

    def rows(self, value, ctx):
        from wagtail_journeys.models import Event

        if value["min_seconds"]:
            rows = Event.objects.filter(
                name="page_time", properties__duration_ms__gte=value["min_seconds"] * 1000
            )
        else:
            rows = Event.objects.filter(name="page_viewed")
        return self.within(rows.filter(page_target(value)), value, ctx)

    def compile(self, value, ctx):
        return counted(self.rows(value, ctx), value["comparison"], value["count"], ctx)

    def events(self, value):
        return {"page_time" if value["min_seconds"] else "page_viewed"}


def _page_type(label: str):
    from django.apps import apps
    from django.contrib.contenttypes.models import ContentType

    try:
        model = apps.get_model(label.strip())
    except ValueError as error:
        raise LookupError(label) from error
    return ContentType.objects.get_for_model(model)


def check_page_target(value):
    """A page, page type or path prefix must be given, and the page type must exist."""
    if not (value["page"] or value["page_type"] or value["path_prefix"]):
        raise block_error(page=_("Choose a page, a page type or a path."))
    if value["page_type"]:
        try:
            _page_type(value["page_type"])
        except LookupError:
            raise block_error(page_type=_("No page type has this name.")) from None
    return value


def page_target(value) -> Q:
    """The events (rows) of the chosen page, page type and path prefix."""
    condition = Q()
    if value["page"]:
        condition &= Q(page_id=value["page"].pk)
    if value["page_type"]:
        condition &= Q(page__content_type=_page_type(value["page_type"]))
    if value["path_prefix"]:
        condition &= Q(path__startswith=value["path_prefix"].strip())
    return condition


OPEN_CART_IDLE, CART_VALUE, ABANDONED_WITHIN, NO_OPEN_CART = (
    "open_idle",
    "value",
    "abandoned_within",
    "no_open_cart",
)


class CartRuleBlock(RuleBlock):
    condition = blocks.ChoiceBlock(
        label=_("Condition"),
        choices=[
            (OPEN_CART_IDLE, _("has an open cart with items, idle for more than N hours")),
            (CART_VALUE, _("has an open cart worth at least / at most an amount")),
            (ABANDONED_WITHIN, _("abandoned a cart in the last N days")),
            (NO_OPEN_CART, _("has no open cart with items")),
        ],
    )
    hours = blocks.IntegerBlock(label=_("Hours"), required=False, min_value=1, max_value=8760)
    days = blocks.IntegerBlock(label=_("Days"), required=False, min_value=1, max_value=36500)
    at_least = blocks.DecimalBlock(label=_("At least"), required=False, min_value=0)
    at_most = blocks.DecimalBlock(label=_("At most"), required=False, min_value=0)

    class Meta:
        icon = "list-ul"
        label = _("Cart")

    def clean(self, value):
        value = super().clean(value)
        condition = value["condition"]
        if condition == OPEN_CART_IDLE and not value["hours"]:
            raise block_error(hours=_("Enter the number of hours."))
        if condition == ABANDONED_WITHIN and not value["days"]:
            raise block_error(days=_("Enter the number of days."))
        if condition == CART_VALUE:
            low, high = value["at_least"], value["at_most"]
            if low is None and high is None:
                raise block_error(at_least=_("Enter a lower or an upper bound (or both)."))
            if low is not None and high is not None and low > high:
                raise block_error(
                    at_most=_("The upper bound is below the lower one: no cart fits.")
                )
        return value

    def compile(self, value, ctx):
        from wagtail_journeys.models import Cart

        open_with_items = Cart.objects.filter(status=Cart.Status.OPEN, items__isnull=False)
        condition = value["condition"]
        if condition == OPEN_CART_IDLE:
            idle = open_with_items.filter(updated_at__lte=ctx.now - timedelta(hours=value["hours"]))
            return contacts_in(idle, ctx)
        if condition == NO_OPEN_CART:
            return ~contacts_in(open_with_items, ctx)
        if condition == ABANDONED_WITHIN:
            since = ctx.now - timedelta(days=value["days"])
            abandoned = Cart.objects.filter(status=Cart.Status.ABANDONED).filter(
                Q(abandoned_at__gte=since) | Q(abandoned_at__isnull=True, updated_at__gte=since)
            )
            return contacts_in(abandoned, ctx)
        line = ExpressionWrapper(
            F("items__quantity") * F("items__unit_price"),
            output_field=DecimalField(max_digits=14, decimal_places=2),
        )
        worth = Cart.objects.filter(status=Cart.Status.OPEN).annotate(journeys_value=Sum(line))
        if value["at_least"] is not None:
            worth = worth.filter(journeys_value__gte=value["at_least"])
        if value["at_most"] is not None:
            worth = worth.filter(journeys_value__lte=value["at_most"])
        return contacts_in(worth, ctx)

    def events(self, value):
        return {"cart_item_added", "cart_item_removed", "cart_abandoned", "order_completed"}


class WishlistRuleBlock(RuleBlock):
    at_least = blocks.IntegerBlock(label=_("At least N items"), min_value=0, default=1)
    added_within_days = blocks.IntegerBlock(
        label=_("Added in the last N days"), required=False, min_value=1, max_value=36500
    )

    class Meta:
        icon = "pick"
        label = _("Wishlist")
        help_text = _("Contacts whose wishlist holds at least N items (added recently, if set).")

    def compile(self, value, ctx):
        from wagtail_journeys.models import WishlistItem

        items = WishlistItem.objects.all()
        if value["added_within_days"]:
            items = items.filter(added_at__gte=ctx.now - timedelta(days=value["added_within_days"]))
        items = items.annotate(contact_id=F("wishlist__contact_id"))
        return counted(items, AT_LEAST, value["at_least"], ctx)

    def events(self, value):
        return {"wishlist_item_added", "wishlist_item_removed"}


OPENED, CLICKED, RECEIVED = "opened", "clicked", "received"


class EmailEngagementRuleBlock(RuleBlock):
    did = blocks.BooleanBlock(
        label=_("Did it"), required=False, default=True, help_text=_('Untick for "did not".')
    )
    action = blocks.ChoiceBlock(
        label=_("Action"),
        choices=[(OPENED, _("opened")), (CLICKED, _("clicked")), (RECEIVED, _("received"))],
        default=OPENED,
    )
    template = SnippetChooserBlock(
        "wagtail_journeys.EmailTemplate", label=_("Email template"), required=False
    )
    days = blocks.IntegerBlock(
        label=_("In the last N days"),
        required=False,
        min_value=1,
        max_value=36500,
        help_text=_("Empty: ever."),
    )

    class Meta:
        icon = "mail"
        label = _("Email engagement")
        help_text = _("Opened, clicked or received any email (or one template's) in a period.")

    def compile(self, value, ctx):
        from wagtail_journeys.models import Message

        column = {OPENED: "first_opened_at", CLICKED: "first_clicked_at", RECEIVED: "sent_at"}
        column = column[value["action"]]
        rows = Message.objects.filter(**{f"{column}__isnull": False})
        if value["days"]:
            rows = rows.filter(**{f"{column}__gte": ctx.now - timedelta(days=value["days"])})
        if value["template"] is not None:
            rows = rows.filter(template_id=value["template"].pk)
        matched = contacts_in(rows, ctx)
        return matched if value["did"] else ~matched

    def events(self, value):
        # Only what sets the rule's column changes it: a send never changes an "opened"
        # rule (every email sent would otherwise refresh the contact's segments).
        return {
            OPENED: {"email_opened", "email_clicked"},  # a click records an open too
            CLICKED: {"email_clicked"},
            RECEIVED: {"email_sent"},
        }[value["action"]]


class SegmentRuleBlock(RuleBlock):
    member = blocks.BooleanBlock(label=_("Is a member"), required=False, default=True)
    segment = SnippetChooserBlock("wagtail_journeys.Segment", label=_("Segment"))

    class Meta:
        icon = "group"
        label = _("Segment membership")
        help_text = _("Members (or non-members) of another segment.")

    def compile(self, value, ctx):
        segment = value["segment"]
        if segment is None:
            return FALSE
        matched = segment.condition(ctx)
        return matched if value["member"] else ~matched

    def events(self, value):
        segment = value["segment"]
        if segment is None:
            return set()
        # A static list changes without events: only the periodic refresh sees it.
        return set(segment.depends_on) if segment.is_dynamic else {ANY_EVENT}


IN_NOW, WAS_IN, COMPLETED, EXITED_EARLY = "in_now", "ever", "completed", "exited"


class JourneyRuleBlock(RuleBlock):
    journey = SnippetChooserBlock("wagtail_journeys.Journey", label=_("Journey"))
    state = blocks.ChoiceBlock(
        label=_("The contact"),
        choices=[
            (IN_NOW, _("is in it now")),
            (WAS_IN, _("is or was in it")),
            (COMPLETED, _("completed it")),
            (EXITED_EARLY, _("left it early (goal, exit step or archive)")),
        ],
        default=WAS_IN,
    )
    step = blocks.CharBlock(
        label=_("Reached step"),
        required=False,
        help_text=_("Optional: a step's id, as shown in the journey's outline."),
    )
    days = blocks.IntegerBlock(
        label=_("Entered in the last N days"),
        required=False,
        min_value=1,
        max_value=36500,
        help_text=_("Empty: ever."),
    )

    class Meta:
        icon = "redirect"
        label = _("Journey")
        help_text = _("Contacts who are, or were, in a journey (and reached one of its steps).")

    def clean(self, value):
        value = super().clean(value)
        journey, step = value["journey"], (value["step"] or "").strip()
        if journey is not None and step:
            from wagtail_journeys.journeys.plan import build_plan

            versions = [journey]
            if journey.latest_revision is not None:
                versions.append(journey.latest_revision.as_object())
            if not any(step in build_plan(version) for version in versions):
                raise block_error(step=_("This journey has no step with this id."))
        return value

    def compile(self, value, ctx):
        from wagtail_journeys.models import Enrollment, StepRun

        journey = value["journey"]
        if journey is None:
            return FALSE
        rows = Enrollment.objects.filter(journey_id=journey.pk)
        state = value["state"]
        if state == IN_NOW:
            rows = rows.filter(status__in=Enrollment.IN_JOURNEY)
        elif state == COMPLETED:
            rows = rows.filter(status=Enrollment.Status.COMPLETED)
        elif state == EXITED_EARLY:
            rows = rows.filter(status=Enrollment.Status.EXITED)
        if value["days"]:
            rows = rows.filter(entered_at__gte=ctx.now - timedelta(days=value["days"]))
        step = (value["step"] or "").strip()
        if step:
            reached = StepRun.objects.filter(journey_id=journey.pk, step_id=step)
            rows = rows.filter(pk__in=reached.values("enrollment_id"))
        return contacts_in(rows, ctx)

    def events(self, value):
        # Entering and leaving journeys are not events: any event, and the
        # periodic refresh, bring membership up to date.
        return {ANY_EVENT}


#: The rules a segment, a condition or an entry filter can use, by block name.
LEAF_RULES = [
    ("field", FieldRuleBlock()),
    ("tag", TagRuleBlock()),
    ("status", StatusRuleBlock()),
    ("consent", ConsentRuleBlock()),
    ("event", EventRuleBlock()),
    ("page_visit", PageVisitRuleBlock()),
    ("cart", CartRuleBlock()),
    ("wishlist", WishlistRuleBlock()),
    ("email_engagement", EmailEngagementRuleBlock()),
    ("segment", SegmentRuleBlock()),
    ("journey", JourneyRuleBlock()),
]
