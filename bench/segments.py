"""Segment speed: counts, per-contact checks and full refreshes against a per-contact Python loop.

The four example segments of the issue, on generated data (100,000 contacts
and 2,000,000 events by default, seeded: the same data every run):

1. viewed product X1 at least 3 times in the last 7 days (event rule with a property filter);
2. viewed the pricing pages in the last 30 days but never completed an order;
3. opened no email in the last 90 days (``Message.first_opened_at``);
4. abandoned a cart in the last 24 hours.

For each: the count of ``matching(...)`` (best of 3), the per-contact check
``matches(...)`` (mean and 95th percentile over 500 random contacts, each
contact's best of 3 passes), a full membership refresh from empty
(``refresh_segment``) and a second one with nothing to change. In the same
run, the baseline: each segment evaluated the way per-request personalisation
plugins do it, contact by contact: the contact loaded, its rows of the rule
loaded with the ORM and tested in Python. Over every contact if the four loops
fit in ``--baseline-budget`` seconds, else over a random sample, extrapolated
(and labelled so). The ratio is that loop's time over the SQL count's.

    .venv/bin/python bench/segments.py [--database both|sqlite|postgres]
        [--contacts 100000] [--events 2000000]

``both`` (the default) runs SQLite, then PostgreSQL, each in its own process.
SQLite: a temporary file in WAL mode, as the demo runs. PostgreSQL: the
database of ``--postgres-url``, dropped and created afresh, dropped at the
end (``--keep`` keeps either database for a closer look).
"""

from __future__ import annotations

import argparse
import bisect
import json
import math
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

RESULT_PREFIX = "SEGMENTS-BENCH-RESULT "
DAY = 86400.0
HISTORY_DAYS = 120
SKU_COUNT = 500
PRODUCT_PAGES = 60

# Targets of the issue.
COUNT_TARGET_S = 1.0
CHECK_TARGET_MS = 5.0
REFRESH_TARGET_S = 30.0


def counted(event, comparison, count, period, days, filters=()):
    return {
        "event": event,
        "filters": list(filters),
        "comparison": comparison,
        "count": count,
        "period": period,
        "days": days,
        "start": None,
        "end": None,
    }


#: The issue's four examples: key, name, match, raw rules.
SEGMENTS = [
    (
        "x1",
        "viewed X1 3+ times in 7 days",
        "all",
        [
            {
                "type": "event",
                "value": counted(
                    "product_viewed",
                    "at_least",
                    3,
                    "last_days",
                    7,
                    [{"key": "sku", "operator": "equals", "value": "X1"}],
                ),
            }
        ],
    ),
    (
        "pricing",
        "viewed pricing, did not buy",
        "all",
        [
            {
                "type": "page_visit",
                "value": {
                    "page": None,
                    "page_type": "",
                    "path_prefix": "/pricing",
                    "min_seconds": None,
                    "comparison": "at_least",
                    "count": 1,
                    "period": "last_days",
                    "days": 30,
                    "start": None,
                    "end": None,
                },
            },
            {
                "type": "event",
                "value": counted("order_completed", "at_most", 0, "ever", None),
            },
        ],
    ),
    (
        "unopened",
        "opened nothing in 90 days",
        "all",
        [
            {
                "type": "email_engagement",
                "value": {"did": False, "action": "opened", "template": None, "days": 90},
            }
        ],
    ),
    (
        "cart",
        "abandoned a cart in 24 h",
        "all",
        [
            {
                "type": "cart",
                "value": {
                    "condition": "abandoned_within",
                    "hours": None,
                    "days": 1,
                    "at_least": None,
                    "at_most": None,
                },
            }
        ],
    ),
]


# The baseline: what a per-request plugin does for one contact.


def python_x1(contact, now):
    """Its product views of the last 7 days, loaded; those of X1 counted in Python."""
    from wagtail_journeys.models import Event

    views = Event.objects.filter(
        contact=contact, name="product_viewed", occurred_at__gte=now - timedelta(days=7)
    )
    return sum(1 for view in views if view.properties.get("sku") == "X1") >= 3


