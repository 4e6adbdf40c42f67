"""Publishing a new revision of a live journey: what happens to the contacts inside.

The rule (documented in docs/journeys.md):

- a contact at a step that is still there (same block id) stays at it, on
  the new revision; a wait keeps its due time;
- a contact at a step the new revision removed moves to the first step after
  theirs, in the old revision, that the new one still has, and runs it at
  the next tick; if no later step survives, they leave the journey
  ("exited", reason "step removed").

``removed_steps`` tells the editor, before publishing, how many contacts
each removed step holds.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from wagtail.models import Revision

from wagtail_journeys.analytics.counting import save_step_runs
from wagtail_journeys.journeys.plan import Plan, build_plan, revision_plan
from wagtail_journeys.models import Enrollment, Journey, StepRun


@dataclass
class RemovedStep:
    step_id: str
    summary: str
    contacts: int


def removed_steps(journey: Journey, new_steps) -> list[RemovedStep]:
    """The steps with contacts in them that ``new_steps`` (a steps value) no longer has."""
    new_plan = _plan_of(new_steps)
    counts = Counter(
        Enrollment.objects.filter(journey=journey, status__in=Enrollment.IN_JOURNEY)
        .exclude(current_step="")
        .values_list("revision_id", "current_step")
    )
    removed: dict[str, RemovedStep] = {}
    for (revision_id, step_id), count in counts.items():
        if step_id in new_plan:
            continue
        summary = step_id
        revision = Revision.objects.filter(pk=revision_id).first()
        if revision is not None:
            _journey, old_plan = revision_plan(revision)
            if step_id in old_plan:
                summary = old_plan[step_id].summary
        entry = removed.setdefault(step_id, RemovedStep(step_id, summary, 0))
        entry.contacts += count
    return sorted(removed.values(), key=lambda step: -step.contacts)


def _plan_of(steps) -> Plan:
    from types import SimpleNamespace

    # Raw data (a list of dicts) or a form's StreamValue: make it a StreamValue.
    steps = Journey._meta.get_field("steps").to_python(steps)
    return build_plan(SimpleNamespace(steps=steps))


def move_enrollments(journey: Journey, revision: Revision) -> dict[str, int]:
    """Move everyone in ``journey`` to ``revision`` (just published), by the rule above."""
    now = timezone.now()
    _new_journey, new_plan = revision_plan(revision)
    inside = Enrollment.objects.filter(journey=journey, status__in=Enrollment.IN_JOURNEY).exclude(
        revision=revision
    )
    report = {"kept": 0, "moved": 0, "exited": 0}
    groups = inside.values_list("revision_id", "current_step").distinct()
    with transaction.atomic():
        for revision_id, step_id in list(groups):
            rows = inside.filter(revision_id=revision_id, current_step=step_id)
            if not step_id or step_id in new_plan:
                report["kept"] += rows.update(revision=revision)
                continue
            old_revision = Revision.objects.filter(pk=revision_id).first()
            target = None
            if old_revision is not None:
                _old, old_plan = revision_plan(old_revision)
                target = old_plan.surviving_successor(step_id, new_plan)
            ids = list(rows.values_list("pk", flat=True))
            if target is None:
                reason = _("Their step was removed and no later step survived.")
                Enrollment.objects.filter(pk__in=ids).update(
                    revision=revision,
                    status=Enrollment.Status.EXITED,
                    exit_reason=_("Step removed by a live edit."),
                    ended_at=now,
                    next_run_at=None,
                    held_run_at=None,
                    live_key=None,
                    state={},
                )
                result, report_key = StepRun.Result.EXITED, "exited"
            else:
                reason = _("Their step was removed; moved to the next step that remains.")
                paused = journey.state == Journey.State.PAUSED
                Enrollment.objects.filter(pk__in=ids).update(
                    revision=revision,
                    current_step=target,
                    status=Enrollment.Status.WAITING,
                    state={},
                    next_run_at=None if paused else now,
                    held_run_at=now if paused else None,
                )
                result, report_key = StepRun.Result.MOVED, "moved"
            save_step_runs(
                [
                    StepRun(
                        enrollment_id=pk,
                        journey=journey,
                        step_id=step_id,
                        at=now,
                        result=result,
                        reason=reason,
                        detail={"to_step": target, "revision_id": revision.pk},
                    )
                    for pk in ids
                ]
            )
            report[report_key] += len(ids)
    return report


def on_published(sender, instance, revision=None, **kwargs) -> None:
    """Wagtail's ``published`` signal for a journey: move contacts, refresh the index."""
    if not isinstance(instance, Journey):
        return
    from wagtail_journeys.journeys.dispatch import forget_index
    from wagtail_journeys.journeys.scheduler import ensure_tick_schedule

    revision = revision or instance.live_revision
    if revision is not None:
        move_enrollments(instance, revision)
    forget_index()
    transaction.on_commit(ensure_tick_schedule)
