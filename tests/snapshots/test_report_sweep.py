"""The report as the monitor writes it after real sweeps of an emulated tenant: two
``entra-monitor snapshot create`` runs with a tenant change between them (a token policy renamed to
markup and made to drift, a drifting one put right) and a waiver whose texts are markup too. The
``report.html`` in the second snapshot is exactly what ``render_report`` makes of its document and
the previous one, and in Chromium it shows that document's numbers, loads nothing else, and shows
the hostile names as text."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from playwright.async_api import Browser

from monitor.check import fingerprint
from monitor.snapshots.report import Vocabulary, render_report
from tests.snapshots.conftest import monitor, snapshot_config
from tests.snapshots.test_report import SEVERITY_ORDER
from tests.snapshots.test_report_browser import CELLS, open_report
from tests.support.browser import chromium, keep_artefact
from tests.support.emulator import RunningEmulator

POLICY_NAME = '<script>alert("policy")</script> Long tokens'
JUSTIFICATION = "Vendor rotates it </td></tr></table><h2>Forged section</h2>"
APPROVER = "<img src=x onerror=alert(1)>@contoso.com"


def load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


def _truth(emulator: RunningEmulator) -> list[dict[str, Any]]:
    with emulator.control() as control:
        response = control.get("/truth")
        response.raise_for_status()
        findings: list[dict[str, Any]] = response.json()["findings"]
    return findings


def _token_policies(emulator: RunningEmulator) -> list[dict[str, Any]]:
    with emulator.graph() as graph:
        response = graph.get("/v1.0/policies/tokenLifetimePolicies")
        response.raise_for_status()
        policies: list[dict[str, Any]] = response.json()["value"]
    return policies


def _patch_policy(emulator: RunningEmulator, policy_id: str, lifetime: str, name: str | None = None) -> None:
    definition = f'{{"TokenLifetimePolicy":{{"Version":1,"AccessTokenLifetime":"{lifetime}"}}}}'
    body: dict[str, Any] = {"definition": [definition]}
    if name is not None:
        body["displayName"] = name
    with emulator.control() as control:
        answer = control.patch(f"/tokenLifetimePolicies/{policy_id}", json=body)
        assert answer.status_code == 200, answer.text


@pytest.fixture(scope="module")
def snapshots(live: RunningEmulator, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(first, second) snapshot directories of the tenant, written by the monitor."""
    directory = tmp_path_factory.mktemp("report-sweep")
    waived = next(f for f in _truth(live) if f["check"] == "credential-expiry")
    waived_fingerprint = fingerprint(
        live.info["tenantId"],
        "credential-expiry",
        waived["rule"],
        waived["resource"]["type"],
        waived["resource"]["id"],
    )
    config = snapshot_config(live, directory)
    with config.open("a") as handle:
        handle.write(
            f'[[waivers]]\nfingerprint = "{waived_fingerprint}"\n'
            f"justification = {json.dumps(JUSTIFICATION)}\napprover = {json.dumps(APPROVER)}\n"
            "expires = 2099-12-31\n"
        )
    first = monitor(config, "snapshot", "create")
    assert first.returncode == 0, first.stderr

    policies = _token_policies(live)
    drifting = next(p for p in policies if "01:00:00" not in "".join(p["definition"]))
    compliant = next(p for p in policies if "01:00:00" in "".join(p["definition"]))
    _patch_policy(live, compliant["id"], "03:00:00", POLICY_NAME)
    _patch_policy(live, drifting["id"], "01:00:00")

    second = monitor(config, "snapshot", "create")
    assert second.returncode == 0, second.stderr
    chain = sorted(path for path in (directory / "snapshots" / "lab").iterdir() if path.is_dir())
    assert len(chain) == 2
    return chain[0], chain[1]


@pytest.fixture(scope="module")
async def browser(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Browser]:
    async with chromium(tmp_path_factory.mktemp("chromium")) as running:
        yield running


