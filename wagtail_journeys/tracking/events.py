"""Recording events: the one place an Event row is written."""

from __future__ import annotations

import json
import re
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime, timedelta
from typing import Any

from django.core.serializers.json import DjangoJSONEncoder
from django.db import transaction
from django.http import HttpRequest
from django.utils import timezone

from wagtail_journeys import conf
from wagtail_journeys.exceptions import InvalidEventError
from wagtail_journeys.models.contacts import Contact
from wagtail_journeys.models.events import Event
from wagtail_journeys.signals import announce_on_commit
from wagtail_journeys.tracking.visitors import Visitor, get_visitor

#: Custom event names are lower_snake_case, as the built-in ones are.
EVENT_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")


def validate_event_name(name: Any) -> str:
    """Return ``name`` if it is a valid event name, else raise InvalidEventError."""
    if not isinstance(name, str) or not EVENT_NAME_RE.match(name):
        raise InvalidEventError(
            f"Event name {name!r} is not lower_snake_case of at most 64 characters."
        )
    return name


def record_event(
    contact: Contact,
    name: str,
    properties: dict[str, Any] | None = None,
    *,
    page=None,
    path: str = "",
    source: str = Event.Source.PYTHON,
    occurred_at: datetime | None = None,
) -> Event:
    """Store one event for ``contact`` and announce it once committed."""
    with _storing(validate_event_name(name)):
        event = Event.objects.create(
            contact=contact,
            name=name,
            properties=properties or {},
            page=page,
            path=path[:2048],
            source=source,
            occurred_at=occurred_at or timezone.now(),
        )
        announce_on_commit([event])
    return event


def _storing(name: str) -> AbstractContextManager:
    """The transaction to store an event in, when the caller has none and one is needed.

    Storing an event that a journey reacts to also writes its row in the
    dispatch outbox (``journeys.dispatch``): both must commit together. Any
    other event (most page views) stays a single INSERT.
    """
    if not transaction.get_autocommit():
        return nullcontext()  # the caller's transaction
    # Imported here: the journeys package imports this module.
    from wagtail_journeys.journeys.dispatch import dispatches

    return transaction.atomic() if dispatches(name) else nullcontext()


def _check_properties(properties: dict[str, Any]) -> dict[str, Any]:
    try:
        json.dumps(properties, cls=DjangoJSONEncoder)
    except (TypeError, ValueError) as error:
        raise InvalidEventError(f"Event properties must be JSON serialisable: {error}") from None
    return properties


def touch_last_seen(visitor: Visitor, contact: Contact) -> None:
    """Move ``last_seen_at`` forward, at most once per ``LAST_SEEN_INTERVAL``.

    Throttled because writing the contact on every page view would double the
    tracking cost; the visitor cookie is refreshed at the same moment so that it
    expires ``COOKIE_AGE`` after the last visit rather than the first.
    """
    now = timezone.now()
    interval = timedelta(seconds=conf.get_setting("LAST_SEEN_INTERVAL"))
    if contact.last_seen_at is None or now - contact.last_seen_at >= interval:
        Contact.objects.filter(pk=contact.pk).update(last_seen_at=now)
        contact.last_seen_at = now
        visitor.refresh_cookie()


def track_request(
    request: HttpRequest,
    name: str,
    properties: dict[str, Any] | None = None,
    *,
    source: str = Event.Source.SERVER,
    page=None,
) -> Event | None:
    """Record an event for the visitor of ``request``, if they may be tracked."""
    visitor = get_visitor(request)
    if not visitor.trackable:
        return None
    validate_event_name(name)
    contact = visitor.get_or_create_contact()
    touch_last_seen(visitor, contact)
    return record_event(
        contact,
        name,
        properties,
        page=page if page is not None else visitor.page,
        path=request.path,
        source=source,
    )


def track(request_or_contact: HttpRequest | Contact, event_name: str, **properties: Any):
    """Record a custom or built-in event.

    Given a request, the event belongs to its visitor and is skipped (``None``
    is returned) for bots, without consent or with tracking off. Given a
    ``Contact``, it is always recorded: server-side facts such as an order
    placed by phone are not behavioural tracking.
    """
    properties = _check_properties(properties)
    if isinstance(request_or_contact, Contact):
        return record_event(request_or_contact, event_name, properties, source=Event.Source.PYTHON)
    if isinstance(request_or_contact, HttpRequest):
        return track_request(request_or_contact, event_name, properties, source=Event.Source.PYTHON)
    raise TypeError(f"track() needs an HttpRequest or a Contact, not {type(request_or_contact)!r}.")
