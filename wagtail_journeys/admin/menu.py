"""The admin menu of wagtail-journeys: journeys, emails, contacts, segments, messages, reports."""

from django.utils.translation import gettext_lazy as _
from wagtail.admin.viewsets.base import ViewSetGroup

from wagtail_journeys.admin.channel_templates import PushTemplateViewSet, SmsTemplateViewSet
from wagtail_journeys.admin.contacts import ContactViewSet
from wagtail_journeys.admin.email_templates import EmailTemplateViewSet
from wagtail_journeys.admin.journeys import JourneyViewSet
from wagtail_journeys.admin.messages import ConsentRecordViewSet, MessageViewSet
from wagtail_journeys.admin.reports import ReportsViewSet
from wagtail_journeys.admin.segments import SegmentViewSet
from wagtail_journeys.admin.signups import SignupFormViewSet, TopicViewSet


class JourneysViewSetGroup(ViewSetGroup):
    """One menu for the journeys, the people in them and what they were sent."""

    menu_label = _("Journeys")
    menu_icon = "group"
    items = (
        JourneyViewSet,
        EmailTemplateViewSet,
        SmsTemplateViewSet,
        PushTemplateViewSet,
        SegmentViewSet,
        ContactViewSet,
        MessageViewSet,
        ReportsViewSet,
        ConsentRecordViewSet,
        SignupFormViewSet,
        TopicViewSet,
    )
