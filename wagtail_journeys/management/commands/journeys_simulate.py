"""``journeys_simulate``: a dry run of a journey for one contact; prints the timeline.

Nothing is kept or sent. Examples::

    manage.py journeys_simulate "Abandoned cart" --contact ada@example.com
    manage.py journeys_simulate 3 --field first_name=Ada --tag vip \\
        --event "order_completed after 2h" --event 'email_clicked after 1d {"url": "https://x.example/"}'
"""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from wagtail_journeys.journeys.simulator import parse_event_line, simulate
from wagtail_journeys.models import Contact, Journey


class Command(BaseCommand):
    help = "Simulate a journey for a contact (or a made-up one) on a fast clock; send nothing."

    def add_arguments(self, parser):
        parser.add_argument("journey", help="The journey's id or name.")
        parser.add_argument("--contact", help="An existing contact's email address.")
        parser.add_argument(
            "--field", action="append", default=[], help="A made-up contact's field: key=value."
        )
        parser.add_argument("--tag", action="append", default=[], help="A made-up contact's tag.")
        parser.add_argument(
            "--event",
            action="append",
            default=[],
            help='An event: name [after 2h|1d12h|30m] [{"json": "properties"}].',
        )
        parser.add_argument(
            "--live", action="store_true", help="Simulate the live version, not the draft."
        )

    def _journey(self, ref: str) -> Journey:
        journeys = Journey.objects.filter(pk=int(ref)) if ref.isdigit() else Journey.objects.none()
        journey = journeys.first() or Journey.objects.filter(name=ref).first()
        if journey is None:
            raise CommandError(f"No journey has the id or name {ref!r}.")
        return journey

    def handle(
        self, *args, journey, contact=None, field=(), tag=(), event=(), live=False, **options
    ):
        journey = self._journey(journey)
        person = None
        if contact:
            person = Contact.objects.filter(email__iexact=contact.strip()).first()
            if person is None:
                raise CommandError(f"No contact has the email address {contact!r}.")
        fields = {}
        for item in field:
            key, sep, value = item.partition("=")
            if not sep or not key.strip():
                raise CommandError(f"--field {item!r}: write key=value.")
            fields[key.strip()] = value
        if tag:
            fields["tags"] = list(tag)
        try:
            events = [parse_event_line(text.strip()) for text in event]
            timeline = simulate(
                journey, contact=person, fields=fields, events=events, draft=not live
            )
        except ValueError as error:
            raise CommandError(str(error)) from None
        if not timeline.entered:
            self.stdout.write(f"The contact would not enter: {timeline.refusal}")
            return
        start = timeline.entries[0].at if timeline.entries else None
        for entry in timeline.entries:
            offset = entry.at - start if start else timedelta()
            line = f"+{offset}  {entry.summary or entry.result:<40}  {entry.result}"
            if entry.branch:
                line += f" → {entry.branch}"
            if entry.detail.get("subject"):
                line += f"  “{entry.detail['subject']}”"
            if entry.reason:
                line += f"  ({entry.reason})"
            self.stdout.write(line)
        self.stdout.write(f"Ends: {timeline.status}.")
