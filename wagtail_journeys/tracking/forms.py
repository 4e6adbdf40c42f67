"""Submissions of every Wagtail form page, recorded as ``form_submitted``.

Wagtail sends no signal of its own for form submissions, so we listen to
``post_save`` of every ``AbstractFormSubmission`` subclass (connected in
``apps.py``) and find the visitor through the request that ``track_page_views``
keeps in a ContextVar while the form page is served. Form page classes need no
change.
"""

from __future__ import annotations

from contextlib import suppress

from wagtail.contrib.forms.models import AbstractFormSubmission

from wagtail_journeys.exceptions import InvalidContactDataError
from wagtail_journeys.models.events import Event
from wagtail_journeys.tracking.events import track_request
from wagtail_journeys.tracking.pages import serving_request


def _email_field_value(page, form_data: dict) -> str | None:
    get_form_fields = getattr(page, "get_form_fields", None)
    if get_form_fields is None:
        return None
    for field in get_form_fields():
        if field.field_type == "email":
            value = form_data.get(field.clean_name)
            if value:
                return str(value)
    return None


def record_form_submission(sender, instance, created, raw=False, **kwargs) -> None:
    """``post_save`` receiver: record the submission for the visitor who sent it."""
    if raw or not created or not isinstance(instance, AbstractFormSubmission):
        return
    request = serving_request.get()
    if request is None:
        # Created outside a page being served (admin, shell, import):
        # there is no visitor to attribute it to.
        return
    from wagtail_journeys.identity import identify

    page = instance.page.specific
    form_data = instance.form_data if isinstance(instance.form_data, dict) else {}
    email = _email_field_value(page, form_data)
    contact = None
    if email:
        # Wagtail's email field validated the address; a custom form may not
        # have, and a bad address must not lose the submission's event.
        with suppress(InvalidContactDataError):
            contact = identify(request, email=email)
    if contact is not None:
        from wagtail_journeys.email.consent import signup_from_form

        # Subscribes (or starts double opt-in) when the page is a signup form.
        signup_from_form(request, contact, page)
    track_request(
        request,
        "form_submitted",
        {
            "form_page_id": page.pk,
            "form_page_type": page._meta.label_lower,
            "form_title": page.title,
            "submission_id": instance.pk,
            "fields": form_data,
        },
        source=Event.Source.FORM,
        page=page,
    )
