"""What recipients did with a message: opens, clicks and the ESP's delivery reports.

Two sources feed the same records: our own open pixel and click redirect
(``views/email.py``) and the ESP's tracking webhooks, which Anymail normalises
into ``AnymailTrackingEvent`` and hands to ``handle_tracking_event``. Each
report becomes a ``MessageEvent``; the ones journeys react to also become
``Event`` rows (``email_opened``, ``email_clicked``, ``email_delivered``,
``email_bounced``, ``email_complained``, ``unsubscribed``).

Machines are told apart from people (see ``machine_reason``): a machine's
open or click is stored with ``machine=True`` and nothing else, so it never
counts as engagement, never sets ``first_opened_at`` and never triggers a
journey.
"""

from __future__ import annotations

import hashlib
import ipaddress
import logging
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from anymail.signals import AnymailTrackingEvent, EventType, RejectReason
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from wagtail_journeys.analytics.counting import count_first, count_message_event
from wagtail_journeys.conf import get_setting
from wagtail_journeys.email import consent
from wagtail_journeys.models.contacts import Contact
from wagtail_journeys.models.events import Event
from wagtail_journeys.models.messages import ConsentRecord, Message, MessageEvent
from wagtail_journeys.tracking.events import record_event
from wagtail_journeys.tracking.privacy import is_bot

logger = logging.getLogger(__name__)

#: The user agent of Apple Mail Privacy Protection's proxy, which fetches
#: every image of every message when it is delivered, read or not.
APPLE_PRIVACY_PROXY_USER_AGENT = "Mozilla/5.0"


@dataclass
class Hit:
    """One request for a tracking URL, or one open/click an ESP reported."""

    #: ``None`` when unknown (an ESP report without one), which is not
    #: evidence of a machine the way a request without the header is.
    user_agent: str | None = ""
    ip: str | None = None
    method: str = "GET"
    at: datetime = field(default_factory=timezone.now)


def _in_machine_network(ip: str | None) -> bool:
    if not ip:
        return False
    try:
        address = ipaddress.ip_address(ip)
    except ValueError:
        return False
    for network in get_setting("MACHINE_NETWORKS"):
        try:
            if address in ipaddress.ip_network(network, strict=False):
                return True
        except ValueError:
            continue
    return False


def _user_agent_reason(user_agent: str, *, click: bool) -> str | None:
    if not user_agent:
        return "no_user_agent"
    if user_agent == APPLE_PRIVACY_PROXY_USER_AGENT:
        return "apple_privacy_proxy"
    lowered = user_agent.lower()
    if any(part.lower() in lowered for part in get_setting("SCANNER_USER_AGENTS")):
        return "scanner_user_agent"
    # CrawlerDetect also lists the image proxies of Gmail, Yahoo and Outlook,
    # which fetch when a person opens the message: it decides clicks only.
    if click and is_bot(user_agent):
        return "scanner_user_agent"
    return None


def machine_reason(message: Message, hit: Hit, *, click: bool = False) -> str | None:
    """Why ``hit`` looks like software rather than a person, or ``None`` for a person.

    An open or click is a machine's when it is a HEAD request; has no user
    agent, or exactly ``Mozilla/5.0`` (Apple Mail Privacy Protection's
    prefetching proxy); has a user agent containing one of
    ``SCANNER_USER_AGENTS``; comes from ``MACHINE_NETWORKS``; or arrives
    within ``MACHINE_SECONDS`` of sending (no person reads that fast, link
    scanners at the receiving server do). Clicks are also checked against
    CrawlerDetect's list of crawlers and scanners. Image proxies that fetch
    only when a person opens the message (Gmail's ``GoogleImageProxy``,
    ``YahooMailProxy``) count as people.
    """
    if hit.method == "HEAD":
        return "head_request"
    if hit.user_agent is not None:
        reason = _user_agent_reason(hit.user_agent.strip(), click=click)
        if reason:
            return reason
    if _in_machine_network(hit.ip):
        return "machine_network"
    sent_at = message.sent_at or message.sending_at
    window = timedelta(seconds=get_setting("MACHINE_SECONDS"))
    # Both ways: an ESP's clock may put its report a moment before our
    # ``sent_at``, which is written only once the ESP has answered.
    if sent_at is not None and abs(hit.at - sent_at) < window:
        return "too_soon_after_sending"
    return None


