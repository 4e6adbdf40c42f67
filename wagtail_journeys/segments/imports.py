"""Importing contacts from a CSV file into a static segment.

The file is checked when it is uploaded (see ``import_files``), stored in a
``SegmentImport``, and processed by a django-q2 task in chunks of
``CHUNK_SIZE`` rows, each chunk committed with the import's progress. A task
that stops half way (a worker restarted) is simply run again: it resumes
after the last committed chunk.

Rows are matched to contacts by email address. A new address creates a
contact (pending, without consent: an import subscribes nobody); a known one
only has its empty fields filled and its tags added, so nothing already
stored is lost. Every contact of a valid row is added to the segment, with a
``segment_entered`` event as for any other new member.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from django.db import transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone
from django.utils.translation import gettext as _

from wagtail_journeys.models import Contact, ContactTag, Segment, SegmentImport
from wagtail_journeys.segments.import_files import (
    FIELDS,
    CsvFile,
    ImportFileError,
    Row,
    clean_rows,
    read_text,
)
from wagtail_journeys.segments.membership import add_members, refresh_segment

logger = logging.getLogger(__name__)

IMPORT_TASK = "wagtail_journeys.segments.imports.run_import"
CHUNK_SIZE = 500
#: A task run stops after this long and queues the rest, well inside django-q2's timeout.
TASK_SECONDS = 20
#: Refused rows kept for the report; the count covers them all.
MAX_REPORTED_ERRORS = 1000


def _tags_by_name(names: set[str]) -> dict[str, object]:
    """The tag of each name (case-insensitively, as the tag rule matches), created if new."""
    tag_model = ContactTag.tag_model()
    found = {}
    for name in sorted(names):
        key = name.lower()
        if key not in found:
            found[key] = (
                tag_model.objects.filter(name=name).first()
                or tag_model.objects.filter(name__iexact=name).first()
                or tag_model.objects.create(name=name)
            )
    return found


def _add_tags(rows: list[Row], ids: dict[str, int]) -> set[int]:
    """Tag each row's contact; the ids of contacts given a tag they did not have."""
    wanted = {(ids[row.email], tag) for row in rows for tag in row.tags}
    if not wanted:
        return set()
    tags = _tags_by_name({tag for _contact, tag in wanted})
    pairs = {(contact_id, tags[tag.lower()].pk) for contact_id, tag in wanted}
    existing = set(
        ContactTag.objects.filter(
            content_object_id__in={contact_id for contact_id, _tag in pairs}
        ).values_list("content_object_id", "tag_id")
    )
    new = sorted(pairs - existing)
    ContactTag.objects.bulk_create(
        [ContactTag(content_object_id=contact_id, tag_id=tag_id) for contact_id, tag_id in new]
    )
    return {contact_id for contact_id, _tag in new}


def _fill_empty_fields(rows: list[Row], known: dict[str, Contact]) -> set[int]:
    """Fill known contacts' empty fields from their rows; the ids of contacts changed."""
    changed = set()
    for name in FIELDS:
        values = {
            known[row.email].pk: row.fields[name]
            for row in rows
            if row.email in known and row.fields.get(name) and not getattr(known[row.email], name)
        }
        if values:
            # Only where still empty when written: an edit made meanwhile is kept.
            Contact.objects.filter(pk__in=values, **{name: ""}).update(
                **{
                    name: Case(
                        *(When(pk=pk, then=Value(value)) for pk, value in values.items()),
                        default=F(name),
                    )
                }
            )
            changed |= set(values)
    return changed


def write_rows(segment: Segment, rows: list[Row]) -> tuple[int, int, int]:
    """Create or update the rows' contacts and add them to ``segment``.

    Returns the number of contacts created, of known contacts updated and
    of contacts added to the segment (the others were members already).
    """
    emails = [row.email for row in rows]
    known = {contact.email: contact for contact in Contact.objects.filter(email__in=emails)}
    # ignore_conflicts: an address added meanwhile (a signup) is found just below.
    Contact.objects.bulk_create(
        [Contact(email=row.email, **row.fields) for row in rows if row.email not in known],
        ignore_conflicts=True,
    )
    ids = dict(Contact.objects.filter(email__in=emails).values_list("email", "pk"))
    updated = _fill_empty_fields(rows, known)
    updated |= _add_tags(rows, ids) & {contact.pk for contact in known.values()}
    added = add_members(segment, ids.values())
    return len(ids) - len(known), len(updated), added


