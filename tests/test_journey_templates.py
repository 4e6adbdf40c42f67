"""The five journey templates, each created, published and run end to end on a travelling clock.

Events go through ``track`` (``fire``) or the detectors of a tick
(``tick_at``), opens and clicks through the same functions the tracking
views call, and email through Anymail's test backend, as in production.
"""

import re
from datetime import timedelta

import pytest
from django.core import mail
from django.utils import timezone

from tests.conftest import BROWSER_UA
from tests.journey_helpers import (
    enrollment_of,
    fire,
    later,
    subjects,
    subscribed,
    tick_at,
    trail,
)
from wagtail_journeys.email import tokens
from wagtail_journeys.email.tracking import Hit, record_click, record_open
from wagtail_journeys.journeys.templates import JOURNEY_TEMPLATES, get_template
from wagtail_journeys.models import Cart, Contact, EmailTemplate, Enrollment, Journey, Message
from wagtail_journeys.tracking.events import record_event

pytestmark = pytest.mark.django_db

BASE = "https://shop.example.com"
SITE = "wagtail-journeys tests"  # WAGTAIL_SITE_NAME of the test settings: {{ site_name }}


@pytest.fixture(autouse=True)
def anymail(settings):
    settings.EMAIL_BACKEND = "anymail.backends.test.EmailBackend"
    settings.WAGTAIL_JOURNEYS = {"BASE_URL": BASE}
    mail.outbox = []


@pytest.fixture
def capture(django_capture_on_commit_callbacks):
    return django_capture_on_commit_callbacks


def published(slug: str) -> Journey:
    journey = get_template(slug).create(publish=True)
    assert journey.live and journey.accepts_contacts
    return journey


def tags(contact) -> list[str]:
    return sorted(contact.tags.names())


def message(contact, subject: str) -> Message:
    return Message.objects.get(contact=contact, subject=subject)


def sent_to(contact) -> list:
    return [email for email in mail.outbox if email.to == [contact.email]]


def click(capture, contact, subject: str, at) -> None:
    """The contact clicks a link of the email with ``subject`` (as the click redirect records)."""
    with capture(execute=True):
        record_click(
            message(contact, subject),
            f"{BASE}/",
            Hit(user_agent=BROWSER_UA, at=at),
            source="redirect",
        )


def open_email(capture, contact, subject: str, at) -> None:
    """The contact opens the email with ``subject`` (as the open pixel records)."""
    with capture(execute=True):
        record_open(message(contact, subject), Hit(user_agent=BROWSER_UA, at=at), source="pixel")


def happen(capture, contact, name: str, at, **properties) -> None:
    """An event at a moment of the travelling clock (``fire`` records it at the real now)."""
    with capture(execute=True):
        record_event(contact, name, properties, occurred_at=at)


def branches(enrollment) -> list[tuple[str, str]]:
    """(step type, branch) of every branching step the contact went through."""
    return [(step, branch) for step, _result, branch in trail(enrollment) if branch]


# -- Creating them ---------------------------------------------------------------------------------


@pytest.mark.parametrize("template", JOURNEY_TEMPLATES, ids=lambda template: template.slug)
def test_create_makes_a_valid_draft_with_revised_emails_and_numbers_a_second_copy(template):
    first = template.create()
    assert (first.name, first.live) == (template.name, False)
    assert first.latest_revision is not None and first.live_revision is None
    assert first.description == template.description
    first.full_clean()

    second = template.create()
    assert second.name == f"{template.name} (2)"
    assert Journey.objects.filter(name__startswith=template.name).count() == 2
    emails = EmailTemplate.objects.filter(name__startswith=f"{template.name}: ")
    assert emails.count() == len(template.emails)
    assert EmailTemplate.objects.filter(name__startswith=f"{template.name} (2): ").count() == len(
        template.emails
    )
    for email in EmailTemplate.objects.all():
        assert email.latest_revision is not None, email.name
        email.full_clean()


def test_slugs_are_unique_and_unknown_ones_are_refused():
    slugs = [template.slug for template in JOURNEY_TEMPLATES]
    assert slugs == [
        "welcome-series",
        "abandoned-cart",
        "win-back",
        "product-interest",
        "post-purchase",
    ]
    with pytest.raises(LookupError):
        get_template("nope")


