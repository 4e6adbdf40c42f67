"""Email delivery speed: wagtail-journeys against django-post-office and raw smtplib, in one run.

From "these N contacts must get this template" to "the SMTP server on
loopback accepted every message", measured three ways against the same
server (aiosmtpd in a child process, counting and discarding messages):

1. **wagtail-journeys**: ``send_emails(contacts, template)`` with the demo's
   abandoned-cart template (heading, rich text, the contact's cart items,
   recommendations). Messages are queued with bulk inserts and delivered in
   batches of ``SEND_BATCH_SIZE`` by the django-q2 task, run in this process
   (``sync``), as one worker would: checks, claim, render per contact, one
   SMTP connection per batch, results and ``email_sent`` events written.
2. **django-post-office**: ``mail.send`` with a template for each contact,
   then ``send_queued`` until the queue is empty (its defaults).
3. **raw smtplib**: a message of ours, pre-built as bytes, sent to each of
   the N addresses over one connection: the limit of this server here.

    .venv/bin/python bench/email_delivery.py [--messages 10000] [--profile]

Everything runs on a fresh temporary SQLite file (WAL) loaded with the demo data.
"""

import argparse
import io
import multiprocessing
import os
import signal
import smtplib
import socket
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

WARM_UP = 100


def serve_smtp(port, accepted, sessions, ready, stop):
    """The SMTP server (a child process): accepts, counts and discards every message."""
    from aiosmtpd.controller import Controller

    class Counting:
        async def handle_EHLO(self, server, session, envelope, hostname, responses):
            session.host_name = hostname
            with sessions.get_lock():
                sessions.value += 1
            return responses

        async def handle_DATA(self, server, session, envelope):
            with accepted.get_lock():
                accepted.value += 1
            return "250 Message accepted"

    controller = Controller(Counting(), hostname="127.0.0.1", port=port)
    controller.start()
    ready.set()
    stop.wait()
    controller.stop()


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class Server:
    """The child process running the SMTP server, and its counters."""

    def __init__(self):
        self.port = free_port()
        self.accepted = multiprocessing.Value("q", 0)
        self.sessions = multiprocessing.Value("q", 0)
        self._ready = multiprocessing.Event()
        self._stop = multiprocessing.Event()
        self.process = multiprocessing.Process(
            target=serve_smtp,
            args=(self.port, self.accepted, self.sessions, self._ready, self._stop),
            daemon=True,
        )

    def start(self):
        self.process.start()
        if not self._ready.wait(30):
            raise SystemExit("The SMTP server did not start.")

    def stop(self):
        self._stop.set()
        self.process.join(10)

    def counts(self) -> tuple[int, int]:
        return self.accepted.value, self.sessions.value


def make_contacts(prefix: str, count: int, products) -> list:
    """``count`` subscribed contacts, each with an abandoned cart of two demo products."""
    from django.contrib.contenttypes.models import ContentType

    from wagtail_journeys.commerce.adapters import get_product_adapter
    from wagtail_journeys.models import Cart, CartItem, Contact

    contacts = Contact.objects.bulk_create(
        Contact(
            email=f"{prefix}{index}@example.com",
            first_name=f"Person{index}",
            status=Contact.Status.SUBSCRIBED,
            consent={"email": True},
        )
        for index in range(count)
    )
    carts = Cart.objects.bulk_create(
        Cart(contact=contact, status=Cart.Status.ABANDONED, currency="EUR") for contact in contacts
    )
    adapter = get_product_adapter()
    snapshots = [(product, adapter.snapshot(product)) for product in products]
    product_type = ContentType.objects.get_for_model(products[0])
    items = []
    for index, cart in enumerate(carts):
        for offset in (0, 1 + index % (len(snapshots) - 1)):
            product, snapshot = snapshots[(index + offset) % len(snapshots)]
            items.append(
                CartItem(
                    cart=cart,
                    product_type=product_type,
                    product_id=str(product.pk),
                    sku=snapshot.sku,
                    title=snapshot.title,
                    unit_price=snapshot.price,
                    currency=snapshot.currency,
                    image_url=snapshot.image_url,
                    product_url=snapshot.url,
                    quantity=1 + index % 3,
                )
            )
    CartItem.objects.bulk_create(items, batch_size=2000)
    return contacts


