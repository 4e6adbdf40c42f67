"""The public Python API, re-exported by ``wagtail_journeys``."""

from wagtail_journeys.commerce import get_cart, get_wishlist
from wagtail_journeys.email.sending import send_email, send_emails
from wagtail_journeys.identity import identify
from wagtail_journeys.journeys.entry import enroll
from wagtail_journeys.tracking.events import track

__all__ = ["enroll", "get_cart", "get_wishlist", "identify", "send_email", "send_emails", "track"]
