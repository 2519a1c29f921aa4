"""A real HTTP server on a loopback port that plays a sink: it records every POST and answers as
the test says (up, down with 503, refusing with 4xx, or holding the request unanswered)."""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Received:
    """One request as the server read it; header names lower-case."""

    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def json(self) -> Any:
        return json.loads(self.body)


Answer = tuple[int, dict[str, str]]


class Receiver:
    """The recorded requests and how to answer the next ones (``answer``: status and headers)."""

    def __init__(self) -> None:
        self.received: list[Received] = []
        self.accepted: list[Received] = []
        self.answer: Callable[[Received], Answer] = lambda _: (200, {})
        self.released = threading.Event()  # cleared: requests wait, unanswered, until it is set
        self.released.set()
        self.arrived = threading.Event()
        self._lock = threading.Lock()
        self.port = 0

    def url(self, path: str = "/hook") -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def record(self, received: Received) -> Answer:
        with self._lock:
            self.received.append(received)
        self.arrived.set()
        self.released.wait(30)
        status, headers = self.answer(received)
        if 200 <= status < 300:
            with self._lock:
                self.accepted.append(received)
        return status, headers

    def accepted_keys(self, header: str = "idempotency-key") -> list[str]:
        """Idempotency keys of the requests answered 2xx, in arrival order (repeats kept)."""
        return [request.headers[header] for request in self.accepted]


@contextmanager
def running_receiver(receiver: Receiver | None = None) -> Iterator[Receiver]:
    """Serve ``receiver`` on 127.0.0.1 (a free port) in a thread for the block."""
    receiver = receiver or Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, extra = receiver.record(Received(self.path, headers, body))
            try:
                self.send_response(status)
                for name, value in extra.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")
            except OSError:
                pass  # the client is gone (killed while waiting)

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", receiver.port), Handler)
    server.daemon_threads = True
    receiver.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        receiver.released.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
