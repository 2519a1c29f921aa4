"""``entra-monitor snapshot create`` against a seeded emulated tenant: the snapshot holds exactly the
planted problems (the ground truth), with a waiver, coverage, the configuration and baseline
hashes, a CSV row per finding and a signed manifest; a second snapshot after the tenant changed
says what is new and what was resolved, and ``snapshot diff`` agrees."""

from __future__ import annotations

import csv
import hashlib
import io
import json
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Any

import pytest

from monitor.check import fingerprint
from monitor.settings import load_settings
from monitor.snapshots.document import configuration_sha256
from monitor.snapshots.manifest import canonical_bytes, public_key_fingerprint, signature_problem
from tests.snapshots.conftest import assert_follows_schema, entra_monitor, monitor, snapshot_config, write_key
from tests.support.emulator import RunningEmulator
from tests.support.plugins import BUILTIN_CHECKS

Key = tuple[str, str, str, str]
EXPIRES = "2099-12-31"


def truth_at(emulator: RunningEmulator, at: str) -> list[dict[str, Any]]:
    with emulator.control() as control:
        truth = control.get("/truth", params={"at": at}).json()
    return [f for f in truth["findings"] if f["check"] in BUILTIN_CHECKS]


def key_of(check: str, finding: dict[str, Any]) -> Key:
    return (check, finding["rule"], finding["severity"], finding["resource"]["id"].lower())


def truth_keys(findings: list[dict[str, Any]]) -> set[Key]:
    return {key_of(f["check"], f) for f in findings}


def snapshot_keys(document: dict[str, Any]) -> set[Key]:
    return {key_of(check["id"], f) for check in document["checks"] for f in check["findings"]}


def started(document: dict[str, Any]) -> str:
    return min(check["started_at"] for check in document["checks"] if check["started_at"])


def chain_of(directory: Path) -> list[Path]:
    return sorted(p for p in (directory / "snapshots" / "lab").iterdir() if p.is_dir())


def load(path: Path) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return loaded


@pytest.fixture(scope="module")
def waived(live: RunningEmulator) -> dict[str, Any]:
    """The planted finding the settings waive: the first credential-expiry one."""
    return next(f for f in truth_at(live, live.info["now"]) if f["check"] == "credential-expiry")


