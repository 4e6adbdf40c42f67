"""The analytics page of a journey with a million step runs, against the page of an empty journey.

One journey (the welcome series: send, wait 1 day, send) with
``--enrollments`` contacts through it over the last 30 days: four step runs
each (entered, sent, waiting, resumed: 1,000,000 by default), two messages
each (500,000), opened by 40 % and clicked by 10 %, a fifth of them still
waiting. The raw rows are inserted in bulk, then ``journeys_rebuild_stats``
computes the daily counters from them (timed: what an upgrade costs). Then
the analytics page (``journeys_reports:journey``) of that journey and of a
published journey nobody entered are each requested ``--repeat`` times
through Django's test client (server time, in this process), alternately;
the medians and their ratio are printed. Target: the big journey's page in
at most 1 s on SQLite. The flow diagram (the journey's edit page) and the
journeys report are timed the same way, for the record.

    .venv/bin/python bench/analytics.py [--database sqlite|postgres] [--enrollments 250000]
        [--repeat 7]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.journeys import (  # noqa: E402
    analyze,
    engine_name,
    insert,
    reset_sequences,
    setup_django,
    stamp,
)
from bench.segments import drop_postgres  # noqa: E402

PAGE_TARGET_SECONDS = 1.0


def build(journey_count_args) -> tuple[int, int]:
    """The two journeys and the big one's history; returns (big id, empty id)."""
    from wagtail_journeys.journeys.building import block, new_journey
    from wagtail_journeys.models import EmailTemplate

    args = journey_count_args
    template = EmailTemplate(name="Welcome", subject="Welcome", body=[])
    template.save()
    template.save_revision(log_action=False)
    steps = [
        block("send_email", template=template.pk),
        block("wait", days=1),
        block("send_email", template=template.pk),
    ]
    big = new_journey("Welcome series", trigger=block("event", event="signed_up"), steps=steps)
    empty = new_journey("Nobody yet", trigger=block("event", event="never"), steps=steps)
    send, wait, second = (child.id for child in big.steps)
    revision = big.live_revision_id
    as_db = stamp(_vendor())
    now = datetime.now(UTC)
    n = args.enrollments

    def when(index: int) -> datetime:
        return now - timedelta(days=30) + timedelta(seconds=index * (29 * 86400 / n))

    insert(
        "wagtail_journeys_contact",
        "id email status consent custom_fields created_at email_frequency timezone locale "
        "first_name last_name phone",
        (
            (
                i + 1,
                f"c{i}@example.com",
                "subscribed",
                "{}",
                "{}",
                as_db(when(i)),
                "normal",
                "",
                "",
                "",
                "",
                "",
            )
            for i in range(n)
        ),
    )
    waiting_from = int(n * 0.8)
    insert(
        "wagtail_journeys_enrollment",
        "id journey_id contact_id revision_id status current_step next_run_at entered_at "
        "context state exit_reason error claim live_key entry_key",
        (
            (
                i + 1,
                big.pk,
                i + 1,
                revision,
                "waiting" if i >= waiting_from else "completed",
                wait if i >= waiting_from else "",
                as_db(when(i) + timedelta(days=1)) if i >= waiting_from else None,
                as_db(when(i)),
                "{}",
                "{}",
                "",
                "",
                "",
                "live" if i >= waiting_from else None,
                f"event:{i}",
            )
            for i in range(n)
        ),
    )

    def runs():
        pk = 0
        for i in range(n):
            at = when(i)
            for step_id, step_type, result in (
                ("", "", "entered"),
                (send, "send_email", "sent"),
                (wait, "wait", "waiting"),
                (wait, "wait", "resumed"),
            ):
                pk += 1
                yield (pk, i + 1, big.pk, step_id, step_type, as_db(at), result, "", "", "{}")

    insert(
        "wagtail_journeys_steprun",
        "id enrollment_id journey_id step_id step_type at result branch reason detail",
        runs(),
    )

    def messages():
        pk = 0
        for i in range(n):
            for step_id, delay in ((send, 0), (second, 1)):
                pk += 1
                sent = when(i) + timedelta(days=delay, seconds=5)
                opened = as_db(sent + timedelta(hours=2)) if pk % 5 < 2 else None
                clicked = as_db(sent + timedelta(hours=2)) if pk % 10 == 0 else None
                yield (
                    pk,
                    i + 1,
                    "email",
                    "marketing",
                    template.pk,
                    "{}",
                    "[]",
                    i + 1,
                    step_id,
                    "",
                    f"bench:{pk}",
                    "sent",
                    "",
                    1,
                    f"c{i}@example.com",
                    "shop@example.com",
                    "Welcome",
                    "[]",
                    "",
                    "",
                    as_db(sent),
                    as_db(sent),
                    opened,
                    clicked,
                )

    insert(
        "wagtail_journeys_message",
        "id contact_id channel kind template_id context tags enrollment_id step_id variant "
        "idempotency_key status status_reason attempts to_email from_email subject links "
        "esp_message_id anymail_status created_at sent_at first_opened_at first_clicked_at",
        messages(),
    )
    reset_sequences(
        "wagtail_journeys_contact",
        "wagtail_journeys_enrollment",
        "wagtail_journeys_steprun",
        "wagtail_journeys_message",
    )
    return big.pk, empty.pk


