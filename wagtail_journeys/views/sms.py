"""Twilio's webhooks: delivery reports of the SMS we sent, and the texts people send back.

Both check Twilio's ``X-Twilio-Signature`` (an HMAC of the URL and the form
fields, keyed with ``TWILIO_AUTH_TOKEN``) before they read anything. The URL
is the public one (``BASE_URL`` + the path), not the one Django sees, so a
proxy or load balancer in front of the site does not break the check.

Twilio retries a webhook that does not answer 2xx, so anything we can accept
but not use (a report about a message we do not know, a text that is not a
keyword) is answered 200 and ignored.
"""

from __future__ import annotations

import logging
import re

from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBadRequest, HttpResponseForbidden
from django.utils import timezone
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from wagtail_journeys.analytics.counting import count_message_event
from wagtail_journeys.conf import get_setting
from wagtail_journeys.email import consent, links
from wagtail_journeys.exceptions import ConfigurationError
from wagtail_journeys.models.contacts import Contact
from wagtail_journeys.models.events import Event
from wagtail_journeys.models.messages import ConsentRecord, Message, MessageEvent
from wagtail_journeys.tracking.events import record_event

logger = logging.getLogger(__name__)

SMS = Message.Channel.SMS.value
SOURCE = "twilio"

#: Replies that withdraw or give consent to SMS (the whole text, any case),
#: as Twilio's own opt-out handling recognises them.
STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT"})
START_WORDS = frozenset({"START", "UNSTOP", "YES"})

#: Twilio ``MessageStatus`` → the MessageEvent kind and the journeys event it stores.
#: ``queued``, ``sending``, ``sent``... say nothing the delivery record does not.
STATUS_EVENTS = {
    "delivered": (MessageEvent.Kind.DELIVERED, "sms_delivered"),
    "undelivered": (MessageEvent.Kind.FAILED, "sms_failed"),
    "failed": (MessageEvent.Kind.FAILED, "sms_failed"),
}

#: "Send no reply": Twilio's own opt-out confirmation, if enabled, still goes.
EMPTY_TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response></Response>'


def _public_url(request: HttpRequest) -> str:
    try:
        return links.absolute(request.get_full_path())
    except ConfigurationError:
        # No BASE_URL and no default Site: the best we have is what Django saw.
        return request.build_absolute_uri()


def _refusal(request: HttpRequest) -> HttpResponse | None:
    """A 403 for a request that Twilio did not sign with our token, else None."""
    token = get_setting("TWILIO_AUTH_TOKEN")
    if not token:
        logger.warning("Refused a Twilio webhook: TWILIO_AUTH_TOKEN is not set.")
        return HttpResponseForbidden(
            'Twilio webhooks are off: set WAGTAIL_JOURNEYS["TWILIO_AUTH_TOKEN"].',
            content_type="text/plain",
        )
    try:
        from twilio.request_validator import RequestValidator
    except ImportError:
        logger.error('Refused a Twilio webhook: pip install "wagtail-journeys[sms]".')
        return HttpResponseForbidden(
            'Twilio webhooks need the twilio package: pip install "wagtail-journeys[sms]".',
            content_type="text/plain",
        )
    signature = request.headers.get("X-Twilio-Signature", "")
    if not signature:
        return HttpResponseForbidden("Missing X-Twilio-Signature.", content_type="text/plain")
    if not RequestValidator(token).validate(_public_url(request), request.POST, signature):
        logger.warning("Refused a Twilio webhook with a bad signature for %s.", request.path)
        return HttpResponseForbidden("Invalid X-Twilio-Signature.", content_type="text/plain")
    # Twilio never sends NUL; PostgreSQL cannot store or even compare text holding one.
    if any("\x00" in value for values in request.POST.lists() for value in values[1]):
        return HttpResponseBadRequest("NUL characters are not allowed.", content_type="text/plain")
    return None


def _error_code(value: str) -> int | None:
    value = value.strip()
    # isdigit() alone accepts "²" and other digits int() refuses.
    return int(value) if value.isascii() and value.isdigit() and len(value) <= 9 else None


