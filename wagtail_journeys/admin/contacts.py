"""Contacts in the admin: a filtered listing, a detail page, actions, GDPR export and erasure.

The detail page (what clicking a contact opens) shows the profile, the
consent history, a timeline of events, messages and journey steps, carts and
the wishlist. Its actions need the standard "change contact" permission
(unsubscribe, enrol in a journey), except export and erasure, which need
their own (``export_contact``, ``erase_contact``), given to groups in
Settings > Groups like any other.
"""

from __future__ import annotations

from typing import Any

import django_filters
from django import forms
from django.db.models import Q, QuerySet
from django.http import HttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.urls import path, reverse
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView, View
from wagtail.admin import messages
from wagtail.admin.admin_url_finder import ModelAdminURLFinder
from wagtail.admin.filters import WagtailFilterSet
from wagtail.admin.ui.menus import MenuItem
from wagtail.admin.views.generic import DeleteView, IndexView, InspectView
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.views.generic.permissions import PermissionCheckedMixin
from wagtail.admin.widgets.button import Button

from wagtail_journeys.admin.readonly import InvalidFiltersMixin, ReadOnlyViewSet
from wagtail_journeys.admin.timeline import parse_cursor, timeline
from wagtail_journeys.email import consent
from wagtail_journeys.gdpr import erase_contact, export_contact_json
from wagtail_journeys.journeys.entry import enroll_or_refuse
from wagtail_journeys.journeys.explain import explain
from wagtail_journeys.models import (
    ConsentRecord,
    Contact,
    ContactTag,
    Enrollment,
    Journey,
    Segment,
    SegmentMembership,
    WishlistItem,
)

#: How much of the rest of the history the detail page shows.
CONSENT_RECORDS_SHOWN = 50
CARTS_SHOWN = 10


# The listing


class ContactFilterSet(WagtailFilterSet):
    """Status, tag, stored segment membership and journeys (in it now, or ever)."""

    JOURNEY_NOW, JOURNEY_EVER = "now", "ever"

    status = django_filters.MultipleChoiceFilter(
        label=_("Status"), choices=Contact.Status.choices, widget=forms.CheckboxSelectMultiple
    )
    tag = django_filters.CharFilter(
        label=_("Tag"), method="filter_tag", help_text=_("The exact tag, in any case.")
    )
    segment = django_filters.ModelChoiceFilter(
        label=_("Segment"),
        queryset=Segment.objects.all(),
        method="filter_segment",
        help_text=_("Members as of the segment's last refresh."),
    )
    journey = django_filters.ModelChoiceFilter(
        label=_("Journey"), queryset=Journey.objects.all(), method="filter_journey"
    )
    journey_when = django_filters.ChoiceFilter(
        label=_("In the journey"),
        choices=[(JOURNEY_NOW, _("In it now")), (JOURNEY_EVER, _("Ever in it"))],
        empty_label=None,
        widget=forms.RadioSelect,
        method="filter_nothing",  # read by filter_journey
    )

    class Meta:
        model = Contact
        fields = ["status", "email_frequency"]

    def filter_tag(self, queryset: QuerySet, name: str, value: str) -> QuerySet:
        tagged = ContactTag.objects.filter(tag__name__iexact=value.strip())
        return queryset.filter(pk__in=tagged.values("content_object_id"))

    def filter_segment(self, queryset: QuerySet, name: str, value: Segment) -> QuerySet:
        members = SegmentMembership.objects.filter(segment=value)
        return queryset.filter(pk__in=members.values("contact_id"))

    def filter_journey(self, queryset: QuerySet, name: str, value: Journey) -> QuerySet:
        enrollments = Enrollment.objects.filter(journey=value)
        if self.form.cleaned_data.get("journey_when") != self.JOURNEY_EVER:
            enrollments = enrollments.filter(status__in=Enrollment.IN_JOURNEY)
        return queryset.filter(pk__in=enrollments.values("contact_id"))

    def filter_nothing(self, queryset: QuerySet, name: str, value: Any) -> QuerySet:
        return queryset


class ContactIndexView(InvalidFiltersMixin, IndexView):
    def search_queryset(self, queryset):
        # Each word must be in the address or a name: "ada lovelace" finds Ada Lovelace.
        for word in self.search_query.split():
            queryset = queryset.filter(
                Q(email__icontains=word)
                | Q(first_name__icontains=word)
                | Q(last_name__icontains=word)
            )
        return queryset

    def get_list_more_buttons(self, instance):
        buttons = super().get_list_more_buttons(instance)
        return buttons + [
            MenuItem(label, url=url, icon_name=icon, priority=priority)
            for label, url, icon, priority in contact_links(self, instance)
        ]