def test_snapshots_hold_the_ground_truth_and_their_changes(
    live: RunningEmulator, waived: dict[str, Any], tmp_path: Path
) -> None:
    tenant_id = live.info["tenantId"]
    waived_fingerprint = fingerprint(
        tenant_id, "credential-expiry", waived["rule"], waived["resource"]["type"], waived["resource"]["id"]
    )
    key = write_key(tmp_path / "signing.pem", b"pass phrase")
    config = snapshot_config(
        live,
        tmp_path,
        f'signing_key_path = "{tmp_path / "signing.pem"}"\nsigning_key_password = "pass phrase"',
    )
    with config.open("a") as handle:
        handle.write(
            f'[[waivers]]\nfingerprint = "{waived_fingerprint}"\njustification = "Vendor rotates it, CHG-1"\n'
            f'approver = "ciso@contoso.com"\nexpires = {EXPIRES}\n'
        )

    created = monitor(config, "snapshot", "create")
    assert created.returncode == 0, created.stderr
    (first_dir,) = chain_of(tmp_path)
    assert f"snapshot {first_dir.name} (sequence 1) written to {first_dir}" in created.stdout
    assert "not signed" not in created.stdout
    assert sorted(p.name for p in first_dir.iterdir()) == [
        "findings.csv",
        "manifest.json",
        "report.html",
        "snapshot.json",
    ]
    first = load(first_dir / "snapshot.json")
    assert_follows_schema(first)
    truth = truth_at(live, started(first))

    # Exactly the planted problems, each once, the waived one listed with its waiver.
    assert snapshot_keys(first) == truth_keys(truth)
    assert sum(len(c["findings"]) for c in first["checks"]) == len(truth)
    assert [c["id"] for c in first["checks"]] == sorted(BUILTIN_CHECKS)
    assert {c["status"] for c in first["checks"]} == {"succeeded"}
    assert first["tenant"] == {"name": "lab", "tenant_id": tenant_id}
    assert first["schema_version"] == 1
    (waiver,) = first["waivers"]
    assert waiver == {
        "fingerprint": waived_fingerprint,
        "check": None,
        "rule": None,
        "resource_id": None,
        "justification": "Vendor rotates it, CHG-1",
        "approver": "ciso@contoso.com",
        "expires": EXPIRES,
        "matched": [waived_fingerprint],
    }
    findings = {f["fingerprint"]: f for c in first["checks"] for f in c["findings"]}
    assert findings[waived_fingerprint]["waiver"] == 0
    assert [fp for fp, f in findings.items() if f["waiver"] is not None] == [waived_fingerprint]
    assert {f["change"] for f in findings.values()} == {"new"}
    assert all(f["remediation"] and f["references"] for f in findings.values())

    # The counts leave the waived finding out.
    counted = Counter(f["severity"] for f in truth)
    counted[waived["severity"]] -= 1
    summary = first["summary"]
    assert summary["open_by_severity"] == {
        s: counted[s] for s in ("critical", "high", "medium", "low", "info")
    }
    assert summary["since_previous"] == {"new": len(truth) - 1, "open": len(truth) - 1, "resolved": 0}
    assert summary["previous"] is None
    by_reference: Counter[str] = Counter()
    for fp, finding in findings.items():
        if fp != waived_fingerprint:
            by_reference.update(set(finding["references"]))
    assert summary["open_by_reference"] == dict(by_reference)

    # Coverage, configuration and baseline.
    coverage = {c["id"]: c["coverage"] for c in first["checks"]}
    with live.control() as control:
        counts = control.get("/truth").json()["counts"]
    assert coverage["credential-expiry"]["applications"] == counts["applications"]
    assert coverage["credential-expiry"]["servicePrincipals"] == counts["servicePrincipals"]
    assert all(c["permissions"] and c["duration_seconds"] is not None for c in first["checks"])
    assert first["configuration"] == {
        "sha256": configuration_sha256(load_settings(config)),
        "secrets_excluded": True,
    }
    builtin = resources.files("monitor.data").joinpath("baseline.toml").read_bytes()
    assert first["baseline"]["source"] == "built-in"
    assert first["baseline"]["sha256"] == hashlib.sha256(builtin).hexdigest()
    assert first["baseline"]["values"]["tokens"]["access_token_lifetime_minutes"] == 60

    # findings.csv: one row per finding, same fingerprints, formula-safe.
    rows = list(csv.DictReader(io.StringIO((first_dir / "findings.csv").read_text(encoding="utf-8"))))
    assert len(rows) == len(findings)
    assert {r["fingerprint"] for r in rows} == set(findings)
    assert {r["waived"] for r in rows if r["fingerprint"] == waived_fingerprint} == {"yes"}
    assert all(r["tenant"] == "lab" and r["status"] == "open" for r in rows)

    # manifest.json: every file's hash, first of its chain, signed by the configured key.
    manifest = load(first_dir / "manifest.json")
    assert manifest["files"] == {
        name: hashlib.sha256((first_dir / name).read_bytes()).hexdigest()
        for name in ("findings.csv", "report.html", "snapshot.json")
    }
    assert (manifest["sequence"], manifest["previous"], manifest["pruned"]) == (1, None, None)
    assert manifest["signature"]["public_key_fingerprint"] == public_key_fingerprint(key.public_key())
    assert signature_problem(manifest, key.public_key()) is None
    unsigned = {k: v for k, v in manifest.items() if k != "signature"}
    assert canonical_bytes(unsigned) == json.dumps(unsigned, sort_keys=True, separators=(",", ":")).encode()

    # The tenant changes: one token policy drifts, a drifting one is put right.
    policies = _token_policies(live)
    drifting = next(p for p in policies if "01:00:00" not in "".join(p["definition"]))
    compliant = next(p for p in policies if "01:00:00" in "".join(p["definition"]))
    with live.control() as control:
        for policy, lifetime in ((compliant, "03:00:00"), (drifting, "01:00:00")):
            definition = f'{{"TokenLifetimePolicy":{{"Version":1,"AccessTokenLifetime":"{lifetime}"}}}}'
            answer = control.patch(
                f"/tokenLifetimePolicies/{policy['id']}", json={"definition": [definition]}
            )
            assert answer.status_code == 200, answer.text

    again = monitor(config, "snapshot", "create")
    assert again.returncode == 0, again.stderr
    first_again, second_dir = chain_of(tmp_path)
    assert first_again == first_dir
    second = load(second_dir / "snapshot.json")
    assert_follows_schema(second)
    later_truth = truth_at(live, started(second))
    assert snapshot_keys(second) == truth_keys(later_truth)
    appeared = truth_keys(later_truth) - truth_keys(truth)
    gone = truth_keys(truth) - truth_keys(later_truth)
    assert appeared
    assert gone
    changes = {key_of(c["id"], f): f["change"] for c in second["checks"] for f in c["findings"]}
    assert {k for k, change in changes.items() if change == "new"} == appeared
    assert {k for k, change in changes.items() if change != "new"} == truth_keys(truth) & truth_keys(
        later_truth
    )
    assert {key_of(r["check"], r) for r in second["resolved_since_previous"]} == gone
    assert second["summary"]["since_previous"]["resolved"] == len(gone)
    assert second["summary"]["since_previous"]["new"] == len(appeared)
    assert second["summary"]["previous"] == {
        "id": first_dir.name,
        "created_at": first["created_at"],
        "open_by_severity": first["summary"]["open_by_severity"],
    }
    second_manifest = load(second_dir / "manifest.json")
    assert second_manifest["sequence"] == 2
    assert second_manifest["previous"] == {
        "id": first_dir.name,
        "manifest_sha256": hashlib.sha256((first_dir / "manifest.json").read_bytes()).hexdigest(),
    }

    # snapshot diff says the same, and the chain verifies with the public half of the key.
    diffed = entra_monitor(
        "snapshot", "diff", str(first_dir), str(second_dir), "--format", "json", cwd=tmp_path
    )
    assert diffed.returncode == 0, diffed.stderr
    difference = json.loads(diffed.stdout)
    assert (difference["from"], difference["to"]) == (first_dir.name, second_dir.name)
    assert {key_of(f["check"], f) for f in difference["new"]} == appeared
    assert {key_of(f["check"], f) for f in difference["resolved"]} == gone
    verified = monitor(config, "snapshot", "verify", str(second_dir.parent))
    assert verified.returncode == 0, verified.stdout
    assert f"VALID 2 snapshot(s) of lab in {second_dir.parent}; signed by SHA256:" in verified.stdout


def _token_policies(emulator: RunningEmulator) -> list[dict[str, Any]]:
    with emulator.graph() as graph:
        response = graph.get("/v1.0/policies/tokenLifetimePolicies")
        response.raise_for_status()
        policies: list[dict[str, Any]] = response.json()["value"]
    return policies
