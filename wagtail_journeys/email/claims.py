"""Who may send a queued message: claims, hand-over, and what a dead worker leaves behind.

A message goes ``queued`` → ``sending`` (claimed by one worker, with a token
of its own) → handed to the provider (``handed_at`` written, compare-and-set
on the token, *before* the provider is called) → ``sent`` / ``failed`` /
back to ``queued`` for a retry. Every step is a single ``UPDATE`` whose
``WHERE`` tells whether this worker still holds the message, so two
workers can never both hand one message over:

- a claim never handed over (the worker died between claiming a batch and
  reaching the message) is given back by ``release_abandoned()`` once
  ``SEND_CLAIM_TIMEOUT`` has passed, and sent by whoever claims it next; a
  slow worker that comes back to it later finds its token gone and skips it;
- a message handed over whose outcome was lost (the worker died while the
  provider had it) may have been delivered: it stays ``sending`` and
  ``stuck_messages()`` reports it. It is never sent again automatically.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from django.db.models import F, Q, QuerySet
from django.utils import timezone

from wagtail_journeys.conf import get_setting
from wagtail_journeys.models.messages import Message

__all__ = ["STUCK_AFTER", "claim", "due", "hand_over", "release_abandoned", "stuck_messages"]

Status = Message.Status

#: A message handed over and still ``sending`` after this long is reported as stuck.
STUCK_AFTER = timedelta(minutes=15)
RELEASED = "Given back: the worker that claimed it stopped before handing it to the provider."


def due(now: datetime, channel: str = Message.Channel.EMAIL) -> QuerySet:
    """The queued messages of ``channel`` that may go at ``now``."""
    return Message.objects.filter(
        Q(send_after__isnull=True) | Q(send_after__lte=now),
        status=Status.QUEUED,
        channel=channel,
    )


def _mine(messages: list[Message], updated: int, **held) -> list[Message]:
    """Those of ``messages`` that an UPDATE of ``updated`` rows got for this worker."""
    if updated == len(messages):
        return messages
    ids = [message.pk for message in messages]
    got = set(Message.objects.filter(pk__in=ids, **held).values_list("pk", flat=True))
    return [message for message in messages if message.pk in got]


def claim(
    messages: list[Message], now: datetime, channel: str = Message.Channel.EMAIL
) -> list[Message]:
    """Mark ``messages`` ``sending``; returns those this worker got (others may have been taken).

    One UPDATE for the batch. The claim writes a token of its own in
    ``status_reason`` so that, when another worker got some of the rows
    first, one SELECT tells which are ours (the timestamp could be shared).
    """
    if not messages:
        return []
    token = f"Claimed for sending by {uuid.uuid4().hex}."
    updated = (
        due(now, channel)
        .filter(pk__in=[message.pk for message in messages])
        .update(
            status=Status.SENDING,
            status_reason=token,
            sending_at=now,
            handed_at=None,
            attempts=F("attempts") + 1,
        )
    )
    mine = _mine(messages, updated, status_reason=token)
    for message in mine:
        message.status, message.status_reason = Status.SENDING, token
        message.sending_at, message.handed_at = now, None
        message.attempts += 1
    return mine


def hand_over(messages: list[Message], now: datetime) -> list[Message]:
    """Record that ``messages`` are about to reach the provider; returns those still ours.

    Call it right before the provider call, never earlier than needed: a
    message handed over and then lost with its worker is reported as
    stuck instead of sent again. A message whose claim was given back
    meanwhile (``release_abandoned``) is not ours any more and is left out.
    """
    if not messages:
        return []
    tokens = {message.status_reason for message in messages}
    mine: list[Message] = []
    for token in tokens:
        group = [message for message in messages if message.status_reason == token]
        held = {"status": Status.SENDING, "status_reason": token}
        updated = (
            Message.objects.filter(pk__in=[message.pk for message in group], **held)
            .filter(handed_at__isnull=True)
            .update(handed_at=now)
        )
        mine += _mine(group, updated, handed_at=now, **held)
    for message in mine:
        message.handed_at = now
    return mine


def release_abandoned(now: datetime | None = None) -> int:
    """Give back the claims older than ``SEND_CLAIM_TIMEOUT`` never handed to the provider.

    Their worker died (or is far behind) before calling the provider, so
    nobody has the message: it goes back to ``queued`` and the next
    delivery run sends it. Returns how many were given back.
    """
    now = now or timezone.now()
    timeout = timedelta(seconds=int(get_setting("SEND_CLAIM_TIMEOUT")))
    return Message.objects.filter(
        status=Status.SENDING, handed_at__isnull=True, sending_at__lt=now - timeout
    ).update(
        status=Status.QUEUED,
        status_reason=RELEASED,
        sending_at=None,
        attempts=F("attempts") - 1,
    )


def stuck_messages(older_than: timedelta = STUCK_AFTER, *, now: datetime | None = None) -> QuerySet:
    """Messages handed over and still ``sending`` after ``older_than``: they need a person.

    A worker died (or the provider's answer was lost) after the message was
    handed over, so it may or may not have been delivered; it is never sent
    again automatically. Check the provider's log for the message id in the
    metadata (``journeys_message_id``) before sending it again by hand.
    """
    since = (now or timezone.now()) - older_than
    return Message.objects.filter(status=Status.SENDING, handed_at__lte=since).order_by(
        "handed_at", "pk"
    )
