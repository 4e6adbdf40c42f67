"""Tracking overhead per served page, tracking on versus off, in one run.

Serves the same demo product page N times (default 2,000 per mode) through
Django's test client to a returning anonymous visitor, alternating the two
modes in rounds so that drift affects both alike, on a fresh file-based
SQLite database (WAL) loaded with the demo data. Reports mean time per page,
the ratio, and the queries per page of each mode.

    .venv/bin/python bench/tracking_overhead.py [--requests 2000] [--rounds 10]

Set DATABASE_URL to measure another database (the database is flushed and
migrated).
"""

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=2000, help="pages per mode")
    parser.add_argument("--rounds", type=int, default=10, help="alternations of the two modes")
    args = parser.parse_args()

    tmp = tempfile.mkdtemp(prefix="journeys-bench-")
    os.environ.setdefault("DATABASE_URL", f"sqlite:///{tmp}/bench.sqlite3")
    os.environ["DJANGO_SETTINGS_MODULE"] = "example_site.settings.dev"
    os.environ.setdefault("MEDIA_ROOT", f"{tmp}/media")
    # DEBUG would keep every query in memory and slow both modes alike.
    os.environ["DEBUG"] = "False"
    os.environ["ALLOWED_HOSTS"] = "testserver"

    import django

    django.setup()
    from django.apps import apps
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client, override_settings
    from django.test.utils import CaptureQueriesContext

    from wagtail_journeys import conf
    from wagtail_journeys.models import Event

    call_command("migrate", verbosity=0, interactive=False)
    call_command("load_demo_data", verbosity=0)

    product = apps.get_model("storefront", "ProductPage").objects.live().first()
    url = product.url
    client = Client(HTTP_USER_AGENT="Mozilla/5.0 (X11; Linux x86_64) Chrome/126.0 Safari/537.36")
    assert client.get(url).status_code == 200
    # A returning visitor sends the same cookie with every request, in both
    # modes (with tracking off the response would delete it).
    cookie_name = conf.get_setting("COOKIE_NAME")
    visitor_cookie = client.cookies[cookie_name].value

    def get():
        client.cookies[cookie_name] = visitor_cookie
        client.get(url)

    modes = {
        "off": override_settings(WAGTAIL_JOURNEYS={"TRACKING_ENABLED": False}),
        "on": override_settings(WAGTAIL_JOURNEYS={"TRACKING_ENABLED": True}),
    }

    def serve(count: int) -> float:
        start = time.perf_counter()
        for _ in range(count):
            get()
        return time.perf_counter() - start

    queries = {}
    for name, mode in modes.items():
        with mode:
            serve(50)  # warm caches
            with CaptureQueriesContext(connection) as captured:
                get()
            queries[name] = len(captured)

    per_round = max(1, args.requests // args.rounds)
    totals = {name: [] for name in modes}
    events_before = Event.objects.filter(name="page_viewed").count()
    for _ in range(args.rounds):
        for name, mode in modes.items():
            with mode:
                totals[name].append(serve(per_round))
    recorded = Event.objects.filter(name="page_viewed").count() - events_before

    served = per_round * args.rounds
    mean = {name: sum(times) / served * 1000 for name, times in totals.items()}
    ratio = mean["on"] / mean["off"]
    print(
        f"database: {connection.vendor}; page: {url}; "
        f"{served} pages per mode in {args.rounds} rounds"
    )
    for name in modes:
        spread = statistics.pstdev(t / per_round * 1000 for t in totals[name])
        print(
            f"tracking {name:>3}: {mean[name]:.3f} ms/page (±{spread:.3f}), "
            f"{queries[name]} queries/page"
        )
    print(f"page_viewed events recorded while on: {recorded} (expected {served})")
    print(
        f"time ratio on/off: {ratio:.3f} (+{(ratio - 1) * 100:.1f}%); "
        f"extra queries per page: {queries['on'] - queries['off']}"
    )
    print(f"throughput kept with tracking: {1 / ratio:.2f}x of untracked")


if __name__ == "__main__":
    main()
