"""Twilio's Programmable Messaging, through the official ``twilio`` package (the ``sms`` extra).

Settings (``WAGTAIL_JOURNEYS``): ``TWILIO_ACCOUNT_SID``, ``TWILIO_AUTH_TOKEN``,
``SMS_FROM`` (a number in E.164 form, an alphanumeric sender, or a Messaging
Service SID starting ``MG``) and ``TWILIO_API_BASE_URL`` (default: Twilio's
own API; set it to reach Twilio through a proxy, or a test server).
"""

from __future__ import annotations

from typing import Any

from wagtail_journeys.channels.base import BaseSmsBackend, OutboundSms, SendResult
from wagtail_journeys.conf import get_setting
from wagtail_journeys.exceptions import ChannelError, ConfigurationError, MissingExtraError

#: Twilio error codes that say the recipient cannot get this SMS, whenever we try:
#: an invalid or unreachable number, a landline, a region not enabled on the account,
#: a recipient who replied STOP (21610).
#: https://www.twilio.com/docs/api/errors
RECIPIENT_ERROR_CODES = frozenset({21211, 21217, 21265, 21408, 21610, 21612, 21614, 21635})

#: HTTP statuses that may work later: credentials or account being fixed
#: (401, 403, 404 for a wrong account SID), a timeout, rate limiting.
_RETRYABLE_STATUSES = frozenset({401, 403, 404, 408, 429})


def _twilio():
    try:
        from twilio.http.http_client import TwilioHttpClient
        from twilio.rest import Client
    except ImportError as error:
        raise MissingExtraError(
            'The Twilio SMS backend needs the twilio package: pip install "wagtail-journeys[sms]"'
        ) from error
    return Client, TwilioHttpClient


def _required(name: str) -> str:
    value = get_setting(name)
    if not value:
        raise ConfigurationError(
            f'Set WAGTAIL_JOURNEYS["{name}"] to send SMS with the Twilio backend.'
        )
    return value


def is_permanent(status: int | None, code: int | None) -> bool:
    """Whether Twilio's refusal (HTTP ``status``, Twilio error ``code``) is final for this message.

    A known recipient error is; a server error, a rate limit or a credentials
    problem is not (it may be fixed before the retries run out); any other
    4xx means Twilio refused the request itself, which sending again cannot change.
    """
    if code in RECIPIENT_ERROR_CODES:
        return True
    if status is None or status in _RETRYABLE_STATUSES or status >= 500:
        return False
    return 400 <= status < 500


class TwilioSmsBackend(BaseSmsBackend):
    """Sends each SMS with one call to Twilio's Messages API."""

    #: Seconds to wait for Twilio before the attempt counts as failed (and is retried).
    timeout: float = 10

    def __init__(self):
        client_class, http_client_class = _twilio()
        self.sender = _required("SMS_FROM")
        self.client = client_class(
            _required("TWILIO_ACCOUNT_SID"),
            _required("TWILIO_AUTH_TOKEN"),
            http_client=http_client_class(timeout=self.timeout),
        )
        base_url = get_setting("TWILIO_API_BASE_URL")
        if base_url:
            # Every Twilio domain object builds its URLs from ``base_url`` when it
            # makes a request, so replacing it sends the real client elsewhere.
            self.client.api.base_url = base_url.rstrip("/")

    @classmethod
    def check_settings(cls) -> list[str]:
        problems = [
            f'Set WAGTAIL_JOURNEYS["{name}"] for the Twilio backend.'
            for name in ("TWILIO_ACCOUNT_SID", "TWILIO_AUTH_TOKEN", "SMS_FROM")
            if not get_setting(name)
        ]
        try:
            _twilio()
        except MissingExtraError as error:
            problems.append(str(error))
        return problems

    def status_callback_url(self) -> str:
        """Twilio's delivery reports go to the signed status webhook."""
        from django.urls import reverse

        from wagtail_journeys.email import links

        return links.absolute(reverse("wagtail_journeys:sms_status"))

    def _sender(self) -> dict[str, str]:
        if self.sender.startswith("MG"):
            return {"messaging_service_sid": self.sender}
        return {"from_": self.sender}

    def send(self, sms: OutboundSms) -> SendResult:
        """Hand ``sms`` to Twilio; raise ChannelError (permanent or not) when it refuses."""
        from requests import RequestException
        from twilio.base.exceptions import (
            TwilioException,
            TwilioRestException,
            TwilioServiceException,
        )

        options: dict[str, Any] = {"to": sms.to, "body": sms.body, **self._sender()}
        if sms.status_callback:
            options["status_callback"] = sms.status_callback
        try:
            message = self.client.messages.create(**options)
        except TwilioRestException as error:
            raise ChannelError(
                f"Twilio refused the SMS (HTTP {error.status}, error {error.code}): {error.msg}",
                permanent=is_permanent(error.status, error.code),
            ) from error
        except TwilioServiceException as error:
            raise ChannelError(
                f"Twilio refused the SMS (HTTP {error.status}, error {error.code}): "
                f"{error.title} {error.detail or ''}".strip(),
                permanent=is_permanent(error.status, error.code),
            ) from error
        except RequestException as error:
            # Connection refused, reset, DNS, timeout: Twilio may never have seen it.
            raise ChannelError(f"Could not reach Twilio: {error}") from error
        except TwilioException as error:
            raise ChannelError(f"Twilio client error: {error}") from error
        detail = {"num_segments": message.num_segments} if message.num_segments else {}
        return SendResult(
            provider_id=str(message.sid or ""), status=str(message.status or ""), detail=detail
        )