def python_pricing(contact, now):
    """Its page views of the last 30 days, loaded and tested; then its orders, if needed."""
    from wagtail_journeys.models import Event

    views = Event.objects.filter(
        contact=contact, name="page_viewed", occurred_at__gte=now - timedelta(days=30)
    )
    if not any(view.path.startswith("/pricing") for view in views):
        return False
    orders = list(Event.objects.filter(contact=contact, name="order_completed"))
    return not orders


def python_unopened(contact, now):
    """Its messages, loaded; any opened in the last 90 days?"""
    from wagtail_journeys.models import Message

    since = now - timedelta(days=90)
    return not any(
        message.first_opened_at is not None and message.first_opened_at >= since
        for message in Message.objects.filter(contact=contact)
    )


def python_cart(contact, now):
    """Its carts, loaded; any abandoned in the last 24 hours?"""
    from wagtail_journeys.models import Cart

    since = now - timedelta(days=1)
    return any(
        cart.status == "abandoned" and (cart.abandoned_at or cart.updated_at) >= since
        for cart in Cart.objects.filter(contact=contact)
    )


PYTHON_TESTS = {
    "x1": python_x1,
    "pricing": python_pricing,
    "unopened": python_unopened,
    "cart": python_cart,
}


# Generated data


class Formatter:
    """Timestamps (seconds since the epoch) as each database stores them."""

    def __init__(self, vendor: str):
        self.suffix = "+00:00" if vendor == "postgresql" else ""
        self.epoch = datetime(1970, 1, 1)

    def __call__(self, seconds):
        if seconds is None:
            return None
        moment = self.epoch + timedelta(microseconds=round(seconds * 1e6))
        return moment.isoformat(" ", "microseconds") + self.suffix


def zipf_cumulative(count: int, exponent: float = 1.0) -> list[float]:
    weights = [1 / rank**exponent for rank in range(1, count + 1)]
    total, running, cumulative = sum(weights), 0.0, []
    for weight in weights:
        running += weight
        cumulative.append(running / total)
    return cumulative


