"""Delivering queued messages: checks, claim, render, send over one connection, record.

``deliver_messages(ids)`` is what a django-q2 task runs for a batch:

1. load the due queued messages and apply the delivery-time checks of
   ``policies`` (suppression, consent, quiet hours, frequency cap);
2. **claim** the sendable ones with one ``UPDATE ... WHERE status='queued'``
   (``queued`` → ``sending``), so that two workers never both send one;
3. render each for its contact (one ``RenderSession`` for the batch) and store
   the subject, sender and links before the provider sees the message;
4. send them all over **one** connection of the configured Django/Anymail
   backend, one message at a time so that one failure does not fail the rest,
   from a thread of the batch while the next messages render (``SendRun``);
5. store the outcomes of each group as soon as it is sent (one prepared UPDATE): ``sent`` (with
   the ESP's message id and status, and an ``email_sent`` event), back to
   ``queued`` with a back-off after an error that proves the provider did
   not take the message, ``failed`` after a permanent one.

Each group of emails is marked as handed over right before the provider
sees it, and its outcomes are written as soon as it is sent, so a worker
that dies mid-batch leaves at most one group unknown: those stay
``sending`` and ``stuck_messages()`` reports them (they may well have been
delivered, so they are never resent), while the claims it never reached are
given back after ``SEND_CLAIM_TIMEOUT`` (``claims``).
"""

from __future__ import annotations

import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from datetime import datetime

from django.core.mail import get_connection
from django.db import DatabaseError
from django.utils import timezone

from wagtail_journeys.conf import get_setting
from wagtail_journeys.email import errors, policies
from wagtail_journeys.email.claims import STUCK_AFTER, claim, due, release_abandoned, stuck_messages
from wagtail_journeys.email.composing import Composer, fit_to_esp
from wagtail_journeys.email.transport import Outcome, SendRun, retry_or_fail, save_fields
from wagtail_journeys.models.messages import Message
from wagtail_journeys.schedules import ensure_schedule

__all__ = [
    "STUCK_AFTER",
    "DeliveryReport",
    "claim",
    "due",
    "deliver_due",
    "deliver_messages",
    "ensure_delivery_schedule",
    "stuck_messages",
]

logger = logging.getLogger(__name__)
Status = Message.Status

SEND_QUEUED_TASK = "wagtail_journeys.tasks.send_queued"
#: The name of the repeating django-q2 schedule that delivers due messages.
SCHEDULE_NAME = "wagtail_journeys: send queued email"
#: Messages rendered before they are handed to the sending thread: small, so that
#: sending starts early and overlaps the rendering of the rest of the batch.
PIPELINE_CHUNK = 10


def ensure_delivery_schedule() -> None:
    """Create the repeating django-q2 schedule that sends due queued messages, if missing.

    It runs ``journeys_send_queued``'s work every minute: retries after a
    back-off, messages deferred by quiet hours or ``send_after``, and any
    whose task was lost.
    """
    ensure_schedule(SCHEDULE_NAME, SEND_QUEUED_TASK, minutes=1)


@dataclass
class DeliveryReport:
    """How many messages of a delivery run ended in each state."""

    sent: int = 0
    suppressed: int = 0
    skipped: int = 0
    deferred: int = 0
    retrying: int = 0
    failed: int = 0
    #: Handed to the provider with an unknown outcome: left ``sending``, reported as stuck.
    uncertain: int = 0

    def add(self, other: DeliveryReport) -> None:
        for name, value in asdict(other).items():
            setattr(self, name, getattr(self, name) + value)

    def as_dict(self) -> dict[str, int]:
        return asdict(self)

    @property
    def total(self) -> int:
        return sum(asdict(self).values())


def _batch_size() -> int:
    return max(1, int(get_setting("SEND_BATCH_SIZE")))


def apply_verdicts(messages: list[Message], verdicts, report: DeliveryReport) -> None:
    """Store the suppressions, skips and deferrals decided by the policies."""
    groups: dict[tuple, list[int]] = defaultdict(list)
    for message in messages:
        verdict = verdicts[message.pk]
        if verdict.action != policies.SEND:
            groups[(verdict.action, verdict.reason, verdict.send_after)].append(message.pk)
    for (action, reason, send_after), ids in groups.items():
        # Still queued: a message another worker took meanwhile is left to it.
        rows = Message.objects.filter(pk__in=ids, status=Status.QUEUED)
        if action == policies.DEFER:
            count = rows.update(send_after=send_after, status_reason=reason)
            report.deferred += count
        else:
            count = rows.update(status=action, status_reason=reason)
            setattr(report, action, getattr(report, action) + count)
    if any(action == policies.DEFER for action, _, _ in groups):
        ensure_delivery_schedule()


