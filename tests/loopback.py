"""A recording HTTP server on the loopback interface, for code that calls out over HTTP.

The server runs in a thread on 127.0.0.1 (a free port), keeps every request it
gets and answers from a queue of canned answers, then from a default one::

    with LoopbackServer(default=Answer(201, {"id": 7})) as server:
        server.answer(500, "busy", delay=0.5)  # the first request gets this, the rest 201
        post_to(f"{server.url}/hook")
        assert server.requests[0].json() == {...}

In a test module, ``receiver = loopback_fixture()`` makes a fixture named
``receiver`` that yields a started server and stops it after the test.
"""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, NamedTuple
from urllib.parse import parse_qs

import pytest


class Headers(dict):
    """A request's headers; names are case-insensitive, as in HTTP (kept lower-case)."""

    def __init__(self, items=()):
        super().__init__((name.lower(), value) for name, value in items)

    def __getitem__(self, name: str) -> str:
        return super().__getitem__(name.lower())

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and super().__contains__(name.lower())

    def get(self, name: str, default: Any = None) -> Any:
        return super().get(name.lower(), default)


class Request(NamedTuple):
    """One request as the server got it."""

    method: str
    path: str
    headers: Headers
    body: bytes

    @property
    def text(self) -> str:
        return self.body.decode()

    def json(self) -> Any:
        return json.loads(self.body)

    def form(self) -> dict[str, str]:
        """An ``application/x-www-form-urlencoded`` body, one value a field."""
        return {key: values[0] for key, values in parse_qs(self.text).items()}


class Answer(NamedTuple):
    """What the server sends back, after ``delay`` seconds.

    A dict or list body goes as JSON, a str as plain text, bytes as they are;
    ``headers`` are sent too (and override the Content-Type chosen here).
    """

    status: int = 200
    body: bytes | str | dict | list = b""
    headers: dict[str, str] = {}
    delay: float = 0.0

    def encoded(self) -> tuple[bytes, dict[str, str]]:
        body, content_type = self.body, None
        if isinstance(body, dict | list):
            body, content_type = json.dumps(body).encode(), "application/json"
        elif isinstance(body, str):
            body, content_type = body.encode(), "text/plain; charset=utf-8"
        headers = {"Content-Type": content_type} if content_type else {}
        headers.update(self.headers)
        headers["Content-Length"] = str(len(body))
        return body, headers


#: What a server answers when nothing else was asked of it.
OK = Answer(200, "ok")


class LoopbackServer:
    """An HTTP server on 127.0.0.1 that records requests and plays canned answers.

    ``requests`` holds each :class:`Request` in the order they came; ``answers``
    is the queue of :class:`Answer` still to give, one a request; once it is
    empty every request gets ``default``.
    """

    def __init__(self, default: Answer = OK):
        self.requests: list[Request] = []
        self.answers: list[Answer] = []
        self.default = default
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler_class())
        self._server.daemon_threads = True
        self._thread: threading.Thread | None = None
        self.url = f"http://127.0.0.1:{self._server.server_port}"

    def answer(self, status: int, body: Any = b"", *, headers=None, delay: float = 0.0) -> None:
        """Queue an answer for one request (after those already queued)."""
        self.answers.append(Answer(status, body, headers or {}, delay))

    def answer_always(
        self, status: int, body: Any = b"", *, headers=None, delay: float = 0.0
    ) -> None:
        """Give this answer to every request from now on (the queue is dropped)."""
        self.answers.clear()
        self.default = Answer(status, body, headers or {}, delay)

    def _next_answer(self) -> Answer:
        with self._lock:
            return self.answers.pop(0) if self.answers else self.default

    def _handler_class(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def handle_any(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                server.requests.append(
                    Request(self.command, self.path, Headers(self.headers.items()), body)
                )
                answer = server._next_answer()
                time.sleep(answer.delay)
                payload, headers = answer.encoded()
                try:
                    self.send_response(answer.status)
                    for name, value in headers.items():
                        self.send_header(name, value)
                    self.end_headers()
                    self.wfile.write(payload)
                except OSError:
                    pass  # the client gave up waiting (a timeout test)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = handle_any

            def log_message(self, *args):
                pass

        return Handler

    def start(self) -> LoopbackServer:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def close(self) -> None:
        if self._thread is not None:
            self._server.shutdown()
            self._thread.join(timeout=5)
            self._thread = None
        self._server.server_close()

    def __enter__(self) -> LoopbackServer:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.close()


def loopback_fixture(default: Answer = OK):
    """A fixture giving each test a started :class:`LoopbackServer`; assign it to a name."""

    @pytest.fixture
    def loopback_server():
        with LoopbackServer(default) as server:
            yield server

    return loopback_server
