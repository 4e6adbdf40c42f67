"""The demo's simulated traffic: the real pipeline, driven on a simulated clock.

A few days and a few dozen visitors keep these fast; the simulation ends at
least a day before the real "now", so anything stamped with the real clock instead of
the simulated one shows up as outside the range.
"""

from datetime import timedelta
from io import StringIO

import pytest
from django.core import mail
from django.core.management import CommandError, call_command
from django.utils import timezone

from example_site.storefront.demo_data import load_demo_data
from example_site.storefront.demo_data.traffic import VISITOR_DOMAIN, simulate_traffic
from wagtail_journeys.models import (
    Cart,
    ConsentRecord,
    Contact,
    Enrollment,
    Event,
    Journey,
    Message,
    MessageEvent,
    StepRun,
)

pytestmark = pytest.mark.django_db
#: Real commits: the pipeline reacts to events once their transaction commits, as in production
#: (tests/conftest.py puts back the rows of Wagtail's migrations that a flush deletes).
committing = pytest.mark.django_db(transaction=True)

DAYS = 3


@pytest.fixture(scope="module")
def end():
    # The same time of day in every run: with a few dozen visitors, whether a cart is left long
    # enough to be abandoned before the end depends on it (at 16:30 none was, at 16:00 some).
    return (timezone.now() - timedelta(days=2)).replace(hour=16, minute=0, second=0, microsecond=0)


@pytest.fixture
def simulated(journeys_mail, end):
    load_demo_data()
    report = simulate_traffic(days=DAYS, visitors=40, seed=7, now=end)
    return report


def in_range(values, start, end) -> list:
    """The values outside [start, end]."""
    return [value for value in values if not start <= value <= end]


@committing
def test_simulation_drives_the_pipeline_on_the_simulated_clock(simulated, end):
    start = end - timedelta(days=DAYS)
    assert (simulated.start, simulated.end) == (start, end)

    events = Event.objects.all()
    names = set(events.values_list("name", flat=True))
    assert {"page_viewed", "product_viewed", "email_sent", "email_opened"} <= names
    assert not in_range(events.values_list("occurred_at", flat=True), start, end)

    # Orders went through the cart API, with revenue.
    orders = Cart.objects.filter(status=Cart.Status.CONVERTED)
    assert orders.count() == simulated.orders > 0
    assert all(order.order_total > 0 for order in orders)
    assert Event.objects.filter(name="order_completed").count() == simulated.orders

    # Emails were delivered by the configured backend (Anymail's test backend), at sim time.
    sent = Message.objects.filter(status=Message.Status.SENT)
    assert sent.count() == simulated.emails_sent > 0
    assert len(mail.outbox) >= sent.count()
    assert all(email.to[0].endswith(f"@{VISITOR_DOMAIN}") for email in mail.outbox)
    assert not in_range(sent.values_list("sent_at", flat=True), start, end)

    # Opens (some by machines) and clicks, stored as message events at sim time.
    opens = MessageEvent.objects.filter(kind=MessageEvent.Kind.OPENED)
    clicks = MessageEvent.objects.filter(kind=MessageEvent.Kind.CLICKED)
    assert opens.filter(machine=False).count() == simulated.opens > 0
    assert opens.filter(machine=True).count() == simulated.machine_opens
    assert clicks.count() == simulated.clicks
    timed = opens.values_list("occurred_at", flat=True).union(
        clicks.values_list("occurred_at", flat=True)
    )
    assert not in_range(timed, start, end)

    # The demo journeys enrolled contacts and ran their steps, at sim time.
    welcome = Journey.objects.get(name="Welcome series")
    assert Enrollment.objects.filter(journey=welcome).exists()
    assert StepRun.objects.filter(journey_id=welcome.pk, result="sent").exists()
    assert not in_range(Enrollment.objects.values_list("entered_at", flat=True), start, end)
    assert not in_range(StepRun.objects.values_list("at", flat=True), start, end)

    # A few hundred page views from the visitors, most of whom never gave an address.
    assert Event.objects.filter(name="page_viewed").count() == simulated.page_views
    known = Contact.objects.filter(email__endswith=f"@{VISITOR_DOMAIN}").count()
    assert 0 < known < Contact.objects.count()


@committing
def test_carts_orders_and_signups_are_dated_in_the_simulated_range(simulated, end):
    start = end - timedelta(days=DAYS)
    names = {"cart_item_added", "order_completed", "contact_identified", "contact_subscribed"}
    events = Event.objects.filter(name__in=names)
    assert set(events.values_list("name", flat=True)) == names
    assert not in_range(events.values_list("occurred_at", flat=True), start, end)
    carts = Cart.objects.all()
    assert not in_range(carts.values_list("created_at", flat=True), start, end)
    assert not in_range(carts.values_list("updated_at", flat=True), start, end)
    orders = carts.filter(status=Cart.Status.CONVERTED)
    assert not in_range(orders.values_list("converted_at", flat=True), start, end)
    assert ConsentRecord.objects.exists()
    assert not in_range(ConsentRecord.objects.values_list("created_at", flat=True), start, end)
    assert not in_range(Message.objects.values_list("created_at", flat=True), start, end)

    # Orders are spread over the days, not all on the last one.
    order_days = {converted.date() for converted in orders.values_list("converted_at", flat=True)}
    assert len(order_days) > 1

    # Carts left behind were found abandoned during the simulation, and the journey took them.
    abandoned = Event.objects.filter(name="cart_abandoned")
    assert abandoned.exists()
    assert not in_range(abandoned.values_list("occurred_at", flat=True), start, end)
    enrolled = Enrollment.objects.filter(journey__name="Abandoned cart")
    assert enrolled.exists()
    assert not in_range(enrolled.values_list("entered_at", flat=True), start, end)


def test_the_command_adds_visitors_each_run_and_shows_progress(journeys_mail):
    load_demo_data()
    err = StringIO()
    call_command("journeys_simulate_traffic", days=1, visitors=5, stdout=StringIO(), stderr=err)
    assert "100% of 24 hours" in err.getvalue()
    quiet = StringIO()
    call_command(
        "journeys_simulate_traffic", days=1, visitors=5, verbosity=0, stdout=quiet, stderr=quiet
    )
    assert quiet.getvalue() == ""
    visitors = Contact.objects.filter(email__endswith=f"@{VISITOR_DOMAIN}")
    assert len(set(visitors.values_list("email", flat=True))) == visitors.count()


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"days": 0}, "--days must be a whole number from 1 to 365, not 0."),
        ({"days": 400}, "--days must be a whole number from 1 to 365, not 400."),
        ({"visitors": -3}, "--visitors must be a whole number from 1 to 100000, not -3."),
    ],
)
def test_bad_options_are_refused_with_a_clear_message(options, message):
    with pytest.raises(CommandError, match=message.replace(".", r"\.")):
        call_command("journeys_simulate_traffic", **options)


def test_without_the_demo_data_the_command_says_what_to_run():
    with pytest.raises(CommandError, match="load_demo_data"):
        call_command("journeys_simulate_traffic", days=1, visitors=1, verbosity=0)
