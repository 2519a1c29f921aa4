"""deploy/azure on paper (nothing here compiles Bicep or reaches Azure): main.bicep uses the API
versions and role ids of the shared deployment notes, keeps one replica without ingress, refers to
files that exist, and the settings file it mounts is valid for the monitor once filled in; the
parameters example matches the parameters."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from monitor.plugins import discover_checks
from monitor.settings.loading import load_settings
from monitor.telemetry.settings import CONNECTION_STRING_VARIABLE
from tests.deploy.conftest import AZURE

TEMPLATE = AZURE / "main.bicep"

# API versions, copied from the shared notes azure-deploy-facts.md (§1-§5; every one GA except the
# diagnostic settings version §2 names). Child resources declared inside their parent carry the
# parent's provider, so they are listed by their full type.
API_VERSIONS = {
    "Microsoft.ManagedIdentity/userAssignedIdentities": "2024-11-30",
    "Microsoft.OperationalInsights/workspaces": "2025-02-01",
    "Microsoft.Insights/components": "2020-02-02",
    "Microsoft.Authorization/roleAssignments": "2022-04-01",
    "Microsoft.App/managedEnvironments": "2025-07-01",
    "Microsoft.App/managedEnvironments/storages": "2025-07-01",
    "Microsoft.App/containerApps": "2025-07-01",
    "Microsoft.Insights/diagnosticSettings": "2021-05-01-preview",
    "Microsoft.Storage/storageAccounts": "2025-06-01",
    "Microsoft.Storage/storageAccounts/blobServices": "2025-06-01",
    "Microsoft.Storage/storageAccounts/blobServices/containers": "2025-06-01",
    "Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies": "2025-06-01",
    "Microsoft.Storage/storageAccounts/fileServices": "2025-06-01",
    "Microsoft.Storage/storageAccounts/fileServices/shares": "2025-06-01",
    "Microsoft.Insights/actionGroups": "2023-01-01",
    "Microsoft.Insights/scheduledQueryRules": "2023-12-01",
    "Microsoft.Insights/workbooks": "2023-06-01",
}
# Referenced only (`existing`), never created: their versions are not in the notes.
EXISTING = {"Microsoft.KeyVault/vaults": "2023-07-01", "Microsoft.ContainerRegistry/registries": "2023-07-01"}

# Built-in role ids, copied from azure-deploy-facts.md §1 (Monitoring Metrics Publisher; "Other role
# GUIDs (AVM)" for the rest).
ROLE_IDS = {
    "monitoringMetricsPublisher": "3913510d-42f4-4e42-8a64-420c390055eb",
    "storageBlobDataContributor": "ba92f5b4-2d11-453d-a403-e96b0029c9fe",
    "keyVaultSecretsUser": "4633458b-17de-408a-b874-0445c86b69e6",
    "acrPull": "7f951dda-4ed3-4680-a7ca-43fe172d538d",
}

DECLARATION = re.compile(r"^(\s*)resource (\w+) '([^'@]+)@([^']+)'( existing)?", re.MULTILINE)
GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")


def template() -> str:
    return TEMPLATE.read_text()


def declarations() -> list[tuple[str, str, str, bool]]:
    """(symbol, full type, API version, existing) of every resource, children resolved by nesting."""
    found: list[tuple[str, str, str, bool]] = []
    parents: list[tuple[int, str]] = []
    for indent, symbol, kind, version, existing in DECLARATION.findall(template()):
        depth = len(indent)
        parents = [(d, t) for d, t in parents if d < depth]
        full = kind if "/" in kind and "." in kind.split("/")[0] else f"{parents[-1][1]}/{kind}"
        parents.append((depth, full))
        found.append((symbol, full, version, bool(existing)))
    return found


def test_every_resource_uses_the_api_version_of_the_notes() -> None:
    found = declarations()
    created = {(kind, version) for _, kind, version, existing in found if not existing}
    referenced = {(kind, version) for _, kind, version, existing in found if existing}

    assert created == set(API_VERSIONS.items())
    assert referenced == set(EXISTING.items())


def test_role_assignments_use_the_role_ids_of_the_notes_for_the_identity() -> None:
    text = template()
    block = text[text.index("var roles = {") : text.index("}", text.index("var roles = {")) + 1]
    declared = dict(re.findall(r"(\w+): '([0-9a-f-]{36})'", block))

    assert declared == ROLE_IDS
    assert set(GUID.findall(text)) == set(ROLE_IDS.values())  # no role id outside the table
    assignments = [kind for _, kind, _, _ in declarations()].count("Microsoft.Authorization/roleAssignments")
    assert assignments == 4
    assert text.count("principalId: identity.properties.principalId") == assignments
    assert text.count("principalType: 'ServicePrincipal'") == assignments
    for role in ROLE_IDS:
        assert f"roleDefinitions', roles.{role})" in text, role


def test_one_replica_without_ingress_probed_on_the_health_port() -> None:
    text = template()

    assert "scale: { minReplicas: 1, maxReplicas: 1 }" in text
    assert not re.search(r"^\s*ingress:", text, re.MULTILINE)
    assert "activeRevisionsMode: 'Single'" in text
    probes = re.findall(r"\{ type: '(\w+)', httpGet: \{ path: '([^']+)', port: (\d+) \}", text)
    assert probes == [
        ("Startup", "/healthz", "8080"),
        ("Liveness", "/healthz", "8080"),
        ("Readiness", "/readyz", "8080"),
    ]
    # Container Apps accepts only the pairs 0.25 vCPU / 0.5Gi … 2 / 4Gi (memory = 2 × vCPU).
    assert "resources: { cpu: json('0.5'), memory: '1Gi' }" in text


def test_the_traps_of_the_notes_are_avoided() -> None:
    text = template()

    # The immutability policy's name must be 'default'; the workbook's name a deterministic GUID.
    policy = text[text.index("resource retention 'immutabilityPolicies") :]
    assert policy.split("\n")[1].strip() == "name: 'default'"
    workbook = text[text.index("resource workbook ") :]
    assert workbook.split("\n")[1].strip().startswith("name: guid(resourceGroup().id, ")
    assert "kind: 'shared'" in workbook
    # Container Apps logs through diagnostic settings, so the workspace can refuse shared keys.
    assert "destination: 'azure-monitor'" in text
    assert "features: { disableLocalAuth: true }" in text
    assert "DisableLocalAuth: true" in text
    assert "kind: 'web'" in text
    assert "Application_Type:" in text
    # The Key Vault reference needs its role first; the snapshot account takes no shared key.
    app = text[text.index("resource app ") :]
    assert "dependsOn: [\n    signingKeyReader" in app
    snapshots = text[text.index("resource storage ") : text.index("resource stateStorageAccount ")]
    assert "allowSharedKeyAccess: false" in snapshots
    assert "minimumTlsVersion: 'TLS1_2'" in snapshots
    code = re.sub(r"//.*", "", re.sub(r"'(?:[^'\\]|\\.)*'", "''", text))
    assert ";" not in code  # Bicep has no statement separator


def test_the_app_passes_only_variables_the_monitor_reads() -> None:
    app = template()[template().index("resource app ") :]
    env = app[app.index("env: [") : app.index("]", app.index("env: ["))]

    assert re.findall(r"name: '(\w+)'", env) == [CONNECTION_STRING_VARIABLE]
    assert "value: appInsights.properties.ConnectionString" in env


def test_every_file_the_template_loads_exists() -> None:
    loaded = set(re.findall(r"loadTextContent\('([^']+)'\)", template()))

    assert loaded == {
        "monitor.toml",
        "workbook.json",
        "alerts/critical-finding.kql",
        "alerts/check-failing.kql",
        "alerts/worker-silent.kql",
    }
    assert all((AZURE / name).is_file() for name in loaded)


def test_the_workbook_is_a_notebook_over_the_application_insights_resource() -> None:
    workbook = json.loads((AZURE / "workbook.json").read_text())

    assert workbook["version"] == "Notebook/1.0"
    assert workbook["fallbackResourceIds"] == ["{{appInsightsId}}"]
    assert "replace(loadTextContent('workbook.json'), '{{appInsightsId}}', appInsights.id)" in template()
    queries = [item["content"] for item in workbook["items"] if item["type"] == 3]
    assert {item["type"] for item in workbook["items"]} == {1, 3}
    assert {q["resourceType"] for q in queries} == {"microsoft.insights/components"}
    assert {tuple(q["crossComponentResources"]) for q in queries} == {("{{appInsightsId}}",)}
    assert len({item["name"] for item in workbook["items"]}) == len(workbook["items"])


def test_the_parameters_example_sets_every_required_parameter_and_no_other() -> None:
    declared = dict(re.findall(r"^param (\w+) (?:string|int)(.*)$", template(), re.MULTILINE))
    required = {name for name, rest in declared.items() if "=" not in rest}
    example = json.loads((AZURE / "main.parameters.example.json").read_text())["parameters"]

    assert required <= set(example)
    assert set(example) <= set(declared)
    assert required == {
        "image",
        "tenantName",
        "keyVaultName",
        "storageAccountName",
        "stateStorageAccountName",
        "alertEmail",
    }


@pytest.fixture
def filled_settings(tmp_path: Path) -> Path:
    """monitor.toml as main.bicep fills it in, with the signing key where the volume puts it."""
    key = tmp_path / "snapshot-signing-key.pem"
    key.write_bytes(
        Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    values = {
        "tenantName": "contoso",
        "tenantId": "9f6a2c1e-3b4d-4e5f-8a7b-1c2d3e4f5a6b",
        "identityClientId": "5b9f3c2e-8d41-4a7e-9f1c-2e6d8a4b7c90",
        "blobAccountUrl": "https://stcontosoentramon.blob.core.windows.net/",
        "snapshotContainer": "compliance-snapshots",
    }
    text = (AZURE / "monitor.toml").read_text()
    assert set(re.findall(r"\{\{(\w+)\}\}", text)) == set(values)
    replaced = set(re.findall(r"'\{\{(\w+)\}\}'", template())) - {"appInsightsId"}
    assert replaced == set(values)
    for name, value in values.items():
        text = text.replace("{{" + name + "}}", value)
    path = tmp_path / "monitor.toml"
    path.write_text(text.replace("/etc/entra-monitor/config/snapshot-signing-key.pem", str(key)))
    return path


def test_the_settings_the_app_mounts_are_valid(filled_settings: Path) -> None:
    environment = {
        "APPLICATIONINSIGHTS_CONNECTION_STRING": "InstrumentationKey=4c1f7b2e-0d3a-4e6b-9c8d-2a1b3c4d5e6f;"
        "IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/"
    }

    settings = load_settings(
        filled_settings, environ=environment, env_file=None, checks=list(discover_checks().checks.values())
    )

    (tenant,) = settings.tenants
    assert (tenant.name, tenant.credential.kind) == ("contoso", "managed_identity")
    assert settings.telemetry.azure_monitor.entra_authentication is True
    assert [sink.kind for sink in settings.alerts.sinks] == ["azure_monitor"]
    assert settings.snapshots.blob.enabled is True
    assert settings.snapshots.blob.credential == "managed_identity"
    assert settings.health.host == "0.0.0.0"  # noqa: S104 (the platform's probes come from outside)