@csrf_exempt
@require_POST
def twilio_status(request: HttpRequest) -> HttpResponse:
    """Twilio's status callback for one SMS: store delivered and failed reports.

    Each report is stored once (Twilio retries), as a MessageEvent counted in
    the reports and an ``sms_delivered`` or ``sms_failed`` event journeys can
    wait for.
    """
    refused = _refusal(request)
    if refused is not None:
        return refused
    sid = request.POST.get("MessageSid", "").strip()
    status = request.POST.get("MessageStatus", "").strip().lower()
    if not sid or not status:
        return HttpResponseBadRequest("MessageSid and MessageStatus are required.")
    if status not in STATUS_EVENTS:
        return HttpResponse()
    message = (
        Message.objects.select_related("contact").filter(channel=SMS, esp_message_id=sid).first()
    )
    if message is None:
        logger.info("Ignored a Twilio %s report for unknown message %s.", status, sid[:64])
        return HttpResponse()
    kind, name = STATUS_EVENTS[status]
    error_code = _error_code(request.POST.get("ErrorCode", ""))
    at = timezone.now()
    with transaction.atomic():
        event, created = MessageEvent.objects.get_or_create(
            dedupe_key=f"{SOURCE}:{sid}:{status}"[:255],
            defaults={
                "message": message,
                "kind": kind,
                "occurred_at": at,
                "source": SOURCE,
                "detail": {"status": status, "error_code": error_code},
            },
        )
        if created:
            count_message_event(event, message)
            if message.contact is not None:
                record_event(
                    message.contact,
                    name,
                    {
                        "message_id": message.pk,
                        "step_id": message.step_id,
                        "status": status,
                        "error_code": error_code,
                    },
                    source=Event.Source.SYSTEM,
                    occurred_at=at,
                )
    return HttpResponse()


def normalise_phone(number: str) -> str:
    """``number`` as digits and a leading ``+``: ``"+1 (555) 010-0199"`` → ``"+15550100199"``."""
    number = number.strip()
    digits = re.sub(r"\D", "", number)
    return f"+{digits}" if number.startswith("+") and digits else digits


def contacts_with_phone(number: str) -> list[Contact]:
    """The contacts whose ``phone``, normalised, is ``number`` (normalised)."""
    digits = number.lstrip("+")
    if not digits:
        return []
    # The digits in order with anything but digits around them, as a regex
    # the database can run: narrows the table to a few rows, checked exactly here.
    pattern = "^[^0-9]*" + "[^0-9]*".join(digits) + "[^0-9]*$"
    return [
        contact
        for contact in Contact.objects.filter(phone__regex=pattern)
        if normalise_phone(contact.phone) == number
    ]


def _keyword(request: HttpRequest) -> tuple[str, bool | None]:
    """The keyword of an inbound text and the consent it gives (None: not a keyword)."""
    keyword = request.POST.get("Body", "").strip().upper()
    # With Advanced Opt-Out, Twilio also tells us what it understood, which
    # covers keywords configured in its console.
    opt_out = request.POST.get("OptOutType", "").strip().upper()
    if keyword in STOP_WORDS or opt_out == "STOP":
        return keyword or opt_out, False
    if keyword in START_WORDS or opt_out == "START":
        return keyword or opt_out, True
    return keyword, None


@csrf_exempt
@require_POST
def twilio_inbound(request: HttpRequest) -> HttpResponse:
    """A text sent to our Twilio number: STOP and START change the sender's SMS consent.

    Every contact with the sender's number is changed, each with a consent
    record and an ``sms_stopped`` or ``sms_started`` event; a contact whose
    consent already says so is left alone (a retried webhook changes nothing).
    Always answers with empty TwiML: no reply of ours.
    """
    refused = _refusal(request)
    if refused is not None:
        return refused
    number = normalise_phone(request.POST.get("From", ""))
    if not number:
        return HttpResponseBadRequest("From is required.")
    keyword, granted = _keyword(request)
    if granted is not None:
        name = "sms_started" if granted else "sms_stopped"
        properties = {"keyword": keyword[:32], "message_sid": request.POST.get("MessageSid", "")}
        with transaction.atomic():
            for contact in contacts_with_phone(number):
                if (contact.consent or {}).get(SMS) is granted:
                    continue
                consent.set_channel_consent(
                    contact,
                    SMS,
                    granted,
                    method=ConsentRecord.Method.ESP,
                    source="twilio",
                    detail=properties,
                )
                record_event(contact, name, properties, source=Event.Source.SYSTEM)
    return HttpResponse(EMPTY_TWIML, content_type="text/xml")
