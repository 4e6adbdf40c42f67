"""Web push through `pywebpush <https://pypi.org/project/pywebpush/>`_ (the ``push`` extra).

The notification is encrypted for the browser (RFC 8291, ``aes128gcm``) and
signed with the site's VAPID key (RFC 8292), then POSTed to the push service
the browser chose (Google's, Mozilla's, Apple's...), which delivers it.

Settings: ``VAPID_PRIVATE_KEY``, ``VAPID_PUBLIC_KEY`` and ``VAPID_SUBJECT``;
``journeys_vapid_keys`` prints a new key pair.
"""

from __future__ import annotations

import base64
import json
from typing import Any

from wagtail_journeys.channels.base import BasePushBackend, OutboundPush, SendResult
from wagtail_journeys.conf import get_setting
from wagtail_journeys.exceptions import (
    ChannelError,
    ConfigurationError,
    MissingExtraError,
    PushSubscriptionGone,
)

INSTALL_HINT = 'pip install "wagtail-journeys[push]"'

#: Push service answers meaning the subscription is gone for good (RFC 8030 §7.3).
GONE_STATUSES = frozenset({404, 410})
#: Answers meaning this message can never be accepted: malformed (400), too large (413),
#: or signed with a VAPID key other than the one the browser subscribed with (403), which
#: no retry fixes once the keys were changed.
REFUSED_STATUSES = frozenset({400, 403, 413})


def _pywebpush():
    try:
        import pywebpush
        import requests
    except ImportError as error:
        raise MissingExtraError(
            f"Web push needs pywebpush, which is not installed: {INSTALL_HINT}"
        ) from error
    return pywebpush, requests


def _vapid_class():
    try:
        from py_vapid import Vapid
    except ImportError as error:
        raise MissingExtraError(
            f"VAPID keys need py_vapid, which is not installed: {INSTALL_HINT}"
        ) from error
    return Vapid


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def generate_vapid_keys() -> tuple[str, str]:
    """A new VAPID key pair: ``(public_key, private_key)``, both base64url without padding.

    The public key is the uncompressed P-256 point browsers take as
    ``applicationServerKey`` (``VAPID_PUBLIC_KEY``); the private key is the
    raw 32-byte secret (``VAPID_PRIVATE_KEY``).
    """
    from cryptography.hazmat.primitives import serialization

    vapid = _vapid_class()()
    vapid.generate_keys()
    public = vapid.public_key.public_bytes(
        serialization.Encoding.X962, serialization.PublicFormat.UncompressedPoint
    )
    private = vapid.private_key.private_numbers().private_value.to_bytes(32, "big")
    return _b64url(public), _b64url(private)


def _subject() -> str:
    subject = get_setting("VAPID_SUBJECT")
    if not subject or not str(subject).startswith(("mailto:", "https:")):
        raise ConfigurationError(
            'Set WAGTAIL_JOURNEYS["VAPID_SUBJECT"] to a contact address for push services, '
            f'"mailto:you@example.com" or "https://example.com/contact"; got {subject!r}.'
        )
    return str(subject)


def _vapid_key():
    private_key = get_setting("VAPID_PRIVATE_KEY")
    if not private_key:
        raise ConfigurationError(
            'Set WAGTAIL_JOURNEYS["VAPID_PRIVATE_KEY"] (and "VAPID_PUBLIC_KEY"): run '
            "`manage.py journeys_vapid_keys` to make a pair."
        )
    try:
        return _vapid_class().from_string(private_key=str(private_key))
    except (ValueError, TypeError) as error:
        raise ConfigurationError(
            f'WAGTAIL_JOURNEYS["VAPID_PRIVATE_KEY"] is not a VAPID private key: {error}'
        ) from None


class WebPushBackend(BasePushBackend):
    """Sends notifications with pywebpush: ``"wagtail_journeys.channels.webpush.WebPushBackend"``.

    The payload the service worker receives is JSON: ``title``, ``body``,
    ``url`` (the click-tracking URL), ``icon`` and ``message_id``.
    """

    #: How long the push service keeps a notification for a browser that is offline (seconds).
    ttl = 60 * 60 * 24
    #: Seconds to wait for the push service (pywebpush's own default is hours).
    timeout = 10

    def __init__(self):
        self.pywebpush, self.requests = _pywebpush()
        self.vapid = _vapid_key()
        self.subject = _subject()

    def payload(self, push: OutboundPush) -> dict[str, Any]:
        """What the service worker gets (override to add fields, e.g. a badge)."""
        return {
            "title": push.title,
            "body": push.body,
            "url": push.url,
            "icon": push.icon,
            "message_id": push.message_id,
        }

    def send(self, push: OutboundPush) -> SendResult:
        data = json.dumps(self.payload(push), separators=(",", ":"))
        try:
            response = self.pywebpush.webpush(
                subscription_info=push.subscription,
                data=data,
                vapid_private_key=self.vapid,
                # A new dict each time: pywebpush writes "aud" and "exp" into it.
                vapid_claims={"sub": self.subject},
                content_encoding="aes128gcm",
                ttl=self.ttl,
                timeout=self.timeout,
            )
        except self.pywebpush.WebPushException as error:
            raise self._error(error) from None
        except self.requests.RequestException as error:
            raise ChannelError(f"Push service unreachable: {error}") from None
        except (ValueError, TypeError, KeyError) as error:
            # A subscription whose keys cannot encrypt anything: sending again cannot help.
            raise ChannelError(f"Invalid push subscription: {error}", permanent=True) from None
        return SendResult(
            provider_id=response.headers.get("Location", "")[:255],
            status=str(response.status_code),
        )

    def _error(self, error) -> ChannelError:
        response = getattr(error, "response", None)
        status = getattr(response, "status_code", None)
        if status is None:
            return ChannelError(f"Push failed: {error.message}")
        detail = f"{status} {getattr(response, 'reason', '')}".strip()
        if status in GONE_STATUSES:
            return PushSubscriptionGone(f"The push subscription is gone ({detail}).")
        if status in REFUSED_STATUSES:
            return ChannelError(f"The push service refused the message ({detail}).", permanent=True)
        retry_after = response.headers.get("Retry-After")
        if retry_after:
            detail += f", retry after {retry_after}"
        return ChannelError(f"The push service failed ({detail}).")
