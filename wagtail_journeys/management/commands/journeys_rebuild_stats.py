"""``journeys_rebuild_stats``: compute the report counters again from the raw records."""

from django.core.management.base import BaseCommand

from wagtail_journeys.analytics.rebuild import rebuild


class Command(BaseCommand):
    help = (
        "Replace the report counters with ones computed from step runs, messages and their "
        "events (after an upgrade, or if the counters were lost). Erased contacts' step runs "
        "are gone, so their steps are no longer counted."
    )

    def handle(self, *args, **options):
        rows = rebuild()
        self.stdout.write(f"Rebuilt {rows} daily counter rows.")
