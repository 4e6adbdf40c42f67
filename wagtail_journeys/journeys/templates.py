"""Journey templates: five proven journeys an editor starts from and adapts.

Each ``JourneyTemplate`` writes its email templates (each with a first
revision) and the journey that sends them, a draft unless ``publish=True``.
Creating one twice gives the second copy a numbered name, "Welcome series
(2)", so nothing an editor changed in the first copy is touched::

    from wagtail_journeys.journeys.templates import JOURNEY_TEMPLATES, get_template

    journey = get_template("abandoned-cart").create(user=request.user)

The copy is brand-neutral (``{{ site_name }}`` is the brand's company name)
and meant to be rewritten; docs/journey-templates.md describes every step.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from wagtail.models import Site

from wagtail_journeys.journeys.building import block
from wagtail_journeys.models import EmailTemplate, Journey

FRIEND = "{{ contact.first_name|default:'friend' }}"
THERE = "{{ contact.first_name|default:'there' }}"


# -- Email bodies ------------------------------------------------------------------------------


def heading(text: str, level: str = "h1") -> dict:
    """A heading block (merge fields work)."""
    return {"type": "heading", "value": {"text": text, "level": level}}


def text(html: str) -> dict:
    """A rich text block, from HTML in Wagtail's rich text format (merge fields work)."""
    return {"type": "text", "value": html}


def button(label: str) -> dict:
    """A button to the shop's home page (or the page given to ``create``)."""
    return {"type": "button", "value": {"label": label, "page": None, "url": ""}}


def discount(intro: str, prefix: str) -> dict:
    """A code unique to each contact, e.g. ``WELCOME-7KQ2M9XD``, kept for them."""
    return {
        "type": "discount",
        "value": {"text": intro, "kind": "unique", "code": "", "prefix": prefix},
    }


def recommendations(title: str, count: int = 4) -> dict:
    """Products picked for each contact (the most popular ones for a new contact)."""
    return {"type": "recommendations", "value": {"heading": title, "count": count}}


def cart_items(title: str = "Your cart") -> dict:
    """The items of the cart the journey is about, with a link that brings the cart back."""
    return {
        "type": "cart_items",
        "value": {"heading": title, "button_label": "Return to your cart", "show_images": True},
    }


@dataclass(frozen=True)
class EmailSpec:
    """One email a journey template writes: ``key`` is how its steps refer to it."""

    key: str
    name: str
    subject: str
    preheader: str
    body: list[dict]

    def build(self, name: str, link_page) -> EmailTemplate:
        """The unsaved email template, its buttons leading to ``link_page``."""
        body = []
        for item in self.body:
            if item["type"] == "button":
                if link_page is None:
                    # Nowhere to link: a button needs a page or a URL.
                    continue
                item = {**item, "value": {**item["value"], "page": link_page.pk}}
            body.append(item)
        return EmailTemplate(
            name=name,
            subject=self.subject,
            preheader=self.preheader,
            kind="marketing",
            body=body,
        )


# -- The template -------------------------------------------------------------------------------


@dataclass(frozen=True)
class JourneyTemplate:
    """A ready-made journey: its emails, and its trigger, steps and settings.

    ``build`` gets the saved email templates by key and returns the journey's
    fields: ``trigger`` (one block), ``steps`` and any other model field
    (``goals``, ``reentry``...).
    """

    slug: str
    name: str
    description: str
    emails: tuple[EmailSpec, ...]
    build: Callable[[dict[str, EmailTemplate]], dict[str, Any]]

    def free_name(self) -> str:
        """This template's name, numbered if a journey or one of its emails has it already."""
        names = (self.name if n == 1 else f"{self.name} ({n})" for n in itertools.count(1))
        return next(name for name in names if not self.name_taken(name))

    def name_taken(self, journey_name: str) -> bool:
        """Does a journey, or an email this template would write, already have this name?"""
        return (
            Journey.objects.filter(name=journey_name).exists()
            or EmailTemplate.objects.filter(name__in=self.email_names(journey_name)).exists()
        )

    def email_names(self, journey_name: str) -> list[str]:
        """The names of the emails this template writes for a journey named ``journey_name``."""
        return [f"{journey_name}: {spec.name}" for spec in self.emails]

    @transaction.atomic
    def create(self, user=None, publish: bool = False, *, link_page=None) -> Journey:
        """Write the emails and the journey; return the journey (a draft unless ``publish``).

        ``user`` is recorded on the revisions. Buttons lead to ``link_page``,
        by default the home page of the default site (left out if there is
        none). The journey is validated as the admin would validate it.
        """
        if link_page is None:
            link_page = _home_page()
        name = self.free_name()
        emails = {}
        for spec, email_name in zip(self.emails, self.email_names(name), strict=True):
            email = spec.build(email_name, link_page)
            email.full_clean()
            email.save()
            email.save_revision(user=user)
            emails[spec.key] = email
        fields = self.build(emails)
        trigger = fields.pop("trigger")
        journey = Journey(name=name, description=self.description, trigger=[trigger], **fields)
        journey.full_clean()
        journey.live = False
        journey.save()
        revision = journey.save_revision(user=user)
        if publish:
            revision.publish(user=user)
            journey.refresh_from_db()
        return journey


