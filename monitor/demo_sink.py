"""The demo's alert receiver: a webhook endpoint on a loopback port that checks each alert's
HMAC signature and idempotency key the way a real receiver would, and hands it to a callback.

It exists so ``entra-monitor demo`` can show alerts arriving without any account anywhere; the
code a real receiver needs is in docs/telemetry.md ("Alert delivery").
"""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

SIGNATURE_HEADER = "X-Entra-Monitor-Signature"
TIMESTAMP_HEADER = "X-Entra-Monitor-Timestamp"
IDEMPOTENCY_HEADER = "Idempotency-Key"
MAX_AGE_SECONDS = 300


@dataclass
class DemoSink:
    """What arrived: ``messages`` (verified, first delivery of each key: an alert, or a digest of
    many), ``alerts`` (every alert, those inside digests too), ``refused`` (bad or stale signature)
    and ``repeats`` (a key seen before, dropped)."""

    key: bytes
    on_alert: Callable[[dict[str, Any]], None]
    port: int = 0
    messages: list[dict[str, Any]] = field(default_factory=list)
    alerts: list[dict[str, Any]] = field(default_factory=list)
    refused: int = 0
    repeats: int = 0
    _seen: set[str] = field(default_factory=set)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/alerts"

    def receive(self, headers: dict[str, str], body: bytes) -> int:
        """The HTTP status to answer: 200 for an alert taken (or a repeat), 401 for a bad signature."""
        timestamp = headers.get(TIMESTAMP_HEADER.lower(), "")
        expected = (
            "sha256=" + hmac.new(self.key, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
        )
        signature = headers.get(SIGNATURE_HEADER.lower(), "")
        fresh = timestamp.isdigit() and abs(time.time() - int(timestamp)) <= MAX_AGE_SECONDS
        if not (fresh and hmac.compare_digest(signature, expected)):
            with self._lock:
                self.refused += 1
            return 401
        key = headers.get(IDEMPOTENCY_HEADER.lower(), "")
        with self._lock:
            if key in self._seen:
                self.repeats += 1
                return 200
            self._seen.add(key)
            message = json.loads(body)
            self.messages.append(message)
            self.alerts.extend(message["alerts"] if message.get("digest") else [message])
        self.on_alert(message)
        return 200

    @property
    def digests(self) -> int:
        return sum(1 for message in self.messages if message.get("digest"))


@contextmanager
def demo_sink(key: bytes, on_alert: Callable[[dict[str, Any]], None]) -> Iterator[DemoSink]:
    """Serve a :class:`DemoSink` on 127.0.0.1 (a free port) in a thread for the block."""
    sink = DemoSink(key, on_alert)

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            status = sink.receive({k.lower(): v for k, v in self.headers.items()}, body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the demo prints the alerts themselves."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    sink.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, name="demo-sink", daemon=True)
    thread.start()
    try:
        yield sink
    finally:
        server.shutdown()
        server.server_close()
