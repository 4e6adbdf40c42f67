"""Admin of signup forms and the preference centre's topics."""

from django.utils.translation import gettext_lazy as _
from wagtail.admin.panels import FieldPanel
from wagtail.admin.viewsets.model import ModelViewSet

from wagtail_journeys.models.messages import SignupForm, Topic


class SignupFormViewSet(ModelViewSet):
    """Which form pages subscribe people, and whether they confirm by email first."""

    model = SignupForm
    icon = "form"
    menu_label = _("Signup forms")
    name = "journeys_signup_forms"
    list_display = ["__str__", "double_opt_in", "confirmation_template"]
    copy_view_enabled = False
    panels = [
        FieldPanel("page"),
        FieldPanel("double_opt_in"),
        FieldPanel("topics"),
        FieldPanel("confirmation_template"),
    ]


class TopicViewSet(ModelViewSet):
    """The topics of the preference centre."""

    model = Topic
    icon = "tag"
    menu_label = _("Email topics")
    name = "journeys_topics"
    list_display = ["name", "slug"]
    copy_view_enabled = False
    form_fields = ["name", "slug", "description"]
