"""Benchmark of the Graph client against a large emulated tenant: requests, 429s, speed, CPU, memory.

Not a test: it asserts nothing and prints what it measured. The emulator runs as a subprocess with
50 ms of latency per request and Graph's real throttling; every sweep runs in a fresh child process
of this script (``--worker``), so its CPU time and peak resident memory are the client's alone,
not the emulator's (which shares the machine) nor an earlier sweep's.

- Phase A, throttling as Graph's: the directory sweep (applications and service principals with
  ``keyCredentials`` in ``$select``, so in the 150-per-minute family, and every delegated consent
  grant, the three read concurrently by one client), then a sign-in backlog of 50,000 events
  (5 requests per 10 s: at most 500 events per second).
- Phase B, the reporting limit lifted (in the emulator and in the client's known budget): all
  1,000,000 sign-ins streamed, to measure the client's own cost per event and its memory.

Per collection it prints objects read (and lost or duplicated against the emulator's ground
truth), requests sent (429s included) against the minimum ``ceil(objects / largest page)``, 429s,
wall time and objects per second; per sweep the client's CPU time per object (``getrusage`` of the
child, minus the benchmark's own id bookkeeping) and its peak RSS (``ru_maxrss``).

    .venv/bin/python bench/graph_bench.py                 # both phases, full size (about 6 minutes)
    .venv/bin/python bench/graph_bench.py --quick         # medium tenant, a smoke run
    .venv/bin/python bench/graph_bench.py --phase b       # only the 1,000,000 sign-ins
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import resource
import subprocess
import sys
import tempfile
import time
from array import array
from collections.abc import Iterator
from dataclasses import dataclass
from hashlib import blake2b
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.graph.client import GraphClient  # noqa: E402
from monitor.graph.connection import GraphConnection, connect, emulator_connection  # noqa: E402
from monitor.graph.instruments import REQUESTS, THROTTLED  # noqa: E402
from monitor.graph.permissions import find_endpoint  # noqa: E402
from monitor.graph.query import Query  # noqa: E402
from monitor.graph.settings import Budget, GraphClientSettings, default_budgets  # noqa: E402
from tests.support.emulator import RunningEmulator, start_emulator  # noqa: E402
from tests.support.metrics import RecordedMetrics  # noqa: E402

NOW = "2026-11-27T12:00:00Z"
REPORTS_EVENTS_PER_SECOND = 500  # 5 requests per 10 s of 1,000 events
LIFTED_REPORTS = {"limit": 100_000, "windowSeconds": 1}
CREDENTIALS = ("id", "appId", "displayName", "keyCredentials", "passwordCredentials")


@dataclass(frozen=True)
class Collection:
    """One collection the monitor sweeps: its endpoint name (as in the instruments and the
    permission table), its path, the ``$select`` the checks use, and its ground-truth count."""

    name: str
    path: str
    select: tuple[str, ...]
    truth: str

    @property
    def page_max(self) -> int:
        endpoint = find_endpoint("v1.0", self.path)
        if endpoint is None or endpoint.page_max is None:
            raise LookupError(f"{self.path} is not a collection in monitor.graph.permissions")
        return endpoint.page_max


APPLICATIONS = Collection("applications", "applications", CREDENTIALS, "applications")
SERVICE_PRINCIPALS = Collection(
    "servicePrincipals",
    "servicePrincipals",
    (*CREDENTIALS, "appOwnerOrganizationId"),
    "servicePrincipals",
)
GRANTS = Collection("oauth2PermissionGrants", "oauth2PermissionGrants", (), "oauth2PermissionGrants")
SIGN_INS = Collection("signIns", "auditLogs/signIns", (), "signIns")
SWEEPS = {"directory": (APPLICATIONS, SERVICE_PRINCIPALS, GRANTS), "signIns": (SIGN_INS,)}


# -- the child process: one sweep through the client ----------------------------------------------


class Tally:
    """What the benchmark reads of one collection: ids (as 8-byte digests, so a million of them
    cost 8 MB), the arrival time of each page, and the CPU time this bookkeeping spends, which is
    subtracted from the client's."""

    def __init__(self, page_size: int) -> None:
        self.page_size = page_size
        self.objects = 0
        self.digests = array("Q")
        self.arrivals: list[tuple[float, int]] = []
        self.own_cpu_seconds = 0.0
        self._pending: list[str] = []

    def add(self, identifier: str) -> None:
        self._pending.append(identifier)
        if len(self._pending) >= self.page_size:
            self.flush()

    def flush(self) -> None:
        """Digest the ids of the page that just arrived (a page's objects are yielded without an
        await in between, so a full page's flush marks its arrival)."""
        started = time.process_time()
        arrived = time.perf_counter()
        for identifier in self._pending:
            digest = blake2b(identifier.encode(), digest_size=8).digest()
            self.digests.append(int.from_bytes(digest, "little"))
        self.objects += len(self._pending)
        if self._pending:
            self.arrivals.append((arrived, self.objects))
        self._pending.clear()
        self.own_cpu_seconds += time.process_time() - started

    def distinct(self) -> int:
        """Distinct ids, counted in 256 buckets so no list of a million ints is ever built."""
        buckets = [array("Q") for _ in range(256)]
        for digest in self.digests:
            buckets[digest >> 56].append(digest)
        return sum(len(set(bucket)) for bucket in buckets)


