"""What changed between two snapshots: in the later document (change per finding, resolved since
the previous) and from ``snapshot diff``."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from monitor.check import Severity
from monitor.snapshots.diff import diff_documents, load_document
from tests.snapshots.conftest import entra_monitor
from tests.snapshots.support import T0, finding, new_chain, stored


def test_changes_between_snapshots(tmp_path: Path) -> None:
    kept = finding("expired", "a1", Severity.HIGH)
    reworded = finding("expiring", "a2", Severity.MEDIUM)
    resolved = finding("unused", "a3", Severity.LOW)
    returning = finding("too-long", "a4", Severity.LOW)
    chain = new_chain(tmp_path, [stored(kept), stored(reworded), stored(resolved)])
    (first,) = chain.write()

    raised = finding("expired", "a1", Severity.CRITICAL)
    new = finding("secret-in-production", "a5", Severity.HIGH, check="consent-grants")
    changed = finding("expiring", "a2", Severity.MEDIUM, message="now 2 days", evidence={"daysLeft": 2})
    chain.findings = [
        stored(raised),
        stored(changed),
        stored(new, T0 + timedelta(hours=1)),
        stored(returning, T0 - timedelta(days=30), times_reopened=1),
    ]
    (second,) = chain.write()

    changes = {f["resource"]["id"]: f["change"] for c in second.document["checks"] for f in c["findings"]}
    assert changes == {"a1": "severity_changed", "a2": "open", "a4": "reopened", "a5": "new"}
    assert [r["fingerprint"] for r in second.document["resolved_since_previous"]] == [resolved.fingerprint]
    assert second.document["summary"]["since_previous"] == {"new": 2, "open": 4, "resolved": 1}

    difference = diff_documents(load_document(first.path), load_document(second.path / "snapshot.json"))
    assert (difference.before, difference.after) == (first.id, second.id)
    assert [(e["fingerprint"], e["check"]) for e in difference.new] == [
        (new.fingerprint, "consent-grants"),
        (returning.fingerprint, "credential-expiry"),
    ]
    assert [e["fingerprint"] for e in difference.resolved] == [resolved.fingerprint]
    assert [(e["fingerprint"], e["fields"]) for e in difference.changed] == [
        (raised.fingerprint, {"severity": {"from": "high", "to": "critical"}}),
        (
            changed.fingerprint,
            {
                "message": {"from": "expiring on a2", "to": "now 2 days"},
                "evidence": {"from": {"daysLeft": 3}, "to": {"daysLeft": 2}},
            },
        ),
    ]

    table = entra_monitor("snapshot", "diff", str(first.path), str(second.path), cwd=tmp_path)
    assert table.returncode == 0, table.stderr
    assert f"From {first.id} to {second.id}: 2 new, 1 resolved, 2 changed" in table.stdout
    assert "severity: high → critical" in table.stdout
