"""The catalogue: categories (a snippet), the product listing and product pages.

``ProductPage`` has the attributes the wagtail-journeys default product
adapter reads (``title``, ``price``, ``currency``, ``sku``, ``full_url`` and
``image``), so carts and wishlists can hold product pages as they are.
"""

from django.core.validators import MinValueValidator
from django.db import models
from wagtail.admin.panels import FieldPanel, FieldRowPanel, MultiFieldPanel
from wagtail.fields import StreamField
from wagtail.models import Page
from wagtail.search import index

from ..blocks import BaseStreamBlock


class ProductCategory(models.Model):
    """A group of products, such as “Coffee” or “Equipment”; edited as a snippet."""

    name = models.CharField(max_length=100, unique=True)
    slug = models.SlugField(unique=True, help_text="Used in the listing's filter links.")
    description = models.TextField(blank=True)

    panels = [FieldPanel("name"), FieldPanel("slug"), FieldPanel("description")]

    class Meta:
        ordering = ["name"]
        verbose_name = "product category"
        verbose_name_plural = "product categories"

    def __str__(self) -> str:
        return self.name


class ProductIndexPage(Page):
    """Lists the products below it, filtered by ``?category=<slug>``."""

    introduction = models.TextField(blank=True, help_text="Shown above the products.")
    image = models.ForeignKey(
        "wagtailimages.Image",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Banner image of the listing.",
    )

    content_panels = Page.content_panels + [FieldPanel("introduction"), FieldPanel("image")]
    search_fields = Page.search_fields + [index.SearchField("introduction")]
    page_description = "The product listing; add products below it."
    subpage_types = ["storefront.ProductPage"]

    class Meta:
        verbose_name = "product listing"

    def get_products(self):
        """The live products of this listing, in title order."""
        return (
            ProductPage.objects.live()
            .child_of(self)
            .select_related("image", "category")
            .order_by("title")
        )

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        products = self.get_products()
        categories = ProductCategory.objects.filter(products__in=products.values("pk")).distinct()
        current = categories.filter(slug=request.GET.get("category", "")).first()
        if current is not None:
            products = products.filter(category=current)
        context.update(products=products, categories=categories, current_category=current)
        return context


class ProductPage(Page):
    """One product of the shop, with an “Add to cart” and an “Add to wishlist” button."""

    sku = models.CharField(
        "SKU",
        max_length=64,
        unique=True,
        help_text="Stock keeping unit: the code on receipts, in reports and in journey emails.",
    )
    price = models.DecimalField(
        max_digits=10,
        decimal_places=2,
        validators=[MinValueValidator(0)],
        help_text="Price per unit, in euros.",
    )
    image = models.ForeignKey(
        "wagtailimages.Image",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Square product photo, at least 800 × 800 pixels. Also used in cart emails.",
    )
    category = models.ForeignKey(
        ProductCategory,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="products",
    )
    summary = models.TextField(
        max_length=300,
        help_text="One or two sentences for listings, the cart and emails.",
    )
    body = StreamField(BaseStreamBlock(), blank=True, help_text="The full description.")

    #: Every demo product is priced in euros; the plugin's product adapter
    #: reads this attribute for the cart's and the emails' currency.
    currency = "EUR"

    content_panels = Page.content_panels + [
        MultiFieldPanel(
            [FieldRowPanel([FieldPanel("sku"), FieldPanel("price")]), FieldPanel("category")],
            heading="Catalogue",
        ),
        FieldPanel("image"),
        FieldPanel("summary"),
        FieldPanel("body"),
    ]
    search_fields = Page.search_fields + [
        index.SearchField("summary"),
        index.SearchField("body"),
        index.FilterField("sku"),
    ]
    page_description = "A product visitors can add to their cart or wishlist."
    parent_page_types = ["storefront.ProductIndexPage"]
    subpage_types = []

    #: How many products of the same category are suggested below a product.
    related_count = 3

    class Meta:
        verbose_name = "product"

    def get_related_products(self):
        """Other live products of the same category."""
        if self.category_id is None:
            return ProductPage.objects.none()
        return (
            ProductPage.objects.live()
            .filter(category_id=self.category_id)
            .exclude(pk=self.pk)
            .select_related("image")
            .order_by("title")[: self.related_count]
        )

    def get_context(self, request, *args, **kwargs):
        # Imported here: the plugin's API needs the app registry, which is not
        # ready yet while models modules are imported.
        from wagtail_journeys import get_wishlist

        context = super().get_context(request, *args, **kwargs)
        # create=False: looking at a product must not create a wishlist.
        wishlist = get_wishlist(request, create=False)
        context["in_wishlist"] = wishlist is not None and wishlist.contains(self)
        context["related_products"] = self.get_related_products()
        return context
