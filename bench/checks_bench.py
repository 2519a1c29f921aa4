"""What each compliance check costs on Graph against a large emulated tenant, and whether it is exact.

Not a test: it asserts nothing and prints what it measured. The emulator runs as a subprocess with
50 ms of latency per request and Graph's real throttling. Every built-in check (the
``entra_monitor.checks`` entry points of this project) runs once, ``collect`` then ``evaluate`` with
the baseline settings, each in a fresh child process of this script (``--worker``) so its CPU time
and peak resident memory are its own. Checks that remember state between runs (watermarks) then
run a second time with the state of the first, after the benchmark injected a few events at run
time, to show what an incremental run costs.

Per run it prints the Graph requests by endpoint (429s included), the objects those requests
returned, the wall time, the client's CPU time and peak RSS, the size of the state it keeps, and
the findings against the emulator's ground truth evaluated at the run's time (missed and extra,
by rule, resource type and resource id).

    .venv/bin/python bench/checks_bench.py                  # large tenant (several minutes)
    .venv/bin/python bench/checks_bench.py --scale medium   # a quicker run
    .venv/bin/python bench/checks_bench.py --check risky-sign-ins
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
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from monitor.baseline import load_baseline  # noqa: E402
from monitor.check import CheckContext, Watermarks  # noqa: E402
from monitor.graph.connection import connect, emulator_connection  # noqa: E402
from monitor.graph.instruments import OBJECTS, REQUESTS, THROTTLED  # noqa: E402
from monitor.graph.permissions import ENDPOINTS  # noqa: E402
from monitor.plugins import discover_checks  # noqa: E402
from tests.support.emulator import RunningEmulator, start_emulator  # noqa: E402
from tests.support.metrics import RecordedMetrics  # noqa: E402

NOW = "2026-11-27T12:00:00Z"
PAGE_MAX = {endpoint.name: endpoint.page_max for endpoint in ENDPOINTS}


def first(emulator: RunningEmulator, path: str, **params: str) -> dict[str, Any]:
    """The first object of a Graph collection of the emulated tenant."""
    with emulator.graph() as graph:
        response = graph.get(f"/v1.0/{path}", params={"$top": "1", **params})
        response.raise_for_status()
        found: dict[str, Any] = response.json()["value"][0]
    return found


def sign_ins(emulator: RunningEmulator) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        ("POST", "/signIns", {"riskLevel": "high"}),
        ("POST", "/signIns", {"riskLevel": "medium", "singleFactor": True}),
        ("POST", "/signIns", {"riskLevel": "none"}),
    ]


def grants(emulator: RunningEmulator) -> list[tuple[str, str, dict[str, Any]]]:
    client = first(emulator, "servicePrincipals", **{"$filter": "displayName eq 'Calendar/Teams App'"})
    user = first(emulator, "users")
    grant = {"clientId": client["id"], "consentType": "Principal", "principalId": user["id"]}
    return [("POST", "/grants", {**grant, "scope": "Mail.ReadWrite"})]


def policies(emulator: RunningEmulator) -> list[tuple[str, str, dict[str, Any]]]:
    policy = first(emulator, "policies/tokenLifetimePolicies")
    definition = '{"TokenLifetimePolicy":{"Version":1,"AccessTokenLifetime":"04:00:00"}}'
    return [("PATCH", f"/tokenLifetimePolicies/{policy['id']}", {"definition": [definition]})]


# What the benchmark changes between a check's two runs, through the emulator's control API.
INJECTIONS: dict[str, Callable[[RunningEmulator], list[tuple[str, str, dict[str, Any]]]]] = {
    "risky-sign-ins": sign_ins,
    "consent-grants": grants,
    "token-lifetime-drift": policies,
}


class FileWatermarks(Watermarks):
    """Watermarks kept in a JSON file between the two runs of a check."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.values: dict[str, str] = json.loads(path.read_text()) if path.exists() else {}

    async def get(self, key: str) -> str | None:
        return self.values.get(key)

    async def set(self, key: str, value: str) -> None:
        self.values[key] = value

    def save(self) -> int:
        text = json.dumps(self.values)
        self.path.write_text(text)
        return len(text.encode())


# -- the child: one run of one check -------------------------------------------------------------


async def run_once(
    info_file: Path, tenant_id: str, check_id: str, now: datetime, watermarks: FileWatermarks
) -> dict[str, Any]:
    check_class = discover_checks().checks[check_id]
    check = check_class()
    settings = check_class.settings_model.model_validate(check_class.baseline_defaults(load_baseline()))
    metrics = RecordedMetrics()
    cpu_before = time.process_time()
    started = time.perf_counter()
    async with connect(emulator_connection(info_file), metrics.instruments) as graph:
        context = CheckContext(tenant_id, graph, settings, now, watermarks)
        data = await check.collect(context)
        findings = check.evaluate(data, settings, now)
    wall = time.perf_counter() - started
    cpu = time.process_time() - cpu_before
    state_bytes = watermarks.save()
    requests, throttled, objects = (metrics.by(name, "endpoint") for name in (REQUESTS, THROTTLED, OBJECTS))
    return {
        "wallSeconds": wall,
        "cpuSeconds": cpu,
        "peakRssKiB": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "stateBytes": state_bytes,
        "unavailable": dict(context.unavailable),
        "endpoints": {
            name: {
                "requests": int(count),
                "throttled": int(throttled.get(name, 0)),
                "objects": int(objects.get(name, 0)),
            }
            for name, count in sorted(requests.items())
        },
        "findings": sorted({(f.rule, f.resource.type, f.resource.id.lower()) for f in findings}),
    }


