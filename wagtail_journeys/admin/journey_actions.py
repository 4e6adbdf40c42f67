"""Actions on journeys: pause, resume and archive, and "Create from template".

- Pause, Resume and Archive call ``journeys.lifecycle``. They change state
  only on POST (with the CSRF token): the buttons post at once through
  Wagtail's action controller; a GET shows what the action does and asks to
  confirm, which is how Archive is reached. Each needs the right to change
  journeys; Archive, which unpublishes a live journey, also the right to
  publish them.
- "Create from template" lists ``journeys.templates.JOURNEY_TEMPLATES``;
  each one is created as an unpublished draft, with its email templates.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.core.exceptions import PermissionDenied, ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.utils.translation import ngettext, ngettext_lazy
from django.views.generic import TemplateView
from wagtail.admin import messages
from wagtail.admin.utils import get_valid_next_url_from_request
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.views.generic.permissions import PermissionCheckedMixin
from wagtail.admin.widgets.button import Button

from wagtail_journeys.journeys import lifecycle
from wagtail_journeys.models import Enrollment, Journey

NAMESPACE = "journeys_journeys"
CHANGE_PERMISSION = "wagtail_journeys.change_journey"
PUBLISH_PERMISSION = "wagtail_journeys.publish_journey"


def journey_url(name: str, *args) -> str:
    """The URL of one of the journey admin's views (``edit``, ``pause``, ``simulate``...)."""
    return reverse(f"{NAMESPACE}:{name}", args=args)


# -- Pause, resume, archive ------------------------------------------------------------------


@dataclass(frozen=True)
class LifecycleAction:
    """One of the state changes an editor can make, and what the admin says about it."""

    name: str
    label: str
    icon: str
    #: The states it applies to.
    states: tuple[str, ...]
    explanation: str
    done: str

    def run(self, journey: Journey, user) -> int:
        """Take the action; returns how many contacts it held, released or took out."""
        if self.name == "archive":
            return lifecycle.archive(journey, user=user)
        return {"pause": lifecycle.pause, "resume": lifecycle.resume}[self.name](journey)

    def allowed(self, user, journey: Journey) -> bool:
        """May ``user`` take this action on ``journey`` in its present state?"""
        if journey.state not in self.states or not user.has_perm(CHANGE_PERMISSION):
            return False
        # Archiving unpublishes a live journey, which Wagtail leaves to publishers.
        return not (
            self.name == "archive" and journey.live and not user.has_perm(PUBLISH_PERMISSION)
        )


RUNNING, PAUSED, ARCHIVED = Journey.State.RUNNING, Journey.State.PAUSED, Journey.State.ARCHIVED
LIFECYCLE = {
    action.name: action
    for action in (
        LifecycleAction(
            "pause",
            _("Pause"),
            "time",
            (RUNNING,),
            _(
                "Nobody enters while the journey is paused, and the contacts in it are held "
                "where they are (goals still take them out). Resume it to go on."
            ),
            ngettext_lazy(
                "“%(name)s” paused: %(count)s contact is held.",
                "“%(name)s” paused: %(count)s contacts are held.",
                "count",
            ),
        ),
        LifecycleAction(
            "resume",
            _("Resume"),
            "resubmit",
            (PAUSED, ARCHIVED),
            _(
                "Contacts enter again and the held ones go on; those whose wait ended while "
                "it was paused go on at the next tick. An archived journey must also be "
                "published again."
            ),
            ngettext_lazy(
                "“%(name)s” resumed: %(count)s held contact goes on.",
                "“%(name)s” resumed: %(count)s held contacts go on.",
                "count",
            ),
        ),
        LifecycleAction(
            "archive",
            _("Archive"),
            "folder-inverse",
            (RUNNING, PAUSED),
            _(
                "Archiving ends the journey: it is unpublished, nobody enters it any more and "
                "every contact in it leaves it now. Its history and reports are kept."
            ),
            ngettext_lazy(
                "“%(name)s” archived: %(count)s contact left it.",
                "“%(name)s” archived: %(count)s contacts left it.",
                "count",
            ),
        ),
    )
}


def journey_buttons(user, journey: Journey) -> list[Button]:
    """The actions on one journey for its edit view header and its listing row."""
    buttons = []
    for priority, action in enumerate(LIFECYCLE.values(), start=40):
        if not action.allowed(user, journey):
            continue
        url = journey_url(action.name, journey.pk)
        attrs = {}
        if action.name != "archive":
            # Wagtail's action controller POSTs (with the CSRF token and ``next``) on click.
            attrs = {
                "data-controller": "w-action",
                "data-action": "w-action#post",
                "data-w-action-url-value": url,
            }
        buttons.append(
            Button(action.label, url=url, icon_name=action.icon, attrs=attrs, priority=priority)
        )
    if user.has_perm(CHANGE_PERMISSION):
        buttons.append(
            Button(
                _("Simulate"),
                url=journey_url("simulate", journey.pk),
                icon_name="tasks",
                priority=50,
            )
        )
    # Whoever may open the journey may read its numbers (see admin/report_base.py).
    buttons.append(
        Button(
            _("Analytics"),
            url=reverse("journeys_reports:journey", args=[journey.pk]),
            icon_name="table",
            priority=55,
        )
    )
    return buttons


