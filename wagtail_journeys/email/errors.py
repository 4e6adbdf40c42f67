"""What an exception raised while handing a message to the email provider means.

Delivery may retry a message only when the error proves the provider did
not take it; anything else could send it twice.
"""

import smtplib

from anymail.exceptions import (
    AnymailAPIError,
    AnymailInvalidAddress,
    AnymailRecipientsRefused,
    AnymailSerializationError,
    AnymailUnsupportedFeature,
)
from requests import exceptions as requests_exceptions

# What a send attempt's exception means: the provider surely did not take
# the message (retry later, or give up for good), or we cannot tell.
RETRY = "retry"
FAIL = "fail"
UNKNOWN = "unknown"


def classify_error(error: BaseException) -> str:
    """``RETRY``, ``FAIL`` or ``UNKNOWN`` for an exception raised while sending one message.

    Only errors that prove the provider did not accept the message may lead
    to a retry: connection failures, SMTP 4xx replies, HTTP 429 and 5xx
    answers. An SMTP server has accepted a message only once it replied 250
    to its data, so any SMTP error counts as not accepted. An HTTP request
    that timed out waiting for the answer, or an error we do not know, may
    have been accepted: ``UNKNOWN``, never retried.
    """
    if isinstance(
        error,
        (
            AnymailRecipientsRefused,
            AnymailInvalidAddress,
            AnymailUnsupportedFeature,
            AnymailSerializationError,
        ),
    ):
        return FAIL
    if isinstance(error, requests_exceptions.ReadTimeout):
        return UNKNOWN
    if isinstance(error, requests_exceptions.ConnectionError):
        return RETRY
    if isinstance(error, AnymailAPIError):
        status = error.status_code
        if status is None:
            return UNKNOWN
        return RETRY if status == 429 or status >= 500 else FAIL
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return RETRY if codes and all(400 <= code < 500 for code in codes) else FAIL
    if isinstance(error, smtplib.SMTPResponseException):
        return RETRY if 400 <= error.smtp_code < 500 else FAIL
    if isinstance(error, (smtplib.SMTPException, OSError)):
        # Disconnections, refused or reset connections, timeouts, DNS errors.
        return RETRY
    return UNKNOWN


def breaks_connection(error: BaseException) -> bool:
    """True when the connection that raised ``error`` must be opened again before reuse."""
    if isinstance(error, smtplib.SMTPResponseException) and error.smtp_code == 421:
        return True  # "Service not available, closing transmission channel"
    return isinstance(error, (smtplib.SMTPServerDisconnected, OSError))


def describe(error: BaseException) -> str:
    """``error`` as one line to store as a message's reason."""
    try:
        text = str(error)
    except Exception:
        # Anymail's __str__ needs the HTTP response, which a backend may not give.
        text = " ".join(str(arg) for arg in error.args)
    status = getattr(error, "status_code", None)
    if status is not None and str(status) not in text:
        text = f"{text} (status {status})"
    text = " ".join(text.split()) or "no detail"
    return f"{type(error).__name__}: {text}"[:2000]