def run_ours(contacts, template, server) -> float:
    from wagtail_journeys.email.sending import send_emails

    before, _ = server.counts()
    start = time.perf_counter()
    send_emails(contacts, template)
    # With a cluster, the workers are still at it: wait for the server's count.
    deadline = start + 600
    while server.counts()[0] - before < len(contacts) and time.perf_counter() < deadline:
        time.sleep(0.01)
    elapsed = time.perf_counter() - start
    accepted, _ = server.counts()
    if accepted - before != len(contacts):
        raise SystemExit(f"ours: the server accepted {accepted - before} of {len(contacts)}")
    return elapsed


def post_office_template(sample):
    """A post-office template with the same subject, text and HTML as one of ours."""
    from post_office.models import EmailTemplate

    first_name = sample.contact.first_name
    return EmailTemplate.objects.create(
        name="cart-reminder",
        subject=sample.subject.replace(first_name, "{{ first_name }}"),
        content=sample.body.replace(first_name, "{{ first_name }}"),
        html_content=sample.alternatives[0][0].replace(first_name, "{{ first_name }}"),
    )


def run_post_office(contacts, template, sender, server, processes=1) -> tuple[float, float]:
    from post_office import mail

    before, _ = server.counts()
    start = time.perf_counter()
    for contact in contacts:
        mail.send(
            contact.email,
            sender,
            template=template,
            context={"first_name": contact.first_name},
        )
    queued = time.perf_counter()
    while mail.get_queued().exists():
        mail.send_queued(processes=processes)
    elapsed = time.perf_counter() - start
    accepted, _ = server.counts()
    if accepted - before != len(contacts):
        raise SystemExit(f"post-office: the server accepted {accepted - before} of {len(contacts)}")
    return elapsed, queued - start