def test_buttons_lead_to_the_page_given(simple_page):
    journey = get_template("welcome-series").create(link_page=simple_page)
    welcome = EmailTemplate.objects.get(name=f"{journey.name}: 1 Welcome")
    [button] = [child for child in welcome.body if child.block_type == "button"]
    assert button.value["page"].specific == simple_page


# -- Welcome series --------------------------------------------------------------------------------

WELCOME = "Welcome, Ada!"
STORY = f"The story behind {SITE}"
POPULAR = "What everyone is buying right now"
OFFER = "Ada, a welcome gift before it expires"


def test_welcome_series_with_a_click_tags_engaged(capture):
    journey = published("welcome-series")
    contact = subscribed(first_name="Ada")
    fire(capture, contact, "contact_subscribed")
    assert subjects(contact) == [WELCOME]
    click(capture, contact, WELCOME, at=later(hours=2))

    tick_at(capture, later(hours=23))
    assert subjects(contact) == [WELCOME]
    tick_at(capture, later(days=1, minutes=1))
    assert subjects(contact) == [WELCOME, STORY]
    tick_at(capture, later(days=3, hours=23))
    assert subjects(contact) == [WELCOME, STORY]
    tick_at(capture, later(days=4, minutes=2))

    assert subjects(contact) == [WELCOME, STORY, POPULAR]
    assert [email.subject for email in sent_to(contact)] == [WELCOME, STORY, POPULAR]
    assert tags(contact) == ["engaged"]
    enrollment = enrollment_of(contact, journey)
    assert enrollment.status == Enrollment.Status.COMPLETED
    assert branches(enrollment) == [("condition", "yes")]


def test_welcome_series_without_a_click_sends_the_last_chance_offer(capture):
    journey = published("welcome-series")
    contact = subscribed(first_name="Ada")
    fire(capture, contact, "contact_subscribed")
    tick_at(capture, later(days=1, minutes=1))
    tick_at(capture, later(days=4, minutes=2))

    assert subjects(contact) == [WELCOME, STORY, POPULAR, OFFER]
    assert tags(contact) == []
    offer = sent_to(contact)[-1]
    assert re.search(r"WELCOME-[A-Z0-9]{4,}", offer.body)
    enrollment = enrollment_of(contact, journey)
    assert enrollment.status == Enrollment.Status.COMPLETED
    assert branches(enrollment) == [("condition", "no")]
    # Once per contact: subscribing again starts nothing.
    fire(capture, contact, "contact_subscribed")
    assert Enrollment.objects.filter(journey=journey, contact=contact).count() == 1


# -- Abandoned cart --------------------------------------------------------------------------------

REMINDER = "You left something in your cart"
DISCOUNT = "10% off the items in your cart"


def abandon_cart(capture, contact, gadget, at):
    """An open cart, last touched two hours before ``at``; the tick at ``at`` finds it."""
    cart = Cart.objects.create(contact=contact, currency="EUR")
    cart.add(gadget, quantity=2)
    Cart.objects.filter(pk=cart.pk).update(updated_at=at - timedelta(hours=2))
    tick_at(capture, at)
    cart.refresh_from_db()
    assert cart.status == Cart.Status.ABANDONED
    return cart


def test_abandoned_cart_order_mid_wait_ends_the_journey_at_once(capture, gadget):
    journey = published("abandoned-cart")
    contact = subscribed(first_name="Ada")
    abandon_cart(capture, contact, gadget, timezone.now())

    assert subjects(contact) == [REMINDER]
    [reminder] = sent_to(contact)
    assert "2 × Widget" in reminder.body and "Return to your cart" in reminder.body
    enrollment = enrollment_of(contact, journey)
    assert enrollment.status == Enrollment.Status.WAITING

    happen(capture, contact, "order_completed", later(hours=5), order_ref="A-1")
    enrollment.refresh_from_db()
    assert enrollment.status == Enrollment.Status.EXITED
    assert enrollment.next_run_at is None
    assert "order_completed" in enrollment.exit_reason
    assert trail(enrollment)[-1][1] == "goal"

    tick_at(capture, later(days=4))
    assert subjects(contact) == [REMINDER]
    assert tags(contact) == []


