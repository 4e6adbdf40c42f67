"""Handing rendered emails to the backend over one connection, and recording what came of each."""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.mail import EmailMultiAlternatives
from django.db import InterfaceError, OperationalError, connections, router, transaction

from wagtail_journeys.analytics.counting import Tally, journeys_of
from wagtail_journeys.conf import get_setting
from wagtail_journeys.email import errors
from wagtail_journeys.email.claims import hand_over
from wagtail_journeys.email.composing import esp_status
from wagtail_journeys.models.events import Event
from wagtail_journeys.models.messages import Message
from wagtail_journeys.signals import announce_on_commit

logger = logging.getLogger(__name__)
Status = Message.Status


def save_fields(
    messages: list[Message], fields: list[str], *, claims: dict[int, str] | None = None
) -> None:
    """Write ``fields`` of each of ``messages``: one UPDATE statement run for every row.

    ``bulk_update`` builds a CASE expression per field and row, which costs
    far more in Python than the database spends on the rows (it was a fifth
    of the delivery time of a batch); ``executemany`` of one prepared UPDATE
    costs almost nothing. With ``claims`` (message id → claim token) a row
    is written only while it is still ``sending`` under that claim.
    """
    if not messages:
        return
    connection = connections[router.db_for_write(Message)]
    meta = Message._meta
    columns = [meta.get_field(name) for name in fields]
    quote = connection.ops.quote_name
    assignments = ", ".join(f"{quote(field.column)} = %s" for field in columns)
    sql = f"UPDATE {quote(meta.db_table)} SET {assignments} WHERE {quote(meta.pk.column)} = %s"
    if claims is not None:
        sql += f" AND {quote('status')} = %s AND {quote('status_reason')} = %s"
    rows = [
        [field.get_db_prep_save(getattr(message, field.attname), connection) for field in columns]
        + [message.pk]
        + ([Status.SENDING, claims[message.pk]] if claims is not None else [])
        for message in messages
    ]
    with connection.cursor() as cursor:
        cursor.executemany(sql, rows)


@dataclass
class Outcome:
    """What became of one message: its new status and what to store with it."""

    status: str
    reason: str = ""
    send_after: datetime | None = None
    esp_message_id: str = ""
    anymail_status: str = ""
    sent_at: datetime | None = None


def retry_or_fail(message: Message, error: BaseException, now: datetime) -> Outcome:
    """The outcome of a failed attempt: a retry after a back-off, a failure, or unknown."""
    reason = errors.describe(error)
    kind = errors.classify_error(error)
    if kind == errors.FAIL:
        return Outcome(Status.FAILED, reason)
    if kind == errors.UNKNOWN:
        return Outcome(
            Status.SENDING,
            f"Outcome unknown, not retried so that it cannot be sent twice: {reason}",
        )
    max_attempts = int(get_setting("SEND_MAX_ATTEMPTS"))
    if message.attempts >= max_attempts:
        return Outcome(Status.FAILED, f"Gave up after {message.attempts} attempts: {reason}")
    delay = int(get_setting("SEND_RETRY_DELAY")) * 2 ** max(0, message.attempts - 1)
    send_after = now + timedelta(seconds=delay)
    return Outcome(Status.QUEUED, f"Attempt {message.attempts} failed: {reason}", send_after)


