"""One journey's analytics page: key numbers, a daily chart, the funnel, steps, exits, A/B tests."""

from __future__ import annotations

from dataclasses import dataclass

from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView
from wagtail.admin.ui.tables import Column, NumberColumn
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin

from wagtail_journeys.admin.report_base import (
    BaseReport,
    PeriodFilterSet,
    PeriodMixin,
    ReportPermissionMixin,
    WithTotals,
    headings,
    percent,
)
from wagtail_journeys.analytics import abtest, charts, reports
from wagtail_journeys.journeys.plan import build_plan
from wagtail_journeys.models import ABDecision, Journey

# -- One journey -------------------------------------------------------------------------------


@dataclass
class StepRow(WithTotals):
    node: object
    totals: reports.Totals
    waiting: int

    @property
    def indent(self) -> int:
        return self.node.depth

    @property
    def label(self) -> str:
        return self.node.summary

    @property
    def step_type(self) -> str:
        return str(self.node.block.meta.label)


def step_rows(journey: Journey, plan, start=None, end=None) -> list[StepRow]:
    by_step = reports.totals_by("step_id", start, end, journey_id=journey.pk)
    waiting = reports.waiting_now(journey.pk)
    return [
        StepRow(node, by_step.get(node.id, reports.Totals()), waiting.get(node.id, 0))
        for node in plan
    ]


#: The time series drawn on the journey page: (Totals attribute, label, CSS class).
SERIES = [
    ("entered", _("Entered"), "entered"),
    ("sent", _("Sent"), "sent"),
    ("opened", _("Opened"), "opened"),
    ("clicked", _("Clicked"), "clicked"),
    ("converted", _("Converted"), "converted"),
]


class JourneyAnalyticsView(
    ReportPermissionMixin, PeriodMixin, WagtailAdminTemplateMixin, TemplateView
):
    """One journey: key numbers, a daily chart, the funnel, each step, exits, A/B tests, links."""

    template_name = "wagtail_journeys/analytics/journey.html"
    header_icon = "table"

    def get_page_title(self):
        return _("Analytics: %(journey)s") % {"journey": self.journey}

    def get(self, request, pk):
        self.journey = get_object_or_404(Journey, pk=pk)
        self.filters = PeriodFilterSet(data=request.GET or None, request=request)
        return super().get(request, pk=pk)

    def get_breadcrumbs_items(self):
        return [
            {"url": reverse("wagtailadmin_home"), "label": _("Home")},
            {"url": reverse("journeys_reports:index"), "label": _("Reports")},
            {"url": "", "label": str(self.journey)},
        ]

    def get_context_data(self, **kwargs):
        start, end = self.period
        journey = self.journey
        plan = build_plan(journey)
        total = reports.totals(start, end, journey_id=journey.pk)
        rows = step_rows(journey, plan, start, end)
        tests = []
        decisions = {d.step_id: d for d in ABDecision.objects.filter(journey=journey)}
        for node in plan:
            verdict = abtest.step_verdict(journey, plan, node.id, start, end)
            if verdict is not None:
                tests.append((node, verdict, decisions.get(node.id)))
        return super().get_context_data(
            journey=journey,
            start=start,
            end=end,
            filters=self.filters,
            total=total,
            in_journey=reports.in_journey_now([journey.pk]).get(journey.pk, 0),
            rates=[
                (_("Open rate"), percent(total.open_rate)),
                (_("Click rate"), percent(total.click_rate)),
                (_("Click-to-open"), percent(total.click_to_open)),
                (_("Conversion rate"), percent(total.conversion_rate)),
                (_("Unsubscribe rate"), percent(total.unsubscribe_rate)),
                (_("Bounce rate"), percent(total.bounce_rate)),
                (_("Complaint rate"), percent(total.complaint_rate)),
            ],
            chart=charts.line_chart(reports.daily(start, end, journey_id=journey.pk), SERIES),
            funnel=charts.funnel(
                [
                    (_("Entered"), total.entered),
                    (_("Sent"), total.sent),
                    (_("Opened"), total.opened),
                    (_("Clicked"), total.clicked),
                    (_("Converted"), total.converted),
                ]
            ),
            steps=rows,
            percent=percent,
            exits=reports.exit_reasons(journey.pk, start, end),
            tests=tests,
            method=abtest.METHOD,
            links=reports.link_clicks(start, end, journey_id=journey.pk)[:10],
            query=self.request.GET.urlencode(),
            **kwargs,
        )


class JourneyStepsReportView(BaseReport):
    """Each step of one journey with its numbers, for export."""

    export_filename = "journey-steps"
    list_export = [
        "label",
        "step_type",
        "waiting",
        "passed",
        "sent",
        "opened",
        "clicked",
        "converted",
        "revenue",
        "open_rate",
        "click_rate",
    ]
    export_headings = headings(list_export)
    columns = [
        Column("label", label=_("Step")),
        Column("step_type", label=_("Type")),
        NumberColumn("waiting", label=_("Here now")),
        NumberColumn("passed", label=_("Passed")),
        NumberColumn("sent", label=_("Sent")),
        NumberColumn("opened", label=_("Opened")),
        NumberColumn("clicked", label=_("Clicked")),
        NumberColumn("converted", label=_("Converted")),
    ]
    paginate_by = None

    def setup(self, request, *args, pk, **kwargs):
        super().setup(request, *args, pk=pk, **kwargs)
        self.journey = get_object_or_404(Journey, pk=pk)

    def get_page_title(self):
        return _("Steps of %(journey)s") % {"journey": self.journey}

    @property
    def index_url(self):
        return reverse("journeys_reports:journey_steps", args=[self.journey.pk])

    @property
    def index_results_url(self):
        return self.index_url

    def get_queryset(self):
        return Journey.objects.filter(pk=self.journey.pk)

    def rows_for(self, object_list):
        start, end = self.period
        return step_rows(self.journey, build_plan(self.journey), start, end)
