"""The general pages of the shop: the home page, content pages and the pricing page."""

from django.db import models
from wagtail.admin.panels import FieldPanel, MultiFieldPanel
from wagtail.fields import StreamField
from wagtail.models import Page
from wagtail.search import index

from ..blocks import BaseStreamBlock, PricingStreamBlock


class HomePage(Page):
    """The root of the shop: a hero, some content and a row of featured products."""

    image = models.ForeignKey(
        "wagtailimages.Image",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Hero image, at least 1600 × 600 pixels.",
    )
    hero_text = models.CharField(
        max_length=255, help_text="One sentence under the title that says what the shop sells."
    )
    hero_cta = models.CharField(
        "Hero button text", max_length=64, blank=True, help_text="For example “Shop now”."
    )
    hero_cta_link = models.ForeignKey(
        "wagtailcore.Page",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        verbose_name="Hero button link",
        help_text="The page the hero button leads to.",
    )
    body = StreamField(BaseStreamBlock(), blank=True, help_text="Content below the hero.")
    featured_section_title = models.CharField(
        max_length=255, blank=True, help_text="Heading above the featured products."
    )
    featured_section = models.ForeignKey(
        "storefront.ProductIndexPage",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="The first products of this listing are shown on the home page.",
    )

    content_panels = Page.content_panels + [
        MultiFieldPanel(
            [
                FieldPanel("image"),
                FieldPanel("hero_text"),
                FieldPanel("hero_cta"),
                FieldPanel("hero_cta_link"),
            ],
            heading="Hero section",
        ),
        FieldPanel("body"),
        MultiFieldPanel(
            [FieldPanel("featured_section_title"), FieldPanel("featured_section")],
            heading="Featured products",
        ),
    ]
    search_fields = Page.search_fields + [index.SearchField("hero_text")]

    page_description = "The start page of the shop: a hero, content and featured products."
    # One shop, one home page; everything else hangs below it.
    max_count = 1
    parent_page_types = ["wagtailcore.Page"]

    #: How many products the featured section shows.
    featured_count = 4

    class Meta:
        verbose_name = "home page"

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["featured_products"] = (
            self.featured_section.get_products()[: self.featured_count]
            if self.featured_section
            else []
        )
        return context


class StandardPage(Page):
    """A page of text and images: About, FAQ, shipping information."""

    introduction = models.TextField(
        blank=True, help_text="A short lead paragraph, also used in listings."
    )
    image = models.ForeignKey(
        "wagtailimages.Image",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Shown at the top of the page, at least 1200 pixels wide.",
    )
    body = StreamField(BaseStreamBlock(), blank=True)

    content_panels = Page.content_panels + [
        FieldPanel("introduction"),
        FieldPanel("image"),
        FieldPanel("body"),
    ]
    search_fields = Page.search_fields + [
        index.SearchField("introduction"),
        index.SearchField("body"),
    ]
    page_description = "A page of text and images, such as About us or the FAQ."
    subpage_types = ["storefront.StandardPage"]

    class Meta:
        verbose_name = "standard page"


class PricingPage(Page):
    """The subscription plans, side by side, with content (questions) below.

    A visit here is one of the strongest buying signals a journey can react to.
    """

    introduction = models.TextField(blank=True, help_text="Shown above the plans.")
    plans = StreamField(
        PricingStreamBlock(),
        blank=True,
        help_text="Two to four plans read best; mark the one to recommend as highlighted.",
    )
    body = StreamField(BaseStreamBlock(), blank=True, help_text="Shown below the plans.")

    content_panels = Page.content_panels + [
        FieldPanel("introduction"),
        FieldPanel("plans"),
        FieldPanel("body"),
    ]
    search_fields = Page.search_fields + [index.SearchField("introduction")]
    page_description = "Subscription plans side by side, with questions below."
    subpage_types = []

    class Meta:
        verbose_name = "pricing page"
