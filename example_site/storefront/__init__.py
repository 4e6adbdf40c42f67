"""The storefront of the demo site: pages, cart, wishlist, checkout and demo data."""
