"""The Reports menu item: journeys, email templates and clicked links, each exported as CSV or XLSX.

Every number comes from the daily counters (``analytics.reports``); the
listings are Wagtail report views, so each exports to CSV and XLSX with
the period chosen in its filter.
"""

from __future__ import annotations

from dataclasses import dataclass

import django_filters
from django.db.models import Sum
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from wagtail.admin.ui.tables import Column, NumberColumn, TitleColumn
from wagtail.admin.viewsets.base import ViewSet

from wagtail_journeys.admin.journey_report import JourneyAnalyticsView, JourneyStepsReportView
from wagtail_journeys.admin.report_base import (
    BaseReport,
    PeriodFilterSet,
    PeriodForm,
    WithTotals,
    headings,
    percent,
)
from wagtail_journeys.analytics import reports
from wagtail_journeys.models import DailyStat, EmailTemplate, Journey

# -- Journeys ----------------------------------------------------------------------------------


@dataclass
class JourneyRow(WithTotals):
    journey: Journey
    totals: reports.Totals
    in_journey: int

    @property
    def name(self):
        return self.journey.name

    @property
    def state(self):
        if not self.journey.live:
            return _("Draft")
        return self.journey.get_state_display()


def _rate_column(name, label):
    return Column(name, label=label, accessor=lambda row: percent(getattr(row, name)))


def _analytics_url(row) -> str:
    return reverse("journeys_reports:journey", args=[row.journey.pk])


class JourneysReportView(BaseReport):
    page_title = _("Journeys report")
    index_url_name = "journeys_reports:index"
    index_results_url_name = "journeys_reports:index_results"
    export_filename = "journeys"
    list_export = [
        "name",
        "state",
        "in_journey",
        "entered",
        "completed",
        "exited",
        "sent",
        "opened",
        "clicked",
        "converted",
        "revenue",
        "unsubscribed",
        "open_rate",
        "click_rate",
        "conversion_rate",
    ]
    export_headings = headings(list_export)
    columns = [
        TitleColumn("name", label=_("Journey"), get_url=_analytics_url),
        Column("state", label=_("State")),
        NumberColumn("in_journey", label=_("In it now")),
        NumberColumn("entered", label=_("Entered")),
        NumberColumn("completed", label=_("Completed")),
        NumberColumn("sent", label=_("Sent")),
        _rate_column("open_rate", _("Open rate")),
        _rate_column("click_rate", _("Click rate")),
        NumberColumn("converted", label=_("Conversions")),
        Column("revenue", label=_("Revenue")),
        _rate_column("unsubscribe_rate", _("Unsubscribes")),
    ]

    def get_queryset(self):
        return Journey.objects.order_by("name")

    def rows_for(self, object_list):
        journeys = list(object_list)
        ids = [journey.pk for journey in journeys]
        start, end = self.period
        by_journey = reports.totals_by("journey_id", start, end, journey_id__in=ids)
        inside = reports.in_journey_now(ids)
        return [
            JourneyRow(
                journey, by_journey.get(journey.pk, reports.Totals()), inside.get(journey.pk, 0)
            )
            for journey in journeys
        ]


# -- Email templates ---------------------------------------------------------------------------


@dataclass
class TemplateRow(WithTotals):
    template: EmailTemplate
    totals: reports.Totals

    @property
    def name(self):
        return self.template.name


class TemplatePeriodFilterSet(PeriodFilterSet):
    class Meta:
        model = EmailTemplate
        fields = []
        form = PeriodForm


class TemplatesReportView(BaseReport):
    page_title = _("Email templates report")
    index_url_name = "journeys_reports:templates"
    index_results_url_name = "journeys_reports:templates_results"
    filterset_class = TemplatePeriodFilterSet
    export_filename = "email-templates"
    list_export = [
        "name",
        "sent",
        "delivered",
        "opened",
        "machine_opens",
        "clicked",
        "converted",
        "unsubscribed",
        "bounced",
        "complained",
        "open_rate",
        "click_rate",
        "click_to_open",
        "unsubscribe_rate",
        "bounce_rate",
        "complaint_rate",
    ]
    export_headings = headings(list_export)
    columns = [
        Column("name", label=_("Template")),
        NumberColumn("sent", label=_("Sent")),
        NumberColumn("delivered", label=_("Delivered")),
        _rate_column("open_rate", _("Open rate")),
        NumberColumn("machine_opens", label=_("Machine opens")),
        _rate_column("click_rate", _("Click rate")),
        _rate_column("click_to_open", _("Click-to-open")),
        _rate_column("unsubscribe_rate", _("Unsubscribes")),
        _rate_column("bounce_rate", _("Bounces")),
        _rate_column("complaint_rate", _("Complaints")),
    ]

    def get_queryset(self):
        return EmailTemplate.objects.order_by("name")

    def rows_for(self, object_list):
        templates = list(object_list)
        start, end = self.period
        by_template = reports.totals_by(
            "template_id", start, end, template_id__in=[template.pk for template in templates]
        )
        return [
            TemplateRow(template, by_template.get(template.pk, reports.Totals()))
            for template in templates
        ]


# -- Links -------------------------------------------------------------------------------------


def _journey_choices():
    return [(journey.pk, journey.name) for journey in Journey.objects.order_by("name")]


def _template_choices():
    return [(template.pk, template.name) for template in EmailTemplate.objects.order_by("name")]


class LinkFilterSet(PeriodFilterSet):
    journey_id = django_filters.TypedChoiceFilter(
        label=_("Journey"), choices=_journey_choices, coerce=int
    )
    template_id = django_filters.TypedChoiceFilter(
        label=_("Email template"), choices=_template_choices, coerce=int
    )

    class Meta:
        model = DailyStat
        fields = []
        form = PeriodForm


class LinksReportView(BaseReport):
    page_title = _("Clicked links")
    index_url_name = "journeys_reports:links"
    index_results_url_name = "journeys_reports:links_results"
    filterset_class = LinkFilterSet
    export_filename = "links"
    list_export = ["label", "clicks"]
    export_headings = {"label": _("URL"), "clicks": _("Clicks")}
    columns = [
        Column("label", label=_("URL"), accessor=lambda row: row["label"]),
        NumberColumn("clicks", label=_("Human clicks"), accessor=lambda row: row["clicks"]),
    ]

    def get_queryset(self):
        start, end = self.period
        rows = DailyStat.objects.filter(metric="clicks", day__gte=start, day__lte=end)
        return rows.values("label").annotate(clicks=Sum("count")).order_by("-clicks", "label")

    def to_row_dict(self, item):
        return {"label": item["label"], "clicks": item["clicks"]}


class ReportsViewSet(ViewSet):
    """The Reports menu item: journeys, templates, links, and each journey's page."""

    name = "journeys_reports"
    icon = "table"
    menu_label = _("Reports")

    def get_urlpatterns(self):
        return [
            path("", JourneysReportView.as_view(), name="index"),
            path("results/", JourneysReportView.as_view(results_only=True), name="index_results"),
            path("templates/", TemplatesReportView.as_view(), name="templates"),
            path(
                "templates/results/",
                TemplatesReportView.as_view(results_only=True),
                name="templates_results",
            ),
            path("links/", LinksReportView.as_view(), name="links"),
            path(
                "links/results/", LinksReportView.as_view(results_only=True), name="links_results"
            ),
            path("journey/<int:pk>/", JourneyAnalyticsView.as_view(), name="journey"),
            path(
                "journey/<int:pk>/steps/",
                JourneyStepsReportView.as_view(),
                name="journey_steps",
            ),
        ]
