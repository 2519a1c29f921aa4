"""The document builder on hand-made inputs: checks that did not run or failed, the worker's own
findings, which waivers are in force, and the schema."""

from __future__ import annotations

import hashlib
import json
from datetime import date, timedelta
from pathlib import Path

from monitor.check import Severity
from monitor.snapshots.csv_export import findings_csv
from monitor.snapshots.document import CheckInfo, SnapshotInputs, build_document
from monitor.snapshots.manifest import FINDINGS, MANIFEST, REPORT, SNAPSHOT, pretty_bytes
from monitor.snapshots.report import render_report
from monitor.snapshots.writer import CHUNK_CHARACTERS
from monitor.state import StoredFinding, Waiver
from tests.snapshots.conftest import assert_follows_schema
from tests.snapshots.support import T0, TENANT_ID, finding, monitor_settings, new_chain, run, stored


def test_runs_waivers_and_the_worker_s_findings() -> None:
    waived = finding("expired", "a1", Severity.CRITICAL)
    kept = finding("expiring", "a2", Severity.MEDIUM)
    failing = finding("check-failing", "consent-grants", Severity.HIGH, check="worker")
    waiver = Waiver(
        fingerprint=waived.fingerprint,
        justification="Vendor app",
        approver="ciso",
        expires=date(2026, 12, 31),
    )
    settings = monitor_settings(
        waivers=[
            {
                "fingerprint": waived.fingerprint,
                "justification": "Vendor app",
                "approver": "ciso",
                "expires": "2026-12-31",
            },
            {
                "rule": "x",
                "resource_id": "y",
                "justification": "old",
                "approver": "a",
                "expires": "2026-01-01",
            },
            {
                "rule": "x",
                "resource_id": "y",
                "tenant": "other",
                "justification": "j",
                "approver": "a",
                "expires": "2027-01-01",
            },
        ]
    )
    checks = (
        CheckInfo("credential-expiry", ("Application.Read.All",)),
        CheckInfo("consent-grants", ("DelegatedPermissionGrant.Read.All",)),
        CheckInfo("access-review-due", ()),
    )
    failed = run("consent-grants", status="failed")
    inputs = SnapshotInputs(
        "lab",
        TENANT_ID,
        checks,
        {"credential-expiry": run("credential-expiry"), "consent-grants": failed, "access-review-due": None},
        [
            StoredFinding(waived, "open", T0, T0, None, waiver),
            stored(kept),
            stored(failing),
        ],
        settings,
    )
    document = build_document(inputs, None, T0 + timedelta(minutes=5), "20261127T120500Z-lab")
    assert_follows_schema(document)
    entries = {c["id"]: c for c in document["checks"]}
    assert list(entries) == ["access-review-due", "consent-grants", "credential-expiry", "worker"]
    assert (entries["access-review-due"]["status"], entries["access-review-due"]["run_id"]) == (
        "not_run",
        None,
    )
    assert entries["consent-grants"]["status"] == "failed"
    assert entries["credential-expiry"]["coverage"] == {"applications": 12, "servicePrincipals": 14}
    assert entries["credential-expiry"]["duration_seconds"] == 2.0
    assert [f["rule"] for f in entries["credential-expiry"]["findings"]] == ["expired", "expiring"]
    assert [f["waiver"] for f in entries["credential-expiry"]["findings"]] == [0, None]
    assert [f["rule"] for f in entries["worker"]["findings"]] == ["check-failing"]
    # Only the waiver in force for this tenant is listed; the waived finding is not counted.
    assert [w["justification"] for w in document["waivers"]] == ["Vendor app"]
    assert document["waivers"][0]["matched"] == [waived.fingerprint]
    assert document["summary"]["open_by_severity"] == {
        "critical": 0,
        "high": 1,
        "medium": 1,
        "low": 0,
        "info": 0,
    }
    assert document["sweep"] == {"started_at": "2026-11-27T12:00:00Z", "finished_at": "2026-11-27T12:00:02Z"}


def test_files_streamed_to_disk_are_the_documented_bytes(tmp_path: Path) -> None:
    chain = new_chain(tmp_path, findings=[stored(finding(f"rule-{n}", f"app-{n}")) for n in range(300)])
    first, second = chain.write(2)
    manifest = json.loads((second.path / MANIFEST).read_bytes())

    assert (second.path / SNAPSHOT).read_bytes() == pretty_bytes(second.document)
    assert (second.path / FINDINGS).read_bytes() == findings_csv(second.document).encode("utf-8")
    report = (second.path / REPORT).read_bytes().decode("utf-8")
    assert report == render_report(second.document, first.document)
    assert len(report) > 3 * CHUNK_CHARACTERS  # written in several pieces
    assert manifest["files"] == {
        name: hashlib.sha256((second.path / name).read_bytes()).hexdigest()
        for name in (FINDINGS, REPORT, SNAPSHOT)
    }
