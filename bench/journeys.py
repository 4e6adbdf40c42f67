"""Journey speed: a tick's cost against what waits, and steps per second through send, wait, send.

Two parts, each on a fresh database:

1. **tick**: 1,000 due enrollments among 10,000 waiting ones, then among
   1,000,000 (``--due``, ``--small-waiting``, ``--waiting``). The journey is
   [wait 1 day, add a tag], published; every enrollment waits at its wait
   step, the due ones since more than a day. Each repetition resets the due
   rows and times the whole ``tick(now=..., inline=True)``: the detectors,
   the claims (batches of ``TICK_BATCH_SIZE``) and the run of each due
   enrollment (the wait resumes, the tag is added, the journey completes).
   The claims alone are timed too, and the claim query's plan is shown.
   The ratio is the median tick among the large number over the median
   among the small one (in wall time, and in CPU time): the target is at
   most 1.5.
2. **steps**: ``--contacts`` contacts through the welcome series [send
   email, wait 1 day, send email], with time travel: one
   ``contact_subscribed`` event per contact, dispatched as its django-q2
   task would (``dispatch_events``; ``--entry batched``: ``DISPATCH_BATCH``
   events per call, as the dispatcher queues events announced together;
   ``per-event``: one call each, as sign-ups arriving one by one): the
   contact enters and runs the send and the wait. Then
   ``tick(now=+1 day +1 minute, inline=True)`` until nothing is due, each
   call taking at most a tenth of the contacts (the wait resumes, the
   second email is queued, the journey completes). Steps per
   second for each phase (the interpreter's steps; step runs written, with
   the ``entered`` and ``completed`` rows, are counted too) and queries per
   step. Then ``deliver_due`` over ``--deliver-sample`` of the queued
   messages through Anymail's test backend, timed apart. Target: at least
   1,000 steps per second on SQLite. Rates are given per second of wall
   time and per second of this process's CPU time (``time.process_time``):
   on a shared machine the second moves less with what else runs.

    .venv/bin/python bench/journeys.py [--part both|tick|steps]
        [--database both|sqlite|postgres] [--due 1000] [--small-waiting 10000]
        [--waiting 1000000] [--repeat 5] [--contacts 100000] [--deliver-sample 10000]
        [--broker orm|redis] [--entry batched|per-event]
    .venv/bin/python bench/journeys.py --part steps --database sqlite --contacts 2000 --profile

``both`` runs each part on each database in a process of its own. SQLite: a
temporary file in WAL mode, as the demo runs. PostgreSQL: the database of
``--postgres-url``, dropped and created afresh, dropped at the end.
Delivery tasks are queued in django-q2's broker (the ORM, as the demo; Redis
with ``--broker redis``) and purged at the end: the messages are delivered by
the benchmark's own ``deliver_due``. ``--profile`` adds cProfile listings and
the queries per step by statement and table.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.segments import busy, drop_postgres, recreate_postgres  # noqa: E402

RESULT_PREFIX = "JOURNEYS-BENCH-RESULT "
#: Rows generated and inserted at a time: a million rows never sit in memory at once.
CHUNK = 50_000

# Targets of the issue.
TICK_RATIO_TARGET = 1.5
STEPS_TARGET = 1000.0


# Set-up


def setup_django(args, tmp: str) -> str:
    url = f"sqlite:///{tmp}/bench.sqlite3" if args.database == "sqlite" else args.postgres_url
    if args.database == "postgres":
        recreate_postgres(url)
    os.environ["DATABASE_URL"] = url
    os.environ["MEDIA_ROOT"] = f"{tmp}/media"
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.journeys_settings"
    os.environ["BENCH_BROKER"] = args.broker
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)
    return url


def engine_name() -> str:
    from django.db import connection

    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("SELECT version()")
            return " ".join(cursor.fetchone()[0].split()[:2]) + " (loopback)"
    import sqlite3

    return f"SQLite {sqlite3.sqlite_version} (WAL file)"


def stamp(vendor: str):
    """A function writing an aware datetime as the database stores it (for raw inserts)."""
    if vendor == "postgresql":
        return lambda moment: moment.isoformat(" ", "microseconds")
    return lambda moment: moment.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def insert(table: str, columns: str, rows) -> None:
    """Bulk-insert ``rows`` (an iterable of tuples): COPY on PostgreSQL, executemany on SQLite."""
    from django.db import connection, transaction

    names = ", ".join(columns.split())
    with transaction.atomic(), connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        else:
            marks = ", ".join(["%s"] * len(columns.split()))
            sql = f"INSERT INTO {table} ({names}) VALUES ({marks})"
            batch = []
            for row in rows:
                batch.append(row)
                if len(batch) == CHUNK:
                    cursor.executemany(sql, batch)
                    batch = []
            if batch:
                cursor.executemany(sql, batch)


def reset_sequences(*tables: str) -> None:
    from django.db import connection

    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(
                f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                f"(SELECT MAX(id) FROM {table}))"
            )


def analyze() -> None:
    """Statistics for the planners; SQLite's write-ahead log emptied, as a live site's is."""
    from django.db import connection

    with connection.cursor() as cursor:
        if connection.vendor == "postgresql":
            cursor.execute("VACUUM ANALYZE")
        else:
            cursor.execute("ANALYZE")
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")


class QueryCounter:
    """Counts the queries run through Django's connection (``execute_wrapper``)."""

    def __init__(self, by_table: bool = False):
        self.total = 0
        self.by_table = by_table
        self.kinds: Counter[str] = Counter()

    def __call__(self, execute, sql, params, many, context):
        self.total += 1
        if self.by_table:
            self.kinds[describe_sql(sql)] += 1
        return execute(sql, params, many, context)