def _render(composer: Composer, claimed: list[Message], run: SendRun, now: datetime) -> list:
    """Build the emails of ``claimed``; a message that cannot be rendered fails (or is retried)."""
    ready = []
    for message in claimed:
        try:
            ready.append((message, fit_to_esp(composer.build(message), run.connection)))
        except DatabaseError as error:
            # Nothing was sent: a database hiccup is worth another try.
            run.outcomes[message.pk] = retry_or_fail(message, error, now)
        except Exception as error:
            run.outcomes[message.pk] = Outcome(
                Status.FAILED, f"The email could not be rendered: {errors.describe(error)}"
            )
    # Stored before the provider sees the message: a click may come back at once.
    save_fields([message for message, _ in ready], ["subject", "from_email", "links"])
    return ready


def _render_and_send(composer: Composer, claimed: list[Message], run: SendRun, now) -> None:
    """Render the claimed messages a few at a time, each group sent while the next renders."""
    # The carts, wishlists and product views of the whole batch, in a few queries.
    composer.session.prefetch([message.contact for message in claimed])
    opened = False
    for start in range(0, len(claimed), PIPELINE_CHUNK):
        ready = _render(composer, claimed[start : start + PIPELINE_CHUNK], run, now)
        if not ready:
            continue
        if not opened:
            try:
                run.connection.open()
            except Exception as error:
                for message in claimed[start:]:
                    if message.pk not in run.outcomes:
                        run.retry_or_fail(message, error)
                return
            opened = True
        run.send(ready)


def deliver_messages(
    message_ids: Iterable[int],
    *,
    now: datetime | None = None,
    connection=None,
    composer: Composer | None = None,
) -> DeliveryReport:
    """Deliver the due queued messages among ``message_ids`` over one connection.

    Messages that are not queued (already sent, being sent by another
    worker, suppressed...) or not yet due are left alone, so running this
    twice for the same ids sends nothing twice. ``connection`` (an email
    backend instance) is used and left open if given; otherwise one is
    opened for the batch and closed. ``now`` fixes the clock (tests).
    """
    report = DeliveryReport()
    clock: Callable[[], datetime] = (lambda: now) if now is not None else timezone.now
    start = clock()
    messages = list(
        due(start)
        .filter(pk__in=list(message_ids))
        .select_related("contact", "template")
        .order_by("pk")
    )
    if not messages:
        return report
    verdicts = policies.check_messages(messages, start)
    apply_verdicts(messages, verdicts, report)
    claimed = claim([m for m in messages if verdicts[m.pk].action == policies.SEND], start)
    if not claimed:
        return report
    own_connection = connection is None
    run = SendRun(clock, connection or get_connection())
    aborted = True
    try:
        _render_and_send(composer or Composer(), claimed, run, start)
        aborted = False
    finally:
        # Also on KeyboardInterrupt or SystemExit: stop sending, record what is known.
        try:
            run.finish(abort=aborted)  # raises what stopped the sending thread, if anything
        finally:
            try:
                if own_connection:
                    run.connection.close()
            except Exception:
                logger.debug("Closing the email connection failed", exc_info=True)
            counts = run.record(claimed)
            report.sent += counts[Status.SENT]
            report.retrying += counts[Status.QUEUED]
            report.failed += counts[Status.FAILED]
            report.skipped += counts[Status.SKIPPED]
            report.uncertain += counts[Status.SENDING]
            if report.retrying:
                ensure_delivery_schedule()
    return report


def deliver_due(
    *,
    now: datetime | None = None,
    limit: int | None = None,
    on_batch: Callable[[DeliveryReport], None] | None = None,
) -> DeliveryReport:
    """Deliver every queued message that is due, in batches of ``SEND_BATCH_SIZE``.

    What the repeating schedule and ``journeys_send_queued`` run. All the
    batches share one connection. ``limit`` caps the due messages looked at;
    ``on_batch`` is called with the running totals after each batch.
    """
    report = DeliveryReport()
    release_abandoned(now)
    size = _batch_size()
    last_pk = seen = 0
    composer = connection = None
    try:
        while limit is None or seen < limit:
            take = size if limit is None else min(size, limit - seen)
            ids = list(
                due(now or timezone.now())
                .filter(pk__gt=last_pk)
                .order_by("pk")
                .values_list("pk", flat=True)[:take]
            )
            if not ids:
                break
            last_pk, seen = ids[-1], seen + len(ids)
            composer = composer or Composer()
            connection = connection or get_connection()
            report.add(deliver_messages(ids, now=now, connection=connection, composer=composer))
            if on_batch is not None:
                on_batch(report)
    finally:
        if connection is not None:
            try:
                connection.close()
            except Exception:
                logger.debug("Closing the email connection failed", exc_info=True)
    return report
