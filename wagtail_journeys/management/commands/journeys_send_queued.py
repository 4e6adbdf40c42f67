"""``journeys_send_queued``: deliver the queued messages that are due, and report stuck ones.

For sites that run cron instead of a django-q2 cluster (``* * * * *``), and
to flush the outbox by hand. ``--install-schedule`` creates the repeating
django-q2 schedule that does the same every minute inside the cluster.
"""

from datetime import timedelta

from django.core.management.base import BaseCommand, CommandError

from wagtail_journeys.channels.delivery import deliver_channel_due
from wagtail_journeys.email.delivery import (
    SCHEDULE_NAME,
    deliver_due,
    ensure_delivery_schedule,
    stuck_messages,
)


class Command(BaseCommand):
    help = (
        "Deliver every queued email that is due (retries, quiet hours and delayed sends "
        "included), then list messages stuck in 'sending'."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--limit", type=int, default=None, help="Look at no more than this many messages."
        )
        parser.add_argument(
            "--stuck-minutes",
            type=int,
            default=15,
            help="Report messages 'sending' for longer than this (default 15).",
        )
        parser.add_argument(
            "--install-schedule",
            action="store_true",
            help="Create the repeating django-q2 schedule that runs this every minute, and stop.",
        )

    def handle(self, *args, limit=None, stuck_minutes=15, install_schedule=False, **options):
        if install_schedule:
            ensure_delivery_schedule()
            self.stdout.write(f"The django-q2 schedule {SCHEDULE_NAME!r} is in place.")
            return
        if limit is not None and limit < 1:
            raise CommandError("--limit must be at least 1.")
        progress = self.stderr.isatty() and options.get("verbosity", 1) > 0

        def show(report):
            if progress:
                self.stderr.write(f"\rDelivered {report.sent}, looked at {report.total}", ending="")

        report = deliver_due(limit=limit, on_batch=show)
        if progress and report.total:
            self.stderr.write("")
        summary = ", ".join(f"{count} {name}" for name, count in report.as_dict().items() if count)
        self.stdout.write(f"Queued email: {summary or 'nothing was due'}.")
        channels = deliver_channel_due()
        counts = channels.as_dict().items()
        summary = ", ".join(f"{count} {name}" for name, count in counts if count)
        self.stdout.write(f"Queued SMS and push: {summary or 'nothing was due'}.")

        stuck = list(stuck_messages(timedelta(minutes=stuck_minutes)))
        if stuck:
            self.stderr.write(
                self.style.WARNING(
                    f"{len(stuck)} message(s) have been 'sending' for more than {stuck_minutes} "
                    "minutes. They may have been delivered, so they are not sent again: look "
                    "for journeys_message_id in your email provider's log."
                )
            )
            for message in stuck:
                since = message.sending_at.strftime("%Y-%m-%d %H:%M:%S")
                self.stderr.write(
                    f"  #{message.pk} to {message.to_email or message.to_phone} since {since} "
                    f"({message.attempts} attempt(s)) {message.status_reason}"
                )