def _home_page():
    site = Site.objects.filter(is_default_site=True).select_related("root_page").first()
    return site.root_page if site is not None else None


def _send(email: EmailTemplate) -> dict:
    return block("send_email", template=email.pk, variants=[])


def _wait(days: int = 0, hours: int = 0) -> dict:
    return block("wait", days=days, hours=hours, minutes=0, at_time=None, weekdays=[])


def _wait_for(event: str, *, days: int = 0, hours: int = 0, yes=(), no=()) -> dict:
    return block(
        "wait_until",
        wait_for="event",
        event=event,
        filters=[],
        match="all",
        rules=[],
        timeout_days=days,
        timeout_hours=hours,
        yes=list(yes),
        no=list(no),
    )


def _tag(tag: str, action: str = "add") -> dict:
    return block("tag", action=action, tag=tag)


def _order_goal() -> dict:
    return block("event", event="order_completed", filters=[])


def _subscribers_only() -> dict[str, Any]:
    # Marketing email goes to subscribers only: anyone else would be queued, then suppressed.
    return {"entry_rules": [block("status", statuses=["subscribed"])]}


# -- 1. Welcome series ----------------------------------------------------------------------------

WELCOME_EMAILS = (
    EmailSpec(
        "welcome",
        "1 Welcome",
        f"Welcome, {FRIEND}!",
        "Thanks for signing up. Here is what to expect from us.",
        [
            heading(f"Welcome, {FRIEND}!"),
            text(
                "<p>Thank you for signing up to hear from {{ site_name }}. We are glad you are "
                "here.</p><p>Over the next few days we will tell you a little about who we are, "
                "show you what other customers love, and after that write only when we have "
                "something worth your time: new arrivals, useful guides and the occasional "
                "offer.</p>"
            ),
            button("Start browsing"),
        ],
    ),
    EmailSpec(
        "story",
        "2 Our story",
        "The story behind {{ site_name }}",
        "Who we are, and why we do what we do.",
        [
            heading("Why we started"),
            text(
                f"<p>Hi {THERE},</p><p>Every shop starts with a reason. Ours was simple: we "
                "wanted to sell things we would happily buy ourselves, described honestly, "
                "priced fairly and sent with care.</p><ul><li><b>We choose every product</b> "
                "and only stock what we have tried.</li><li><b>We answer every email</b>: "
                "reply to this one and a person will read it.</li><li><b>We fix "
                "mistakes</b>: if something is not right, tell us and we will make it "
                "right.</li></ul>"
            ),
            button("See what we make"),
        ],
    ),
    EmailSpec(
        "popular",
        "3 Popular products",
        "What everyone is buying right now",
        "Our most popular picks, chosen for you.",
        [
            heading("Our customers' favourites"),
            text(
                f"<p>Not sure where to start, {THERE}? These are the products our customers "
                "come back for again and again.</p>"
            ),
            recommendations("Picked for you", 4),
            button("See everything"),
        ],
    ),
    EmailSpec(
        "offer",
        "4 Last-chance offer",
        f"{FRIEND}, a welcome gift before it expires",
        "A code for your first order, valid for a few days.",
        [
            heading("A little welcome gift"),
            text(
                f"<p>Hi {THERE}, we have not seen you around the shop yet, so here is a small "
                "thank-you for joining us. It is yours for the next few days.</p>"
            ),
            discount("Use this code at checkout for 10% off your first order:", "WELCOME"),
            button("Use my code"),
        ],
    ),
)


def _welcome(emails: dict[str, EmailTemplate]) -> dict[str, Any]:
    clicked_series = [
        block("email_engagement", did=True, action="clicked", template=emails[key].pk, days=None)
        for key in ("welcome", "story", "popular")
    ]
    return {
        "trigger": block("event", event="contact_subscribed", filters=[], times=1),
        "reentry": Journey.ReEntry.ONCE,
        "steps": [
            _send(emails["welcome"]),
            _wait(days=1),
            _send(emails["story"]),
            _wait(days=3),
            _send(emails["popular"]),
            block(
                "condition",
                match="any",
                rules=clicked_series,
                yes=[_tag("engaged")],
                no=[_send(emails["offer"])],
            ),
        ],
    }