def _vendor() -> str:
    from django.db import connection

    return connection.vendor


def timed_get(client, url: str) -> float:
    started = time.perf_counter()
    response = client.get(url)
    elapsed = time.perf_counter() - started
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database", choices=["sqlite", "postgres"], default="sqlite")
    parser.add_argument(
        "--postgres-url", default="postgres://postgres@127.0.0.1:5432/bench_analytics"
    )
    parser.add_argument("--enrollments", type=int, default=250_000)
    parser.add_argument("--repeat", type=int, default=7)
    parser.add_argument("--broker", default="orm")
    args = parser.parse_args()
    if args.enrollments < 1 or args.repeat < 1:
        parser.error("--enrollments and --repeat must be at least 1")

    with tempfile.TemporaryDirectory() as tmp:
        setup_django(args, tmp)
        from django.conf import settings
        from django.contrib.auth.models import User
        from django.test import Client
        from django.urls import reverse

        from wagtail_journeys.analytics.rebuild import rebuild
        from wagtail_journeys.models import DailyStat, Message, StepRun

        settings.ALLOWED_HOSTS = ["*"]
        started = time.perf_counter()
        big, empty = build(args)
        print(
            f"Inserted in {time.perf_counter() - started:.1f} s: "
            f"{StepRun.objects.count():,} step runs, {Message.objects.count():,} messages "
            f"({engine_name()})"
        )
        started = time.perf_counter()
        rows = rebuild()
        elapsed = time.perf_counter() - started
        print(f"journeys_rebuild_stats: {rows:,} counter rows in {elapsed:.1f} s")
        analyze()
        print(f"Counter rows in the table: {DailyStat.objects.count():,}")

        client = Client()
        client.force_login(User.objects.create_superuser("bench", "bench@example.com", "pw"))
        pages = {
            "analytics page": lambda pk: reverse("journeys_reports:journey", args=[pk]),
            "edit page with the flow diagram": lambda pk: reverse(
                "journeys_journeys:edit", args=[pk]
            ),
        }
        for label, url_of in pages.items():
            timed_get(client, url_of(big))  # warm: templates, plans, the session
            timed_get(client, url_of(empty))
            times = {big: [], empty: []}
            for _ in range(args.repeat):
                for pk in (big, empty):
                    times[pk].append(timed_get(client, url_of(pk)))
            full, bare = statistics.median(times[big]), statistics.median(times[empty])
            print(
                f"{label}: {full * 1000:.0f} ms with {args.enrollments * 4:,} step runs, "
                f"{bare * 1000:.0f} ms empty, ratio {full / bare:.2f}"
            )
            if label == "analytics page":
                verdict = "met" if full <= PAGE_TARGET_SECONDS else "NOT met"
                print(f"Target (at most {PAGE_TARGET_SECONDS:.0f} s): {verdict}")
        report = reverse("journeys_reports:index")
        timed_get(client, report)
        listing = statistics.median(timed_get(client, report) for _ in range(args.repeat))
        print(f"journeys report: {listing * 1000:.0f} ms")
    if args.database == "postgres":
        drop_postgres(args.postgres_url)


if __name__ == "__main__":
    main()
