"""A Postmark-compatible email API on loopback, for tests that run real worker processes.

Workers send through Anymail's real Postmark backend with ``POSTMARK_API_URL``
pointed here (``settings()`` gives the ``ANYMAIL`` entries). The server keeps,
for each of our message ids (``journeys_message_id`` in the metadata), how
many times the provider accepted it, and can misbehave on purpose:

- ``fail_every(n)``: every n-th request gets a 500 (the message is not taken);
- ``hang_every(n, seconds)``: every n-th request is *accepted*, then the answer
  waits longer than the client's timeout: the worst case of a lost answer,
  where the provider has the message and the sender cannot know.
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = "fake-postmark-token"


class FakePostmark:
    """The server; ``accepted`` counts acceptances per message id, ``requests`` all requests."""

    def __init__(self):
        self.accepted: Counter[int] = Counter()
        self.subjects: dict[int, str] = {}
        self.requests = 0
        self.refused = 0
        self.hung: set[int] = set()
        self._fail_every = 0
        self._hang_every = 0
        self._hang_seconds = 0.0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        self.url = f"http://127.0.0.1:{self._server.server_port}/"

    def settings(self, timeout: float = 10) -> dict:
        """The ``ANYMAIL`` settings that send through this server."""
        return {
            "POSTMARK_SERVER_TOKEN": TOKEN,
            "POSTMARK_API_URL": self.url,
            "REQUESTS_TIMEOUT": timeout,
        }

    def fail_every(self, n: int) -> None:
        self._fail_every = n

    def hang_every(self, n: int, seconds: float) -> None:
        self._hang_every, self._hang_seconds = n, seconds

    def behave(self) -> None:
        self._fail_every = self._hang_every = 0

    def total(self) -> int:
        with self._lock:
            return sum(self.accepted.values())

    def twice(self) -> dict[int, int]:
        """Message ids the provider accepted more than once: must stay empty."""
        with self._lock:
            return {pk: count for pk, count in self.accepted.items() if count > 1}

    def _take(self, payload: dict) -> tuple[int, float]:
        """Decide the answer to one request: (HTTP status, seconds to wait before answering)."""
        pk = int(payload["Metadata"]["journeys_message_id"])
        with self._lock:
            self.requests += 1
            if self._fail_every and self.requests % self._fail_every == 0:
                self.refused += 1
                return 500, 0.0
            self.accepted[pk] += 1
            self.subjects[pk] = payload.get("Subject", "")
            if self._hang_every and self.requests % self._hang_every == 0:
                self.hung.add(pk)
                return 200, self._hang_seconds
        return 200, 0.0

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"  # keep-alive, as the real API
            # Headers and body go in two writes: with Nagle's algorithm on, each answer
            # waited for the client's delayed ACK (40 ms), which made the provider the
            # bottleneck of every test.
            disable_nagle_algorithm = True

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if self.headers.get("X-Postmark-Server-Token") != TOKEN:
                    return self._answer(401, {"ErrorCode": 10, "Message": "Bad token"})
                status, delay = server._take(json.loads(body))
                if status != 200:
                    return self._answer(status, {"ErrorCode": 500, "Message": "Busy"})
                time.sleep(delay)
                self._answer(
                    200,
                    {"ErrorCode": 0, "Message": "OK", "MessageID": str(uuid.uuid4())},
                )

            def _answer(self, status: int, payload: dict) -> None:
                data = json.dumps(payload).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:
                    pass  # the client gave up waiting

            def log_message(self, *args):
                pass

        return Handler

    def __enter__(self) -> FakePostmark:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._server.shutdown()
        self._thread.join(timeout=5)
        self._server.server_close()
