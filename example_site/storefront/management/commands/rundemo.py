"""``manage.py rundemo``: the web server and a django-q2 worker, stopped together.

Journeys run in django-q2 tasks, so the demo needs a ``qcluster`` next to
``runserver``. The worker is a child process started with the same Python and
settings; whatever ends the server (Ctrl-C, SIGTERM, an error), the worker is
stopped in ``finally`` so that no cluster is left running in the background.
"""

import os
import signal
import subprocess
import sys
from pathlib import Path

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand

from ...demo_data.users import ADMIN_PASSWORD, ADMIN_USERNAME

#: manage.py puts the repository root on sys.path, so the worker finds both packages.
MANAGE_PY = Path(__file__).resolve().parents[3] / "manage.py"
#: How long the worker may take to finish its current task after SIGTERM.
WORKER_STOP_TIMEOUT = 15


class Command(BaseCommand):
    help = "Run the demo shop: runserver in the foreground and a django-q2 worker beside it."

    def add_arguments(self, parser):
        parser.add_argument(
            "addrport", nargs="?", default="127.0.0.1:8000", help="Where runserver listens."
        )

    def handle(self, *args, addrport, **options):
        # SIGTERM (docker stop, kill) is turned into the KeyboardInterrupt that
        # runserver already handles, so both signals take the same way out.
        previous_handler = signal.signal(signal.SIGTERM, _raise_keyboard_interrupt)
        worker = self.start_worker()
        try:
            self.print_banner(addrport, worker.pid)
            call_command("runserver", addrport, use_reloader=False)
        except KeyboardInterrupt:
            pass
        finally:
            signal.signal(signal.SIGTERM, previous_handler)
            self.stop_worker(worker)

    def start_worker(self) -> subprocess.Popen:
        env = {**os.environ, "DJANGO_SETTINGS_MODULE": settings.SETTINGS_MODULE}
        return subprocess.Popen(
            [sys.executable, str(MANAGE_PY), "qcluster"],
            env=env,
            # Its own process group: Ctrl-C reaches only us, and we stop the
            # worker (and the processes it forks) in order, below.
            start_new_session=True,
        )

    def stop_worker(self, worker: subprocess.Popen) -> None:
        if worker.poll() is not None:
            return
        self.stdout.write("Stopping the django-q2 worker…")
        worker.terminate()
        try:
            worker.wait(timeout=WORKER_STOP_TIMEOUT)
        except subprocess.TimeoutExpired:
            # A stuck task: kill the whole group so no forked worker survives.
            if hasattr(os, "killpg"):
                os.killpg(worker.pid, signal.SIGKILL)
            else:
                worker.kill()
            worker.wait()

    def print_banner(self, addrport: str, worker_pid: int) -> None:
        host, separator, port = addrport.rpartition(":")
        if not separator:  # "8000" alone, as runserver also accepts
            host, port = "127.0.0.1", addrport
        base_url = f"http://{host or '127.0.0.1'}:{port}"
        self.stdout.write(
            self.style.SUCCESS("\nKettle & Bean, the wagtail-journeys demo, is starting.\n")
            + f"  Shop:   {base_url}/\n"
            + f"  Admin:  {base_url}/admin/  user: {ADMIN_USERNAME}  password: {ADMIN_PASSWORD}\n"
            + f"  Worker: django-q2 cluster, pid {worker_pid}\n"
            + "Press Ctrl-C to stop both.\n"
        )


def _raise_keyboard_interrupt(signum, frame):
    raise KeyboardInterrupt
