"""Email templates in the admin: the snippet viewset, its form and "Preview for a contact".

The live preview panel renders the template for the contact last chosen in
"Preview for a contact" (kept in the editor's session), or a sample contact;
``?contact=<id or email>`` on a preview URL chooses one for that request.
Raw HTML blocks can be added or changed only by users with the
``wagtail_journeys.use_raw_html`` permission: the form refuses the save, as
it does a change that takes ``{{ confirm_url }}`` out of the confirmation
email of a double opt-in signup form.
"""

from __future__ import annotations

from collections import Counter

from django import forms
from django.forms.utils import ErrorList
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import path, reverse, reverse_lazy
from django.utils.decorators import method_decorator
from django.utils.functional import cached_property
from django.utils.translation import gettext_lazy as _
from django.views.generic import TemplateView, View
from wagtail.admin.forms.models import WagtailAdminModelForm
from wagtail.admin.panels import FieldPanel, FieldRowPanel, MultiFieldPanel, ObjectList
from wagtail.admin.views.generic.base import WagtailAdminTemplateMixin
from wagtail.admin.views.generic.permissions import PermissionCheckedMixin
from wagtail.admin.widgets.button import Button
from wagtail.blocks import StreamBlockValidationError, StreamValue, StructValue
from wagtail.blocks.list_block import ListValue
from wagtail.snippets.views.snippets import (
    EditView,
    PreviewOnCreateView,
    PreviewOnEditView,
    SnippetViewSet,
)
from wagtail.utils.decorators import xframe_options_sameorigin_override

from wagtail_journeys.email.blocks import RAW_HTML_BLOCK_NAME
from wagtail_journeys.email.blocks.base import shows_merge_field
from wagtail_journeys.email.previews import (
    REQUEST_ATTRIBUTE,
    SESSION_KEY,
    find_contact,
    render_preview,
)
from wagtail_journeys.models.messages import (
    CONFIRM_URL,
    EmailTemplate,
    SignupForm,
    confirm_url_missing,
)

RAW_HTML_PERMISSION = "wagtail_journeys.use_raw_html"


def raw_html_values(value) -> list[str]:
    """Every raw HTML block's HTML in a StreamField value, nested ones included."""
    found = []
    if isinstance(value, StreamValue):
        for child in value:
            if child.block_type == RAW_HTML_BLOCK_NAME:
                found.append(str(child.value))
            else:
                found += raw_html_values(child.value)
    elif isinstance(value, StructValue):
        for child in value.values():
            found += raw_html_values(child)
    elif isinstance(value, (ListValue, list, tuple)):
        for child in value:
            found += raw_html_values(child)
    return found


class EmailTemplateForm(WagtailAdminModelForm):
    """The email template form, with two refusals a block cannot make on its own.

    New or changed raw HTML from users without the raw HTML permission; and
    the confirmation email of a double opt-in signup form losing its
    ``{{ confirm_url }}`` (no one could confirm any more).
    """

    def clean(self):
        cleaned_data = super().clean()
        body = cleaned_data.get("body")
        if body is None:
            return cleaned_data
        messages = []
        if self._adds_raw_html(body):
            messages.append(
                _(
                    "You may not add or change raw HTML blocks: that needs the "
                    "“Can use raw HTML blocks in email templates” permission. "
                    "Remove the new or changed raw HTML block, or ask an administrator."
                )
            )
        if self._confirms_signups() and not shows_merge_field(body, CONFIRM_URL):
            messages.append(confirm_url_missing(self.instance, in_signup_form=False))
        if messages:
            self.add_error("body", StreamBlockValidationError(non_block_errors=ErrorList(messages)))
        return cleaned_data

    def _adds_raw_html(self, body) -> bool:
        user = self.for_user
        if user is not None and user.has_perm(RAW_HTML_PERMISSION):
            return False
        before = Counter(raw_html_values(self.instance.body) if self.instance.pk else [])
        return bool(Counter(raw_html_values(body)) - before)

    def _confirms_signups(self) -> bool:
        """Whether this template is the confirmation email of a double opt-in signup form."""
        if self.instance.pk is None:
            return False
        signups = SignupForm.objects.filter(confirmation_template=self.instance)
        return signups.filter(double_opt_in=True).exists()


class ContactPreviewMixin:
    """Lets ``?contact=<id or email>`` choose the contact of a preview request."""

    def get_extra_request_attrs(self):
        attrs = super().get_extra_request_attrs()
        attrs[REQUEST_ATTRIBUTE] = self.request.GET.get("contact", "")
        return attrs


class EmailPreviewOnEditView(ContactPreviewMixin, PreviewOnEditView):
    pass


class EmailPreviewOnCreateView(ContactPreviewMixin, PreviewOnCreateView):
    pass


