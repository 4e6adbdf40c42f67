"""Segments in the admin: the snippet viewset, and the actions on one segment's members.

- "Export members (CSV)" streams the stored members; it needs the contact
  export permission (``wagtail_journeys.export_contact``) besides the right
  to change segments.
- "Refresh now" recomputes a dynamic segment's members at once.
- "Import contacts (CSV)" adds the contacts of a file to a static segment,
  in a django-q2 task whose progress the import page follows.

The live preview panel of the editor shows the count and a sample of members.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django import forms
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import JsonResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.functional import cached_property
from django.utils.http import content_disposition_header, urlencode
from django.utils.text import slugify
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.generic import FormView, TemplateView, View
from wagtail.admin import messages
from wagtail.admin.panels import FieldPanel, FieldRowPanel
from wagtail.admin.ui.menus import MenuItem
from wagtail.admin.utils import get_valid_next_url_from_request
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.views.generic.permissions import PermissionCheckedMixin
from wagtail.admin.widgets.button import Button
from wagtail.snippets.views.snippets import EditView, IndexView, SnippetViewSet

from wagtail_journeys.models import Segment, SegmentImport, SegmentMembership
from wagtail_journeys.segments import import_files, imports
from wagtail_journeys.segments.membership import refresh_segment

EXPORT_PERMISSION = "wagtail_journeys.export_contact"
#: A cell starting with one of these is a formula to a spreadsheet (OWASP "CSV injection").
FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
EXPORT_COLUMNS = ["email", "first_name", "last_name", "status", "added_at"]
#: Imports listed on a segment's import page.
RECENT_IMPORTS = 10


def spreadsheet_safe(value) -> str:
    """``value`` as text a spreadsheet shows as text: a formula gets a leading quote."""
    text = "" if value is None else str(value)
    return f"'{text}" if text.startswith(FORMULA_PREFIXES) else text


def member_rows(segment: Segment) -> Iterator[list[str]]:
    """The header, then one row per stored member of ``segment``, in the order they joined."""
    yield EXPORT_COLUMNS
    members = (
        SegmentMembership.objects.filter(segment=segment)
        .order_by("pk")
        .values_list(
            "contact__email",
            "contact__first_name",
            "contact__last_name",
            "contact__status",
            "added_at",
        )
    )
    for email, first_name, last_name, status, added_at in members.iterator(chunk_size=2000):
        yield [
            spreadsheet_safe(value)
            for value in (email, first_name, last_name, status, added_at.isoformat())
        ]


class _Echo:
    """A file that hands back what is written: lets ``csv.writer`` feed a streaming response."""

    def write(self, value: str) -> str:
        return value


def import_status(job: SegmentImport) -> dict:
    """What the import page polls: progress and counts; the refused rows once finished."""
    return {
        "status": job.status,
        "status_label": str(job.get_status_display()),
        "finished": job.is_finished,
        "total_rows": job.total_rows,
        "processed_rows": job.processed_rows,
        "created": job.created_count,
        "updated": job.updated_count,
        "added": job.added_count,
        "error_count": job.error_count,
        "errors": job.errors if job.is_finished else [],
        "failure": job.failure,
    }


def segment_actions(user, segment: Segment, next_url: str = "") -> list[tuple[str, str, str]]:
    """``(label, url, icon)`` of the member actions ``user`` may take on ``segment``."""

    def url(name: str) -> str:
        return reverse(f"journeys_segments:{name}", args=[segment.pk])

    actions = []
    if user.has_perm(EXPORT_PERMISSION):
        actions.append((_("Export members (CSV)"), url("export_members"), "download"))
    refresh_url = url("refresh") + (f"?{urlencode({'next': next_url})}" if next_url else "")
    actions.append((_("Refresh now"), refresh_url, "rotate"))
    if not segment.is_dynamic:
        actions.append((_("Import contacts (CSV)"), url("import_contacts"), "upload"))
    return actions


class SegmentIndexView(IndexView):
    def get_list_more_buttons(self, instance):
        buttons = super().get_list_more_buttons(instance)
        if self.user_has_permission("change"):
            for priority, (label, url, icon) in enumerate(
                segment_actions(self.request.user, instance, self.index_url), start=40
            ):
                buttons.append(MenuItem(label, url=url, icon_name=icon, priority=priority))
        return buttons


class SegmentEditView(EditView):
    @cached_property
    def header_more_buttons(self):
        buttons = list(super().header_more_buttons)
        for priority, (label, url, icon) in enumerate(
            segment_actions(self.request.user, self.object, self.get_edit_url()), start=40
        ):
            buttons.append(Button(label, url=url, icon_name=icon, priority=priority))
        return buttons


class _SegmentActionMixin(PermissionCheckedMixin):
    """Views on one segment (``pk`` in the URL), for users who may change segments."""

    model = Segment
    permission_required = "change"

    @cached_property
    def segment(self) -> Segment:
        return get_object_or_404(Segment, pk=self.kwargs["pk"])

    def get_edit_url(self) -> str:
        return reverse("journeys_segments:edit", args=[self.segment.pk])


class _SegmentPageMixin(_SegmentActionMixin, WagtailAdminTemplateMixin):
    header_icon = "group"

    def get_page_subtitle(self):
        return str(self.segment)

    def get_breadcrumbs_items(self):
        return [
            *self.breadcrumbs_items,
            {"url": self.get_edit_url(), "label": str(self.segment)},
            {"url": "", "label": self.get_page_title()},
        ]


class ExportMembersView(_SegmentActionMixin, View):
    """The stored members as CSV, streamed: a large segment never sits in memory."""

    def dispatch(self, request, *args, **kwargs):
        if not request.user.has_perm(EXPORT_PERMISSION):
            raise PermissionDenied
        return super().dispatch(request, *args, **kwargs)

    def get(self, request, *args, **kwargs):
        writer = csv.writer(_Echo())
        response = StreamingHttpResponse(
            (writer.writerow(row) for row in member_rows(self.segment)),
            content_type="text/csv; charset=utf-8",
        )
        filename = f"segment-{slugify(self.segment.name) or self.segment.pk}-members.csv"
        response["Content-Disposition"] = content_disposition_header(True, filename)
        return response


class RefreshView(_SegmentPageMixin, TemplateView):
    """Confirm, then recompute the segment's members now (POST), and say what changed."""

    template_name = "wagtail_journeys/admin/segments/refresh.html"
    page_title = _("Refresh now")

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            segment=self.segment,
            next_url=get_valid_next_url_from_request(self.request),
            cancel_url=get_valid_next_url_from_request(self.request) or self.get_edit_url(),
            **kwargs,
        )

    def post(self, request, *args, **kwargs):
        back = get_valid_next_url_from_request(request) or self.get_edit_url()
        try:
            report = refresh_segment(self.segment)
        except (ValidationError, ValueError) as error:
            # A rule whose value no longer compiles (edited in code, a deleted page…).
            reason = " ".join(error.messages) if isinstance(error, ValidationError) else error
            messages.error(
                request,
                _("“%(name)s” could not be refreshed: %(error)s")
                % {"name": self.segment.name, "error": reason},
            )
            return redirect(back)
        messages.success(
            request,
            _(
                "“%(name)s” refreshed: %(entered)s entered, %(exited)s left, "
                "%(members)s members now."
            )
            % {
                "name": self.segment.name,
                "entered": report.entered,
                "exited": report.exited,
                "members": report.members,
            },
        )
        return redirect(back)


