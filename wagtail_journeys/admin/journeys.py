"""Journeys in the admin: the snippet viewset, its listing and its editor.

- The editor has four tabs (Trigger, Entry, Steps, Goals & settings) and
  publishes through Wagtail's Publish action.
- Publishing a change that removes steps where contacts wait needs the
  "confirm removed steps" box ticked; until then the form says how many
  contacts wait at each removed step (``journeys.live_edits``).
- Pause / Resume / Archive and "Create from template" are in
  ``journey_actions``; "Simulate" is in ``journey_simulator``.
"""

from __future__ import annotations

from django import forms
from django.contrib.contenttypes.models import ContentType
from django.db.models import CharField, Count, Exists, OuterRef, Q
from django.db.models.functions import Cast
from django.urls import path, reverse_lazy
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext
from wagtail.admin import messages
from wagtail.admin.forms.models import WagtailAdminModelForm
from wagtail.admin.panels import FieldPanel, FieldRowPanel, ObjectList, TabbedInterface
from wagtail.admin.ui.tables import Column, LiveStatusTagColumn, UpdatedAtColumn
from wagtail.admin.widgets.button import HeaderButton
from wagtail.models import Revision
from wagtail.snippets.views.snippets import EditView, IndexView, SnippetViewSet

from wagtail_journeys.admin.flow import FlowPanel
from wagtail_journeys.admin.journey_actions import (
    LIFECYCLE,
    NAMESPACE,
    LifecycleView,
    TemplateGalleryView,
    journey_buttons,
    journey_url,
    state_notice,
)
from wagtail_journeys.admin.journey_simulator import SimulateView
from wagtail_journeys.journeys.live_edits import RemovedStep, removed_steps
from wagtail_journeys.models import Enrollment, Journey

CONFIRM_FIELD = "confirm_removed_steps"


# -- Publishing a change that removes steps --------------------------------------------------


def removal_error(removed: list[RemovedStep]) -> str:
    """The error that lists each removed step holding contacts, with how many it holds."""
    steps = "; ".join(
        ngettext("“%(step)s”: %(count)s contact", "“%(step)s”: %(count)s contacts", step.contacts)
        % {"step": step.summary, "count": step.contacts}
        for step in removed
    )
    return _(
        "This change removes steps where contacts are waiting (%(steps)s). Publishing moves "
        "each of them to the next step that remains, or takes them out of the journey if no "
        "later step remains. Tick this box and publish again to go ahead."
    ) % {"steps": steps}


