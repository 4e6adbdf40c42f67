"""The journey simulator in the admin: its form, the parsing of simulated events, its view.

The form takes an existing contact (by email) or a synthetic one, simulated
events one per line, and the version to run; ``journeys.simulator`` runs it
in a transaction it rolls back, so nothing is kept or sent.

Events are written one per line::

    order_completed after 2h {"total": 50}
    email_clicked after 1d12h
    # a comment; empty lines are skipped

Every mistake is a form error naming its line, never an error page.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django import forms
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _
from django.views.generic import FormView
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin

from wagtail_journeys.admin.journey_actions import JourneyPageMixin, journey_url
from wagtail_journeys.journeys.simulator import (
    SimulatedEvent,
    Timeline,
    json_object,
    parse_event_line,
    simulate,
)
from wagtail_journeys.models import Contact, Enrollment, Journey, StepRun

logger = logging.getLogger(__name__)

MAX_EVENTS = 50
MAX_TAGS = 20


def parse_events(text: str) -> list[SimulatedEvent]:
    """Every event of ``text`` (one per line); ``ValidationError`` listing each bad line."""
    events, errors = [], []
    for number, line in enumerate((text or "").splitlines(), start=1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            events.append(parse_event_line(line))
        except ValueError as error:
            errors.append(_("Line %(number)s: %(error)s") % {"number": number, "error": error})
    if errors:
        raise ValidationError(errors)
    if len(events) > MAX_EVENTS:
        raise ValidationError(_("Simulate at most %(max)s events.") % {"max": MAX_EVENTS})
    return events


DRAFT, LIVE = "draft", "live"


class SimulatorForm(forms.Form):
    """Who goes through the journey, what they do, and which version they follow."""

    contact = forms.EmailField(
        label=_("An existing contact"),
        required=False,
        help_text=_("Their email address. Or leave it empty and describe a contact below."),
    )
    email = forms.EmailField(label=_("Email"), required=False, max_length=254)
    first_name = forms.CharField(label=_("First name"), required=False, max_length=150)
    custom_fields = forms.CharField(
        label=_("Custom fields (JSON)"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 3, "placeholder": '{"plan": "pro", "orders": 3}'}),
    )
    tags = forms.CharField(
        label=_("Tags"), required=False, max_length=1000, help_text=_("Separated by commas.")
    )
    events = forms.CharField(
        label=_("Events the contact does"),
        required=False,
        max_length=10000,
        # Not stripped: the line numbers of errors are those the editor sees.
        strip=False,
        widget=forms.Textarea(
            attrs={"rows": 4, "placeholder": 'order_completed after 2h {"total": 50}'}
        ),
        help_text=_(
            "One per line: the event name, then optionally “after” a delay from the start "
            "(30m, 2h, 1d, 1d12h) and its properties as JSON."
        ),
    )
    trigger_properties = forms.CharField(
        label=_("Trigger event properties (JSON)"),
        required=False,
        max_length=5000,
        widget=forms.Textarea(attrs={"rows": 2, "placeholder": '{"cart_total": 80}'}),
    )
    version = forms.ChoiceField(
        label=_("Version"),
        choices=[(DRAFT, _("The latest saved draft")), (LIVE, _("The live version"))],
        initial=DRAFT,
    )

    def __init__(self, *args, journey: Journey, may_see_contacts: bool = True, **kwargs):
        super().__init__(*args, **kwargs)
        self.journey = journey
        if not may_see_contacts:
            # Without the contact permission an editor simulates described contacts only:
            # a real one would show their data, and "no contact has this address" who is one.
            del self.fields["contact"]
            del self.fields["email"]

    def clean_contact(self):
        email = self.cleaned_data.get("contact")
        if not email:
            return None
        contact = Contact.objects.filter(email__iexact=email).first()
        if contact is None:
            raise ValidationError(_("No contact has this email address."))
        return contact

    def clean_email(self):
        email = self.cleaned_data["email"]
        if email and Contact.objects.filter(email__iexact=email).exists():
            # A second contact with the address would break the unique email.
            raise ValidationError(
                _("A contact has this email address: choose them as the existing contact.")
            )
        return email

    def _json(self, name: str, what: str) -> dict[str, Any]:
        text = self.cleaned_data[name].strip()
        try:
            return json_object(text, what) if text else {}
        except ValueError as error:
            raise ValidationError(str(error)) from None

    def clean_custom_fields(self):
        return self._json("custom_fields", _("The custom fields"))

    def clean_trigger_properties(self):
        return self._json("trigger_properties", _("The trigger properties"))

    def clean_tags(self):
        tags = [tag.strip() for tag in self.cleaned_data["tags"].split(",") if tag.strip()]
        if len(tags) > MAX_TAGS or any(len(tag) > 100 for tag in tags):
            raise ValidationError(_("At most 20 tags of 100 characters each."))
        return tags

    def clean_events(self):
        return parse_events(self.cleaned_data["events"])

    def clean_version(self):
        version = self.cleaned_data["version"]
        if version == LIVE and self.journey.live_revision_id is None:
            raise ValidationError(_("This journey has no live version: simulate the draft."))
        return version

    def clean(self):
        cleaned_data = super().clean()
        synthetic = any(
            cleaned_data.get(name) for name in ("email", "first_name", "custom_fields", "tags")
        )
        if cleaned_data.get("contact") and synthetic:
            raise ValidationError(
                _("Choose an existing contact or describe one, not both."), code="both"
            )
        return cleaned_data

    def simulation_kwargs(self) -> dict[str, Any]:
        """The keyword arguments of ``simulate()`` for this form's answers."""
        data = self.cleaned_data
        contact = data.get("contact")
        fields = None
        if contact is None:
            fields = {"first_name": data["first_name"], "custom_fields": data["custom_fields"]}
            if data.get("email"):
                fields["email"] = data["email"]
            if data["tags"]:
                fields["tags"] = data["tags"]
        return {
            "contact": contact,
            "fields": fields,
            "events": data["events"],
            "draft": data["version"] == DRAFT,
            "trigger_properties": data["trigger_properties"],
        }


