"""``journeys_vapid_keys``: print a new VAPID key pair for web push."""

from django.core.management.base import BaseCommand, CommandError

from wagtail_journeys.channels.webpush import generate_vapid_keys
from wagtail_journeys.exceptions import MissingExtraError


class Command(BaseCommand):
    help = (
        "Print a new VAPID key pair for web push, as WAGTAIL_JOURNEYS settings. Keep the "
        "private key secret; changing the pair later cancels every existing subscription."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--subject",
            default="mailto:you@example.com",
            help="VAPID_SUBJECT to print: a mailto: or https: URL push services can reach you at.",
        )

    def handle(self, *args, subject, **options):
        try:
            public_key, private_key = generate_vapid_keys()
        except MissingExtraError as error:
            raise CommandError(str(error)) from None
        self.stdout.write(
            "WAGTAIL_JOURNEYS = {\n"
            '    "PUSH_BACKEND": "wagtail_journeys.channels.webpush.WebPushBackend",\n'
            f'    "VAPID_PUBLIC_KEY": "{public_key}",\n'
            f'    "VAPID_PRIVATE_KEY": "{private_key}",\n'
            f'    "VAPID_SUBJECT": "{subject}",\n'
            "}\n"
        )
