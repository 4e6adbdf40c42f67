"""Resolving waits in the contact's timezone, and deterministic splits."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, time, timedelta

from wagtail_journeys.email.policies import contact_timezone

WEEKDAYS = [
    ("0", "Monday"),
    ("1", "Tuesday"),
    ("2", "Wednesday"),
    ("3", "Thursday"),
    ("4", "Friday"),
    ("5", "Saturday"),
    ("6", "Sunday"),
]


def resolve_wait(
    contact,
    start: datetime,
    *,
    delay: timedelta,
    at: time | None = None,
    weekdays: list[str] | tuple[str, ...] = (),
) -> datetime:
    """When a wait that began at ``start`` ends.

    First ``delay`` passes; then, if ``at`` or ``weekdays`` are given, the
    wait runs on to the first moment at that local time (in the contact's
    timezone) on an allowed weekday. A local time that does not exist (a
    daylight-saving gap) resolves to the same wall-clock time as ``zoneinfo``
    maps it, which is at most an hour off.
    """
    moment = start + delay
    if at is None and not weekdays:
        return moment
    zone = contact_timezone(contact)
    local = moment.astimezone(zone)
    allowed = {int(day) for day in weekdays} or set(range(7))
    for offset in range(8):
        day = (local + timedelta(days=offset)).date()
        if day.weekday() not in allowed:
            continue
        candidate_time = at if at is not None else (local.time() if offset == 0 else time.min)
        candidate = datetime.combine(day, candidate_time, tzinfo=zone)
        if candidate >= local:
            return candidate.astimezone(moment.tzinfo)
    raise AssertionError("Some day in the next eight is always allowed.")  # pragma: no cover


def bucket(seed: str, contact_id: int) -> float:
    """A number in [0, 1) fixed for this contact and ``seed``: splits never reshuffle."""
    digest = hashlib.sha256(f"{seed}:{contact_id}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def pick(weights: list[float], point: float) -> int:
    """The index whose share of ``weights`` holds ``point`` (in [0, 1))."""
    total = sum(weights)
    running = 0.0
    for index, weight in enumerate(weights):
        running += weight / total
        if point < running:
            return index
    return len(weights) - 1


def readable(moment: datetime) -> str:
    """A moment as the audit trail shows it: "2026-11-30 09:00 UTC", to the minute."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