def connection_to(info: dict[str, Any], lift_reports: bool) -> GraphConnection:
    """The emulator as a tenant, through its secret client (as tests/graph/conftest.py does)."""
    budgets = default_budgets()
    if lift_reports:
        budgets["reports"] = Budget(limit=LIFTED_REPORTS["limit"], window_seconds=1)
    connection = emulator_connection(Path(info["infoFile"]), "secret")
    return connection.model_copy(update={"client": GraphClientSettings(budgets=budgets)})


async def read(graph: GraphClient, collection: Collection, tally: Tally) -> float:
    """Read every object of ``collection`` the way a check does; the wall time it took."""
    started = time.perf_counter()
    async for item in graph.iterate(collection.path, query=Query(select=collection.select)):
        tally.add(item["id"])
    tally.flush()
    return time.perf_counter() - started


def process_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def resident_kib(field: str) -> int:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


async def sweep(info: dict[str, Any], name: str, lift_reports: bool) -> dict[str, Any]:
    """Run one sweep (``directory`` or ``signIns``) and return its figures as JSON-ready data."""
    collections = SWEEPS[name]
    metrics = RecordedMetrics()
    tallies = [Tally(collection.page_max) for collection in collections]
    resident_before = resident_kib("VmRSS")
    cpu_before = process_cpu_seconds()
    started = time.perf_counter()
    async with connect(connection_to(info, lift_reports), metrics.instruments) as graph:
        walls = await asyncio.gather(*map(read, [graph] * len(tallies), collections, tallies))
    wall = time.perf_counter() - started
    cpu = process_cpu_seconds() - cpu_before
    peak_rss_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss  # before counting distinct ids
    bookkeeping = sum(tally.own_cpu_seconds for tally in tallies)
    rows = [
        {
            "name": collection.name,
            "objects": tally.objects,
            "distinct": tally.distinct(),
            "requests": int(metrics.total(REQUESTS, endpoint=collection.name)),
            "throttled": int(metrics.total(THROTTLED, endpoint=collection.name)),
            "pageMax": collection.page_max,
            "wallSeconds": collection_wall,
            "arrivals": tally.arrivals,
        }
        for collection, tally, collection_wall in zip(collections, tallies, walls, strict=True)
    ]
    return {
        "wallSeconds": wall,
        "clientCpuSeconds": cpu - bookkeeping,
        "bookkeepingCpuSeconds": bookkeeping,
        "residentBeforeKiB": resident_before,
        "peakRssKiB": peak_rss_kib,
        "collections": rows,
    }


def worker(arguments: argparse.Namespace) -> None:
    info = json.loads(Path(arguments.info_file).read_text())
    figures = asyncio.run(sweep(info, arguments.worker, arguments.lift_reports))
    print(json.dumps(figures))


# -- the parent: emulators, child processes, the printed figures --------------------------------


def run_worker(emulator: RunningEmulator, name: str, lift_reports: bool = False) -> dict[str, Any]:
    """Run one sweep in a fresh child process and return the figures it printed."""
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", name]
    command += ["--info-file", str(emulator.info["infoFile"])]
    if lift_reports:
        command.append("--lift-reports")
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    if finished.returncode != 0:
        raise RuntimeError(f"the {name} sweep failed:\n{finished.stderr}")
    figures: dict[str, Any] = json.loads(finished.stdout.splitlines()[-1])
    return figures


@contextlib.contextmanager
def emulated_tenant(
    scale: str, latency_ms: float, lift_reports: bool = False
) -> Iterator[tuple[RunningEmulator, dict[str, int]]]:
    """The emulator with real throttling and ``latency_ms``, and its ground-truth counts."""
    with tempfile.TemporaryDirectory(prefix="graph-bench-") as directory:
        options = ["--scale", scale, "--throttling", "real", "--latency-ms", str(latency_ms)]
        with start_emulator(Path(directory), *options, "--now", NOW) as emulator:
            with emulator.control() as control:
                if lift_reports:
                    body = {"throttleBudgets": {"reports": LIFTED_REPORTS}}
                    control.patch("/faults", json=body).raise_for_status()
                counts: dict[str, int] = control.get("/truth").json()["counts"]
            yield emulator, counts


