"""SMS and push templates in the admin: snippet viewsets, the SMS counter widget, previews.

The SMS text field counts characters and segments as the editor types
(``static/wagtail_journeys/sms_counter.js``, the rules of
``channels.sms_text``). It counts the text as written; the preview counts
the text as a contact gets it, merge fields filled in.

Previews render for a sample contact, or the contact chosen as for email
previews (``?contact=<id or email>`` on the preview URL, or "Preview for a
contact" in an email template, kept in the session).
"""

from __future__ import annotations

import json

from django.forms import Media
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from wagtail.admin.panels import FieldPanel, FieldRowPanel
from wagtail.admin.widgets import AdminAutoHeightTextInput
from wagtail.snippets.views.snippets import (
    PreviewOnCreateView,
    PreviewOnEditView,
    SnippetViewSet,
)

from wagtail_journeys.admin.email_templates import ContactPreviewMixin
from wagtail_journeys.channels.sms_text import SmsLength, non_gsm_characters, segments
from wagtail_journeys.models.channels import PushTemplate, SmsTemplate

COUNTER_SCRIPT = "wagtail_journeys/sms_counter.js"
#: How many of the characters that force UCS-2 the counter names.
NAMED_CHARACTERS = 5


def counter_labels() -> dict[str, object]:
    """The counter's words, translated, for the script (``%(count)s`` is filled in there)."""
    return {
        "characters": [
            ngettext("%(count)s character", "%(count)s characters", 1),
            ngettext("%(count)s character", "%(count)s characters", 2),
        ],
        "segments": [
            ngettext("%(count)s SMS segment", "%(count)s SMS segments", 1),
            ngettext("%(count)s SMS segment", "%(count)s SMS segments", 2),
        ],
        "ucs2": _("UCS-2 because of: %(characters)s"),
    }


def describe(length: SmsLength, non_gsm: list[str]) -> str:
    """The counter's text, as the script writes it: "12 characters · 1 SMS segment (GSM-7)"."""
    characters = ngettext("%(count)s character", "%(count)s characters", length.characters) % {
        "count": length.characters
    }
    count = ngettext("%(count)s SMS segment", "%(count)s SMS segments", length.segments) % {
        "count": length.segments
    }
    text = f"{characters} · {count} ({length.encoding})"
    if non_gsm:
        named = " ".join(non_gsm[:NAMED_CHARACTERS])
        text += " · " + _("UCS-2 because of: %(characters)s") % {"characters": named}
    return text


class ChannelPreviewOnEditView(ContactPreviewMixin, PreviewOnEditView):
    pass


class ChannelPreviewOnCreateView(ContactPreviewMixin, PreviewOnCreateView):
    pass


class SmsTextInput(AdminAutoHeightTextInput):
    """A text area with a live character and SMS segment counter under it."""

    template_name = "wagtail_journeys/channels/sms_text_input.html"

    def __init__(self, attrs=None):
        super().__init__({"rows": 3, **(attrs or {})})

    @property
    def media(self):
        return Media(js=[COUNTER_SCRIPT])

    def get_context(self, name, value, attrs):
        context = super().get_context(name, value, attrs)
        widget = context["widget"]
        counter_id = f"{widget['attrs'].get('id') or name}-sms-counter"
        widget["attrs"]["data-journeys-sms-counter"] = counter_id
        # The browser shows (and the script counts) line breaks as one character.
        text = (widget["value"] or "").replace("\r\n", "\n")
        widget.update(
            counter_id=counter_id,
            counter_text=describe(segments(text), non_gsm_characters(text)),
            labels_json=json.dumps(counter_labels(), ensure_ascii=False),
            merge_note=_(
                "Counted as written: merge fields are filled in for each contact, so what "
                "is sent is longer or shorter. The preview counts the text a contact gets."
            ),
        )
        return context


class SmsTemplateViewSet(SnippetViewSet):
    """SMS templates: one text with merge fields, counted in segments as it is typed."""

    model = SmsTemplate
    icon = "mobile-alt"
    menu_label = gettext_lazy("SMS templates")
    admin_url_namespace = "journeys_sms_templates"
    base_url_path = "journeys/sms-templates"
    menu_order = 311
    list_display = ["name", "kind", "updated_at"]
    list_filter = ["kind"]
    search_fields = ["name"]
    preview_on_edit_view_class = ChannelPreviewOnEditView
    preview_on_add_view_class = ChannelPreviewOnCreateView
    panels = [
        FieldPanel("name"),
        FieldPanel("kind"),
        FieldPanel("body", widget=SmsTextInput()),
    ]


class PushTemplateViewSet(SnippetViewSet):
    """Web push templates: a title, a short text, an icon and the page a click opens."""

    model = PushTemplate
    icon = "comment"
    menu_label = gettext_lazy("Push templates")
    admin_url_namespace = "journeys_push_templates"
    base_url_path = "journeys/push-templates"
    menu_order = 312
    list_display = ["name", "kind", "updated_at"]
    list_filter = ["kind"]
    search_fields = ["name"]
    preview_on_edit_view_class = ChannelPreviewOnEditView
    preview_on_add_view_class = ChannelPreviewOnCreateView
    panels = [
        FieldPanel("name"),
        FieldPanel("kind"),
        FieldPanel("title"),
        FieldPanel("body", widget=AdminAutoHeightTextInput()),
        FieldRowPanel([FieldPanel("url"), FieldPanel("icon")]),
    ]
