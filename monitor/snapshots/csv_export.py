"""``findings.csv``: one row per finding of ``snapshot.json``, for spreadsheets."""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping
from typing import Any

CSV_HEADER = (
    "tenant",
    "check",
    "rule",
    "severity",
    "status",
    "fingerprint",
    "resource_type",
    "resource_id",
    "resource_name",
    "first_seen",
    "last_seen",
    "change",
    "waived",
    "message",
    "remediation",
    "references",
)
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
"""A cell starting with one of these is a formula to a spreadsheet; it gets a leading quote."""


def findings_csv(document: Mapping[str, Any]) -> str:
    """The CSV text (RFC 4180 quoting, CRLF line ends) of every finding in ``document``, in the
    document's order (checks by id, then most severe first)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(CSV_HEADER)
    tenant = document["tenant"]["name"]
    for check in document["checks"]:
        for finding in check["findings"]:
            resource = finding["resource"]
            row = (
                tenant,
                check["id"],
                finding["rule"],
                finding["severity"],
                "open",
                finding["fingerprint"],
                resource["type"],
                resource["id"],
                resource["display_name"],
                finding["first_seen"],
                finding["last_seen"],
                finding["change"],
                "yes" if finding["waiver"] is not None else "no",
                finding["message"],
                finding["remediation"],
                " | ".join(finding["references"]),
            )
            writer.writerow([_inert(str(value)) for value in row])
    return out.getvalue()


def _inert(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_STARTS) else value
