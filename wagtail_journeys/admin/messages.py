"""The message log and the consent audit: read-only records of what was sent and agreed.

A message's page shows the email as it was sent: the stored subject, and the
HTML and text rendered again from the template revision the message was
queued with and its stored context, for its contact. It is rendered as a
preview renders (nothing is written, no open pixel, links unwrapped), so
looking at a message never counts as an open or a click.

A message left ``sending`` (its worker died after handing it to the
provider) is never sent again automatically: the log's "Stuck" filter lists
those ``stuck_messages()`` reports, and such a message's page says what to
check and what to do.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import django_filters
from django import forms
from django.shortcuts import get_object_or_404
from django.utils.functional import cached_property
from django.utils.text import format_lazy
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _
from wagtail.admin.filters import DateRangePickerWidget, WagtailFilterSet
from wagtail.admin.views.generic import IndexView, InspectView

from wagtail_journeys.admin.readonly import InvalidFiltersMixin, ReadOnlyViewSet
from wagtail_journeys.email.composing import Composer
from wagtail_journeys.email.delivery import STUCK_AFTER, stuck_messages
from wagtail_journeys.email.errors import describe
from wagtail_journeys.email.rendering import RenderSession, render_email
from wagtail_journeys.models import ConsentRecord, EmailTemplate, Journey, Kind, Message

#: Message events listed on a message's page (a forwarded newsletter can be opened thousands
#: of times).
EVENTS_SHOWN = 200

#: Minutes after which a ``sending`` message counts as stuck, as ``stuck_messages()`` decides.
STUCK_MINUTES = int(STUCK_AFTER.total_seconds() // 60)
#: The query string that lists the stuck messages (the dashboard panel links to it).
STUCK_QUERY = "stuck=yes"


class MessageFilterSet(WagtailFilterSet):
    """Status, kind, channel, template, journey, the day range it was sent in, and stuck."""

    status = django_filters.MultipleChoiceFilter(
        label=_("Status"), choices=Message.Status.choices, widget=forms.CheckboxSelectMultiple
    )
    kind = django_filters.ChoiceFilter(
        label=_("Kind"), choices=Kind.choices, widget=forms.RadioSelect, empty_label=_("All")
    )
    channel = django_filters.ChoiceFilter(
        label=_("Channel"),
        choices=Message.Channel.choices,
        widget=forms.RadioSelect,
        empty_label=_("All"),
    )
    template = django_filters.ModelChoiceFilter(
        label=_("Template"), queryset=EmailTemplate.objects.all()
    )
    journey = django_filters.ModelChoiceFilter(
        label=_("Journey"), queryset=Journey.objects.all(), field_name="enrollment__journey"
    )
    sent_at = django_filters.DateFromToRangeFilter(label=_("Sent"), widget=DateRangePickerWidget)
    stuck = django_filters.ChoiceFilter(
        label=_("Stuck"),
        choices=[
            (
                "yes",
                format_lazy(_("Sending for more than {minutes} minutes"), minutes=STUCK_MINUTES),
            )
        ],
        widget=forms.RadioSelect,
        empty_label=_("All"),
        method="filter_stuck",
    )

    class Meta:
        model = Message
        fields = ["status", "kind", "channel", "template", "journey", "sent_at", "stuck"]

    def filter_stuck(self, queryset, name, value):
        # stuck_messages() is the one definition of "stuck" (the command and the dashboard
        # use it too); as a subquery it keeps the listing's own ordering.
        return queryset.filter(pk__in=stuck_messages().values("pk"))


class MessageIndexView(InvalidFiltersMixin, IndexView):
    pass


@dataclass
class SentEmail:
    """What a message's page shows of the email: whatever can be shown, and why not the rest."""

    subject: str
    html: str = ""
    text: str = ""
    notes: list[str] = field(default_factory=list)


def _preview_session() -> RenderSession:
    session = RenderSession(preview=True)
    # Rendered for an editor, not a recipient: no open pixel, links straight to their
    # targets, so that looking at the message records no open or click.
    session.track_opens = session.track_clicks = False
    return session