def _store(
    message: Message,
    kind: str,
    *,
    dedupe_key: str,
    occurred_at: datetime,
    source: str,
    url: str = "",
    machine: bool = False,
    detail: dict[str, Any] | None = None,
) -> MessageEvent | None:
    """Create one MessageEvent, or return ``None`` if ``dedupe_key`` was stored before."""
    event, created = MessageEvent.objects.get_or_create(
        dedupe_key=dedupe_key,
        defaults={
            "message": message,
            "kind": kind,
            "occurred_at": occurred_at,
            "source": source[:32],
            "url": url[:2048],
            "machine": machine,
            "detail": detail or {},
        },
    )
    if not created:
        return None
    count_message_event(event, message)
    return event


def _own_key(kind: str, message: Message) -> str:
    # Every hit of our own pixel or redirect is its own report.
    return f"{kind}:{message.pk}:{uuid.uuid4().hex}"


def _message_properties(message: Message) -> dict[str, Any]:
    return {
        "message_id": message.pk,
        "template_id": message.template_id,
        "step_id": message.step_id,
    }


def _touch_engaged(message: Message, at: datetime) -> None:
    if message.contact_id is None:
        return
    Contact.objects.filter(
        Q(last_engaged_at__isnull=True) | Q(last_engaged_at__lt=at), pk=message.contact_id
    ).update(last_engaged_at=at)


def _first_human_open(
    message: Message, at: datetime, *, event_source: str, implied_by: MessageEvent | None = None
) -> bool:
    """Set ``first_opened_at`` and record ``email_opened``, if this is the first human open.

    The conditional UPDATE makes this safe when the pixel and an ESP webhook
    report the same open at the same moment: only one of them wins.
    """
    if not Message.objects.filter(pk=message.pk, first_opened_at__isnull=True).update(
        first_opened_at=at
    ):
        return False
    message.first_opened_at = at
    count_first("opened", message, at)
    if implied_by is not None:
        _store(
            message,
            MessageEvent.Kind.OPENED,
            dedupe_key=f"{implied_by.dedupe_key}:open"[:255],
            occurred_at=at,
            source=implied_by.source,
            detail={"implied_by_click": True},
        )
    if message.contact is not None:
        record_event(
            message.contact,
            "email_opened",
            _message_properties(message),
            source=event_source,
            occurred_at=at,
        )
    return True


def _judge(
    message: Message, hit: Hit, detail: dict[str, Any] | None, *, click: bool
) -> tuple[str | None, dict[str, Any]]:
    """Whether a machine made ``hit`` (its reason, or None), and the detail to store with it."""
    reason = machine_reason(message, hit, click=click)
    detail = {**(detail or {}), "user_agent": (hit.user_agent or "")[:512]}
    if reason:
        detail["machine_reason"] = reason
    return reason, detail


def record_open(
    message: Message,
    hit: Hit,
    *,
    source: str,
    dedupe_key: str | None = None,
    detail: dict[str, Any] | None = None,
    event_source: str = Event.Source.SERVER,
) -> MessageEvent | None:
    """Store an open of ``message``; ``None`` if it was a duplicate report.

    Every open is a MessageEvent (total opens); a person's first open also
    sets ``first_opened_at``, records one ``email_opened`` event (unique
    opens) and moves the contact's ``last_engaged_at``.
    """
    reason, detail = _judge(message, hit, detail, click=False)
    with transaction.atomic():
        stored = _store(
            message,
            MessageEvent.Kind.OPENED,
            dedupe_key=dedupe_key or _own_key("open", message),
            occurred_at=hit.at,
            source=source,
            machine=reason is not None,
            detail=detail,
        )
        if stored is not None and reason is None:
            _first_human_open(message, hit.at, event_source=event_source)
            _touch_engaged(message, hit.at)
    return stored


