"""Why is (or isn't) a contact in a journey? The step trail, or what kept them out.

For a contact who entered, the answer is their step runs. For one who never
did, each condition of entry is checked now, with the same code the
dispatcher runs: is the journey live and running, did the contact do what
the trigger waits for (with its properties, often enough), do they match the
entry rules, does the re-entry policy let them in. Conditions that depend on
time (rules, re-entry) are answered as of now, which the page says.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone
from django.utils.translation import gettext as _

from wagtail_journeys.journeys.entry import _reentry_refusal
from wagtail_journeys.models import Enrollment, Event, Journey, StepRun
from wagtail_journeys.segments.conditions import matches


@dataclass
class Check:
    """One condition of entry: passed or not, and what was found."""

    what: str
    passed: bool
    detail: str


@dataclass
class Explanation:
    journey: Journey
    enrollment: Enrollment | None = None
    trail: list[StepRun] = field(default_factory=list)
    checks: list[Check] = field(default_factory=list)

    @property
    def entered(self) -> bool:
        return self.enrollment is not None


def _trigger_check(journey: Journey, contact) -> Check:
    what = _("Trigger")
    for child in journey.trigger:
        name = child.block.event_name(child.value)
        if name is None:
            if child.block_type == "manual":
                return Check(what, False, _("Contacts enter only when code calls enroll()."))
            field_name = child.value["field"]
            found = (contact.custom_fields or {}).get(field_name) or (
                contact.created_at if field_name == "created_at" else None
            )
            if not found:
                return Check(what, False, _("The contact has no “%(f)s”.") % {"f": field_name})
            return Check(
                what, True, _("Anniversary of %(f)s: %(v)s.") % {"f": field_name, "v": found}
            )
        done = Event.objects.filter(contact=contact, name=name)
        if not done.exists():
            return Check(what, False, _("The contact never did %(e)s.") % {"e": name})
        matching = done.filter(child.block.event_filter(child.value)).order_by("-occurred_at")
        latest = matching.first()
        if latest is None:
            return Check(
                what,
                False,
                _("The contact did %(e)s %(n)s times, never with the trigger's properties.")
                % {"e": name, "n": done.count()},
            )
        if not child.block.fires_on(child.value, latest):
            times, days = child.block.frequency(child.value)
            return Check(
                what,
                False,
                _("%(e)s happened, but not %(t)s times within %(d)s days.")
                % {"e": name, "t": times, "d": days or "∞"},
            )
        return Check(
            what, True, _("Fired by %(e)s at %(at)s.") % {"e": name, "at": latest.occurred_at}
        )
    return Check(what, False, _("The journey has no trigger."))


def explain(journey: Journey, contact, *, now: datetime | None = None) -> Explanation:
    """The step trail of the contact's latest enrollment, or the checks that kept them out."""
    now = now or timezone.now()
    explanation = Explanation(journey)
    enrollment = (
        Enrollment.objects.filter(journey=journey, contact=contact).order_by("-entered_at").first()
    )
    if enrollment is not None:
        explanation.enrollment = enrollment
        explanation.trail = list(enrollment.runs.order_by("at", "pk"))
        return explanation
    checks = explanation.checks
    live = journey.accepts_contacts
    checks.append(
        Check(
            _("Journey"),
            live,
            _("Published and running.") if live else _("Not published, paused or archived."),
        )
    )
    checks.append(_trigger_check(journey, contact))
    if len(journey.entry_rules):
        fits = matches(journey.entry_match, journey.entry_rules, contact, now=now)
        checks.append(
            Check(
                _("Entry rules"),
                fits,
                _("The contact matches them now.")
                if fits
                else _("The contact does not match them now."),
            )
        )
    refusal = _reentry_refusal(journey, contact, now)
    checks.append(Check(_("Re-entry"), not refusal, refusal or _("Allows the contact in now.")))
    return explanation
