"""The panels on the Wagtail dashboard: a warning while messages are stuck in ``sending``,
and what the journeys did in the last seven days."""

from __future__ import annotations

from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from wagtail.admin.ui.components import Component
from wagtail.permission_policies import ModelPermissionPolicy
from wagtail.permissions import policy_registry

from wagtail_journeys.admin.messages import STUCK_MINUTES, STUCK_QUERY
from wagtail_journeys.admin.report_base import REPORT_PERMISSIONS, percent
from wagtail_journeys.analytics import reports
from wagtail_journeys.email.delivery import stuck_messages
from wagtail_journeys.models import Journey, Message

#: Days the panel covers, today included.
DAYS = 7


class JourneysSummaryPanel(Component):
    """Seven days of journeys: entries, emails, engagement, conversions and the busiest journeys."""

    name = "journeys_summary"
    order = 150
    template_name = "wagtail_journeys/analytics/home_panel.html"

    class Media:
        css = {"all": ["wagtail_journeys/reports.css"]}

    def __init__(self, request):
        self.request = request

    @property
    def visible(self) -> bool:
        return ModelPermissionPolicy(Journey).user_has_any_permission(
            self.request.user, REPORT_PERMISSIONS
        )

    def get_context_data(self, parent_context=None):
        start, end = reports.default_range(DAYS)
        total = reports.totals(start, end)
        by_journey = reports.totals_by("journey_id", start, end, journey_id__gt=0)
        busiest = sorted(by_journey.items(), key=lambda item: -item[1].entered)[:5]
        names = Journey.objects.in_bulk([pk for pk, _totals in busiest])
        return {
            "days": DAYS,
            "total": total,
            "tiles": [
                (_("Entered a journey"), total.entered),
                (_("Emails sent"), total.sent),
                (_("Open rate"), percent(total.open_rate)),
                (_("Click rate"), percent(total.click_rate)),
                (_("Conversions"), total.converted),
                (_("Revenue"), total.revenue),
                (_("Unsubscribed"), total.unsubscribed),
            ],
            "busiest": [(names[pk], totals) for pk, totals in busiest if pk in names],
        }


class StuckMessagesPanel(Component):
    """A warning while messages are stuck in ``sending``, linking to them in the message log.

    Nothing resends them (the provider may have delivered them), so without a
    person looking they would stay stuck unnoticed.
    """

    name = "journeys_stuck_messages"
    #: Before Wagtail's own panels (110 and up): it asks for action.
    order = 50
    template_name = "wagtail_journeys/admin/stuck_messages_panel.html"

    def __init__(self, request):
        self.request = request

    @property
    def visible(self) -> bool:
        """Shown to those who may see the message log, and only while a message is stuck."""
        # The message log's own policy (view only), so the panel and the log agree.
        policy = policy_registry.get_by_type(Message)
        return policy.user_has_permission(self.request.user, "view") and self.count > 0

    @cached_property
    def count(self) -> int:
        return stuck_messages().count()

    def get_context_data(self, parent_context=None):
        return {
            "count": self.count,
            "minutes": STUCK_MINUTES,
            "url": f"{reverse('journeys_messages:index')}?{STUCK_QUERY}",
        }


def summary_panel(request, panels) -> None:
    """The ``construct_homepage_panels`` hook: the stuck-messages warning and the summary."""
    for panel in (StuckMessagesPanel(request), JourneysSummaryPanel(request)):
        if panel.visible:
            panels.append(panel)
