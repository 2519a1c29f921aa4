"""``entra-monitor snapshot verify | diff | list``: output and exit codes (0 valid, 1 tampered,
2 usage) as a real process."""

from __future__ import annotations

import json
from pathlib import Path

from tests.snapshots.conftest import entra_monitor, write_key, write_public_key
from tests.snapshots.support import new_chain


def test_verify_exit_codes(tmp_path: Path) -> None:
    key = write_key(tmp_path / "key.pem")
    public = write_public_key(key, tmp_path / "key.pub")
    chain = new_chain(tmp_path / "snapshots", signing_key_path=tmp_path / "key.pem")
    written = chain.write(2)
    tenant = chain.tenant_directory

    valid = entra_monitor("snapshot", "verify", str(tenant), "--public-key", str(public), cwd=tmp_path)
    assert valid.returncode == 0, valid.stdout + valid.stderr
    assert "VALID 2 snapshot(s) of lab" in valid.stdout
    single = entra_monitor("snapshot", "verify", str(written[0].path), cwd=tmp_path)
    assert single.returncode == 0, single.stdout
    assert "signatures not checked: no public key given" in single.stdout

    (written[0].path / "findings.csv").write_text("tenant\n")
    tampered = entra_monitor("snapshot", "verify", str(tenant), "--public-key", str(public), cwd=tmp_path)
    assert tampered.returncode == 1
    assert f"TAMPERED altered: {written[0].id}/findings.csv has SHA-256" in tampered.stdout
    assert "1 problem(s) in 2 snapshot(s) of lab" in tampered.stdout

    missing = entra_monitor("snapshot", "verify", str(tmp_path / "nowhere"), cwd=tmp_path)
    assert missing.returncode == 2
    assert "is not a directory; accepted: a snapshot directory or a tenant's chain" in missing.stderr
    root = entra_monitor("snapshot", "verify", str(tmp_path / "snapshots"), cwd=tmp_path)
    assert root.returncode == 2
    assert f"holds the chains of tenants; accepted: one tenant's chain ({tenant})" in " ".join(
        root.stderr.split()
    )
    (tmp_path / "junk.pem").write_text("not a key")
    bad_key = entra_monitor(
        "snapshot", "verify", str(tenant), "--public-key", str(tmp_path / "junk.pem"), cwd=tmp_path
    )
    assert bad_key.returncode == 2
    assert "is not a PEM public key" in bad_key.stderr


def test_diff_and_list(tmp_path: Path) -> None:
    chain = new_chain(tmp_path / "snapshots")
    first, second = chain.write(2)
    nothing = entra_monitor(
        "snapshot", "diff", str(first.path), str(second.path), "--format", "json", cwd=tmp_path
    )
    assert nothing.returncode == 0, nothing.stderr
    assert json.loads(nothing.stdout) == {
        "from": first.id,
        "to": second.id,
        "new": [],
        "resolved": [],
        "changed": [],
    }
    not_a_snapshot = entra_monitor("snapshot", "diff", str(tmp_path), str(second.path), cwd=tmp_path)
    assert not_a_snapshot.returncode == 2
    assert "snapshot.json" in not_a_snapshot.stderr

    (second.path / "report.html").write_text("<p>edited</p>")
    listed = entra_monitor(
        "snapshot", "list", "--directory", str(tmp_path / "snapshots"), "--format", "json", cwd=tmp_path
    )
    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["tenant"], r["id"], r["sequence"], r["verified"]) for r in rows] == [
        ("lab", first.id, 1, True),
        ("lab", second.id, 2, False),
    ]
    assert rows[0]["open_by_severity"] == {"critical": 0, "high": 1, "medium": 0, "low": 0, "info": 0}
    table = entra_monitor("snapshot", "list", "--directory", str(tmp_path / "snapshots"), cwd=tmp_path)
    assert table.returncode == 0
    assert first.id in table.stdout
    assert "NO" in table.stdout
