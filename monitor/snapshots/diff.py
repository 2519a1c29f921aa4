"""Comparing two snapshots: the findings that are new in the later one, those resolved since the
earlier one, and those whose severity, message, evidence or waiver changed."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from monitor.snapshots.manifest import SNAPSHOT

COMPARED_FIELDS = ("severity", "message", "evidence", "waived")
SEVERITY_RANK = {"critical": 0, "high": 1, "medium": 2, "low": 3, "info": 4}


@dataclass(frozen=True)
class SnapshotDiff:
    """What changed from snapshot ``before`` to snapshot ``after`` (ids), each list ordered by
    severity (most severe first), then check, rule and fingerprint."""

    before: str
    after: str
    new: list[dict[str, Any]]
    resolved: list[dict[str, Any]]
    changed: list[dict[str, Any]]
    """Each: fingerprint, check, rule, severity (the later one), resource, and ``fields``: for every
    field that differs, ``{"from": …, "to": …}``."""

    def as_json(self) -> dict[str, Any]:
        return {
            "from": self.before,
            "to": self.after,
            "new": self.new,
            "resolved": self.resolved,
            "changed": self.changed,
        }


def load_document(path: Path) -> dict[str, Any]:
    """The ``snapshot.json`` of a snapshot directory, or that file itself. ValueError naming the
    path when it is neither or is not a snapshot."""
    file = path / SNAPSHOT if path.is_dir() else path
    try:
        loaded = json.loads(file.read_text(encoding="utf-8"))
    except OSError as error:
        raise ValueError(f"cannot read {file} ({error.strerror}); accepted: a snapshot directory") from None
    except ValueError:
        raise ValueError(f"{file} is not valid JSON; accepted: a snapshot's {SNAPSHOT}") from None
    if not isinstance(loaded, dict) or not isinstance(loaded.get("checks"), list) or "id" not in loaded:
        raise ValueError(f"{file} is not a snapshot document (no id or checks)")
    return loaded


def diff_documents(before: Mapping[str, Any], after: Mapping[str, Any]) -> SnapshotDiff:
    """The findings new, resolved and changed between ``before`` and ``after``."""
    old = _findings(before)
    new = _findings(after)
    added = [_summary(new[fp]) for fp in new.keys() - old.keys()]
    resolved = [_summary(old[fp]) for fp in old.keys() - new.keys()]
    changed = []
    for fingerprint in old.keys() & new.keys():
        fields = {
            name: {"from": old[fingerprint][name], "to": new[fingerprint][name]}
            for name in COMPARED_FIELDS
            if old[fingerprint][name] != new[fingerprint][name]
        }
        if fields:
            changed.append({**_summary(new[fingerprint]), "fields": fields})
    return SnapshotDiff(
        str(before["id"]), str(after["id"]), _ordered(added), _ordered(resolved), _ordered(changed)
    )


def _findings(document: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        finding["fingerprint"]: {
            **finding,
            "check": check["id"],
            "waived": finding.get("waiver") is not None,
        }
        for check in document["checks"]
        for finding in check.get("findings", [])
    }


def _summary(finding: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "fingerprint": finding["fingerprint"],
        "check": finding["check"],
        "rule": finding["rule"],
        "severity": finding["severity"],
        "resource": finding["resource"],
        "message": finding["message"],
    }


def _ordered(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(
        entries,
        key=lambda e: (SEVERITY_RANK.get(e["severity"], 9), e["check"], e["rule"], e["fingerprint"]),
    )