def worker(arguments: argparse.Namespace) -> None:
    now = datetime.fromisoformat(arguments.now)
    watermarks = FileWatermarks(Path(arguments.watermarks))
    info_file = Path(arguments.info_file)
    tenant_id = json.loads(info_file.read_text())["tenantId"]
    figures = asyncio.run(run_once(info_file, tenant_id, arguments.worker, now, watermarks))
    print(json.dumps(figures))


# -- the parent: the emulator, child processes, the printed figures ------------------------------


def emulator_now(emulator: RunningEmulator) -> str:
    with emulator.control() as control:
        now: str = control.get("/clock").json()["now"]
    return now


def run_worker(emulator: RunningEmulator, check_id: str, watermarks: Path) -> dict[str, Any]:
    now = emulator_now(emulator)
    command = [sys.executable, str(Path(__file__).resolve()), "--worker", check_id, "--now", now]
    command += ["--info-file", str(emulator.info["infoFile"]), "--watermarks", str(watermarks)]
    finished = subprocess.run(command, capture_output=True, text=True, check=False)
    if finished.returncode != 0:
        raise RuntimeError(f"the {check_id} run failed:\n{finished.stderr}")
    figures: dict[str, Any] = json.loads(finished.stdout.splitlines()[-1])
    with emulator.control() as control:
        truth = control.get("/truth", params={"at": now}).json()
    expected = {
        (f["rule"], f["resource"]["type"], str(f["resource"]["id"]).lower())
        for f in truth["findings"]
        if f["check"] == check_id
    }
    found = {tuple(item) for item in figures["findings"]}
    figures["expected"] = len(expected)
    figures["missed"] = sorted(expected - found)
    figures["extra"] = sorted(found - expected)
    figures["truthUnavailable"] = truth["unavailable"].get(check_id)
    return figures


@contextlib.contextmanager
def emulated_tenant(scale: str, latency_ms: float) -> Iterator[RunningEmulator]:
    with tempfile.TemporaryDirectory(prefix="checks-bench-") as directory:
        options = ["--scale", scale, "--throttling", "real", "--latency-ms", str(latency_ms)]
        with start_emulator(Path(directory), *options, "--now", NOW) as emulator:
            yield emulator


def print_run(label: str, figures: dict[str, Any]) -> None:
    requests = sum(row["requests"] for row in figures["endpoints"].values())
    verdict = "exact" if not figures["missed"] and not figures["extra"] else "NOT EXACT"
    print(
        f"  {label}: {requests:,} requests, {figures['wallSeconds']:.1f} s wall,"
        f" {figures['cpuSeconds']:.2f} s CPU, peak RSS {figures['peakRssKiB'] / 1024:.0f} MB,"
        f" state {figures['stateBytes']:,} bytes; findings {len(figures['findings']):,}"
        f" vs truth {figures['expected']:,}: {verdict}"
    )
    for rule, reason in figures["unavailable"].items():
        print(f"    not evaluated: {rule} ({reason})")
    if figures["truthUnavailable"]:
        print(f"    the truth says: {figures['truthUnavailable']}")
    for kind in ("missed", "extra"):
        for item in figures[kind][:5]:
            print(f"    {kind}: {item}")
    print(f"    {'endpoint':<40}{'requests':>9}{'429s':>6}{'objects':>10}{'full pages':>11}")
    for name, row in figures["endpoints"].items():
        page = PAGE_MAX.get(name)
        full = math.ceil(row["objects"] / page) if page and row["objects"] else "-"
        print(f"    {name:<40}{row['requests']:>9,}{row['throttled']:>6}{row['objects']:>10,}{full:>11}")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--scale", default="large", help="the emulated tenant's scale (default large)")
    parser.add_argument("--latency-ms", type=float, default=50.0, help="the emulator's added latency")
    parser.add_argument("--check", action="append", help="only this check (repeatable)")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--now", help=argparse.SUPPRESS)
    parser.add_argument("--info-file", help=argparse.SUPPRESS)
    parser.add_argument("--watermarks", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.worker:
        worker(arguments)
        return
    checks = arguments.check or [
        check_id
        for check_id, check in discover_checks().checks.items()
        if check.__module__.startswith("checks.")
    ]
    print(
        f"Checks against the {arguments.scale} tenant, throttling real, {arguments.latency_ms:g} ms latency"
    )
    with (
        emulated_tenant(arguments.scale, arguments.latency_ms) as emulator,
        tempfile.TemporaryDirectory() as state,
    ):
        for check_id in checks:
            print(check_id)
            watermarks = Path(state) / f"{check_id}.json"
            first = run_worker(emulator, check_id, watermarks)
            print_run("first run", first)
            if not json.loads(watermarks.read_text()):
                continue
            changes = INJECTIONS[check_id](emulator) if check_id in INJECTIONS else []
            with emulator.control() as control:
                for method, path, body in changes:
                    control.request(method, path, json=body).raise_for_status()
            second = run_worker(emulator, check_id, watermarks)
            print_run(f"second run ({len(changes)} changes made since the first)", second)


if __name__ == "__main__":
    main()
