"""Run in a subprocess by the telemetry tests: set telemetry up, emit, shut down, report.

Arguments: a JSON object with ``connection_string``, ``storage_directory`` (or null) and
``grace_seconds``, ``export_timeout_seconds``. With ``audit`` true an audit hook records every
``socket.getaddrinfo`` and ``socket.connect`` from before set-up until exit (notes §3 did the
same). Every log record, at DEBUG and above, goes to stderr so the test can search it for secrets.
The last line of stdout is a JSON report: ``shutdown_in_time``, ``network`` (the audited hosts).
"""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any

from pydantic import SecretStr


def main() -> None:
    options = json.loads(sys.argv[1])
    network: list[str] = []
    if options.get("audit"):

        def audit(event: str, args: tuple[Any, ...]) -> None:
            if event == "socket.getaddrinfo":
                network.append(f"dns {args[0]}")
            elif event == "socket.connect":
                address = args[1]
                network.append(f"connect {address[0] if isinstance(address, tuple) else address}")

        sys.addaudithook(audit)
    logging.basicConfig(level=logging.DEBUG, stream=sys.stderr, format="%(name)s %(levelname)s %(message)s")

    from monitor.check import Severity
    from monitor.telemetry import AzureMonitorSettings, TelemetrySettings, setup_telemetry

    settings = TelemetrySettings(
        azure_monitor=AzureMonitorSettings(
            enabled=True,
            connection_string=SecretStr(options["connection_string"]),
            storage_directory=options.get("storage_directory"),
        ),
        export_timeout_seconds=options.get("export_timeout_seconds", 10.0),
    )
    telemetry = setup_telemetry(settings, environ={})
    for number in range(3):
        telemetry.emit_event("EntraMonitorFindingOpened", {"tenant": "contoso", "number": str(number)})
    telemetry.instruments.record_open_findings("contoso", "credential-expiry", {Severity.HIGH: 1})
    telemetry.instruments.record_run("contoso", "credential-expiry", "succeeded", 0.25)
    started = time.monotonic()
    in_time = telemetry.shutdown(options["grace_seconds"])
    report = {"shutdown_in_time": in_time, "shutdown_seconds": time.monotonic() - started, "network": network}
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