def record_click(
    message: Message,
    url: str,
    hit: Hit,
    *,
    source: str,
    dedupe_key: str | None = None,
    detail: dict[str, Any] | None = None,
    event_source: str = Event.Source.SERVER,
) -> MessageEvent | None:
    """Store a click on ``url`` in ``message``; ``None`` if it was a duplicate report.

    A person's click records ``email_clicked`` (every click), sets
    ``first_clicked_at``, moves ``last_engaged_at`` and, as nobody clicks an
    unopened message, counts as the first open if none was seen (images
    blocked, or opened through a privacy proxy).
    """
    reason, detail = _judge(message, hit, detail, click=True)
    with transaction.atomic():
        stored = _store(
            message,
            MessageEvent.Kind.CLICKED,
            dedupe_key=dedupe_key or _own_key("click", message),
            occurred_at=hit.at,
            source=source,
            url=url,
            machine=reason is not None,
            detail=detail,
        )
        if stored is None or reason is not None:
            return stored
        _first_human_open(message, hit.at, event_source=event_source, implied_by=stored)
        if Message.objects.filter(pk=message.pk, first_clicked_at__isnull=True).update(
            first_clicked_at=hit.at
        ):
            count_first("clicked", message, hit.at)
        if message.contact is not None:
            record_event(
                message.contact,
                "email_clicked",
                {**_message_properties(message), "url": url},
                source=event_source,
                occurred_at=hit.at,
            )
        _touch_engaged(message, hit.at)
    return stored


# ESP tracking webhooks (Anymail)

#: Anymail event types we store, and what each becomes.
_KINDS = {
    EventType.DELIVERED: MessageEvent.Kind.DELIVERED,
    EventType.DEFERRED: MessageEvent.Kind.DEFERRED,
    EventType.BOUNCED: MessageEvent.Kind.BOUNCED,
    EventType.REJECTED: MessageEvent.Kind.REJECTED,
    EventType.FAILED: MessageEvent.Kind.FAILED,
    EventType.COMPLAINED: MessageEvent.Kind.COMPLAINED,
    EventType.OPENED: MessageEvent.Kind.OPENED,
    EventType.CLICKED: MessageEvent.Kind.CLICKED,
    EventType.UNSUBSCRIBED: MessageEvent.Kind.UNSUBSCRIBED,
}
_EVENT_NAMES = {
    EventType.DELIVERED: "email_delivered",
    EventType.BOUNCED: "email_bounced",
    EventType.COMPLAINED: "email_complained",
}
#: Bounce types of ESPs that Anymail reports as ``bounced`` but that are
#: temporary: they are stored, but do not suppress the address.
_SOFT_BOUNCE_TYPES = frozenset({"SoftBounce", "Transient", "DnsError"})
#: Why an ESP refused to send, and the contact status that follows from it.
_REJECTION_STATUSES = {
    RejectReason.BOUNCED: Contact.Status.BOUNCED,
    RejectReason.INVALID: Contact.Status.BOUNCED,
    RejectReason.SPAM: Contact.Status.COMPLAINED,
}


def find_message(event: AnymailTrackingEvent) -> Message | None:
    """The message an ESP event is about: by our id in its metadata, else by the ESP's id."""
    metadata = event.metadata if isinstance(event.metadata, dict) else {}
    our_id = metadata.get("journeys_message_id")
    if our_id not in (None, ""):
        try:
            message = Message.objects.filter(pk=int(our_id)).first()
        except (TypeError, ValueError, OverflowError):
            message = None
        if message is not None:
            return message
    if event.message_id:
        return Message.objects.filter(esp_message_id=str(event.message_id)).first()
    return None


def webhook_dedupe_key(esp_name: str, event: AnymailTrackingEvent) -> str:
    """A key that is the same each time an ESP retries the same report.

    The ESP's event id when it gives one; otherwise what identifies the
    report (type, message, time, recipient, URL).
    """
    if event.event_id:
        parts = [esp_name, event.event_type, str(event.event_id)]
    else:
        timestamp = event.timestamp.isoformat() if event.timestamp else ""
        parts = [
            esp_name,
            event.event_type,
            str(event.message_id or ""),
            timestamp,
            str(event.recipient or ""),
            str(event.click_url or ""),
        ]
    digest = hashlib.sha256("\x1f".join(parts).encode()).hexdigest()
    return f"esp:{digest}"


