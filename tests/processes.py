"""Real processes for the scale-out and fault tests: a Redis server and django-q2 clusters.

``RedisServer`` runs a ``redis-server`` of the test's own on a free port, so
that a test may kill and restart it without touching the machine's Redis.
``Cluster`` runs ``qcluster`` processes with ``tests.cluster_settings``
against the test's PostgreSQL database, the Redis server and the fake email
provider; each process has a process group of its own, so ``kill(i)`` sends
SIGKILL to the whole cluster process (its sentinel, pusher, monitor and
workers) as a crash or the OOM killer would.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from django.db import connection

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(predicate, timeout: float, what: str, interval: float = 0.5):
    """Poll ``predicate`` until it returns something true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(interval)


class RedisServer:
    """A ``redis-server`` on 127.0.0.1 that keeps nothing on disk, as the machine's."""

    def __init__(self):
        self.port = free_port()
        self.directory = tempfile.mkdtemp(prefix="journeys-redis-")
        self.process: subprocess.Popen | None = None

    @staticmethod
    def available() -> bool:
        return shutil.which("redis-server") is not None

    def start(self) -> RedisServer:
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1"]
            + ["--save", "", "--appendonly", "no", "--dir", self.directory],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_for(self._answers, 10, "redis-server to start", interval=0.05)
        return self

    def _answers(self) -> bool:
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                return sock.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def kill(self) -> None:
        """SIGKILL: every queued task it held is gone."""
        if self.process is not None:
            self.process.kill()
            self.process.wait()
            self.process = None

    def restart(self) -> None:
        self.kill()
        self.start()

    def stop(self) -> None:
        self.kill()
        shutil.rmtree(self.directory, ignore_errors=True)


class Cluster:
    """``count`` ``qcluster`` processes sharing one Redis queue, one database, one provider."""

    def __init__(self, count: int, *, redis: RedisServer, esp_url: str, settings: dict):
        self.count = count
        self.name = f"scale{os.getpid()}"
        self.logs = Path(tempfile.mkdtemp(prefix="journeys-qcluster-"))
        database = connection.settings_dict
        self.environ = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "tests.cluster_settings",
            "PYTHONPATH": str(ROOT),
            "DATABASE_URL": (
                f"postgres://{database['USER'] or 'postgres'}@{database['HOST'] or '127.0.0.1'}"
                f":{database['PORT'] or 5432}/{database['NAME']}"
            ),
            "JOURNEYS_Q_NAME": self.name,
            "JOURNEYS_REDIS_PORT": str(redis.port),
            "JOURNEYS_ESP_URL": esp_url,
            "JOURNEYS_SETTINGS": repr(settings),
        }
        self.processes: list[subprocess.Popen | None] = [None] * count

    def start(self, index: int | None = None) -> Cluster:
        for i in range(self.count) if index is None else [index]:
            log = open(self.logs / f"qcluster-{i}.log", "ab")  # noqa: SIM115 (closed by the child)
            self.processes[i] = subprocess.Popen(
                [sys.executable, "-m", "django", "qcluster"],
                cwd=ROOT,
                env=self.environ,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            log.close()
        return self

    def kill(self, index: int) -> None:
        """SIGKILL the whole ``qcluster`` process ``index``: nothing of it runs a ``finally``."""
        process = self.processes[index]
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
        self.processes[index] = None

    def stop(self) -> None:
        """Stop every process: SIGTERM (django-q2 finishes the task at hand), then SIGKILL."""
        for process in self.processes:
            if process is not None and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        for process in self.processes:
            if process is None:
                continue
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        self.processes = [None] * self.count

    def log_tail(self, lines: int = 40) -> str:
        """The end of every process's log, for a failure message."""
        parts = []
        for path in sorted(self.logs.glob("*.log")):
            text = path.read_text(errors="replace").splitlines()[-lines:]
            parts.append(f"== {path.name}\n" + "\n".join(text))
        return "\n".join(parts)