class ImportForm(forms.Form):
    """A CSV file of contacts, checked in full before anything is stored."""

    file = forms.FileField(
        label=_("CSV file"),
        help_text=_(
            "UTF-8, with a header row naming the columns: email (required), first_name, "
            "last_name, phone, tags (optional). At most 10 MB."
        ),
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        try:
            # The size first: a file too large is refused before it is read.
            import_files.check_size(upload.size)
            self.csv_file = import_files.read_bytes(upload.read())
        except import_files.ImportFileError as error:
            raise ValidationError(str(error)) from None
        return upload


class ImportView(_SegmentPageMixin, FormView):
    """Upload a CSV file of contacts into a static segment; lists the recent imports."""

    template_name = "wagtail_journeys/admin/segments/import.html"
    page_title = _("Import contacts (CSV)")
    form_class = ImportForm

    def get(self, request, *args, **kwargs):
        return self._refuse_dynamic() or super().get(request, *args, **kwargs)

    def post(self, request, *args, **kwargs):
        return self._refuse_dynamic() or super().post(request, *args, **kwargs)

    def _refuse_dynamic(self):
        if not self.segment.is_dynamic:
            return None
        messages.error(
            self.request,
            _(
                "Contacts can be imported only into static segments: a dynamic segment's "
                "members are the contacts matching its rules."
            ),
        )
        return redirect(self.get_edit_url())

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            segment=self.segment,
            recent=self.segment.imports.all()[:RECENT_IMPORTS],
            columns=import_files.COLUMNS,
            **kwargs,
        )

    def form_valid(self, form):
        upload = form.cleaned_data["file"]
        job = imports.start_import(
            self.segment, form.csv_file, filename=upload.name, user=self.request.user
        )
        if form.csv_file.ignored:
            messages.warning(
                self.request,
                _("These columns are not imported: %(columns)s.")
                % {"columns": ", ".join(form.csv_file.ignored)},
            )
        return redirect("journeys_segments:import_status", self.segment.pk, job.pk)


