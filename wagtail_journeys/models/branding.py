"""The look of every email a site sends: one brand per Wagtail site."""

from django.core.validators import RegexValidator
from django.db import models
from django.utils.translation import gettext_lazy as _
from wagtail.contrib.settings.models import BaseSiteSetting, register_setting

colour_validator = RegexValidator(
    r"^#[0-9a-fA-F]{6}$", _("Enter a colour as #rrggbb, for example #1f6feb.")
)


@register_setting(icon="mail")
class EmailBrandSettings(BaseSiteSetting):
    """Logo, colours and the footer (with the postal address the law requires)."""

    company_name = models.CharField(_("company name"), max_length=255, blank=True)
    logo = models.ForeignKey(
        "wagtailimages.Image",
        verbose_name=_("logo"),
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    primary_colour = models.CharField(
        _("primary colour"), max_length=7, default="#1f6feb", validators=[colour_validator]
    )
    background_colour = models.CharField(
        _("background colour"), max_length=7, default="#f4f4f5", validators=[colour_validator]
    )
    text_colour = models.CharField(
        _("text colour"), max_length=7, default="#18181b", validators=[colour_validator]
    )
    postal_address = models.TextField(
        _("postal address"),
        blank=True,
        help_text=_(
            "Shown in the footer of every marketing email: CAN-SPAM and most EU laws require "
            "a valid postal address of the sender."
        ),
    )
    footer_text = models.TextField(_("footer text"), blank=True)

    class Meta:
        verbose_name = _("email branding")
