"""Consent: subscribing, unsubscribing, suppression and double opt-in, each with its audit record.

Every change of what a contact agreed to goes through this module, so that
each one leaves a ``ConsentRecord`` (what, when, how, from where) and the
events journeys react to (``contact_subscribed``, ``unsubscribed``).

Each function takes an optional ``at`` (an aware datetime, default now) that
dates what it records, for imports and replays of consent given earlier.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.http import HttpRequest
from django.template.loader import render_to_string

from wagtail_journeys.analytics.counting import count_message_event
from wagtail_journeys.clock import moment
from wagtail_journeys.conf import get_setting
from wagtail_journeys.email import links
from wagtail_journeys.models.contacts import Contact
from wagtail_journeys.models.events import Event
from wagtail_journeys.models.messages import (
    CONFIRM_URL,
    ConsentRecord,
    Message,
    MessageEvent,
    SignupForm,
    Topic,
)
from wagtail_journeys.tracking.events import record_event

EMAIL = "email"
Method = ConsentRecord.Method

#: Statuses that end marketing mail; a later one never gives way to an earlier
#: one (a complaint outranks a bounce, a bounce outranks an unsubscribe).
_SUPPRESSION_RANK = {
    Contact.Status.UNSUBSCRIBED: 1,
    Contact.Status.BOUNCED: 2,
    Contact.Status.COMPLAINED: 3,
}


@contextmanager
def _locked(contact: Contact) -> Iterator[Contact]:
    """The contact's row, locked until the transaction ends.

    Its status and consent are copied back to ``contact`` afterwards, so the
    caller's instance stays current.
    """
    with transaction.atomic():
        row = Contact.objects.select_for_update().get(pk=contact.pk)
        yield row
    contact.status, contact.consent = row.status, row.consent


def client_ip(request: HttpRequest) -> str | None:
    """The address a request came from, for the consent audit.

    ``REMOTE_ADDR`` only: behind a proxy, set it from the forwarded header in
    your proxy or a middleware, as only you know which proxies to trust.
    """
    address = request.META.get("REMOTE_ADDR") or ""
    try:
        return str(ipaddress.ip_address(address))
    except ValueError:
        # A Unix socket or a proxy that sets no address: store none rather
        # than something the database's IP column rejects.
        return None


def record_consent(
    contact: Contact,
    *,
    granted: bool,
    method: str,
    channel: str = EMAIL,
    topic: Topic | None = None,
    source: str = "",
    ip_address: str | None = None,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> ConsentRecord:
    """Store one audit record: ``contact`` gave (``granted``) or withdrew consent, at ``at``."""
    return ConsentRecord.objects.create(
        contact=contact,
        channel=channel,
        topic=topic,
        granted=granted,
        method=method,
        source=source[:2048],
        ip_address=ip_address,
        detail=detail or {},
        created_at=moment(at),
    )


def subscribe(
    contact: Contact,
    *,
    method: str,
    source: str = "",
    ip_address: str | None = None,
    topics: Iterable[Topic] = (),
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> bool:
    """Subscribe ``contact`` to marketing email, and join ``topics``.

    Records the consent and, when the contact was not subscribed before,
    a ``contact_subscribed`` event, both dated ``at`` (default now).
    Idempotent: subscribing a subscribed contact records nothing. Returns
    whether the status changed.
    """
    at = moment(at)
    topics = list(topics)
    with _locked(contact) as contact:
        changed = contact.status != Contact.Status.SUBSCRIBED
        if changed or contact.consent.get(EMAIL) is not True:
            contact.status = Contact.Status.SUBSCRIBED
            contact.consent = {**contact.consent, EMAIL: True}
            contact.save(update_fields=["status", "consent"])
            record_consent(
                contact,
                granted=True,
                method=method,
                source=source,
                ip_address=ip_address,
                detail={**(detail or {}), "topics": [topic.slug for topic in topics]},
                at=at,
            )
        join_topics(contact, topics, method=method, source=source, ip_address=ip_address, at=at)
        if changed:
            record_event(
                contact,
                "contact_subscribed",
                {"method": method, "topics": [topic.slug for topic in topics]},
                source=Event.Source.SERVER,
                occurred_at=at,
            )
    return changed


def join_topics(
    contact: Contact,
    topics: Iterable[Topic],
    *,
    method: str,
    source: str = "",
    ip_address: str | None = None,
    at: datetime | None = None,
) -> None:
    """Take ``topics`` off the contact's left topics, recording each one that changes."""
    at = moment(at)
    left = set(contact.topics_left.values_list("pk", flat=True))
    for topic in topics:
        if topic.pk not in left:
            continue
        contact.topics_left.remove(topic)
        record_consent(
            contact,
            granted=True,
            method=method,
            topic=topic,
            source=source,
            ip_address=ip_address,
            at=at,
        )


