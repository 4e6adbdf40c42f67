"""A month of shop traffic for the demo, made by the real pipeline on a simulated clock.

``simulate_traffic()`` walks an hour at a time from ``days`` ago to now. In
each hour, simulated visitors browse (``page_viewed``, ``product_viewed``),
sign up for the newsletter and confirm it, fill carts, buy or leave them;
then the scheduler ticks and due email is delivered, at that hour. People
open and click what they were sent, a few machines open it too, and now and
then someone unsubscribes. Nothing is counted or inserted by hand: every row
comes from the same functions the shop's views, the tracking endpoints and
the django-q2 tasks call, so dashboards built on them show what a live shop
would have recorded.

The work the pipeline hands to django-q2 runs here, inline, at the simulated
time (``Simulation.timed_tasks``): committed events are dispatched to the
journeys by ``dispatch_events(now=...)`` after each thing a visitor does, and
any task queued meanwhile (delivering email, mostly) is redirected through
django-q2's ``pre_enqueue`` signal to the same function with ``now=`` and run
in sync mode. Nothing is left in the queue for the demo's worker.

Every write is dated at the simulated time: carts and orders, ``identify``
and consent take it as ``at=``, and journeys queue their email at their
runner's clock, so carts left behind are found by the abandoned-cart
detector during the simulated month. Only a new visitor's anonymous contact
(``created_at``, ``last_seen_at``) still has the real time: the tracking
creates it with no time to give (docs/demo.md).

Visitors (``visitors.py``) are drawn from ``random.Random(seed)``, so a run
is repeatable; their email addresses end in ``@visitors.example``, a
reserved domain, and email goes to a backend that delivers nowhere.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Max
from django.test.utils import override_settings
from django.utils import timezone
from django_q.signals import pre_enqueue
from wagtail.models import Page

from wagtail_journeys.email.delivery import deliver_due
from wagtail_journeys.journeys.dispatch import dispatch_events, journey_index, on_events_recorded
from wagtail_journeys.journeys.scheduler import tick
from wagtail_journeys.models import Contact, Message, SignupForm
from wagtail_journeys.segments import membership
from wagtail_journeys.signals import events_recorded

from ..models import NewsletterFormPage, ProductPage
from .visitors import VISITOR_DOMAIN, SimulatedVisitor, VisitorActions, engagement, new_visitor

#: A month of a small shop: about 200 people, 430 visits, 70 orders and 250 emails, made in
#: under half a minute (most of it rendering and delivering the emails).
DEFAULT_DAYS, DEFAULT_VISITORS = 30, 200
#: Backends that deliver nowhere; any other is replaced by locmem while simulating.
SAFE_EMAIL_BACKENDS = {
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
    "anymail.backends.test.EmailBackend",
}
#: How often the scheduler ticks in simulated time (in production: every minute). Every four
#: hours keeps a month within seconds; a wait of a day ends at most four hours late.
TICK_EVERY = timedelta(hours=4)
#: The ``dispatch_uid`` of wagtail-journeys' own dispatcher (apps.py), and of ours.
DISPATCHER, RECEIVER = "wagtail_journeys_journeys", "storefront_traffic"
#: django-q2 tasks of wagtail-journeys, and the functions below that run them at a given time.
TIMED_TASKS = {
    "wagtail_journeys.tasks.dispatch_events": f"{__name__}.dispatch_at",
    "wagtail_journeys.tasks.deliver_messages": f"{__name__}.deliver_at",
    "wagtail_journeys.tasks.refresh_contact_segments": f"{__name__}.refresh_contact_at",
    "wagtail_journeys.tasks.run_enrollments": f"{__name__}.run_enrollments_at",
}


# The tasks, at a simulated time (django-q2 imports them by these dotted paths).


def dispatch_at(event_ids: list[int], *, at: datetime) -> dict[str, int]:
    """``tasks.dispatch_events`` at ``at``."""
    return dispatch_events(event_ids, now=at)


def deliver_at(message_ids: list[int], *, at: datetime) -> dict[str, int]:
    """``tasks.deliver_messages`` at ``at``."""
    from wagtail_journeys.email.delivery import deliver_messages

    return deliver_messages(message_ids, now=at).as_dict()


def refresh_contact_at(contact_id: int, event_name: str | None = None, *, at: datetime) -> dict:
    """``tasks.refresh_contact_segments`` at ``at``."""
    report = membership.refresh_contact(contact_id, event_name, now=at)
    return {"entered": report.entered, "exited": report.exited}


def run_enrollments_at(enrollment_ids: list[int], claim: str, *, at: datetime) -> dict:
    """``tasks.run_enrollments`` at ``at``."""
    from wagtail_journeys.journeys.scheduler import run_claimed

    return run_claimed(enrollment_ids, claim, now=at).stats


class NoDemoShop(LookupError):
    """The demo shop is not there to be visited (``load_demo_data`` has not run)."""


@dataclass
class TrafficReport:
    """What one simulation did."""

    start: datetime
    end: datetime
    visitors: int = 0
    sessions: int = 0
    page_views: int = 0
    signups: int = 0
    orders: int = 0
    revenue: Decimal = Decimal("0.00")
    carts_left: int = 0
    opens: int = 0
    machine_opens: int = 0
    clicks: int = 0
    unsubscribes: int = 0
    emails_sent: int = 0
    seconds: float = 0.0


@dataclass
class Shop:
    """The demo pages the visitors move through."""

    products: list[ProductPage]
    pages: list[Page]
    newsletter: NewsletterFormPage | None
    signup: SignupForm | None

    @classmethod
    def load(cls) -> Shop:
        products = list(ProductPage.objects.live().order_by("pk"))
        if not products:
            raise NoDemoShop("The demo shop has no live products: run load_demo_data first.")
        newsletter = NewsletterFormPage.objects.live().first()
        pages = [
            page.specific
            for page in Page.objects.live().filter(depth__in=(2, 3)).order_by("path")
            if not isinstance(page.specific, ProductPage | NewsletterFormPage)
        ]
        signup = SignupForm.objects.filter(page=newsletter).first() if newsletter else None
        return cls(products, pages, newsletter, signup)


def traffic_simulated() -> bool:
    """Has a simulation already run on this database (its visitors are there)?"""
    return Contact.objects.filter(email__endswith=f"@{VISITOR_DOMAIN}").exists()


def simulate_traffic(
    *,
    days: int = DEFAULT_DAYS,
    visitors: int = DEFAULT_VISITORS,
    seed: int = 2025,
    now: datetime | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> TrafficReport:
    """Simulate ``visitors`` people using the shop over the last ``days`` days.

    Additive: another run adds other visitors (numbered after the ones
    there) over the same days. ``progress(done, total)`` is called after
    each simulated hour.
    """
    if days < 1 or visitors < 1:
        raise ValueError("days and visitors must be at least 1.")
    end = (now or timezone.now()).replace(second=0, microsecond=0)
    simulation = Simulation(Shop.load(), end - timedelta(days=days), end, seed)
    return simulation.run(visitors, progress)


class Simulation(VisitorActions):
    """The simulated clock, the visitors and what is due when (what they do: ``VisitorActions``)."""

    def __init__(self, shop: Shop, start: datetime, end: datetime, seed: int):
        self.shop = shop
        self.start, self.end = start, end
        self.rng = random.Random(seed)
        self.now = start
        self.report = TrafficReport(start=start, end=end)
        #: (when, sequence, action, arguments): what people do later (confirm, open, click...).
        self.agenda: list[tuple[datetime, int, str, tuple]] = []
        self._sequence = itertools.count()
        self._last_message = Message.objects.order_by("-pk").values_list("pk", flat=True).first()
        self._waiting: set[int] = set()
        #: Committed events waiting for ``dispatch``.
        self._events: list[int] = []
        #: Simulated visitors by their contact's id, to know who clicked an email.
        self.people: dict[int, SimulatedVisitor] = {}

    # -- running -----------------------------------------------------------------------------

    def run(self, count: int, progress: Callable[[int, int], None] | None) -> TrafficReport:
        """Make ``count`` visitors and live through every hour from start to end."""
        started = time.perf_counter()
        # Every visitor makes a contact, so numbering from the highest contact id gives each
        # run's visitors addresses no earlier run used.
        first = (Contact.objects.aggregate(last=Max("pk"))["last"] or 0) + 1
        people = [
            new_visitor(self.rng, number, self.start, self.end)
            for number in range(first, first + count)
        ]
        self.report.visitors = len(people)
        for person in people:
            for at in person.visits:
                self.later(at, "visit", person)
        hours = int((self.end - self.start) / timedelta(hours=1))
        with self.timed_tasks():
            for hour in range(1, hours + 1):
                self.run_hour(min(self.start + timedelta(hours=hour), self.end))
                if progress is not None:
                    progress(hour, hours)
        self.report.seconds = time.perf_counter() - started
        return self.report

    @contextmanager
    def timed_tasks(self) -> Iterator[None]:
        """While simulating, the simulation is the django-q2 worker, at its clock.

        The journey dispatcher's receiver is swapped for one that gathers the
        events (``dispatch`` hands them to ``dispatch_events`` at the simulated
        time, one batch per visit instead of one task per event), other tasks
        are run inline at the simulated time (``on_enqueue``), and email goes
        to a backend that delivers nowhere.
        """
        journeys = {**(getattr(settings, "WAGTAIL_JOURNEYS", None) or {})}
        # Segments are refreshed for everyone once a simulated day instead of after each
        # event: the same memberships, in a fraction of the time.
        journeys["SEGMENT_REFRESH_ON_EVENT"] = False
        overrides = {"WAGTAIL_JOURNEYS": journeys}
        if settings.EMAIL_BACKEND not in SAFE_EMAIL_BACKENDS:
            overrides["EMAIL_BACKEND"] = "django.core.mail.backends.locmem.EmailBackend"
        worker_log = logging.getLogger("django-q")
        level = worker_log.level
        with override_settings(**overrides), _one_connection():
            worker_log.setLevel(max(level, logging.WARNING))
            pre_enqueue.connect(self.on_enqueue, dispatch_uid=RECEIVER)
            swapped = events_recorded.disconnect(dispatch_uid=DISPATCHER)
            events_recorded.connect(self.collect, dispatch_uid=RECEIVER)
            try:
                yield
            finally:
                events_recorded.disconnect(dispatch_uid=RECEIVER)
                if swapped:
                    events_recorded.connect(on_events_recorded, dispatch_uid=DISPATCHER)
                pre_enqueue.disconnect(dispatch_uid=RECEIVER)
                worker_log.setLevel(level)

    def on_enqueue(self, sender, task: dict, **kwargs) -> None:
        """django-q2's ``pre_enqueue``: run our tasks now, inline, at the simulated time."""
        timed = TIMED_TASKS.get(task.get("func"))
        if timed is None:
            return
        task["func"] = timed
        task["kwargs"] = {**task.get("kwargs", {}), "at": self.now}
        task["sync"] = True
        task["save"] = False

    def collect(self, sender, events, **kwargs) -> None:
        """``events_recorded``: keep the committed events some live journey cares about."""
        index = journey_index()
        self._events += [e.pk for e in events if e.contact_id and index.cares_about(e.name)]

    def dispatch(self) -> None:
        """What the gathered events do to journeys, at the simulated time."""
        # Dispatching records events too (an email sent, a segment entered): go on until quiet.
        while self._events:
            ids, self._events = self._events, []
            dispatch_events(ids, now=self.now)

    def act(self, action: str, *args) -> None:
        """One thing a person does, in one transaction, and what it sets off."""
        with transaction.atomic():
            getattr(self, action)(*args)
        self.dispatch()

    def run_hour(self, until: datetime) -> None:
        """What people do before ``until``, then the tick, delivery and segments at ``until``."""
        while self.agenda and self.agenda[0][0] < until:
            at, _, action, args = heapq.heappop(self.agenda)
            self.now = at
            self.act(action, *args)
        self.now = until
        if (until - self.start) % TICK_EVERY == timedelta(0) or until == self.end:
            tick(now=until, inline=True)
            self.dispatch()
        deliver_due(now=until)
        self.dispatch()
        self.plan_engagement()
        if (until - self.start) % timedelta(days=1) == timedelta(0):
            membership.refresh_all(now=until)
            self.dispatch()

    def wait(self, *, seconds: int) -> None:
        """Let a visitor take their time, never past the end of the simulation."""
        self.now = min(self.now + timedelta(seconds=seconds), self.end)

    def later(self, at: datetime, action: str, *args) -> None:
        """Put ``action`` on the agenda for ``at``, unless that is after the end."""
        if at < self.end:
            heapq.heappush(self.agenda, (at, next(self._sequence), action, args))

    # -- email -------------------------------------------------------------------------------

    def plan_engagement(self) -> None:
        """Decide, for each message sent since the last hour, whether and when it is read."""
        new = Message.objects.filter(pk__gt=self._last_message or 0).values_list("pk", flat=True)
        ids = self._waiting | set(new)
        if not ids:
            return
        self._last_message = max([self._last_message or 0, *ids])
        self._waiting = set()
        for message in Message.objects.filter(pk__in=ids).select_related("contact").order_by("pk"):
            if message.status == Message.Status.QUEUED:
                self._waiting.add(message.pk)
            elif message.status == Message.Status.SENT and message.contact is not None:
                self.report.emails_sent += 1
                for at, action, args in engagement(self.rng, message):
                    self.later(at, action, message, *args)


@contextmanager
def _one_connection() -> Iterator[None]:
    """One database connection for the whole simulation, on SQLite without disk flushes.

    django-q2's ORM broker closes connections older than ``CONN_MAX_AGE`` (by
    default 0: all of them) before every task it is given, which here is after
    nearly every commit; reconnecting cost a tenth of the run. And demo data
    needs no flush to disk at each of its thousands of small commits: if the
    machine crashes meanwhile, the demo database is made again. Closing the
    connection at the end brings back the project's settings for both.
    """
    if connection.in_atomic_block:
        # Inside a transaction (a test): it can be neither closed nor changed.
        yield
        return
    max_age = connection.settings_dict["CONN_MAX_AGE"]
    connection.close()
    connection.settings_dict["CONN_MAX_AGE"] = None
    try:
        connection.ensure_connection()
        if connection.vendor == "sqlite":
            with connection.cursor() as cursor:
                cursor.execute("PRAGMA synchronous = OFF")
        yield
    finally:
        connection.settings_dict["CONN_MAX_AGE"] = max_age
        connection.close()
