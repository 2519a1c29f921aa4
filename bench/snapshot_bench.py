"""What a compliance snapshot costs: writing, verifying and opening it, on a medium tenant for real
and on a large tenant's number of findings (synthetic).

Not a test: it asserts nothing and prints what it measured.

1. **Real.** The emulator (``medium``, seed 42, throttling off) runs as a subprocess; a signed
   ``entra-monitor snapshot create`` sweeps it as a subprocess of its own (wall time and peak RSS
   of that process). A fresh child process of this script (``--child write``) then writes the
   tenant's second snapshot from the same state store with the real ``gather_inputs`` and
   ``SnapshotWriter``, timing each part: reading the store, building ``snapshot.json``, rendering
   ``report.html``, the CSV, and the rest (hashes, signature, fsynced files, rename).
   ``entra-monitor snapshot verify`` then checks the chain of two, with the public key.
2. **Scaled (synthetic).** The large tenant's ground truth holds 11,910 findings; sweeping it takes
   about 20 minutes, so a child process (``--child scaled``) takes the medium tenant's real stored
   findings and clones them, check by check, up to the large tenant's count per check, each clone
   with a new resource id (so a new fingerprint) and otherwise the same rule, severity, message,
   evidence and references. The real ``build_document`` and ``SnapshotWriter`` write two signed
   snapshots of it (the second compares with the first, as the worker's do); the CLI verifies them;
   ``report.html`` is rendered alone a few times.
3. **Browser.** Both reports are opened in headless Chromium (``tests/support/browser.py``) from a
   loopback HTTP server, timing the load.

    .venv/bin/python bench/snapshot_bench.py                 # about 80 s
    .venv/bin/python bench/snapshot_bench.py --no-browser
    .venv/bin/python bench/snapshot_bench.py --keep /tmp/snapshot-bench   # keep the files to look at
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import gzip
import json
import re
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from emulator.tenant.ground_truth import GroundTruth  # noqa: E402
from emulator.tenant.model import Tenant, TenantConfig  # noqa: E402
from emulator.tenant.scale import PRESETS  # noqa: E402
from monitor.app import build_app  # noqa: E402
from monitor.check import Resource  # noqa: E402
from monitor.settings import load_settings  # noqa: E402
from monitor.snapshots.csv_export import findings_csv  # noqa: E402
from monitor.snapshots.document import CheckInfo, SnapshotInputs, build_document, gather_inputs  # noqa: E402
from monitor.snapshots.manifest import pretty_bytes  # noqa: E402
from monitor.snapshots.report import render_report, stream_report  # noqa: E402
from monitor.snapshots.writer import SnapshotWriter  # noqa: E402
from monitor.state import StoredFinding  # noqa: E402
from tests.support.emulator import RunningEmulator, console_script, start_emulator  # noqa: E402

SEED = 42
FILES = ("snapshot.json", "findings.csv", "report.html", "manifest.json")
CLONE_NAMESPACE = uuid.UUID("6f1d3c52-8a0e-4f43-9d67-5b0c2f1e7a11")
"""Clones' resource ids are uuid5(this, original id / clone number): new, stable from run to run."""
RENDER_REPEATS = 3


# -- processes and what they cost --------------------------------------------------------------


def clean_environment() -> dict[str, str]:
    """No ENTRA_MONITOR_* variable of the caller's shell reaches the monitor."""
    return {"PATH": "/usr/bin:/bin", "COLUMNS": "250"}


LAUNCHER = """
import json, os, subprocess, sys, time
began = time.perf_counter()
process = subprocess.Popen(sys.argv[2:])
_pid, status, usage = os.wait4(process.pid, 0)
figures = {
    "exitCode": os.waitstatus_to_exitcode(status),
    "wallSeconds": time.perf_counter() - began,
    "cpuSeconds": usage.ru_utime + usage.ru_stime,
    "peakRssKiB": usage.ru_maxrss,
}
with open(sys.argv[1], "w") as out:
    json.dump(figures, out)
"""
"""Starts a command and writes its rusage to a file. Linux gives a child's ``ru_maxrss`` the peak
RSS of whatever process spawned it (``vfork``/``fork`` then ``exec`` keeps the larger), so a command
started straight from this script, which holds the large tenant's ground truth and reports, would
report this script's peak; started from this small launcher (about 11 MB) it reports its own."""


