"""Starting the emulator as a real subprocess (the ``entra-monitor emulator`` console script) and
talking to it over HTTPS, the way the monitor and the demo do."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

from emulator.tenant.model import Tenant, TenantConfig
from emulator.tenant.scale import parse_scale

GRAPH_SCOPE = "https://graph.microsoft.com/.default"
START_TIMEOUT = 120.0


def console_script() -> str:
    return str(Path(sys.executable).with_name("entra-monitor"))


@dataclass
class RunningEmulator:
    info: dict[str, Any]
    process: subprocess.Popen[bytes]
    args: tuple[str, ...]
    log: Path
    _tokens: dict[str, str] = field(default_factory=dict)

    @property
    def base_url(self) -> str:
        return str(self.info["baseUrl"])

    @property
    def graph_url(self) -> str:
        return str(self.info["graphBaseUrl"])

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=self.info["caBundle"])

    def http(self, **options: Any) -> httpx.Client:
        """An HTTPS client that trusts only the emulator's CA."""
        options.setdefault("timeout", 60)
        return httpx.Client(verify=self.ssl_context(), **options)

    def token(self, client: str = "secret") -> str:
        """An app-only Graph token for one of the info file's secret clients (cached)."""
        if client not in self._tokens:
            self._tokens[client] = self.request_token(client).json()["access_token"]
        return self._tokens[client]

    def forget_tokens(self) -> None:
        """Drop cached tokens (after moving the emulator's clock past their lifetime)."""
        self._tokens.clear()

    def request_token(self, client: str = "secret", scope: str = GRAPH_SCOPE) -> httpx.Response:
        registration = self.info["clients"][client]
        with self.http() as http:
            return http.post(
                f"{self.info['authority']}/oauth2/v2.0/token",
                data={
                    "grant_type": "client_credentials",
                    "client_id": registration["clientId"],
                    "client_secret": registration["clientSecret"],
                    "scope": scope,
                },
            )

    def graph(self, client: str = "secret", **options: Any) -> httpx.Client:
        """A client for Graph with a bearer token, rooted at the emulator's base URL."""
        headers = {"Authorization": f"Bearer {self.token(client)}", **options.pop("headers", {})}
        return self.http(base_url=self.base_url, headers=headers, **options)

    def control(self) -> httpx.Client:
        return self.http(base_url=f"{self.base_url}/_emulator")

    def reference(self) -> Tenant:
        """The same tenant generated in this process (same seed, time, scale and licence)."""
        info = self.info
        now = datetime.fromisoformat(info["now"].replace("Z", "+00:00"))
        scale = ",".join(f"{name}={count}" for name, count in info["scale"].items())
        return Tenant(TenantConfig(info["seed"], now, parse_scale(scale), info["license"]))

    def peak_rss_kib(self) -> int:
        """The subprocess's peak resident memory (VmHWM), in KiB."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
        raise RuntimeError("VmHWM not found")


def collect(
    client: httpx.Client, url: str, *, headers: dict[str, str] | None = None
) -> tuple[list[Any], int]:
    """Every object of a collection, following ``@odata.nextLink``; also the number of requests."""
    items: list[Any] = []
    requests = 0
    next_url: str | None = url
    while next_url:
        response = client.get(next_url, headers=headers)
        requests += 1
        response.raise_for_status()
        body = response.json()
        items.extend(body["value"])
        next_url = body.get("@odata.nextLink")
    return items, requests


@contextlib.contextmanager
def start_emulator(directory: Path, *args: str) -> Iterator[RunningEmulator]:
    """Run ``entra-monitor emulator --port 0 …`` until the block ends; fails with the log if the
    emulator does not come up."""
    directory.mkdir(parents=True, exist_ok=True)
    info_file = directory / "emulator.json"
    info_file.unlink(missing_ok=True)  # a stale one from an earlier run names a dead port
    log = directory / "emulator.log"
    command = [
        console_script(),
        "emulator",
        "--port",
        "0",
        "--state-dir",
        str(directory / "state"),
        "--info-file",
        str(info_file),
        *args,
    ]
    environment = {**os.environ, "COLUMNS": "200"}
    with log.open("wb") as output:
        process = subprocess.Popen(command, stdout=output, stderr=subprocess.STDOUT, env=environment)
    try:
        info = _wait_for_info(process, info_file, log)
        running = RunningEmulator(info, process, tuple(args), log)
        _wait_until_serving(running)
        yield running
    finally:
        _stop(process)


def _wait_for_info(process: subprocess.Popen[bytes], info_file: Path, log: Path) -> dict[str, Any]:
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the emulator exited with {process.returncode}:\n{log.read_text()}")
        if info_file.exists():
            return dict(json.loads(info_file.read_text()))
        time.sleep(0.05)
    raise RuntimeError(f"the emulator wrote no info file in {START_TIMEOUT} s:\n{log.read_text()}")


def _wait_until_serving(running: RunningEmulator) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    with running.control() as control:
        while True:
            try:
                control.get("/info").raise_for_status()
                return
            except httpx.TransportError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
