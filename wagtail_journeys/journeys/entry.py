"""Who enters a journey: the live journey's entry rules and re-entry policy, and ``enroll()``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

from wagtail_journeys.analytics.counting import save_step_runs
from wagtail_journeys.models import Contact, Enrollment, Journey
from wagtail_journeys.segments.conditions import matches

ReEntry = Journey.ReEntry


@dataclass
class EntryDecision:
    """Whether a contact entered, and if not, what kept them out."""

    enrollment: Enrollment | None
    reason: str = ""

    def __bool__(self) -> bool:
        return self.enrollment is not None


def _reentry_refusal(journey: Journey, contact: Contact, now: datetime) -> str:
    enrollments = Enrollment.objects.filter(journey=journey, contact=contact)
    if journey.reentry == ReEntry.ONCE and enrollments.exists():
        return _("Re-entry: this journey is once per contact, and they were in it.")
    if (
        journey.reentry == ReEntry.NOT_WHILE_ACTIVE
        and enrollments.filter(status__in=Enrollment.IN_JOURNEY).exists()
    ):
        return _("Re-entry: the contact is already in this journey.")
    if journey.reentry == ReEntry.ONCE_PER_DAYS:
        since = now - timedelta(days=journey.reentry_days or 0)
        if enrollments.filter(entered_at__gt=since).exists():
            return _("Re-entry: the contact entered less than %(n)s days ago.") % {
                "n": journey.reentry_days
            }
    return ""


def try_enroll(
    journey: Journey,
    contact: Contact,
    *,
    now: datetime | None = None,
    entry_key: str | None = None,
    context: dict | None = None,
    reason: str = "",
    runner=None,
) -> EntryDecision:
    """Enroll ``contact`` in the live ``journey`` if its entry rules and re-entry policy allow.

    The enrollment is pinned to the live revision and written, not run: the
    caller runs its first steps (``Runner.run``); given that ``runner``, the
    "entered" step run is written with its others. Two processes entering the
    same contact at once are told apart by unique constraints: one enrollment
    per ``entry_key`` (an event enrolls once however often it is dispatched),
    one ever for "once", one at a time for "not while in it".
    """
    now = now or timezone.now()
    if not journey.accepts_contacts or journey.live_revision_id is None:
        return EntryDecision(None, _("The journey is not live and running."))
    if contact.pk is None:
        return EntryDecision(None, _("The contact is not saved."))
    # "Once" and "not while in it" are enforced by unique constraints at the
    # insert below (which also settles two entries at the same moment).
    if journey.reentry == ReEntry.ONCE_PER_DAYS:
        refusal = _reentry_refusal(journey, contact, now)
        if refusal:
            return EntryDecision(None, refusal)
    if len(journey.entry_rules) and not matches(
        journey.entry_match, journey.entry_rules, contact, now=now
    ):
        return EntryDecision(None, _("Entry rules: the contact does not match them."))
    if journey.reentry == ReEntry.ONCE:
        entry_key = "once"
    enrollment = Enrollment(
        journey=journey,
        contact=contact,
        revision_id=journey.live_revision_id,
        entry_key=entry_key,
        live_key=None if journey.reentry == ReEntry.EVERY_TIME else "live",
        context=context or {},
        entered_at=now,
    )
    try:
        with transaction.atomic():
            enrollment.save()
    except IntegrityError:
        refusal = _reentry_refusal(journey, contact, now)
        return EntryDecision(None, refusal or _("Re-entry: entered at the same moment."))
    from wagtail_journeys.models import StepRun

    entered = StepRun(
        enrollment=enrollment,
        journey=journey,
        at=now,
        result=StepRun.Result.ENTERED,
        reason=reason[:500],
        detail={"revision_id": journey.live_revision_id},
    )
    if runner is not None:
        runner.runs.append(entered)
    else:
        save_step_runs([entered])
    return EntryDecision(enrollment)


def enroll(contact: Contact, journey: Journey, *, context: dict | None = None) -> Enrollment | None:
    """Put ``contact`` into ``journey`` now and run its first steps.

    The journey must be published and running; its entry rules and
    re-entry policy apply as for any trigger. ``context`` (JSON) reaches the
    steps and the emails (``{{ context.<key> }}``; a ``cart_id`` picks the
    cart shown). Returns the enrollment, or ``None`` if the contact may not
    enter (``enroll_or_refuse`` says why). Runs its first steps inside the
    current transaction.
    """
    return enroll_or_refuse(contact, journey, context=context).enrollment


def enroll_or_refuse(
    contact: Contact,
    journey: Journey,
    *,
    context: dict | None = None,
    reason: str = "",
) -> EntryDecision:
    """``enroll()``, returning the decision: the enrollment, or the reason it was refused."""
    from wagtail_journeys.journeys.interpreter import Runner

    journey = Journey.objects.get(pk=journey.pk)
    decision = try_enroll(
        journey, contact, context=context, reason=reason or _("enroll() from Python")
    )
    if decision.enrollment is None:
        return decision
    runner = Runner()
    with transaction.atomic():
        runner.run(decision.enrollment)
        runner.flush()
    return decision
