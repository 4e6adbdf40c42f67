"""The simulator: a dry run of a journey for one contact on a simulated clock.

It runs the real interpreter inside a transaction that it rolls back at the
end, so every decision is the one a real run would take (conditions see the
tags earlier steps added, frequency caps count the messages queued), and
nothing is kept or sent: no email is delivered (delivery starts only after
commit), no webhook is called, no staff email leaves.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from wagtail_journeys.journeys.entry import _reentry_refusal
from wagtail_journeys.journeys.interpreter import Runner
from wagtail_journeys.models import Contact, Enrollment, Event, Journey
from wagtail_journeys.segments import values
from wagtail_journeys.segments.conditions import matches

#: Waits and events handled at most in one simulation (a loop guard).
MAX_WAKES = 500


@dataclass
class SimulatedEvent:
    """An event the simulated contact does, ``after`` the journey starts."""

    name: str
    after: timedelta = timedelta()
    properties: dict[str, Any] = field(default_factory=dict)


@dataclass
class Entry:
    """One line of the timeline."""

    at: datetime
    step_id: str
    step_type: str
    summary: str
    result: str
    reason: str
    branch: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


@dataclass
class Timeline:
    entries: list[Entry] = field(default_factory=list)
    entered: bool = True
    refusal: str = ""
    status: str = ""

    def add_run(self, run, node) -> None:
        branch = ""
        if run.branch and node is not None:
            branch = node.labels.get(run.branch, run.branch)
        self.entries.append(
            Entry(
                at=run.at,
                step_id=run.step_id,
                step_type=run.step_type,
                summary=node.summary if node is not None else "",
                result=run.result,
                reason=run.reason,
                branch=branch,
                detail=dict(run.detail),
            )
        )

    def add_event(self, at: datetime, event: SimulatedEvent) -> None:
        self.entries.append(
            Entry(at, "", "event", event.name, "event", _("The contact did %s.") % event.name)
        )


# -- Simulated events as text (the admin form and ``journeys_simulate``) ----------------------

MAX_OFFSET = timedelta(days=365)
#: ``name [after 1d2h] [{json}]``; the JSON runs to the end of the line (checked apart,
#: so that a mistake in it is reported as such).
EVENT_LINE = re.compile(
    r"^(?P<name>[^\s{\[]+)(?:\s+after\s+(?P<after>[^\s{\[]+))?\s*(?P<properties>[{\[].*)?$",
    re.IGNORECASE,
)
DURATION = re.compile(r"^(?:\d{1,6}[wdhm])+$", re.IGNORECASE)
DURATION_PART = re.compile(r"(\d+)([wdhm])", re.IGNORECASE)
UNITS = {"w": "weeks", "d": "days", "h": "hours", "m": "minutes"}


def parse_duration(text: str) -> timedelta:
    """``2h``, ``1d12h``, ``90m``, ``1w``: a duration of at most a year."""
    if not DURATION.match(text):
        raise ValueError(
            _("“%(text)s” is not a duration: write it like 30m, 2h, 1d or 1d12h.") % {"text": text}
        )
    delta = timedelta()
    for amount, unit in DURATION_PART.findall(text):
        delta += timedelta(**{UNITS[unit.lower()]: int(amount)})
    if delta > MAX_OFFSET:
        raise ValueError(_("The simulation covers one year at most."))
    return delta


def _refuse_constant(name: str):
    raise ValueError(_("%(name)s is not a JSON value.") % {"name": name})


def _finite(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(_("%(number)s is too large a number.") % {"number": text})
    return number


def json_object(text: str, what: str) -> dict[str, Any]:
    """``text`` read as a JSON object (``{...}``); ``ValueError`` saying what is wrong."""
    try:
        # NaN and infinities are not JSON, and the database refuses to store them.
        value = json.loads(text, parse_constant=_refuse_constant, parse_float=_finite)
    except RecursionError:
        raise ValueError(_("%(what)s nest too deeply.") % {"what": what}) from None
    except ValueError as error:
        raise ValueError(
            _("%(what)s are not valid JSON (%(error)s).") % {"what": what, "error": error}
        ) from None
    if not isinstance(value, dict):
        raise ValueError(_('%(what)s must be a JSON object, like {"total": 50}.') % {"what": what})
    return value


def parse_event_line(line: str) -> SimulatedEvent:
    """One line, ``name [after 2h] [{json}]``, as a simulated event."""
    match = EVENT_LINE.match(line)
    if match is None:
        raise ValueError(_('Write an event as: order_completed after 2h {"total": 50}.'))
    name = values.identifier(match["name"], _("An event name"))
    after = parse_duration(match["after"]) if match["after"] else timedelta()
    properties = match["properties"]
    properties = json_object(properties, _("The properties")) if properties else {}
    return SimulatedEvent(name=name, after=after, properties=properties)


class _RollBack(Exception):
    pass


def simulate(
    journey: Journey,
    *,
    contact: Contact | None = None,
    fields: dict[str, Any] | None = None,
    events: list[SimulatedEvent] = (),
    draft: bool = True,
    start: datetime | None = None,
    trigger_properties: dict[str, Any] | None = None,
    until: timedelta = timedelta(days=365),
) -> Timeline:
    """Run ``contact`` (or a synthetic one with ``fields``) through ``journey``; keep nothing.

    ``draft`` picks the latest revision (what the editor is working on);
    otherwise the live one. ``events`` happen at their offset from
    ``start``; waits jump the clock to their due time. Returns the timeline.
    """
    revision = journey.latest_revision if draft else journey.live_revision
    if revision is None:
        revision = journey.save_revision(log_action=False, clean=False) if draft else None
    if revision is None:
        raise ValueError(_("The journey has no live version to simulate."))
    start = start or timezone.now()
    timeline = Timeline()
    try:
        with transaction.atomic():
            _run(
                journey,
                revision,
                contact,
                fields,
                events,
                start,
                until,
                trigger_properties,
                timeline,
            )
            raise _RollBack
    except _RollBack:
        pass
    return timeline


def _synthetic_contact(fields: dict[str, Any]) -> Contact:
    fields = dict(fields)
    tags = fields.pop("tags", [])
    custom = {key: fields.pop(key) for key in list(fields) if not hasattr(Contact, key)}
    contact = Contact.objects.create(
        email=fields.pop("email", "simulated.contact@example.invalid"),
        status=fields.pop("status", Contact.Status.SUBSCRIBED),
        consent=fields.pop("consent", {"email": True}),
        custom_fields={**fields.pop("custom_fields", {}), **custom},
        **fields,
    )
    if tags:
        contact.tags.add(*tags)
    return contact


def _run(journey, revision, contact, fields, events, start, until, trigger_properties, timeline):
    from wagtail_journeys.journeys.dispatch import apply_to_enrollments

    if contact is None:
        contact = _synthetic_contact(fields or {})
    as_of = revision.as_object()
    refusal = _reentry_refusal(journey, contact, start)
    if (
        not refusal
        and len(as_of.entry_rules)
        and not matches(as_of.entry_match, as_of.entry_rules, contact, now=start)
    ):
        refusal = _("Entry rules: the contact does not match them.")
    if refusal:
        timeline.entered, timeline.refusal = False, refusal
        return
    runner = Runner(now=start, simulate=True, record=timeline.add_run)
    enrollment = Enrollment.objects.create(
        journey=journey,
        contact=contact,
        revision=revision,
        context=trigger_properties or {},
        entered_at=start,
    )
    enrollment.contact = contact
    runner.run(enrollment)
    pending = sorted(events, key=lambda event: event.after)
    for _wake in range(MAX_WAKES):
        enrollment.refresh_from_db()
        if not enrollment.in_journey:
            break
        due = enrollment.next_run_at
        if pending and (due is None or start + pending[0].after <= due):
            simulated = pending.pop(0)
            runner.now = max(runner.now, start + simulated.after)
            event = Event.objects.create(
                contact=contact,
                name=simulated.name,
                properties=simulated.properties,
                occurred_at=runner.now,
                source=Event.Source.SYSTEM,
            )
            timeline.add_event(runner.now, simulated)
            apply_to_enrollments(event, runner, only=enrollment.pk)
            continue
        if due is None or due - start > until:
            break
        runner.now = max(runner.now, due)
        enrollment.contact = contact
        runner.run(enrollment)
    enrollment.refresh_from_db()
    timeline.status = enrollment.status
