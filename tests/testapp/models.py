"""Models the tests need: two form page classes, a plain page and non-page products."""

from decimal import Decimal

from django.db import models
from modelcluster.fields import ParentalKey
from wagtail.contrib.forms.models import AbstractEmailForm, AbstractForm, AbstractFormField
from wagtail.models import Page


class SimplePage(Page):
    template = "testapp/simple_page.html"


class SignupFormField(AbstractFormField):
    page = ParentalKey("SignupFormPage", on_delete=models.CASCADE, related_name="form_fields")


class SignupFormPage(AbstractEmailForm):
    template = "testapp/form_page.html"
    landing_page_template = "testapp/form_page_landing.html"


class EnquiryFormField(AbstractFormField):
    page = ParentalKey("EnquiryFormPage", on_delete=models.CASCADE, related_name="form_fields")


class EnquiryFormPage(AbstractForm):
    """A second form page class, with a different base, to show every form is seen."""

    template = "testapp/form_page.html"
    landing_page_template = "testapp/form_page_landing.html"


class Gadget(models.Model):
    """A product that is not a page, for the product adapter."""

    name = models.CharField(max_length=100)
    price = models.DecimalField(max_digits=8, decimal_places=2, default=Decimal("9.99"))
    sku = models.CharField(max_length=32, blank=True)

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return f"/gadgets/{self.pk}/"
