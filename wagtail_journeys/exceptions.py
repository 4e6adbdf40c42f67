"""Exceptions raised by wagtail-journeys.

Each one subclasses the Django or Python exception a caller would already
catch for the same kind of problem, as Anymail does.
"""

from django.core.exceptions import ImproperlyConfigured, ValidationError


class JourneysError(Exception):
    """Base class of every wagtail-journeys exception."""


class ConfigurationError(JourneysError, ImproperlyConfigured):
    """A setting is missing or has a value we cannot use."""


class InvalidEventError(JourneysError, ValueError):
    """An event name or its properties were rejected."""


class InvalidContactDataError(JourneysError, ValidationError):
    """Data given to ``identify`` (an email address, a field) was rejected."""


class CommerceError(JourneysError, ValueError):
    """A cart or wishlist call was given an invalid quantity, price or state."""


class InvalidTokenError(JourneysError, ValueError):
    """A signed link token was forged, altered or has expired."""


class TemplateRenderError(JourneysError, ValueError):
    """An email template has a syntax error or an unknown merge field."""


class DeliveryError(JourneysError):
    """A message could not be handed to the email provider."""


class ChannelError(DeliveryError):
    """An SMS or push provider refused a message.

    ``permanent``: sending it again cannot work (an invalid number, a push
    subscription that is gone); otherwise it is retried with back-off.
    """

    def __init__(self, message: str, *, permanent: bool = False):
        super().__init__(message)
        self.permanent = permanent


class MissingExtraError(ConfigurationError):
    """An optional dependency is not installed: the message names the extra to install."""


class PushSubscriptionGone(ChannelError):
    """The push service says the browser's subscription no longer exists (404/410)."""

    def __init__(self, message: str):
        super().__init__(message, permanent=True)