def describe_sql(sql: str) -> str:
    """``VERB table`` of a statement, for the profile's query breakdown."""
    words = sql.replace('"', "").split()
    verb = words[0].upper() if words else "?"
    lowered = [word.lower() for word in words]
    table = ""
    for keyword in ("into", "update", "from"):
        if keyword in lowered:
            index = lowered.index(keyword)
            if index + 1 < len(words):
                table = words[index + 1].removeprefix("wagtail_journeys_")
                break
    return f"{verb} {table}".strip()


# Part 1: the tick against what waits

CONTACT_COLUMNS = (
    "id email phone first_name last_name timezone locale status custom_fields consent "
    "email_frequency created_at"
)
ENROLLMENT_COLUMNS = (
    "id journey_id contact_id revision_id status current_step next_run_at held_run_at "
    "claimed_until claim entry_key live_key context state entered_at ended_at exit_reason error"
)


class Waiting:
    """The rows of the tick part: contacts, each with an enrollment waiting at the wait step."""

    def __init__(self, journey, wait_id: str, now: datetime, due: int):
        from django.db import connection

        self.journey_id = journey.pk
        self.revision_id = journey.live_revision_id
        self.wait_id = wait_id
        self.now = now
        self.due = due
        self.fmt = stamp(connection.vendor)
        self.created = self.fmt(now - timedelta(days=400))
        self.count = 0  # enrollments (and contacts) so far: ids 1..count

    def due_at(self, pk: int) -> datetime:
        """Due rows became due in the last hour; the others are due in the next 30 days."""
        if pk <= self.due:
            return self.now - timedelta(seconds=1 + pk * 3600 // self.due)
        return self.now + timedelta(minutes=1 + (pk * 7919) % (30 * 24 * 60))

    def contact_rows(self, first: int, last: int):
        for pk in range(first, last + 1):
            yield (
                pk, f"c{pk}@example.com", "", f"First{pk}", f"Last{pk}", "", "en", "subscribed",
                "{}", '{"email": true}', "normal", self.created,
            )  # fmt: skip

    def enrollment_rows(self, first: int, last: int):
        fmt, wait_id = self.fmt, self.wait_id
        for pk in range(first, last + 1):
            due_at = self.due_at(pk)
            since = due_at - timedelta(days=1)
            state = json.dumps({"step": wait_id, "since": since.isoformat()})
            yield (
                pk, self.journey_id, pk, self.revision_id, "waiting", wait_id, fmt(due_at), None,
                None, "", None, "live", "{}", state, fmt(since), None, "", "",
            )  # fmt: skip

    def grow(self, total: int) -> float:
        """Add contacts and enrollments up to ``total``; seconds taken (with ANALYZE)."""
        started = time.perf_counter()
        first, self.count = self.count + 1, total
        insert("wagtail_journeys_contact", CONTACT_COLUMNS, self.contact_rows(first, total))
        insert(
            "wagtail_journeys_enrollment", ENROLLMENT_COLUMNS, self.enrollment_rows(first, total)
        )
        reset_sequences("wagtail_journeys_contact", "wagtail_journeys_enrollment")
        analyze()
        return time.perf_counter() - started

    def reset_due(self) -> None:
        """Put the due enrollments back where they were before a tick ran them."""
        from django.db import connection, transaction

        fmt, wait_id = self.fmt, self.wait_id
        rows = []
        for pk in range(1, self.due + 1):
            due_at = self.due_at(pk)
            since = due_at - timedelta(days=1)
            state = json.dumps({"step": wait_id, "since": since.isoformat()})
            rows.append((fmt(due_at), state, pk))
        with transaction.atomic(), connection.cursor() as cursor:
            cursor.executemany(
                "UPDATE wagtail_journeys_enrollment SET status = 'waiting', current_step = "
                f"'{wait_id}', next_run_at = %s, claimed_until = NULL, claim = '', "
                "live_key = 'live', state = %s, ended_at = NULL, exit_reason = '' WHERE id = %s",
                rows,
            )
            cursor.execute(
                "DELETE FROM wagtail_journeys_steprun WHERE enrollment_id <= %s", [self.due]
            )
            cursor.execute(
                "DELETE FROM wagtail_journeys_contacttag WHERE content_object_id <= %s",
                [self.due],
            )


def claim_plan(now: datetime, size: int) -> str:
    """The plan of the claim query (as ``claim_due`` builds it, without the lock)."""
    from django.db.models import Q

    from wagtail_journeys.models import Enrollment

    query = (
        Enrollment.objects.filter(next_run_at__lte=now)
        .filter(Q(claimed_until__isnull=True) | Q(claimed_until__lt=now))
        .order_by("next_run_at")
        .values_list("pk", flat=True)[:size]
    )
    return " | ".join(line.strip() for line in query.explain().splitlines())


def time_ticks(waiting: Waiting, repeat: int) -> dict:
    """``repeat`` whole ticks and ``repeat`` claim-only passes over the due rows."""
    from django.db import connection

    from wagtail_journeys.conf import get_setting
    from wagtail_journeys.journeys.scheduler import claim_due, tick
    from wagtail_journeys.models import Enrollment

    size = int(get_setting("TICK_BATCH_SIZE"))
    ticks, cpus, claims, queries = [], [], [], []
    for _ in range(repeat + 1):  # the first one warms up, and is not counted
        waiting.reset_due()
        counter = QueryCounter()
        started, cpu = time.perf_counter(), time.process_time()
        with connection.execute_wrapper(counter):
            report = tick(now=waiting.now, inline=True)
        ticks.append(time.perf_counter() - started)
        cpus.append(time.process_time() - cpu)
        queries.append(counter.total)
        if report.claimed != waiting.due or report.steps != 2 * waiting.due or report.failed:
            raise SystemExit(f"The tick did not run every due enrollment: {report.as_dict()}")
        done = Enrollment.objects.filter(pk__lte=waiting.due, status="completed").count()
        if done != waiting.due:
            raise SystemExit(f"{done} of {waiting.due} due enrollments completed")
    for _ in range(repeat + 1):
        waiting.reset_due()
        started = time.perf_counter()
        claimed = 0
        while ids := claim_due(waiting.now, size)[0]:
            claimed += len(ids)
        claims.append(time.perf_counter() - started)
        if claimed != waiting.due:
            raise SystemExit(f"claimed {claimed} of {waiting.due}")
    return {
        "waiting": waiting.count - waiting.due,
        "tick_s": statistics.median(ticks[1:]),
        "tick_runs": ticks[1:],
        "tick_cpu_s": statistics.median(cpus[1:]),
        "claims_s": statistics.median(claims[1:]),
        "queries": queries[-1],
        "plan": claim_plan(waiting.now, size),
    }


def tick_part(args) -> dict:
    from django.utils import timezone

    from wagtail_journeys.journeys.building import block, new_journey

    engine = engine_name()
    journey = new_journey(
        "Tick bench",
        trigger=block("manual"),
        steps=[block("wait", days=1), block("tag", action="add", tag="bench")],
    )
    wait_id = journey.steps[0].id
    now = timezone.now().replace(microsecond=0)
    waiting = Waiting(journey, wait_id, now, args.due)
    print(f"\n== tick, {engine}: {args.due:,} due ({busy()})", flush=True)
    results = []
    for total in (args.small_waiting, args.waiting):
        built = waiting.grow(args.due + total)
        print(f"  {total:,} waiting: built in {built:.1f} s ({busy()})", flush=True)
        result = time_ticks(waiting, args.repeat)
        result["build_s"] = built
        results.append(result)
        print(
            f"  tick: median {result['tick_s'] * 1000:.0f} ms ("
            + " / ".join(f"{t * 1000:.0f}" for t in result["tick_runs"])
            + f" ms; CPU {result['tick_cpu_s'] * 1000:.0f} ms), {result['queries']} queries; "
            f"claims alone {result['claims_s'] * 1000:.0f}"
            f" ms\n  claim plan: {result['plan']}",
            flush=True,
        )
    small, large = results
    summary = {
        "part": "tick",
        "engine": engine,
        "due": args.due,
        "small": small,
        "large": large,
        "ratio": large["tick_s"] / small["tick_s"],
        "cpu_ratio": large["tick_cpu_s"] / small["tick_cpu_s"],
        "claims_ratio": large["claims_s"] / small["claims_s"],
    }
    print_tick([summary])
    return summary


def print_tick(summaries) -> None:
    print()
    print(
        "| database | due | waiting | tick (median) | claims alone | queries/tick "
        "| waiting | tick (median) | claims alone | ratio (target <= 1.5) | CPU-time ratio |"
    )
    print("|" + "---|" * 11)
    for s in summaries:
        small, large = s["small"], s["large"]
        verdict = "met" if s["ratio"] <= TICK_RATIO_TARGET else "NOT met"
        print(
            f"| {s['engine']} | {s['due']:,} | {small['waiting']:,} | {small['tick_s']:.2f} s "
            f"| {small['claims_s'] * 1000:.0f} ms | {small['queries']:,} | {large['waiting']:,} "
            f"| {large['tick_s']:.2f} s | {large['claims_s'] * 1000:.0f} ms "
            f"| **{s['ratio']:.2f}** ({verdict}) | {s['cpu_ratio']:.2f} |"
        )


# Part 2: steps per second


def email_template(name: str, subject: str):
    from wagtail_journeys.models import EmailTemplate

    template = EmailTemplate(
        name=name,
        subject=subject,
        kind="marketing",
        body=[{"type": "text", "value": "<p>Hi {{ contact.first_name }}, good to see you.</p>"}],
    )
    template.save()
    template.save_revision(log_action=False)
    return template


def make_contacts(count: int, now: datetime) -> list[int]:
    """``count`` subscribed contacts, each with a ``contact_subscribed`` event; the event ids."""
    from wagtail_journeys.models import Contact, Event

    contacts = Contact.objects.bulk_create(
        (
            Contact(
                email=f"person{index}@example.com",
                first_name=f"Person{index}",
                status=Contact.Status.SUBSCRIBED,
                consent={"email": True},
            )
            for index in range(count)
        ),
        batch_size=2000,
    )
    events = Event.objects.bulk_create(
        (
            Event(contact=contact, name="contact_subscribed", occurred_at=now, source="server")
            for contact in contacts
        ),
        batch_size=2000,
    )
    return [event.pk for event in events]


class Phase:
    """One timed phase: seconds, interpreter steps, step runs written, queries."""

    def __init__(self, name: str, profile: bool):
        self.name = name
        self.profiler = None
        if profile:
            import cProfile

            self.profiler = cProfile.Profile()
        self.counter = QueryCounter(by_table=profile)
        self.seconds = 0.0
        self.cpu_seconds = 0.0
        self.steps = 0
        self.runs = 0

    def __enter__(self):
        from django.db import connection

        from wagtail_journeys.models import StepRun

        self._runs_before = StepRun.objects.count()
        self._wrapper = connection.execute_wrapper(self.counter)
        self._wrapper.__enter__()
        if self.profiler is not None:
            self.profiler.enable()
        self._started = time.perf_counter()
        self._cpu = time.process_time()
        return self

    def __exit__(self, *exc):
        from wagtail_journeys.models import StepRun

        self.seconds = time.perf_counter() - self._started
        self.cpu_seconds = time.process_time() - self._cpu
        if self.profiler is not None:
            self.profiler.disable()
        self._wrapper.__exit__(*exc)
        self.runs = StepRun.objects.count() - self._runs_before

    def progress(self, done: int, count: int) -> None:
        seconds = time.perf_counter() - self._started
        print(
            f"    {self.name}: {done:,} of {count:,} contacts, {seconds:.0f} s, "
            f"{self.steps / seconds:,.0f} steps/s ({busy()})",
            flush=True,
        )

    def as_dict(self) -> dict:
        return {
            "seconds": self.seconds,
            "steps": self.steps,
            "step_runs": self.runs,
            "steps_per_s": self.steps / self.seconds,
            "cpu_seconds": self.cpu_seconds,
            "steps_per_cpu_s": self.steps / self.cpu_seconds,
            "queries": self.counter.total,
            "queries_per_step": self.counter.total / max(1, self.steps),
        }

    def print_profile(self) -> None:
        import io
        import pstats

        print(f"\n-- profile of the {self.name} phase: {self.steps:,} steps, {self.seconds:.1f} s")
        print(f"queries: {self.counter.total:,} ({self.counter.total / self.steps:.1f} per step)")
        for kind, count in self.counter.kinds.most_common(20):
            print(f"  {count / self.steps:6.2f} per step  {kind}")
        for order, lines in (("tottime", 30), ("cumulative", 60)):
            out = io.StringIO()
            pstats.Stats(self.profiler, stream=out).sort_stats(order).print_stats(lines)
            text = out.getvalue()
            print(text[text.index("   ncalls") :])


def steps_part(args) -> dict:
    from django.core import mail
    from django.utils import timezone
    from django_q.brokers import get_broker

    from wagtail_journeys.email.sending import deliver_due
    from wagtail_journeys.journeys.building import block, new_journey
    from wagtail_journeys.journeys.dispatch import DISPATCH_BATCH, dispatch_events
    from wagtail_journeys.journeys.scheduler import tick
    from wagtail_journeys.models import Enrollment, Message, StepRun

    engine = engine_name()
    broker = get_broker()
    broker.purge_queue()
    welcome = email_template("Welcome", "Welcome {{ contact.first_name }}")
    story = email_template("Our story", "How we started, {{ contact.first_name }}")
    new_journey(
        "Welcome series",
        trigger=block("event", event="contact_subscribed"),
        steps=[
            block("send_email", template=welcome.pk),
            block("wait", days=1),
            block("send_email", template=story.pk),
        ],
    )
    count = args.contacts
    start = timezone.now()
    started = time.perf_counter()
    event_ids = make_contacts(count, start)
    analyze()
    print(
        f"\n== steps, {engine}: {count:,} contacts (made in {time.perf_counter() - started:.1f} s;"
        f" {busy()})",
        flush=True,
    )

    every = max(1000, count // 10)  # a progress line every tenth
    entry = Phase("entry", args.profile)
    # "batched": the events are announced together (an import, a segment refresh), so the
    # dispatcher queues one task per DISPATCH_BATCH of them; "per-event": one task each
    # (sign-ups arriving one by one).
    size = DISPATCH_BATCH if args.entry == "batched" else 1
    with entry:
        for done in range(0, count, size):
            chunk = event_ids[done : done + size]
            outcome = dispatch_events(chunk, now=start)
            if outcome["entered"] != len(chunk):
                raise SystemExit(f"events {chunk[:3]}... enrolled {outcome}")
            entry.steps += outcome["steps"]
            number = done + len(chunk)
            if number // every != done // every and number < count:
                entry.progress(number, count)
    tasks_entry = broker.queue_size()
    print(
        f"  entry ({args.entry} dispatch): {entry.seconds:.1f} s, {entry.steps:,} steps, "
        f"{entry.steps / entry.seconds:,.0f} steps/s ({entry.steps / entry.cpu_seconds:,.0f} per "
        f"CPU second), {entry.counter.total / entry.steps:.1f} queries/step ({busy()})",
        flush=True,
    )
    waiting = Enrollment.objects.filter(status="waiting").count()
    if waiting != count:
        raise SystemExit(f"{waiting} of {count} enrollments wait")

    later = start + timedelta(days=1, minutes=1)
    ticking = Phase("tick", args.profile)
    ticks = 0
    with ticking:
        done = 0
        while True:
            # Each call claims a tenth at most, for the progress line: what a tick on a
            # live site does (the detectors, then batch after batch of due enrollments).
            report = tick(now=later, inline=True, limit=every)
            ticks += 1
            ticking.steps += report.steps
            done += report.claimed
            if report.failed:
                raise SystemExit(f"the tick failed enrollments: {report.as_dict()}")
            if not report.claimed:
                break
            if done < count:
                ticking.progress(done, count)
    print(
        f"  tick (now = +1 day +1 minute, inline; {ticks} tick calls): {ticking.seconds:.1f} s, "
        f"{ticking.steps:,} steps, {ticking.steps / ticking.seconds:,.0f} steps/s "
        f"({ticking.steps / ticking.cpu_seconds:,.0f} per CPU second), "
        f"{ticking.counter.total / ticking.steps:.1f} queries/step ({busy()})",
        flush=True,
    )
    completed = Enrollment.objects.filter(status="completed").count()
    messages = Message.objects.filter(status="queued").count()
    step_runs = StepRun.objects.count()
    if completed != count or messages != 2 * count or step_runs != 6 * count:
        raise SystemExit(
            f"expected {count} completed, {2 * count} queued messages and {6 * count} step "
            f"runs; found {completed}, {messages}, {step_runs}"
        )
    tasks_tick = broker.queue_size() - tasks_entry

    sample = args.deliver_sample or messages
    mail.outbox = []

    def forget(report):
        # Anymail's test backend looks each message up in the outbox: keep it short.
        mail.outbox.clear()

    delivery = None
    if sample > 0:
        started = time.perf_counter()
        delivered = deliver_due(limit=sample, on_batch=forget)
        seconds = time.perf_counter() - started
        if delivered.sent != sample:
            raise SystemExit(f"delivery: {delivered.as_dict()}")
        delivery = {"messages": sample, "seconds": seconds, "per_s": sample / seconds}
        print(
            f"  deliver_due: {sample:,} messages in {seconds:.1f} s, {sample / seconds:,.0f} msg/s",
            flush=True,
        )

    broker.purge_queue()
    both = entry.seconds + ticking.seconds
    cpu = entry.cpu_seconds + ticking.cpu_seconds
    summary = {
        "part": "steps",
        "engine": engine,
        "broker": args.broker,
        "contacts": count,
        "entry": entry.as_dict(),
        "tick": ticking.as_dict(),
        "steps_per_s": (entry.steps + ticking.steps) / both,
        "steps_per_cpu_s": (entry.steps + ticking.steps) / cpu,
        "step_runs_per_s": step_runs / both,
        "step_runs": step_runs,
        "delivery_tasks": {"entry": tasks_entry, "tick": tasks_tick},
        "delivery": delivery,
    }
    if args.profile:
        entry.print_profile()
        ticking.print_profile()
    print_steps([summary])
    return summary


def print_steps(summaries) -> None:
    print()
    print(
        "| database (broker) | contacts | entry: steps/s (per CPU s; queries/step) "
        "| tick: steps/s (per CPU s; queries/step) | all: steps/s (per CPU s) | step runs/s "
        "| deliver_due |"
    )
    print("|" + "---|" * 7)
    for s in summaries:
        entry, tick = s["entry"], s["tick"]
        delivery = s["delivery"]
        print(
            f"| {s['engine']} ({s['broker']}) | {s['contacts']:,} "
            f"| {entry['steps_per_s']:,.0f} ({entry['steps_per_cpu_s']:,.0f}; "
            f"{entry['queries_per_step']:.1f}) "
            f"| {tick['steps_per_s']:,.0f} ({tick['steps_per_cpu_s']:,.0f}; "
            f"{tick['queries_per_step']:.1f}) "
            f"| **{s['steps_per_s']:,.0f}** ({s['steps_per_cpu_s']:,.0f}) "
            f"| {s['step_runs_per_s']:,.0f} "
            + (
                f"| {delivery['per_s']:,.0f} msg/s ({delivery['messages']:,}) |"
                if delivery
                else "| - |"
            )
        )
    for s in summaries:
        verdict = "met" if s["steps_per_s"] >= STEPS_TARGET else "NOT met"
        print(
            f"{s['engine']}: {s['steps_per_s']:,.0f} steps/s over both phases "
            f"(target >= {STEPS_TARGET:,.0f} on SQLite: {verdict}); delivery tasks queued: "
            f"{s['delivery_tasks']['entry']:,} by the entries, {s['delivery_tasks']['tick']:,} "
            "by the ticks"
        )


# Running


def run(args) -> dict:
    tmp = tempfile.mkdtemp(prefix="journeys-journeys-bench-")
    url = setup_django(args, tmp)
    try:
        return tick_part(args) if args.part == "tick" else steps_part(args)
    finally:
        from django.db import connections

        connections.close_all()
        if args.keep:
            print(f"kept: {url}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)
            if args.database == "postgres":
                drop_postgres(url)


def forwarded(args, part: str, database: str) -> list[str]:
    return [
        "--part", part,
        "--database", database,
        "--due", str(args.due),
        "--small-waiting", str(args.small_waiting),
        "--waiting", str(args.waiting),
        "--repeat", str(args.repeat),
        "--contacts", str(args.contacts),
        "--deliver-sample", str(args.deliver_sample),
        "--broker", args.broker,
        "--entry", args.entry,
        "--postgres-url", args.postgres_url,
        *(["--keep"] if args.keep else []),
        *(["--profile"] if args.profile else []),
        "--report-json",
    ]  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--part", choices=["both", "tick", "steps"], default="both")
    parser.add_argument("--database", choices=["both", "sqlite", "postgres"], default="both")
    parser.add_argument("--due", type=int, default=1000, help="due enrollments in each tick")
    parser.add_argument("--small-waiting", type=int, default=10_000)
    parser.add_argument("--waiting", type=int, default=1_000_000)
    parser.add_argument("--repeat", type=int, default=5, help="ticks timed per size (median)")
    parser.add_argument("--contacts", type=int, default=100_000, help="contacts of the steps part")
    parser.add_argument(
        "--deliver-sample",
        type=int,
        default=10_000,
        help="queued messages delivered and timed after the steps part (0: all of them)",
    )
    parser.add_argument(
        "--broker",
        choices=["orm", "redis"],
        default="orm",
        help="django-q2's broker for the delivery tasks: the ORM (the demo's) or Redis",
    )
    parser.add_argument("--profile", action="store_true", help="cProfile the steps part")
    parser.add_argument(
        "--entry",
        choices=["batched", "per-event"],
        default="batched",
        help="dispatch the trigger events in batches (as announced together) or one by one",
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/bench_journeys"
        ),
        help="dropped and created afresh",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database for a closer look")
    parser.add_argument("--report-json", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()

    if args.part != "both" and args.database != "both":
        summary = run(args)
        if args.report_json:
            print(RESULT_PREFIX + json.dumps(summary), flush=True)
        return

    parts = ["tick", "steps"] if args.part == "both" else [args.part]
    databases = ["sqlite", "postgres"] if args.database == "both" else [args.database]
    summaries = []
    for part in parts:
        for database in databases:
            started = time.perf_counter()
            child = subprocess.Popen(
                [sys.executable, __file__, *forwarded(args, part, database)],
                stdout=subprocess.PIPE,
                text=True,
            )
            for line in child.stdout:
                if line.startswith(RESULT_PREFIX):
                    summaries.append(json.loads(line.removeprefix(RESULT_PREFIX)))
                else:
                    print(line, end="", flush=True)
            if child.wait():
                raise SystemExit(f"The {part} run on {database} failed.")
            print(f"({part} on {database}: {time.perf_counter() - started:.0f} s in all)")
    print("\n== All runs")
    ticks = [s for s in summaries if s["part"] == "tick"]
    steps = [s for s in summaries if s["part"] == "steps"]
    if ticks:
        print_tick(ticks)
    if steps:
        print_steps(steps)


if __name__ == "__main__":
    main()
