"""Segments: every rule compiled to SQL, the seed's examples, validation, membership, events."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone
from wagtail import blocks

from tests.factories import ContactFactory
from wagtail_journeys.models import (
    Cart,
    CartItem,
    Contact,
    EmailTemplate,
    Event,
    Message,
    Segment,
    SegmentMembership,
    Wishlist,
    WishlistItem,
)
from wagtail_journeys.segments.conditions import matches, matching
from wagtail_journeys.segments.membership import refresh_contact, refresh_segment
from wagtail_journeys.tracking.events import record_event

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def rule(kind, **value):
    return {"type": kind, "value": value}


def event_rule(event, *, count=1, comparison="at_least", period="last_days", days=7, **extra):
    value = {
        "event": event,
        "filters": [],
        "comparison": comparison,
        "count": count,
        "period": period,
        "days": days,
        "start": None,
        "end": None,
    }
    value.update(extra)
    return rule("event", **value)


def field_rule(field, operator, value="", *, custom_field="", custom_type="text"):
    return rule(
        "field",
        field=field,
        custom_field=custom_field,
        custom_type=custom_type,
        operator=operator,
        value=value,
    )


def group(*rules, match="all", negate=False):
    return rule("group", match=match, negate=negate, rules=list(rules))


def make_segment(*rules, match="all", name=None, kind=Segment.Kind.DYNAMIC):
    segment = Segment(
        name=name or f"segment {Segment.objects.count()}", kind=kind, match=match, rules=list(rules)
    )
    segment.full_clean()
    segment.save()
    return segment


def emails(segment):
    """Who the segment's rules match now, by email, checked both ways."""
    found = set(matching(segment.match, segment.rules, now=NOW).values_list("email", flat=True))
    for contact in Contact.objects.all():
        # The per-contact answer must agree with the set, contact by contact.
        assert matches(segment.match, segment.rules, contact, now=NOW) == (contact.email in found)
    return found


def event(contact, name, *, ago=timedelta(hours=1), **fields):
    return Event.objects.create(contact=contact, name=name, occurred_at=NOW - ago, **fields)


# The seed's four examples


def test_abandoned_a_cart_within_the_last_24_hours():
    recent, old, open_cart = ContactFactory.create_batch(3)
    Cart.objects.create(
        contact=recent, status="abandoned", currency="EUR", abandoned_at=NOW - timedelta(hours=3)
    )
    Cart.objects.create(
        contact=old, status="abandoned", currency="EUR", abandoned_at=NOW - timedelta(days=3)
    )
    Cart.objects.create(contact=open_cart, status="open", currency="EUR")
    segment = make_segment(
        rule("cart", condition="abandoned_within", hours=None, days=1, at_least=None, at_most=None)
    )
    assert emails(segment) == {recent.email}


def test_viewed_the_pricing_page_but_did_not_buy():
    looked, bought, elsewhere = ContactFactory.create_batch(3)
    event(looked, "page_viewed", path="/pricing/")
    event(bought, "page_viewed", path="/pricing/team/")
    event(bought, "order_completed", ago=timedelta(minutes=5))
    event(elsewhere, "page_viewed", path="/blog/pricing-news/")
    segment = make_segment(
        rule(
            "page_visit",
            page=None,
            page_type="",
            path_prefix="/pricing/",
            min_seconds=None,
            comparison="at_least",
            count=1,
            period="last_days",
            days=30,
            start=None,
            end=None,
        ),
        event_rule("order_completed", comparison="at_most", count=0, period="ever", days=None),
    )
    assert emails(segment) == {looked.email}


def test_opened_nothing_in_90_days():
    template = EmailTemplate.objects.create(name="News", subject="News")
    fresh, stale, never = ContactFactory.create_batch(3)
    for contact, opened in ((fresh, NOW - timedelta(days=2)), (stale, NOW - timedelta(days=200))):
        Message.objects.create(
            contact=contact,
            template=template,
            to_email=contact.email,
            idempotency_key=f"news:{contact.pk}",
            status="sent",
            sent_at=opened,
            first_opened_at=opened,
        )
    segment = make_segment(
        rule("email_engagement", did=False, action="opened", template=None, days=90)
    )
    assert emails(segment) == {stale.email, never.email}