def test_abandoned_cart_without_an_order_sends_a_code_then_tags_remarketing(capture, gadget):
    journey = published("abandoned-cart")
    contact = subscribed(first_name="Ada")
    abandon_cart(capture, contact, gadget, timezone.now())

    tick_at(capture, later(hours=23))
    assert subjects(contact) == [REMINDER]
    tick_at(capture, later(hours=24, minutes=1))
    assert subjects(contact) == [REMINDER, DISCOUNT]
    discount = sent_to(contact)[-1]
    assert re.search(r"CART-[A-Z0-9]{4,}", discount.body)
    assert "2 × Widget" in discount.body

    tick_at(capture, later(hours=71))
    assert tags(contact) == []
    tick_at(capture, later(hours=72, minutes=2))
    assert tags(contact) == ["remarketing"]
    enrollment = enrollment_of(contact, journey)
    assert enrollment.status == Enrollment.Status.COMPLETED
    assert branches(enrollment) == [("wait_until", "no"), ("wait_until", "no")]

    # At most once per 7 days: another cart left on day 3 starts nothing.
    abandon_cart(capture, contact, gadget, later(days=3, hours=1))
    assert Enrollment.objects.filter(journey=journey, contact=contact).count() == 1
    assert subjects(contact) == [REMINDER, DISCOUNT]


# -- Win-back --------------------------------------------------------------------------------------

MISS_YOU = "We miss you, Ada"
LAST_CHANCE = "Should we stop writing to you?"


def preferences_of(url: str) -> int:
    """The contact a preference-centre link is for (its token is signed with the time)."""
    prefix = f"{BASE}/journeys/p/"
    assert url.startswith(prefix) and url.endswith("/"), url
    (contact_id,) = tokens.read_token(tokens.PREFERENCES, url[len(prefix) : -1])
    return contact_id


def inactive_contact():
    contact = subscribed(first_name="Ada")
    now = timezone.now()
    Contact.objects.filter(pk=contact.pk).update(
        created_at=now - timedelta(days=200), last_seen_at=now - timedelta(days=100)
    )
    return contact


def test_win_back_through_the_inactivity_detector_ends_in_unsubscribe(capture):
    journey = published("win-back")
    contact = inactive_contact()
    recent = subscribed(first_name="Bo")  # created today: not inactive
    tick_at(capture, timezone.now())

    assert subjects(contact) == [MISS_YOU]
    assert subjects(recent) == []
    assert re.search(r"COMEBACK-[A-Z0-9]{4,}", sent_to(contact)[0].body)

    tick_at(capture, later(days=6, hours=23))
    assert subjects(contact) == [MISS_YOU]
    tick_at(capture, later(days=7, minutes=1))
    assert subjects(contact) == [MISS_YOU, LAST_CHANCE]
    html = sent_to(contact)[-1].alternatives[0][0]
    preferences = re.search(r'<a href="([^"]+)"[^>]*>choose your email preferences</a>', html)
    assert preferences_of(preferences.group(1)) == contact.pk

    tick_at(capture, later(days=14, minutes=2))
    contact.refresh_from_db()
    assert tags(contact) == ["inactive"]
    assert contact.status == Contact.Status.UNSUBSCRIBED
    enrollment = enrollment_of(contact, journey)
    assert enrollment.status == Enrollment.Status.COMPLETED
    assert branches(enrollment) == [("wait_until", "no"), ("wait_until", "no")]
    assert len(sent_to(contact)) == 2


def test_win_back_open_keeps_the_contact(capture):
    journey = published("win-back")
    contact = inactive_contact()
    tick_at(capture, timezone.now())
    open_email(capture, contact, MISS_YOU, at=later(days=2))

    enrollment = enrollment_of(contact, journey)
    assert enrollment.status == Enrollment.Status.COMPLETED
    assert branches(enrollment) == [("wait_until", "yes")]
    tick_at(capture, later(days=20))
    contact.refresh_from_db()
    assert subjects(contact) == [MISS_YOU]
    assert contact.status == Contact.Status.SUBSCRIBED and tags(contact) == []


