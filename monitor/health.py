"""The health endpoint: liveness, readiness and a JSON status page over plain HTTP.

::

    GET /healthz  200 {"status": "ok", "loop_lag_seconds": …}
                  503 {"status": "unhealthy", "loop_lag_seconds": …, "threshold_seconds": …, "problem": "…"}
    GET /readyz   200 {"ready": true}  or  503 {"ready": false, "problems": ["…", …]}
    GET /status   200 the JSON of ``status()``   (500 {"error": "…"} if it raises)
    anything else 404 {"error": "not found", "paths": [...]}

The server decides nothing about the worker: ``status()`` and ``ready()`` are the worker's
callables (each may return its value or an awaitable of it). They run **on the event loop**, so
they must be quick — answer from cached values or await work done elsewhere. ``ready()`` returns
the problems that keep the worker from being ready, an empty list meaning ready.

Liveness: that the loop answered at all proves the process is alive; :class:`LoopLagMonitor`
proves it is responsive. It sleeps ``interval`` seconds again and again and records how late each
wake-up was; ``/healthz`` reports the worst lag of the last ``window`` seconds (or how overdue the
current wake-up already is, if that is worse) and answers 503 when it exceeds the threshold, so a
loop blocked by synchronous work shows up for ``window`` seconds after it recovers.

uvicorn serves on the caller's running loop and installs **no** signal handlers: the worker owns
SIGTERM and SIGINT and calls :meth:`HealthServer.stop`. The socket is bound in :meth:`HealthServer.start`,
so port 0 works and ``port`` holds the real port afterwards. Access logs are off; uvicorn's own
loggers stay at WARNING.
"""

from __future__ import annotations

import asyncio
import collections
import contextlib
import inspect
import json
import logging
import socket
import time
from collections.abc import Awaitable, Callable, Iterator, Mapping
from datetime import date, datetime
from typing import Any

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from monitor.errors import ConfigurationError, MonitorError

__all__ = ["HealthServer", "LoopLagMonitor", "ReadySource", "StatusSource"]

logger = logging.getLogger(__name__)

StatusSource = Callable[[], Mapping[str, Any] | Awaitable[Mapping[str, Any]]]
ReadySource = Callable[[], list[str] | Awaitable[list[str]]]
MetricsSource = Callable[[], tuple[bytes, str]]
"""The Prometheus exposition and its content type (``Telemetry.prometheus_exposition``)."""
Clock = Callable[[], float]

PATHS = ("/healthz", "/readyz", "/status")


class LoopLagMonitor:
    """Measures event-loop responsiveness as the lateness of ``asyncio.sleep(interval)``.

    :meth:`run` measures until cancelled; :meth:`lag` is the worst lateness within the last
    ``window`` seconds, or the current overdue time when that is larger. ``clock`` is a monotonic
    clock in seconds.
    """

    def __init__(self, interval: float = 1.0, window: float = 30.0, clock: Clock = time.monotonic) -> None:
        if interval <= 0 or window < 0:
            raise ValueError("the lag interval must be positive and the window not negative")
        self.interval = interval
        self.window = window
        self._clock = clock
        self._measurements: collections.deque[tuple[float, float]] = collections.deque()
        self._expected_wake: float | None = None

    async def run(self) -> None:
        while True:
            started = self._clock()
            self._expected_wake = started + self.interval
            await asyncio.sleep(self.interval)
            woke = self._clock()
            self._record(woke, max(0.0, woke - started - self.interval))

    def _record(self, at: float, lag: float) -> None:
        self._measurements.append((at, lag))
        while self._measurements and self._measurements[0][0] < at - self.window:
            self._measurements.popleft()

    def lag(self) -> float:
        now = self._clock()
        recent = [lag for at, lag in self._measurements if at >= now - self.window]
        overdue = now - self._expected_wake if self._expected_wake is not None else 0.0
        return max([0.0, overdue, *recent])


class _StatusJSONResponse(JSONResponse):
    """JSON that also writes datetimes and dates as ISO 8601, and anything else as its ``str()``."""

    def render(self, content: Any) -> bytes:
        return json.dumps(content, ensure_ascii=False, default=_json_default).encode("utf-8")


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime | date):
        return value.isoformat()
    return str(value)


class _ServerWithoutSignals(uvicorn.Server):
    """uvicorn ≥ 0.29 installs its SIGINT/SIGTERM handlers in ``capture_signals``; the worker owns
    those signals, so this server captures none."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def _resolve(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value


def _describe(error: Exception) -> str:
    # Only the monitor's own messages are known to be free of secrets.
    return f"{type(error).__name__}: {error}" if isinstance(error, MonitorError) else type(error).__name__


def _bind(host: str, port: int) -> socket.socket:
    """A listening TCP socket; ConfigurationError naming the address when it cannot be bound."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((host, port))
        sock.listen(128)
    except OSError as error:
        sock.close()
        raise ConfigurationError(
            f"health: cannot listen on {host}:{port} ({error.strerror or error}); set health.port to a "
            "free port (0 picks one), health.host to a local address, or health.enabled = false"
        ) from None
    return sock