def test_viewed_product_x_three_or_more_times_in_7_days():
    keen, twice, other_product, too_long_ago = ContactFactory.create_batch(4)
    for _ in range(3):
        event(keen, "product_viewed", properties={"sku": "X1"})
        event(other_product, "product_viewed", properties={"sku": "Y2"})
        event(too_long_ago, "product_viewed", properties={"sku": "X1"}, ago=timedelta(days=8))
    for _ in range(2):
        event(twice, "product_viewed", properties={"sku": "X1"})
    segment = make_segment(
        event_rule(
            "product_viewed",
            count=3,
            filters=[{"key": "sku", "operator": "equals", "value": "X1"}],
        )
    )
    assert emails(segment) == {keen.email}


# Contact fields, tags, status and consent


def test_text_fields_compare_without_regard_to_case():
    ada = ContactFactory(first_name="Ada", locale="fr-FR")
    ContactFactory(first_name="Grace", locale="")
    assert emails(make_segment(field_rule("first_name", "equals", "ada"))) == {ada.email}
    assert emails(make_segment(field_rule("email", "ends_with", ada.email[-15:]))) >= {ada.email}
    assert emails(make_segment(field_rule("locale", "is_set"))) == {ada.email}
    assert ada.email not in emails(make_segment(field_rule("first_name", "not_contains", "d")))


def test_date_fields_and_day_windows():
    seen = ContactFactory(last_seen_at=NOW - timedelta(days=2))
    ContactFactory(last_seen_at=NOW - timedelta(days=40))
    never = ContactFactory(last_seen_at=None)
    assert emails(make_segment(field_rule("last_seen_at", "within_last_days", "7"))) == {seen.email}
    assert emails(make_segment(field_rule("last_seen_at", "is_not_set"))) == {never.email}
    day = (NOW - timedelta(days=2)).date()
    assert emails(make_segment(field_rule("last_seen_at", "equals", day.isoformat()))) == {
        seen.email
    }


def test_custom_fields_of_each_type():
    young = ContactFactory(custom_fields={"age": 25, "birthday": "2000-03-01", "vip": False})
    old = ContactFactory(custom_fields={"age": 61, "birthday": "1964-12-24", "vip": True})
    ContactFactory(custom_fields={})

    def custom(name, kind, operator, value=""):
        return make_segment(
            field_rule("custom", operator, value, custom_field=name, custom_type=kind)
        )

    assert emails(custom("age", "number", "gte", "60")) == {old.email}
    assert emails(custom("age", "number", "lt", "60")) == {young.email}
    assert emails(custom("birthday", "date", "before", "1990-01-01")) == {old.email}
    assert emails(custom("vip", "boolean", "is_true")) == {old.email}
    assert emails(custom("age", "number", "is_set")) == {young.email, old.email}


def test_tags_status_and_consent():
    tagged = ContactFactory(status="subscribed", consent={"email": True})
    tagged.tags.add("VIP")
    plain = ContactFactory(status="unsubscribed", consent={"email": False})
    assert emails(make_segment(rule("tag", has=True, tag="vip"))) == {tagged.email}
    assert emails(make_segment(rule("tag", has=False, tag="vip"))) == {plain.email}
    assert emails(make_segment(rule("status", statuses=["subscribed", "pending"]))) == {
        tagged.email
    }
    assert emails(make_segment(rule("consent", channel="email", given=False))) == {plain.email}


# Behaviour


def test_event_counts_at_most_exactly_and_between_dates():
    none, one, three = ContactFactory.create_batch(3)
    event(one, "order_completed", ago=timedelta(days=10))
    for days in (1, 2, 3):
        event(three, "order_completed", ago=timedelta(days=days))
    at_most_one = event_rule("order_completed", comparison="at_most", count=1, period="ever")
    assert emails(make_segment(at_most_one)) == {none.email, one.email}
    exactly = event_rule("order_completed", comparison="exactly", count=3, period="ever")
    assert emails(make_segment(exactly)) == {three.email}
    start, end = (NOW - timedelta(days=12)).date(), (NOW - timedelta(days=8)).date()
    between = event_rule("order_completed", period="between", days=None, start=start, end=end)
    assert emails(make_segment(between)) == {one.email}


