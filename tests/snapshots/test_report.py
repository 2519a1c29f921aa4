"""The auditor's page rendered from hand-made snapshot documents that follow the agreed format
(docs/snapshots.md): several checks (one failed, one timed out, one not run, one partly applied),
every severity, a waiver, a resolved finding, and hostile strings where the directory or a person
writes text. What the page shows in a browser is tested in ``test_report_browser.py``."""

from __future__ import annotations

import copy
from html.parser import HTMLParser
from typing import Any

import pytest

from monitor.check import fingerprint
from monitor.snapshots.report import _kind, render_report

TENANT = "contoso"
TENANT_ID = "6f1c2a4e-0000-4000-8000-00000000c0de"
PREVIOUS_ID = "20261120T230000Z-contoso"
CURRENT_ID = "20261127T230000Z-contoso"
SEVERITY_ORDER = ("critical", "high", "medium", "low", "info")

SCRIPT_NAME = "<script>alert('owned')</script>"
IMAGE_NAME = '"><img src="https://attacker.example/pixel.png" onerror="alert(1)">'
STYLE_ESCAPE = "</style><style>body{display:none}</style>"
LINK_MESSAGE = 'Click <a href="https://evil.example/login">here</a> to renew'
RTL_NAME = "invoice\u202egpj.exe"
HOSTILE = (SCRIPT_NAME, IMAGE_NAME, STYLE_ESCAPE, LINK_MESSAGE, "<b>Mallory</b> & co")
"""Strings a directory object or a waiver can carry; each must reach the reader as text."""

CREDENTIALS_REF = "seed: Security Best Practices › Credential Management (rotate certificates annually)"
PRODUCTION_REF = "seed: Security Best Practices › Credential Management (certificates in production)"
TOKENS_REF = "seed: Token Configuration › Token Lifetimes"
CONSENT_REF = "seed: Admin Consent › Required Permissions"


def finding(
    check: str,
    rule: str,
    severity: str,
    resource: tuple[str, str, str],
    *,
    message: str,
    references: tuple[str, ...],
    change: str = "open",
    first_seen: str = "2026-11-20T23:00:00Z",
    last_seen: str = "2026-11-27T23:00:00Z",
    evidence: dict[str, Any] | None = None,
    waiver: int | None = None,
) -> dict[str, Any]:
    kind, identifier, name = resource
    return {
        "fingerprint": fingerprint(TENANT, check, rule, kind, identifier),
        "rule": rule,
        "severity": severity,
        "resource": {"type": kind, "id": identifier, "display_name": name},
        "message": message,
        "remediation": f"Fix {rule} on {name}.",
        "evidence": evidence if evidence is not None else {"observed": rule},
        "references": list(references),
        "first_seen": first_seen,
        "last_seen": last_seen,
        "change": change,
        "waiver": waiver,
    }


def check(
    identifier: str,
    status: str,
    findings: list[dict[str, Any]],
    *,
    coverage: dict[str, int],
    note: str | None = None,
    rules_not_evaluated: tuple[str, ...] = (),
    duration: float | None = 1.25,
) -> dict[str, Any]:
    ran = status != "not_run"
    order = {severity: index for index, severity in enumerate(SEVERITY_ORDER)}
    return {
        "id": identifier,
        "status": status,
        "run_id": f"run-{identifier}" if ran else None,
        "started_at": "2026-11-27T22:58:00Z" if ran else None,
        "finished_at": "2026-11-27T22:59:00Z" if ran else None,
        "duration_seconds": duration if ran else None,
        "note": note,
        "rules_not_evaluated": list(rules_not_evaluated),
        "permissions": ["Application.Read.All"],
        "coverage": coverage,
        "findings": sorted(findings, key=lambda f: (order[f["severity"]], f["fingerprint"])),
    }


def summarise(document: dict[str, Any], previous: dict[str, Any] | None, new: int) -> None:
    """Fill in ``summary`` the way the format defines it: waived findings are not counted, a finding
    counts once under each reference."""
    by_severity = dict.fromkeys(SEVERITY_ORDER, 0)
    by_reference: dict[str, int] = {}
    for entry in document["checks"]:
        for item in entry["findings"]:
            if item["waiver"] is None:
                by_severity[item["severity"]] += 1
                for reference in item["references"]:
                    by_reference[reference] = by_reference.get(reference, 0) + 1
    document["summary"] = {
        "open_by_severity": by_severity,
        "open_by_reference": by_reference,
        "since_previous": {
            "new": new,
            "open": sum(by_severity.values()),
            "resolved": len(document["resolved_since_previous"]),
        },
        "previous": None
        if previous is None
        else {
            "id": previous["id"],
            "created_at": previous["created_at"],
            "open_by_severity": previous["summary"]["open_by_severity"],
        },
    }