class SendRun:
    """The outcomes of one batch, written group by group so that a crash leaves what is known.

    Emails are handed to ``send()`` a few at a time as they are rendered;
    one thread of this run sends them, in order, over the one open
    connection, so that waiting for the provider's answer to one group
    overlaps rendering the next (that wait was a quarter of the delivery
    time over SMTP). Before a group goes, the one before it is waited for
    and its outcomes written, and the group is marked as handed over
    (``claims.hand_over``): a worker killed mid-batch leaves at most one
    group whose outcome is unknown. The sending thread touches neither the
    database nor the connection after ``finish()``: it only calls the
    backend and notes each outcome here.
    """

    def __init__(self, clock: Callable[[], datetime], connection):
        self.clock = clock
        self.connection = connection
        self.outcomes: dict[int, Outcome] = {}
        #: Handed to the backend; without an outcome, the provider may have it.
        self.attempted: set[int] = set()
        #: Messages whose outcome is written; how many ended in each status.
        self.recorded: set[int] = set()
        self.counts: Counter = Counter()
        self._in_flight: list[Message] = []
        self._broken = False
        self._stopping = False
        self._pool: ThreadPoolExecutor | None = None
        self._pending: list[Future] = []

    def retry_or_fail(self, message: Message, error: BaseException) -> None:
        self.outcomes[message.pk] = retry_or_fail(message, error, self.clock())

    def send(self, ready: list[tuple[Message, EmailMultiAlternatives]]) -> None:
        """Queue rendered emails for sending, once the group queued before is sent and recorded.

        Only the messages this worker still holds are handed over (a claim
        given back by ``claims.release_abandoned`` belongs to someone else).
        """
        self._settle()
        mine = {message.pk for message in hand_over([m for m, _ in ready], self.clock())}
        ready = [(message, email) for message, email in ready if message.pk in mine]
        if not ready:
            return
        if self._pool is None:
            self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="journeys-send")
        self._in_flight += [message for message, _ in ready]
        self._pending.append(self._pool.submit(self._send_all, ready))

    def _settle(self) -> None:
        """Wait for the groups queued so far and write their outcomes."""
        pending, self._pending = self._pending, []
        for future in pending:
            future.result()  # a bug in sending is not swallowed
        in_flight, self._in_flight = self._in_flight, []
        self.record(in_flight, final=False)

    def finish(self, *, abort: bool = False) -> None:
        """Wait for the queued emails to be sent; with ``abort``, stop after the current one.

        Emails never handed to the backend have no outcome: ``record()``
        gives their claim back.
        """
        if self._pool is None:
            return
        if abort:
            self._stopping = True
        self._pool.shutdown(wait=True, cancel_futures=abort)
        self._pool = None
        pending, self._pending = self._pending, []
        for future in pending:
            if not future.cancelled():
                future.result()  # a bug in sending is not swallowed

    def _reconnect(self) -> BaseException | None:
        # An SMTP connection that broke stays broken: open a new one for the rest.
        try:
            self.connection.close()
        except Exception:
            logger.debug("Closing a broken connection failed", exc_info=True)
        try:
            self.connection.open()
        except Exception as error:
            return error
        self._broken = False
        return None

    def _send_all(self, ready: list[tuple[Message, EmailMultiAlternatives]]) -> None:
        """Send each email over the connection, one at a time (in the sending thread)."""
        for index, (message, email) in enumerate(ready):
            if self._stopping:
                return
            if self._broken and (error := self._reconnect()) is not None:
                for waiting, _ in ready[index:]:
                    self.retry_or_fail(waiting, error)
                return
            self.attempted.add(message.pk)
            try:
                # Per message on the open connection: one refusal fails one message.
                sent = self.connection.send_messages([email])
            except Exception as error:
                self.retry_or_fail(message, error)
                self._broken = errors.breaks_connection(error)
                continue
            except BaseException:
                # SystemExit and the like: send nothing more; finish() raises it again.
                self._stopping = True
                raise
            if not sent:
                self.outcomes[message.pk] = Outcome(
                    Status.SKIPPED, "The email backend did not send it (cancelled before sending)."
                )
                continue
            esp_message_id, esp_state = esp_status(email)
            self.outcomes[message.pk] = Outcome(
                Status.SENT,
                esp_message_id=esp_message_id[:255],
                anymail_status=esp_state[:32],
                sent_at=self.clock(),
            )

    def record(self, messages: list[Message], *, final: bool = True) -> Counter:
        """Write the outcomes of ``messages`` not written yet, and an ``email_sent`` event per sent.

        ``final`` is the end of the batch: a message never handed to the
        provider gets its claim back; before that, messages without an
        outcome are left for later. Every row is written only while this
        claim still holds it. Returns how many messages of the batch ended
        in each status so far; ``sending`` counts those whose outcome is
        unknown.
        """
        todo, sent, claims = [], [], {}
        for message in messages:
            if message.pk in self.recorded:
                continue
            outcome = self.outcomes.get(message.pk)
            if outcome is None and not final:
                continue
            self.recorded.add(message.pk)
            if outcome is None:
                if message.pk in self.attempted:
                    # The worker stopped while the provider had the message: it stays
                    # "sending", reported by stuck_messages(), never sent again.
                    continue
                # Never handed to the provider: give the claim back.
                claims[message.pk] = message.status_reason
                message.status, message.status_reason = Status.QUEUED, ""
                message.attempts -= 1
                message.sending_at = message.handed_at = None
                todo.append(message)
                continue
            claims[message.pk] = message.status_reason
            message.status, message.status_reason = outcome.status, outcome.reason
            self.counts[outcome.status] += 1
            if outcome.status == Status.SENT:
                message.sent_at = outcome.sent_at
                message.esp_message_id = outcome.esp_message_id
                message.anymail_status = outcome.anymail_status
                sent.append(message)
            elif outcome.status == Status.QUEUED:
                message.send_after, message.sending_at = outcome.send_after, None
                message.handed_at = None
            elif outcome.status in (Status.FAILED, Status.SENDING):
                logger.warning("Message %s: %s", message.pk, outcome.reason)
            todo.append(message)
        if not todo:
            return self.counts
        fields = [
            "status",
            "status_reason",
            "attempts",
            "send_after",
            "sending_at",
            "handed_at",
            "sent_at",
            "esp_message_id",
            "anymail_status",
        ]
        try:
            _write_outcomes(todo, fields, claims, sent)
        except (InterfaceError, OperationalError):
            # The connection dropped (a database restart, a proxy timeout): what the
            # provider took is known only here, so write it over a new connection.
            connection = connections[router.db_for_write(Message)]
            if not connection.get_autocommit():
                raise  # inside the caller's transaction: it decides
            logger.warning("Writing the outcomes failed; trying again", exc_info=True)
            connection.close()
            # The first write may have committed with only its acknowledgement lost: write
            # what is still held under this claim, or the events and counts would double.
            still_sending = Message.objects.filter(pk__in=claims, status=Status.SENDING)
            held = {
                pk
                for pk, token in still_sending.values_list("pk", "status_reason")
                if token == claims[pk]
            }
            held_claims = {pk: token for pk, token in claims.items() if pk in held}
            _write_outcomes(
                [message for message in todo if message.pk in held],
                fields,
                held_claims,
                [message for message in sent if message.pk in held],
            )
        return self.counts


