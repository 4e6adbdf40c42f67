"""The storefront's page models, one module per part of the site."""

from .blog import BlogIndexPage, BlogPage
from .form_pages import ContactFormField, ContactFormPage, NewsletterFormField, NewsletterFormPage
from .pages import HomePage, PricingPage, StandardPage
from .products import ProductCategory, ProductIndexPage, ProductPage

__all__ = [
    "BlogIndexPage",
    "BlogPage",
    "ContactFormField",
    "ContactFormPage",
    "HomePage",
    "NewsletterFormField",
    "NewsletterFormPage",
    "PricingPage",
    "ProductCategory",
    "ProductIndexPage",
    "ProductPage",
    "StandardPage",
]
