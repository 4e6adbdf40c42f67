"""What every report shares: the period filter, permissions, export headings, rows with totals."""

from __future__ import annotations

from datetime import date, timedelta

import django_filters
from django import forms
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet
from wagtail.admin.views.generic.permissions import PermissionCheckedMixin
from wagtail.admin.views.reports import ReportView
from wagtail.permission_policies import ModelPermissionPolicy

from wagtail_journeys.analytics import reports
from wagtail_journeys.models import Journey

MAX_DAYS = 400
#: Which permissions on journeys let a user read the reports.
REPORT_PERMISSIONS = ["view", "add", "change", "publish"]


#: Column headings of the exports (rates are fractions there: 0.25, not "25 %").
HEADINGS = {
    "name": _("Name"),
    "label": _("Step"),
    "step_type": _("Type"),
    "state": _("State"),
    "in_journey": _("In the journey now"),
    "waiting": _("Here now"),
    "passed": _("Passed"),
    "entered": _("Entered"),
    "completed": _("Completed"),
    "exited": _("Exited early"),
    "sent": _("Sent"),
    "delivered": _("Delivered"),
    "opened": _("Opened"),
    "machine_opens": _("Machine opens"),
    "clicked": _("Clicked"),
    "converted": _("Converted"),
    "revenue": _("Revenue"),
    "unsubscribed": _("Unsubscribed"),
    "bounced": _("Bounced"),
    "complained": _("Complained"),
    "open_rate": _("Open rate"),
    "click_rate": _("Click rate"),
    "click_to_open": _("Click-to-open rate"),
    "conversion_rate": _("Conversion rate"),
    "unsubscribe_rate": _("Unsubscribe rate"),
    "bounce_rate": _("Bounce rate"),
    "complaint_rate": _("Complaint rate"),
}


def headings(fields: list[str]) -> dict:
    return {field: HEADINGS[field] for field in fields}


def percent(rate: float | None) -> str:
    """A rate as the reports show it: "12.3 %", or "–" when it has no base."""
    return "–" if rate is None else f"{rate * 100:.1f} %"


class PeriodForm(forms.Form):
    """The filter form of every report: a period of at most ``MAX_DAYS`` days."""

    def clean(self):
        cleaned = super().clean()
        period = cleaned.get("period")
        if period and period.start and period.stop:
            if period.start > period.stop:
                self.add_error("period", _("The period ends before it starts."))
            elif (period.stop - period.start).days >= MAX_DAYS:
                self.add_error("period", _("Choose at most %(days)s days.") % {"days": MAX_DAYS})
        return cleaned


def _keep(queryset, name, value):
    # The period selects counter rows, not the journeys or templates listed.
    return queryset


class PeriodFilterSet(WagtailFilterSet):
    period = django_filters.DateFromToRangeFilter(
        label=_("Period"), method=_keep, widget=DateRangePickerWidget
    )

    class Meta:
        model = Journey
        fields = []
        form = PeriodForm


class PeriodMixin:
    """The report's period: the filter's, else the last 30 days (today included)."""

    @cached_property
    def period(self) -> tuple[date, date]:
        start, end = reports.default_range(30)
        filters = getattr(self, "filters", None)
        if filters is not None and filters.is_valid():
            chosen = filters.form.cleaned_data.get("period")
            if chosen:
                if chosen.start and chosen.stop:
                    return chosen.start, chosen.stop
                if chosen.start:
                    return chosen.start, min(end, chosen.start + timedelta(days=MAX_DAYS - 1))
                if chosen.stop:
                    return chosen.stop - timedelta(days=29), chosen.stop
        return start, end


class ReportPermissionMixin(PermissionCheckedMixin):
    permission_policy = ModelPermissionPolicy(Journey)
    any_permission_required = REPORT_PERMISSIONS


class BaseReport(ReportPermissionMixin, PeriodMixin, ReportView):
    """A report whose rows are the listed objects with their numbers (``rows_for``)."""

    header_icon = "table"
    filterset_class = PeriodFilterSet

    def get_filename(self):
        start, end = self.period
        return f"{self.export_filename}-{start}-{end}"

    def rows_for(self, object_list) -> list:
        return list(object_list)

    def _rows(self, object_list) -> list:
        # The table (HTML) and the export both ask for the same page: read its numbers once.
        cached = getattr(self, "_cached_rows", None)
        if cached is None or cached[0] is not object_list:
            self._cached_rows = (object_list, self.rows_for(object_list))
        return self._cached_rows[1]

    def get_table(self, object_list):
        return super().get_table(self._rows(object_list))

    def decorate_paginated_queryset(self, object_list):
        return self._rows(object_list)


class WithTotals:
    """A report row that answers for its ``totals``: ``row.sent``, ``row.open_rate``..."""

    def __getattr__(self, name):
        totals = self.__dict__.get("totals")
        if totals is None or name.startswith("_"):
            raise AttributeError(name)
        return getattr(totals, name)
