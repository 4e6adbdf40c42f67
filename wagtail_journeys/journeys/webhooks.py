"""The webhook step: a signed JSON POST, retried with back-off, its response recorded.

The receiver checks ``X-Journeys-Signature``: ``sha256=`` and the hex
HMAC-SHA256, keyed with the step's secret, of ``<timestamp>.<body>``, where
the timestamp is ``X-Journeys-Timestamp`` (reject old ones to stop replays).
``X-Journeys-Delivery`` is the same on every retry of one step for one
contact, so a receiver can drop duplicates.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from datetime import timedelta

import requests
from django.core.serializers.json import DjangoJSONEncoder
from django.utils.translation import gettext as _

from wagtail_journeys.conf import get_setting
from wagtail_journeys.journeys.outcomes import NEXT, WAIT, Outcome

#: Seconds before retry N (then 4x more each time), capped at an hour.
RETRY_BASE_SECONDS = 30


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Journeys-Signature`` value for ``body`` sent at ``timestamp``."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"sha256={mac.hexdigest()}"


def payload(ctx) -> dict:
    contact = ctx.contact
    return {
        "journey": {"id": ctx.enrollment.journey_id, "step_id": ctx.step_id},
        "enrollment_id": ctx.enrollment.pk,
        "contact": {
            "id": contact.pk,
            "email": contact.email,
            "first_name": contact.first_name,
            "last_name": contact.last_name,
            "status": contact.status,
            "custom_fields": contact.custom_fields,
        },
        "context": ctx.enrollment.context,
        "sent_at": ctx.now.isoformat(),
    }


def call_webhook(value, ctx) -> Outcome:
    url = value["url"]
    if ctx.simulate:
        return Outcome(NEXT, "done", _("Would POST to %(url)s.") % {"url": url})
    body = json.dumps(payload(ctx), cls=DjangoJSONEncoder).encode()
    timestamp = str(int(ctx.now.timestamp()))
    secret = value["secret"] or get_setting("WEBHOOK_SECRET") or ""
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "wagtail-journeys",
        "X-Journeys-Timestamp": timestamp,
        "X-Journeys-Signature": signature(secret, timestamp, body),
        "X-Journeys-Delivery": f"{ctx.enrollment.pk}:{ctx.step_id}",
    }
    attempts = int(ctx.enrollment.state.get("attempts", 0)) + 1
    try:
        response = requests.post(
            url, data=body, headers=headers, timeout=value["timeout"], allow_redirects=False
        )
    except requests.RequestException as error:
        problem, retry = f"{type(error).__name__}: {error}"[:300], True
        detail = {"attempt": attempts, "error": problem}
    else:
        detail = {
            "attempt": attempts,
            "status": response.status_code,
            "response": response.text[:1000],
        }
        if 200 <= response.status_code < 300:
            return Outcome(NEXT, "done", _("HTTP %(s)s.") % {"s": response.status_code}, detail)
        problem = f"HTTP {response.status_code}"
        # A 4xx other than 408/429 is the receiver refusing this request: trying again won't help.
        retry = response.status_code >= 500 or response.status_code in (408, 429)
    if retry and attempts <= value["retries"]:
        delay = min(RETRY_BASE_SECONDS * 4 ** (attempts - 1), 3600)
        detail["state"] = {"attempts": attempts}
        return Outcome(
            WAIT,
            "retrying",
            _("%(problem)s; retry %(n)s in %(s)s s.")
            % {"problem": problem, "n": attempts, "s": delay},
            detail,
            until=ctx.now + timedelta(seconds=delay),
        )
    return Outcome(NEXT, "failed", _("%(problem)s; giving up.") % {"problem": problem}, detail)
