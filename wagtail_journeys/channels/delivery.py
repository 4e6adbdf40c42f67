"""Delivering queued SMS and push messages through the configured backends.

The same guarantees as email (``email.delivery``): the delivery-time
checks run on the batch, which is claimed (``sending``) at once; each
message is marked as handed over right before the provider is called and
its outcome written right after, so a worker that dies in between leaves
that one ``sending`` (reported, never sent twice) and the rest of its
batch is given back after ``SEND_CLAIM_TIMEOUT``. Errors a retry can fix
are retried with back-off, the others fail the message with the reason.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from wagtail_journeys.analytics.counting import Tally, journeys_of
from wagtail_journeys.channels.base import (
    OutboundPush,
    OutboundSms,
    SendResult,
    get_push_backend,
    get_sms_backend,
)
from wagtail_journeys.conf import get_setting
from wagtail_journeys.email import policies
from wagtail_journeys.email.claims import hand_over
from wagtail_journeys.email.delivery import (
    DeliveryReport,
    apply_verdicts,
    claim,
    due,
    ensure_delivery_schedule,
)
from wagtail_journeys.exceptions import ChannelError, ConfigurationError, PushSubscriptionGone
from wagtail_journeys.models import Event, Message, PushSubscription
from wagtail_journeys.signals import announce_on_commit

logger = logging.getLogger(__name__)
Status = Message.Status
CHANNELS = (Message.Channel.SMS, Message.Channel.PUSH)


def _send_sms(backend, message: Message) -> SendResult:
    return backend.send(
        OutboundSms(
            message_id=message.pk,
            to=message.to_phone,
            body=message.body,
            status_callback=backend.status_callback_url(),
        )
    )


def _send_push(backend, message: Message, now: datetime) -> SendResult:
    """Send to every browser the contact subscribed; gone subscriptions are switched off."""
    from wagtail_journeys.channels.push_links import push_click_url

    subscriptions = list(
        PushSubscription.objects.filter(contact_id=message.contact_id, active=True).order_by("pk")
    )
    url = push_click_url(message)
    sent: list[SendResult] = []
    problems: list[ChannelError] = []
    for subscription in subscriptions:
        push = OutboundPush(
            message_id=message.pk,
            subscription=subscription.as_webpush(),
            title=message.subject,
            body=message.body,
            url=url,
            icon=(message.context or {}).get("push_icon", ""),
        )
        try:
            sent.append(backend.send(push))
        except PushSubscriptionGone as error:
            PushSubscription.objects.filter(pk=subscription.pk).update(active=False)
            problems.append(error)
            continue
        except ChannelError as error:
            problems.append(error)
            continue
        if message.push_subscription_id is None:
            message.push_subscription = subscription
        PushSubscription.objects.filter(pk=subscription.pk).update(last_sent_at=now)
    if sent:
        return sent[0]
    if not problems:
        raise ChannelError("No browser of the contact is subscribed any more.", permanent=True)
    # Retry only if some browser may take it later.
    raise ChannelError(
        "; ".join(str(problem) for problem in problems),
        permanent=all(problem.permanent for problem in problems),
    )


def _retry_or_fail(message: Message, reason: str, permanent: bool, now: datetime) -> None:
    max_attempts = int(get_setting("SEND_MAX_ATTEMPTS"))
    if permanent:
        message.status, message.status_reason = Status.FAILED, reason
    elif message.attempts >= max_attempts:
        message.status = Status.FAILED
        message.status_reason = f"Gave up after {message.attempts} attempts: {reason}"
    else:
        delay = int(get_setting("SEND_RETRY_DELAY")) * 2 ** max(0, message.attempts - 1)
        message.status = Status.QUEUED
        message.status_reason = f"Attempt {message.attempts} failed: {reason}"
        message.send_after = now + timedelta(seconds=delay)
        message.sending_at = message.handed_at = None


def _deliver_one(backend, message: Message, now: datetime) -> None:
    try:
        if message.channel == Message.Channel.SMS:
            result = _send_sms(backend, message)
        else:
            result = _send_push(backend, message, now)
    except ChannelError as error:
        _retry_or_fail(message, str(error)[:2000], error.permanent, now)
    except Exception as error:  # a backend's own error: maybe temporary
        logger.warning("Message %s: %s", message.pk, error, exc_info=True)
        _retry_or_fail(message, f"{type(error).__name__}: {error}"[:2000], False, now)
    else:
        message.status, message.status_reason = Status.SENT, ""
        message.sent_at = now
        message.esp_message_id = (result.provider_id or "")[:255]
        message.anymail_status = (result.status or "")[:32]
    fields = ["status", "status_reason", "send_after", "sending_at", "handed_at", "sent_at"]
    fields += ["esp_message_id", "anymail_status", "push_subscription"]
    with transaction.atomic():
        message.save(update_fields=fields)
        _record(message)


def _record(message: Message) -> None:
    """Count the outcome and, for a sent message, record ``sms_sent`` or ``push_sent``."""
    if message.status not in (Status.SENT, Status.FAILED):
        return
    tally = Tally()
    journey_id = journeys_of([message]).get(message.enrollment_id)
    metric = "sent" if message.status == Status.SENT else "failed"
    at = message.sent_at if message.status == Status.SENT else message.created_at
    tally.add_message(metric, message, at, journey_id)
    tally.save()
    if message.status == Status.SENT and message.contact_id is not None:
        event = Event.objects.create(
            contact_id=message.contact_id,
            name=f"{message.channel}_sent",
            occurred_at=message.sent_at,
            source=Event.Source.SYSTEM,
            properties={
                "message_id": message.pk,
                "step_id": message.step_id,
                "variant": message.variant,
                "kind": message.kind,
            },
        )
        announce_on_commit([event])


def deliver_channel_messages(
    message_ids: Iterable[int], *, now: datetime | None = None
) -> DeliveryReport:
    """Deliver the due queued SMS and push messages among ``message_ids``.

    Running it twice for the same ids sends nothing twice: only queued
    messages are claimed.
    """
    report = DeliveryReport()
    start = now or timezone.now()
    ids = list(message_ids)
    for channel in CHANNELS:
        messages = list(
            due(start, channel).filter(pk__in=ids).select_related("contact").order_by("pk")
        )
        if not messages:
            continue
        try:
            # Before any claim: a misconfigured backend leaves the messages queued.
            backend = get_sms_backend() if channel == Message.Channel.SMS else get_push_backend()
        except ConfigurationError:
            logger.exception("The %s backend cannot send; messages stay queued", channel)
            ensure_delivery_schedule()
            continue
        verdicts = policies.check_messages(messages, start)
        apply_verdicts(messages, verdicts, report)
        for message in claim(
            [m for m in messages if verdicts[m.pk].action == policies.SEND], start, channel
        ):
            at = now or timezone.now()
            if not hand_over([message], at):
                continue  # its claim ran out and was given back: someone else sends it
            _deliver_one(backend, message, at)
            if message.status == Status.SENT:
                report.sent += 1
            elif message.status == Status.FAILED:
                report.failed += 1
            else:
                report.retrying += 1
    if report.retrying:
        ensure_delivery_schedule()
    return report


def deliver_channel_due(*, now: datetime | None = None) -> DeliveryReport:
    """Deliver every queued SMS and push message that is due (the repeating schedule)."""
    start = now or timezone.now()
    report = DeliveryReport()
    for channel in CHANNELS:
        ids = list(due(start, channel).order_by("pk").values_list("pk", flat=True)[:1000])
        if ids:
            report.add(deliver_channel_messages(ids, now=now))
    return report
