"""Parsing the values editors type into rules: numbers, dates, day counts, identifiers.

Each parser raises ``ValueError`` with a message for the editor; the blocks
turn it into an error at the rule.
"""

from __future__ import annotations

import re
from datetime import date
from decimal import Decimal, InvalidOperation

from django.utils.translation import gettext as _

#: Names of events, custom fields and event properties: what the tracker accepts.
IDENTIFIER_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")


def identifier(value: str, what: str) -> str:
    value = (value or "").strip()
    if not IDENTIFIER_RE.match(value):
        raise ValueError(
            _("%(what)s must be letters, digits and underscores, like cart_item_added.")
            % {"what": what}
        )
    return value


def number(value) -> Decimal:
    try:
        parsed = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise ValueError(_("Enter a number, like 42 or 19.90.")) from None
    if not parsed.is_finite():
        raise ValueError(_("Enter a number, like 42 or 19.90."))
    return parsed


def iso_date(value) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise ValueError(_("Enter a date as YYYY-MM-DD, like 2026-01-31.")) from None


def days(value) -> int:
    try:
        parsed = int(str(value).strip())
    except ValueError:
        raise ValueError(_("Enter a whole number of days.")) from None
    if not 1 <= parsed <= 36500:
        raise ValueError(_("Enter a number of days between 1 and 36500."))
    return parsed


def boolean(value) -> bool:
    text = str(value).strip().lower()
    if text in ("true", "yes", "1"):
        return True
    if text in ("false", "no", "0"):
        return False
    raise ValueError(_("Enter yes or no."))