def state_notice(journey: Journey) -> str:
    """What the edit view says about a journey that is not running."""
    held = Enrollment.objects.filter(journey=journey, held_run_at__isnull=False).count()
    if journey.state == PAUSED:
        return ngettext(
            "This journey is paused: nobody enters it and %(count)s contact is held. "
            "Resume it to go on.",
            "This journey is paused: nobody enters it and %(count)s contacts are held. "
            "Resume it to go on.",
            held,
        ) % {"count": held}
    if journey.state == ARCHIVED:
        return str(
            _("This journey is archived: nobody enters it. Resume and publish it to use it again.")
        )
    return ""


class JourneyPageMixin(PermissionCheckedMixin):
    """Views on one journey (``pk`` in the URL), for users who may change journeys."""

    model = Journey
    permission_required = "change"
    header_icon = "redirect"

    @cached_property
    def journey(self) -> Journey:
        return get_object_or_404(Journey, pk=self.kwargs["pk"])

    def get_page_subtitle(self):
        return str(self.journey)

    def get_breadcrumbs_items(self):
        return [
            *self.breadcrumbs_items,
            {"url": journey_url("edit", self.journey.pk), "label": str(self.journey)},
            {"url": "", "label": self.get_page_title()},
        ]


class LifecycleView(JourneyPageMixin, WagtailAdminTemplateMixin, TemplateView):
    """Pause, resume or archive (POST); a GET shows what it does and asks to confirm."""

    template_name = "wagtail_journeys/journeys/lifecycle_confirm.html"
    action_name = ""

    @cached_property
    def action(self) -> LifecycleAction:
        return LIFECYCLE[self.action_name]

    def get_page_title(self):
        return self.action.label

    def back_url(self) -> str:
        return get_valid_next_url_from_request(self.request) or journey_url("edit", self.journey.pk)

    def get_context_data(self, **kwargs):
        return super().get_context_data(
            journey=self.journey,
            action=self.action,
            allowed=self.action.allowed(self.request.user, self.journey),
            contacts=self.journey.enrollments.filter(status__in=Enrollment.IN_JOURNEY).count(),
            next_url=get_valid_next_url_from_request(self.request),
            cancel_url=self.back_url(),
            **kwargs,
        )

    def post(self, request, *args, **kwargs):
        if self.journey.state not in self.action.states:
            # A second click, or a page left open: say so rather than fail.
            messages.error(
                request,
                _("“%(name)s” cannot be changed that way: it is %(state)s.")
                % {"name": self.journey.name, "state": self.journey.get_state_display().lower()},
            )
            return redirect(self.back_url())
        if not self.action.allowed(request.user, self.journey):
            raise PermissionDenied
        count = self.action.run(self.journey, request.user)
        messages.success(request, self.action.done % {"name": self.journey.name, "count": count})
        return redirect(self.back_url())


# -- Templates gallery -----------------------------------------------------------------------


def journey_templates() -> list[Any]:
    """The journey templates on offer, read when asked (the module loads email templates)."""
    from wagtail_journeys.journeys.templates import JOURNEY_TEMPLATES

    return list(JOURNEY_TEMPLATES)


class TemplateGalleryView(PermissionCheckedMixin, WagtailAdminTemplateMixin, TemplateView):
    """Ready-made journeys: each one is created as an unpublished draft, with its emails."""

    model = Journey
    permission_required = "add"
    template_name = "wagtail_journeys/journeys/gallery.html"
    page_title = _("Create from template")
    header_icon = "clipboard-list"

    def get_breadcrumbs_items(self):
        return [
            *self.breadcrumbs_items,
            {"url": journey_url("list"), "label": _("Journeys")},
            {"url": "", "label": self.get_page_title()},
        ]

    def get_context_data(self, **kwargs):
        return super().get_context_data(templates=journey_templates(), **kwargs)

    def post(self, request, *args, **kwargs):
        slug = request.POST.get("template", "")
        chosen = next((item for item in journey_templates() if item.slug == slug), None)
        if chosen is None:
            messages.error(request, _("There is no journey template “%(slug)s”.") % {"slug": slug})
            return redirect(journey_url("templates"))
        try:
            journey = chosen.create(user=request.user)
        except ValidationError as error:
            messages.error(
                request,
                _("“%(name)s” could not be created: %(error)s")
                % {"name": chosen.name, "error": " ".join(error.messages)},
            )
            return redirect(journey_url("templates"))
        messages.success(
            request,
            _("“%(name)s” created as a draft: check its emails and steps, then publish it.")
            % {"name": journey.name},
        )
        return redirect(journey_url("edit", journey.pk))
