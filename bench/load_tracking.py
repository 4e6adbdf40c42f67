"""The tracking endpoint under load: gunicorn on loopback driven by wrk, against one INSERT.

``POST /journeys/collect/`` served by gunicorn on 127.0.0.1 from a fresh
PostgreSQL database, driven by wrk for ``--duration`` seconds with a Lua
script that posts what ``tracker.js`` posts: one event per request
(``navigator.sendBeacon`` sends each event on its own), 3 in 5 of them
``page_time``, the others ``video_played`` and ``banner_clicked`` with
properties, each from one of ``--visitors`` returning visitors (a signed
visitor cookie, the consent cookie, a browser's user agent and ``Origin``).
Every event carries a unique number, so the rows are distinct and a
duplicate would show.

When the seconds are up, wrk sends nothing more and waits three seconds for the
answers still on their way, so no event is in flight when it stops: every
``202`` must then be one stored ``Event`` row, no more and no less.

In the same run, on the same database, with the same gunicorn, settings and
middleware, the baseline: a view that stores the same body with one
``INSERT`` into a plain table (``bench_load_row``, a primary key and no other
index), the floor of Django, gunicorn and PostgreSQL on this machine. The
ratio is our events per second over its rows per second.

Set as a scaled-out site is (docs/operations.md): persistent database
connections (``CONN_MAX_AGE``), Redis on 127.0.0.1 as the cache the rate
limiter counts in and as django-q2's broker, under a cluster name of the
run's own. A dynamic segment depends on ``video_played`` and a live journey
starts with ``banner_clicked``, so those events queue django-q2 tasks, as on
a site that uses them; no cluster takes them, and the queue and the cache
keys of the run are deleted at the end. The rate limit is raised so that it
never refuses (``BEACON_RATE_LIMIT``); it still counts every request.

    .venv/bin/python bench/load_tracking.py [--duration 60] [--connections 16]
        [--workers 2] [--worker-class sync|gthread] [--threads 1] [--visitors 10000]
    .venv/bin/python bench/load_tracking.py --sweep 2 --duration 10  # each gunicorn of SWEEP
    .venv/bin/python bench/load_tracking.py --profile 3000          # CPU per part of the view

``--profile`` posts the same mix through Django's test client in this
process instead and reports the CPU time of the view's parts.

``bench.load_tracking:wsgi()`` is the application gunicorn serves: the
``DJANGO_SETTINGS_MODULE`` it is given (``bench.journeys_settings`` here,
``tests.settings`` in tests/test_tracking_load.py) with ``configure()``'s
changes, applied before Django starts.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import json
import os
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import types
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

COLLECT_PATH = "/journeys/collect/"
BASELINE_PATH = "/bench/insert/"
BASELINE_TABLE = "bench_load_row"
RESULT_PREFIX = "LOAD-RESULT "
#: Seconds wrk keeps its connections open after the last request, for the last answers.
DRAIN_SECONDS = 3
#: wrk counts a request unanswered for this long as a timeout error (and counts idle
#: connections too: it must outlast the drain).
WRK_TIMEOUT = "8s"
TARGET_EVENTS_PER_SECOND = 1000.0
#: gunicorn configurations of ``--sweep``: worker class, workers, threads per worker.
SWEEP = [
    ("sync", 2, 1),
    ("sync", 3, 1),
    ("sync", 4, 1),
    ("gthread", 2, 1),
    ("gthread", 2, 2),
    ("gthread", 2, 4),
]

#: The parts of the view ``--profile`` times: module, attribute, label.
PROFILED = [
    ("wagtail_journeys.views.tracking", "rate_limited", "rate limiter (cache round trips)"),
    ("wagtail_journeys.views.tracking", "parse_beacon", "body parsed and validated"),
    ("wagtail_journeys.tracking.visitors", "Visitor.get_or_create_contact", "contact (SELECT)"),
    ("wagtail_journeys.views.tracking", "touch_last_seen", "last_seen_at touched"),
    ("wagtail_journeys.views.tracking", "_existing_page", "page checked (SELECT)"),
    ("wagtail_journeys.views.tracking", "record_event", "record_event (INSERT, signals)"),
    ("django_q.tasks", "async_task", "  of which django-q2's async_task"),
    ("wagtail_journeys.tracking.buffer", "accept", "buffered: into Redis (RPUSH)"),
]
BROWSER = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36"
)

LUA = r"""
-- One tracker beacon per request, from a returning visitor who consented.
-- Arguments: path, the status of a stored event, seconds, a file of Cookie
-- headers (one a line), page ids separated by commas.
local ffi = require("ffi")
ffi.cdef[[
typedef struct { long tv_sec; long tv_nsec; } load_timespec;
int clock_gettime(int clock_id, load_timespec *tp);
]]
local timespec = ffi.new("load_timespec")
local function now()
  ffi.C.clock_gettime(1, timespec)  -- CLOCK_MONOTONIC, the same clock in every thread
  return tonumber(timespec.tv_sec) + tonumber(timespec.tv_nsec) * 1e-9
