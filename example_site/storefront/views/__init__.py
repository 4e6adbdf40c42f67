"""The storefront's own views (everything that is not a Wagtail page)."""