@dataclass
class Row:
    """One line of the timeline table."""

    at: Any
    offset: str
    summary: str
    result: str
    branch: str
    reason: str
    subject: str
    is_event: bool


def format_offset(delta: timedelta) -> str:
    """``+1d 2h 5m`` after the start."""
    minutes = int(delta.total_seconds() // 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    parts = [
        f"{amount}{unit}" for amount, unit in ((days, "d"), (hours, "h"), (minutes, "m")) if amount
    ]
    return "+" + (" ".join(parts) or "0m")


def timeline_rows(timeline: Timeline) -> list[Row]:
    """The timeline's entries as table rows, timed from the first one."""
    labels = dict(StepRun.Result.choices)
    start = timeline.entries[0].at if timeline.entries else None
    return [
        Row(
            at=entry.at,
            offset=format_offset(entry.at - start),
            summary=entry.summary or (_("Journey") if not entry.step_id else entry.step_id),
            result=_("Event")
            if entry.result == "event"
            else labels.get(entry.result, entry.result),
            branch=entry.branch,
            reason=entry.reason,
            subject=str(entry.detail.get("subject", "")),
            is_event=entry.result == "event",
        )
        for entry in timeline.entries
    ]


class SimulateView(JourneyPageMixin, WagtailAdminTemplateMixin, FormView):
    """Run the journey for one contact on a simulated clock, and show the timeline."""

    template_name = "wagtail_journeys/journeys/simulator.html"
    form_class = SimulatorForm
    page_title = _("Simulate")
    header_icon = "tasks"

    def get_form_kwargs(self):
        return {
            **super().get_form_kwargs(),
            "journey": self.journey,
            "may_see_contacts": self.request.user.has_perm("wagtail_journeys.view_contact"),
        }

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            journey=self.journey, edit_url=journey_url("edit", self.journey.pk), **kwargs
        )

    def form_valid(self, form):
        try:
            timeline = simulate(self.journey, **form.simulation_kwargs())
        except ValueError as error:
            form.add_error(None, str(error))
            return self.form_invalid(form)
        except Exception as error:  # noqa: BLE001
            # A crashing step marks a real enrollment "failed"; the simulator
            # lets the error through, and the editor should see it, not a 500.
            logger.exception("Simulating journey %s failed", self.journey.pk)
            form.add_error(
                None, _("The simulation stopped: a step failed (%(error)s).") % {"error": error}
            )
            return self.form_invalid(form)
        return self.render_to_response(
            self.get_context_data(
                form=form,
                timeline=timeline,
                rows=timeline_rows(timeline),
                status_label=dict(Enrollment.Status.choices).get(timeline.status, timeline.status),
            )
        )
