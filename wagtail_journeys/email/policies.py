"""The checks every message passes at delivery time, not only when it was queued.

A contact may unsubscribe, bounce, leave a topic or get three other emails
between the moment a journey queues a message and the moment a worker
delivers it, so these rules are applied to each batch just before sending
(for SMS and push, the channel's own consent and cap: see ``channel_reason``):

1. **hard suppression**: a contact whose address bounced or who complained
   gets nothing, transactional mail included (status ``suppressed``);
2. **consent** (marketing only): the contact must be ``subscribed``, must not
   have withdrawn email consent and must not have left the template's topic
   (status ``suppressed``);
3. **quiet hours** (marketing only): a message due during ``QUIET_HOURS`` in
   the contact's timezone stays queued until they end (deferred, never
   dropped);
4. **frequency cap** (marketing only): at most ``FREQUENCY_CAP`` (or
   ``FEWER_EMAILS_CAP`` for contacts who asked for fewer emails) marketing
   messages per contact in a rolling window (status ``skipped``).

Each decision carries a reason that is stored on the message, so "why did
this contact not get this email" is answered from the database.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.conf import settings
from django.db.models import Q

from wagtail_journeys.conf import get_setting
from wagtail_journeys.exceptions import ConfigurationError
from wagtail_journeys.models.contacts import Contact, EmailFrequency
from wagtail_journeys.models.messages import Kind, Message

Status = Message.Status

#: What a check decided for one message: send it, or why not.
SEND = "send"
DEFER = "defer"


@dataclass(frozen=True)
class Verdict:
    """The outcome of the delivery-time checks for one message."""

    #: ``"send"``, ``"defer"``, or the final status (``suppressed``, ``skipped``).
    action: str
    reason: str = ""
    #: For ``"defer"``: when the message may go.
    send_after: datetime | None = None


ALLOWED = Verdict(SEND)


def channel_reason(message: Message, contact: Contact, push_contacts=frozenset()) -> str:
    """Why an SMS or push ``message`` must not go to ``contact``, or ``""``.

    SMS needs an explicit opt-in for marketing, and a STOP (consent withdrawn)
    stops every SMS; push goes to browsers that subscribed (``push_contacts``:
    the ids of contacts with one), unless the contact withdrew push consent.
    Email's hard suppressions (a bounced address, a complaint) are about the
    address, not these channels.
    """
    consent = (contact.consent or {}).get(message.channel)
    if message.channel == Message.Channel.SMS:
        if not message.to_phone:
            return "The contact has no phone number."
        if consent is False:
            return "The contact withdrew consent to SMS (STOP)."
        if message.kind == Kind.MARKETING and consent is not True:
            return "Marketing SMS needs the contact's explicit opt-in to SMS."
        return ""
    if consent is False:
        return "The contact withdrew consent to push notifications."
    if contact.pk not in push_contacts:
        return "No browser of the contact is subscribed to notifications."
    return ""


def suppression_reason(
    message: Message, contact: Contact | None, topics_left, push_contacts=frozenset()
) -> str:
    """Why ``message`` must not go to ``contact`` at all, or ``""``.

    ``topics_left`` is the set of topic ids the contact left.
    """
    if contact is None:
        return "The contact was deleted."
    if message.channel != Message.Channel.EMAIL:
        return channel_reason(message, contact, push_contacts)
    if not message.to_email:
        return "The contact has no email address."
    if contact.status == Contact.Status.BOUNCED:
        return "The contact's address bounced (hard suppression)."
    if contact.status == Contact.Status.COMPLAINED:
        return "The contact marked an email as spam (hard suppression)."
    if message.kind != Kind.MARKETING:
        return ""
    if contact.status != Contact.Status.SUBSCRIBED:
        return f"Marketing email needs a subscribed contact; this one is {contact.status}."
    if (contact.consent or {}).get("email") is False:
        return "The contact withdrew consent to marketing email."
    template = message.template
    if template is not None and template.topic_id is not None and template.topic_id in topics_left:
        return f"The contact left the topic {template.topic.name!r}."
    return ""


def _parse_clock(value) -> time:
    if isinstance(value, time):
        return value
    try:
        return time.fromisoformat(str(value))
    except ValueError:
        raise ConfigurationError(
            f'WAGTAIL_JOURNEYS["QUIET_HOURS"] must hold two "HH:MM" times; got {value!r}.'
        ) from None


def quiet_hours() -> tuple[time, time] | None:
    """The ``QUIET_HOURS`` setting as two times, or None when there are none."""
    setting = get_setting("QUIET_HOURS")
    if not setting:
        return None
    try:
        start, end = setting
    except (TypeError, ValueError):
        raise ConfigurationError(
            'WAGTAIL_JOURNEYS["QUIET_HOURS"] must be a pair such as ("21:00", "08:00") or None.'
        ) from None
    start, end = _parse_clock(start), _parse_clock(end)
    return None if start == end else (start, end)


def contact_timezone(contact: Contact) -> ZoneInfo:
    """The contact's timezone, else ``DEFAULT_TIMEZONE``, else Django's ``TIME_ZONE``."""
    for name in (contact.timezone, get_setting("DEFAULT_TIMEZONE"), settings.TIME_ZONE):
        if name:
            try:
                return ZoneInfo(name)
            except (ZoneInfoNotFoundError, ValueError):
                # A contact's bad timezone (typed in a form) must not stop delivery.
                continue
    return ZoneInfo("UTC")


def quiet_until(
    contact: Contact, now: datetime, hours: tuple[time, time] | None
) -> datetime | None:
    """When the quiet hours around ``now`` end for ``contact``, or None if it is not quiet."""
    if hours is None:
        return None
    start, end = hours
    zone = contact_timezone(contact)
    local = now.astimezone(zone)
    clock = local.time().replace(tzinfo=None)
    if start < end:  # e.g. 01:00-06:00, within one day
        quiet = start <= clock < end
        end_day = local.date()
    else:  # e.g. 21:00-08:00, across midnight
        quiet = clock >= start or clock < end
        end_day = local.date() + timedelta(days=1) if clock >= start else local.date()
    if not quiet:
        return None
    # Built in the contact's zone so that a DST change during the night is respected.
    return datetime.combine(end_day, end, tzinfo=zone).astimezone(now.tzinfo)


def _cap_setting(name: str) -> tuple[int, int] | None:
    value = get_setting(name)
    if value is None:
        return None
    try:
        count, seconds = value
        return int(count), int(seconds)
    except (TypeError, ValueError):
        raise ConfigurationError(
            f'WAGTAIL_JOURNEYS["{name}"] must be (count, seconds) or None; got {value!r}.'
        ) from None


def _describe_window(seconds: int) -> str:
    if seconds % 86400 == 0:
        days = seconds // 86400
        return "day" if days == 1 else f"{days} days"
    if seconds % 3600 == 0:
        hours = seconds // 3600
        return "hour" if hours == 1 else f"{hours} hours"
    return f"{seconds} seconds"


#: The cap setting of each channel other than email (email has two: see ``FrequencyCap``).
CHANNEL_CAPS = {
    Message.Channel.SMS: "SMS_FREQUENCY_CAP",
    Message.Channel.PUSH: "PUSH_FREQUENCY_CAP",
}


class FrequencyCap:
    """Counts each contact's recent marketing messages of one channel, for one batch.

    One query loads the recent marketing sends of every contact in the
    batch; messages approved earlier in the same batch count too, so two
    messages queued together cannot both slip under the cap. Each channel
    has its own cap: an SMS does not use up the email allowance.
    """

    def __init__(
        self, contact_ids: Iterable[int], now: datetime, channel: str = Message.Channel.EMAIL
    ):
        self.now = now
        self.channel = channel
        if channel == Message.Channel.EMAIL:
            self.caps = {
                EmailFrequency.NORMAL: _cap_setting("FREQUENCY_CAP"),
                EmailFrequency.FEWER: _cap_setting("FEWER_EMAILS_CAP"),
            }
        else:
            self.caps = dict.fromkeys(EmailFrequency, _cap_setting(CHANNEL_CAPS[channel]))
        windows = [cap[1] for cap in self.caps.values() if cap is not None]
        self.sent: dict[int, list[datetime]] = defaultdict(list)
        contact_ids = list(contact_ids)
        if windows and contact_ids:
            since = now - timedelta(seconds=max(windows))
            recent = Message.objects.filter(
                contact_id__in=contact_ids, kind=Kind.MARKETING, channel=channel
            ).filter(
                # A message another worker is sending right now counts as sent.
                Q(status=Status.SENT, sent_at__gte=since)
                | Q(status=Status.SENDING, sending_at__gte=since)
            )
            for contact_id, sent_at, sending_at in recent.values_list(
                "contact_id", "sent_at", "sending_at"
            ):
                self.sent[contact_id].append(sent_at or sending_at)

    def cap_for(self, contact: Contact) -> tuple[int, int] | None:
        """The (count, seconds) cap of ``contact``, or None for no cap."""
        if contact.email_frequency == EmailFrequency.FEWER:
            return self.caps[EmailFrequency.FEWER]
        return self.caps[EmailFrequency.NORMAL]

    def reason(self, contact: Contact) -> str:
        """Why one more marketing message would break the cap, or ``""`` (and it is counted)."""
        cap = self.cap_for(contact)
        if cap is None:
            return ""
        count, seconds = cap
        since = self.now - timedelta(seconds=seconds)
        recent = sum(1 for sent_at in self.sent[contact.pk] if sent_at >= since)
        if recent >= count:
            if self.channel != Message.Channel.EMAIL:
                return (
                    f"{self.channel.upper()} frequency cap: {recent} marketing message(s) "
                    f"already sent in the last {_describe_window(seconds)} (at most {count})."
                )
            which = "fewer-emails cap" if contact.email_frequency == EmailFrequency.FEWER else "cap"
            return (
                f"Frequency {which}: {recent} marketing email(s) already sent in the last "
                f"{_describe_window(seconds)} (at most {count})."
            )
        self.sent[contact.pk].append(self.now)
        return ""


def _topics_left(contact_ids: list[int]) -> dict[int, set[int]]:
    through = Contact.topics_left.through
    left: dict[int, set[int]] = defaultdict(set)
    rows = through.objects.filter(contact_id__in=contact_ids).values_list("contact_id", "topic_id")
    for contact_id, topic_id in rows:
        left[contact_id].add(topic_id)
    return left


def _push_contacts(contact_ids: list[int]) -> set[int]:
    """Which of these contacts have a browser subscribed to notifications."""
    if not contact_ids:
        return set()
    from wagtail_journeys.models.channels import PushSubscription

    rows = PushSubscription.objects.filter(contact_id__in=set(contact_ids), active=True)
    return set(rows.values_list("contact_id", flat=True))


def check_messages(messages: list[Message], now: datetime) -> dict[int, Verdict]:
    """Apply the delivery-time checks to a batch; returns a verdict per message id.

    The messages need ``contact`` and ``template`` loaded (``select_related``).
    Costs two queries for the whole batch (topics left, recent sends), and
    one more per channel other than email in it.
    """
    contact_ids = sorted({m.contact_id for m in messages if m.contact_id is not None})
    marketing_contacts = {
        m.contact_id for m in messages if m.kind == Kind.MARKETING and m.contact_id is not None
    }
    left = _topics_left(sorted(marketing_contacts)) if marketing_contacts else {}
    hours = quiet_hours()
    caps: dict[str, FrequencyCap] = {}
    push_contacts = _push_contacts(
        [m.contact_id for m in messages if m.channel == Message.Channel.PUSH]
    )
    verdicts: dict[int, Verdict] = {}
    for message in sorted(messages, key=lambda m: (m.created_at, m.pk)):
        contact = message.contact if message.contact_id in contact_ids else None
        reason = suppression_reason(
            message, contact, left.get(message.contact_id, set()), push_contacts
        )
        if reason:
            verdicts[message.pk] = Verdict(Status.SUPPRESSED, reason)
            continue
        if message.kind != Kind.MARKETING:
            verdicts[message.pk] = ALLOWED
            continue
        until = quiet_until(contact, now, hours)
        if until is not None:
            verdicts[message.pk] = Verdict(
                DEFER, f"Quiet hours in {contact_timezone(contact).key}.", until
            )
            continue
        if message.channel not in caps:
            caps[message.channel] = FrequencyCap(sorted(marketing_contacts), now, message.channel)
        reason = caps[message.channel].reason(contact)
        verdicts[message.pk] = Verdict(Status.SKIPPED, reason) if reason else ALLOWED
    return verdicts
