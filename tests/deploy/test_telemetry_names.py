"""Every metric and event name in the workbook's and the alert rules' queries is one the monitor
emits: the instrument names of monitor/graph and monitor/telemetry, the checks' declared gauges
(from the plugin registry) and the alert event of monitor/alerts. Metric names are read from
customMetrics and event names from customEvents, where Application Insights puts them."""

from __future__ import annotations

import json
import re

import pytest

from monitor.alerts import ALERT_EVENT
from monitor.graph import instruments as graph_instruments
from monitor.plugins import discover_checks
from monitor.telemetry import instruments as worker_instruments
from tests.deploy.conftest import AZURE

NAME_TEST = re.compile(r'\bname\s*(?:==\s*"([^"]+)"|in\s*\(([^)]*)\))')
TABLE = re.compile(r"^\s*(customMetrics|customEvents)\b", re.MULTILINE)


def emitted_metrics() -> set[str]:
    names = {
        value
        for module in (graph_instruments, worker_instruments)
        for key, value in vars(module).items()
        if key.isupper() and isinstance(value, str) and value.startswith("entra_monitor.")
    }
    names -= {graph_instruments.METER_NAME, worker_instruments.METER_NAME}
    discovery = discover_checks()
    return names | {gauge.name for check in discovery.checks.values() for gauge in check.gauges}


def names_in(query: str) -> set[str]:
    """The names a query compares ``name`` with (``name == "x"``, ``name in ("x", "y")``)."""
    found: set[str] = set()
    for single, listed in NAME_TEST.findall(query):
        found |= {single} if single else set(re.findall(r'"([^"]+)"', listed))
    return found


def queries() -> dict[str, str]:
    found = {f"alerts/{path.name}": path.read_text() for path in sorted((AZURE / "alerts").glob("*.kql"))}
    workbook = json.loads((AZURE / "workbook.json").read_text())
    for item in workbook["items"]:
        if item["type"] == 3:
            found[f"workbook.json:{item['name']}"] = item["content"]["query"]
    return found


def test_the_emitted_names_are_the_documented_ones() -> None:
    metrics = emitted_metrics()

    assert len(metrics) == 17
    assert {"entra_monitor.findings.open", "entra_monitor.graph.throttled"} <= metrics
    assert ALERT_EVENT == "EntraMonitorAlert"


def test_the_alert_rules_and_the_workbook_were_found() -> None:
    found = queries()

    assert {name for name in found if name.startswith("alerts/")} == {
        "alerts/check-failing.kql",
        "alerts/critical-finding.kql",
        "alerts/worker-silent.kql",
    }
    assert sum(name.startswith("workbook.json:") for name in found) == 11


@pytest.mark.parametrize(("source", "query"), sorted(queries().items()))
def test_every_name_a_query_reads_is_emitted(source: str, query: str) -> None:
    tables = set(TABLE.findall(query))
    names = names_in(query)

    assert len(tables) == 1, f"{source}: one table, customMetrics or customEvents"
    assert names, f"{source} compares name with nothing"
    if tables == {"customEvents"}:
        assert names == {ALERT_EVENT}, source
    else:
        assert names <= emitted_metrics(), f"{source}: {sorted(names - emitted_metrics())} are not emitted"


def test_the_workbook_shows_every_metric_the_monitor_emits_but_graph_internals() -> None:
    shown = set().union(*(names_in(query) for query in queries().values()))
    internal = {
        graph_instruments.RETRIES,
        graph_instruments.WAIT,
        graph_instruments.RETRY_AFTER,
        graph_instruments.DURATION,
        graph_instruments.OBJECTS,
    }

    assert shown == (emitted_metrics() - internal) | {ALERT_EVENT}


def test_the_name_parser_reads_both_forms_and_would_catch_a_typo() -> None:
    query = 'customMetrics | where name in ("a.b", "c") | where name == "entra_monitor.findings.opne"'

    assert names_in(query) == {"a.b", "c", "entra_monitor.findings.opne"}
    assert not names_in(query) <= emitted_metrics()
