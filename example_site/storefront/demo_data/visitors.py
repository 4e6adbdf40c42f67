"""The demo's simulated visitors: who they are, how they behave, and what they do.

Names, rates and visit plans are drawn from the ``random.Random`` they are
given and touch no database, so that the same seed makes the same people,
visits and choices. ``VisitorActions`` is what those people do in the shop,
through its public API (``get_cart``, ``identify``, consent, the email
tracking), dated at the simulation's clock; ``traffic.Simulation`` runs it.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.http import HttpRequest
from wagtail.models import Page

from wagtail_journeys import get_cart, identify
from wagtail_journeys.email import consent
from wagtail_journeys.email.tracking import Hit, record_click, record_open
from wagtail_journeys.models import ConsentRecord, Contact, Event, Message
from wagtail_journeys.tracking.events import record_event
from wagtail_journeys.tracking.visitors import get_visitor

from ..models import ProductPage

#: Simulated visitors' addresses end here: a reserved domain, so no mail can ever arrive.
VISITOR_DOMAIN = "visitors.example"

# How people behave: rough rates of a small shop's newsletter and store.

#: Of visitors: sign up for the newsletter; of those, confirm the double opt-in email.
SIGNUP_RATE, CONFIRM_RATE = 0.35, 0.85
#: Of visitors: put something in a cart on some visit; of those carts, bought.
CART_RATE, BUY_RATE = 0.45, 0.55
#: Of sent emails: opened by a person; of openers: click; of openers: unsubscribe.
OPEN_RATE, CLICK_RATE, UNSUBSCRIBE_RATE = 0.40, 0.25, 0.02
#: Of sent emails: fetched by a machine (a privacy proxy or a security scanner) on arrival.
MACHINE_OPEN_RATE = 0.06
#: Of clicks: the reader comes back to the shop; of those, buys.
RETURN_RATE, RETURN_BUY_RATE = 0.6, 0.3

FIRST_NAMES = (
    "Ada", "Amara", "Ben", "Chloe", "Dev", "Elena", "Finn", "Grace", "Hana", "Isaac", "Jonas",
    "Kemi", "Leo", "Maya", "Nico", "Olivia", "Priya", "Quinn", "Rosa", "Sam", "Tariq", "Uma",
    "Viktor", "Wen", "Yusuf", "Zoe",
)  # fmt: skip
LAST_NAMES = (
    "Adeyemi", "Berg", "Costa", "Dubois", "Evans", "Fischer", "Garcia", "Hughes", "Ivanova",
    "Jensen", "Khan", "Lopez", "Moreau", "Novak", "Okafor", "Patel", "Rossi", "Silva", "Tanaka",
    "Walsh", "Young", "Zielinski",
)  # fmt: skip
BROWSERS = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0 Safari/537.36",
    "Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/605.1.15 (KHTML, like Gecko) "
    "Version/17.5 Safari/605.1.15",
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1",
    "Mozilla/5.0 (X11; Linux x86_64; rv:127.0) Gecko/20100101 Firefox/127.0",
)
#: Fetch an email's images on delivery, read or not: recorded as machine opens.
MACHINES = ("Mozilla/5.0", "Mozilla/5.0 (compatible; Barracuda Sentinel)", "Mimecast/2.0")
#: Where first visits come from: (weight, page_viewed properties).
ARRIVALS = (
    (5, {}),
    (3, {"referrer": "https://www.google.com/"}),
    (2, {"utm_source": "instagram", "utm_medium": "social", "utm_campaign": "spring-roast"}),
    (1, {"referrer": "https://www.reddit.com/r/Coffee/"}),
)
#: Relative traffic by hour of day (UTC): quiet nights, busy evenings.
HOURS = (1, 1, 1, 1, 1, 2, 3, 5, 6, 7, 7, 8, 9, 8, 7, 7, 8, 9, 10, 11, 10, 8, 5, 2)


@dataclass
class Plan:
    """What one visitor will do, by visit number."""

    signup_visit: int | None
    cart_visits: set[int]
    buy_visits: set[int]
    visits_done: int = 0


@dataclass
class SimulatedVisitor:
    """One person: who they are, when they come, and what they mean to do."""

    number: int
    first_name: str
    last_name: str
    user_agent: str
    ip: str
    visits: list[datetime]
    plan: Plan
    contact: Contact | None = None

    @property
    def email(self) -> str:
        return f"{self.first_name}.{self.last_name}{self.number}@{VISITOR_DOMAIN}".lower()


def new_visitor(
    rng: random.Random, number: int, start: datetime, end: datetime
) -> SimulatedVisitor:
    """Someone new, coming between ``start`` and ``end``, with their visits and plans."""
    visits = visit_times(rng, start, end)
    return SimulatedVisitor(
        number=number,
        first_name=rng.choice(FIRST_NAMES),
        last_name=rng.choice(LAST_NAMES),
        user_agent=rng.choice(BROWSERS),
        ip=f"198.51.100.{rng.randint(1, 254)}",
        visits=visits,
        plan=plan(rng, len(visits)),
    )


def visit_times(rng: random.Random, start: datetime, end: datetime) -> list[datetime]:
    """When one visitor comes: a first visit, then returns days apart, busy hours preferred."""
    day = rng.randrange(max(1, (end - start).days))
    visits = []
    for _ in range(rng.choices((1, 2, 3, 4, 6), (40, 25, 15, 10, 10))[0]):
        hour = rng.choices(range(24), HOURS)[0]
        at = start.replace(hour=0, minute=0) + timedelta(
            days=day, hours=hour, minutes=rng.randrange(60)
        )
        if start <= at < end:
            visits.append(at)
        day += 1 + int(rng.expovariate(1 / 3))
    return visits or [start + (end - start) * rng.random()]


def plan(rng: random.Random, visits: int) -> Plan:
    """On which of ``visits`` visits someone signs up, fills a cart and buys."""
    signup = rng.randrange(min(visits, 2)) if rng.random() < SIGNUP_RATE else None
    carts = {rng.randrange(visits)} if rng.random() < CART_RATE else set()
    if carts and visits > 2 and rng.random() < 0.3:
        carts.add(visits - 1)  # came back for it
    buys = {visit for visit in carts if rng.random() < BUY_RATE}
    return Plan(signup, carts, buys)


def arrival(rng: random.Random, *, first: bool) -> dict:
    """The referrer and campaign of a visit's first page view."""
    if not first:
        return {}
    weights, sources = zip(*ARRIVALS, strict=True)
    return dict(rng.choices(sources, weights)[0])