class HealthServer:
    """``/healthz``, ``/readyz`` and ``/status`` served by uvicorn on the running event loop.

    ``lag_threshold_seconds`` is the loop lag above which ``/healthz`` answers 503;
    ``lag_interval_seconds`` how often the lag is measured and ``lag_window_seconds`` how long a
    measured lag is remembered (see the module docstring).
    """

    def __init__(
        self,
        host: str,
        port: int,
        status: StatusSource,
        ready: ReadySource,
        *,
        lag_threshold_seconds: float = 5.0,
        lag_interval_seconds: float = 1.0,
        lag_window_seconds: float = 30.0,
        clock: Clock = time.monotonic,
        metrics: MetricsSource | None = None,
    ) -> None:
        self.host = host
        self.port = port
        self.lag_threshold_seconds = lag_threshold_seconds
        self._status = status
        self._ready = ready
        self._metrics = metrics
        self._lag = LoopLagMonitor(lag_interval_seconds, lag_window_seconds, clock)
        self._lag_task: asyncio.Task[None] | None = None
        self._server: uvicorn.Server | None = None
        self._serve_task: asyncio.Task[None] | None = None
        self._socket: socket.socket | None = None
        self.app = Starlette(
            routes=[
                Route("/healthz", self._healthz, methods=["GET"]),
                Route("/readyz", self._readyz, methods=["GET"]),
                Route("/status", self._status_page, methods=["GET"]),
                *([Route("/metrics", self._metrics_page, methods=["GET"])] if metrics else []),
            ],
            exception_handlers={404: self._not_found},
        )

    @property
    def url(self) -> str:
        """The base URL, with the bound port once started."""
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    async def start(self, startup_seconds: float = 10.0) -> None:
        """Bind the socket and serve in a task on the running loop; returns once accepting.

        Raises ConfigurationError if the address cannot be bound, RuntimeError if already started
        or if uvicorn does not come up within ``startup_seconds``.
        """
        if self._serve_task is not None:
            raise RuntimeError("the health server is already started")
        self._socket = _bind(self.host, self.port)
        self.port = self._socket.getsockname()[1]
        config = uvicorn.Config(
            self.app,
            log_config=None,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = _ServerWithoutSignals(config)
        self._lag_task = asyncio.create_task(self._lag.run(), name="health-loop-lag")
        self._serve_task = asyncio.create_task(
            self._server.serve(sockets=[self._socket]), name="health-server"
        )
        deadline = time.monotonic() + startup_seconds
        while not self._server.started:
            if self._serve_task.done() or time.monotonic() > deadline:
                await self.stop()
                raise RuntimeError(f"the health server did not start on {self.url}")
            await asyncio.sleep(0.01)
        logger.info("health endpoint listening on %s", self.url)

    async def stop(self, grace_seconds: float = 5.0) -> None:
        """Stop serving and close the port; returns within about ``grace_seconds`` (open
        connections are then dropped). Safe to call when not started or twice."""
        server, serve_task, self._serve_task = self._server, self._serve_task, None
        if server is not None and serve_task is not None:
            server.should_exit = True
            done, _ = await asyncio.wait({serve_task}, timeout=grace_seconds)
            if not done:
                server.force_exit = True
                serve_task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await serve_task
            elif not serve_task.cancelled() and serve_task.exception() is not None:
                logger.error("the health server stopped with an error: %s", serve_task.exception())
        if self._lag_task is not None:
            self._lag_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._lag_task
            self._lag_task = None
        if self._socket is not None:
            with contextlib.suppress(OSError):
                self._socket.close()
            self._socket = None
        self._server = None

    async def _healthz(self, request: Request) -> Response:
        if self._lag_task is None or self._lag_task.done():
            return JSONResponse(
                {"status": "unhealthy", "problem": "the event-loop lag monitor is not running"}, 503
            )
        lag = round(self._lag.lag(), 3)
        if lag > self.lag_threshold_seconds:
            problem = f"event loop blocked for {lag} s (threshold {self.lag_threshold_seconds} s)"
            body = {
                "status": "unhealthy",
                "loop_lag_seconds": lag,
                "threshold_seconds": self.lag_threshold_seconds,
                "problem": problem,
            }
            return JSONResponse(body, 503)
        return JSONResponse({"status": "ok", "loop_lag_seconds": lag})

    async def _readyz(self, request: Request) -> Response:
        try:
            problems = list(await _resolve(self._ready()))
        except Exception as error:
            logger.exception("the readiness probe failed")
            problems = [f"the readiness probe failed ({_describe(error)})"]
        if problems:
            return JSONResponse({"ready": False, "problems": problems}, 503)
        return JSONResponse({"ready": True})

    async def _status_page(self, request: Request) -> Response:
        try:
            status = await _resolve(self._status())
        except Exception as error:
            logger.exception("the status page failed")
            return JSONResponse({"error": f"status unavailable ({_describe(error)})"}, 500)
        return _StatusJSONResponse(dict(status))

    async def _metrics_page(self, request: Request) -> Response:
        """The Prometheus text exposition of the monitor's metrics (``[telemetry.prometheus]``)."""
        assert self._metrics is not None  # the route exists only with a source
        try:
            body, content_type = await asyncio.to_thread(self._metrics)
        except Exception as error:
            logger.exception("the metrics page failed")
            return JSONResponse({"error": f"metrics unavailable ({_describe(error)})"}, 500)
        return Response(body, media_type=content_type)

    async def _not_found(self, request: Request, error: Exception) -> Response:
        paths = [*PATHS, "/metrics"] if self._metrics else list(PATHS)
        return JSONResponse({"error": "not found", "paths": paths}, 404)
