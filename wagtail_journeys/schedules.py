"""The repeating django-q2 schedules the app creates when it first needs them."""

import logging

from django.apps import apps
from django.db import DatabaseError

logger = logging.getLogger(__name__)


def ensure_schedule(name: str, func: str, minutes: int) -> None:
    """Create the schedule ``name`` running the task ``func`` every ``minutes``, if missing.

    An existing schedule is left as it is (an operator may have changed it).
    A database error is logged, never raised: the caller's work is done and
    the schedule is created next time.
    """
    if not apps.is_installed("django_q"):
        return
    from django_q.models import Schedule

    try:
        Schedule.objects.get_or_create(
            name=name,
            defaults={
                "func": func,
                "schedule_type": Schedule.MINUTES,
                "minutes": max(1, minutes),
                "repeats": -1,
            },
        )
    except DatabaseError:
        logger.exception("Could not create the %r schedule", name)
