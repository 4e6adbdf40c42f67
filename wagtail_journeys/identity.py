"""Identity: turning an anonymous visitor into a known contact without losing history."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.http import HttpRequest

from wagtail_journeys.clock import moment
from wagtail_journeys.commerce.carts import merge_carts
from wagtail_journeys.commerce.wishlists import merge_wishlists
from wagtail_journeys.exceptions import InvalidContactDataError
from wagtail_journeys.models.contacts import Contact
from wagtail_journeys.models.events import Event
from wagtail_journeys.tracking.events import record_event
from wagtail_journeys.tracking.visitors import get_visitor

#: Keyword arguments of ``identify`` stored in Contact columns; any other
#: keyword goes to ``Contact.custom_fields``.
CONTACT_FIELDS = ("first_name", "last_name", "phone", "timezone", "locale")
_CUSTOM_VALUE_TYPES = (str, int, float, bool, type(None))


def normalize_email(email: Any) -> str:
    """A trimmed, lower-cased, valid email address, or InvalidContactDataError."""
    if not isinstance(email, str):
        raise InvalidContactDataError("An email address is required.")
    email = email.strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise InvalidContactDataError(f"{email!r} is not a valid email address.") from None
    return email


def _clean_fields(fields: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    columns, custom = {}, {}
    for name, value in fields.items():
        if name in CONTACT_FIELDS:
            field = Contact._meta.get_field(name)
            try:
                columns[name] = field.clean("" if value is None else str(value), None)
            except ValidationError as error:
                raise InvalidContactDataError({name: error.messages}) from None
        elif isinstance(value, _CUSTOM_VALUE_TYPES):
            custom[name] = value
        else:
            raise InvalidContactDataError(
                {
                    name: [
                        f"Custom fields take text, numbers or booleans, not {type(value).__name__}."
                    ]
                }
            )
    return columns, custom


def merge_contacts(source: Contact, target: Contact, *, at: datetime | None = None) -> Contact:
    """Move everything ``source`` has into ``target``, then delete ``source``.

    Events, carts, wishlists, journey enrollments and static segment
    memberships move; tags are united; every field ``target``
    leaves blank is filled from ``source``. Nothing of either side is lost.
    ``at`` (an aware datetime, default now) dates the merged cart's change.
    """
    at = moment(at)
    if source.pk == target.pk:
        return target
    with transaction.atomic():
        Event.objects.filter(contact=source).update(contact=target)
        merge_carts(source, target, at=at)
        merge_wishlists(source, target, at=at)
        _merge_enrollments(source, target)
        _merge_static_memberships(source, target)
        target.tags.add(*source.tags.all())
        for name in CONTACT_FIELDS:
            if not getattr(target, name):
                setattr(target, name, getattr(source, name))
        target.custom_fields = {**source.custom_fields, **target.custom_fields}
        target.consent = {**source.consent, **target.consent}
        target.last_seen_at = max(
            filter(None, (source.last_seen_at, target.last_seen_at)), default=None
        )
        target.last_engaged_at = max(
            filter(None, (source.last_engaged_at, target.last_engaged_at)), default=None
        )
        if target.user_id is None and source.user_id is not None:
            target.user_id = source.user_id
        source.delete()
        target.save()
    return target


def _merge_enrollments(source: Contact, target: Contact) -> None:
    """Move ``source``'s enrollments; one that would be a second live one in a journey exits."""
    from wagtail_journeys.models import Enrollment

    for enrollment in Enrollment.objects.filter(contact=source).order_by("pk"):
        clash = Enrollment.objects.filter(journey_id=enrollment.journey_id, contact=target)
        if enrollment.live_key and clash.filter(live_key=enrollment.live_key).exists():
            enrollment.status = Enrollment.Status.EXITED
            enrollment.exit_reason = "Merged into a contact already in this journey."
            enrollment.next_run_at = None
            enrollment.live_key = None
        if enrollment.entry_key and clash.filter(entry_key=enrollment.entry_key).exists():
            enrollment.entry_key = None
        enrollment.contact = target
        enrollment.save()