def base_document(identifier: str, created_at: str) -> dict[str, Any]:
    return {
        "schema_version": 1,
        "id": identifier,
        "created_at": created_at,
        "tenant": {"name": TENANT, "tenant_id": TENANT_ID},
        "monitor": {"version": "0.1.0"},
        "configuration": {"sha256": "ab" * 32, "secrets_excluded": True},
        "baseline": {"source": "built-in", "sha256": "cd" * 32, "values": {"tokens": {"session_hours": 8}}},
        "sweep": {"started_at": created_at.replace("23:00:00", "22:58:00"), "finished_at": created_at},
        "waivers": [],
        "resolved_since_previous": [],
    }


APP_EXPIRED = ("application", "0a000000-0000-4000-8000-000000000001", SCRIPT_NAME)
APP_EXPIRING = ("application", "0a000000-0000-4000-8000-000000000002", IMAGE_NAME)
APP_TWO_YEAR = ("application", "0a000000-0000-4000-8000-000000000003", "Payroll Export")
APP_OLD = ("application", "0a000000-0000-4000-8000-000000000004", RTL_NAME)
POLICY_LONG = ("tokenLifetimePolicy", "0b000000-0000-4000-8000-000000000001", "Eight hour tokens")
POLICY_CHANGED = ("tokenLifetimePolicy", "0b000000-0000-4000-8000-000000000002", "Default policy")
SPS = 31
GRANT = ("servicePrincipal", "0c000000-0000-4000-8000-000000000001", "Calendar/Teams App")


def previous_document() -> dict[str, Any]:
    """A week earlier: four open findings, one of which (APP_OLD) is resolved by the current one."""
    document = base_document(PREVIOUS_ID, "2026-11-20T23:00:00Z")
    credentials = [
        finding(
            "credential-expiry",
            "expired-secret",
            "critical",
            APP_EXPIRED,
            message="A client secret expired 3 days ago.",
            references=(CREDENTIALS_REF,),
        ),
        finding(
            "credential-expiry",
            "two-year-secret",
            "medium",
            APP_TWO_YEAR,
            message="A client secret is valid for 730 days.",
            references=(CREDENTIALS_REF,),
        ),
        finding(
            "credential-expiry",
            "expiring-soon",
            "high",
            APP_OLD,
            message="A certificate expires in 5 days.",
            references=(CREDENTIALS_REF,),
        ),
    ]
    tokens = [
        finding(
            "token-lifetime-drift",
            "access-token-too-long",
            "high",
            POLICY_LONG,
            message="Access tokens live 8 hours.",
            references=(TOKENS_REF,),
        ),
    ]
    document["checks"] = [
        check("credential-expiry", "succeeded", credentials, coverage={"applications": 24}),
        check("token-lifetime-drift", "succeeded", tokens, coverage={"policies/tokenLifetimePolicies": 3}),
    ]
    summarise(document, None, new=4)
    return document