def test_event_property_filters_with_numbers():
    big, small = ContactFactory.create_batch(2)
    event(big, "order_completed", properties={"total": 120.5, "coupon": "SPRING"})
    event(small, "order_completed", properties={"total": "20", "coupon": "none"})
    filters = [{"key": "total", "operator": "gte", "value": "100"}]
    assert emails(make_segment(event_rule("order_completed", filters=filters))) == {big.email}
    filters = [{"key": "total", "operator": "equals", "value": "20"}]
    assert emails(make_segment(event_rule("order_completed", filters=filters))) == {small.email}
    filters = [{"key": "coupon", "operator": "contains", "value": "spr"}]
    assert emails(make_segment(event_rule("order_completed", filters=filters))) == {big.email}


def test_page_visits_by_page_type_and_time_on_page(simple_page):
    by_type, long_stay, short_stay = ContactFactory.create_batch(3)
    event(by_type, "page_viewed", page=simple_page, path=simple_page.url)
    event(long_stay, "page_time", properties={"duration_ms": 95_000}, path="/guide/")
    event(short_stay, "page_time", properties={"duration_ms": 4_000}, path="/guide/")
    page_type = f"{simple_page._meta.app_label}.{simple_page.__class__.__name__}"
    visit = {
        "page": None,
        "page_type": "",
        "path_prefix": "",
        "min_seconds": None,
        "comparison": "at_least",
        "count": 1,
        "period": "ever",
        "days": None,
        "start": None,
        "end": None,
    }
    assert emails(make_segment(rule("page_visit", **{**visit, "page_type": page_type}))) == {
        by_type.email
    }
    assert emails(make_segment(rule("page_visit", **{**visit, "page": simple_page.pk}))) == {
        by_type.email
    }
    stay = {**visit, "path_prefix": "/guide/", "min_seconds": 60}
    assert emails(make_segment(rule("page_visit", **stay))) == {long_stay.email}


def _product_type():
    from django.contrib.contenttypes.models import ContentType

    return ContentType.objects.get_for_model(EmailTemplate)  # any model stands for a product


def _cart(contact, status="open", *, idle=timedelta(0), lines=((2, "10.00"),)):
    cart = Cart.objects.create(contact=contact, status=status, currency="EUR")
    for index, (quantity, price) in enumerate(lines):
        CartItem.objects.create(
            cart=cart,
            product_type=_product_type(),
            product_id=str(index),
            title=f"Item {index}",
            quantity=quantity,
            unit_price=Decimal(price),
            currency="EUR",
        )
    Cart.objects.filter(pk=cart.pk).update(updated_at=NOW - idle)
    return cart


def test_cart_rules_idle_value_and_none():
    idle, fresh, rich, empty = ContactFactory.create_batch(4)
    _cart(idle, idle=timedelta(hours=5))
    _cart(fresh)
    _cart(rich, lines=((1, "80.00"), (3, "10.00")))
    Cart.objects.create(contact=empty, status="open", currency="EUR")
    cart = {"hours": None, "days": None, "at_least": None, "at_most": None}
    assert emails(make_segment(rule("cart", **{**cart, "condition": "open_idle", "hours": 2}))) == {
        idle.email
    }
    worth = {**cart, "condition": "value", "at_least": Decimal("100")}
    assert emails(make_segment(rule("cart", **worth))) == {rich.email}
    cheap = {**cart, "condition": "value", "at_most": Decimal("25")}
    assert emails(make_segment(rule("cart", **cheap))) == {idle.email, fresh.email}
    assert emails(make_segment(rule("cart", **{**cart, "condition": "no_open_cart"}))) == {
        empty.email
    }


def test_wishlist_items():
    keen, cold = ContactFactory.create_batch(2)
    wishlist = Wishlist.objects.create(contact=keen)
    for index in range(2):
        WishlistItem.objects.create(
            wishlist=wishlist, product_type=_product_type(), product_id=str(index), title="Mug"
        )
    Wishlist.objects.create(contact=cold)
    segment = make_segment(rule("wishlist", at_least=2, added_within_days=30))
    assert emails(segment) == {keen.email}


