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

        from django.db.models.signals import post_delete

        from wagtail_journeys.models import Segment
        from wagtail_journeys.segments.dispatch import (
            forget_dependencies,
            on_event_recorded,
            on_segment_saved,
        )
        from wagtail_journeys.signals import event_recorded, events_recorded, events_stored

        # Segments whose rules an event can change are refreshed for its contact.
        event_recorded.connect(on_event_recorded, dispatch_uid="wagtail_journeys_segments")
        post_save.connect(on_segment_saved, sender=Segment, dispatch_uid="journeys_segment_saved")
        post_delete.connect(
            forget_dependencies, sender=Segment, dispatch_uid="journeys_segment_gone"
        )

        from wagtail.signals import published, unpublished

        from wagtail_journeys.journeys import dispatch, live_edits
        from wagtail_journeys.models import Journey

        # Events start journeys, end them at goals and wake "wait until" steps: each
        # one a journey reacts to is written to the outbox with it, then dispatched.
        events_stored.connect(dispatch.on_events_stored, dispatch_uid="wagtail_journeys_outbox")
        events_recorded.connect(
            dispatch.on_events_recorded, dispatch_uid="wagtail_journeys_journeys"
        )
        published.connect(
            live_edits.on_published, sender=Journey, dispatch_uid="journeys_published"
        )
        unpublished.connect(dispatch.forget_index, sender=Journey, dispatch_uid="journeys_unpub")
        post_delete.connect(dispatch.forget_index, sender=Journey, dispatch_uid="journeys_gone")