class _ImportMixin(_SegmentActionMixin):
    @cached_property
    def job(self) -> SegmentImport:
        return get_object_or_404(SegmentImport, pk=self.kwargs["import_id"], segment=self.segment)


class ImportStatusView(_ImportMixin, _SegmentPageMixin, TemplateView):
    """One import: a progress bar that follows the task, then the report of refused rows."""

    template_name = "wagtail_journeys/admin/segments/import_status.html"
    page_title = _("Contact import")

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            segment=self.segment,
            job=self.job,
            status_url=reverse(
                "journeys_segments:import_status_json", args=[self.segment.pk, self.job.pk]
            ),
            import_url=reverse("journeys_segments:import_contacts", args=[self.segment.pk]),
            **kwargs,
        )


@method_decorator(never_cache, name="get")
class ImportStatusJSONView(_ImportMixin, View):
    """The import's progress as JSON (see ``import_status``), polled by its page."""

    def get(self, request, *args, **kwargs):
        return JsonResponse(import_status(self.job))


class SegmentViewSet(SnippetViewSet):
    """Segments: static lists and rule-based groups of contacts."""

    model = Segment
    icon = "group"
    menu_label = _("Segments")
    admin_url_namespace = "journeys_segments"
    base_url_path = "journeys/segments"
    # In the Audience menu (see menu.py), so not listed again under Snippets.
    menu_item_is_registered = True
    list_display = ["name", "kind", "member_count", "refreshed_at"]
    list_filter = ["kind"]
    search_fields = ["name"]
    index_view_class = SegmentIndexView
    edit_view_class = SegmentEditView
    panels = [
        FieldPanel("name"),
        FieldPanel("description"),
        FieldRowPanel([FieldPanel("kind"), FieldPanel("match")]),
        FieldPanel("rules"),
    ]

    def get_urlpatterns(self):
        breadcrumbs = [
            *self.breadcrumbs_items,
            {"url": reverse_lazy(self.get_url_name("list")), "label": self.menu_label},
        ]
        return super().get_urlpatterns() + [
            path("export/<int:pk>/", ExportMembersView.as_view(), name="export_members"),
            path(
                "refresh/<int:pk>/",
                RefreshView.as_view(breadcrumbs_items=breadcrumbs),
                name="refresh",
            ),
            path(
                "import/<int:pk>/",
                ImportView.as_view(breadcrumbs_items=breadcrumbs),
                name="import_contacts",
            ),
            path(
                "import/<int:pk>/<int:import_id>/",
                ImportStatusView.as_view(breadcrumbs_items=breadcrumbs),
                name="import_status",
            ),
            path(
                "import/<int:pk>/<int:import_id>/status/",
                ImportStatusJSONView.as_view(),
                name="import_status_json",
            ),
        ]
