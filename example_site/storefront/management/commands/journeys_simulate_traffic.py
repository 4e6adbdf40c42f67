"""``manage.py journeys_simulate_traffic``: weeks of shop traffic, through the real pipeline."""

from django.core.management.base import BaseCommand, CommandError

from ...demo_data.traffic import DEFAULT_DAYS, DEFAULT_VISITORS, NoDemoShop, simulate_traffic

#: Characters of the progress bar.
BAR_WIDTH = 30


def checked(name: str, value: int, most: int) -> int:
    """``value`` if it is from 1 to ``most``, else a CommandError naming the option."""
    if not 1 <= value <= most:
        raise CommandError(f"--{name} must be a whole number from 1 to {most}, not {value}.")
    return value


def show_progress(stream):
    """A plain-text progress bar on ``stream`` (an OutputWrapper), redrawn as it fills."""
    shown = -1

    def progress(done: int, total: int) -> None:
        nonlocal shown
        filled = BAR_WIDTH * done // total
        if filled == shown and done != total:
            return
        shown = filled
        bar = f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}]"
        ending = "\n" if done == total else ""
        stream.write(f"\r  {bar} {100 * done // total:3d}% of {total} hours", plain, ending=ending)
        stream.flush()

    return progress


def plain(text: str) -> str:
    # stderr is styled as errors by default; a progress bar is not one.
    return text


class Command(BaseCommand):
    help = (
        "Simulate visitors, newsletter signups, carts, orders and email opens and clicks over "
        "the last days, hour by hour, through the real tracking, journeys and email pipeline "
        "(tasks run inline at the simulated time; email goes to no real address). Each run "
        "adds new visitors. Needs the demo data (load_demo_data)."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--days", type=int, default=DEFAULT_DAYS, help="Days of history, 1-365 (default 30)."
        )
        parser.add_argument(
            "--visitors",
            type=int,
            default=DEFAULT_VISITORS,
            help="People who visit the shop, 1-100000 (default 200).",
        )
        parser.add_argument("--seed", type=int, default=2025, help="Seed of the random choices.")

    def handle(self, *args, days, visitors, seed, verbosity, **options):
        days = checked("days", days, 365)
        visitors = checked("visitors", visitors, 100_000)
        progress = show_progress(self.stderr) if verbosity > 0 else None
        if verbosity > 0:
            self.stdout.write(f"Simulating {days} days of traffic from {visitors} visitors...")
        try:
            report = simulate_traffic(days=days, visitors=visitors, seed=seed, progress=progress)
        except NoDemoShop as error:
            raise CommandError(str(error)) from None
        if verbosity > 0:
            self.stdout.write(
                self.style.SUCCESS(
                    f"{report.sessions} visits ({report.page_views} page views), "
                    f"{report.signups} newsletter signups, {report.orders} orders "
                    f"(revenue {report.revenue}), {report.carts_left} carts left; "
                    f"{report.emails_sent} emails sent, {report.opens} opened "
                    f"(and {report.machine_opens} machine opens), {report.clicks} clicked, "
                    f"{report.unsubscribes} unsubscribed. Took {report.seconds:.1f} s."
                )
            )