def leave_topic(
    contact: Contact,
    topic: Topic,
    *,
    method: str,
    source: str = "",
    ip_address: str | None = None,
    at: datetime | None = None,
) -> None:
    """Stop mail of ``topic`` to ``contact``, recording the withdrawal (dated ``at``)."""
    at = moment(at)
    contact.topics_left.add(topic)
    record_consent(
        contact,
        granted=False,
        method=method,
        topic=topic,
        source=source,
        ip_address=ip_address,
        at=at,
    )


def set_email_frequency(
    contact: Contact,
    frequency: str,
    *,
    method: str,
    ip_address: str | None = None,
    at: datetime | None = None,
) -> None:
    """Switch between all emails and fewer emails (a preference, audited like consent)."""
    at = moment(at)
    Contact.objects.filter(pk=contact.pk).update(email_frequency=frequency)
    contact.email_frequency = frequency
    record_consent(
        contact,
        granted=True,
        method=method,
        ip_address=ip_address,
        detail={"email_frequency": frequency},
        at=at,
    )


def set_channel_consent(
    contact: Contact,
    channel: str,
    granted: bool,
    *,
    method: str,
    source: str = "",
    ip_address: str | None = None,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> None:
    """Record consent for a channel other than email (SMS, push...), dated ``at``.

    ``source`` and ``detail`` go on the consent record (where it came from:
    a form's URL, "twilio" and the reply's id...).
    """
    at = moment(at)
    with _locked(contact) as contact:
        contact.consent = {**contact.consent, channel: granted}
        contact.save(update_fields=["consent"])
        record_consent(
            contact,
            granted=granted,
            method=method,
            channel=channel,
            source=source,
            ip_address=ip_address,
            detail=detail,
            at=at,
        )


def unsubscribe(
    contact: Contact,
    *,
    method: str,
    source: str = "",
    ip_address: str | None = None,
    message: Message | None = None,
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> bool:
    """Stop all marketing email to ``contact``.

    Idempotent: a contact who already withdrew email consent is left as is
    and nothing more is recorded. Returns whether anything changed. With
    ``message``, the unsubscribe is also stored against that message, once
    whichever way it arrives (link, one-click POST, the ESP's report).
    ``at`` (default now) dates the consent record, the ``unsubscribed``
    event and the message's event.
    """
    at = moment(at)
    with _locked(contact) as contact:
        if contact.consent.get(EMAIL) is False and contact.is_suppressed:
            return False
        if message is not None:
            event, created = MessageEvent.objects.get_or_create(
                dedupe_key=f"unsubscribe:{message.pk}",
                defaults={
                    "message": message,
                    "kind": MessageEvent.Kind.UNSUBSCRIBED,
                    "source": method[:32],
                    "occurred_at": at,
                },
            )
            if created:
                count_message_event(event, message)
        if contact.status in (Contact.Status.PENDING, Contact.Status.SUBSCRIBED):
            contact.status = Contact.Status.UNSUBSCRIBED
        contact.consent = {**contact.consent, EMAIL: False}
        contact.save(update_fields=["status", "consent"])
        record_consent(
            contact,
            granted=False,
            method=method,
            source=source,
            ip_address=ip_address,
            detail=detail,
            at=at,
        )
        properties: dict[str, Any] = {"method": method}
        if message is not None:
            properties["message_id"] = message.pk
            properties["template_id"] = message.template_id
        record_event(
            contact, "unsubscribed", properties, source=Event.Source.SERVER, occurred_at=at
        )
    return True


def suppress(
    contact: Contact,
    status: str,
    *,
    source: str = "",
    detail: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> bool:
    """Mark ``contact`` bounced or complained: no more mail of any kind.

    A complaint is also a withdrawal of consent and is recorded as one
    (dated ``at``, default now). A weaker status never replaces a stronger
    one. Returns whether the status changed.
    """
    at = moment(at)
    with _locked(contact) as contact:
        if _SUPPRESSION_RANK.get(contact.status, 0) >= _SUPPRESSION_RANK[status]:
            return False
        contact.status = status
        if status == Contact.Status.COMPLAINED:
            contact.consent = {**contact.consent, EMAIL: False}
            record_consent(
                contact, granted=False, method=Method.ESP, source=source, detail=detail, at=at
            )
        contact.save(update_fields=["status", "consent"])
    return True


# Double opt-in


def signup_from_form(
    request: HttpRequest, contact: Contact, page, *, at: datetime | None = None
) -> None:
    """Handle a submission of ``page`` by ``contact`` if the page is a signup form.

    Without double opt-in the contact is subscribed at once. With it, a
    contact who is not yet subscribed becomes (or stays) ``pending`` and gets
    a confirmation email; the subscription starts when its link is confirmed.
    A contact who is already subscribed just joins the form's topics.
    ``at`` (default now) dates the consent records, events and email.
    """
    at = moment(at)
    signup = SignupForm.objects.filter(page_id=page.pk).first()
    if signup is None:
        return
    source = request.build_absolute_uri(page.url) if page.url else ""
    ip_address = client_ip(request)
    topics = list(signup.topics.all())
    contact.refresh_from_db(fields=["status"])
    if contact.status == Contact.Status.SUBSCRIBED:
        join_topics(
            contact, topics, method=Method.FORM, source=source, ip_address=ip_address, at=at
        )
        return
    if not signup.double_opt_in:
        subscribe(
            contact,
            method=Method.FORM,
            source=source,
            ip_address=ip_address,
            topics=topics,
            detail={"signup_form": signup.pk},
            at=at,
        )
        return
    if contact.status != Contact.Status.PENDING:
        Contact.objects.filter(pk=contact.pk).update(status=Contact.Status.PENDING)
        contact.status = Contact.Status.PENDING
    send_confirmation(contact, signup, at=at)


def send_confirmation(contact: Contact, signup: SignupForm, *, at: datetime | None = None) -> None:
    """Send the double opt-in email of ``signup`` to ``contact`` (a transactional email).

    With a confirmation template it goes through the outbox like any other
    email (queued at ``at``, default now); without one, a plain built-in
    email is sent once the current transaction commits.
    """
    confirm_url = links.confirm_url(contact.pk, signup.pk)
    if signup.confirmation_template_id is not None:
        from wagtail_journeys.email.sending import send_email

        send_email(
            contact,
            signup.confirmation_template,
            context={CONFIRM_URL: confirm_url},
            kind="transactional",
            at=at,
        )
        return
    transaction.on_commit(lambda: _send_builtin_confirmation(contact, confirm_url))


def _send_builtin_confirmation(contact: Contact, confirm_url: str) -> None:
    brand = _brand()
    context = {
        "contact": contact,
        "confirm_url": confirm_url,
        "site_name": _site_name(brand),
        # Validated as #rrggbb by the brand setting, so safe inside a style attribute.
        "button_colour": brand.primary_colour if brand else "#1f6feb",
        "max_age_days": max(1, get_setting("CONFIRMATION_MAX_AGE") // 86400),
    }
    subject = render_to_string(
        "wagtail_journeys/consent/confirmation_email_subject.txt", context
    ).strip()
    message = EmailMultiAlternatives(
        subject=" ".join(subject.split()),
        body=render_to_string("wagtail_journeys/consent/confirmation_email.txt", context),
        from_email=get_setting("DEFAULT_FROM_EMAIL") or settings.DEFAULT_FROM_EMAIL,
        to=[contact.email],
    )
    message.attach_alternative(
        render_to_string("wagtail_journeys/consent/confirmation_email.html", context), "text/html"
    )
    message.send()


def _brand():
    """The default site's email brand, or None when there is no default site."""
    from wagtail.models import Site

    from wagtail_journeys.models.branding import EmailBrandSettings

    site = Site.objects.filter(is_default_site=True).first()
    return EmailBrandSettings.for_site(site) if site is not None else None


def _site_name(brand) -> str:
    if brand is not None:
        if brand.company_name:
            return brand.company_name
        if brand.site.site_name:
            return brand.site.site_name
    return getattr(settings, "WAGTAIL_SITE_NAME", "")


def confirm_signup(
    contact: Contact,
    signup: SignupForm | None,
    *,
    ip_address: str | None = None,
    at: datetime | None = None,
) -> bool:
    """The contact followed and confirmed the double opt-in link: subscribe them.

    Returns whether the status changed (a second confirmation changes nothing
    but is harmless). ``at`` (default now) dates the consent record and the
    ``contact_subscribed`` event.
    """
    topics = list(signup.topics.all()) if signup is not None else []
    detail = {"signup_form": signup.pk} if signup is not None else {}
    return subscribe(
        contact,
        method=Method.DOUBLE_OPT_IN,
        ip_address=ip_address,
        topics=topics,
        detail=detail,
        at=at,
    )
