"""URLs of the storefront's own views.

Include them before Wagtail's page serving::

    path("", include("example_site.storefront.urls")),
    path("", include(wagtail_urls)),
"""

from django.urls import path

from .views import accounts, cart, checkout, wishlist

app_name = "storefront"

urlpatterns = [
    path("cart/", cart.cart_detail, name="cart"),
    path("cart/add/", cart.cart_add, name="cart_add"),
    path("cart/update/", cart.cart_update, name="cart_update"),
    path("cart/remove/", cart.cart_remove, name="cart_remove"),
    path("wishlist/", wishlist.wishlist_detail, name="wishlist"),
    path("wishlist/add/", wishlist.wishlist_add, name="wishlist_add"),
    path("wishlist/remove/", wishlist.wishlist_remove, name="wishlist_remove"),
    path("checkout/", checkout.checkout, name="checkout"),
    path("checkout/thank-you/", checkout.checkout_complete, name="checkout_complete"),
    path("login/", accounts.LoginView.as_view(), name="login"),
    path("logout/", accounts.LogoutView.as_view(), name="logout"),
]
