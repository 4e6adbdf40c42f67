"""Queueing an SMS or a push notification: the outbox row now, delivery after commit.

Like ``send_email``: the message is written in the caller's transaction
(a retried journey step finds it by its idempotency key and sends nothing
more), rendered for the contact at once (the text that was sent is kept on
the message), and handed to a django-q2 task once the transaction commits.
Consent, quiet hours and the channel's frequency cap are checked at
delivery (``email.policies``).
"""

from __future__ import annotations

import logging
import uuid
from datetime import datetime
from functools import partial
from typing import Any

from django.db import transaction

from wagtail_journeys.channels.rendering import render_push, render_sms
from wagtail_journeys.clock import moment
from wagtail_journeys.email.delivery import ensure_delivery_schedule
from wagtail_journeys.email.sending import is_due, save_once
from wagtail_journeys.models import Contact, Message, PushTemplate, SmsTemplate
from wagtail_journeys.queue import enqueue

logger = logging.getLogger(__name__)

DELIVER_TASK = "wagtail_journeys.tasks.deliver_channel_messages"


def _queue(message: Message, idempotency_key: str | None, at: datetime) -> Message:
    saved = save_once(message, idempotency_key)
    if saved is not message:
        return saved  # queued by an earlier call with the same key
    if is_due(message, at):
        transaction.on_commit(partial(enqueue_channel_delivery, [message.pk]))
    else:
        transaction.on_commit(ensure_delivery_schedule)
    return message


def send_sms(
    contact: Contact,
    template: SmsTemplate,
    context: dict[str, Any] | None = None,
    *,
    kind: str | None = None,
    idempotency_key: str | None = None,
    step_id: str = "",
    variant: str = "",
    send_after: datetime | None = None,
    enrollment=None,
    at: datetime | None = None,
) -> Message:
    """Queue ``template`` as a text message to ``contact``'s phone; delivered after commit.

    ``context`` fills ``{{ context.<key> }}``; ``kind`` overrides the
    template's. Marketing SMS goes only to contacts who opted in to SMS
    (``consent["sms"]`` is true); a STOP reply withdraws it. Calling again
    with the same ``idempotency_key`` returns the first message.
    """
    at = moment(at)
    message = Message(
        contact=contact,
        channel=Message.Channel.SMS,
        kind=kind or template.kind,
        sms_template=template,
        to_phone=contact.phone or "",
        body=render_sms(template, contact, context),
        context=context or {},
        idempotency_key=idempotency_key or f"sms:{uuid.uuid4().hex}",
        step_id=step_id,
        variant=variant,
        send_after=send_after,
        enrollment=enrollment,
        created_at=at,
    )
    return _queue(message, idempotency_key, at)


def send_push(
    contact: Contact,
    template: PushTemplate,
    context: dict[str, Any] | None = None,
    *,
    kind: str | None = None,
    idempotency_key: str | None = None,
    step_id: str = "",
    variant: str = "",
    send_after: datetime | None = None,
    enrollment=None,
    at: datetime | None = None,
) -> Message:
    """Queue ``template`` as a notification to every browser ``contact`` subscribed.

    The title is kept as the message's subject, the text as its body and the
    link as its only link (a click goes there through the click tracker).
    """
    at = moment(at)
    rendered = render_push(template, contact, context)
    message = Message(
        contact=contact,
        channel=Message.Channel.PUSH,
        kind=kind or template.kind,
        push_template=template,
        subject=rendered.title,
        body=rendered.body,
        links=[rendered.url],
        context={**(context or {}), "push_icon": rendered.icon},
        idempotency_key=idempotency_key or f"push:{uuid.uuid4().hex}",
        step_id=step_id,
        variant=variant,
        send_after=send_after,
        enrollment=enrollment,
        created_at=at,
    )
    return _queue(message, idempotency_key, at)


def enqueue_channel_delivery(message_ids: list[int]) -> None:
    """Start the django-q2 task that delivers these SMS and push messages (after commit).

    If the broker cannot take it, the repeating schedule delivers them.
    """

    try:
        enqueue(DELIVER_TASK, list(message_ids), group="wagtail_journeys.channels")
    except Exception:
        logger.exception("Could not enqueue the delivery of messages %s", message_ids)
        ensure_delivery_schedule()
