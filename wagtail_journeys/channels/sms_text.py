"""How long a text message is, and how many SMS segments it costs.

An SMS carries 140 bytes. Which characters fit, and how many, depends on the
encoding the whole message needs:

- **GSM-7** (3GPP TS 23.038, "GSM 03.38"), when every character is in the GSM
  basic table or its extension table: 7 bits a character, so 160 characters
  in one SMS. The extension-table characters (``€ [ ] { } ^ ~ | \\`` and form
  feed) are sent as an escape plus the character: they count as two.
- **UCS-2** as soon as one character is outside both tables (an emoji, a
  curly quote, ``ç``, Cyrillic, Chinese): 16 bits a character, so 70 in one
  SMS. A character outside the Basic Multilingual Plane (most emoji) takes two
  UTF-16 code units, so it counts as two. One such character switches the
  *whole* message to UCS-2.

A message longer than one SMS is split into segments that each carry a
header (the concatenation UDH) saying how to reassemble them, which leaves
153 GSM-7 characters or 67 UCS-2 code units a segment. Phones and providers
never split a character across two segments: an escaped GSM-7 character or an
emoji's surrogate pair that would straddle a boundary starts the next segment,
so a long message can cost one segment more than a plain division says.
Every segment is billed.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The GSM 03.38 basic character set, in table order (0x00 to 0x7F). 0x1B is the
#: escape to the extension table, not a character a text can contain.
GSM7_BASIC_TABLE = (
    "@£$¥èéùìòÇ\nØø\rÅå"
    "Δ_ΦΓΛΩΠΨΣΘΞ\x1bÆæßÉ"
    " !\"#¤%&'()*+,-./"
    "0123456789:;<=>?"
    "¡ABCDEFGHIJKLMNO"
    "PQRSTUVWXYZÄÖÑÜ§"
    "¿abcdefghijklmno"
    "pqrstuvwxyzäöñüà"
)
#: The GSM 03.38 extension table: each is sent as the escape (0x1B) plus one septet.
GSM7_EXTENSION_TABLE = "\f^{}\\[~]|€"

GSM7_BASIC = frozenset(GSM7_BASIC_TABLE) - {"\x1b"}
GSM7_EXTENSION = frozenset(GSM7_EXTENSION_TABLE)

GSM7 = "GSM-7"
UCS2 = "UCS-2"

#: Characters (GSM-7 septets or UCS-2 code units) in a message sent as one SMS,
#: and in each segment of a longer one.
SINGLE = {GSM7: 160, UCS2: 70}
MULTIPART = {GSM7: 153, UCS2: 67}


@dataclass(frozen=True)
class SmsLength:
    """The size of one text message as the network counts it."""

    #: ``"GSM-7"`` or ``"UCS-2"``.
    encoding: str
    #: GSM-7 septets (extension characters count two) or UTF-16 code units (emoji count two).
    characters: int
    #: How many SMS the message is sent as (0 for an empty text).
    segments: int
    #: Characters a segment holds: 160 or 153 for GSM-7, 70 or 67 for UCS-2.
    per_segment: int
    #: Characters still free in the last segment before the message costs one more.
    remaining: int


def is_gsm7(text: str) -> bool:
    """Whether every character of ``text`` is in the GSM 03.38 basic or extension table."""
    return all(char in GSM7_BASIC or char in GSM7_EXTENSION for char in text)


def non_gsm_characters(text: str) -> list[str]:
    """The characters of ``text`` that force UCS-2, each once, in order of appearance."""
    return list(dict.fromkeys(c for c in text if c not in GSM7_BASIC and c not in GSM7_EXTENSION))


def _units(text: str, encoding: str) -> list[int]:
    """What each character of ``text`` costs in ``encoding`` (1 or 2)."""
    if encoding == GSM7:
        return [2 if char in GSM7_EXTENSION else 1 for char in text]
    return [2 if ord(char) > 0xFFFF else 1 for char in text]


def segments(text: str) -> SmsLength:
    """The encoding, length and number of SMS segments of ``text``, as sent.

    Counts ``text`` exactly as given: merge fields must be filled in first
    (``render_sms``), since a contact's name changes the length, and a
    carriage return before a line feed is one more character.
    """
    encoding = GSM7 if is_gsm7(text) else UCS2
    units = _units(text, encoding)
    characters = sum(units)
    single = SINGLE[encoding]
    if characters <= single:
        count = 1 if characters else 0
        return SmsLength(encoding, characters, count, single, single - characters)

    # Fill segments one character at a time: a two-unit character that does
    # not fit in what is left of a segment starts the next one.
    per_segment = MULTIPART[encoding]
    count, used = 1, 0
    for unit in units:
        if used + unit > per_segment:
            count, used = count + 1, 0
        used += unit
    return SmsLength(encoding, characters, count, per_segment, per_segment - used)