def test_clicked_a_given_template():
    cart_mail = EmailTemplate.objects.create(name="Cart", subject="Cart")
    news = EmailTemplate.objects.create(name="News", subject="News")
    clicker, other = ContactFactory.create_batch(2)
    for contact, template in ((clicker, cart_mail), (other, news)):
        Message.objects.create(
            contact=contact,
            template=template,
            to_email=contact.email,
            idempotency_key=f"{template.pk}:{contact.pk}",
            status="sent",
            first_clicked_at=NOW - timedelta(days=1),
        )
    segment = make_segment(
        rule("email_engagement", did=True, action="clicked", template=cart_mail.pk, days=7)
    )
    assert emails(segment) == {clicker.email}


# Groups, NOT and other segments


def test_nested_groups_with_or_and_not():
    ada = ContactFactory(first_name="Ada", status="subscribed")
    grace = ContactFactory(first_name="Grace", status="subscribed")
    alan = ContactFactory(first_name="Alan", status="pending")
    segment = make_segment(
        rule("status", statuses=["subscribed"]),
        group(
            field_rule("first_name", "equals", "ada"),
            group(field_rule("first_name", "starts_with", "g"), negate=True),
            match="any",
        ),
    )
    # Subscribed AND (first name Ada OR NOT first name G...): Ada only; Alan is pending.
    assert emails(segment) == {ada.email}
    assert grace.email not in emails(segment) and alan.email not in emails(segment)


def test_membership_of_other_segments_dynamic_and_static():
    ada, grace = ContactFactory(first_name="Ada"), ContactFactory(first_name="Grace")
    adas = make_segment(field_rule("first_name", "equals", "Ada"), name="Adas")
    listed = make_segment(name="Listed", kind=Segment.Kind.STATIC)
    SegmentMembership.objects.create(segment=listed, contact=grace)
    in_adas = make_segment(rule("segment", member=True, segment=adas.pk))
    assert emails(in_adas) == {ada.email}
    not_listed = make_segment(rule("segment", member=False, segment=listed.pk))
    assert emails(not_listed) == {ada.email}


def test_a_cycle_between_segments_is_refused_at_save():
    first = make_segment(field_rule("first_name", "is_set"), name="First")
    second = make_segment(rule("segment", member=True, segment=first.pk), name="Second")
    first.rules = [rule("segment", member=True, segment=second.pk)]
    with pytest.raises(ValidationError) as caught:
        first.full_clean()
    assert "cannot contain itself" in str(caught.value.message_dict["rules"])
    itself = Segment.objects.get(pk=second.pk)
    itself.rules = [rule("segment", member=False, segment=itself.pk)]
    with pytest.raises(ValidationError):
        itself.full_clean()


# Bad values are refused at save, with the message at the rule's field


@pytest.mark.parametrize(
    ("raw", "field", "message"),
    [
        (
            field_rule("custom", "gt", "abc", custom_field="age", custom_type="number"),
            "value",
            "number",
        ),
        (field_rule("custom", "equals", "x", custom_field="bad key!"), "custom_field", "letters"),
        (field_rule("first_name", "gt", "3"), "operator", "does not apply"),
        (field_rule("last_seen_at", "within_last_days", "-2"), "value", "between 1 and"),
        (field_rule("last_seen_at", "before", "31/01/2026"), "value", "YYYY-MM-DD"),
        (event_rule("bad name!"), "event", "letters"),
        (event_rule("order_completed", days=None), "days", "number of days"),
        (
            event_rule(
                "order_completed",
                period="between",
                start=date(2026, 5, 1),
                end=date(2026, 4, 1),
            ),
            "end",
            "before the start",
        ),
        (
            rule("cart", condition="value", hours=None, days=None, at_least="50", at_most="10"),
            "at_most",
            "below the lower",
        ),
        (
            rule("cart", condition="open_idle", hours=None, days=None, at_least=None, at_most=None),
            "hours",
            "hours",
        ),
    ],
)
def test_bad_rule_values_are_refused_at_the_rule(raw, field, message):
    stream_block = Segment._meta.get_field("rules").stream_block
    child = stream_block.child_blocks[raw["type"]]
    with pytest.raises(blocks.StructBlockValidationError) as caught:
        child.clean(child.to_python(raw["value"]))
    assert field in caught.value.block_errors
    assert message in str(caught.value.block_errors[field])
    segment = Segment(name="bad", rules=[raw])
    with pytest.raises(ValidationError):
        segment.full_clean()


def test_a_dynamic_segment_needs_a_rule():
    with pytest.raises(ValidationError):
        Segment(name="empty").full_clean()