def delay(rng: random.Random, *, minutes: float) -> timedelta:
    """A random wait of ``minutes`` on average, as people take their time unevenly."""
    return timedelta(minutes=rng.expovariate(1 / minutes))


def engagement(rng: random.Random, message: Message) -> list[tuple[datetime, str, tuple]]:
    """(when, action, arguments) of what happens to one sent email."""
    sent = message.sent_at
    actions = []
    if rng.random() < MACHINE_OPEN_RATE:
        actions.append((sent + timedelta(seconds=2), "open", (rng.choice(MACHINES),)))
    if rng.random() < OPEN_RATE:
        opened = sent + delay(rng, minutes=300)
        agent = rng.choice(BROWSERS)
        actions.append((opened, "open", (agent,)))
        if rng.random() < CLICK_RATE:
            actions.append((opened + delay(rng, minutes=3), "click", (agent,)))
        elif rng.random() < UNSUBSCRIBE_RATE / (1 - CLICK_RATE):
            actions.append((opened + delay(rng, minutes=2), "unsubscribe", ()))
    return actions


def link_to_click(rng: random.Random, message: Message) -> str:
    """One of the message's links that leads to the shop (not the unsubscribe link)."""
    links = [
        link
        for link in message.links
        if not any(word in link for word in ("unsubscribe", "preferences", "/journeys/"))
    ]
    return rng.choice(links) if links else getattr(settings, "WAGTAILADMIN_BASE_URL", "/")


