"""Signed tokens for the links in emails: open, click, unsubscribe, preferences, confirm, cart.

Each purpose signs with its own salt, so a token made for one link can never
be replayed against another endpoint, and tokens carry their creation time
so that each endpoint can refuse old ones (``LINK_MAX_AGE``,
``CONFIRMATION_MAX_AGE``).
"""

from typing import Any

from django.core import signing

from wagtail_journeys.exceptions import InvalidTokenError

OPEN = "open"
CLICK = "click"
UNSUBSCRIBE = "unsubscribe"
PREFERENCES = "preferences"
CONFIRM = "confirm"
CART = "cart"
PURPOSES = (OPEN, CLICK, UNSUBSCRIBE, PREFERENCES, CONFIRM, CART)


def _salt(purpose: str) -> str:
    if purpose not in PURPOSES:
        raise ValueError(f"Unknown token purpose {purpose!r}.")
    return f"wagtail_journeys.email.{purpose}"


def make_token(purpose: str, *values: Any) -> str:
    """Sign ``values`` (JSON-serialisable) for one purpose; URL-safe.

    Not compressed: the values are a few ids, which zlib only makes longer.
    """
    return signing.dumps(list(values), salt=_salt(purpose))


def read_token(purpose: str, token: str, max_age: int | None = None) -> list[Any]:
    """The values signed in ``token``, or InvalidTokenError if forged, altered or too old."""
    try:
        values = signing.loads(token, salt=_salt(purpose), max_age=max_age)
    except signing.SignatureExpired as exc:
        raise InvalidTokenError("This link has expired.") from exc
    except signing.BadSignature as exc:
        raise InvalidTokenError("This link is not valid.") from exc
    if not isinstance(values, list):
        raise InvalidTokenError("This link is not valid.")
    return values
