"""Benchmark of the emulated tenant itself: start-up, memory, and how fast it serves pages.

Starts ``entra-monitor emulator`` (throttling off, no faults) at each scale as a subprocess and
prints, per scale: seconds until the info file exists and until it answers, requests to read every
application / sign-in against the minimum ``ceil(objects / page size)``, objects per second, and
the emulator's peak resident memory (VmHWM). Not a test: it asserts nothing.

    .venv/bin/python bench/emulator_bench.py [--scales tiny,small,medium,large] [--full-sign-ins]
"""

from __future__ import annotations

import argparse
import json
import math
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.support.emulator import RunningEmulator, _wait_until_serving  # noqa: E402

SCRIPT = str(Path(sys.executable).with_name("entra-monitor"))


def start(directory: Path, scale: str) -> tuple[RunningEmulator, float, float]:
    info_file = directory / "emulator.json"
    command = [
        SCRIPT,
        "emulator",
        "--port",
        "0",
        "--scale",
        scale,
        "--throttling",
        "off",
        "--now",
        "2026-11-27T12:00:00Z",
        "--state-dir",
        str(directory / "state"),
        "--info-file",
        str(info_file),
    ]
    began = time.perf_counter()
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    while not info_file.exists():
        if process.poll() is not None:
            raise RuntimeError(f"emulator exited with {process.returncode}")
        time.sleep(0.01)
    written = time.perf_counter() - began
    running = RunningEmulator(json.loads(info_file.read_text()), process, (), directory / "log")
    _wait_until_serving(running)
    return running, written, time.perf_counter() - began


def read_all(client: httpx.Client, url: str) -> tuple[int, int, float]:
    began = time.perf_counter()
    objects = requests = 0
    next_url: str | None = url
    while next_url:
        response = client.get(next_url)
        response.raise_for_status()
        body = response.json()
        objects += len(body["value"])
        requests += 1
        next_url = body.get("@odata.nextLink")
    return objects, requests, time.perf_counter() - began


def bench(scale: str, full_sign_ins: bool) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as temporary:
        running, written, serving = start(Path(temporary), scale)
        try:
            row: dict[str, Any] = {"scale": scale, "info file (s)": written, "serving (s)": serving}
            with running.graph(timeout=600) as graph:
                apps, requests, seconds = read_all(
                    graph, "/v1.0/applications?$select=id,appId,keyCredentials,passwordCredentials&$top=999"
                )
                row |= {
                    "applications": apps,
                    "app requests": requests,
                    "app minimum": math.ceil(apps / 999),
                    "apps/s": apps / seconds,
                }
                count = running.info["scale"]["sign_ins"]
                began = time.perf_counter()
                oldest = graph.get(
                    "/v1.0/auditLogs/signIns", params={"$filter": "createdDateTime le 2026-10-28T12:30:00Z"}
                )
                oldest.raise_for_status()
                row["last page (s)"] = time.perf_counter() - began
                if full_sign_ins:
                    events, requests, seconds = read_all(graph, "/v1.0/auditLogs/signIns")
                    row |= {
                        "sign-ins": events,
                        "sign-in requests": requests,
                        "sign-in minimum": math.ceil(count / 1000),
                        "sign-ins/s": events / seconds,
                    }
            row["peak RSS (MB)"] = running.peak_rss_kib() / 1024
            return row
        finally:
            running.process.terminate()
            running.process.wait(timeout=30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--scales", default="tiny,small,medium,large,small;signIns=1000000")
    parser.add_argument(
        "--full-sign-ins", action="store_true", help="also page through the whole sign-in log"
    )
    arguments = parser.parse_args()
    for scale in arguments.scales.split(","):
        row = bench(scale.replace(";", ","), arguments.full_sign_ins)
        print(
            "  ".join(
                f"{key}={value:.2f}" if isinstance(value, float) else f"{key}={value}"
                for key, value in row.items()
            )
        )


if __name__ == "__main__":
    main()