end

local AGENTS = {
  "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    .. "Chrome/126.0 Safari/537.36",
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64; rv:128.0) Gecko/20100101 Firefox/128.0",
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    .. "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
}
local PATHS = {"/", "/shop/", "/shop/kettles/", "/shop/kettles/copper-kettle/", "/journal/brewing/"}

-- Main state: the threads, numbered, for done().
local threads = {}
function setup(thread)
  threads[#threads + 1] = thread
  thread:set("number", #threads)
end

-- Thread state. Globals are read back by done() through thread:get().
sent, answered, statuses, started, last_accepted = 0, 0, {}, 0, 0
local cookies, pages, path, accepted, deadline, origin = {}, {}

function init(args)
  path, accepted = args[1], tonumber(args[2])
  for line in io.lines(args[4]) do cookies[#cookies + 1] = line end  -- Cookie headers
  for id in string.gmatch(args[5] or "", "%d+") do pages[#pages + 1] = id end
  math.randomseed(number)
  origin = wrk.scheme .. "://" .. wrk.host .. ":" .. wrk.port
  started = now()
  deadline = started + tonumber(args[3])
  -- wrk calls the first thread's request() once before the run, to check it: not sent.
  if number == 1 then sent = -1 end
end

-- After the deadline every connection waits an hour before its next request:
-- wrk stops first, with nothing in flight.
function delay()
  if now() < deadline then return 0 end
  return 3600000
end

function request()
  sent = sent + 1
  local kind, name, properties = sent % 5
  if kind < 3 then
    name, properties = "page_time", string.format('"duration_ms":%d', math.random(300, 600000))
  elseif kind == 3 then
    name = "video_played"
    properties = string.format('"video":"clip-%d","at":%.2f', math.random(40), math.random() * 300)
  else
    name = "banner_clicked"
    properties = string.format('"banner":"spring-sale","slot":%d', math.random(6))
  end
  local page = ""
  if #pages > 0 then page = ',"page_id":' .. pages[math.random(#pages)] end
  local body = string.format(
    '{"name":"%s","properties":{%s,"n":%.0f},"path":"%s"%s}',
    name, properties, number * 1e9 + sent, PATHS[math.random(#PATHS)], page)
  return wrk.format("POST", path, {
    ["Content-Type"] = "text/plain;charset=UTF-8",
    ["Origin"] = origin,
    ["User-Agent"] = AGENTS[sent % #AGENTS + 1],
    ["Cookie"] = cookies[math.random(#cookies)],
  }, body)
end

function response(status)
  answered = answered + 1
  statuses[status] = (statuses[status] or 0) + 1
  if status == accepted then last_accepted = now() end
end

function done(summary, latency)
  local sent_all, answered_all, first, last, codes, parts = 0, 0, math.huge, 0, {}, {}
  for _, thread in ipairs(threads) do
    sent_all = sent_all + thread:get("sent")
    answered_all = answered_all + thread:get("answered")
    first = math.min(first, thread:get("started"))
    last = math.max(last, thread:get("last_accepted"))
    for status, count in pairs(thread:get("statuses")) do
      codes[status] = (codes[status] or 0) + count
    end
  end
  for status, count in pairs(codes) do
    parts[#parts + 1] = string.format('"%d":%d', status, count)
  end
  local errors = summary.errors
  io.write(string.format(
    'LOAD-RESULT {"sent":%d,"answered":%d,"seconds":%.6f,"statuses":{%s},' ..
    '"socket_errors":{"connect":%d,"read":%d,"write":%d,"timeout":%d},' ..
    '"latency_ms":{"p50":%.3f,"p90":%.3f,"p99":%.3f,"max":%.3f}}\n',
    sent_all, answered_all, math.max(last - first, 0), table.concat(parts, ","),
    errors.connect, errors.read, errors.write, errors.timeout,
    latency:percentile(50) / 1000, latency:percentile(90) / 1000,
    latency:percentile(99) / 1000, latency.max / 1000))
end
"""


# The application gunicorn serves


def configure(settings) -> None:
    """What the load test changes in the settings it is given, before Django starts."""
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "127.0.0.1"]
    settings.WAGTAIL_JOURNEYS = {
        **(getattr(settings, "WAGTAIL_JOURNEYS", None) or {}),
        # Consent as under the GDPR: the consent platform's cookie, which wrk sends.
        "CONSENT_MODE": "consent_cookie",
        # The limiter still counts every request (cache round trips); it never refuses.
        "BEACON_RATE_LIMIT": 1_000_000,
    }
    redis_url = os.environ.get("BENCH_REDIS_URL")
    if redis_url:
        name = os.environ["BENCH_LOAD_NAME"]
        settings.CACHES = {
            "default": {
                "BACKEND": "django.core.cache.backends.redis.RedisCache",
                "LOCATION": redis_url,
                "KEY_PREFIX": name,
            }
        }
        cluster = {key: value for key, value in settings.Q_CLUSTER.items() if key != "orm"}
        # A name of the run's own: no other cluster takes these tasks.
        settings.Q_CLUSTER = {**cluster, "name": name, "redis": redis_url, "sync": False}
        if os.environ.get("BENCH_BUFFER"):
            settings.WAGTAIL_JOURNEYS["BEACON_BUFFER_URL"] = redis_url


@csrf_exempt
def insert_row(request: HttpRequest) -> JsonResponse:
    """The baseline: the beacon's body stored with one INSERT into a plain table."""
    from django.db import connection

    data = json.loads(request.body)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {BASELINE_TABLE} (name, properties, path, created_at) "
            "VALUES (%s, %s, %s, now())",
            [data["name"], json.dumps(data["properties"]), data["path"]],
        )
    return JsonResponse({"stored": True}, status=201)


def create_baseline_table() -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"CREATE TABLE IF NOT EXISTS {BASELINE_TABLE} (id bigserial PRIMARY KEY, "
            "name varchar(64) NOT NULL, properties jsonb NOT NULL, path varchar(2048) NOT NULL, "
            "created_at timestamptz NOT NULL)"
        )


def wsgi():
    """The WSGI application of ``gunicorn "bench.load_tracking:wsgi()"``."""
    import django
    from django.conf import settings
    from django.core.wsgi import get_wsgi_application
    from django.urls import path

    configure(settings)
    django.setup()
    # The site's URLs and the baseline's, in a URLconf of their own.
    urls = types.ModuleType("bench_load_tracking_urls")
    base = importlib.import_module(settings.ROOT_URLCONF)
    urls.urlpatterns = [path(BASELINE_PATH.lstrip("/"), insert_row), *base.urlpatterns]
    sys.modules[urls.__name__] = urls
    settings.ROOT_URLCONF = urls.__name__
    return get_wsgi_application()


# Running gunicorn and wrk


@dataclass(frozen=True)
class Server:
    """A gunicorn configuration."""

    worker_class: str = "sync"
    workers: int = 2
    threads: int = 1

    def __str__(self) -> str:
        threads = f" x {self.threads} threads" if self.worker_class == "gthread" else ""
        return f"{self.worker_class}, {self.workers} workers{threads}"


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@dataclass(frozen=True)
class Gunicorn:
    """A running gunicorn: its base URL and the pid of its master process."""

    url: str
    pid: int


@contextmanager
def serve(env: dict[str, str], server: Server = Server()) -> Iterator[Gunicorn]:
    """Run gunicorn on a free loopback port with ``env`` until the block ends."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    command = [
        sys.executable, "-m", "gunicorn", "bench.load_tracking:wsgi()",
        "--bind", f"127.0.0.1:{port}", "--chdir", str(ROOT), "--preload",
        "--worker-class", server.worker_class, "--workers", str(server.workers),
        "--threads", str(server.threads), "--log-level", "warning",
        # gthread: idle connections outlive wrk's drain (a close would count as a read error).
        "--keep-alive", str(DRAIN_SECONDS + 3),
    ]  # fmt: skip
    with tempfile.TemporaryFile() as log:
        process = subprocess.Popen(
            command, env={**os.environ, **env}, stdout=subprocess.DEVNULL, stderr=log
        )
        try:
            wait_until_serving(process, url, log)
            yield Gunicorn(url, process.pid)
        finally:
            process.terminate()
            process.wait(timeout=60)
            log.seek(0)
            problems = log.read().decode()
            if problems.strip():
                print(f"gunicorn's log:\n{problems[-3000:]}", file=sys.stderr)


def wait_until_serving(process: subprocess.Popen, url: str, log) -> None:
    # With --preload gunicorn listens once the application is loaded.
    host, port = url.removeprefix("http://").split(":")
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        try:
            socket.create_connection((host, int(port)), timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    log.seek(0)
    raise RuntimeError(f"gunicorn did not start:\n{log.read().decode()[-3000:]}")


def visitor_cookies(contact_ids) -> list[str]:
    """A ``Cookie`` header for each of ``contact_ids``: its signed visitor cookie and consent."""
    from django.http import HttpResponse

    from wagtail_journeys import conf
    from wagtail_journeys.tracking.visitors import COOKIE_SALT

    name = conf.get_setting("COOKIE_NAME")
    consent = f"{conf.get_setting('CONSENT_COOKIE_NAME')}=yes"
    response = HttpResponse()
    headers = []
    for pk in contact_ids:
        response.set_signed_cookie(name, str(pk), salt=COOKIE_SALT)
        headers.append(f"{name}={response.cookies[name].value}; {consent}")
    return headers


@dataclass
class Load:
    """What wrk saw. ``seconds`` runs from the first request to the last accepted answer."""

    accepted_status: int
    sent: int
    answered: int
    seconds: float
    statuses: dict[int, int]
    socket_errors: dict[str, int]
    latency_ms: dict[str, float]

    @property
    def accepted(self) -> int:
        return self.statuses.get(self.accepted_status, 0)

    @property
    def non_2xx(self) -> int:
        return sum(count for status, count in self.statuses.items() if not 200 <= status < 300)

    @property
    def not_accepted(self) -> dict[int, int]:
        return {s: n for s, n in self.statuses.items() if s != self.accepted_status}

    @property
    def unanswered(self) -> int:
        """Requests wrk sent but stopped before reading the answer of (0 after the drain)."""
        return self.sent - self.answered

    @property
    def per_second(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0


def drive(
    url: str,
    *,
    path: str,
    accepted_status: int,
    seconds: int,
    cookies: list[str],
    page_ids=(),
    connections: int = 16,
    threads: int = 1,
) -> Load:
    """Post beacons to ``url + path`` for ``seconds``, then wait for the last answers."""
    wrk = shutil.which("wrk")
    if wrk is None:
        raise RuntimeError("wrk is not installed (apt-get install wrk)")
    with tempfile.TemporaryDirectory(prefix="journeys-load-") as tmp:
        script, visitors = Path(tmp, "beacons.lua"), Path(tmp, "visitors.txt")
        script.write_text(LUA)
        visitors.write_text("\n".join(cookies) + "\n")
        command = [
            wrk, "-t", str(threads), "-c", str(connections), "-d", f"{seconds + DRAIN_SECONDS}s",
            "--timeout", WRK_TIMEOUT, "-s", str(script), url + path,
            "--", path, str(accepted_status), str(seconds), str(visitors),
            ",".join(str(pk) for pk in page_ids),
        ]  # fmt: skip
        output = subprocess.run(command, capture_output=True, text=True, check=True).stdout
    line = next((x for x in output.splitlines() if x.startswith(RESULT_PREFIX)), None)
    if line is None:
        raise RuntimeError(f"wrk printed no result:\n{output}")
    data = json.loads(line.removeprefix(RESULT_PREFIX))
    return Load(
        accepted_status=accepted_status,
        sent=data["sent"],
        answered=data["answered"],
        seconds=data["seconds"],
        statuses={int(status): count for status, count in data["statuses"].items()},
        socket_errors=data["socket_errors"],
        latency_ms=data["latency_ms"],
    )


# The benchmark


def cpu_snapshot(roots: dict[int, str]) -> dict[int, tuple[str, float]]:
    """CPU seconds so far of every process on this machine, with its part (from /proc).

    ``roots`` names the parts the processes started by the benchmark are, by
    pid: a process belongs to the part of its nearest named ancestor.
    """
    tick = os.sysconf("SC_CLK_TCK")
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue  # ended meanwhile
        comm = stat[stat.index("(") + 1 : stat.rindex(")")]
        fields = stat[stat.rindex(")") + 2 :].split()
        seconds = (int(fields[11]) + int(fields[12])) / tick
        found[int(entry.name)] = (comm, int(fields[1]), seconds)
    snapshot = {}
    for pid, (comm, _, seconds) in found.items():
        part = comm if comm in ("postgres", "redis-server") else "other processes"
        ancestor = pid
        while ancestor in found:
            if ancestor in roots:
                part = roots[ancestor]
                break
            ancestor = found[ancestor][1]
        snapshot[pid] = (part, seconds)
    return snapshot


def cpu_between(before: dict, after: dict) -> dict[str, float]:
    """CPU seconds by part between two snapshots (of the processes alive at the second)."""
    parts: dict[str, float] = {}
    for pid, (part, seconds) in after.items():
        parts[part] = parts.get(part, 0.0) + seconds - before.get(pid, (part, 0.0))[1]
    return parts


def setup_django(env: dict[str, str]) -> None:
    os.environ.update(env)
    import django
    from django.conf import settings

    configure(settings)
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def prepare(visitors: int) -> tuple[list[str], list[int]]:
    """Returning visitors (their cookies), what reacts to events, the baseline's table.

    A dynamic segment depends on ``video_played`` and a live journey starts
    with ``banner_clicked``: each of those events sets off work for the
    django-q2 cluster, as on a site that uses them; ``page_time`` sets off none.
    """
    from django.utils import timezone
    from wagtail.models import Page

    from bench.segments import counted
    from wagtail_journeys.journeys.building import block, new_journey
    from wagtail_journeys.models import Contact, Segment

    # Mid-visit: the page view that loaded the tracker moved last_seen_at a moment ago.
    now = timezone.now()
    contacts = Contact.objects.bulk_create(
        [Contact(last_seen_at=now) for _ in range(visitors)], batch_size=5000
    )
    segment = Segment(
        name="Watched two videos in 30 days",
        kind=Segment.Kind.DYNAMIC,
        rules=[{"type": "event", "value": counted("video_played", "at_least", 2, "last_days", 30)}],
    )
    segment.full_clean()
    segment.save()
    new_journey(
        "Banner follow-up",
        trigger=block("event", event="banner_clicked"),
        steps=[block("wait", days=1)],
    )
    create_baseline_table()
    page_ids = list(Page.objects.filter(depth__gt=1).values_list("pk", flat=True))
    return visitor_cookies(contact.pk for contact in contacts), page_ids


def stored_events(after_id: int) -> tuple[int, int, int]:
    """Event rows past ``after_id``: their count, distinct beacon numbers, and the last id."""
    from django.db.models import Count, Max
    from django.db.models.fields.json import KT

    from wagtail_journeys.models import Event

    rows = Event.objects.filter(pk__gt=after_id).aggregate(
        rows=Count("pk"), distinct=Count(KT("properties__n"), distinct=True), last=Max("pk")
    )
    return rows["rows"], rows["distinct"], rows["last"] or after_id


def stored_rows(after_id: int) -> tuple[int, int, int]:
    """``stored_events`` of the baseline's table."""
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*), count(DISTINCT properties->'n'), max(id) FROM {BASELINE_TABLE} "
            "WHERE id > %s",
            [after_id],
        )
        rows, distinct, last = cursor.fetchone()
    return rows, distinct, last or after_id


@dataclass
class Run:
    """One endpoint's measured run."""

    label: str
    load: Load
    stored: int
    distinct: int
    cpu: dict[str, float]
    load_average: float
    #: Buffered: how long after the load the last accepted beacon was stored.
    drain_seconds: float | None = None

    @property
    def consistent(self) -> bool:
        return (
            self.load.unanswered == 0
            and self.stored == self.distinct == self.load.accepted
            and not self.load.not_accepted
            and not any(self.load.socket_errors.values())
        )


@contextmanager
def draining(env: dict[str, str]) -> Iterator[int]:
    """Run ``drain_forever`` in a process of its own until the block ends; yield its pid."""
    command = [
        sys.executable,
        "-c",
        "from bench.load_tracking import drain_forever; drain_forever()",
    ]
    process = subprocess.Popen(command, cwd=ROOT, env={**os.environ, **env})
    try:
        yield process.pid
    finally:
        process.terminate()  # mid-batch is safe: that is what the batch markers are for
        process.wait(timeout=60)


def drain_forever() -> None:
    """Store the buffered beacons as they come, as a django-q2 worker running the drains would.

    Without django-q2 around it, so that the tasks the stored events queue
    (segment refreshes, journey dispatches) are left queued, as they are
    when the endpoint stores the events itself.
    """
    import django
    from django.conf import settings

    configure(settings)
    django.setup()
    from wagtail_journeys.tracking import buffer

    while True:
        if not buffer.drain().batches:
            time.sleep(0.02)


def wait_for_drain(redis_url: str, timeout: float = 600) -> float:
    """Seconds until the buffer is empty: a beacon leaves it only once its row is committed."""
    import redis

    from wagtail_journeys.tracking.buffer import LIST_KEY

    client = redis.from_url(redis_url)
    started = time.monotonic()
    while client.llen(LIST_KEY):
        if time.monotonic() - started > timeout:
            raise RuntimeError(f"the buffer still holds {client.llen(LIST_KEY)} beacons")
        time.sleep(0.05)
    return time.monotonic() - started


def measure(
    label, server, *, env, args, cookies, page_ids, path, status, count, buffered=False
) -> Run:
    """Warm up, then drive ``path`` for ``--duration`` seconds and count what was stored.

    ``buffered``: through the tracking buffer, drained by a process of its
    own; the count waits for the buffer to empty, and the drainer's CPU time
    is counted up to then.
    """
    if buffered:
        env = {**env, "BENCH_BUFFER": "1"}
    with serve(env, server) as gunicorn, draining(env) if buffered else nullcontext() as drainer:
        roots = {gunicorn.pid: "gunicorn"}
        if drainer is not None:
            roots[drainer] = "drainer"

        def run(seconds: int) -> Load:
            return drive(
                gunicorn.url,
                path=path,
                accepted_status=status,
                seconds=seconds,
                cookies=cookies,
                page_ids=page_ids,
                connections=args.connections,
                threads=args.wrk_threads,
            )

        run(args.warmup)
        if buffered:
            wait_for_drain(args.redis_url)
        _, _, last = count(0)
        cpu_before = cpu_snapshot(roots)
        wrk_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        load = run(args.duration)
        wrk_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        drain_seconds = wait_for_drain(args.redis_url) if buffered else None
        cpu = cpu_between(cpu_before, cpu_snapshot(roots))
    stored, distinct, _ = count(last)
    # wrk ran and ended between the two snapshots: its time is this process's children's.
    cpu["wrk"] = (wrk_after.ru_utime + wrk_after.ru_stime) - (
        wrk_before.ru_utime + wrk_before.ru_stime
    )
    return Run(label, load, stored, distinct, cpu, os.getloadavg()[0], drain_seconds)


def print_run(run: Run) -> None:
    load, latency = run.load, run.load.latency_ms
    per_request = ", ".join(
        f"{part} {seconds * 1000 / max(load.accepted, 1):.2f}"
        for part, seconds in sorted(run.cpu.items(), key=lambda item: -item[1])
    )
    busy = sum(run.cpu.values()) / load.seconds if load.seconds else 0.0
    verdict = "every accepted event stored once" if run.consistent else "MISMATCH"
    if run.drain_seconds is not None:
        verdict += f", the last {run.drain_seconds:.1f} s after the load stopped"
    print(
        f"{run.label}:\n"
        f"  {load.per_second:,.0f} events/s = requests/s (one event per request) over "
        f"{load.seconds:.1f} s: {load.accepted:,} answered {load.accepted_status}\n"
        f"  other answers: {load.not_accepted or 'none'}; socket errors: "
        f"{sum(load.socket_errors.values())} {load.socket_errors}; "
        f"unanswered when wrk stopped: {load.unanswered}\n"
        f"  latency p50 {latency['p50']:.1f} ms, p90 {latency['p90']:.1f} ms, "
        f"p99 {latency['p99']:.1f} ms, max {latency['max']:.0f} ms\n"
        f"  stored {run.stored:,} rows, {run.distinct:,} distinct beacons: {verdict}\n"
        f"  CPU ms per request: {per_request}; {busy:.2f} of {os.cpu_count()} cores busy; "
        f"load average {run.load_average:.2f}",
        flush=True,
    )


def profile(requests: int, cookies: list[str], page_ids: list[int]) -> None:
    """CPU time per request of the view's parts, posting the same mix through the test client."""
    import random
    from collections import Counter

    from django.conf import settings
    from django.test import Client

    spent: Counter[str] = Counter()

    def timed(function, label):
        def wrapper(*args, **kwargs):
            started = time.process_time()
            try:
                return function(*args, **kwargs)
            finally:
                spent[label] += time.process_time() - started

        return wrapper

    for module, attribute, label in PROFILED:
        *owners, name = attribute.split(".")
        owner = importlib.import_module(module)
        for step in owners:
            owner = getattr(owner, step)
        if hasattr(owner, name):
            setattr(owner, name, timed(getattr(owner, name), label))
        else:
            print(f"({module}.{attribute} is gone: not timed)")
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]
    client = Client(HTTP_USER_AGENT=BROWSER, HTTP_ORIGIN="http://testserver")
    rng = random.Random(20261129)

    def post(number: int) -> None:
        name = ("page_time", "page_time", "page_time", "video_played", "banner_clicked")[number % 5]
        properties = {
            "page_time": {"duration_ms": rng.randint(300, 600_000)},
            "video_played": {"video": f"clip-{rng.randint(1, 40)}", "at": rng.random() * 300},
            "banner_clicked": {"banner": "spring-sale", "slot": rng.randint(1, 6)},
        }[name]
        body = {"name": name, "properties": {**properties, "n": number}, "path": "/shop/"}
        if page_ids:
            body["page_id"] = rng.choice(page_ids)
        response = client.post(
            COLLECT_PATH,
            json.dumps(body),
            content_type="text/plain;charset=UTF-8",
            HTTP_COOKIE=rng.choice(cookies),
        )
        assert response.status_code == 202, response.content

    for number in range(300):  # warm-up
        post(number)
    spent.clear()
    started = time.process_time()
    for number in range(300, 300 + requests):
        post(number)
    total = time.process_time() - started
    print(f"{requests:,} beacons through Django's test client, CPU ms per request:")
    print(
        f"  {'the whole request (test client, middleware, view)':50} {total * 1000 / requests:.3f}"
    )
    for _, _, label in PROFILED:
        print(f"  {label:50} {spent[label] * 1000 / requests:.3f}")
    from wagtail_journeys.tracking import buffer

    if buffer.enabled():
        spent.clear()
        started = time.process_time()
        while buffer.drain().batches:
            pass
        total = time.process_time() - started
        print(f"  {'drained from the buffer, per beacon':50} {total * 1000 / requests:.3f}")
        for _, _, label in PROFILED:
            if spent[label]:
                print(f"  {'  of which ' + label.strip():50} {spent[label] * 1000 / requests:.3f}")


def sweep(rounds: int, ours: dict) -> None:
    """Each gunicorn configuration of SWEEP in turn, ``rounds`` times; the best run of each.

    Alternating spreads what else runs on the machine over all of them; the
    best run is the one it disturbed least.
    """
    runs: dict[Server, list[Run]] = {}
    for round_number in range(1, rounds + 1):
        for server in (Server(*config) for config in SWEEP):
            run = measure(f"{server}, round {round_number}", server, **ours)
            print_run(run)
            runs.setdefault(server, []).append(run)
    print("best of each:")
    for server, measured in runs.items():
        best = max(measured, key=lambda run: run.load.per_second)
        cpu = best.cpu.get("gunicorn", 0.0) * 1000 / max(best.load.accepted, 1)
        print(
            f"  {server!s:32} {best.load.per_second:6,.0f} events/s, p99 "
            f"{best.load.latency_ms['p99']:5.1f} ms, gunicorn {cpu:.2f} ms CPU per request"
        )


def delete_redis_keys(redis_url: str, name: str) -> int:
    """Delete the run's django-q2 queue and cache keys; return the tasks that were queued."""
    import redis

    client = redis.from_url(redis_url)
    queue = f"django_q:{name}:q"
    queued = client.llen(queue)
    client.delete(queue)
    for key in client.scan_iter(match=f"{name}:*", count=1000):
        client.delete(key)
    for key in client.scan_iter(match="wagtail_journeys:beacons*"):  # the buffer's
        client.delete(key)
    return queued


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=60, help="seconds measured per endpoint")
    parser.add_argument("--warmup", type=int, default=5, help="seconds before each measurement")
    parser.add_argument("--connections", type=int, default=16, help="wrk's open connections")
    parser.add_argument("--wrk-threads", type=int, default=1)
    parser.add_argument("--worker-class", choices=["sync", "gthread"], default="sync")
    parser.add_argument("--workers", type=int, default=2, help="gunicorn workers")
    parser.add_argument("--threads", type=int, default=1, help="threads per gthread worker")
    parser.add_argument("--visitors", type=int, default=10_000, help="returning visitors")
    parser.add_argument(
        "--sweep",
        type=int,
        metavar="ROUNDS",
        help="measure our endpoint under each gunicorn of SWEEP instead, ROUNDS times",
    )
    parser.add_argument(
        "--profile", type=int, metavar="N", help="time the view's parts over N beacons instead"
    )
    parser.add_argument(
        "--postgres-url",
        default=os.environ.get(
            "BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432/journeys_load"
        ),
        help="dropped and created afresh, dropped at the end",
    )
    parser.add_argument(
        "--redis-url", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/14")
    )
    parser.add_argument(
        "--mode",
        choices=["direct", "buffered", "both"],
        default="both",
        help="our endpoint storing each beacon itself, through the Redis buffer, or both",
    )
    parser.add_argument("--keep", action="store_true", help="keep the database for a closer look")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        parser.error("wrk is not installed (apt-get install wrk)")
    if importlib.util.find_spec("gunicorn") is None:
        parser.error('gunicorn is not installed (pip install "gunicorn>=23": the bench group)')

    import redis

    from bench.segments import drop_postgres, recreate_postgres

    redis.from_url(args.redis_url).ping()  # fails now, with Redis's own message
    tmp = tempfile.mkdtemp(prefix="journeys-load-")
    name = f"journeys-load-{os.getpid()}"
    env = {
        "DJANGO_SETTINGS_MODULE": "bench.journeys_settings",
        # Persistent connections, as docs/operations.md sets them for a scaled-out site, and
        # none replaced during a run: a backend that exits takes its CPU time out of the count.
        "DATABASE_URL": f"{args.postgres_url}?conn_max_age=600",
        "BENCH_REDIS_URL": args.redis_url,
        "BENCH_LOAD_NAME": name,
        "MEDIA_ROOT": f"{tmp}/media",
    }
    if args.profile and args.mode == "buffered":
        env["BENCH_BUFFER"] = "1"
    recreate_postgres(args.postgres_url)
    try:
        setup_django(env)
        run(args, env)
    finally:
        from django.conf import settings

        if settings.configured:
            from django.db import connections

            connections.close_all()
        delete_redis_keys(args.redis_url, name)
        shutil.rmtree(tmp, ignore_errors=True)
        if args.keep:
            print(f"kept: {args.postgres_url}")
        else:
            drop_postgres(args.postgres_url)


def run(args, env: dict[str, str]) -> None:
    """Measure (or sweep, or profile) on the prepared database; print the results."""
    from django.db import connection

    cookies, page_ids = prepare(args.visitors)
    if args.profile:
        profile(args.profile, cookies, page_ids)
        return
    with connection.cursor() as cursor:
        cursor.execute("SELECT version()")
        engine = " ".join(cursor.fetchone()[0].split()[:2])
    connection.close()  # not held open while gunicorn's workers write
    print(
        f"{engine} on loopback; {args.visitors:,} visitors; wrk {args.connections} "
        f"connections, {args.wrk_threads} thread(s); {args.duration} s measured after "
        f"{args.warmup} s of warm-up; {os.cpu_count()} cores",
        flush=True,
    )
    shared = dict(env=env, args=args, cookies=cookies, page_ids=page_ids)
    ours = dict(path=COLLECT_PATH, status=202, count=stored_events, **shared)
    if args.sweep:
        sweep(args.sweep, ours)
        return
    server = Server(args.worker_class, args.workers, args.threads)
    print(f"gunicorn: {server}", flush=True)
    runs = []
    for buffered in {"direct": [False], "buffered": [True], "both": [False, True]}[args.mode]:
        label = "wagtail-journeys, " + ("buffered (BEACON_BUFFER_URL)" if buffered else "direct")
        runs.append(measure(label, server, buffered=buffered, **ours))
        print_run(runs[-1])
        queued = delete_redis_keys(args.redis_url, env["BENCH_LOAD_NAME"])
        print(f"django-q2 tasks queued in Redis: {queued:,}; events so far, warm-ups included:")
        print(f"  {events_by_name()}")
    baseline = measure(
        "baseline (one INSERT)", server, path=BASELINE_PATH, status=201, count=stored_rows, **shared
    )
    print_run(baseline)
    for journeys in runs:
        ratio = journeys.load.per_second / baseline.load.per_second
        met = journeys.load.per_second >= TARGET_EVENTS_PER_SECOND and journeys.consistent
        print(
            f"{journeys.label} / baseline: {ratio:.2f}; target "
            f"{TARGET_EVENTS_PER_SECOND:,.0f} events/s with every accepted event stored: "
            f"{'met' if met else 'NOT met'}"
        )


def events_by_name() -> dict[str, int]:
    from django.db.models import Count

    from wagtail_journeys.models import Event

    rows = Event.objects.values_list("name").annotate(count=Count("pk")).order_by("name")
    return dict(rows)


if __name__ == "__main__":
    main()
