"""The demo's admin account."""

from django.contrib.auth import get_user_model

ADMIN_USERNAME = "admin"
ADMIN_PASSWORD = "admin"  # A demo on localhost; never deploy this data.
ADMIN_EMAIL = "admin@example.com"


def create_admin_user() -> tuple[object, bool]:
    """The superuser ``admin`` / ``admin``; an existing one is left as it is."""
    User = get_user_model()
    user = User.objects.filter(username=ADMIN_USERNAME).first()
    if user is not None:
        return user, False
    user = User.objects.create_superuser(
        username=ADMIN_USERNAME,
        email=ADMIN_EMAIL,
        password=ADMIN_PASSWORD,
        first_name="Alex",
        last_name="Admin",
    )
    return user, True