def run_measured(command: list[str], cwd: Path) -> dict[str, Any]:
    """Run ``command`` through LAUNCHER: its exit code, output, wall time, CPU time and the peak
    RSS of that process alone."""
    with (
        tempfile.TemporaryFile() as out,
        tempfile.TemporaryFile() as err,
        tempfile.NamedTemporaryFile(suffix=".json") as usage,
    ):
        launcher = [sys.executable, "-c", LAUNCHER, usage.name, *command]
        subprocess.run(launcher, cwd=cwd, env=clean_environment(), stdout=out, stderr=err, check=False)
        figures: dict[str, Any] | None = json.loads(Path(usage.name).read_text() or "null")
        if figures is None:
            err.seek(0)
            problem = err.read().decode(errors="replace")
            raise RuntimeError(f"the launcher of {command[:3]} failed:\n{problem}")
        out.seek(0)
        err.seek(0)
        figures["stdout"] = out.read().decode(errors="replace")
        figures["stderr"] = err.read().decode(errors="replace")
        return figures


def run_child(kind: str, config: Path, work: Path, *extra: str) -> dict[str, Any]:
    command = [sys.executable, str(Path(__file__).resolve()), "--child", kind, "--config", str(config)]
    measured = run_measured([*command, *extra], work)
    if measured["exitCode"] != 0:
        raise RuntimeError(f"the {kind} child failed ({measured['exitCode']}):\n{measured['stderr']}")
    figures: dict[str, Any] = json.loads(measured["stdout"].splitlines()[-1])
    figures["processPeakRssKiB"] = measured["peakRssKiB"]
    figures["processWallSeconds"] = measured["wallSeconds"]
    return figures


def peak_rss_kib() -> int:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss


class Stopwatch:
    """Adds up the time spent in the callables it wraps, per name."""

    def __init__(self) -> None:
        self.seconds: dict[str, float] = defaultdict(float)

    def wrap(self, name: str, function: Callable[..., Any]) -> Callable[..., Any]:
        def timed(*args: Any) -> Any:
            began = time.perf_counter()
            try:
                return function(*args)
            finally:
                self.seconds[name] += time.perf_counter() - began

        return timed

    @contextmanager
    def part(self, name: str) -> Iterator[None]:
        began = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] += time.perf_counter() - began


def file_sizes(directory: Path) -> dict[str, int]:
    return {name: (directory / name).stat().st_size for name in FILES}


# -- children: one write each, in a fresh process ------------------------------------------------


async def stored_inputs(config: Path) -> tuple[SnapshotInputs, SnapshotWriter, float]:
    """The first tenant's snapshot inputs read from the state store the sweep left, the seconds that
    took, and the writer the monitor would build."""
    settings = load_settings(config)
    app = await build_app(settings)
    try:
        tenant = app.tenants[0]
        checks = [CheckInfo(prepared.id, prepared.check.permissions) for prepared in app.checks]
        began = time.perf_counter()
        inputs = await gather_inputs(app.store, app.settings, tenant.name, tenant.tenant_id, checks)
        return inputs, SnapshotWriter(settings.snapshots), time.perf_counter() - began
    finally:
        await app.aclose()


def timed_write(writer: SnapshotWriter, tenant: str, inputs: SnapshotInputs) -> dict[str, Any]:
    """One ``SnapshotWriter.write`` with the builder and the report renderer timed inside it; the
    serialisation of ``snapshot.json`` and the CSV are timed again on the written document (the
    writer makes them between the two, with calls this benchmark cannot wrap), and subtracted from
    the total to leave the hashes, the signature and the fsynced files."""
    watch = Stopwatch()

    def streamed(document: dict[str, Any], previous: dict[str, Any] | None) -> Iterator[str]:
        """The writer's own streamed report, with the time spent producing each piece added up."""
        pieces = stream_report(document, previous)
        while True:
            with watch.part("render"):
                piece = next(pieces, None)
            if piece is None:
                return
            yield piece

    timed = SnapshotWriter(writer.settings, render_report=streamed)
    began = time.perf_counter()
    written = timed.write(tenant, watch.wrap("build", partial(build_document, inputs)))
    total = time.perf_counter() - began
    with watch.part("json"):
        pretty_bytes(written.document)
    with watch.part("csv"):
        findings_csv(written.document).encode("utf-8")
    rest = total - sum(watch.seconds[part] for part in ("build", "render", "json", "csv"))
    return {
        "id": written.id,
        "sequence": written.sequence,
        "path": str(written.path),
        "findings": sum(len(check["findings"]) for check in written.document["checks"]),
        "totalSeconds": total,
        "buildSeconds": watch.seconds["build"],
        "renderSeconds": watch.seconds["render"],
        "jsonSeconds": watch.seconds["json"],
        "csvSeconds": watch.seconds["csv"],
        "restSeconds": rest,
        "sizes": file_sizes(written.path),
    }


