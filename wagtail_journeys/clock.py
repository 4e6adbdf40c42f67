"""The time a write is dated at: now, or the ``at=`` its caller passed.

Functions that record something (a cart change, a signup, a queued email)
take an optional ``at`` so that an import, a replay or the demo's simulated
traffic can date it in the past; this is the one check they all share.
"""

from __future__ import annotations

from datetime import datetime

from django.utils import timezone


def moment(at: datetime | None) -> datetime:
    """``at`` if it is an aware datetime, the current time if it is ``None``.

    A naive datetime is refused rather than guessed at: read in the current
    time zone, it would silently move every row it dates by hours.
    """
    if at is None:
        return timezone.now()
    if not isinstance(at, datetime):
        raise TypeError(f"at must be a datetime, not {type(at).__name__}.")
    if timezone.is_naive(at):
        raise ValueError(f"at must be an aware datetime (with a time zone), not naive {at}.")
    return at
