"""The demo's segments: the four examples of docs/segments.md, as an editor builds them."""

from wagtail_journeys.models import Segment

from . import content


def _counted(period="last_days", days=7, comparison="at_least", count=1):
    return {
        "comparison": comparison,
        "count": count,
        "period": period,
        "days": days,
        "start": None,
        "end": None,
    }


def segment_definitions() -> list[dict]:
    """Name, description and rules of each demo segment."""
    keen_sku = content.PRODUCTS[0].sku
    return [
        {
            "name": "Abandoned a cart in the last 24 hours",
            "description": "Carts left behind yesterday or today.",
            "rules": [
                {
                    "type": "cart",
                    "value": {
                        "condition": "abandoned_within",
                        "hours": None,
                        "days": 1,
                        "at_least": None,
                        "at_most": None,
                    },
                }
            ],
        },
        {
            "name": "Viewed pricing, never bought",
            "description": "Looked at /pricing/ in the last 30 days and has no order.",
            "rules": [
                {
                    "type": "page_visit",
                    "value": {
                        "page": None,
                        "page_type": "",
                        "path_prefix": "/pricing/",
                        "min_seconds": None,
                        **_counted(days=30),
                    },
                },
                {
                    "type": "event",
                    "value": {
                        "event": "order_completed",
                        "filters": [],
                        **_counted(period="ever", days=None, comparison="at_most", count=0),
                    },
                },
            ],
        },
        {
            "name": "Opened nothing in 90 days",
            "description": "Subscribers who have not opened an email for three months.",
            "rules": [
                {"type": "status", "value": {"statuses": ["subscribed"]}},
                {
                    "type": "email_engagement",
                    "value": {"did": False, "action": "opened", "template": None, "days": 90},
                },
            ],
        },
        {
            "name": f"Viewed {content.PRODUCTS[0].title} 3+ times this week",
            "description": "Keen on one product: a nudge may help.",
            "rules": [
                {
                    "type": "event",
                    "value": {
                        "event": "product_viewed",
                        "filters": [{"key": "sku", "operator": "equals", "value": keen_sku}],
                        **_counted(count=3),
                    },
                }
            ],
        },
    ]


def create_segments() -> list[Segment]:
    """The demo segments that are missing (checked as the admin checks them)."""
    created = []
    for definition in segment_definitions():
        if Segment.objects.filter(name=definition["name"]).exists():
            continue
        segment = Segment(kind=Segment.Kind.DYNAMIC, **definition)
        segment.full_clean()
        segment.save()
        created.append(segment)
    return created
