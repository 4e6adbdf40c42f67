"""The demo's journeys: the five journey templates, published, their buttons leading to the shop.

A template whose journey or emails an earlier run made (found by name) is
skipped, so editing or deleting a demo journey in the admin sticks.
"""

from wagtail_journeys.journeys.templates import JOURNEY_TEMPLATES
from wagtail_journeys.models import Journey


def create_journeys(shop, user=None) -> list[Journey]:
    """Publish each journey template not loaded yet; returns the new journeys."""
    created = []
    for template in JOURNEY_TEMPLATES:
        if template.name_taken(template.name):
            continue
        created.append(template.create(user=user, publish=True, link_page=shop))
    return created
