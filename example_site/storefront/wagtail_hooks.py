"""Admin registrations of the storefront (registration only, no logic)."""

from wagtail.snippets.models import register_snippet
from wagtail.snippets.views.snippets import SnippetViewSet

from .models import ProductCategory


class ProductCategoryViewSet(SnippetViewSet):
    """Product categories under Snippets, searchable by name."""

    model = ProductCategory
    icon = "tag"
    menu_label = "Product categories"
    list_display = ["name", "slug"]
    search_fields = ["name", "description"]


register_snippet(ProductCategoryViewSet)