def _merge_static_memberships(source: Contact, target: Contact) -> None:
    from wagtail_journeys.models import Segment, SegmentMembership

    static = SegmentMembership.objects.filter(contact=source, segment__kind=Segment.Kind.STATIC)
    SegmentMembership.objects.bulk_create(
        [SegmentMembership(segment_id=m.segment_id, contact=target) for m in static],
        ignore_conflicts=True,
    )


def link_user(contact: Contact, user) -> Contact:
    """The contact of logged-in ``user``, given the visitor's current contact.

    An anonymous contact is merged into the user's contact (or becomes it);
    a contact that already belongs to someone else is left alone, and the
    user's own contact is returned instead.
    """
    with transaction.atomic():
        own = Contact.objects.filter(user=user).first()
        if own is not None:
            if contact.is_anonymous and contact.user_id is None:
                return merge_contacts(contact, own)
            return own
        user_email = (user.email or "").strip().lower() or None
        if contact.user_id is None and (contact.is_anonymous or contact.email == user_email):
            contact.user = user
            if contact.is_anonymous and user_email:
                by_email = Contact.objects.filter(email=user_email).first()
                if by_email is not None:
                    by_email.user = user
                    return merge_contacts(contact, by_email)
                contact.email = user_email
            contact.save()
            return contact
        by_email = Contact.objects.filter(email=user_email).first() if user_email else None
        if by_email is not None and by_email.user_id is None:
            by_email.user = user
            by_email.save(update_fields=["user"])
            return by_email
        return Contact.objects.create(user=user, email=None if by_email else user_email)


def identify(
    request: HttpRequest, email: str, *, at: datetime | None = None, **fields: Any
) -> Contact:
    """Tell us who the visitor of ``request`` is.

    Finds or creates the contact with ``email`` (case-insensitive), merges the
    visitor's anonymous history (events, carts, wishlists) into it, stores
    ``fields`` (``first_name``, ``last_name``, ``phone``, ``timezone``,
    ``locale``; any other keyword goes to ``custom_fields``), and makes it the
    visitor's contact from this response on. Records ``contact_identified``.
    ``at`` (an aware datetime, default now) dates that event and, when
    ``identify`` creates the contact, its ``created_at``; it cannot be a
    custom field's name. Raises ``InvalidContactDataError`` for an invalid
    address or field.
    """
    backdated = at is not None
    at = moment(at)
    email = normalize_email(email)
    columns, custom = _clean_fields(fields)
    visitor = get_visitor(request)
    current = visitor.contact
    for attempt in range(2):
        try:
            with transaction.atomic():
                contact = _find_or_adopt(email, current, at)
                for name, value in columns.items():
                    setattr(contact, name, value)
                contact.custom_fields = {**contact.custom_fields, **custom}
                created = contact.pk is None
                contact.save()
                if created and backdated:
                    # created_at is auto_now_add: the insert ignores any value given to it.
                    Contact.objects.filter(pk=contact.pk).update(created_at=at)
                    contact.created_at = at
                record_event(
                    contact,
                    "contact_identified",
                    {"email": email},
                    source=Event.Source.SERVER,
                    occurred_at=at,
                )
            break
        except IntegrityError:
            # Another request created this email between our read and write:
            # the second attempt finds it, starting from the stored state.
            if attempt:
                raise
            if current is not None:
                current = Contact.objects.filter(pk=current.pk).first()
    visitor.set_contact(contact)
    return contact


def _find_or_adopt(email: str, current: Contact | None, at: datetime) -> Contact:
    known = Contact.objects.filter(email=email).first()
    if known is None:
        if current is not None and current.is_anonymous:
            current.email = email
            return current
        return Contact(email=email)
    if current is not None and current.is_anonymous:
        return merge_contacts(current, known, at=at)
    return known
