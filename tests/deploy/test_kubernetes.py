"""deploy/kubernetes: the base and the example overlay render with `kubectl kustomize`, validate
strictly against the Kubernetes schemas, and say what the deployment relies on; the container's
command, given what the Azure Workload Identity webhook injects, runs the worker against the
emulated tenant with its federated credential."""

from __future__ import annotations

import signal
import socket
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from monitor.plugins import discover_checks
from monitor.settings.loading import load_settings
from tests.deploy.conftest import BIN, KUSTOMIZATIONS, documents, render, tool
from tests.support.emulator import RunningEmulator

VERSIONS = ("1.30", "1.37")


def deployment(kustomization: str) -> dict[str, Any]:
    return documents(render(KUSTOMIZATIONS[kustomization]))[("Deployment", "entra-monitor")]


def container(kustomization: str) -> dict[str, Any]:
    (found,) = deployment(kustomization)["spec"]["template"]["spec"]["containers"]
    result: dict[str, Any] = found
    return result


def settings_file(kustomization: str) -> str:
    rendered = documents(render(KUSTOMIZATIONS[kustomization]))
    (config_map,) = [doc for (kind, _), doc in rendered.items() if kind == "ConfigMap"]
    text: str = config_map["data"]["monitor.toml"]
    return text


def test_the_manifests_validate_strictly_against_the_kubernetes_schemas(rendered: Path) -> None:
    args = [arg for version in VERSIONS for arg in ("-k", version)]
    result = subprocess.run(
        [tool("kubernetes-validate"), "--strict", *args, str(rendered)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    passed = {line.split(" for resource ")[1].split(" against ")[0] for line in result.stdout.splitlines()}
    assert "WARN" not in result.stdout + result.stderr  # no kind without a schema slipped through
    kinds = {name.split("/")[0] for name in passed}
    assert kinds == {
        "namespace",
        "serviceaccount",
        "configmap",
        "persistentvolumeclaim",
        "deployment",
        "networkpolicy",
    }
    assert result.stdout.count(" passed ") == len(passed) * len(VERSIONS)


def test_strict_validation_would_catch_a_misspelt_field(tmp_path: Path) -> None:
    text = render(KUSTOMIZATIONS["base"]).replace("readOnlyRootFilesystem:", "readOnlyRootFileSystem:")
    broken = tmp_path / "broken.yaml"
    broken.write_text(text)

    result = subprocess.run(
        [tool("kubernetes-validate"), "--strict", "-k", "1.37", str(broken)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 1
    assert "'readOnlyRootFileSystem' was unexpected" in result.stdout + result.stderr


@pytest.mark.parametrize("kustomization", sorted(KUSTOMIZATIONS))
def test_one_replica_recreated_never_two_at_once(kustomization: str) -> None:
    spec = deployment(kustomization)["spec"]

    assert spec["replicas"] == 1
    assert spec["strategy"] == {"type": "Recreate"}
    labels = spec["template"]["metadata"]["labels"]
    assert labels["azure.workload.identity/use"] == "true"
    assert spec["selector"]["matchLabels"].items() <= labels.items()


@pytest.mark.parametrize("kustomization", sorted(KUSTOMIZATIONS))
def test_the_pod_is_restricted(kustomization: str) -> None:
    pod = deployment(kustomization)["spec"]["template"]["spec"]
    security = container(kustomization)["securityContext"]

    assert pod["serviceAccountName"] == "entra-monitor"
    assert pod["automountServiceAccountToken"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"] == {"type": "RuntimeDefault"}
    assert security["readOnlyRootFilesystem"] is True
    assert security["allowPrivilegeEscalation"] is False
    assert security["privileged"] is False
    assert security["capabilities"] == {"drop": ["ALL"]}
    assert security["runAsUser"] == 10001
    assert pod["terminationGracePeriodSeconds"] > 30  # worker.grace_seconds, then the flush


@pytest.mark.parametrize("kustomization", sorted(KUSTOMIZATIONS))
def test_probes_resources_and_volumes(kustomization: str) -> None:
    found = container(kustomization)

    assert found["ports"] == [{"name": "health", "containerPort": 8080, "protocol": "TCP"}]
    probes = {name: found[name]["httpGet"] for name in ("startupProbe", "livenessProbe", "readinessProbe")}
    assert probes == {
        "startupProbe": {"path": "/healthz", "port": "health"},
        "livenessProbe": {"path": "/healthz", "port": "health"},
        "readinessProbe": {"path": "/readyz", "port": "health"},
    }
    # docs/performance.md: consent-grants peaks near 400 MB on a large tenant.
    assert found["resources"]["requests"]["memory"] == "512Mi"
    assert found["resources"]["limits"]["memory"] == "1Gi"
    mounts = {mount["mountPath"]: mount.get("readOnly", False) for mount in found["volumeMounts"]}
    assert mounts == {"/var/lib/entra-monitor": False, "/etc/entra-monitor": True, "/tmp": False}


def test_the_overlay_names_the_image_and_the_identity() -> None:
    rendered = documents(render(KUSTOMIZATIONS["example"]))

    assert container("example")["image"] == "contosoacr.azurecr.io/entra-compliance-monitor:0.1.0"
    annotations = rendered[("ServiceAccount", "entra-monitor")]["metadata"]["annotations"]
    assert annotations == {"azure.workload.identity/client-id": "5b9f3c2e-8d41-4a7e-9f1c-2e6d8a4b7c90"}
    namespaced = [doc for (kind, _), doc in rendered.items() if kind != "Namespace"]
    namespaces = {doc["metadata"].get("namespace") for doc in namespaced}
    assert namespaces == {"entra-monitor"}


# -- the container's command, run for real --------------------------------------------------------


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@pytest.fixture
def workdir(tmp_path: Path) -> Path:
    """The container's working directory: config/monitor.toml from the base's ConfigMap."""
    (tmp_path / "config").mkdir()
    (tmp_path / "config" / "monitor.toml").write_text(settings_file("base"))
    return tmp_path


def emulator_environment(emulator: RunningEmulator, workdir: Path, port: int) -> dict[str, str]:
    """What the Workload Identity webhook injects, pointed at the emulator's federated client, plus
    what differs from a cluster: the emulator's endpoints and CA, writable paths, a free port, and
    only the graph-access check (it reads one object of every collection)."""
    info = emulator.info
    federated = info["clients"]["federated"]
    others = [check for check in discover_checks().checks if check != "graph-access"]
    return {
        "PATH": f"{BIN}:/usr/bin:/bin",
        "HOME": str(workdir),
        "AZURE_CLIENT_ID": federated["clientId"],
        "AZURE_TENANT_ID": info["tenantId"],
        "AZURE_FEDERATED_TOKEN_FILE": federated["tokenFile"],
        "AZURE_AUTHORITY_HOST": info["authorityHost"] + "/",
        "ENTRA_MONITOR_TENANTS__0__AUTHORITY_HOST": info["authorityHost"],
        "ENTRA_MONITOR_TENANTS__0__GRAPH_ENDPOINT": info["baseUrl"],
        "ENTRA_MONITOR_TENANTS__0__CA_BUNDLE": info["caBundle"],
        "ENTRA_MONITOR_STATE__PATH": str(workdir / "data" / "state" / "monitor.db"),
        "ENTRA_MONITOR_SNAPSHOTS__DIRECTORY": str(workdir / "data" / "snapshots"),
        "ENTRA_MONITOR_HEALTH__HOST": "127.0.0.1",
        "ENTRA_MONITOR_HEALTH__PORT": str(port),
        "ENTRA_MONITOR_WORKER__GRACE_SECONDS": "5",
        **{f"ENTRA_MONITOR_CHECKS__{check.replace('-', '_').upper()}__ENABLED": "false" for check in others},
    }


def test_the_base_settings_are_valid_once_the_webhook_variables_are_applied(
    emulator: RunningEmulator, workdir: Path
) -> None:
    environment = emulator_environment(emulator, workdir, 8080)
    environment |= {
        "ENTRA_MONITOR_TENANTS__0__TENANT_ID": environment["AZURE_TENANT_ID"],
        "ENTRA_MONITOR_TENANTS__0__CREDENTIAL__CLIENT_ID": environment["AZURE_CLIENT_ID"],
        "ENTRA_MONITOR_TENANTS__0__CREDENTIAL__TOKEN_FILE": environment["AZURE_FEDERATED_TOKEN_FILE"],
    }

    settings = load_settings(workdir / "config" / "monitor.toml", environ=environment, env_file=None)

    (tenant,) = settings.tenants
    assert (tenant.name, tenant.credential.kind) == ("default", "workload_identity")
    assert settings.health.host == "127.0.0.1"  # the environment wins over the file's 0.0.0.0


def test_the_overlay_settings_are_valid_with_the_secrets_of_its_env_file(tmp_path: Path) -> None:
    token = tmp_path / "azure-identity-token"
    token.write_text("a projected service account token")
    (tmp_path / "monitor.toml").write_text(settings_file("example"))
    (tmp_path / ".env").write_text(
        "ENTRA_MONITOR_TELEMETRY__AZURE_MONITOR__CONNECTION_STRING=InstrumentationKey="
        "4c1f7b2e-0d3a-4e6b-9c8d-2a1b3c4d5e6f;IngestionEndpoint=https://westeurope-5.in.applicationinsights.azure.com/\n"
        "ENTRA_MONITOR_ALERTS__SINKS__1__URL=https://contoso.webhook.office.com/workflows/abc\n"
    )
    webhook = {
        "ENTRA_MONITOR_TENANTS__0__TENANT_ID": "9f6a2c1e-3b4d-4e5f-8a7b-1c2d3e4f5a6b",
        "ENTRA_MONITOR_TENANTS__0__CREDENTIAL__CLIENT_ID": "5b9f3c2e-8d41-4a7e-9f1c-2e6d8a4b7c90",
        "ENTRA_MONITOR_TENANTS__0__CREDENTIAL__TOKEN_FILE": str(token),
    }

    settings = load_settings(tmp_path / "monitor.toml", environ=webhook, env_file=tmp_path / ".env")

    assert [tenant.name for tenant in settings.tenants] == ["contoso"]
    assert [(sink.kind, sink.id) for sink in settings.alerts.sinks] == [
        ("azure_monitor", "app-insights"),
        ("teams", "secops-teams"),
    ]
    assert settings.telemetry.azure_monitor.enabled is True


def test_the_container_command_runs_the_worker_with_the_injected_identity(
    emulator: RunningEmulator, workdir: Path
) -> None:
    port = free_port()
    environment = emulator_environment(emulator, workdir, port)
    command = container("example")["command"]
    assert command[:2] == ["/bin/sh", "-c"]

    process = subprocess.Popen(
        command, cwd=workdir, env=environment, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        status = wait_for_run(port, process)
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == 0, output
    (run,) = [entry for entry in status["checks"] if entry["lastRun"] is not None]
    assert (run["tenant"], run["check"], run["lastRun"]["status"]) == ("default", "graph-access", "succeeded")
    assert run["lastRun"]["findings"] == 0
    assert '"message": "worker stopped"' in output


def test_the_container_command_says_what_is_missing_without_the_webhook(workdir: Path) -> None:
    command = container("base")["command"]

    result = subprocess.run(
        command,
        cwd=workdir,
        env={"PATH": f"{BIN}:/usr/bin:/bin"},
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )

    assert result.returncode != 0
    expected = "AZURE_FEDERATED_TOKEN_FILE: not set: label the pod azure.workload.identity/use=true"
    assert expected in result.stderr


def wait_for_run(port: int, process: subprocess.Popen[str], timeout: float = 90.0) -> dict[str, Any]:
    """/status once a check has finished a run (or fail with the worker's output)."""
    deadline = time.monotonic() + timeout
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=5) as http:
        while time.monotonic() < deadline:
            if process.poll() is not None:
                pytest.fail(f"the worker exited with {process.returncode}: {process.communicate()[0]}")
            try:
                status: dict[str, Any] = http.get("/status").json()
            except httpx.TransportError:
                status = {"checks": []}
            if any(entry["lastRun"] is not None for entry in status["checks"]):
                return status
            time.sleep(0.2)
    process.kill()
    pytest.fail(f"no check run within {timeout} s: {process.communicate()[0]}")


def test_the_overlay_runs_the_base_command() -> None:
    # The overlay changes the image, the identity and the settings, never how the worker starts.
    assert container("base")["command"] == container("example")["command"]
