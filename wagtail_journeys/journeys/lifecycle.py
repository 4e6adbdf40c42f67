"""Pausing, resuming and archiving a journey, and what publishing does."""

from __future__ import annotations

from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.translation import gettext as _

from wagtail_journeys.analytics.counting import save_step_runs
from wagtail_journeys.models import Enrollment, Journey, StepRun


def pause(journey: Journey) -> int:
    """Stop new entries and hold waiting contacts where they are; returns how many are held.

    Held contacts keep their due time aside (``held_run_at``), out of the
    tick's index, and get it back on ``resume``; goals still end them.
    """
    from wagtail_journeys.journeys.dispatch import forget_index

    with transaction.atomic():
        Journey.objects.filter(pk=journey.pk).update(state=Journey.State.PAUSED)
        held = Enrollment.objects.filter(journey=journey, next_run_at__isnull=False).update(
            held_run_at=F("next_run_at"), next_run_at=None
        )
    journey.state = Journey.State.PAUSED
    forget_index()
    return held


def resume(journey: Journey) -> int:
    """Let contacts enter again and continue the held ones (overdue ones at the next tick)."""
    from wagtail_journeys.journeys.dispatch import forget_index

    with transaction.atomic():
        Journey.objects.filter(pk=journey.pk).update(state=Journey.State.RUNNING)
        resumed = Enrollment.objects.filter(journey=journey, held_run_at__isnull=False).update(
            next_run_at=F("held_run_at"), held_run_at=None
        )
    journey.state = Journey.State.RUNNING
    forget_index()
    return resumed


def archive(journey: Journey, user=None) -> int:
    """End the journey: unpublish it and take everyone out; returns how many were in it."""
    from wagtail_journeys.journeys.dispatch import forget_index

    now = timezone.now()
    with transaction.atomic():
        inside = Enrollment.objects.filter(journey=journey, status__in=Enrollment.IN_JOURNEY)
        ids = list(inside.values_list("pk", flat=True))
        save_step_runs(
            [
                StepRun(
                    enrollment_id=pk,
                    journey=journey,
                    at=now,
                    result=StepRun.Result.EXITED,
                    reason=_("The journey was archived."),
                )
                for pk in ids
            ]
        )
        Enrollment.objects.filter(pk__in=ids).update(
            status=Enrollment.Status.EXITED,
            exit_reason=_("The journey was archived."),
            ended_at=now,
            next_run_at=None,
            held_run_at=None,
            live_key=None,
            state={},
        )
        Journey.objects.filter(pk=journey.pk).update(state=Journey.State.ARCHIVED)
        journey.state = Journey.State.ARCHIVED
        if journey.live:
            journey.unpublish(user=user)
    forget_index()
    return len(ids)
