from wagtail_journeys.models.commerce import Cart, CartItem, Wishlist, WishlistItem
from wagtail_journeys.models.contacts import Contact, ContactTag
from wagtail_journeys.models.events import Event

__all__ = [
    "Cart",
    "CartItem",
    "Contact",
    "ContactTag",
    "Event",
    "Wishlist",
    "WishlistItem",
]
