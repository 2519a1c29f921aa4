"""checkov (offline) on the Dockerfile, the rendered Kubernetes manifests and the Bicep template:
nothing fails, and every skipped policy is one of a known set, each with its reason written next to
the resource (a `checkov:skip=ID:reason` comment in Bicep, a checkov.io/skip annotation in
Kubernetes)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from tests.deploy.conftest import AZURE, CHECKOV, ROOT

# The policies skipped on purpose, with where the justification is written.
BICEP_SKIPS = {
    # main.bicep, param teamsWebhookUrl: its default is "", meaning no Teams receiver.
    ("CKV_AZURE_131", "string.teamsWebhookUrl"),
    # main.bicep, both storage accounts: public endpoints (Container Apps Consumption without a
    # VNet) and a parameter name checkov cannot evaluate.
    ("CKV_AZURE_35", "Microsoft.Storage/storageAccounts.storage"),
    ("CKV_AZURE_59", "Microsoft.Storage/storageAccounts.storage"),
    ("CKV_AZURE_43", "Microsoft.Storage/storageAccounts.storage"),
    ("CKV_AZURE_35", "Microsoft.Storage/storageAccounts.stateStorageAccount"),
    ("CKV_AZURE_59", "Microsoft.Storage/storageAccounts.stateStorageAccount"),
    ("CKV_AZURE_43", "Microsoft.Storage/storageAccounts.stateStorageAccount"),
}
# deploy/kubernetes/base/deployment.yaml: the image's digest exists only once the deployer built it.
KUBERNETES_SKIPS = {("CKV_K8S_43", "Deployment.entra-monitor.entra-monitor")}


def checkov(environment: dict[str, str], *args: str) -> dict[str, Any]:
    result = subprocess.run(
        [str(CHECKOV), *args, "--skip-download", "--compact", "--output", "json"],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
        env=environment,
        check=False,
    )
    assert result.returncode in (0, 1), result.stderr
    report: dict[str, Any] = json.loads(result.stdout)
    return report


def outcome(report: dict[str, Any]) -> tuple[list[str], set[tuple[str, str]], int]:
    """(failed checks, skipped (check, resource), passed count); every skip must carry a reason."""
    results = report["results"]
    failed = [f"{c['check_id']} {c['resource']} {c['file_path']}" for c in results.get("failed_checks", [])]
    skipped = results.get("skipped_checks", [])
    reasons = {c["check_id"]: c["check_result"].get("suppress_comment", "") for c in skipped}
    assert all(len(reason) > 20 for reason in reasons.values()), reasons
    return failed, {(c["check_id"], c["resource"]) for c in skipped}, len(results.get("passed_checks", []))


def test_the_dockerfile_passes_every_policy(checkov_environment: dict[str, str]) -> None:
    report = checkov(checkov_environment, "--file", "Dockerfile", "--framework", "dockerfile")

    failed, skipped, passed = outcome(report)
    assert (failed, skipped) == ([], set())
    assert passed >= 40


def test_the_rendered_kubernetes_manifests_pass_or_skip_with_a_reason(
    checkov_environment: dict[str, str], rendered: Path
) -> None:
    report = checkov(checkov_environment, "--directory", str(rendered.parent), "--framework", "kubernetes")

    failed, skipped, passed = outcome(report)
    assert (failed, skipped) == ([], KUBERNETES_SKIPS)
    assert passed >= 80


def test_the_bicep_template_passes_or_skips_with_a_reason(checkov_environment: dict[str, str]) -> None:
    template = (AZURE / "main.bicep").relative_to(ROOT)
    report = checkov(checkov_environment, "--file", str(template), "--framework", "bicep")

    failed, skipped, passed = outcome(report)
    assert (failed, skipped) == ([], BICEP_SKIPS)
    assert passed >= 8