def current_document(previous: dict[str, Any]) -> dict[str, Any]:
    """Every severity open, one finding waived, APP_OLD resolved, four checks that did not fully run."""
    document = base_document(CURRENT_ID, "2026-11-27T23:00:00Z")
    credentials = [
        finding(
            "credential-expiry",
            "expired-secret",
            "critical",
            APP_EXPIRED,
            message="A client secret expired 10 days ago.",
            references=(CREDENTIALS_REF, PRODUCTION_REF),
            evidence={"keyId": "k-1", "endDateTime": "2026-11-17T00:00:00Z", "<i>note</i>": SCRIPT_NAME},
        ),
        finding(
            "credential-expiry",
            "expiring-soon",
            "high",
            APP_EXPIRING,
            change="new",
            first_seen="2026-11-27T23:00:00Z",
            message=LINK_MESSAGE,
            references=(CREDENTIALS_REF,),
            evidence={"credentials": [{"keyId": "k-2", "daysLeft": 6}], "production": True},
        ),
        finding(
            "credential-expiry",
            "two-year-secret",
            "medium",
            APP_TWO_YEAR,
            waiver=0,
            message="A client secret is valid for 730 days.",
            references=(CREDENTIALS_REF,),
        ),
        finding(
            "credential-expiry",
            "secret-in-production",
            "medium",
            APP_EXPIRING,
            change="new",
            first_seen="2026-11-27T23:00:00Z",
            message="A production application signs in with a secret.",
            references=(PRODUCTION_REF,),
        ),
    ]
    tokens = [
        finding(
            "token-lifetime-drift",
            "access-token-too-long",
            "low",
            POLICY_LONG,
            change="severity_changed",
            message="Access tokens live 2 hours.",
            references=(TOKENS_REF,),
        ),
        finding(
            "token-lifetime-drift",
            "policy-changed",
            "info",
            POLICY_CHANGED,
            change="new",
            first_seen="2026-11-27T23:00:00Z",
            message="The default token policy changed.",
            references=(),
        ),
    ]
    document["checks"] = [
        check(
            "access-review-due",
            "succeeded",
            [],
            coverage={
                "identityGovernance/accessReviews/definitions": 6,
                "roleManagement/directory/roleDefinitions": 4,
                "groups": 1,
            },
        ),
        check(
            "conditional-access-baseline",
            "failed",
            [],
            coverage={},
            note="Graph answered 403: grant Policy.Read.All to the monitor's application",
        ),
        check(
            "consent-grants",
            "succeeded",
            [],
            coverage={"servicePrincipals/{id}/oauth2PermissionGrants": 41, "servicePrincipals": SPS},
            rules_not_evaluated=("unused-grant",),
            note="the sign-in activity report needs Entra ID P1; unused grants were not evaluated",
        ),
        check(
            "credential-expiry",
            "succeeded",
            credentials,
            coverage={"applications": 24, "servicePrincipals": SPS},
            duration=75.4,
        ),
        check("graph-access", "not_run", [], coverage={}, note="disabled in the settings"),
        check(
            "risky-sign-ins",
            "timed_out",
            [],
            coverage={"auditLogs/signIns": 1200},
            note="did not finish within 300 s",
        ),
        check("token-lifetime-drift", "succeeded", tokens, coverage={"policies/tokenLifetimePolicies": 3}),
    ]
    (waived,) = [item for item in credentials if item["waiver"] == 0]
    document["waivers"] = [
        {
            "fingerprint": None,
            "check": "credential-expiry",
            "rule": "two-year-secret",
            "resource_id": APP_TWO_YEAR[1],
            "justification": f"Vendor cannot rotate before the contract renewal {STYLE_ESCAPE}",
            "approver": "<b>Mallory</b> & co",
            "expires": "2026-12-31",
            "matched": [waived["fingerprint"]],
        }
    ]
    (old,) = [item for item in previous["checks"][0]["findings"] if item["resource"]["id"] == APP_OLD[1]]
    document["resolved_since_previous"] = [
        {
            "fingerprint": old["fingerprint"],
            "check": "credential-expiry",
            "rule": old["rule"],
            "severity": old["severity"],
            "resource": old["resource"],
        }
    ]
    summarise(document, previous, new=3)
    return document


@pytest.fixture
def documents() -> tuple[dict[str, Any], dict[str, Any]]:
    """(current, previous)"""
    previous = previous_document()
    return current_document(previous), previous