def contact_links(view, contact: Contact) -> list[tuple[str, str, str, int]]:
    """``(label, url, icon, priority)`` of the other pages on ``contact`` the user may open."""
    links = [
        (
            _("Journeys: why"),
            reverse("journeys_contacts:journeys", args=[contact.pk]),
            "help",
            30,
        )
    ]
    if view.user_has_permission("export"):
        url = reverse("journeys_contacts:export", args=[contact.pk])
        links.append((_("Export personal data"), url, "download", 40))
    if view.user_has_permission("erase"):
        url = reverse("journeys_contacts:erase", args=[contact.pk])
        links.append((_("Erase personal data"), url, "bin", 50))
    return links


# The detail page and its actions


class EnrolForm(forms.Form):
    journey = forms.ModelChoiceField(
        label=_("Journey"),
        queryset=Journey.objects.filter(live=True, state=Journey.State.RUNNING),
        empty_label=_("Choose a live journey"),
        error_messages={"invalid_choice": _("Choose a journey that is published and running.")},
    )


class ContactInspectView(InspectView):
    """Everything about one contact, and what an editor may do about them."""

    template_name = "wagtail_journeys/admin/contact_detail.html"

    def get_page_title(self):
        return str(self.object)

    def get_page_subtitle(self):
        return self.object.full_name

    @cached_property
    def header_more_buttons(self):
        return [
            Button(label, url=url, icon_name=icon, priority=priority)
            for label, url, icon, priority in contact_links(self, self.object)
        ]

    def get_context_data(self, **kwargs):
        contact = self.object
        entries, more = timeline(contact, parse_cursor(self.request.GET.get("before")))
        user = self.request.user
        consent_records = contact.consent_records.select_related("topic").order_by(
            "-created_at", "-pk"
        )
        return super().get_context_data(
            contact=contact,
            tags=sorted(tag.name for tag in contact.tags.all()),
            topics_left=list(contact.topics_left.all()),
            segments=Segment.objects.filter(memberships__contact=contact),
            enrollments=contact.enrollments.filter(status__in=Enrollment.IN_JOURNEY).select_related(
                "journey"
            ),
            consent_records=consent_records[:CONSENT_RECORDS_SHOWN],
            consent_records_count=consent_records.count(),
            timeline=entries,
            timeline_older=entries[-1].cursor if more else "",
            timeline_paged="before" in self.request.GET,
            carts=contact.carts.prefetch_related("items").order_by("-updated_at")[:CARTS_SHOWN],
            wishlist_items=WishlistItem.objects.filter(wishlist__contact=contact),
            can_change=self.user_has_permission("change"),
            can_view_messages=user.has_perm("wagtail_journeys.view_message"),
            enrol_form=EnrolForm(),
            **kwargs,
        )


class ContactActionView(PermissionCheckedMixin, View):
    """A POST on one contact by a user who may change contacts; back to its page after."""

    model = Contact
    permission_required = "change"
    http_method_names = ["post"]

    @cached_property
    def contact(self) -> Contact:
        return get_object_or_404(Contact, pk=self.kwargs["pk"])

    def done(self):
        return redirect("journeys_contacts:inspect", self.contact.pk)


class ContactUnsubscribeView(ContactActionView):
    """Stop marketing email to the contact, recorded as consent withdrawn in the admin."""

    def post(self, request, *args, **kwargs):
        changed = consent.unsubscribe(
            self.contact,
            method=ConsentRecord.Method.ADMIN,
            source=request.path,
            ip_address=consent.client_ip(request),
            detail={"user_id": request.user.pk},
        )
        if changed:
            messages.success(
                request, _("%(contact)s was unsubscribed.") % {"contact": self.contact}
            )
        else:
            messages.warning(
                request,
                _("%(contact)s had already withdrawn consent: nothing changed.")
                % {"contact": self.contact},
            )
        return self.done()


class ContactEnrolView(ContactActionView):
    """Put the contact into a live journey now, or say why the journey refuses them."""

    def post(self, request, *args, **kwargs):
        form = EnrolForm(request.POST)
        if not form.is_valid():
            messages.error(
                request,
                _("The contact was not enrolled: %(errors)s")
                % {"errors": " ".join(form.errors.get("journey", []))},
            )
            return self.done()
        journey = form.cleaned_data["journey"]
        decision = enroll_or_refuse(
            self.contact,
            journey,
            reason=_("Enrolled by %(user)s in the admin.") % {"user": request.user},
        )
        if decision.enrollment is None:
            messages.error(
                request,
                _("%(journey)s refused %(contact)s. %(reasons)s")
                % {"journey": journey, "contact": self.contact, "reasons": decision.reason},
            )
        else:
            enrollment = decision.enrollment
            enrollment.refresh_from_db()
            messages.success(
                request,
                _("%(contact)s entered %(journey)s (%(status)s).")
                % {
                    "contact": self.contact,
                    "journey": journey,
                    "status": enrollment.get_status_display(),
                },
            )
        return self.done()


