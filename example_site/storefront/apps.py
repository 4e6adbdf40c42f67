from django.apps import AppConfig


class StorefrontConfig(AppConfig):
    """The demo shop; its label keeps table names short (``storefront_productpage``)."""

    name = "example_site.storefront"
    label = "storefront"
    verbose_name = "Storefront"
    default_auto_field = "django.db.models.BigAutoField"