# -- 2. Abandoned cart ----------------------------------------------------------------------------

CART_EMAILS = (
    EmailSpec(
        "reminder",
        "1 Reminder",
        "You left something in your cart",
        "Your items are saved: pick up where you left off.",
        [
            heading("Still thinking it over?"),
            text(
                f"<p>Hi {THERE}, you left a few things in your cart. We have saved them for "
                "you, so you can finish your order in a click.</p>"
            ),
            cart_items("Your cart"),
            text(
                "<p>Questions about sizes, delivery or returns? Reply to this email and we will "
                "help.</p>"
            ),
        ],
    ),
    EmailSpec(
        "discount",
        "2 Discount",
        "10% off the items in your cart",
        "A code just for you, to finish your order.",
        [
            heading(f"Here is 10% off, {FRIEND}"),
            text(
                "<p>Your cart is still waiting. To make the decision a little easier, here is "
                "a code for 10% off your order, made just for you.</p>"
            ),
            discount("Your code:", "CART"),
            cart_items("Still in your cart"),
        ],
    ),
)


def _abandoned_cart(emails: dict[str, EmailTemplate]) -> dict[str, Any]:
    return {
        "trigger": block("event", event="cart_abandoned", filters=[], times=1),
        **_subscribers_only(),
        "reentry": Journey.ReEntry.ONCE_PER_DAYS,
        "reentry_days": 7,
        "goals": [_order_goal()],
        "steps": [
            _send(emails["reminder"]),
            _wait_for(
                "order_completed",
                hours=24,
                no=[
                    _send(emails["discount"]),
                    _wait_for("order_completed", hours=48, no=[_tag("remarketing")]),
                ],
            ),
        ],
    }


# -- 3. Win-back ----------------------------------------------------------------------------------

WIN_BACK_EMAILS = (
    EmailSpec(
        "miss_you",
        "1 We miss you",
        f"We miss you, {FRIEND}",
        "A lot has changed since your last visit, and here is 15% off to see it.",
        [
            heading(f"It has been a while, {FRIEND}"),
            text(
                "<p>We have not seen you for a few months, and a lot has changed: new "
                "products, new favourites and a few improvements you asked for.</p><p>Come "
                "and have a look. To welcome you back, here is 15% off your next order.</p>"
            ),
            discount("Your welcome-back code:", "COMEBACK"),
            recommendations("New since your last visit", 3),
            button("Come back and look"),
        ],
    ),
    EmailSpec(
        "last_chance",
        "2 Last chance",
        "Should we stop writing to you?",
        "One click keeps you on our list; otherwise this is goodbye.",
        [
            heading("Do you still want to hear from us?"),
            text(
                f"<p>Hi {THERE}, you have not opened our emails for a while, and we only want "
                "to write to people who enjoy hearing from us.</p><p><b>Want to stay?</b> "
                "Opening this email is enough. To hear from us less often, or only about "
                'what interests you, <a href="{{ preferences_url }}">choose your email '
                "preferences</a>.</p><p>If we do not hear from you within a week, we will stop "
                "sending you marketing emails. You can sign up again at any time.</p>"
            ),
            button("Keep me on the list"),
        ],
    ),
)


def _win_back(emails: dict[str, EmailTemplate]) -> dict[str, Any]:
    # Opens end the waits: a click counts too, as nobody clicks an unopened email.
    return {
        "trigger": block("inactive", days=90),
        "reentry": Journey.ReEntry.NOT_WHILE_ACTIVE,
        "goals": [_order_goal()],
        "steps": [
            _send(emails["miss_you"]),
            _wait_for(
                "email_opened",
                days=7,
                no=[
                    _send(emails["last_chance"]),
                    _wait_for(
                        "email_opened",
                        days=7,
                        no=[
                            _tag("inactive"),
                            block("update_field", field="unsubscribe", custom_field="", value=""),
                        ],
                    ),
                ],
            ),
        ],
    }


# -- 4. Product interest --------------------------------------------------------------------------

INTEREST_EMAILS = (
    EmailSpec(
        "picks",
        "1 Recommendations",
        f"{FRIEND}, we picked these for you",
        "Based on what you have been looking at.",
        [
            heading("Still looking?"),
            text(
                f"<p>Hi {THERE}, we noticed you have been browsing. Here are a few products "
                "we think you will like, based on what you looked at.</p>"
            ),
            recommendations("Picked for you", 4),
            {"type": "wishlist_items", "value": {"heading": "Saved for later", "limit": 4}},
            text(
                "<p>Not quite right? Reply and tell us what you are looking for; we are happy "
                "to help you choose.</p>"
            ),
        ],
    ),
)


