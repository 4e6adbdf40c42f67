"""``journeys_import_contacts FILE --segment NAME``: a CSV file of contacts into a static segment.

The same import as the admin's "Import contacts (CSV)", run in this process
(no task queue needed, no size limit): its progress is printed after each
chunk, then the counts and the rows it refused.
"""

import os

from django.core.management.base import BaseCommand, CommandError

from wagtail_journeys.models import Segment
from wagtail_journeys.segments import import_files, imports


class Command(BaseCommand):
    help = (
        "Import contacts from a CSV file (header row: email, and optionally first_name, "
        "last_name, phone, tags) into a static segment."
    )

    def add_arguments(self, parser):
        parser.add_argument("file", help="The CSV file (UTF-8, with a header row).")
        parser.add_argument(
            "--segment", required=True, help="The name of the static segment to add them to."
        )

    def handle(self, *args, file, segment, verbosity, **options):
        self.verbosity = verbosity
        found = Segment.objects.filter(name=segment).first()
        if found is None:
            raise CommandError(f"No segment is named {segment!r}.")
        if found.is_dynamic:
            raise CommandError(
                f"{segment!r} is a dynamic segment: contacts can be imported only into static "
                "segments."
            )
        try:
            with open(file, "rb") as handle:
                csv_file = import_files.read_bytes(handle.read(), max_bytes=None)
        except OSError as error:
            raise CommandError(f"Cannot read {file}: {error.strerror}.") from None
        except import_files.ImportFileError as error:
            raise CommandError(str(error)) from None

        job = imports.create_import(found, csv_file, filename=os.path.basename(file))
        imports.process(job, progress=self.progress)
        job.refresh_from_db()
        self.report(job)
        if job.status == job.Status.FAILED:
            raise CommandError(job.failure)

    def progress(self, job):
        if self.verbosity:
            self.stdout.write(f"{job.processed_rows} / {job.total_rows} rows")

    def report(self, job):
        self.stdout.write(
            f"{job.segment.name}: {job.created_count} contacts created, "
            f"{job.updated_count} known contacts updated, {job.added_count} added to the "
            f"segment, {job.error_count} rows refused."
        )
        for error in job.errors:
            value = error["value"] or "(empty)"
            self.stdout.write(f"  row {error['row']}: {value}: {error['reason']}")
        if job.error_count > len(job.errors):
            self.stdout.write(f"  … and {job.error_count - len(job.errors)} more rows refused.")
