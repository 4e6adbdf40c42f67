"""``journeys_tick``: run the journey scheduler once, here (cron instead of a django-q2 cluster).

Detects abandoned carts, inactive contacts and anniversaries, then claims
and runs every enrollment whose wait is over. Safe to run from several
machines at once: claims do not overlap. ``--install-schedule`` creates the
repeating django-q2 schedule that does the same every ``TICK_MINUTES``.
"""

from django.core.management.base import BaseCommand, CommandError
from django.utils.dateparse import parse_datetime

from wagtail_journeys.journeys.scheduler import SCHEDULE_NAME, ensure_tick_schedule, tick


class Command(BaseCommand):
    help = "Run due journey steps and the detectors (abandoned carts, inactivity, anniversaries)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--limit", type=int, default=None, help="Run no more than this many enrollments."
        )
        parser.add_argument(
            "--now",
            default=None,
            help="Pretend it is this moment (ISO 8601 with a timezone), to test waits.",
        )
        parser.add_argument(
            "--install-schedule",
            action="store_true",
            help="Create the repeating django-q2 schedule that runs the tick, and stop.",
        )

    def handle(self, *args, limit=None, now=None, install_schedule=False, **options):
        if install_schedule:
            ensure_tick_schedule()
            self.stdout.write(f"The django-q2 schedule {SCHEDULE_NAME!r} is in place.")
            return
        if limit is not None and limit < 1:
            raise CommandError("--limit must be at least 1.")
        moment = None
        if now:
            moment = parse_datetime(now)
            if moment is None or moment.tzinfo is None:
                raise CommandError("--now must be an ISO 8601 date and time with a timezone.")
        report = tick(now=moment, inline=True, limit=limit)
        parts = [f"{count} {name.replace('_', ' ')}" for name, count in report.as_dict().items()]
        self.stdout.write("Journeys tick: " + ", ".join(parts) + ".")