def generate(contacts: int, events: int, now: float, seed: int, fmt) -> dict:
    """Every row to load, by table: its columns and its rows (tuples in column order)."""
    rng = random.Random(seed)
    start = now - HISTORY_DAYS * DAY
    ids = range(1, contacts + 1)

    # Contacts
    statuses = rng.choices(
        ["subscribed", "pending", "unsubscribed", "bounced"], weights=[80, 10, 7, 3], k=contacts
    )
    created = [start - rng.uniform(1, 600) * DAY for _ in ids]
    last_seen = [None] * (contacts + 1)
    last_engaged = [None] * (contacts + 1)

    # Messages: a campaign every 20 days to most subscribed contacts; some never open.
    campaigns = [now - days * DAY + rng.uniform(0, 3600) for days in (110, 90, 70, 50, 30, 10)]
    messages, opens = [], []
    for pk, status in zip(ids, statuses, strict=True):
        if status != "subscribed":
            continue
        propensity = 0.0 if rng.random() < 0.35 else rng.uniform(0.1, 0.8)
        email = f"c{pk}@example.com"
        for number, sent in enumerate(campaigns):
            if rng.random() >= 0.9:
                continue
            opened = None
            if propensity and rng.random() < propensity:
                opened = min(sent + rng.expovariate(1 / (6 * 3600)), now - 1)
                opens.append((opened, pk, len(messages) + 1))
                if last_engaged[pk] is None or opened > last_engaged[pk]:
                    last_engaged[pk] = opened
            messages.append((len(messages) + 1, pk, f"news-{number}:{pk}", email, sent, opened))

    # Events: email opens first (at most a tenth of the total), then browsing sessions.
    rows = []  # (seconds, contact, name, properties, path, source)
    opens.sort()
    for opened, pk, message_id in opens[: events // 10]:
        rows.append((opened, pk, "email_opened", f'{{"message_id": {message_id}}}', "", "server"))

    sku_cumulative = zipf_cumulative(SKU_COUNT)
    prices = [round(rng.uniform(4, 120), 2) for _ in range(SKU_COUNT)]
    product_properties = [
        json.dumps({"sku": f"X{index + 1}", "price": prices[index]}) for index in range(SKU_COUNT)
    ]
    cart_properties = [
        json.dumps({"sku": f"X{index + 1}", "quantity": 1, "price": prices[index]})
        for index in range(SKU_COUNT)
    ]
    pages = (
        ["/"] * 20
        + ["/shop/"] * 15
        + ["/pricing/"] * 6
        + ["/pricing/teams/"] * 2
        + [f"/blog/post-{number}/" for number in range(15)]
        + ["/about/"] * 4
        + ["/cart/"] * 8
        + ["/account/"] * 5
    )
    page_count = len(pages)

    # Each contact's share of the browsing: heavy-tailed (a few very active).
    budget = max(0, events - len(rows))
    weights = [rng.lognormvariate(0, 1.2) for _ in ids]
    scale = budget / sum(weights)
    shares = [int(weight * scale) for weight in weights]
    for _ in range(budget - sum(shares)):
        shares[rng.randrange(contacts)] += 1

    carts = []  # (id, contact, status, created, updated, abandoned, converted, ref, total)
    orders = 0
    random_ = rng.random
    for pk, share in zip(ids, shares, strict=True):
        remaining = share
        has_open_cart = False
        while remaining > 0:
            length = min(remaining, 1 + int(rng.expovariate(1 / 5)))
            remaining -= length
            # The session ends before now.
            moment = rng.uniform(start, now - 120 * (length + 1))
            focus = None
            cart_skus = []
            cart_started = None
            session = []
            left = length
            while left > 0:
                draw = random_()
                if draw < 0.4 or not session:
                    path = pages[int(random_() * page_count)]
                    session.append((moment, pk, "page_viewed", "{}", path, "server"))
                    left -= 1
                elif draw < 0.8:
                    if focus is None or random_() >= 0.6:
                        focus = bisect.bisect_left(sku_cumulative, random_())
                    path = f"/shop/x{focus % PRODUCT_PAGES + 1}/"
                    session.append((moment, pk, "page_viewed", "{}", path, "server"))
                    left -= 1
                    if left:
                        props = product_properties[focus]
                        session.append((moment, pk, "product_viewed", props, path, "server"))
                        left -= 1
                elif draw < 0.9 and focus is not None:
                    session.append(
                        (moment, pk, "cart_item_added", cart_properties[focus], "", "server")
                    )
                    cart_skus.append(focus)
                    cart_started = cart_started or moment
                    left -= 1
                else:
                    path = f"/blog/post-{int(random_() * 15)}/"
                    session.append((moment, pk, "page_viewed", "{}", path, "server"))
                    left -= 1
                moment += rng.uniform(5, 120)
            if cart_skus:
                total = sum(prices[sku] for sku in cart_skus)
                if len(session) >= 2 and random_() < 0.3:
                    # The last event of the session becomes the order.
                    orders += 1
                    ref = f"KB-{orders:07d}"
                    props = json.dumps({"order_ref": ref, "total": round(total, 2)})
                    session[-1] = (moment, pk, "order_completed", props, "/checkout/", "server")
                    carts.append(
                        (
                            len(carts) + 1,
                            pk,
                            "converted",
                            cart_started,
                            moment,
                            None,
                            moment,
                            ref,
                            f"{total:.2f}",
                        )
                    )
                elif moment > now - 3600 and not has_open_cart:
                    has_open_cart = True
                    carts.append(
                        (len(carts) + 1, pk, "open", cart_started, moment, None, None, "", None)
                    )
                else:
                    abandoned = min(moment + 3600, now - 1)
                    carts.append(
                        (
                            len(carts) + 1,
                            pk,
                            "abandoned",
                            cart_started,
                            moment,
                            abandoned,
                            None,
                            "",
                            None,
                        )
                    )
            rows.extend(session)
            if last_seen[pk] is None or moment > last_seen[pk]:
                last_seen[pk] = moment

    # Stored in the order they happened, as a live site stores them.
    rows.sort(key=lambda row: row[0])
    event_rows = [
        (number, contact, name, properties, path, source, fmt(moment))
        for number, (moment, contact, name, properties, path, source) in enumerate(rows, 1)
    ]
    del rows
    contact_rows = [
        (
            pk,
            f"c{pk}@example.com",
            "",
            f"First{pk}",
            f"Last{pk}",
            "",
            "en",
            status,
            "{}",
            '{"email": true}' if status == "subscribed" else "{}",
            "normal",
            fmt(created[pk - 1]),
            fmt(last_seen[pk]),
            fmt(last_engaged[pk]),
        )
        for pk, status in zip(ids, statuses, strict=True)
    ]
    message_rows = [
        (
            pk,
            contact,
            "email",
            "marketing",
            "{}",
            "[]",
            "",
            "",
            key,
            "sent",
            "",
            1,
            email,
            "",
            "News",
            "[]",
            "",
            "",
            fmt(sent),
            fmt(sent),
            fmt(sent),
            fmt(opened),
        )
        for pk, contact, key, email, sent, opened in messages
    ]
    cart_rows = [
        (
            pk,
            contact,
            status,
            "EUR",
            fmt(created_),
            fmt(updated),
            None,
            fmt(abandoned),
            fmt(converted),
            ref,
            total,
        )
        for pk, contact, status, created_, updated, abandoned, converted, ref, total in carts
    ]
    return {
        "wagtail_journeys_contact": (
            columns(
                "id email phone first_name last_name timezone locale status custom_fields "
                "consent email_frequency created_at last_seen_at last_engaged_at"
            ),
            contact_rows,
        ),
        "wagtail_journeys_message": (
            columns(
                "id contact_id channel kind context tags step_id variant idempotency_key status "
                "status_reason attempts to_email from_email subject links esp_message_id "
                "anymail_status created_at sending_at sent_at first_opened_at"
            ),
            message_rows,
        ),
        "wagtail_journeys_cart": (
            columns(
                "id contact_id status currency created_at updated_at checkout_started_at "
                "abandoned_at converted_at order_ref order_total"
            ),
            cart_rows,
        ),
        "wagtail_journeys_event": (
            columns("id contact_id name properties path source occurred_at"),
            event_rows,
        ),
    }


def columns(names: str) -> list[str]:
    return names.split()


def load(connection, tables: dict) -> dict[str, float]:
    """Bulk-insert every table: COPY on PostgreSQL, executemany on SQLite. Seconds per table."""
    from django.db import transaction

    timings = {}
    for table, (columns, rows) in tables.items():
        started = time.perf_counter()
        names = ", ".join(columns)
        with transaction.atomic(), connection.cursor() as cursor:
            if connection.vendor == "postgresql":
                with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                    for row in rows:
                        copy.write_row(row)
            else:
                marks = ", ".join(["%s"] * len(columns))
                sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"
                for offset in range(0, len(rows), 50_000):
                    cursor.executemany(sql, rows[offset : offset + 50_000])
        timings[table] = time.perf_counter() - started
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            for table in tables:
                cursor.execute(
                    f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                    f"(SELECT MAX(id) FROM {table}))"
                )
    return timings


def analyze(connection) -> float:
    """Statistics for the planners; SQLite's write-ahead log emptied, as a live site's is."""
    started = time.perf_counter()
    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE")
        else:
            cursor.execute("ANALYZE")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return time.perf_counter() - started


# Measurements


def best_count(segment, now, repeat=3) -> tuple[int, list[float]]:
    from wagtail_journeys.segments.conditions import matching

    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        count = matching(segment.match, segment.rules, now=now).count()
        times.append(time.perf_counter() - started)
    return count, times


def per_contact_checks(segment, contacts, members, now, rounds=3) -> tuple[list[float], int]:
    """Milliseconds of ``matches`` for each contact (best of ``rounds`` passes over them all),
    and how many answers disagree with the count's set."""
    from wagtail_journeys.segments.conditions import matches

    for contact in contacts[:5]:  # warm-up
        matches(segment.match, segment.rules, contact, now=now)
    best = [math.inf] * len(contacts)
    wrong = 0
    for _ in range(rounds):
        for index, contact in enumerate(contacts):
            started = time.perf_counter()
            inside = matches(segment.match, segment.rules, contact, now=now)
            best[index] = min(best[index], (time.perf_counter() - started) * 1000)
            wrong += inside != (contact.pk in members)
    return best, wrong


def python_loop(key, pks, now) -> tuple[float, set[int]]:
    """The baseline over these contacts: seconds, and who matched."""
    from wagtail_journeys.models import Contact

    test = PYTHON_TESTS[key]
    found = set()
    started = time.perf_counter()
    for offset in range(0, len(pks), 500):
        loaded = Contact.objects.in_bulk(pks[offset : offset + 500])
        for pk in pks[offset : offset + 500]:
            if test(loaded[pk], now):
                found.add(pk)
    return time.perf_counter() - started, found


def busy() -> str:
    """The 1-minute load average: above 1 or so, something else shares the two cores."""
    return f"load average {os.getloadavg()[0]:.2f}"


def percentile(values, fraction):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, math.ceil(fraction * len(ordered)) - 1)]