def test_the_written_report_is_the_render_of_its_document_and_the_previous_one(
    snapshots: tuple[Path, Path],
) -> None:
    first, second = snapshots
    document, previous = load(second / "snapshot.json"), load(first / "snapshot.json")
    assert (second / "report.html").read_text(encoding="utf-8") == render_report(document, previous)
    assert (first / "report.html").read_text(encoding="utf-8") == render_report(previous, None)
    # The sweep really changed something for the report to show.
    assert document["summary"]["since_previous"]["new"] >= 1
    assert document["summary"]["since_previous"]["resolved"] >= 1
    names = {f["resource"]["display_name"] for c in document["checks"] for f in c["findings"]}
    assert POLICY_NAME in names


def test_the_vocabulary_has_words_for_everything_a_sweep_reports(snapshots: tuple[Path, Path]) -> None:
    _first, second = snapshots
    document = load(second / "snapshot.json")
    words = Vocabulary.load()
    assert list(words.severities) == list(SEVERITY_ORDER)
    assert {"succeeded", "failed", "timed_out", "not_run", "unavailable"} <= set(words.statuses)
    assert set(words.changes) == {"new", "open", "reopened", "severity_changed"}
    assert {c["id"] for c in document["checks"]} | {"worker"} <= set(words.checks)
    collections = {name for c in document["checks"] for name in c["coverage"]}
    assert collections <= set(words.collections)
    prefixes = {
        r.partition(": ")[0] for c in document["checks"] for f in c["findings"] for r in f["references"]
    }
    assert prefixes <= set(words.sources)


async def test_the_written_report_shows_the_sweeps_numbers_in_chromium(
    snapshots: tuple[Path, Path], browser: Browser, tmp_path: Path
) -> None:
    first, second = snapshots
    document, previous = load(second / "snapshot.json"), load(first / "snapshot.json")
    html = (second / "report.html").read_text(encoding="utf-8")
    page, watch, paths = await open_report(browser, tmp_path, html)
    try:
        assert (watch.console_errors, watch.page_errors, watch.failed) == ([], [], [])
        assert watch.requests == [("document", page.url)]
        assert paths == ["/report.html"]

        severity_rows = await page.eval_on_selector("#by-severity table", CELLS)
        shown = {row[0].lower(): (int(row[2]), int(row[3])) for row in severity_rows[1:-1]}
        assert shown == {
            severity: (
                previous["summary"]["open_by_severity"][severity],
                document["summary"]["open_by_severity"][severity],
            )
            for severity in SEVERITY_ORDER
        }
        since = document["summary"]["since_previous"]
        for figure, value in (
            ("open", since["open"]),
            ("new", since["new"]),
            ("resolved", since["resolved"]),
        ):
            assert (await page.inner_text(f"#figure-{figure} dd")).strip() == str(value)
        assert (await page.inner_text("#figure-waived dd")).strip() == "1"

        coverage = await page.eval_on_selector("#coverage-table", CELLS)
        assert [row[0].splitlines()[-1] for row in coverage[1:]] == [c["id"] for c in document["checks"]]
        assert [int(row[3]) for row in coverage[1:]] == [
            sum(1 for f in c["findings"] if f["waiver"] is None) for c in document["checks"]
        ]
        credential = next(c for c in document["checks"] if c["id"] == "credential-expiry")
        row = coverage[1 + document["checks"].index(credential)]
        assert f"{credential['coverage']['applications']} applications" in row[2].splitlines()

        resolved = await page.eval_on_selector("#resolved-table", CELLS)
        assert len(resolved) - 1 == since["resolved"]
        waivers = await page.eval_on_selector("#waivers-table", CELLS)
        assert [row[2:4] for row in waivers[1:]] == [[JUSTIFICATION, APPROVER]]

        assert await page.locator("script, img, iframe, object, embed, form").count() == 0
        assert [await h.inner_text() for h in await page.query_selector_all("h2")].count(
            "Forged section"
        ) == 0
        assert POLICY_NAME in await page.inner_text("#checks")

        screenshot = tmp_path / "report-emulator.png"
        await page.screenshot(path=str(screenshot), full_page=True)
        keep_artefact(screenshot, screenshot.name)
    finally:
        await page.close()
