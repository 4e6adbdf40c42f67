"""``journeys_purge_events``: delete raw events older than ``EVENT_RETENTION_DAYS`` now."""

from django.core.management.base import BaseCommand

from wagtail_journeys.retention import purge_events, retention_cutoff


class Command(BaseCommand):
    help = (
        "Delete the raw events older than WAGTAIL_JOURNEYS['EVENT_RETENTION_DAYS'] (the tick "
        "does it daily). The report counters are kept."
    )

    def handle(self, *args, **options):
        cutoff = retention_cutoff()
        if cutoff is None:
            self.stdout.write("EVENT_RETENTION_DAYS is None: events are kept; nothing to do.")
            return
        deleted = purge_events()
        self.stdout.write(f"Deleted {deleted} event(s) from before {cutoff:%Y-%m-%d %H:%M}.")
