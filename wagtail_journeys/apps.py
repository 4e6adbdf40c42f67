from django.apps import AppConfig
from django.db.models.signals import post_save
from django.utils.translation import gettext_lazy as _


class WagtailJourneysConfig(AppConfig):
    name = "wagtail_journeys"
    label = "wagtail_journeys"
    verbose_name = _("Journeys")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self) -> None:
        from wagtail_journeys import checks  # noqa: F401  (registers the system checks)
        from wagtail_journeys.tracking.forms import record_form_submission

        # No sender: every form page's submission class, including custom
        # ones, is recorded; the receiver filters on AbstractFormSubmission.
        post_save.connect(record_form_submission, dispatch_uid="wagtail_journeys_form_submitted")

        from anymail.signals import tracking

        from wagtail_journeys.email.tracking import handle_tracking_event

        # Delivery, open, click, bounce... reports from any ESP's webhook.
        tracking.connect(handle_tracking_event, dispatch_uid="wagtail_journeys_esp_tracking")
