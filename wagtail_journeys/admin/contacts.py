"""Contacts in the admin: a listing, why each is (not) in each journey, GDPR export and erasure.

Export and erasure each need their own permission (``export_contact``,
``erase_contact``), given to groups in Settings > Groups like any other.
"""

from django.db.models import Q
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView, View
from wagtail.admin.ui.menus import MenuItem
from wagtail.admin.views.generic import DeleteView, IndexView
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.views.generic.permissions import PermissionCheckedMixin

from wagtail_journeys.admin.readonly import ReadOnlyViewSet
from wagtail_journeys.gdpr import erase_contact, export_contact_json
from wagtail_journeys.journeys.explain import explain
from wagtail_journeys.models.contacts import Contact
from wagtail_journeys.models.journeys import Journey


class ContactIndexView(IndexView):
    def get_list_more_buttons(self, instance):
        buttons = super().get_list_more_buttons(instance)
        buttons.append(
            MenuItem(
                _("Journeys: why"),
                url=reverse("journeys_contacts:journeys", args=[instance.pk]),
                icon_name="help",
                priority=30,
            )
        )
        if self.user_has_permission("export"):
            buttons.append(
                MenuItem(
                    _("Export personal data"),
                    url=reverse("journeys_contacts:export", args=[instance.pk]),
                    icon_name="download",
                    priority=40,
                )
            )
        if self.user_has_permission("erase"):
            buttons.append(
                MenuItem(
                    _("Erase personal data"),
                    url=reverse("journeys_contacts:erase", args=[instance.pk]),
                    icon_name="bin",
                    priority=50,
                )
            )
        return buttons


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
    """Contacts: read-only for now, with GDPR export and erasure."""

    model = Contact
    icon = "user"
    menu_label = _("Contacts")
    name = "journeys_contacts"
    allowed_actions = ("view", "export", "erase")
    index_view_class = ContactIndexView
    list_display = ["__str__", "first_name", "last_name", "status", "last_engaged_at"]
    list_filter = ["status", "email_frequency"]
    search_fields = ["email", "first_name", "last_name"]
    ordering = ["-created_at"]
    inspect_view_fields = [
        "email",
        "first_name",
        "last_name",
        "phone",
        "status",
        "consent",
        "email_frequency",
        "timezone",
        "locale",
        "created_at",
        "last_seen_at",
        "last_engaged_at",
    ]

    def get_urlpatterns(self):
        return super().get_urlpatterns() + [
            path("export/<int:pk>/", ContactExportView.as_view(), name="export"),
            path("journeys/<int:pk>/", ContactJourneysView.as_view(), name="journeys"),
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