def clone_findings(findings: list[StoredFinding], targets: dict[str, int]) -> list[StoredFinding]:
    """``targets[check]`` findings per check: the real ones, then copies of them in turn, each copy
    about a new resource (uuid5 of the original id and its number), hence a new fingerprint."""
    by_check: dict[str, list[StoredFinding]] = {}
    for stored in findings:
        by_check.setdefault(stored.finding.check, []).append(stored)
    cloned: list[StoredFinding] = []
    for check, originals in sorted(by_check.items()):
        wanted = max(targets.get(check, len(originals)), len(originals))
        cloned.extend(originals)
        for number in range(len(originals), wanted):
            original = originals[number % len(originals)]
            resource = original.finding.resource
            new_id = str(uuid.uuid5(CLONE_NAMESPACE, f"{resource.id}/{number}"))
            finding = replace(
                original.finding, resource=Resource(resource.type, new_id, resource.display_name)
            )
            cloned.append(replace(original, finding=finding))
    return cloned


def child_write(config: Path) -> dict[str, Any]:
    inputs, writer, gather_seconds = asyncio.run(stored_inputs(config))
    rss_before = peak_rss_kib()
    figures = timed_write(writer, inputs.tenant_name, inputs)
    render = [timed_render_alone(figures["path"]) for _ in range(RENDER_REPEATS)]
    return {
        **figures,
        "gatherSeconds": gather_seconds,
        "renderAloneSeconds": min(render),
        "peakRssBeforeWriteKiB": rss_before,
        "peakRssKiB": peak_rss_kib(),
    }


def timed_render_alone(path: str) -> float:
    """``render_report`` of a written snapshot with its previous document, nothing else."""
    directory = Path(path)
    document = json.loads((directory / "snapshot.json").read_text(encoding="utf-8"))
    previous = None
    if document["summary"]["previous"] is not None:
        previous_path = directory.parent / document["summary"]["previous"]["id"] / "snapshot.json"
        previous = json.loads(previous_path.read_text(encoding="utf-8"))
    began = time.perf_counter()
    render_report(document, previous)
    return time.perf_counter() - began


def child_scaled(config: Path, targets: dict[str, int], directory: Path) -> dict[str, Any]:
    inputs, writer, _ = asyncio.run(stored_inputs(config))
    real = len(inputs.open_findings)
    inputs = replace(inputs, open_findings=clone_findings(list(inputs.open_findings), targets))
    writer = SnapshotWriter(writer.settings.model_copy(update={"directory": directory}))
    rss_before = peak_rss_kib()
    first = timed_write(writer, inputs.tenant_name, inputs)
    rss_first = peak_rss_kib()
    second = timed_write(writer, inputs.tenant_name, inputs)
    render = [timed_render_alone(second["path"]) for _ in range(RENDER_REPEATS)]
    peak = peak_rss_kib()
    return {
        "memoryByPart": memory_by_part(Path(second["path"])),
        "realFindings": real,
        "findingsByCheck": dict(Counter(s.finding.check for s in inputs.open_findings)),
        "writes": [first, second],
        "renderAloneSeconds": min(render),
        "peakRssBeforeWriteKiB": rss_before,
        "peakRssAfterFirstKiB": rss_first,
        "peakRssKiB": peak,
    }


def memory_by_part(directory: Path) -> dict[str, dict[str, float]]:
    """With tracemalloc (after the RSS figures were taken): what the written snapshot's documents
    hold once parsed, and each file's making, as MiB retained and peak above where it started."""
    tracemalloc.start()
    parts: dict[str, dict[str, float]] = {}

    def measure(name: str, make: Callable[[], Any]) -> Any:
        gc.collect()
        tracemalloc.reset_peak()
        start = tracemalloc.get_traced_memory()[0]
        made = make()
        current, peak = tracemalloc.get_traced_memory()
        parts[name] = {"retainedMiB": (current - start) / 2**20, "peakMiB": (peak - start) / 2**20}
        return made

    document = measure("snapshot.json parsed", lambda: json.loads((directory / "snapshot.json").read_bytes()))
    previous_id = document["summary"]["previous"]["id"]
    previous = json.loads((directory.parent / previous_id / "snapshot.json").read_bytes())
    measure("snapshot.json bytes", lambda: pretty_bytes(document))
    measure("findings.csv bytes", lambda: findings_csv(document).encode("utf-8"))
    measure("report.html bytes", lambda: render_report(document, previous).encode("utf-8"))
    tracemalloc.stop()
    return parts