def run_raw(addresses, sender, data: bytes, server) -> float:
    from django.conf import settings

    before, _ = server.counts()
    start = time.perf_counter()
    connection = smtplib.SMTP(settings.EMAIL_HOST, settings.EMAIL_PORT)
    for address in addresses:
        connection.sendmail(sender, [address], data)
    connection.quit()
    elapsed = time.perf_counter() - start
    accepted, _ = server.counts()
    if accepted - before != len(addresses):
        raise SystemExit(f"raw: the server accepted {accepted - before} of {len(addresses)}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument(
        "--workers",
        type=int,
        default=1,
        help="1: delivery tasks run in this process; more: a django-q2 cluster of that many "
        "workers, and post-office's send_queued with that many processes",
    )
    parser.add_argument("--profile", action="store_true", help="profile our run (cProfile)")
    args = parser.parse_args()
    count = args.messages

    server = Server()
    server.start()
    tmp = tempfile.mkdtemp(prefix="journeys-email-bench-")
    os.environ["DATABASE_URL"] = f"sqlite:///{tmp}/bench.sqlite3"
    os.environ["MEDIA_ROOT"] = f"{tmp}/media"
    os.environ["BENCH_SMTP_PORT"] = str(server.port)
    os.environ["BENCH_WORKERS"] = str(args.workers)
    os.environ["DJANGO_SETTINGS_MODULE"] = "bench.email_settings"

    import django

    django.setup()
    from django.apps import apps
    from django.conf import settings
    from django.core.management import call_command
    from django.db import transaction

    from wagtail_journeys.email.composing import Composer
    from wagtail_journeys.email.sending import send_email
    from wagtail_journeys.models import EmailTemplate, Message

    cluster = None
    try:
        call_command("migrate", verbosity=0, interactive=False)
        call_command("load_demo_data", verbosity=0, stdout=io.StringIO())
        products = list(apps.get_model("storefront", "ProductPage").objects.live().order_by("pk"))
        template = EmailTemplate.objects.get(name="Abandoned cart reminder")
        blocks = [block.block_type for block in template.body]
        warm = make_contacts("warm", WARM_UP * 3, products)
        contacts = make_contacts("person", count, products)

        # One message of ours, rendered as delivery renders it: its bytes for
        # raw smtplib, its parts for post-office's template.
        with transaction.atomic():
            sample_message = send_email(warm[-1], template)
            # Rendered here, never delivered.
            Message.objects.filter(pk=sample_message.pk).update(status=Message.Status.SKIPPED)
        sample = Composer().build(sample_message)
        sample.contact = warm[-1]
        data = sample.message().as_bytes(linesep="\r\n")  # as Django's SMTP backend sends it
        sender = sample.from_email
        po_template = post_office_template(sample)
        if args.workers > 1:
            from django.db import connections
            from django_q.cluster import Cluster

            connections.close_all()  # the cluster's processes open their own
            cluster = Cluster()
            cluster.start()

        # Warm-up: templates compiled, the recommendation index cached, connections tried.
        run_ours(warm[:WARM_UP], template, server)
        run_post_office(warm[WARM_UP : 2 * WARM_UP], po_template, sender, server, args.workers)
        run_raw([c.email for c in warm[:WARM_UP]], sender, data, server)

        _, sessions_before = server.counts()
        if args.profile:
            import cProfile
            import pstats

            profiler = cProfile.Profile()
            profiler.enable()
        ours = run_ours(contacts, template, server)
        if args.profile:
            profiler.disable()
            pstats.Stats(profiler).sort_stats("cumulative").print_stats(45)
        _, sessions_after = server.counts()
        sent_rows = Message.objects.filter(contact__in=contacts, status=Message.Status.SENT)
        for _ in range(300):  # a worker writes its batch's statuses just after the last send
            if (sent := sent_rows.count()) == count:
                break
            time.sleep(0.1)
        if sent != count:
            raise SystemExit(f"ours: {sent} of {count} messages are marked sent")

        if cluster is not None:
            cluster.stop()
            cluster = None
            # The cluster's SIGTERM handler would run in post-office's pool processes.
            signal.signal(signal.SIGTERM, signal.SIG_DFL)
            signal.signal(signal.SIGINT, signal.default_int_handler)
        po_total, po_queue = run_post_office(contacts, po_template, sender, server, args.workers)
        raw = run_raw([c.email for c in contacts], sender, data, server)
    finally:
        if cluster is not None:
            cluster.stop()
        server.stop()

    rate = {"ours": count / ours, "post-office": count / po_total, "raw smtplib": count / raw}
    print(
        f"{count} messages of {len(data):,} bytes (template blocks: {', '.join(blocks)}); "
        f"SEND_BATCH_SIZE {settings.WAGTAIL_JOURNEYS.get('SEND_BATCH_SIZE', 100)}; "
        f"workers: {args.workers}; "
        f"SMTP sessions for ours: {sessions_after - sessions_before}"
    )
    print(f"wagtail-journeys end to end: {ours:7.2f} s  {rate['ours']:8.0f} msg/s")
    print(
        f"post-office end to end:      {po_total:7.2f} s  {rate['post-office']:8.0f} msg/s "
        f"(mail.send {count / po_queue:.0f}/s, send_queued {count / (po_total - po_queue):.0f}/s)"
    )
    print(f"raw smtplib, one connection: {raw:7.2f} s  {rate['raw smtplib']:8.0f} msg/s")
    print(
        f"ours / post-office: {rate['ours'] / rate['post-office']:.2f}x (target >= 2); "
        f"ours / raw smtplib: {rate['ours'] / rate['raw smtplib']:.0%} (target >= 50%)"
    )


if __name__ == "__main__":
    main()
