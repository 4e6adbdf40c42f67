"""What every rule compiles with, and the building blocks of behavioural conditions.

A rule becomes a ``Q`` over contacts. Behaviour (events, carts, messages)
becomes ``pk IN (SELECT contact_id ...)``: one set-based subquery the
database answers from its indexes, never a loop over contacts. With a
``contact_id`` the same conditions are compiled with that id inside every
subquery, so that "does this contact match?" reads a few index entries
instead of the whole window; the property test in ``tests/test_segments.py``
checks that both forms always agree.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime

from django.db.models import (
    BigIntegerField,
    BooleanField,
    Count,
    ExpressionWrapper,
    F,
    Func,
    Q,
    QuerySet,
    Value,
)
from django.utils import timezone

#: A condition every contact meets, and one none meets (``Q()`` would vanish in an OR).
TRUE = Q(pk__isnull=False)
FALSE = Q(pk__in=[])

AT_LEAST = "at_least"
AT_MOST = "at_most"
EXACTLY = "exactly"
COMPARISONS = (AT_LEAST, AT_MOST, EXACTLY)


class RuleCycleError(ValueError):
    """A segment rule refers, directly or not, to the segment it belongs to."""


@dataclass(frozen=True)
class CompileContext:
    """The clock, the contact (for a per-contact check) and the segments being compiled."""

    now: datetime = field(default_factory=timezone.now)
    contact_id: int | None = None
    #: Segment ids on the way here: meeting one of them again is a cycle.
    segments: tuple[int, ...] = ()

    def entering(self, segment_id: int) -> CompileContext:
        if segment_id in self.segments:
            raise RuleCycleError(segment_id)
        return replace(self, segments=(*self.segments, segment_id))

    def own(self, rows: QuerySet, column: str = "contact_id") -> QuerySet:
        """``rows`` narrowed to the contact being checked, if any."""
        if self.contact_id is None:
            return rows
        return rows.filter(**{column: self.contact_id})


def contacts_in(rows: QuerySet, ctx: CompileContext, column: str = "contact_id") -> Q:
    """Contacts that have at least one of ``rows``."""
    rows = ctx.own(rows, column).filter(**{f"{column}__isnull": False})
    return Q(pk__in=rows.values(column))


def counted(rows: QuerySet, comparison: str, count: int, ctx: CompileContext) -> Q:
    """Contacts with at least / at most / exactly ``count`` of ``rows`` (events, items...).

    "At most" and "exactly 0" include contacts with none at all, so they are
    written as the negation of a positive set (``NOT IN``, with NULL contact
    ids kept out of that set, which would otherwise empty it).
    """
    rows = ctx.own(rows).filter(contact_id__isnull=False)

    def having(lookup: str, number: int) -> QuerySet:
        # Grouped by ``contact_id + 0``, not the column: grouping by the column makes
        # SQLite walk the whole contact-first index (a skip-scan, 5x slower at 2M
        # events) instead of reading the (name, occurred_at) range of the window.
        # One contact's check reads its own index entries: the column is right there.
        contact = (
            F("contact_id")
            if ctx.contact_id is not None
            else ExpressionWrapper(F("contact_id") + 0, output_field=BigIntegerField())
        )
        return (
            rows.order_by()
            .values(journeys_contact=contact)
            .annotate(journeys_count=Count("pk"))
            .filter(**{f"journeys_count__{lookup}": number})
            .values("journeys_contact")
        )

    if comparison == AT_LEAST:
        if count <= 0:
            return TRUE
        if count == 1:
            return Q(pk__in=rows.values("contact_id"))
        return Q(pk__in=having("gte", count))
    if comparison == AT_MOST:
        if count <= 0:
            return ~Q(pk__in=rows.values("contact_id"))
        return ~Q(pk__in=having("gt", count))
    if comparison == EXACTLY:
        if count <= 0:
            return ~Q(pk__in=rows.values("contact_id"))
        return Q(pk__in=having("exact", count))
    raise ValueError(f"Unknown comparison {comparison!r}")


class IsJSONNumber(Func):
    """Whether ``key`` of a JSON column holds a number, asked the same way on every database.

    Comparing a JSON value with a number means different things per
    database when the value is a string ("20" sorts above 100 in SQLite and
    below it in PostgreSQL), so numeric rules only look at numbers.
    """

    output_field = BooleanField()

    def __init__(self, column: str, key: str):
        super().__init__(F(column), Value(key))

    def as_sqlite(self, compiler, connection, **extra):
        column, key = (compiler.compile(expression) for expression in self.source_expressions)
        sql = f"json_type({column[0]}, '$.\"' || {key[0]} || '\"') IN ('integer', 'real')"
        return sql, (*column[1], *key[1])

    def as_postgresql(self, compiler, connection, **extra):
        column, key = (compiler.compile(expression) for expression in self.source_expressions)
        return f"jsonb_typeof({column[0]} -> {key[0]}) = 'number'", (*column[1], *key[1])

    def as_sql(self, compiler, connection, **extra):  # other databases: not supported
        raise NotImplementedError(f"Numeric JSON rules do not support {connection.vendor}.")


def json_number(column: str, key: str, lookup: str, number) -> Q:
    """``column -> key`` is a JSON number and compares with ``number`` by ``lookup``."""
    return Q(IsJSONNumber(column, key)) & Q(**{f"{column}__{key}__{lookup}": number})
