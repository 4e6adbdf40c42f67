"""The click-tracking link a push notification opens.

The delivery code stores the page the notification leads to as the
message's only link (``message.links = [target]``) and puts
``push_click_url(message)`` in the notification. The link's token signs the
message id, not the target, so the redirect can only lead to the URL stored
with that message.
"""

from __future__ import annotations

from django.core import signing
from django.urls import reverse

from wagtail_journeys.conf import get_setting
from wagtail_journeys.email import links
from wagtail_journeys.exceptions import InvalidTokenError

#: Its own salt, so that no email token (open, click, unsubscribe...) works here and vice versa.
CLICK_SALT = "wagtail_journeys.push.click"


def make_click_token(message_id: int) -> str:
    """A signed, URL-safe token for the push click link of message ``message_id``."""
    return signing.dumps([message_id], salt=CLICK_SALT)


def read_click_token(token: str) -> int:
    """The message id in ``token``; InvalidTokenError if forged, altered or older than
    ``LINK_MAX_AGE``."""
    try:
        values = signing.loads(token, salt=CLICK_SALT, max_age=get_setting("LINK_MAX_AGE"))
    except signing.SignatureExpired as error:
        raise InvalidTokenError("This link has expired.") from error
    except signing.BadSignature as error:
        raise InvalidTokenError("This link is not valid.") from error
    if (
        not isinstance(values, list)
        or len(values) != 1
        or not isinstance(values[0], int)
        or isinstance(values[0], bool)
    ):
        raise InvalidTokenError("This link is not valid.")
    return values[0]


def push_click_url(message, base: str | None = None) -> str:
    """The absolute URL the notification of ``message`` opens: records the click, then
    redirects to ``message.links[0]``."""
    token = make_click_token(message.pk)
    return links.absolute(reverse("wagtail_journeys:push_click", args=[token]), base)
