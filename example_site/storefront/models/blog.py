"""The shop's blog: a listing and its posts (bakerydemo's BlogIndexPage/BlogPage, simplified)."""

from django.db import models
from django.utils import timezone
from wagtail.admin.panels import FieldPanel
from wagtail.fields import StreamField
from wagtail.models import Page
from wagtail.search import index

from ..blocks import BaseStreamBlock


class BlogIndexPage(Page):
    """Lists the blog posts below it, newest first."""

    introduction = models.TextField(blank=True, help_text="Shown above the posts.")

    content_panels = Page.content_panels + [FieldPanel("introduction")]
    page_description = "The blog's listing; add posts below it."
    subpage_types = ["storefront.BlogPage"]

    class Meta:
        verbose_name = "blog listing"

    def get_posts(self):
        """The live posts of this blog, newest first."""
        return (
            BlogPage.objects.live()
            .child_of(self)
            .select_related("image")
            .order_by("-date_published", "-pk")
        )

    def get_context(self, request, *args, **kwargs):
        context = super().get_context(request, *args, **kwargs)
        context["posts"] = self.get_posts()
        return context


class BlogPage(Page):
    """One blog post."""

    introduction = models.TextField(help_text="The teaser shown in the listing.")
    image = models.ForeignKey(
        "wagtailimages.Image",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
        help_text="Landscape image, at least 1200 × 600 pixels.",
    )
    body = StreamField(BaseStreamBlock(), blank=True)
    author = models.CharField(max_length=100, blank=True)
    date_published = models.DateField(
        "Date article published", default=timezone.localdate, help_text="Orders the blog."
    )

    content_panels = Page.content_panels + [
        FieldPanel("introduction"),
        FieldPanel("image"),
        FieldPanel("body"),
        FieldPanel("author"),
        FieldPanel("date_published"),
    ]
    search_fields = Page.search_fields + [
        index.SearchField("introduction"),
        index.SearchField("body"),
    ]
    page_description = "One blog post."
    parent_page_types = ["storefront.BlogIndexPage"]
    subpage_types = []

    class Meta:
        verbose_name = "blog post"
