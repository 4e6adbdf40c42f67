"""Sending email: the outbox API (``send_email``, ``send_emails``).

``send_email`` only writes a ``Message`` (status ``queued``) in the caller's
transaction, so a message exists exactly when whatever decided to send it
committed. Once the transaction commits, a django-q2 task delivers it
(``delivery.deliver_messages``); the repeating schedule and
``journeys_send_queued`` deliver whatever is due later (retries, quiet
hours, ``send_after``) or whose task was lost.
"""

from __future__ import annotations

import logging
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from typing import Any

from django.db import IntegrityError, transaction

from wagtail_journeys.clock import moment
from wagtail_journeys.conf import get_setting
from wagtail_journeys.email.delivery import (
    DeliveryReport,
    deliver_due,
    deliver_messages,
    ensure_delivery_schedule,
    stuck_messages,
)
from wagtail_journeys.models.contacts import Contact
from wagtail_journeys.models.messages import EmailTemplate, Kind, Message
from wagtail_journeys.queue import enqueue

__all__ = [
    "DeliveryReport",
    "deliver_due",
    "deliver_messages",
    "batched_delivery",
    "enqueue_delivery",
    "ensure_delivery_schedule",
    "send_email",
    "send_emails",
    "stuck_messages",
]

logger = logging.getLogger(__name__)

DELIVER_TASK = "wagtail_journeys.tasks.deliver_messages"
#: Rows per INSERT when queueing many messages.
_INSERT_BATCH = 1000


def _kind(template: EmailTemplate, kind: str | None) -> str:
    kind = kind or template.kind
    if kind not in Kind.values:
        raise ValueError(f"kind must be one of {Kind.values}, not {kind!r}.")
    return kind


def _tags(template: EmailTemplate, tags: Iterable[str] | None) -> list[str]:
    # The template comes first: some ESPs (Postmark) keep only the first tag.
    found = [f"template:{template.pk}"]
    found += [str(tag) for tag in tags or () if str(tag) not in found]
    return found


def _new_message(
    contact: Contact, template: EmailTemplate, key: str, revision_id=None, **fields
) -> Message:
    return Message(
        contact=contact,
        template=template,
        template_revision_id=revision_id or template.latest_revision_id,
        to_email=contact.email or "",
        idempotency_key=key,
        **fields,
    )


def save_once(message: Message, idempotency_key: str | None) -> Message:
    """Insert ``message``; if its idempotency key was taken, the message saved with it first.

    Insert first, look up on conflict: a retried call is the exception, not the rule.
    Returns the new message, or the earlier one (whose delivery is under way).
    """
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError:
        existing = idempotency_key and (
            Message.objects.filter(idempotency_key=idempotency_key).first()
        )
        if existing:
            return existing
        raise
    return message


def is_due(message: Message, now: datetime) -> bool:
    """Whether ``message`` may be delivered at ``now`` (no ``send_after`` in the future)."""
    return message.send_after is None or message.send_after <= now


_gathering = threading.local()


@contextmanager
def batched_delivery() -> Iterator[None]:
    """Gather the delivery tasks of the messages queued inside, and start them together.

    Use it inside a transaction that queues many messages one at a time (a
    journey tick): they are delivered in ``SEND_BATCH_SIZE`` batches over
    shared connections instead of one task per message.
    """
    outer = getattr(_gathering, "ids", None)
    _gathering.ids = [] if outer is None else outer
    try:
        yield
    finally:
        if outer is None:
            ids, _gathering.ids = _gathering.ids, None
            if ids:
                transaction.on_commit(partial(enqueue_delivery, ids))


def _deliver_on_commit(messages: list[Message], now: datetime) -> None:
    due = [message.pk for message in messages if is_due(message, now)]
    gathered = getattr(_gathering, "ids", None)
    if due and gathered is not None:
        gathered.extend(due)
    elif due:
        transaction.on_commit(partial(enqueue_delivery, due))
    if len(due) < len(messages):
        # Messages for later are picked up by the repeating schedule.
        transaction.on_commit(ensure_delivery_schedule)


