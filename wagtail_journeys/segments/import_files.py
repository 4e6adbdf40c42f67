"""The CSV files of contact imports: checked in full at upload, then read row by row.

A file is refused as a whole (``ImportFileError``, its message for the
editor) when it cannot be imported at all: too large, not UTF-8, no header
row with an ``email`` column, nothing below it, not valid CSV. Its rows are
then cleaned one by one: each is a ``Row`` to import or the refusal of that
row, with its number as a spreadsheet shows it (the header is row 1).
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.utils.translation import gettext as _

from wagtail_journeys.exceptions import JourneysError
from wagtail_journeys.models import Contact

#: Uploads above this size are refused (the file is kept in the database until imported).
MAX_BYTES = 10 * 1024 * 1024
#: A refused value is cut to this length in the report.
MAX_VALUE_LENGTH = 200

EMAIL = "email"
#: Contact fields a file can fill (only where the contact has none).
FIELDS = ("first_name", "last_name", "phone")
TAGS = "tags"
COLUMNS = (EMAIL, *FIELDS, TAGS)
_TAG_SEPARATORS = re.compile(r"[,;]")
_TAG_MAX_LENGTH = 100


class ImportFileError(JourneysError, ValueError):
    """A file that cannot be imported at all: the message says why, for the editor."""


@dataclass
class CsvFile:
    """A checked file: its text, delimiter, the index of each known column and the rest."""

    text: str
    delimiter: str
    columns: dict[str, int]
    ignored: list[str]
    rows: int


@dataclass
class Row:
    """A valid row: a normalised address and the values it brings."""

    number: int
    email: str
    fields: dict[str, str] = field(default_factory=dict)
    tags: list[str] = field(default_factory=list)


def _column_name(cell: str) -> str:
    return re.sub(r"[\s-]+", "_", cell.strip().lower())


def _delimiter(text: str) -> str:
    # Spreadsheets save "CSV" with semicolons or tabs in some locales: the
    # header row (plain column names) shows which one the file uses.
    header = text.split("\n", 1)[0]
    return max((",", ";", "\t"), key=header.count)


def _reader(text: str, delimiter: str):
    # strict: an unclosed quote is an error, not the rest of the file in one cell.
    return csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)


def _is_blank(cells: list[str]) -> bool:
    return not any(cell.strip() for cell in cells)


def _records(csv_file: CsvFile) -> Iterator[tuple[int, list[str]]]:
    """``(row number, cells)`` of each non-blank row under the header."""
    reader = _reader(csv_file.text, csv_file.delimiter)
    next(reader, None)
    for number, cells in enumerate(reader, start=2):
        if not _is_blank(cells):
            yield number, cells


def _columns(header: list[str]) -> tuple[dict[str, int], list[str]]:
    """The index of each known column, and the names of the others."""
    columns: dict[str, int] = {}
    ignored = []
    for index, cell in enumerate(header):
        name = _column_name(cell)
        if name in COLUMNS:
            if name in columns:
                raise ImportFileError(
                    _("The column “%(name)s” appears twice in the header row.") % {"name": name}
                )
            columns[name] = index
        elif name:
            ignored.append(cell.strip())
    if EMAIL not in columns:
        raise ImportFileError(
            _(
                "The file has no “email” column. Its first row must name the columns: "
                "email, and optionally %(optional)s."
            )
            % {"optional": ", ".join(COLUMNS[1:])}
        )
    return columns, ignored


def read_text(text: str) -> CsvFile:
    """Check a file's text: a header naming an ``email`` column, then at least one row."""
    if not text.strip():
        raise ImportFileError(_("The file is empty."))
    delimiter = _delimiter(text)
    reader = _reader(text, delimiter)
    try:
        columns, ignored = _columns(next(reader))
        rows = sum(1 for cells in reader if not _is_blank(cells))
    except csv.Error as error:
        raise ImportFileError(
            _("The file is not valid CSV: %(error)s (line %(line)s).")
            % {"error": error, "line": reader.line_num}
        ) from None
    if not rows:
        raise ImportFileError(_("The file has a header row but no contacts below it."))
    return CsvFile(text, delimiter, columns, ignored, rows)


def check_size(size: int, max_bytes: int | None = MAX_BYTES) -> None:
    """Refuse a file of more than ``max_bytes`` (None: any size)."""
    if max_bytes is not None and size > max_bytes:
        raise ImportFileError(
            _("The file is larger than %(size)s MB: split it into smaller files.")
            % {"size": max_bytes // (1024 * 1024)}
        )


def read_bytes(data: bytes, *, max_bytes: int | None = MAX_BYTES) -> CsvFile:
    """Check an uploaded file: its size, UTF-8 encoding, then its text (``read_text``)."""
    check_size(len(data), max_bytes)
    try:
        # "utf-8-sig": spreadsheets often start their UTF-8 files with a byte-order mark.
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise ImportFileError(
            _(
                "The file is not UTF-8 text (byte %(position)s cannot be read). Save it as "
                "“CSV UTF-8” and upload it again."
            )
            % {"position": error.start + 1}
        ) from None
    return read_text(text)


def _refusal(number: int, value: str, reason: str) -> dict:
    return {"row": number, "value": value[:MAX_VALUE_LENGTH], "reason": reason}


def _cell(cells: list[str], columns: dict[str, int], name: str) -> str:
    index = columns.get(name)
    return cells[index].strip() if index is not None and index < len(cells) else ""


def _clean(number: int, cells: list[str], columns: dict[str, int], seen: dict[str, int]):
    """A ``Row``, or the refusal of this row (a dict) with the reason."""
    raw = _cell(cells, columns, EMAIL)
    if not raw:
        return _refusal(number, "", _("No email address."))
    email = raw.lower()
    try:
        validate_email(email)
        if len(email) > Contact._meta.get_field("email").max_length:
            raise ValidationError("too long")
    except ValidationError:
        return _refusal(number, raw, _("Not a valid email address."))
    if email in seen:
        return _refusal(
            number,
            raw,
            _("The same email address as row %(row)s: only the first is imported.")
            % {"row": seen[email]},
        )
    seen[email] = number
    row = Row(number, email)
    for name in FIELDS:
        value = _cell(cells, columns, name)
        limit = Contact._meta.get_field(name).max_length
        if len(value) > limit:
            return _refusal(
                number,
                value,
                _("The %(column)s is longer than %(limit)s characters.")
                % {"column": name.replace("_", " "), "limit": limit},
            )
        if value:
            row.fields[name] = value
    tags: dict[str, str] = {}
    for tag in _TAG_SEPARATORS.split(_cell(cells, columns, TAGS)):
        tag = tag.strip()
        if len(tag) > _TAG_MAX_LENGTH:
            return _refusal(
                number,
                tag,
                _("A tag is longer than %(limit)s characters.") % {"limit": _TAG_MAX_LENGTH},
            )
        if tag:
            tags.setdefault(tag.lower(), tag)
    row.tags = list(tags.values())
    return row


def clean_rows(csv_file: CsvFile) -> list:
    """Every non-blank row in order: a ``Row`` if valid, else its refusal (a dict)."""
    seen: dict[str, int] = {}
    return [_clean(number, cells, csv_file.columns, seen) for number, cells in _records(csv_file)]
