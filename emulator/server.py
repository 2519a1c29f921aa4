"""Running an ASGI app over HTTPS on a loopback socket, in the foreground or on a thread."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import uvicorn

from emulator.crypto import create_authority, issue_server_certificate


@dataclass(frozen=True)
class TlsFiles:
    """PEM files for an HTTPS server: the CA bundle clients trust, and the server's cert and key."""

    ca_bundle: Path
    certificate: Path
    key: Path


def create_tls_files(directory: Path, host: str = "127.0.0.1") -> TlsFiles:
    """Make a fresh CA and a server certificate for ``host`` and the loopback names.

    The certificates are dated by the real clock, not the tenant's ``--now``, because clients
    check them against the real time.
    """
    directory.mkdir(parents=True, exist_ok=True)
    now = datetime.now(UTC)
    authority = create_authority(now)
    hosts = tuple(dict.fromkeys((host, "127.0.0.1", "localhost", "::1")))
    server = issue_server_certificate(authority, now, hosts)
    files = TlsFiles(
        ca_bundle=directory / "ca.pem",
        certificate=directory / "server.pem",
        key=directory / "server-key.pem",
    )
    files.ca_bundle.write_bytes(authority.pem())
    files.certificate.write_bytes(server.certificate_pem() + authority.pem())
    write_file(files.key, server.key_pem(), private=True)
    return files


def write_file(path: Path, data: bytes, private: bool = False) -> Path:
    """Write ``data``; a private file (keys, secrets) is readable by its owner only from the start."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return path


def bind(host: str, port: int) -> socket.socket:
    """Bind a listening socket now, so that port 0 resolves to a real port before serving."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP explicitly: asyncio only disables Nagle on accepted sockets whose proto says
    # TCP, and without that every response waits ~40 ms for the client's delayed ACK.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(2048)
    sock.set_inheritable(True)
    return sock


def uvicorn_config(app: Any, tls: TlsFiles, **options: Any) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        ssl_certfile=str(tls.certificate),
        ssl_keyfile=str(tls.key),
        log_level=options.pop("log_level", "warning"),
        access_log=options.pop("access_log", False),
        lifespan="off",
        timeout_graceful_shutdown=options.pop("timeout_graceful_shutdown", 2),
        **options,
    )


class ServerThread:
    """An HTTPS server on a background thread, for tests and embedded use.

    ``base_url`` is ready once :meth:`start` returns.
    """

    def __init__(self, app: Any, tls: TlsFiles, host: str = "127.0.0.1", port: int = 0) -> None:
        self._socket = bind(host, port)
        self.port: int = self._socket.getsockname()[1]
        display_host = f"[{host}]" if ":" in host else host
        self.base_url = f"https://{display_host}:{self.port}"
        self._server = uvicorn.Server(uvicorn_config(app, tls))
        self._thread = threading.Thread(target=self._run, name="emulator-server", daemon=True)

    def _run(self) -> None:
        asyncio.run(self._server.serve(sockets=[self._socket]))

    def start(self, timeout: float = 10.0) -> None:
        self._thread.start()
        deadline = threading.Event()
        for _ in range(int(timeout / 0.01)):
            if self._server.started:
                return
            if not self._thread.is_alive():
                break
            deadline.wait(0.01)
        raise RuntimeError(f"the emulator server did not start on {self.base_url}")

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=10)
        with contextlib.suppress(OSError):
            self._socket.close()


@contextlib.contextmanager
def serve_in_thread(app: Any, tls: TlsFiles, host: str = "127.0.0.1") -> Iterator[ServerThread]:
    server = ServerThread(app, tls, host)
    server.start()
    try:
        yield server
    finally:
        server.stop()
