"""A local Application Insights ingestion endpoint for tests.

It speaks ``POST /v2.1/track`` like the real service (notes §3 "What arrives"): a plain JSON array
of envelopes in, ``{"itemsReceived": n, "itemsAccepted": n, "errors": []}`` out. ``behaviour``
makes it reject (``"reject"``: 400 with one error per item, as the service does for invalid
items) or hang (``"hang"``: read the request and never answer until the server stops). Every
request is recorded with its headers and envelopes; tests compare them exactly.

With ``tls_directory`` it serves HTTPS with a certificate from its own CA (``ca_bundle``), and
with ``require_bearer`` it answers 401 to a request without ``Authorization: Bearer …``, like a
resource whose local (instrumentation key) authentication is disabled.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal

from emulator.crypto import create_authority, issue_server_certificate

Behaviour = Literal["accept", "reject", "hang"]
INSTRUMENTATION_KEY = "11111111-2222-3333-4444-555555555555"


@dataclass(frozen=True)
class Received:
    """One request as it arrived."""

    method: str
    path: str
    headers: dict[str, str]
    envelopes: list[dict[str, Any]]


@dataclass
class IngestionServer:
    """The running endpoint; ``connection_string`` points an exporter at it."""

    port: int
    behaviour: Behaviour
    scheme: str = "http"
    ca_bundle: Path | None = None
    require_bearer: bool = False
    requests: list[Received] = field(default_factory=list)
    released: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def connection_string(self) -> str:
        endpoint = f"{self.scheme}://127.0.0.1:{self.port}/"
        return f"InstrumentationKey={INSTRUMENTATION_KEY};IngestionEndpoint={endpoint}"

    def envelopes(self) -> list[dict[str, Any]]:
        with self.lock:
            return [envelope for request in self.requests for envelope in request.envelopes]

    def events(self) -> list[dict[str, Any]]:
        """The custom events received, as their ``baseData``."""
        return [
            envelope["data"]["baseData"]
            for envelope in self.envelopes()
            if envelope["name"] == "Microsoft.ApplicationInsights.Event"
        ]

    def metrics(self) -> list[dict[str, Any]]:
        """Every metric data point received: ``{"name", "value", "count", …, "properties"}``."""
        points = []
        for envelope in self.envelopes():
            if envelope["name"] == "Microsoft.ApplicationInsights.Metric":
                base = envelope["data"]["baseData"]
                for metric in base["metrics"]:
                    points.append({**metric, "properties": base.get("properties", {})})
        return points


def _handler(server: IngestionServer) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, format: str, *args: Any) -> None:
            """Silent: the tests read ``requests``."""

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            envelopes = json.loads(body) if self.path.endswith("/v2.1/track") else []
            with server.lock:
                server.requests.append(
                    Received("POST", self.path, {k.lower(): v for k, v in self.headers.items()}, envelopes)
                )
            if server.require_bearer and not self.headers.get("Authorization", "").startswith("Bearer "):
                self._answer(401, {"itemsReceived": len(envelopes), "itemsAccepted": 0, "errors": []})
                return
            if server.behaviour == "hang":
                server.released.wait(60)
                return
            if not self.path.endswith("/v2.1/track"):
                self._answer(404, {"error": "not found"})
            elif server.behaviour == "reject":
                errors = [
                    {"index": index, "statusCode": 400, "message": "Invalid telemetry item"}
                    for index in range(len(envelopes))
                ]
                self._answer(400, {"itemsReceived": len(envelopes), "itemsAccepted": 0, "errors": errors})
            else:
                count = len(envelopes)
                self._answer(200, {"itemsReceived": count, "itemsAccepted": count, "errors": []})

        def _answer(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


@contextmanager
def ingestion_server(
    behaviour: Behaviour = "accept", *, tls_directory: Path | None = None, require_bearer: bool = False
) -> Iterator[IngestionServer]:
    """Run the endpoint on a free loopback port for the ``with`` block (HTTPS with ``tls_directory``,
    where its CA bundle, certificate and key are written)."""
    state = IngestionServer(port=0, behaviour=behaviour, require_bearer=require_bearer)
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _handler(state))
    httpd.daemon_threads = True
    if tls_directory is not None:
        state.scheme, state.ca_bundle = "https", _serve_tls(httpd, tls_directory)
    state.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        state.released.set()
        httpd.shutdown()
        httpd.server_close()
        thread.join(5)


def refused_connection_string() -> str:
    """A connection string whose endpoint refuses connections: a loopback port nobody listens on."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"InstrumentationKey={INSTRUMENTATION_KEY};IngestionEndpoint=http://127.0.0.1:{port}/"


def _serve_tls(httpd: ThreadingHTTPServer, directory: Path) -> Path:
    """Wrap the listening socket in TLS with a loopback certificate; returns the CA bundle."""
    now = datetime.now(UTC)
    authority = create_authority(now, "ingestion test CA")
    identity = issue_server_certificate(authority, now)
    directory.mkdir(parents=True, exist_ok=True)
    ca_bundle, certificate, key = directory / "ca.pem", directory / "server.pem", directory / "server.key"
    ca_bundle.write_bytes(authority.pem())
    certificate.write_bytes(identity.certificate_pem())
    key.write_bytes(identity.key_pem())
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(certificate, key)
    httpd.socket = context.wrap_socket(httpd.socket, server_side=True)
    return ca_bundle