class VisitorActions:
    """What simulated people do, mixed into ``traffic.Simulation``.

    Each action is one request's worth of the shop's public API, dated at the
    simulation's clock (``now``, which ``wait`` moves on); ``later`` puts
    what someone does afterwards on the agenda, and ``report`` counts it.
    """

    def request(self, person: SimulatedVisitor) -> HttpRequest:
        """A request of ``person``'s browser, for the APIs that take one (carts, identify)."""
        request = HttpRequest()
        request.META.update(
            SERVER_NAME="127.0.0.1",
            SERVER_PORT="8000",
            REMOTE_ADDR=person.ip,
            HTTP_USER_AGENT=person.user_agent,
        )
        visitor = get_visitor(request)
        if person.contact is not None:
            visitor.set_contact(person.contact)
        return request

    def view(self, person: SimulatedVisitor, page: Page, **extra) -> None:
        """``page_viewed`` (and ``product_viewed`` for a product), as the page's hooks record."""
        self.wait(seconds=self.rng.randint(20, 240))
        properties = {
            "page_id": page.pk,
            "page_type": page._meta.label_lower,
            "title": page.title,
            **extra,
        }
        self._record(person, "page_viewed", properties, page)
        if isinstance(page, ProductPage):
            product = {"product_id": page.pk, "sku": page.sku, "title": page.title}
            self._record(person, "product_viewed", {**product, "price": str(page.price)}, page)
        self.report.page_views += 1

    def _record(self, person: SimulatedVisitor, name: str, properties: dict, page) -> None:
        record_event(
            person.contact,
            name,
            properties,
            page=page,
            path=page.url or "",
            source=Event.Source.SERVER,
            occurred_at=self.now,
        )

    def visit(self, person: SimulatedVisitor) -> None:
        """One visit: browse, perhaps sign up, perhaps fill a cart and buy or leave it."""
        rng, plan, shop = self.rng, person.plan, self.shop
        visit = plan.visits_done
        plan.visits_done += 1
        self.report.sessions += 1
        request = self.request(person)
        person.contact = get_visitor(request).get_or_create_contact()
        self.people[person.contact.pk] = person
        landing = rng.choice(shop.pages) if shop.pages else rng.choice(shop.products)
        self.view(person, landing, **arrival(rng, first=visit == 0))
        liked = rng.sample(shop.products, k=min(len(shop.products), rng.randint(1, 5)))
        for product in liked:
            self.view(person, product)
        if visit == plan.signup_visit and shop.newsletter is not None:
            self.sign_up(person, request)
        if visit in plan.cart_visits:
            self.fill_cart(person, request, liked, buy=visit in plan.buy_visits)

    def sign_up(self, person: SimulatedVisitor, request: HttpRequest) -> None:
        """The newsletter form: identify, then double opt-in, confirmed a little later."""
        self.view(person, self.shop.newsletter)
        person.contact = identify(
            request,
            person.email,
            first_name=person.first_name,
            last_name=person.last_name,
            at=self.now,
        )
        consent.signup_from_form(request, person.contact, self.shop.newsletter, at=self.now)
        self.report.signups += 1
        if self.rng.random() < CONFIRM_RATE:
            self.later(self.now + delay(self.rng, minutes=20), "confirm", person)

    def confirm(self, person: SimulatedVisitor) -> None:
        """The confirmation link of the double opt-in email is followed."""
        consent.confirm_signup(person.contact, self.shop.signup, ip_address=person.ip, at=self.now)

    def fill_cart(self, person, request, liked: list[ProductPage], *, buy: bool) -> None:
        """Put some of ``liked`` in the cart, then check out or leave it."""
        cart = get_cart(request, at=self.now)
        for product in liked[: self.rng.randint(1, 3)]:
            self.wait(seconds=self.rng.randint(10, 90))
            cart.add(product, quantity=self.rng.choice((1, 1, 1, 2)), at=self.now)
        if not buy:
            self.report.carts_left += 1
            return
        self.wait(seconds=self.rng.randint(60, 240))
        cart.start_checkout(at=self.now)
        if not person.contact.email:
            person.contact = identify(
                request, person.email, first_name=person.first_name, at=self.now
            )
            cart = get_cart(request, at=self.now)
        self.wait(seconds=self.rng.randint(120, 360))
        total = cart.total
        order_ref = f"KB-{self.now:%Y%m%d}-{person.number:04d}{self.report.orders:04d}"
        cart.complete(order_ref, total, at=self.now)
        self.report.orders += 1
        self.report.revenue += total

    def open(self, message: Message, user_agent: str) -> None:
        """The open pixel is fetched (by a person or, with a machine's agent, a machine)."""
        stored = record_open(message, Hit(user_agent=user_agent, at=self.now), source="pixel")
        if stored is not None and stored.machine:
            self.report.machine_opens += 1
        elif stored is not None:
            self.report.opens += 1

    def click(self, message: Message, user_agent: str) -> None:
        """A link is followed through the click redirect; often the reader comes back."""
        url = link_to_click(self.rng, message)
        record_click(message, url, Hit(user_agent=user_agent, at=self.now), source="redirect")
        self.report.clicks += 1
        person = self.people.get(message.contact_id)
        if person is not None and self.rng.random() < RETURN_RATE:
            self.later(self.now + timedelta(seconds=30), "come_back", person)

    def come_back(self, person: SimulatedVisitor) -> None:
        """Back from an email's link: a look at a few products, and sometimes an order."""
        self.report.sessions += 1
        liked = self.rng.sample(self.shop.products, k=min(3, len(self.shop.products)))
        for product in liked:
            self.view(person, product)
        if self.rng.random() < RETURN_BUY_RATE:
            self.fill_cart(person, self.request(person), liked, buy=True)

    def unsubscribe(self, message: Message) -> None:
        """The email's unsubscribe link is followed."""
        if consent.unsubscribe(
            message.contact,
            method=ConsentRecord.Method.UNSUBSCRIBE_LINK,
            message=message,
            at=self.now,
        ):
            self.report.unsubscribes += 1