def child(arguments: argparse.Namespace) -> None:
    config = Path(arguments.config)
    if arguments.child == "write":
        figures = child_write(config)
    else:
        targets = json.loads(arguments.targets)
        figures = child_scaled(config, targets, Path(arguments.directory))
    print(json.dumps(figures))


# -- the parent -----------------------------------------------------------------------------------


def write_signing_key(directory: Path) -> tuple[Path, Path]:
    key = Ed25519PrivateKey.generate()
    private = directory / "snapshot-signing.pem"
    public = directory / "snapshot-signing.pub.pem"
    private.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def write_config(emulator: RunningEmulator, directory: Path, signing_key: Path) -> Path:
    """Settings for the emulated tenant (certificate credential), a state store and signed
    snapshots under ``directory``."""
    info = emulator.info
    registration = info["clients"]["certificate"]
    path = directory / "monitor.toml"
    path.write_text(
        f"""[[tenants]]
name = "bench"
tenant_id = "{info["tenantId"]}"
authority_host = "{info["authorityHost"]}"
graph_endpoint = "{info["baseUrl"]}"
ca_bundle = "{info["caBundle"]}"
[tenants.credential]
kind = "certificate"
client_id = "{registration["clientId"]}"
certificate_path = "{registration["certificatePath"]}"
private_key_path = "{registration["privateKeyPath"]}"
[state]
path = "{directory / "state" / "monitor.db"}"
[health]
enabled = false
[snapshots]
directory = "{directory / "snapshots"}"
signing_key_path = "{signing_key}"
"""
    )
    return path


def large_targets() -> tuple[dict[str, int], float]:
    """The large tenant's planted findings per check (seed 42, now), and the seconds that took."""
    now = datetime.now(UTC).replace(microsecond=0)
    began = time.perf_counter()
    findings = GroundTruth(Tenant(TenantConfig(SEED, now, PRESETS["large"]))).findings(now)
    return dict(Counter(f["check"] for f in findings)), time.perf_counter() - began


def verify(chain: Path, public_key: Path, work: Path) -> dict[str, Any]:
    command = [console_script(), "snapshot", "verify", str(chain), "--public-key", str(public_key)]
    return run_measured(command, work)


async def open_in_browser(reports: dict[str, Path], workspace: Path) -> dict[str, dict[str, Any]]:
    """Load each report in headless Chromium from a loopback server: time to the load event, the
    page's own timing (first contentful paint, DOMContentLoaded, load), the renderer's busy, layout
    and style time (DevTools ``Performance.getMetrics``), elements and page height."""
    from tests.support.browser import chromium, serve_directory

    results: dict[str, dict[str, Any]] = {}
    async with chromium(workspace) as browser:
        for label, path in reports.items():
            with serve_directory(path.parent) as server:
                page = await browser.new_page()
                devtools = await page.context.new_cdp_session(page)
                await devtools.send("Performance.enable")
                began = time.perf_counter()
                await page.goto(f"{server.base_url}/{path.name}", wait_until="load", timeout=300_000)
                seconds = time.perf_counter() - began
                timing = await page.evaluate(
                    """() => {
                        const n = performance.getEntriesByType('navigation')[0];
                        const paint = performance.getEntriesByName('first-contentful-paint')[0];
                        return {dom: n.domContentLoadedEventEnd, load: n.loadEventEnd,
                                paint: paint ? paint.startTime : null,
                                elements: document.getElementsByTagName('*').length,
                                height: document.documentElement.scrollHeight};
                    }"""
                )
                metrics = await devtools.send("Performance.getMetrics")
                work = {m["name"]: m["value"] for m in metrics["metrics"]}
                results[label] = {
                    "seconds": seconds,
                    **timing,
                    "layoutSeconds": work["LayoutDuration"],
                    "styleSeconds": work["RecalcStyleDuration"],
                    "taskSeconds": work["TaskDuration"],
                }
                await page.close()
    return results


