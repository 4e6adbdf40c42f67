"""``manage.py load_demo_data``: the demo shop's pages, products, images and admin user."""

from django.core.management.base import BaseCommand

from ...demo_data import load_demo_data
from ...demo_data.users import ADMIN_PASSWORD, ADMIN_USERNAME

#: Where ``rundemo`` serves the admin.
ADMIN_URL = "http://127.0.0.1:8000/admin/"


class Command(BaseCommand):
    help = (
        "Create the demo shop (pages, products with generated images, form pages, an admin "
        "user). Safe to run again: existing data is kept and nothing is duplicated."
    )

    def handle(self, *args, **options):
        report = load_demo_data()
        if report.created:
            for description in report.created:
                self.stdout.write(f"  created {description}")
            self.stdout.write(self.style.SUCCESS(f"Demo data loaded ({len(report.created)} new)."))
        else:
            self.stdout.write("Demo data already loaded: nothing to do.")
        self.stdout.write(f"Admin: {ADMIN_URL}  user: {ADMIN_USERNAME}  password: {ADMIN_PASSWORD}")