def test_win_back_last_chance_plain_text_has_the_preferences_link(capture):
    published("win-back")
    contact = inactive_contact()
    tick_at(capture, timezone.now())
    tick_at(capture, later(days=7, minutes=1))
    # Our own links are not click-tracked: the text part shows the preferences URL itself.
    (sent,) = [email for email in mail.outbox if email.subject == LAST_CHANCE]
    text_link = re.search(rf"{re.escape(BASE)}/journeys/p/[^\s/]+/", sent.body)
    assert preferences_of(text_link.group(0)) == contact.pk
    # Not a merge field made "absolute" before it was filled in (BASE/BASE/journeys/p/...).
    assert not [url for url in message(contact, LAST_CHANCE).links if url.count("://") > 1]


# -- Product interest ------------------------------------------------------------------------------

PICKS = "Ada, we picked these for you"


def test_product_interest_starts_on_the_third_view_and_tags_a_click(capture, gadget):
    journey = published("product-interest")
    clicker, idler = subscribed(first_name="Ada"), subscribed(first_name="Ada")
    for contact in (clicker, idler):
        for _view in range(2):
            fire(capture, contact, "product_viewed", sku="W-1")
        assert not Enrollment.objects.filter(contact=contact).exists()
        fire(capture, contact, "product_viewed", sku="W-1")
        assert subjects(contact) == [PICKS]

    click(capture, clicker, PICKS, at=later(days=1))
    tick_at(capture, later(days=3, minutes=1))

    assert tags(clicker) == ["interest"]
    assert branches(enrollment_of(clicker, journey)) == [("wait_until", "yes")]
    assert tags(idler) == []
    assert branches(enrollment_of(idler, journey)) == [("wait_until", "no")]
    for contact in (clicker, idler):
        assert enrollment_of(contact, journey).status == Enrollment.Status.COMPLETED
        # Once per 30 days: more views start nothing.
        fire(capture, contact, "product_viewed", sku="W-1")
        assert subjects(contact) == [PICKS]


def test_marketing_templates_admit_subscribers_only(capture, gadget):
    from tests.factories import ContactFactory

    journeys = [published(slug) for slug in ("product-interest", "post-purchase")]
    visitor = ContactFactory(status="pending", consent={})
    for _view in range(3):
        fire(capture, visitor, "product_viewed", sku="W-1")
    fire(capture, visitor, "order_completed", order_ref="A-1", total=10)
    assert not Enrollment.objects.filter(contact=visitor, journey__in=journeys).exists()
    assert subjects(visitor) == []


def test_product_interest_email_shows_the_wishlist(capture, gadget):
    from wagtail_journeys.models import Wishlist

    published("product-interest")
    contact = subscribed(first_name="Ada")
    Wishlist.objects.create(contact=contact).add(gadget)
    for _view in range(3):
        fire(capture, contact, "product_viewed", sku="W-1")
    [email] = sent_to(contact)
    assert "Saved for later" in email.body and "Widget" in email.body


# -- Post-purchase ---------------------------------------------------------------------------------

THANKS = "Thank you for your order, Ada"
TIPS = "Getting the most from your order"
REVIEW = "How are you getting on, Ada?"


def test_post_purchase_thanks_tips_then_review(capture):
    journey = published("post-purchase")
    contact = subscribed(first_name="Ada")
    fire(capture, contact, "order_completed", order_ref="KB-1001", total="25.80")

    assert subjects(contact) == [THANKS]
    assert "KB-1001" in sent_to(contact)[0].body
    tick_at(capture, later(days=2, hours=23))
    assert subjects(contact) == [THANKS]
    tick_at(capture, later(days=3, minutes=1))
    assert subjects(contact) == [THANKS, TIPS]
    tick_at(capture, later(days=10))
    assert subjects(contact) == [THANKS, TIPS]
    tick_at(capture, later(days=10, minutes=2))

    assert subjects(contact) == [THANKS, TIPS, REVIEW]
    assert [email.subject for email in sent_to(contact)] == [THANKS, TIPS, REVIEW]
    assert enrollment_of(contact, journey).status == Enrollment.Status.COMPLETED