REPORT_PARTS = {
    "evidence (collapsed)": re.compile(r"<details><summary>Evidence</summary>.*?</details>", re.S),
    "messages": re.compile(r'<p class="message">.*?</p>', re.S),
    "remediation lines": re.compile(r'<p class="remediation">.*?</p>', re.S),
    "rule and references lines": re.compile(r'<p class="muted">Rule .*?</p>', re.S),
}
"""What each finding's row of report.html repeats, by the markup report.html.j2 gives it."""


def report_shares(path: Path) -> dict[str, float]:
    """The share of ``report.html``'s bytes in each of REPORT_PARTS."""
    text = path.read_text(encoding="utf-8")
    total = len(text.encode("utf-8"))
    return {
        name: sum(len(match.encode("utf-8")) for match in pattern.findall(text)) / total
        for name, pattern in REPORT_PARTS.items()
    }


def gzipped(directory: Path) -> list[str]:
    """What each file of a snapshot would be compressed (an archive or Blob copy could be)."""
    made = []
    for name in FILES[:3]:
        data = (directory / name).read_bytes()
        compressed = len(gzip.compress(data, compresslevel=6))
        made.append(f"{name} {size(compressed)} ({len(data) / compressed:.1f} : 1)")
    return made


def mb(kib: int) -> str:
    return f"{kib / 1024:.0f} MB"


def size(count: int) -> str:
    return f"{count / 1024 / 1024:.2f} MiB" if count >= 1024 * 1024 else f"{count / 1024:.1f} KiB"


def print_write(label: str, figures: dict[str, Any]) -> None:
    print(
        f"  {label}: {figures['findings']:,} findings, write {figures['totalSeconds']:.2f} s"
        f" (build {figures['buildSeconds']:.2f} s, report {figures['renderSeconds']:.2f} s,"
        f" json {figures['jsonSeconds']:.2f} s, csv {figures['csvSeconds']:.2f} s,"
        f" hashes+signature+files {figures['restSeconds']:.2f} s)"
    )
    print("    sizes: " + ", ".join(f"{name} {size(count)}" for name, count in figures["sizes"].items()))


def print_verify(label: str, figures: dict[str, Any]) -> None:
    verdict = "valid" if figures["exitCode"] == 0 else f"exit {figures['exitCode']}"
    lines = [line for line in figures["stdout"].strip().splitlines() if not line.startswith("note:")]
    first_line = lines[0] if lines else figures["stderr"].strip()
    print(
        f"  {label}: {verdict}, {figures['wallSeconds']:.2f} s wall, {figures['cpuSeconds']:.2f} s CPU,"
        f" peak RSS {mb(figures['peakRssKiB'])} — {first_line}"
    )