def _write_outcomes(messages: list[Message], fields: list[str], claims, sent) -> None:
    with transaction.atomic():
        save_fields(messages, fields, claims=claims)
        # Announced inside: the journeys outbox row is written with the events.
        announce_on_commit(_record_sent_events(sent))
        _count_outcomes(messages)


def _count_outcomes(messages: list[Message]) -> None:
    """Count the sent and the failed messages of a batch in the daily counters."""
    tally = Tally()
    journeys = journeys_of(messages)
    for message in messages:
        if message.status == Status.SENT:
            tally.add_message("sent", message, message.sent_at, journeys.get(message.enrollment_id))
        elif message.status == Status.FAILED:
            tally.add_message(
                "failed", message, message.created_at, journeys.get(message.enrollment_id)
            )
    tally.save()


def _record_sent_events(messages: list[Message]) -> list[Event]:
    """One ``email_sent`` event per sent message, in one INSERT.

    The bulk form of ``tracking.events.record_event``: a batch of a hundred
    messages costs one query, not a hundred.
    """
    events = [
        Event(
            contact_id=message.contact_id,
            name="email_sent",
            occurred_at=message.sent_at,
            source=Event.Source.SYSTEM,
            properties={
                "message_id": message.pk,
                "template_id": message.template_id,
                "step_id": message.step_id,
                "variant": message.variant,
                "kind": message.kind,
            },
        )
        for message in messages
        if message.contact_id is not None
    ]
    return Event.objects.bulk_create(events)
