"""Starting the emulator: TLS material, a bound socket, client files, the info file, serving."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import uvicorn

from emulator.app import Emulator, EmulatorOptions, write_info_file
from emulator.graph.routes import ConnectionDropped
from emulator.server import TlsFiles, bind, create_tls_files, uvicorn_config

STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM)


class _HideInjectedDrops(logging.Filter):
    """Connections the emulator drops on purpose are not server errors worth a traceback."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not (record.exc_info and isinstance(record.exc_info[1], ConnectionDropped))


@dataclass
class PreparedEmulator:
    emulator: Emulator
    tls: TlsFiles
    base_url: str
    info: dict[str, Any]
    info_file: Path
    state_dir: Path


def advertised_host(host: str) -> str:
    """The host clients should use: a wildcard listen address is reached through loopback."""
    if host in ("0.0.0.0", "::", ""):  # noqa: S104 - naming the wildcard, not binding to it
        return "localhost"
    return f"[{host}]" if ":" in host else host


def prepare(
    options: EmulatorOptions, host: str, port: int, state_dir: Path, info_file: Path | None
) -> tuple[PreparedEmulator, Any]:
    """Build the tenant, bind the port and write every file a client needs; returns the socket
    too, already listening, so clients that read the info file early simply wait to be served."""
    state_dir = state_dir.resolve()
    tls = create_tls_files(state_dir / "tls", host)
    sock = bind(host, port)
    base_url = f"https://{advertised_host(host)}:{sock.getsockname()[1]}"
    emulator = Emulator(options)
    info = emulator.write_client_files(state_dir / "clients", base_url, tls.ca_bundle)
    info_path = (info_file or state_dir / "emulator.json").resolve()
    info["infoFile"] = str(info_path)
    write_info_file(info_path, info)
    logging.getLogger("uvicorn.error").addFilter(_HideInjectedDrops())
    return PreparedEmulator(emulator, tls, base_url, info, info_path, state_dir), sock


def serve(prepared: PreparedEmulator, sock: Any, log_level: str = "warning") -> None:
    """Serve in the foreground until SIGINT or SIGTERM, then return normally (exit status 0).

    uvicorn re-raises the signal that stopped it once its own handlers are gone; the handlers
    installed here receive it, so the process is not killed by that second delivery.
    """
    server = uvicorn.Server(uvicorn_config(prepared.emulator.app(), prepared.tls, log_level=log_level))
    received: list[int] = []
    previous = {
        number: signal.signal(number, lambda number, _frame: received.append(number))
        for number in STOP_SIGNALS
    }

    async def main() -> None:
        token_file = Path(prepared.info["clients"]["federated"]["tokenFile"])
        rotation = asyncio.create_task(prepared.emulator.rotate_federated_token(token_file))
        try:
            await server.serve(sockets=[sock])
        finally:
            rotation.cancel()

    try:
        asyncio.run(main())
    finally:
        for number, handler in previous.items():
            signal.signal(number, handler)


@contextlib.contextmanager
def running(
    options: EmulatorOptions, state_dir: Path, host: str = "127.0.0.1", port: int = 0
) -> Iterator[PreparedEmulator]:
    """The emulator serving on a background thread, for the demo and in-process use."""
    prepared, sock = prepare(options, host, port, state_dir, None)
    server = uvicorn.Server(uvicorn_config(prepared.emulator.app(), prepared.tls))
    thread = threading.Thread(target=lambda: asyncio.run(server.serve(sockets=[sock])), daemon=True)
    thread.start()
    started = threading.Event()
    for _ in range(1000):
        if server.started:
            break
        started.wait(0.01)
    else:
        raise RuntimeError(f"the emulator did not start on {prepared.base_url}")
    try:
        yield prepared
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()
