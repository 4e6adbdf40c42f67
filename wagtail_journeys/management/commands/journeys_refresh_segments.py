"""``journeys_refresh_segments``: bring stored segment membership in line with the rules.

For sites that run cron instead of a django-q2 cluster, and after bulk
changes made without events (an import, an SQL update).
"""

from django.core.management.base import BaseCommand, CommandError

from wagtail_journeys.models import Segment
from wagtail_journeys.segments.membership import refresh_segment


class Command(BaseCommand):
    help = "Refresh the membership of every segment (or of the named ones) and print what changed."

    def add_arguments(self, parser):
        parser.add_argument("names", nargs="*", help="Segment names (default: every segment).")

    def handle(self, *args, names, **options):
        segments = Segment.objects.order_by("pk")
        if names:
            segments = segments.filter(name__in=names)
            missing = set(names) - set(segments.values_list("name", flat=True))
            if missing:
                raise CommandError(f"No segment named {', '.join(sorted(missing))}.")
        for segment in segments:
            report = refresh_segment(segment)
            self.stdout.write(
                f"{segment.name}: {report.members} members "
                f"(+{report.entered} / -{report.exited}) in {report.seconds:.2f} s"
            )
