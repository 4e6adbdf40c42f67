"""Property: on random data, "does this contact match?" always agrees with segment membership.

Hypothesis builds random contacts with random behaviour and random rules
(nested groups, NOT, counts, windows, fields, tags). The segment is refreshed
in several id ranges, then every contact's per-contact answer (the compiled
condition narrowed to that contact) must equal their stored membership.
"""

from datetime import timedelta

from django.utils import timezone
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra.django import TestCase

from wagtail_journeys.models import Contact, Event, Segment, SegmentMembership
from wagtail_journeys.segments.conditions import matches
from wagtail_journeys.segments.membership import refresh_segment

NOW = timezone.now()
EVENTS = ["product_viewed", "order_completed", "page_viewed"]

event_data = st.tuples(
    st.sampled_from(EVENTS),
    st.integers(min_value=0, max_value=20),  # days ago
    st.sampled_from(["X1", "Y2"]),
)
contact_data = st.fixed_dictionaries(
    {
        "first_name": st.sampled_from(["Ada", "Grace", ""]),
        "status": st.sampled_from(["pending", "subscribed", "unsubscribed"]),
        "tags": st.lists(st.sampled_from(["vip", "trade"]), unique=True, max_size=2),
        "age": st.one_of(st.none(), st.integers(min_value=18, max_value=90)),
        "events": st.lists(event_data, max_size=6),
    }
)

leaf_rules = st.one_of(
    st.builds(
        lambda event, comparison, count, days, sku: {
            "type": "event",
            "value": {
                "event": event,
                "filters": [{"key": "sku", "operator": "equals", "value": sku}] if sku else [],
                "comparison": comparison,
                "count": count,
                "period": "last_days" if days else "ever",
                "days": days,
                "start": None,
                "end": None,
            },
        },
        st.sampled_from(EVENTS),
        st.sampled_from(["at_least", "at_most", "exactly"]),
        st.integers(min_value=0, max_value=3),
        st.one_of(st.none(), st.integers(min_value=1, max_value=15)),
        st.one_of(st.none(), st.sampled_from(["X1", "Y2"])),
    ),
    st.builds(
        lambda name, operator: {
            "type": "field",
            "value": {
                "field": "first_name",
                "custom_field": "",
                "custom_type": "text",
                "operator": operator,
                "value": name,
            },
        },
        st.sampled_from(["Ada", "gr"]),
        st.sampled_from(["equals", "not_equals", "starts_with", "is_set", "is_not_set"]),
    ),
    st.builds(
        lambda operator, number: {
            "type": "field",
            "value": {
                "field": "custom",
                "custom_field": "age",
                "custom_type": "number",
                "operator": operator,
                "value": str(number),
            },
        },
        st.sampled_from(["gte", "lt", "equals", "not_equals", "is_set"]),
        st.integers(min_value=18, max_value=90),
    ),
    st.builds(
        lambda has, tag: {"type": "tag", "value": {"has": has, "tag": tag}},
        st.booleans(),
        st.sampled_from(["vip", "trade"]),
    ),
    st.builds(
        lambda statuses: {"type": "status", "value": {"statuses": statuses}},
        st.lists(st.sampled_from(["pending", "subscribed"]), min_size=1, unique=True),
    ),
)


def groups(children):
    return st.builds(
        lambda match, negate, rules: {
            "type": "group",
            "value": {"match": match, "negate": negate, "rules": rules},
        },
        st.sampled_from(["all", "any"]),
        st.booleans(),
        st.lists(children, min_size=1, max_size=3),
    )


# Leaves, or groups of leaves, or groups of those: the three levels a segment allows.
rules = st.recursive(leaf_rules, groups, max_leaves=6)


class MembershipAgreesWithTheCheck(TestCase):
    @settings(
        max_examples=40,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(
        contacts=st.lists(contact_data, min_size=1, max_size=8),
        segment_rules=st.lists(rules, min_size=1, max_size=3),
        match=st.sampled_from(["all", "any"]),
    )
    def test_per_contact_answer_equals_membership(self, contacts, segment_rules, match):
        stored = []
        for index, data in enumerate(contacts):
            custom = {} if data["age"] is None else {"age": data["age"]}
            contact = Contact.objects.create(
                email=f"p{index}@example.com",
                first_name=data["first_name"],
                status=data["status"],
                custom_fields=custom,
            )
            contact.tags.add(*data["tags"])
            Event.objects.bulk_create(
                Event(
                    contact=contact,
                    name=name,
                    occurred_at=NOW - timedelta(days=days, minutes=1),
                    properties={"sku": sku},
                )
                for name, days, sku in data["events"]
            )
            stored.append(contact)
        segment = Segment.objects.create(name="random", match=match, rules=segment_rules)

        with self.settings(WAGTAIL_JOURNEYS={"SEGMENT_REFRESH_BATCH": 3}):
            refresh_segment(segment, now=NOW)

        members = set(
            SegmentMembership.objects.filter(segment=segment).values_list("contact_id", flat=True)
        )
        for contact in stored:
            assert matches(match, segment.rules, contact, now=NOW) == (contact.pk in members), (
                contact.first_name,
                segment_rules,
            )
