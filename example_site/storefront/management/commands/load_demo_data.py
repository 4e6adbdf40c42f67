"""``manage.py load_demo_data``: the demo shop's pages, products, images and admin user."""

from django.core.management import call_command
from django.core.management.base import BaseCommand

from ...demo_data import load_demo_data
from ...demo_data.traffic import DEFAULT_DAYS, DEFAULT_VISITORS, traffic_simulated
from ...demo_data.users import ADMIN_PASSWORD, ADMIN_USERNAME

#: Where ``rundemo`` serves the admin.
ADMIN_URL = "http://127.0.0.1:8000/admin/"


class Command(BaseCommand):
    help = (
        "Create the demo shop (pages, products with generated images, form pages, an admin "
        "user), then simulate its last 30 days of traffic. Safe to run again: existing data "
        "is kept, nothing is duplicated and the traffic is simulated only once."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--no-traffic",
            action="store_true",
            help="Do not simulate visitors, orders and emails (journeys_simulate_traffic).",
        )
        parser.add_argument(
            "--days", type=int, default=DEFAULT_DAYS, help="Days of simulated traffic (default 30)."
        )
        parser.add_argument(
            "--visitors",
            type=int,
            default=DEFAULT_VISITORS,
            help="Simulated visitors (default 200).",
        )

    def handle(self, *args, no_traffic, days, visitors, verbosity, **options):
        report = load_demo_data()
        if report.created:
            for description in report.created:
                self.stdout.write(f"  created {description}")
            self.stdout.write(self.style.SUCCESS(f"Demo data loaded ({len(report.created)} new)."))
        else:
            self.stdout.write("Demo data already loaded: nothing to do.")
        if no_traffic:
            pass
        elif traffic_simulated():
            self.stdout.write("Demo traffic already simulated: nothing to do.")
        else:
            call_command(
                "journeys_simulate_traffic",
                days=days,
                visitors=visitors,
                verbosity=verbosity,
            )
        self.stdout.write(f"Admin: {ADMIN_URL}  user: {ADMIN_USERNAME}  password: {ADMIN_PASSWORD}")