# Membership: refreshes, counts and events


def test_a_full_refresh_stores_members_and_emits_entered_and_exited_events(settings):
    settings.WAGTAIL_JOURNEYS = {"SEGMENT_REFRESH_BATCH": 2}  # several id ranges
    adas = [ContactFactory(first_name="Ada") for _ in range(3)]
    grace = ContactFactory(first_name="Grace")
    segment = make_segment(field_rule("first_name", "equals", "Ada"))

    report = refresh_segment(segment)
    assert (report.entered, report.exited, report.members) == (3, 0, 3)
    segment.refresh_from_db()
    assert segment.member_count == 3 and segment.refreshed_at is not None
    entered = Event.objects.filter(name="segment_entered")
    assert sorted(entered.values_list("contact_id", flat=True)) == sorted(c.pk for c in adas)
    assert entered.first().properties == {"segment_id": segment.pk, "segment": segment.name}

    assert refresh_segment(segment).entered == 0  # nothing changed, nothing emitted
    Contact.objects.filter(pk=adas[0].pk).update(first_name="Adele")
    Contact.objects.filter(pk=grace.pk).update(first_name="Ada")
    report = refresh_segment(segment)
    assert (report.entered, report.exited, report.members) == (1, 1, 3)
    assert Event.objects.filter(name="segment_exited").get().contact_id == adas[0].pk


def test_an_event_refreshes_its_contacts_membership_at_once(django_capture_on_commit_callbacks):
    contact = ContactFactory()
    segment = make_segment(
        event_rule(
            "product_viewed", count=2, filters=[{"key": "sku", "operator": "equals", "value": "X1"}]
        )
    )
    with django_capture_on_commit_callbacks(execute=True):
        record_event(contact, "product_viewed", {"sku": "X1"})
    assert not SegmentMembership.objects.exists()
    with django_capture_on_commit_callbacks(execute=True):
        record_event(contact, "product_viewed", {"sku": "X1"})
    assert SegmentMembership.objects.filter(segment=segment, contact=contact).exists()
    assert Event.objects.filter(name="segment_entered", contact=contact).count() == 1
    segment.refresh_from_db()
    assert segment.member_count == 1


def test_an_event_no_segment_depends_on_refreshes_nothing():
    contact = ContactFactory()
    make_segment(event_rule("order_completed"))
    Event.objects.create(contact=contact, name="order_completed", occurred_at=NOW)
    assert refresh_contact(contact.pk, "page_viewed").entered == 0
    assert refresh_contact(contact.pk, "order_completed").entered == 1


def test_depends_on_lists_the_events_that_can_change_membership():
    segment = make_segment(
        event_rule("order_completed"),
        group(rule("wishlist", at_least=1, added_within_days=None), match="any"),
    )
    assert "order_completed" in segment.depends_on
    assert "wishlist_item_added" in segment.depends_on
    assert make_segment(rule("tag", has=True, tag="vip")).depends_on == ["*"]


def test_the_refresh_command_and_the_schedule():
    from io import StringIO

    from django.core.management import CommandError, call_command
    from django_q.models import Schedule

    ContactFactory(first_name="Ada")
    make_segment(field_rule("first_name", "equals", "Ada"), name="Adas")
    assert Schedule.objects.filter(func="wagtail_journeys.tasks.refresh_segments").exists()
    out = StringIO()
    call_command("journeys_refresh_segments", "Adas", stdout=out)
    assert "Adas: 1 members (+1 / -0)" in out.getvalue()
    with pytest.raises(CommandError, match="No segment named Nobody"):
        call_command("journeys_refresh_segments", "Nobody")


def test_an_email_sent_refreshes_only_the_segments_of_emails_received():
    # Delivery writes an email_sent event for every email: it can change "received"
    # rules, never "opened" ones or what an any-event rule (a field) checks again.
    from wagtail_journeys.segments.membership import segments_affected_by

    opened = make_segment(rule("email_engagement", did=False, action="opened", days=90))
    received = make_segment(rule("email_engagement", did=True, action="received", days=90))
    named = make_segment(field_rule("first_name", "equals", "Ada"))
    assert segments_affected_by("email_sent") == [received]
    assert segments_affected_by("email_clicked") == [opened, named]
    assert segments_affected_by("video_played") == [named]