def create_import(segment: Segment, csv_file: CsvFile, *, filename: str = "", user=None):
    """Store a checked file as a ``SegmentImport``, ready to ``process``."""
    return SegmentImport.objects.create(
        segment=segment,
        filename=filename[:255],
        contents=csv_file.text,
        total_rows=csv_file.rows,
        created_by=user,
    )


def start_import(segment: Segment, csv_file: CsvFile, *, filename: str = "", user=None):
    """Store a checked file as a ``SegmentImport`` and queue its task once committed."""
    job = create_import(segment, csv_file, filename=filename, user=user)
    transaction.on_commit(lambda: queue(job))
    return job


def queue(job: SegmentImport) -> None:
    """Queue (or re-queue) the task of an import; a queue that fails marks it failed."""
    from django_q.tasks import async_task

    try:
        async_task(IMPORT_TASK, job.pk, group="wagtail_journeys.imports")
    except Exception:
        logger.exception("Could not queue segment import %s", job.pk)
        _fail(job.pk, _("The import could not be queued: is the django-q2 cluster configured?"))


def _fail(job_id: int, reason: str) -> None:
    SegmentImport.objects.filter(pk=job_id).update(
        status=SegmentImport.Status.FAILED,
        failure=reason,
        contents="",
        finished_at=timezone.now(),
    )


def _finish(job: SegmentImport) -> None:
    job.status = SegmentImport.Status.DONE
    job.contents = ""  # personal data, no longer needed: the report stays
    job.finished_at = timezone.now()
    job.save()
    # For a static segment a refresh only recounts its members.
    refresh_segment(job.segment)


def process(
    job: SegmentImport,
    *,
    seconds: float | None = None,
    progress: Callable[[SegmentImport], None] | None = None,
) -> bool:
    """Import the rows of ``job`` not yet processed; True once it is finished.

    Stops early (returning False) after ``seconds``, between chunks.
    ``progress`` is called with the import after each chunk is committed.
    """
    started = time.monotonic()
    try:
        segment = job.segment
        if segment.is_dynamic:
            _fail(job.pk, _("The segment is no longer a static list: nothing was imported."))
            return True
        items = clean_rows(read_text(job.contents)) if job.contents else []
        while True:
            with transaction.atomic():
                job = SegmentImport.objects.select_for_update().get(pk=job.pk)
                if job.is_finished:
                    return True
                chunk = items[job.processed_rows : job.processed_rows + CHUNK_SIZE]
                created, updated, added = write_rows(
                    segment, [item for item in chunk if isinstance(item, Row)]
                )
                refused = [item for item in chunk if not isinstance(item, Row)]
                job.status = SegmentImport.Status.RUNNING
                job.processed_rows += len(chunk)
                job.created_count += created
                job.updated_count += updated
                job.added_count += added
                job.error_count += len(refused)
                job.errors = (job.errors + refused)[:MAX_REPORTED_ERRORS]
                if job.processed_rows >= len(items):
                    _finish(job)
                else:
                    job.save()
            if progress is not None:
                progress(job)
            if job.is_finished:
                return True
            if seconds is not None and time.monotonic() - started > seconds:
                return False
    except ImportFileError as error:
        # Checked at upload: only a file stored some other way can get here.
        _fail(job.pk, str(error))
        return True
    except Exception:
        logger.exception("Segment import %s failed", job.pk)
        _fail(
            job.pk,
            _("An unexpected error stopped the import (the server log has the details)."),
        )
        return True


def run_import(import_id: int) -> dict[str, int]:
    """The django-q2 task: process an import for ``TASK_SECONDS``, then queue the rest.

    Short runs keep every task inside the cluster's ``timeout``, however
    large the file; the progress is committed after each chunk.
    """
    job = SegmentImport.objects.select_related("segment").filter(pk=import_id).first()
    if job is None or job.is_finished:
        return {}
    if not process(job, seconds=TASK_SECONDS):
        queue(job)
    job.refresh_from_db()
    return {
        "processed": job.processed_rows,
        "created": job.created_count,
        "updated": job.updated_count,
        "added": job.added_count,
        "refused": job.error_count,
    }
