"""A real headless Chromium for tests of pages the monitor writes: Debian's ``/usr/bin/chromium``
(installed by ``mk/chromium.mk``) driven by Playwright through ``executable_path``, so Playwright
never downloads a browser; a loopback HTTP server that serves a directory and records every path
asked of it; and a watch on a page's console, uncaught errors and requests.

The driver's and the browser's temporary files, configuration and caches go to the workspace the
caller names (Chromium otherwise writes to ``~/.config/chromium`` and ``~/.cache`` and Playwright to
``$TMPDIR``); background networking is off so the only requests are the page's own.
"""

from __future__ import annotations

import contextlib
import functools
import os
import shutil
import threading
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser, ConsoleMessage, Error, Page, Request, async_playwright

CHROMIUM = Path("/usr/bin/chromium")

QUIET_FLAGS = (
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-domain-reliability",
    "--disable-client-side-phishing-detection",
    "--no-first-run",
    "--no-default-browser-check",
    "--metrics-recording-only",
    "--disable-gpu",
)
"""Nothing but the page talks to the network (Playwright adds most of these too; they are stated here
so the guarantee does not rest on its defaults)."""


def require_chromium() -> Path:
    """The browser, or a failure that says how to install it (never a skip: ``make test`` installs it)."""
    if not CHROMIUM.exists():
        pytest.fail(
            f"{CHROMIUM} is missing: run `make chromium` (mk/chromium.mk) to install Debian's chromium"
        )
    return CHROMIUM


@contextlib.contextmanager
def _environment(values: dict[str, str]) -> Iterator[None]:
    saved = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in saved.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def _workspace_environment(workspace: Path) -> dict[str, str]:
    """TMPDIR, XDG_CONFIG_HOME and XDG_CACHE_HOME as directories of ``workspace``, created."""
    values = {}
    for name in ("TMPDIR", "XDG_CONFIG_HOME", "XDG_CACHE_HOME"):
        directory = workspace / name.lower()
        directory.mkdir(parents=True, exist_ok=True)
        values[name] = str(directory)
    return values


@contextlib.asynccontextmanager
async def chromium(workspace: Path) -> AsyncIterator[Browser]:
    """A headless Chromium whose temporary files, profile, configuration and caches stay in
    ``workspace``; closed, with its driver, on exit."""
    executable = require_chromium()
    hygiene = _workspace_environment(workspace)
    # The driver copies the environment once, when it starts: its TMPDIR holds the browser profile.
    with _environment(hygiene):
        manager = async_playwright()
        playwright = await manager.start()
    try:
        browser = await playwright.chromium.launch(
            executable_path=str(executable), args=list(QUIET_FLAGS), env={**os.environ, **hygiene}
        )
        try:
            yield browser
        finally:
            await browser.close()
    finally:
        await playwright.stop()


class _QuietHandler(SimpleHTTPRequestHandler):
    def __init__(self, *args: Any, paths: list[str], **kwargs: Any) -> None:
        self._paths = paths
        super().__init__(*args, **kwargs)

    def do_GET(self) -> None:
        self._paths.append(self.path)
        super().do_GET()

    def log_message(self, format: str, *args: Any) -> None:
        """Requests are recorded in ``paths``, not printed."""


@dataclass
class LoopbackServer:
    """Serves ``directory`` on 127.0.0.1; ``paths`` lists every path requested, in order."""

    directory: Path
    base_url: str = ""
    paths: list[str] = field(default_factory=list)


@contextlib.contextmanager
def serve_directory(directory: Path) -> Iterator[LoopbackServer]:
    """An HTTP server on a free loopback port serving ``directory`` from a thread, stopped on exit."""
    served = LoopbackServer(directory)
    handler = functools.partial(_QuietHandler, directory=str(directory), paths=served.paths)
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    served.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(target=server.serve_forever, name="loopback-http", daemon=True)
    thread.start()
    try:
        yield served
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@dataclass
class PageWatch:
    """What a page did: console messages of type error, uncaught errors, and every request it made
    (``(resource type, URL)``) or that failed."""

    console_errors: list[str] = field(default_factory=list)
    page_errors: list[str] = field(default_factory=list)
    requests: list[tuple[str, str]] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)

    def attach(self, page: Page) -> None:
        page.on("console", self._console)
        page.on("pageerror", self._page_error)
        page.on("request", self._request)
        page.on("requestfailed", self._failed)

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def _page_error(self, error: Error) -> None:
        self.page_errors.append(str(error))

    def _request(self, request: Request) -> None:
        self.requests.append((request.resource_type, request.url))

    def _failed(self, request: Request) -> None:
        self.failed.append(f"{request.url}: {request.failure}")


def keep_artefact(source: Path, name: str) -> Path:
    """Copy a test artefact (a screenshot) to ``.artifacts/`` in the repository root, where a person
    looks for it after the run; the directory is not under version control."""
    target_directory = Path(__file__).resolve().parents[2] / ".artifacts"
    target_directory.mkdir(exist_ok=True)
    target = target_directory / name
    shutil.copyfile(source, target)
    return target