def bench(work: Path, browser: bool) -> None:
    private, public = write_signing_key(work)
    emulator_directory = work / "emulator"
    arguments = ("--seed", str(SEED), "--scale", "medium", "--throttling", "off")
    print(f"Snapshots of the medium emulated tenant (seed {SEED}, throttling off); files under {work}")
    with start_emulator(emulator_directory, *arguments) as emulator:
        config = write_config(emulator, work, private)
        created = run_measured([console_script(), "snapshot", "create", "--config", str(config)], work)
        if created["exitCode"] not in (0, 3):
            raise RuntimeError(f"snapshot create failed ({created['exitCode']}):\n{created['stderr']}")
        print("1. Real: `entra-monitor snapshot create` (sweep + snapshot), one process")
        print(
            f"  exit {created['exitCode']}, {created['wallSeconds']:.1f} s wall,"
            f" {created['cpuSeconds']:.1f} s CPU, peak RSS {mb(created['peakRssKiB'])}"
        )
        for line in created["stdout"].strip().splitlines():
            print(f"    {line.strip()}")
        chain = work / "snapshots" / "bench"
        first = json.loads((sorted(chain.iterdir())[0] / "snapshot.json").read_text(encoding="utf-8"))
        sweep = first["sweep"]
        sweep_seconds = (
            datetime.fromisoformat(sweep["finished_at"].replace("Z", "+00:00"))
            - datetime.fromisoformat(sweep["started_at"].replace("Z", "+00:00"))
        ).total_seconds()
        print(f"  sweep (first run start to last run end, to the second): {sweep_seconds:.0f} s")
        print(
            "  sizes: "
            + ", ".join(f"{n} {size(c)}" for n, c in file_sizes(sorted(chain.iterdir())[0]).items())
        )
        written = run_child("write", config, work)
        print("  the second snapshot, written again from the same store in a fresh process:")
        print(f"  reading the store {written['gatherSeconds']:.2f} s")
        print_write("written", written)
        print(
            f"    report.html rendered alone {written['renderAloneSeconds']:.2f} s;"
            f" peak RSS {mb(written['peakRssBeforeWriteKiB'])} before the write,"
            f" {mb(written['peakRssKiB'])} after"
        )
        print("    gzip -6 would make them: " + ", ".join(gzipped(Path(written["path"]))))
        print_verify("snapshot verify (2 snapshots)", verify(chain, public, work))

        targets, truth_seconds = large_targets()
        print(
            f"2. Scaled, SYNTHETIC: the large tenant's {sum(targets.values()):,} planted findings per check"
            f" (ground truth computed in {truth_seconds:.1f} s), made by cloning the medium tenant's real"
            " findings with new resource ids; real build_document, SnapshotWriter, signature"
        )
        scaled_directory = work / "scaled-snapshots"
        scaled = run_child(
            "scaled", config, work, "--targets", json.dumps(targets), "--directory", str(scaled_directory)
        )
        print(f"  from {scaled['realFindings']:,} real findings: {scaled['findingsByCheck']}")
        for number, figures in enumerate(scaled["writes"], start=1):
            print_write(f"snapshot {number}", figures)
        print(
            f"  report.html rendered alone {scaled['renderAloneSeconds']:.2f} s; peak RSS"
            f" {mb(scaled['peakRssBeforeWriteKiB'])} before the writes, {mb(scaled['peakRssAfterFirstKiB'])}"
            f" after the first, {mb(scaled['peakRssKiB'])} at the end"
        )
        print(
            "  memory (tracemalloc, MiB): "
            + "; ".join(
                f"{name} {part['retainedMiB']:.0f} held, {part['peakMiB']:.0f} peak"
                for name, part in scaled["memoryByPart"].items()
            )
        )
        print_verify("snapshot verify (2 snapshots)", verify(scaled_directory / "bench", public, work))
        shares = report_shares(Path(scaled["writes"][1]["path"]) / "report.html")
        print("  report.html's bytes: " + ", ".join(f"{name} {share:.0%}" for name, share in shares.items()))
        print_verify("start-up alone (verify of a missing path)", verify(work / "missing", public, work))

    if browser:
        reports = {
            "medium": Path(written["path"]) / "report.html",
            "large (synthetic)": Path(scaled["writes"][1]["path"]) / "report.html",
        }
        print("3. report.html in headless Chromium, from a loopback HTTP server")
        for label, figures in asyncio.run(open_in_browser(reports, work / "browser")).items():
            paint = figures["paint"]
            painted = f"first contentful paint {paint / 1000:.2f} s, " if paint is not None else ""
            print(
                f"  {label}: load event after {figures['seconds']:.2f} s ({painted}DOMContentLoaded"
                f" {figures['dom'] / 1000:.2f} s, load {figures['load'] / 1000:.2f} s in the page's"
                f" timing; renderer busy {figures['taskSeconds']:.2f} s, of it layout"
                f" {figures['layoutSeconds']:.2f} s and style {figures['styleSeconds']:.2f} s),"
                f" {figures['elements']:,} elements, {figures['height']:,} px tall"
            )


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--no-browser", action="store_true", help="do not open the reports in Chromium")
    parser.add_argument("--keep", type=Path, help="write everything here (kept) instead of a temporary dir")
    parser.add_argument("--child", choices=("write", "scaled"), help=argparse.SUPPRESS)
    parser.add_argument("--config", help=argparse.SUPPRESS)
    parser.add_argument("--targets", help=argparse.SUPPRESS)
    parser.add_argument("--directory", help=argparse.SUPPRESS)
    arguments = parser.parse_args()
    if arguments.child:
        child(arguments)
        return
    if arguments.keep:
        arguments.keep.mkdir(parents=True, exist_ok=False)
        bench(arguments.keep.resolve(), not arguments.no_browser)
        return
    with tempfile.TemporaryDirectory(prefix="snapshot-bench-") as work:
        bench(Path(work), not arguments.no_browser)


if __name__ == "__main__":
    main()
