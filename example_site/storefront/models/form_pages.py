"""The two form pages of the shop.

The plugin records every submission of any Wagtail form page and identifies
the visitor by the first field of type "email", so neither class calls it.
They are different classes on purpose: the newsletter form can email the shop
(``AbstractEmailForm``), the contact form only stores submissions
(``AbstractForm``), and journeys can be triggered by either.
"""

from django.db import models
from modelcluster.fields import ParentalKey
from wagtail.admin.panels import FieldPanel, FieldRowPanel, InlinePanel, MultiFieldPanel
from wagtail.contrib.forms.models import AbstractEmailForm, AbstractForm, AbstractFormField
from wagtail.contrib.forms.panels import FormSubmissionsPanel
from wagtail.fields import RichTextField


class NewsletterFormField(AbstractFormField):
    """A field of the newsletter signup form."""

    page = ParentalKey(
        "storefront.NewsletterFormPage", on_delete=models.CASCADE, related_name="form_fields"
    )


class NewsletterFormPage(AbstractEmailForm):
    """Newsletter signup; a journey can welcome every new subscriber."""

    intro = RichTextField(blank=True, help_text="Why subscribe: shown above the form.")
    thank_you_text = RichTextField(blank=True, help_text="Shown after a successful signup.")

    content_panels = AbstractEmailForm.content_panels + [
        FormSubmissionsPanel(),
        FieldPanel("intro"),
        InlinePanel("form_fields", label="Form fields"),
        FieldPanel("thank_you_text"),
        MultiFieldPanel(
            [
                FieldRowPanel([FieldPanel("from_address"), FieldPanel("to_address")]),
                FieldPanel("subject"),
            ],
            heading="Notify the shop by email (leave “To address” empty for none)",
        ),
    ]
    page_description = "A signup form; its email field identifies the subscriber."
    subpage_types = []

    class Meta:
        verbose_name = "newsletter form page"


class ContactFormField(AbstractFormField):
    """A field of the contact form."""

    page = ParentalKey(
        "storefront.ContactFormPage", on_delete=models.CASCADE, related_name="form_fields"
    )


class ContactFormPage(AbstractForm):
    """“Contact us”: submissions are listed in the admin under Forms."""

    intro = RichTextField(blank=True, help_text="Shown above the form.")
    thank_you_text = RichTextField(blank=True, help_text="Shown after the message is sent.")

    content_panels = AbstractForm.content_panels + [
        FormSubmissionsPanel(),
        FieldPanel("intro"),
        InlinePanel("form_fields", label="Form fields"),
        FieldPanel("thank_you_text"),
    ]
    page_description = "A contact form whose submissions are kept in the admin."
    subpage_types = []

    class Meta:
        verbose_name = "contact form page"