def _is_soft_bounce(event: AnymailTrackingEvent) -> bool:
    raw = event.esp_event
    return isinstance(raw, dict) and raw.get("Type") in _SOFT_BOUNCE_TYPES


def _suppression_status(event: AnymailTrackingEvent) -> str | None:
    if event.event_type == EventType.COMPLAINED:
        return Contact.Status.COMPLAINED
    if event.event_type == EventType.BOUNCED and not _is_soft_bounce(event):
        return Contact.Status.BOUNCED
    if event.event_type == EventType.REJECTED:
        return _REJECTION_STATUSES.get(event.reject_reason)
    return None


def _esp_detail(esp_name: str, event: AnymailTrackingEvent) -> dict[str, Any]:
    detail = {
        "esp": esp_name,
        "event_id": event.event_id,
        "reject_reason": event.reject_reason,
        "description": event.description,
        "mta_response": event.mta_response,
    }
    return {key: str(value)[:1000] for key, value in detail.items() if value}


def _contact_for(message: Message | None, event: AnymailTrackingEvent) -> Contact | None:
    if message is not None:
        return message.contact
    if event.recipient:
        return Contact.objects.filter(email=str(event.recipient).strip().lower()).first()
    return None


def handle_tracking_event(sender, event: AnymailTrackingEvent, esp_name: str, **kwargs) -> None:
    """Receiver of Anymail's ``tracking`` signal: store what the ESP reported.

    Reports about messages we cannot find (sent by something else, or erased)
    are ignored, except that a bounce, complaint or unsubscribe of a known
    address still suppresses it. Nothing here raises for odd input: the ESP
    would only retry it.
    """
    kind = _KINDS.get(event.event_type)
    if kind is None:
        return
    message = find_message(event)
    contact = _contact_for(message, event)
    status = _suppression_status(event)
    source = esp_name.lower()
    at = event.timestamp or timezone.now()
    key = webhook_dedupe_key(esp_name, event)
    detail = _esp_detail(esp_name, event)

    if event.event_type == EventType.UNSUBSCRIBED:
        if contact is not None:
            consent.unsubscribe(
                contact,
                method=ConsentRecord.Method.ESP,
                source=esp_name,
                message=message,
                detail=detail,
            )
        return
    if message is None:
        if contact is not None and status is not None:
            consent.suppress(contact, status, source=esp_name, detail=detail)
        else:
            logger.info("Ignored a %s %s report for an unknown message.", esp_name, kind)
        return

    # An ESP passes on whatever JSON it got: a user agent that is not text is no user agent.
    user_agent = event.user_agent if isinstance(event.user_agent, str) else None
    hit = Hit(user_agent=user_agent, at=at, method="")
    if event.event_type == EventType.OPENED:
        record_open(
            message,
            hit,
            source=source,
            dedupe_key=key,
            detail=detail,
            event_source=Event.Source.SYSTEM,
        )
        return
    if event.event_type == EventType.CLICKED:
        record_click(
            message,
            str(event.click_url or ""),
            hit,
            source=source,
            dedupe_key=key,
            detail=detail,
            event_source=Event.Source.SYSTEM,
        )
        return

    if kind == MessageEvent.Kind.BOUNCED:
        detail["hard"] = status is not None
    with transaction.atomic():
        stored = _store(message, kind, dedupe_key=key, occurred_at=at, source=source, detail=detail)
        if stored is None:
            return
        name = _EVENT_NAMES.get(event.event_type)
        if name and contact is not None:
            properties = _message_properties(message)
            if kind == MessageEvent.Kind.BOUNCED:
                properties["hard"] = status is not None
            record_event(contact, name, properties, source=Event.Source.SYSTEM, occurred_at=at)
        if contact is not None and status is not None:
            consent.suppress(contact, status, source=esp_name, detail=detail)
