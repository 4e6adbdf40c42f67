"""``journeys_erase_contact EMAIL [--yes]``: erase a contact's personal data."""

from django.core.management.base import BaseCommand, CommandError

from wagtail_journeys.gdpr import erase_contact
from wagtail_journeys.models.contacts import Contact


class Command(BaseCommand):
    help = (
        "Erase the contact with EMAIL and their personal data (GDPR right to erasure); "
        "anonymous message statistics are kept."
    )

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument(
            "--yes", action="store_true", help="Do not ask for confirmation (for scripts)."
        )

    def handle(self, *args, email, yes=False, **options):
        contact = Contact.objects.filter(email=email.strip().lower()).first()
        if contact is None:
            raise CommandError(f"No contact has the email address {email!r}.")
        if not yes:
            try:
                answer = input(f"Erase {contact.email} and all their personal data? [y/N] ")
            except EOFError:
                answer = ""
            if answer.strip().lower() not in ("y", "yes"):
                raise CommandError("Nothing was erased.")
        summary = erase_contact(contact)
        details = ", ".join(f"{count} {name.replace('_', ' ')}" for name, count in summary.items())
        self.stdout.write(self.style.SUCCESS(f"Erased {email}: {details}."))