def test_the_fixture_documents_count_as_the_format_says(
    documents: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    current, previous = documents
    assert previous["summary"]["open_by_severity"] == {
        "critical": 1,
        "high": 2,
        "medium": 1,
        "low": 0,
        "info": 0,
    }
    assert current["summary"]["open_by_severity"] == {
        "critical": 1,
        "high": 1,
        "medium": 1,
        "low": 1,
        "info": 1,
    }
    assert current["summary"]["open_by_reference"] == {CREDENTIALS_REF: 2, PRODUCTION_REF: 2, TOKENS_REF: 1}
    assert current["summary"]["since_previous"] == {"new": 3, "open": 5, "resolved": 1}


class _Elements(HTMLParser):
    """Every start tag with its attributes, the text inside <style>, and all the text."""

    def __init__(self) -> None:
        super().__init__()
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.style = ""
        self.text = ""
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        self.text += data
        if self._in_style:
            self.style += data


def parse(page: str) -> _Elements:
    elements = _Elements()
    elements.feed(page)
    elements.close()
    return elements


def test_the_page_loads_nothing_and_runs_nothing(documents: tuple[dict[str, Any], dict[str, Any]]) -> None:
    current, previous = documents
    elements = parse(render_report(current, previous))
    names = [tag for tag, _attributes in elements.tags]
    assert {"script", "img", "iframe", "object", "embed", "video", "audio", "form"}.isdisjoint(names)
    assert names.count("style") == 1
    addresses = {
        (tag, name, value)
        for tag, attributes in elements.tags
        for name, value in attributes.items()
        if name in {"href", "src", "action", "srcset", "poster"}
    }
    assert {value for tag, name, value in addresses if not (value or "").startswith("#")} == {"data:,"}
    assert "url(" not in elements.style
    assert "@import" not in elements.style
    assert not any(name.startswith("on") for _tag, attributes in elements.tags for name in attributes)
    (policy,) = [a["content"] for t, a in elements.tags if t == "meta" and a.get("http-equiv")]
    assert policy == "default-src 'none'; style-src 'unsafe-inline'; img-src data:"


def test_hostile_strings_are_escaped_text(documents: tuple[dict[str, Any], dict[str, Any]]) -> None:
    current, previous = documents
    page = render_report(current, previous)
    text = parse(page).text
    for hostile in HOSTILE:
        assert hostile not in page
        assert hostile in text
    # A right-to-left override would show "invoiceexe.jpg": the page shows the character instead.
    assert RTL_NAME not in page
    assert '<bdi class="name">invoice⟨U+202E⟩gpj.exe</bdi>' in page


def test_every_check_finding_waiver_and_resolved_finding_is_on_the_page(
    documents: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    current, previous = documents
    page = render_report(current, previous)
    text = parse(page).text
    for entry in current["checks"]:
        assert f'<code class="check-id">{entry["id"]}</code>' in page
        for item in entry["findings"]:
            assert item["fingerprint"] in page
            assert item["message"] in text
    assert current["resolved_since_previous"][0]["fingerprint"] not in page  # shown by resource, not id
    assert "A certificate expires in 5 days." in page  # what the resolved finding said then
    assert "entra-monitor snapshot verify" in page
    assert "manifest.json" in page


def test_the_first_snapshot_has_nothing_to_compare_with(
    documents: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    _current, previous = documents
    page = render_report(previous, None)
    assert "this is the first snapshot of this tenant" in page
    assert "nothing can have been resolved since a previous one" in page
    # Nothing to compare with: no columns or figures of dashes.
    assert '<th scope="col" class="number">Previous snapshot</th>' not in page
    assert 'id="figure-new"' not in page
    assert 'id="figure-resolved"' not in page


def test_a_previous_document_that_is_not_the_named_previous_is_refused(
    documents: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    current, previous = documents
    other = copy.deepcopy(previous)
    other["id"] = "20261113T230000Z-contoso"
    with pytest.raises(ValueError, match=r"previous snapshot '20261113T230000Z-contoso' is not the one"):
        render_report(current, other)


def test_a_document_of_another_schema_or_missing_a_field_is_refused_by_name(
    documents: tuple[dict[str, Any], dict[str, Any]],
) -> None:
    current, previous = documents
    with pytest.raises(ValueError, match=r"schema_version 2; the report renders schema_version 1"):
        render_report({**current, "schema_version": 2}, previous)
    broken = copy.deepcopy(current)
    del broken["summary"]["open_by_severity"]
    with pytest.raises(ValueError, match=r"'20261127T230000Z-contoso' does not follow .*open_by_severity"):
        render_report(broken, previous)


def test_a_tenant_whose_checks_never_finished_says_so() -> None:
    document = base_document("20261120T230000Z-fabrikam", "2026-11-20T23:00:00Z")
    document["sweep"] = {"started_at": None, "finished_at": None}
    document["checks"] = [
        check("risky-sign-ins", "unavailable", [], coverage={}, note="the tenant has no Entra ID P2 licence")
    ]
    summarise(document, None, new=0)
    text = parse(render_report(document, None)).text
    assert "no check has finished a run yet" in text
    assert "Unavailable: the tenant has no Entra ID P2 licence" in text
    assert "0 of 1 checks did not complete" not in text
    assert "1 of 1 checks did not complete" in text


@pytest.mark.parametrize(
    ("resource_type", "words"),
    [
        ("servicePrincipal", "service principal"),
        ("accessReviewScheduleDefinition", "access review schedule definition"),
        ("oAuth2PermissionGrant", "delegated permission grant"),
        ("signIn", "sign in"),
    ],
)
def test_resource_types_read_as_words(resource_type: str, words: str) -> None:
    assert _kind(resource_type) == words
