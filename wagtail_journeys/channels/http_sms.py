"""A generic SMS provider: one JSON POST per message to ``SMS_HTTP_URL``.

For a gateway of your own, or a provider without a backend here, behind a
small adapter. The request (``Authorization: Bearer <SMS_HTTP_TOKEN>`` when
the token is set)::

    POST <SMS_HTTP_URL>
    {"to": "+447700900123", "from": "<SMS_FROM>", "body": "...",
     "message_id": 42, "status_callback": "https://..."}

A 2xx answer is success; its JSON ``id`` and ``status``, if any, are kept as
the provider's id for the message (what status webhooks refer to) and status.
A 4xx answer refuses the message for good (except 408 and 429, which are
retried), a 5xx answer or no answer is retried.
"""

from __future__ import annotations

from typing import Any

import requests

from wagtail_journeys.channels.base import BaseSmsBackend, OutboundSms, SendResult
from wagtail_journeys.conf import get_setting
from wagtail_journeys.exceptions import ChannelError, ConfigurationError

#: 4xx answers that mean "not now" rather than "never".
_RETRYABLE_STATUSES = frozenset({408, 429})


class HttpSmsBackend(BaseSmsBackend):
    """POSTs each SMS as JSON to ``SMS_HTTP_URL``."""

    #: Seconds to wait for the provider before the attempt counts as failed (and is retried).
    timeout: float = 10

    @classmethod
    def check_settings(cls) -> list[str]:
        if get_setting("SMS_HTTP_URL"):
            return []
        return ['Set WAGTAIL_JOURNEYS["SMS_HTTP_URL"] for the HTTP SMS backend.']

    def __init__(self):
        self.url = get_setting("SMS_HTTP_URL")
        if not self.url:
            raise ConfigurationError(
                'Set WAGTAIL_JOURNEYS["SMS_HTTP_URL"] to send SMS with the HTTP backend.'
            )
        self.sender = get_setting("SMS_FROM") or ""
        # One session per backend, which lives for one delivery batch: its
        # connection is reused for every message of the batch.
        self.session = requests.Session()
        self.session.headers["User-Agent"] = "wagtail-journeys"
        token = get_setting("SMS_HTTP_TOKEN")
        if token:
            self.session.headers["Authorization"] = f"Bearer {token}"

    def payload(self, sms: OutboundSms) -> dict[str, Any]:
        """The JSON body sent for ``sms`` (override to adapt it to a provider)."""
        return {
            "to": sms.to,
            "from": self.sender,
            "body": sms.body,
            "message_id": sms.message_id,
            "status_callback": sms.status_callback,
        }

    def send(self, sms: OutboundSms) -> SendResult:
        """POST ``sms``; raise ChannelError (permanent for a 4xx) when it is refused."""
        try:
            response = self.session.post(
                self.url, json=self.payload(sms), timeout=self.timeout, allow_redirects=False
            )
        except requests.RequestException as error:
            raise ChannelError(f"Could not reach the SMS provider: {error}") from error
        status = response.status_code
        if 200 <= status < 300:
            return self._result(response)
        text = response.text[:500]
        permanent = 400 <= status < 500 and status not in _RETRYABLE_STATUSES
        raise ChannelError(f"The SMS provider answered HTTP {status}: {text}", permanent=permanent)

    @staticmethod
    def _result(response: requests.Response) -> SendResult:
        try:
            answer = response.json()
        except ValueError:
            # A provider that answers "OK" or nothing at all still accepted it.
            answer = None
        if not isinstance(answer, dict):
            return SendResult()
        provider_id = answer.get("id")
        status = answer.get("status")
        return SendResult(
            provider_id="" if provider_id is None else str(provider_id),
            status="" if status is None else str(status)[:32],
        )
