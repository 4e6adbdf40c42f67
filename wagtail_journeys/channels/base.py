"""The channel backend interface, and the console and test backends.

A backend is a class named by a dotted path in ``WAGTAIL_JOURNEYS``
(``SMS_BACKEND``, ``PUSH_BACKEND``), built once per delivery batch with no
arguments, that sends one message at a time::

    class MySmsBackend(BaseSmsBackend):
        def send(self, sms: OutboundSms) -> SendResult:
            ...  # call the provider; raise ChannelError on failure
            return SendResult(provider_id="SM123", status="queued")

``send`` raises ``ChannelError(permanent=True)`` for what cannot work
(a refused number, a subscription that is gone) and ``ChannelError`` (or
any other exception) for what may work later: the message is retried.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass, field
from typing import Any

from django.utils.module_loading import import_string

from wagtail_journeys.conf import get_setting
from wagtail_journeys.exceptions import ConfigurationError


@dataclass(frozen=True)
class OutboundSms:
    """One text message to send."""

    message_id: int
    to: str
    body: str
    #: Where the provider reports delivery (absolute URL), or "" for none.
    status_callback: str = ""


@dataclass(frozen=True)
class OutboundPush:
    """One notification to send to one browser."""

    message_id: int
    #: The browser's subscription: ``{"endpoint": ..., "keys": {"p256dh": ..., "auth": ...}}``.
    subscription: dict[str, Any]
    title: str
    body: str
    #: The click-tracking URL the notification opens.
    url: str
    icon: str = ""


@dataclass(frozen=True)
class SendResult:
    """What the provider answered: its id for the message and its status."""

    provider_id: str = ""
    status: str = ""
    detail: dict[str, Any] = field(default_factory=dict)


class BaseBackend:
    """What every channel backend shares: a way to say what its settings lack."""

    @classmethod
    def check_settings(cls) -> list[str]:
        """What is wrong with the settings this backend needs (``[]``: nothing).

        The system checks report each line (``wagtail_journeys.E025``): say
        which setting to add, or which extra to install.
        """
        return []


class BaseSmsBackend(BaseBackend):
    """Sends text messages. Subclasses implement ``send``."""

    def status_callback_url(self) -> str:
        """Where this provider should report delivery ("" for nowhere: the default)."""
        return ""

    def send(self, sms: OutboundSms) -> SendResult:  # pragma: no cover - abstract
        raise NotImplementedError


class BasePushBackend(BaseBackend):
    """Sends web push notifications. Subclasses implement ``send``."""

    def send(self, push: OutboundPush) -> SendResult:  # pragma: no cover - abstract
        raise NotImplementedError


class ConsoleSmsBackend(BaseSmsBackend):
    """Writes each SMS to standard output (development)."""

    def send(self, sms: OutboundSms) -> SendResult:
        sys.stdout.write(f"SMS to {sms.to} (message {sms.message_id}):\n{sms.body}\n\n")
        sys.stdout.flush()
        return SendResult(provider_id=f"console-{sms.message_id}", status="sent")


class ConsolePushBackend(BasePushBackend):
    """Writes each notification to standard output (development)."""

    def send(self, push: OutboundPush) -> SendResult:
        endpoint = push.subscription.get("endpoint", "")
        sys.stdout.write(
            f"Push to {endpoint[:60]} (message {push.message_id}):\n"
            f"{push.title}\n{push.body}\n{push.url}\n\n"
        )
        sys.stdout.flush()
        return SendResult(provider_id=f"console-{push.message_id}", status="sent")


#: What the test backends sent, like ``django.core.mail.outbox``: tests empty them.
sms_outbox: list[OutboundSms] = []
push_outbox: list[OutboundPush] = []


class TestSmsBackend(BaseSmsBackend):
    """Keeps each SMS in ``channels.base.sms_outbox`` (tests)."""

    def send(self, sms: OutboundSms) -> SendResult:
        sms_outbox.append(sms)
        return SendResult(provider_id=f"test-{sms.message_id}", status="sent")


class TestPushBackend(BasePushBackend):
    """Keeps each notification in ``channels.base.push_outbox`` (tests)."""

    def send(self, push: OutboundPush) -> SendResult:
        push_outbox.append(push)
        return SendResult(provider_id=f"test-{push.message_id}", status="sent")


def backend_class(setting: str, base: type) -> type:
    """The class ``WAGTAIL_JOURNEYS[setting]`` names, checked to be a ``base``."""
    path = get_setting(setting)
    try:
        found = import_string(path) if isinstance(path, str) else path
    except ImportError as error:
        raise ConfigurationError(
            f'WAGTAIL_JOURNEYS["{setting}"] = {path!r} cannot be imported: {error}'
        ) from error
    if not (isinstance(found, type) and issubclass(found, base)):
        raise ConfigurationError(
            f'WAGTAIL_JOURNEYS["{setting}"] must name a subclass of {base.__module__}.'
            f"{base.__name__}; got {path!r}."
        )
    return found


def get_sms_backend() -> BaseSmsBackend:
    """A new instance of the ``SMS_BACKEND`` class."""
    return backend_class("SMS_BACKEND", BaseSmsBackend)()


def get_push_backend() -> BasePushBackend:
    """A new instance of the ``PUSH_BACKEND`` class."""
    return backend_class("PUSH_BACKEND", BasePushBackend)()