def send_email(
    contact: Contact,
    template: EmailTemplate,
    context: dict[str, Any] | None = None,
    *,
    kind: str | None = None,
    idempotency_key: str | None = None,
    step_id: str = "",
    variant: str = "",
    tags: Iterable[str] | None = None,
    send_after: datetime | None = None,
    enrollment=None,
    template_revision_id: int | None = None,
    at: datetime | None = None,
) -> Message:
    """Queue ``template`` for ``contact`` and deliver it once the current transaction commits.

    ``context`` (JSON-serialisable) is available to the template as
    ``{{ context.<key> }}``; a ``cart_id`` in it picks the cart the cart
    blocks show. ``kind`` overrides the template's (marketing or
    transactional). Calling again with the same ``idempotency_key`` returns
    the message written the first time and sends nothing more, so a retried
    journey step cannot send twice. ``send_after`` delays delivery.

    Whether the message may go (suppression, consent, frequency cap, quiet
    hours) is decided at delivery, and recorded on the message. Journeys
    pass their ``enrollment`` and the template revision to pin, and their
    clock as ``at`` (an aware datetime, default now): the message's
    ``created_at``, and the time ``send_after`` is compared with.
    """
    at = moment(at)
    message = _new_message(
        contact,
        template,
        idempotency_key or f"email:{uuid.uuid4().hex}",
        kind=_kind(template, kind),
        context=context or {},
        tags=_tags(template, tags),
        step_id=step_id,
        variant=variant,
        send_after=send_after,
        enrollment=enrollment,
        revision_id=template_revision_id,
        created_at=at,
    )
    saved = save_once(message, idempotency_key)
    if saved is message:
        _deliver_on_commit([message], at)
    return saved


def send_emails(
    contacts: Iterable[Contact],
    template: EmailTemplate,
    context: dict[str, Any] | None = None,
    *,
    kind: str | None = None,
    idempotency_key: str | None = None,
    step_id: str = "",
    variant: str = "",
    tags: Iterable[str] | None = None,
    send_after: datetime | None = None,
    at: datetime | None = None,
) -> list[Message]:
    """Queue ``template`` for many contacts at once (a campaign) and deliver in batches.

    The same as ``send_email`` for each contact (``at`` included), written
    with a few bulk inserts and delivered by one task per
    ``SEND_BATCH_SIZE`` messages.
    ``idempotency_key`` is a prefix here: each contact's key is
    ``"<prefix>:<contact id>"``, and contacts that already have a message
    with their key are not sent another (their message is returned).
    Returns the messages in the order of ``contacts``.
    """
    at = moment(at)
    kind = _kind(template, kind)
    tags = _tags(template, tags)
    contacts = list(contacts)
    keys = [
        f"{idempotency_key}:{contact.pk}" if idempotency_key else f"email:{uuid.uuid4().hex}"
        for contact in contacts
    ]
    existing: dict[str, Message] = {}
    if idempotency_key:
        for start in range(0, len(keys), _INSERT_BATCH):
            chunk = keys[start : start + _INSERT_BATCH]
            existing.update(Message.objects.in_bulk(chunk, field_name="idempotency_key"))
    new: list[Message] = []
    created: dict[str, Message] = {}
    for contact, key in zip(contacts, keys, strict=True):
        if key in existing or key in created:  # a contact listed twice gets one message
            continue
        created[key] = _new_message(
            contact,
            template,
            key,
            kind=kind,
            context=dict(context or {}),
            tags=list(tags),
            step_id=step_id,
            variant=variant,
            send_after=send_after,
            created_at=at,
        )
        new.append(created[key])
    with transaction.atomic():
        Message.objects.bulk_create(new, batch_size=_INSERT_BATCH)
    _deliver_on_commit(new, at)
    return [existing.get(key) or created[key] for key in keys]


def enqueue_delivery(message_ids: list[int]) -> None:
    """Start one django-q2 delivery task per ``SEND_BATCH_SIZE`` of ``message_ids``.

    Runs after commit. If the broker cannot take the task, the messages stay
    queued and the repeating schedule (or ``journeys_send_queued``) sends them.
    """
    size = max(1, int(get_setting("SEND_BATCH_SIZE")))
    for start in range(0, len(message_ids), size):
        chunk = list(message_ids[start : start + size])
        try:
            enqueue(DELIVER_TASK, chunk, group="wagtail_journeys.email")
        except Exception:
            logger.exception("Could not enqueue the delivery of messages %s", chunk)
            ensure_delivery_schedule()