class ContactExportView(PermissionCheckedMixin, View):
    """Download one contact's data as a JSON file."""

    model = Contact
    permission_required = "export"

    def get(self, request, pk):
        contact = get_object_or_404(Contact, pk=pk)
        response = HttpResponse(
            export_contact_json(contact), content_type="application/json; charset=utf-8"
        )
        response["Content-Disposition"] = f'attachment; filename="contact-{contact.pk}.json"'
        return response


class ContactJourneysView(PermissionCheckedMixin, WagtailAdminTemplateMixin, TemplateView):
    """For one contact and each journey: the steps they went through, or what kept them out."""

    model = Contact
    permission_required = "view"
    template_name = "wagtail_journeys/admin/contact_journeys.html"
    header_icon = "help"

    def get_page_title(self):
        return _("Journeys of %(contact)s") % {"contact": self.contact}

    def get_breadcrumbs_items(self):
        return [
            *self.breadcrumbs_items,
            {"url": reverse("journeys_contacts:index"), "label": _("Contacts")},
            {
                "url": reverse("journeys_contacts:inspect", args=[self.contact.pk]),
                "label": str(self.contact),
            },
            {"url": "", "label": self.get_page_title()},
        ]

    def get(self, request, pk):
        self.contact = get_object_or_404(Contact, pk=pk)
        return super().get(request, pk=pk)

    def get_context_data(self, **kwargs):
        # Journeys the contact is or was in, and the live ones they could enter.
        journeys = Journey.objects.filter(
            Q(live=True) | Q(enrollments__contact=self.contact)
        ).distinct()
        return super().get_context_data(
            contact=self.contact,
            explanations=[explain(journey, self.contact) for journey in journeys],
            **kwargs,
        )


class ContactEraseView(DeleteView):
    """Confirm, then erase one contact's personal data (statistics stay, anonymous)."""

    permission_required = "erase"
    template_name = "wagtail_journeys/admin/contact_erase.html"
    page_title = _("Erase personal data")
    success_message = _("The personal data of %(model_name)s '%(object)s' was erased.")

    @property
    def confirmation_message(self):
        return _(
            "This deletes the contact, their events, consent records, carts and wishlist. "
            "The messages they were sent stay in the statistics, without their address or "
            "any other personal detail. This cannot be undone."
        )

    def get_delete_url(self):
        return reverse("journeys_contacts:erase", args=[self.object.pk])

    def delete_action(self):
        erase_contact(self.object)


class ContactViewSet(ReadOnlyViewSet):
    """Contacts: listed and inspected; never edited by hand, acted on (unsubscribe, enrol)."""

    model = Contact
    icon = "user"
    menu_label = _("Contacts")
    name = "journeys_contacts"
    # "change" allows the actions of the detail page; there is no edit form.
    allowed_actions = ("view", "change", "export", "erase")
    index_view_class = ContactIndexView
    inspect_view_class = ContactInspectView
    filterset_class = ContactFilterSet
    list_display = ["__str__", "first_name", "last_name", "status", "last_engaged_at"]
    search_fields = ["email", "first_name", "last_name"]
    ordering = ["-created_at"]
    inspect_view_fields = [
        "email",
        "first_name",
        "last_name",
        "phone",
        "status",
        "email_frequency",
        "user",
        "timezone",
        "locale",
        "created_at",
        "last_seen_at",
        "last_engaged_at",
    ]

    def get_common_view_kwargs(self, **kwargs):
        # No edit view exists: a contact's name in the listing opens its detail page.
        return super().get_common_view_kwargs(edit_url_name=None, **kwargs)

    @property
    def url_finder_class(self):
        # Wagtail's "edit this object" links (logs, search) lead to the detail page.
        return type(
            "ContactURLFinder",
            (ModelAdminURLFinder,),
            {"edit_url_name": self.get_url_name("inspect")},
        )

    def get_urlpatterns(self):
        return super().get_urlpatterns() + [
            path("export/<int:pk>/", ContactExportView.as_view(), name="export"),
            path("journeys/<int:pk>/", ContactJourneysView.as_view(), name="journeys"),
            path("unsubscribe/<int:pk>/", ContactUnsubscribeView.as_view(), name="unsubscribe"),
            path("enrol/<int:pk>/", ContactEnrolView.as_view(), name="enrol"),
            path(
                "erase/<int:pk>/",
                ContactEraseView.as_view(
                    model=Contact,
                    index_url_name=self.get_url_name("index"),
                    header_icon=self.icon,
                ),
                name="erase",
            ),
        ]
