"""Logged-in admin clients for the admin tests."""

from django.contrib.auth.models import Group, Permission, User
from django.test import Client


def superuser_client() -> Client:
    client = Client()
    client.force_login(User.objects.create_superuser("admin", "admin@example.com", "pw"))
    return client


def client_for(*codenames: str) -> Client:
    """A client logged in as a user who may enter the admin and has only these permissions.

    ``codenames`` are wagtail-journeys permissions (``change_journey``, ``export_contact``...).
    """
    name = "-".join(codenames) or "nobody"
    user = User.objects.create_user(name, f"{name}@example.com", "pw")
    group = Group.objects.create(name=name)
    group.permissions.set(
        [Permission.objects.get(codename="access_admin")]
        + [
            Permission.objects.get(content_type__app_label="wagtail_journeys", codename=codename)
            for codename in codenames
        ]
    )
    user.groups.add(group)
    client = Client()
    client.force_login(user)
    return client
