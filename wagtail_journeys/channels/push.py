"""Browsers subscribing to push notifications, leaving, and clicking them.

``views/push.py`` handles the HTTP side; this module validates what a
browser sent and records it: the ``PushSubscription``, the contact's push
consent (with its ``ConsentRecord``) and the events journeys react to
(``push_subscribed``, ``push_unsubscribed``, ``push_clicked``).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
import socket
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from wagtail_journeys.analytics.counting import count_first, count_message_event
from wagtail_journeys.email import consent
from wagtail_journeys.models.channels import PushSubscription
from wagtail_journeys.models.contacts import Contact
from wagtail_journeys.models.events import Event
from wagtail_journeys.models.messages import ConsentRecord, Message, MessageEvent
from wagtail_journeys.tracking.events import record_event
from wagtail_journeys.tracking.privacy import is_bot

#: The consent channel (``Contact.consent["push"]``, ``ConsentRecord.channel``).
PUSH = "push"
#: Limits of ``PushSubscription``'s columns.
MAX_ENDPOINT_LENGTH = 1000
MAX_USER_AGENT_LENGTH = 512
#: An uncompressed P-256 point (RFC 8291 §3.1) and a 16-byte auth secret (§3.2).
P256DH_BYTES = 65
AUTH_BYTES = 16
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
BASE64URL_RE = re.compile(r"[A-Za-z0-9_-]+")


class InvalidSubscription(ValueError):
    """What the browser sent is not a push subscription; the message says why."""


@dataclass(frozen=True)
class SubscriptionData:
    endpoint: str
    p256dh: str
    auth: str


def _base64url(value: Any, name: str, size: int) -> str:
    if not isinstance(value, str) or not value or len(value) > 200:
        raise InvalidSubscription(f"keys.{name} must be a base64url string.")
    text = value.rstrip("=")
    # Checked first: Python's decoder skips characters outside the alphabet.
    if not BASE64URL_RE.fullmatch(text):
        raise InvalidSubscription(f"keys.{name} is not base64url.")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise InvalidSubscription(f"keys.{name} is not base64url.") from None
    if len(raw) != size:
        raise InvalidSubscription(f"keys.{name} must be {size} bytes, not {len(raw)}.")
    return text


def _check_host(host: str) -> None:
    """Refuse endpoints on this network: the server POSTs to whatever endpoint it is given.

    A push service is a public host name; an IP address that is not public or
    a name without a dot (``localhost``, ``intranet``) would let any visitor
    make the server send requests into its own network.
    """
    refused = InvalidSubscription("endpoint must be a push service's address.")
    try:
        address = ipaddress.ip_address(host)
    except ValueError:
        # Resolvers also read "127.1", "0177.0.0.1", "0x7f.0.0.1" or "169.254.43518" as
        # IPv4 addresses, which ip_address() refuses: read them the way the resolver will.
        try:
            address = ipaddress.IPv4Address(socket.inet_aton(host))
        except OSError:
            address = None
    if address is None:
        last_label = host.rstrip(".").rsplit(".", 1)[-1]
        if "." not in host or host.endswith((".localhost", ".local", ".internal")):
            raise refused
        if last_label.isdigit() or last_label.lower().startswith("0x"):
            raise refused  # a numeric name no resolver agrees on: no push service has one
        return
    if not address.is_global:
        raise refused


def _check_endpoint(endpoint: Any) -> str:
    if not isinstance(endpoint, str) or not endpoint:
        raise InvalidSubscription("endpoint must be a URL.")
    if len(endpoint) > MAX_ENDPOINT_LENGTH:
        raise InvalidSubscription(f"endpoint is longer than {MAX_ENDPOINT_LENGTH} characters.")
    try:
        parts = urlsplit(endpoint)
        host = parts.hostname or ""
    except ValueError:
        raise InvalidSubscription("endpoint must be a URL.") from None
    if any(char.isspace() for char in endpoint) or not host or parts.username or parts.password:
        raise InvalidSubscription("endpoint must be a URL.")
    # A push service on this machine: only while developing (DEBUG), with a local push server.
    if settings.DEBUG and host in LOOPBACK_HOSTS and parts.scheme in ("http", "https"):
        return endpoint
    if parts.scheme != "https":
        raise InvalidSubscription("endpoint must be an https:// URL.")
    _check_host(host)
    return endpoint


def parse_subscription(data: Any) -> SubscriptionData:
    """Validate a ``PushSubscription.toJSON()`` object, or raise InvalidSubscription."""
    if not isinstance(data, dict):
        raise InvalidSubscription("Send the subscription as a JSON object.")
    keys = data.get("keys")
    if not isinstance(keys, dict):
        raise InvalidSubscription("keys must be an object with p256dh and auth.")
    return SubscriptionData(
        endpoint=_check_endpoint(data.get("endpoint")),
        p256dh=_base64url(keys.get("p256dh"), "p256dh", P256DH_BYTES),
        auth=_base64url(keys.get("auth"), "auth", AUTH_BYTES),
    )


def subscribe(
    contact: Contact,
    data: SubscriptionData,
    *,
    user_agent: str = "",
    ip_address: str | None = None,
) -> tuple[PushSubscription, bool]:
    """Store the browser's subscription for ``contact``; returns it and whether it is new.

    Upserts by endpoint: the same browser subscribing again changes nothing
    and records nothing. A new (or revived, or re-owned) subscription records
    the contact's push consent and a ``push_subscribed`` event.
    """
    with transaction.atomic():
        subscription = (
            PushSubscription.objects.select_for_update().filter(endpoint=data.endpoint).first()
        )
        unchanged = (
            subscription is not None
            and subscription.active
            and subscription.contact_id == contact.pk
            and (subscription.p256dh, subscription.auth) == (data.p256dh, data.auth)
        )
        if unchanged and contact.consent.get(PUSH) is True:
            return subscription, False
        if subscription is None:
            subscription = PushSubscription(endpoint=data.endpoint)
        subscription.contact = contact
        subscription.p256dh = data.p256dh
        subscription.auth = data.auth
        subscription.user_agent = user_agent[:MAX_USER_AGENT_LENGTH]
        subscription.active = True
        subscription.save()
        consent.set_channel_consent(
            contact, PUSH, True, method=ConsentRecord.Method.FORM, ip_address=ip_address
        )
        record_event(
            contact,
            "push_subscribed",
            {"subscription_id": subscription.pk},
            source=Event.Source.SERVER,
        )
    return subscription, True


def unsubscribe(
    contact: Contact, endpoint: str, *, ip_address: str | None = None
) -> PushSubscription | None:
    """Switch off ``contact``'s subscription at ``endpoint``; None if there is no active one.

    When it was the contact's last active browser, their push consent is
    withdrawn too (with its ``ConsentRecord``).
    """
    with transaction.atomic():
        subscription = (
            PushSubscription.objects.select_for_update()
            .filter(endpoint=endpoint, contact=contact, active=True)
            .first()
        )
        if subscription is None:
            return None
        subscription.active = False
        subscription.save(update_fields=["active"])
        if not contact.push_subscriptions.filter(active=True).exists():
            consent.set_channel_consent(
                contact, PUSH, False, method=ConsentRecord.Method.FORM, ip_address=ip_address
            )
        record_event(
            contact,
            "push_unsubscribed",
            {"subscription_id": subscription.pk},
            source=Event.Source.SERVER,
        )
    return subscription


def record_click(
    message: Message, url: str, *, user_agent: str = "", at: datetime | None = None
) -> MessageEvent:
    """Store a click on ``message``'s notification, as ``email/tracking.py`` does for emails.

    Every click is a MessageEvent (total clicks); a person's first click sets
    ``first_clicked_at``; each click by a person records ``push_clicked`` and
    moves the contact's ``last_engaged_at``. Unlike email there is no link
    scanner and no "too soon after sending" rule: a notification is on screen
    the moment it is sent, and only a crawler's user agent marks a machine.
    """
    at = at or timezone.now()
    machine = bool(user_agent) and is_bot(user_agent)
    detail: dict[str, Any] = {"user_agent": user_agent[:MAX_USER_AGENT_LENGTH]}
    if machine:
        detail["machine_reason"] = "scanner_user_agent"
    with transaction.atomic():
        event = MessageEvent.objects.create(
            message=message,
            kind=MessageEvent.Kind.CLICKED,
            occurred_at=at,
            source="push",
            url=url[:2048],
            machine=machine,
            # Each hit of the redirect is its own click.
            dedupe_key=f"push-click:{message.pk}:{uuid.uuid4().hex}",
            detail=detail,
        )
        count_message_event(event, message)
        if machine:
            return event
        if Message.objects.filter(pk=message.pk, first_clicked_at__isnull=True).update(
            first_clicked_at=at
        ):
            message.first_clicked_at = at
            count_first("clicked", message, at)
        if message.contact_id is not None:
            record_event(
                message.contact,
                "push_clicked",
                {"message_id": message.pk, "step_id": message.step_id, "url": url},
                source=Event.Source.SERVER,
                occurred_at=at,
            )
            Contact.objects.filter(
                Q(last_engaged_at__isnull=True) | Q(last_engaged_at__lt=at),
                pk=message.contact_id,
            ).update(last_engaged_at=at)
    return event
