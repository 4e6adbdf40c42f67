"""Log in and out with Django's auth views, in the shop's look.

The plugin links a logged-in user to the visitor's contact by itself; the
login view also identifies the visitor by the user's email, so a contact who
first subscribed to the newsletter and later logs in is one contact.
"""

from contextlib import suppress

from django.contrib.auth import views as auth_views

from wagtail_journeys import identify
from wagtail_journeys.exceptions import InvalidContactDataError


class LoginView(auth_views.LoginView):
    template_name = "storefront/accounts/login.html"
    redirect_authenticated_user = True
    # Used when there is no ?next=; set here so that projects including these
    # URLs need no LOGIN_REDIRECT_URL.
    next_page = "/"

    def form_valid(self, form):
        response = super().form_valid(form)
        user = form.get_user()
        if user.email:
            # Only the names the user has: an empty one would blank the contact's.
            fields = {
                name: value
                for name, value in (("first_name", user.first_name), ("last_name", user.last_name))
                if value
            }
            # An address Django accepted but the plugin did not must not fail
            # a login that has already succeeded.
            with suppress(InvalidContactDataError):
                identify(self.request, email=user.email, **fields)
        return response


class LogoutView(auth_views.LogoutView):
    """Log out (POST only, as Django requires) and go back to the home page."""

    next_page = "/"