def emulator_totals(emulator: RunningEmulator) -> str:
    with emulator.control() as control:
        stats = control.get("/stats").json()
    graph = {name: row for name, row in stats["endpoints"].items() if not name.startswith("identity.")}
    requests = sum(row["requests"] for row in graph.values())
    throttled = sum(row["throttled"] for row in graph.values())
    identity = stats["total"] - requests
    return (
        f"the emulator counted {requests:,} Graph requests ({throttled:,} answered 429)"
        f" and {identity:,} to its identity platform (token and discovery)"
    )


def print_collections(figures: dict[str, Any], counts: dict[str, int]) -> None:
    print(
        f"  {'collection':<24}{'objects':>10}{'lost':>6}{'dup':>6}{'requests':>10}{'minimum':>9}"
        f"{'ratio':>7}{'429s':>6}{'wall (s)':>10}{'objects/s':>11}"
    )
    for row in figures["collections"]:
        expected = counts[row["name"]]
        minimum = math.ceil(expected / row["pageMax"])
        print(
            f"  {row['name']:<24}{row['objects']:>10,}{expected - row['distinct']:>6}"
            f"{row['objects'] - row['distinct']:>6}{row['requests']:>10,}{minimum:>9,}"
            f"{row['requests'] / minimum:>7.3f}{row['throttled']:>6}{row['wallSeconds']:>10.1f}"
            f"{row['objects'] / row['wallSeconds']:>11,.0f}"
        )


def print_cost(figures: dict[str, Any], unit: str) -> None:
    objects = sum(row["objects"] for row in figures["collections"])
    cpu = figures["clientCpuSeconds"]
    before = figures["residentBeforeKiB"] / 1024
    print(
        f"  sweep wall time {figures['wallSeconds']:.1f} s; client CPU {cpu:.2f} s ="
        f" {cpu / objects * 1e6:.1f} µs per {unit} (benchmark bookkeeping"
        f" {figures['bookkeepingCpuSeconds']:.2f} s excluded); peak RSS"
        f" {figures['peakRssKiB'] / 1024:.0f} MB ({before:.0f} MB before the sweep)"
    )


def print_reporting_rate(row: dict[str, Any], burst_pages: int = 5) -> None:
    """The sign-in rate against the reporting API's 500 events/s, overall and once the initial
    burst of ``burst_pages`` (the budget's full bucket) is spent; and the share answered 429."""
    rate = row["objects"] / row["wallSeconds"]
    arrivals = row["arrivals"]
    steady = "n/a"
    if len(arrivals) > burst_pages + 1:
        (first_time, first_count), (last_time, last_count) = arrivals[burst_pages - 1], arrivals[-1]
        steady_rate = (last_count - first_count) / (last_time - first_time)
        steady = f"{steady_rate:,.0f} events/s = {steady_rate / REPORTS_EVENTS_PER_SECOND:.1%}"
    print(
        f"  sign-ins: {rate:,.0f} events/s = {rate / REPORTS_EVENTS_PER_SECOND:.1%} of 500/s overall;"
        f" after the first {burst_pages} pages {steady};"
        f" 429s {row['throttled'] / row['requests']:.2%} of requests"
    )


def phase_a(quick: bool, latency_ms: float) -> None:
    scale = "medium,signIns=10000" if quick else "large,signIns=50000"
    print(f"Phase A: throttling real, {latency_ms:g} ms latency, scale {scale}")
    with emulated_tenant(scale, latency_ms) as (emulator, counts):
        directory = run_worker(emulator, "directory")
        sign_ins = run_worker(emulator, "signIns")
        totals = emulator_totals(emulator)
    print_collections(directory, counts)
    print_cost(directory, "directory object")
    print_collections(sign_ins, counts)
    print_cost(sign_ins, "sign-in")
    print_reporting_rate(sign_ins["collections"][0])
    print(f"  {totals}")


def phase_b(quick: bool, latency_ms: float) -> None:
    scale = "medium" if quick else "large"
    print(f"Phase B: reporting limit lifted, {latency_ms:g} ms latency, scale {scale}")
    with emulated_tenant(scale, latency_ms, lift_reports=True) as (emulator, counts):
        sign_ins = run_worker(emulator, "signIns", lift_reports=True)
        totals = emulator_totals(emulator)
    print_collections(sign_ins, counts)
    print_cost(sign_ins, "sign-in")
    print(f"  {totals}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phase", choices=("a", "b", "all"), default="all")
    parser.add_argument("--quick", action="store_true", help="a medium tenant instead of a large one")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="the emulator's added latency")
    parser.add_argument("--worker", choices=tuple(SWEEPS), help=argparse.SUPPRESS)
    parser.add_argument("--info-file", help=argparse.SUPPRESS)
    parser.add_argument("--lift-reports", action="store_true", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.worker:
        worker(arguments)
        return
    if arguments.phase in ("a", "all"):
        phase_a(arguments.quick, arguments.latency_ms)
    if arguments.phase in ("b", "all"):
        phase_b(arguments.quick, arguments.latency_ms)


if __name__ == "__main__":
    main()