def _product_interest(emails: dict[str, EmailTemplate]) -> dict[str, Any]:
    return {
        "trigger": block("event", event="product_viewed", filters=[], times=3, within_days=7),
        **_subscribers_only(),
        "reentry": Journey.ReEntry.ONCE_PER_DAYS,
        "reentry_days": 30,
        "steps": [
            _send(emails["picks"]),
            _wait_for("email_clicked", days=3, yes=[_tag("interest")]),
        ],
    }


# -- 5. Post-purchase -----------------------------------------------------------------------------

POST_PURCHASE_EMAILS = (
    EmailSpec(
        "thanks",
        "1 Thank you",
        f"Thank you for your order, {FRIEND}",
        "We are getting it ready for you.",
        [
            heading(f"Thank you, {FRIEND}!"),
            text(
                "<p>Thank you for your order{% if context.order_ref %} "
                "<b>{{ context.order_ref }}</b>{% endif %}. It means a lot to a shop like "
                "ours.</p><p>We are getting everything ready and will let you know as soon as "
                "it is on its way. If anything is wrong with your order, just reply to this "
                "email.</p>"
            ),
        ],
    ),
    EmailSpec(
        "tips",
        "2 Tips",
        "Getting the most from your order",
        "A few tips from our team.",
        [
            heading("A few tips from our team"),
            text(
                f"<p>Hi {THERE}, your order should have arrived by now. Here is how to get "
                "the most out of it:</p><ol><li><b>Read the care instructions</b> on the "
                "label or packaging: a minute now adds months of use.</li><li><b>Keep the "
                "packaging</b> for a couple of weeks, in case anything needs to come back."
                "</li><li><b>Ask us anything</b>: reply to this email with any question.</li>"
                "</ol>"
            ),
            recommendations("Goes well with your order", 3),
        ],
    ),
    EmailSpec(
        "review",
        "3 Review request",
        f"How are you getting on, {FRIEND}?",
        "Two minutes of your time helps other customers choose.",
        [
            heading("How did we do?"),
            text(
                "<p>You have had your order for about ten days now. We would love to know what "
                "you think.</p><p>A short review helps other customers choose and tells us "
                "what to keep doing and what to improve. Good or bad, we read every one. You "
                "can also simply reply to this email.</p>"
            ),
            button("Write a review"),
        ],
    ),
)


def _post_purchase(emails: dict[str, EmailTemplate]) -> dict[str, Any]:
    return {
        "trigger": block("event", event="order_completed", filters=[], times=1),
        **_subscribers_only(),
        "reentry": Journey.ReEntry.NOT_WHILE_ACTIVE,
        "steps": [
            _send(emails["thanks"]),
            _wait(days=3),
            _send(emails["tips"]),
            _wait(days=7),
            _send(emails["review"]),
        ],
    }


JOURNEY_TEMPLATES: list[JourneyTemplate] = [
    JourneyTemplate(
        "welcome-series",
        "Welcome series",
        "Greets new subscribers: a welcome email at once, the brand story a day later and "
        "popular products three days after that. Subscribers who clicked none of the three "
        "get a last-chance welcome offer; those who clicked are tagged “engaged”.",
        WELCOME_EMAILS,
        _welcome,
    ),
    JourneyTemplate(
        "abandoned-cart",
        "Abandoned cart",
        "Brings back carts left behind: a reminder with the cart's items, a unique discount "
        "code a day later if no order came, and the tag “remarketing” two days after that. "
        "An order ends the journey at once; a contact enters at most once a week.",
        CART_EMAILS,
        _abandoned_cart,
    ),
    JourneyTemplate(
        "win-back",
        "Win-back",
        "Re-engages contacts with no visit, open or click for 90 days: a “we miss you” email "
        "with an incentive, then a last chance to stay. Contacts who open neither are tagged "
        "“inactive” and unsubscribed from marketing email. An order ends the journey.",
        WIN_BACK_EMAILS,
        _win_back,
    ),
    JourneyTemplate(
        "product-interest",
        "Product interest",
        "Follows up on browsing: after three product views in seven days, an email of "
        "recommendations (and the contact's wishlist). A click within three days tags the "
        "contact “interest”. To react to wishlisting instead, change the trigger's event to "
        "wishlist_item_added.",
        INTEREST_EMAILS,
        _product_interest,
    ),
    JourneyTemplate(
        "post-purchase",
        "Post-purchase",
        "Looks after buyers: a thank-you at once, tips three days later and a review request "
        "a week after that.",
        POST_PURCHASE_EMAILS,
        _post_purchase,
    ),
]


def get_template(slug: str) -> JourneyTemplate:
    """The journey template with this slug; ``LookupError`` if there is none."""
    for template in JOURNEY_TEMPLATES:
        if template.slug == slug:
            return template
    raise LookupError(f"No journey template has the slug {slug!r}.")