def database_url(args, tmp) -> str:
    if args.database == "sqlite":
        return f"sqlite:///{tmp}/bench.sqlite3"
    return args.postgres_url


def recreate_postgres(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        connection.execute(f'CREATE DATABASE "{name}"')


def drop_postgres(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as connection:
        connection.execute(f'DROP DATABASE IF EXISTS "{parts.path.lstrip("/")}" WITH (FORCE)')


def run(args) -> dict:
    """One database: load, measure, print; the figures for the summary."""
    tmp = tempfile.mkdtemp(prefix="journeys-segments-bench-")
    url = database_url(args, tmp)
    if args.database == "postgres":
        recreate_postgres(url)
    os.environ["DATABASE_URL"] = url
    os.environ["MEDIA_ROOT"] = f"{tmp}/media"
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.segments_settings"
    try:
        return measure(args)
    finally:
        from django.db import connections

        connections.close_all()
        if args.keep:
            print(f"kept: {url}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
            if args.database == "postgres":
                drop_postgres(url)


def measure(args) -> dict:
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection
    from django.utils import timezone

    from wagtail_journeys.models import Contact, Event, Segment, SegmentMembership
    from wagtail_journeys.segments.conditions import matching
    from wagtail_journeys.segments.membership import ENTERED, EXITED, refresh_segment

    started = time.perf_counter()
    call_command("migrate", verbosity=0, interactive=False)
    migrated = time.perf_counter() - started

    now = timezone.now().replace(microsecond=0)
    fmt = Formatter(connection.vendor)
    started = time.perf_counter()
    tables = generate(args.contacts, args.events, now.timestamp(), args.seed, fmt)
    generated = time.perf_counter() - started
    sizes = {
        table.removeprefix("wagtail_journeys_"): len(rows) for table, (_, rows) in tables.items()
    }
    loaded = load(connection, tables)
    del tables
    analyzed = analyze(connection)
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT version()")
            engine = " ".join(cursor.fetchone()[0].split()[:2])
    else:
        import sqlite3

        engine = f"SQLite {sqlite3.sqlite_version} (WAL file)"
    print(
        f"\n== {engine}: {sizes['contact']:,} contacts, {sizes['event']:,} events, "
        f"{sizes['message']:,} messages, {sizes['cart']:,} carts"
    )
    print(
        f"setup: migrate {migrated:.1f} s, generate {generated:.1f} s, load "
        f"{sum(loaded.values()):.1f} s ("
        + ", ".join(
            f"{table.removeprefix('wagtail_journeys_')} {seconds:.1f} s"
            for table, seconds in loaded.items()
        )
        + f"), ANALYZE {analyzed:.1f} s",
        flush=True,
    )

    rng = random.Random(args.seed + 1)
    all_pks = list(Contact.objects.order_by("pk").values_list("pk", flat=True))
    check_pks = rng.sample(all_pks, min(args.checks, len(all_pks)))
    loaded_contacts = Contact.objects.in_bulk(check_pks)
    check_contacts = [loaded_contacts[pk] for pk in check_pks]

    segments = []
    for key, name, match, rules in SEGMENTS:
        segment = Segment(name=name, kind=Segment.Kind.DYNAMIC, match=match, rules=rules)
        segment.full_clean()
        segment.save()
        segments.append((key, segment))

    results = {}
    print(f"counts and per-contact checks... ({busy()})", flush=True)
    for key, segment in segments:
        count, times = best_count(segment, now)
        members = set(matching(segment.match, segment.rules, now=now).values_list("pk", flat=True))
        checks, wrong = per_contact_checks(segment, check_contacts, members, now)
        results[key] = {
            "name": segment.name,
            "members": count,
            "count_s": min(times),
            "count_runs": times,
            "check_mean_ms": statistics.mean(checks),
            "check_p95_ms": percentile(checks, 0.95),
            "check_max_ms": max(checks),
            "check_disagree": wrong,
            "_members": members,
        }
        print(
            f"  {segment.name}: {count:,} members; count "
            + " / ".join(f"{t * 1000:.0f}" for t in times)
            + f" ms; check mean {statistics.mean(checks):.2f} ms, p95 "
            f"{percentile(checks, 0.95):.2f} ms",
            flush=True,
        )

    # The baseline: a pilot, then every contact if the four loops fit the budget.
    print(f"Python loops (baseline)... ({busy()})", flush=True)
    pilot = rng.sample(all_pks, min(args.pilot, len(all_pks)))
    projected = 0.0
    for key, _segment in segments:
        seconds, _found = python_loop(key, pilot, now)
        projected += seconds * len(all_pks) / len(pilot)
    full = projected <= args.baseline_budget
    sample = (
        all_pks if full else sorted(rng.sample(all_pks, min(args.baseline_sample, len(all_pks))))
    )
    print(
        f"  projected {projected:.0f} s for every contact: "
        + ("running every contact" if full else f"running {len(sample):,} and extrapolating"),
        flush=True,
    )
    for key, _segment in segments:
        result = results[key]
        seconds, found = python_loop(key, sample, now)
        expected = result["_members"] & set(sample) if not full else result["_members"]
        result["python_s"] = seconds * len(all_pks) / len(sample)
        result["python_measured_s"] = seconds
        result["python_contacts"] = len(sample)
        result["python_extrapolated"] = not full
        result["python_per_contact_ms"] = seconds * 1000 / len(sample)
        result["python_disagree"] = len(found ^ expected)
        result["ratio"] = result["python_s"] / result["count_s"]
        print(
            f"  {result['name']}: {seconds:.1f} s for {len(sample):,} contacts "
            f"({result['python_per_contact_ms']:.2f} ms each)",
            flush=True,
        )

    print(f"full refreshes... ({busy()})", flush=True)
    for key, segment in segments:
        SegmentMembership.objects.filter(segment=segment).delete()
        report = refresh_segment(segment, now=now)
        again = refresh_segment(segment, now=now)
        result = results[key]
        result["refresh_s"] = report.seconds
        result["refresh_entered"] = report.entered
        result["rerefresh_s"] = again.seconds
        result["refresh_ok"] = report.members == result["members"] and not again.entered
        print(
            f"  {segment.name}: {report.seconds:.2f} s ({report.entered:,} entered); "
            f"again, nothing to change: {again.seconds:.2f} s",
            flush=True,
        )
        # The refresh's segment_entered events are not part of the next segment's data.
        Event.objects.filter(name__in=[ENTERED, EXITED]).delete()

    for result in results.values():
        del result["_members"]
    summary = {
        "engine": engine,
        "sizes": sizes,
        "load_s": sum(loaded.values()),
        "generate_s": generated,
        "analyze_s": analyzed,
        "segments": results,
    }
    print_table([summary])
    return summary


def print_table(summaries) -> None:
    header = (
        "| database | segment | members | count (best of 3) | per-contact check mean / p95 "
        "(best of 3) | full refresh (again) | Python loop | ratio loop/count |"
    )
    print()
    print(header)
    print("|" + "---|" * 8)
    for summary in summaries:
        engine = summary["engine"]
        for result in summary["segments"].values():
            loop = f"{result['python_s']:.0f} s"
            if result["python_extrapolated"]:
                loop += f" (extrapolated from {result['python_contacts']:,})"
            print(
                f"| {engine} | {result['name']} | {result['members']:,} "
                f"| {result['count_s'] * 1000:.0f} ms "
                f"| {result['check_mean_ms']:.2f} / {result['check_p95_ms']:.2f} ms "
                f"| {result['refresh_s']:.1f} s ({result['rerefresh_s']:.1f} s) "
                f"| {loop} | **{result['ratio']:,.0f}x** |"
            )
    print()
    for summary in summaries:
        results = summary["segments"].values()
        worst_count = max(r["count_s"] for r in results)
        worst_check = max(r["check_p95_ms"] for r in results)
        worst_refresh = max(r["refresh_s"] for r in results)
        disagree = sum(r["check_disagree"] + r["python_disagree"] for r in results)
        bad_refresh = [r["name"] for r in results if not r["refresh_ok"]]

        def verdict(value, target):
            return "met" if value <= target else "NOT met"

        print(
            f"{summary['engine']}: slowest count {worst_count:.3f} s (target <= "
            f"{COUNT_TARGET_S:g} s: {verdict(worst_count, COUNT_TARGET_S)}); "
            f"worst p95 check {worst_check:.2f} ms (target <= {CHECK_TARGET_MS:g} ms: "
            f"{verdict(worst_check, CHECK_TARGET_MS)}); slowest full refresh "
            f"{worst_refresh:.1f} s (target <= {REFRESH_TARGET_S:g} s: "
            f"{verdict(worst_refresh, REFRESH_TARGET_S)}); answers that disagree "
            f"(check or loop vs count): {disagree}"
            + (
                f"; refresh members differ from count: {', '.join(bad_refresh)}"
                if bad_refresh
                else ""
            )
        )


def forwarded(args, database: str) -> list[str]:
    return [
        "--database", database,
        "--contacts", str(args.contacts),
        "--events", str(args.events),
        "--seed", str(args.seed),
        "--checks", str(args.checks),
        "--pilot", str(args.pilot),
        "--baseline-budget", str(args.baseline_budget),
        "--baseline-sample", str(args.baseline_sample),
        "--postgres-url", args.postgres_url,
        *(["--keep"] if args.keep else []),
        "--report-json",
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["both", "sqlite", "postgres"], default="both")
    parser.add_argument("--contacts", type=int, default=100_000)
    parser.add_argument("--events", type=int, default=2_000_000)
    parser.add_argument("--seed", type=int, default=20261129)
    parser.add_argument("--checks", type=int, default=500, help="contacts for per-contact checks")
    parser.add_argument(
        "--pilot", type=int, default=1000, help="contacts timed first to project the Python loop"
    )
    parser.add_argument(
        "--baseline-budget",
        type=float,
        default=300,
        help="seconds: the four Python loops run over every contact if projected to fit",
    )
    parser.add_argument(
        "--baseline-sample",
        type=int,
        default=10_000,
        help="contacts of the Python loop when every contact would exceed the budget",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/bench_segments"
        ),
        help="dropped and created afresh",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database for a closer look")
    parser.add_argument("--report-json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.database != "both":
        summary = run(args)
        if args.report_json:
            print(RESULT_PREFIX + json.dumps(summary), flush=True)
        return

    summaries = []
    for database in ("sqlite", "postgres"):
        started = time.perf_counter()
        child = subprocess.Popen(
            [sys.executable, __file__, *forwarded(args, database)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for line in child.stdout:
            if line.startswith(RESULT_PREFIX):
                summaries.append(json.loads(line.removeprefix(RESULT_PREFIX)))
            else:
                print(line, end="", flush=True)
        if child.wait():
            raise SystemExit(f"The {database} run failed.")
        print(f"({database}: {time.perf_counter() - started:.0f} s in all)")
    print("\n== Both databases")
    print_table(summaries)


if __name__ == "__main__":
    main()