class JourneyForm(WagtailAdminModelForm):
    """The journey editor's form, with the confirmation that publishing a removal needs."""

    confirm_removed_steps = forms.BooleanField(
        label=_("Move the contacts waiting at removed steps"),
        required=False,
        help_text=_("Needed only to publish a change that removes steps where contacts wait."),
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.removed: list[RemovedStep] = []

    def check_removed_steps(self, journey: Journey) -> bool:
        """For publishing: no removed step holds contacts, or the editor ticked the box.

        Otherwise the box gets an error listing the steps and their contacts.
        """
        steps = self.cleaned_data.get("steps")
        if steps is None:
            return True
        self.removed = removed_steps(journey, steps)
        if not self.removed or self.cleaned_data.get(CONFIRM_FIELD):
            return True
        self.add_error(CONFIRM_FIELD, removal_error(self.removed))
        return False


class RemovedStepsPanel(FieldPanel):
    """The confirmation box, shown only once publishing asked for it."""

    def __init__(self, **kwargs):
        kwargs.setdefault("field_name", CONFIRM_FIELD)
        kwargs.setdefault("disable_comments", True)
        super().__init__(**kwargs)

    class BoundPanel(FieldPanel.BoundPanel):
        template_name = "wagtail_journeys/journeys/removed_steps_panel.html"

        def is_shown(self):
            if not super().is_shown() or not self.form.is_bound:
                return False
            # Kept once ticked, so a publish refused for another error keeps the answer.
            return CONFIRM_FIELD in self.form.errors or bool(self.bound_field.value())

        def get_context_data(self, parent_context=None):
            context = super().get_context_data(parent_context)
            context["removed"] = getattr(self.form, "removed", [])
            return context


# -- The viewset -----------------------------------------------------------------------------


class JourneyLiveStatusColumn(LiveStatusTagColumn):
    """Wagtail's live / draft tag, without its query per row for a scheduled publication."""

    def get_value(self, instance):
        if not getattr(instance, "has_schedule", True):
            # The listing's query found none: spare ``status_string`` looking again.
            instance.scheduled_revision = None
        return super().get_value(instance)


class JourneyIndexView(IndexView):
    @cached_property
    def header_buttons(self):
        buttons = list(super().header_buttons)
        if self.user_has_permission("add"):
            buttons.append(
                HeaderButton(
                    _("Create from template"),
                    url=journey_url("templates"),
                    icon_name="clipboard-list",
                )
            )
        return buttons

    def get_list_more_buttons(self, instance):
        return super().get_list_more_buttons(instance) + journey_buttons(
            self.request.user, instance
        )


class JourneyEditView(EditView):
    """The editor: says when the journey is not running; publishing checks removed steps."""

    def get(self, request, *args, **kwargs):
        # The live row holds the state: a revision's copy of it may be stale.
        notice = state_notice(self.live_object)
        if notice:
            messages.warning(request, notice)
        return super().get(request, *args, **kwargs)

    def form_valid(self, form):
        # The form's object comes from a revision (the latest, or an older one being
        # reverted to), whose copy of the state may predate a pause or a resume:
        # saving or publishing it must not undo that.
        form.instance.state = self.live_object.state
        return super().form_valid(form)

    def is_valid(self, form):
        valid = super().is_valid(form)
        if valid and self.action == "publish" and not form.check_removed_steps(self.live_object):
            self.produced_error_code = "removed_steps"
            self.produced_error_message = _(
                "Not published: contacts wait at steps this change removes. See the Steps tab."
            )
            return False
        return valid

    @cached_property
    def header_more_buttons(self):
        return list(super().header_more_buttons) + journey_buttons(
            self.request.user, self.live_object
        )


class JourneyViewSet(SnippetViewSet):
    """Journeys: a trigger, entry rules, steps and goals, published to go live."""

    model = Journey
    icon = "redirect"
    menu_label = _("Journeys")
    admin_url_namespace = NAMESPACE
    base_url_path = "journeys/journeys"
    # In the Journeys menu (see menu.py), so not listed again under Snippets.
    menu_item_is_registered = True
    list_display = [
        "name",
        "state",
        JourneyLiveStatusColumn(),
        Column("contacts_in_journey", label=_("Contacts in it"), sort_key="contacts_in_journey"),
        UpdatedAtColumn(),
    ]
    list_filter = ["state", "live"]
    search_fields = ["name", "description"]
    index_view_class = JourneyIndexView
    edit_view_class = JourneyEditView
    edit_handler = TabbedInterface(
        [
            ObjectList([FieldPanel("name"), FieldPanel("trigger")], heading=_("Trigger")),
            ObjectList(
                [
                    FieldPanel("entry_match"),
                    FieldPanel("entry_rules"),
                    FieldRowPanel([FieldPanel("reentry"), FieldPanel("reentry_days")]),
                ],
                heading=_("Entry"),
            ),
            ObjectList([FlowPanel(), RemovedStepsPanel(), FieldPanel("steps")], heading=_("Steps")),
            ObjectList(
                [
                    FieldPanel("goals"),
                    FieldRowPanel([FieldPanel("conversion_event"), FieldPanel("conversion_days")]),
                    FieldPanel("description"),
                ],
                heading=_("Goals & settings"),
            ),
        ],
        base_form_class=JourneyForm,
    )

    def get_queryset(self, request):
        # One query for the listing, whatever the number of journeys.
        scheduled = Revision.objects.filter(
            content_type=ContentType.objects.get_for_model(Journey),
            object_id=Cast(OuterRef("pk"), output_field=CharField()),
            approved_go_live_at__isnull=False,
        )
        return Journey.objects.annotate(
            contacts_in_journey=Count(
                "enrollments", filter=Q(enrollments__status__in=Enrollment.IN_JOURNEY)
            ),
            has_schedule=Exists(scheduled),
        )

    def get_urlpatterns(self):
        breadcrumbs = [
            *self.breadcrumbs_items,
            {"url": reverse_lazy(self.get_url_name("list")), "label": self.menu_label},
        ]
        lifecycle_urls = [
            path(
                f"{name}/<int:pk>/",
                LifecycleView.as_view(action_name=name, breadcrumbs_items=breadcrumbs),
                name=name,
            )
            for name in LIFECYCLE
        ]
        return super().get_urlpatterns() + [
            *lifecycle_urls,
            path(
                "simulate/<int:pk>/",
                SimulateView.as_view(breadcrumbs_items=breadcrumbs),
                name="simulate",
            ),
            path(
                "templates/",
                TemplateGalleryView.as_view(breadcrumbs_items=breadcrumbs),
                name="templates",
            ),
        ]
