"""``journeys_export_contact EMAIL [--output FILE]``: a contact's personal data as JSON."""

from django.core.management.base import BaseCommand, CommandError

from wagtail_journeys.gdpr import export_contact_json
from wagtail_journeys.models.contacts import Contact


class Command(BaseCommand):
    help = "Export everything stored about the contact with EMAIL as JSON (GDPR right of access)."

    def add_arguments(self, parser):
        parser.add_argument("email")
        parser.add_argument(
            "--output", "-o", help="Write the JSON to this file instead of standard output."
        )

    def handle(self, *args, email, output=None, **options):
        contact = Contact.objects.filter(email=email.strip().lower()).first()
        if contact is None:
            raise CommandError(f"No contact has the email address {email!r}.")
        data = export_contact_json(contact)
        if output:
            with open(output, "w", encoding="utf-8") as file:
                file.write(data + "\n")
            self.stderr.write(f"Wrote the data of {contact.email} to {output}.")
        else:
            self.stdout.write(data)