def email_as_sent(message: Message) -> SentEmail:
    """The email of ``message`` rendered again for its contact, or a note saying why not.

    The pinned template revision and the stored context are what delivery
    renders; the contact's cart, recommendations and conditional content are
    as they are now, which may differ from when it was sent.
    """
    email = SentEmail(subject=message.subject)
    if message.contact_id is None:
        email.notes.append(
            gettext(
                "The contact was erased or deleted: only what is kept for the statistics is "
                "shown, and the email cannot be rendered again."
            )
        )
        return email
    try:
        template = Composer().template_for(message)
    except Exception as error:
        template = None
        email.notes.append(
            gettext("The template revision cannot be read: %(error)s") % {"error": describe(error)}
        )
    if template is None:
        if not email.notes:
            email.notes.append(
                gettext("The email template was deleted: the email cannot be rendered again.")
            )
        return email
    try:
        rendered = render_email(
            template,
            message.contact,
            message=message,
            context=message.context,
            session=_preview_session(),
        )
    except Exception as error:
        # The same failure delivery would record; the page still shows what is stored.
        email.notes.append(
            gettext("The email could not be rendered again: %(error)s") % {"error": describe(error)}
        )
        return email
    email.html, email.text = rendered.html, rendered.text
    if not email.subject:
        email.subject = rendered.subject
    if message.status != Message.Status.SENT:
        email.notes.append(
            gettext("This message was not sent (%(status)s): this is what it would be.")
            % {"status": message.get_status_display()}
        )
    return email


class MessageInspectView(InspectView):
    """One message: its record, the email as sent, and what happened to it since."""

    template_name = "wagtail_journeys/admin/message_detail.html"

    def get_object(self, queryset=None):
        messages = Message.objects.select_related("contact", "template", "enrollment__journey")
        return get_object_or_404(messages, pk=self.pk)

    @cached_property
    def events(self):
        return self.object.events.order_by("occurred_at", "pk")

    def get_context_data(self, **kwargs):
        user = self.request.user
        return super().get_context_data(
            message=self.object,
            email=email_as_sent(self.object),
            events=self.events[:EVENTS_SHOWN],
            events_count=self.events.count(),
            can_view_contact=user.has_perm("wagtail_journeys.view_contact"),
            stuck=stuck_messages().filter(pk=self.object.pk).exists(),
            stuck_minutes=STUCK_MINUTES,
            **kwargs,
        )


class MessageViewSet(ReadOnlyViewSet):
    """The message log: every email the plugin queued, sent, skipped or failed to send."""

    model = Message
    icon = "mail"
    menu_label = _("Message log")
    name = "journeys_messages"
    index_view_class = MessageIndexView
    inspect_view_class = MessageInspectView
    filterset_class = MessageFilterSet
    list_display = ["__str__", "subject", "status", "template", "sent_at", "first_opened_at"]
    search_fields = ["to_email", "subject"]
    ordering = ["-created_at"]
    inspect_view_fields = [
        "to_email",
        "from_email",
        "kind",
        "channel",
        "template",
        "template_revision",
        "step_id",
        "variant",
        "status",
        "status_reason",
        "attempts",
        "esp_message_id",
        "anymail_status",
        "created_at",
        "send_after",
        "sending_at",
        "handed_at",
        "sent_at",
        "first_opened_at",
        "first_clicked_at",
    ]


class ConsentRecordIndexView(InvalidFiltersMixin, IndexView):
    pass


class ConsentRecordViewSet(ReadOnlyViewSet):
    """The consent audit: each consent given or withdrawn, when, how and from where."""

    model = ConsentRecord
    icon = "clipboard-list"
    menu_label = _("Consent records")
    name = "journeys_consent"
    index_view_class = ConsentRecordIndexView
    list_display = ["contact", "channel", "topic", "granted", "method", "created_at"]
    list_filter = ["method", "granted", "channel"]
    search_fields = ["contact__email"]
    ordering = ["-created_at"]
