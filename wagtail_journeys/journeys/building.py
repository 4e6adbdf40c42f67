"""Build journeys in Python: the raw StreamField data of triggers, steps and goals.

Journey templates, the demo and tests describe journeys with these helpers::

    from wagtail_journeys.journeys.building import block, new_journey

    journey = new_journey(
        "Welcome",
        trigger=block("event", event="contact_subscribed"),
        steps=[
            block("send_email", template=welcome.pk),
            block("wait", days=1),
            block("condition", rules=[block("tag", tag="vip")], yes=[...], no=[...]),
        ],
    )

Every block gets its id here, nested ones included: step ids are what
enrollments, messages and analytics point at, so they must exist before
the first revision is saved.
"""

from __future__ import annotations

import uuid
from typing import Any


def block(block_type: str, **value: Any) -> dict[str, Any]:
    """One StreamField child: ``{"type", "value", "id"}``."""
    return {"type": block_type, "value": value, "id": str(uuid.uuid4())}


def variant(name: str, steps: list[dict], weight: int = 50) -> dict[str, Any]:
    """One variant of an A/B split (a ListBlock item)."""
    return {
        "type": "item",
        "value": {"name": name, "weight": weight, "steps": steps},
        "id": str(uuid.uuid4()),
    }


def new_journey(name: str, *, trigger: dict, steps: list[dict], publish: bool = True, **fields):
    """Create a journey (published unless ``publish=False``) and return it.

    ``fields`` are the model's other fields (``goals``, ``entry_rules``,
    ``reentry``...). The journey is cleaned first, so an invalid
    configuration raises ``ValidationError`` here as it would in the admin.
    """
    from django.core.exceptions import ValidationError

    from wagtail_journeys.journeys.validation import describe
    from wagtail_journeys.models import Journey

    journey = Journey(name=name, trigger=[trigger], steps=steps, **fields)
    try:
        journey.full_clean()
    except ValidationError as error:
        # Say which step and field, not "Validation error in StreamBlock".
        raise ValidationError(
            {
                field: [line for item in errors for line in describe(item)]
                for field, errors in error.error_dict.items()
            }
        ) from None
    journey.live = False
    journey.save()
    revision = journey.save_revision(log_action=False)
    if publish:
        revision.publish(log_action=False)
        journey.refresh_from_db()
    return journey
