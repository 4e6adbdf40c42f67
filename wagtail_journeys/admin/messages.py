"""The message log and the consent audit: read-only records of what was sent and agreed."""

from django.utils.translation import gettext_lazy as _

from wagtail_journeys.admin.readonly import ReadOnlyViewSet
from wagtail_journeys.models.messages import ConsentRecord, Message


class MessageViewSet(ReadOnlyViewSet):
    """The message log: every email the plugin queued, sent, skipped or failed to send."""

    model = Message
    icon = "mail"
    menu_label = _("Message log")
    name = "journeys_messages"
    list_display = ["__str__", "subject", "status", "template", "sent_at", "first_opened_at"]
    list_filter = ["status", "kind", "channel"]
    search_fields = ["to_email", "subject"]
    ordering = ["-created_at"]
    inspect_view_fields = [
        "contact",
        "to_email",
        "from_email",
        "subject",
        "kind",
        "template",
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
        "sent_at",
        "first_opened_at",
        "first_clicked_at",
    ]


class ConsentRecordViewSet(ReadOnlyViewSet):
    """The consent audit: each consent given or withdrawn, when, how and from where."""

    model = ConsentRecord
    icon = "clipboard-list"
    menu_label = _("Consent records")
    name = "journeys_consent"
    list_display = ["contact", "channel", "topic", "granted", "method", "created_at"]
    list_filter = ["method", "granted", "channel"]
    search_fields = ["contact__email"]
    ordering = ["-created_at"]