class EmailTemplateEditView(EditView):
    """The edit view, with "Preview for a contact" among its header actions."""

    @cached_property
    def header_more_buttons(self):
        buttons = list(super().header_more_buttons)
        buttons.append(
            Button(
                _("Preview for a contact"),
                url=reverse("journeys_email_templates:preview_contact", args=[self.object.pk]),
                icon_name="view",
                priority=30,
            )
        )
        return buttons


class ContactChoiceForm(forms.Form):
    contact = forms.CharField(
        label=_("Contact"),
        required=False,
        help_text=_("An email address or contact id. Empty: a sample contact."),
    )
    mode = forms.ChoiceField(
        label=_("Show"), choices=EmailTemplate.preview_modes, required=False, initial="html"
    )


class _TemplatePreviewMixin(PermissionCheckedMixin):
    model = EmailTemplate
    permission_required = "change"

    def get_template_object(self):
        template = get_object_or_404(EmailTemplate, pk=self.kwargs["pk"])
        if not self.user_has_permission_for_instance("change", template):
            raise Http404
        # What the editor saved last, published or not.
        return template.get_latest_revision_as_object()


class PreviewForContactView(_TemplatePreviewMixin, WagtailAdminTemplateMixin, TemplateView):
    """Choose a contact and see the template as they would get it (HTML or plain text).

    The choice is remembered in the session for the live preview panel too.
    """

    template_name = "wagtail_journeys/admin/email_preview_contact.html"
    header_icon = "mail"

    def get_page_title(self):
        return _("Preview for a contact")

    def get_page_subtitle(self):
        return str(self.object)

    def get(self, request, *args, **kwargs):
        self.object = self.get_template_object()
        form = ContactChoiceForm(request.GET or None)
        contact = None
        not_found = False
        if form.is_valid() and form.cleaned_data["contact"]:
            contact = find_contact(form.cleaned_data["contact"])
            not_found = contact is None
        if form.is_bound:
            request.session[SESSION_KEY] = str(contact.pk) if contact else ""
        mode = (form.cleaned_data.get("mode") if form.is_valid() else "") or "html"
        email_url = reverse("journeys_email_templates:preview_contact_email", args=[self.object.pk])
        context = self.get_context_data(
            form=form,
            template_object=self.object,
            contact=contact,
            not_found=not_found,
            mode=mode,
            email_url=f"{email_url}?mode={mode}&contact={contact.pk if contact else ''}",
            edit_url=reverse("journeys_email_templates:edit", args=[self.object.pk]),
        )
        return self.render_to_response(context)


@method_decorator(xframe_options_sameorigin_override, name="get")
class PreviewEmailView(_TemplatePreviewMixin, View):
    """The rendered email itself (HTML, or plain text with ``?mode=text``), for the iframe."""

    def get(self, request, *args, **kwargs):
        template = self.get_template_object()
        contact = find_contact(request.GET.get("contact"))
        email = render_preview(template, contact)
        if request.GET.get("mode") == "text":
            content = f"Subject: {email.subject}\n\n{email.text}"
            return HttpResponse(content, content_type="text/plain; charset=utf-8")
        return HttpResponse(email.html, content_type="text/html; charset=utf-8")


class EmailTemplateViewSet(SnippetViewSet):
    """Email templates: written once, rendered for each contact."""

    model = EmailTemplate
    icon = "mail"
    menu_label = _("Email templates")
    admin_url_namespace = "journeys_email_templates"
    base_url_path = "journeys/email-templates"
    menu_order = 310
    list_display = ["name", "subject", "kind", "topic", "updated_at"]
    list_filter = ["kind", "topic"]
    search_fields = ["name", "subject"]
    edit_view_class = EmailTemplateEditView
    preview_on_edit_view_class = EmailPreviewOnEditView
    preview_on_add_view_class = EmailPreviewOnCreateView
    edit_handler = ObjectList(
        [
            FieldPanel("name"),
            FieldRowPanel([FieldPanel("kind"), FieldPanel("topic")]),
            FieldPanel("subject"),
            FieldPanel("preheader"),
            MultiFieldPanel(
                [
                    FieldRowPanel([FieldPanel("from_name"), FieldPanel("from_email")]),
                    FieldPanel("reply_to"),
                ],
                heading=_("Sender"),
            ),
            FieldPanel("body"),
        ],
        base_form_class=EmailTemplateForm,
    )

    def get_urlpatterns(self):
        return super().get_urlpatterns() + [
            path(
                "preview-contact/<int:pk>/",
                PreviewForContactView.as_view(
                    breadcrumbs_items=[
                        *self.breadcrumbs_items,
                        {"url": reverse_lazy(self.get_url_name("list")), "label": self.menu_label},
                    ],
                ),
                name="preview_contact",
            ),
            path(
                "preview-contact/<int:pk>/email/",
                PreviewEmailView.as_view(),
                name="preview_contact_email",
            ),
        ]
