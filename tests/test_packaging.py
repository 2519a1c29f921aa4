"""What the container image does, without a Docker engine: build the wheel, install it into a
fresh virtual environment (the image's runtime stage installs the same wheel alone) and run the
console script from outside the source tree, with the image's entry point, environment, working
directory and volume, against the emulated tenant."""

from __future__ import annotations

import json
import os
import signal
import site
import socket
import subprocess
import sys
import time
import venv
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from monitor.plugins import discover_checks
from tests.deploy.test_dockerfile import image_environment, instructions
from tests.support.emulator import RunningEmulator

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(out),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
    )
    (built,) = out.glob("entra_compliance_monitor-*.whl")
    return built


def test_the_wheel_carries_the_packages_their_data_and_the_console_script(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        entry_points = next(n for n in names if n.endswith("entry_points.txt"))
        scripts = archive.read(entry_points).decode()
    assert {
        "monitor/cli.py",
        "emulator/app.py",
        "emulator/data/properties.json",
        "checks/__init__.py",
    } <= names
    assert not any(name.startswith("tests/") for name in names)
    assert "entra-monitor = monitor.cli:main" in scripts


@dataclass(frozen=True)
class Installed:
    """The wheel installed into a fresh virtual environment, as the image's runtime stage has it."""

    environment: Path
    site_packages: Path

    @property
    def python(self) -> Path:
        return self.environment / "bin" / "python"

    @property
    def script(self) -> Path:
        return self.environment / "bin" / "entra-monitor"


@pytest.fixture(scope="module")
def installed(wheel: Path, tmp_path_factory: pytest.TempPathFactory) -> Installed:
    environment = tmp_path_factory.mktemp("image") / "venv"
    venv.create(environment, with_pip=False)
    # The dependencies come from this environment's site-packages (a path entry, so the editable
    # install's own .pth hooks, which would put the source tree on the path, are not processed);
    # the image installs them from the package index instead.
    (target,) = (environment / "lib").glob("python3*/site-packages")
    (target / "dependencies.pth").write_text("\n".join(site.getsitepackages()) + "\n")
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(target), str(wheel)],
        check=True,
        capture_output=True,
    )
    script = environment / "bin" / "entra-monitor"
    script.write_text(
        f"#!{environment / 'bin' / 'python'}\nimport sys\nfrom monitor.cli import main\nsys.exit(main())\n"
    )
    script.chmod(0o755)
    return Installed(environment, target)


def test_the_installed_wheel_runs_the_demo_outside_the_source_tree(
    installed: Installed, tmp_path: Path
) -> None:
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    environ = {**os.environ, "PYTHONPATH": "", "COLUMNS": "200"}
    result = subprocess.run(
        [str(installed.script), "demo", "--once", "--scale", "tiny", "--state-dir", str(workdir / "demo")],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=environ,
        timeout=180,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "acquired an app-only Graph token with MSAL and the certificate client" in result.stdout
    assert "13 of 13 collections answer the certificate client" in result.stdout
    located = subprocess.run(
        [str(installed.python), "-c", "import emulator, monitor; print(emulator.__file__, monitor.__file__)"],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=environ,
        check=True,
    )
    assert str(ROOT) not in located.stdout
    assert str(installed.site_packages) in located.stdout


# -- the image's way: its working directory, environment, volume and entry point ------------------


@dataclass(frozen=True)
class Container:
    """A stand-in for the container's file system: the working directory (/etc/entra-monitor, the
    settings mounted read-only under config/) and the volume (/var/lib/entra-monitor)."""

    workdir: Path
    volume: Path
    environment: dict[str, str]

    def command(self, installed: Installed, *args: str) -> list[str]:
        """ENTRYPOINT plus ``args`` (or CMD), the entry point being the installed console script."""
        entrypoint, default = dockerfile_command()
        assert entrypoint == ["entra-monitor"]
        return [str(installed.script), *(args or default)]


def dockerfile_command() -> tuple[list[str], list[str]]:
    single = {keyword: args for keyword, args in runtime_instructions() if keyword in ("ENTRYPOINT", "CMD")}
    return json.loads(single["ENTRYPOINT"]), json.loads(single["CMD"])


def runtime_instructions() -> list[tuple[str, str]]:
    found = instructions((ROOT / "Dockerfile").read_text())
    return found[max(i for i, (keyword, _) in enumerate(found) if keyword == "FROM") :]


@pytest.fixture
def container(emulator: RunningEmulator, installed: Installed, tmp_path: Path) -> Container:
    """The image's ENV (its paths on the volume moved under ``tmp_path``), the variables Container
    Apps gives a managed identity, and a settings file for the emulated tenant read with the
    user-assigned identity, as deploy/azure/monitor.toml reads the real one."""
    info = emulator.info
    identity = info["managedIdentity"]
    volume = tmp_path / "var-lib-entra-monitor"
    workdir = tmp_path / "etc-entra-monitor"
    (workdir / "config").mkdir(parents=True)
    (workdir / "config" / "monitor.toml").write_text(
        f"""
[[tenants]]
name = "lab"
tenant_id = "{info["tenantId"]}"
authority_host = "{info["authorityHost"]}"
graph_endpoint = "{info["baseUrl"]}"
ca_bundle = "{info["caBundle"]}"
[tenants.credential]
kind = "managed_identity"
client_id = "{identity["userAssigned"]["clientId"]}"
"""
    )
    image = {
        name: value.replace("/var/lib/entra-monitor", str(volume))
        for name, value in image_environment().items()
    }
    environment = {
        "PATH": f"{installed.environment / 'bin'}:/usr/bin:/bin",
        "HOME": str(volume),
        **image,
        "IDENTITY_ENDPOINT": identity["endpoint"],
        "IDENTITY_HEADER": identity["header"],
    }
    return Container(workdir, volume, environment)


def test_once_runs_from_the_installed_wheel_the_way_the_image_runs_it(
    installed: Installed, container: Container
) -> None:
    result = subprocess.run(
        container.command(installed, "once", "--format", "json"),
        cwd=container.workdir,
        env=container.environment,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    checks = set(discover_checks().checks)
    assert {run["check"]: run["status"] for run in document["runs"]} == dict.fromkeys(checks, "succeeded")
    assert {run["tenant"] for run in document["runs"]} == {"lab"}
    assert document["openFindings"]
    # The state on the volume; nothing written into the (read-only) working directory.
    assert (container.volume / "state" / "monitor.db").is_file()
    assert sorted(p.relative_to(container.workdir).as_posix() for p in container.workdir.rglob("*")) == [
        "config",
        "config/monitor.toml",
    ]
    # JSON log lines on stderr (the image sets ENTRA_MONITOR_LOGGING__FORMAT=json).
    assert all(json.loads(line) for line in result.stderr.splitlines() if line.strip())


def test_the_image_default_command_is_the_worker_and_its_health_check_passes(
    installed: Installed, container: Container
) -> None:
    port = free_port()
    others = [check for check in discover_checks().checks if check != "graph-access"]
    container.environment.update(
        {
            "ENTRA_MONITOR_HEALTH__PORT": str(port),
            "ENTRA_MONITOR_WORKER__GRACE_SECONDS": "5",
            **{
                f"ENTRA_MONITOR_CHECKS__{check.replace('-', '_').upper()}__ENABLED": "false"
                for check in others
            },
        }
    )
    health = dockerfile_health_check()
    assert health[:2] == ["python", "-c"]
    assert "http://127.0.0.1:8080/healthz" in health[2]
    process = subprocess.Popen(
        container.command(installed),
        cwd=container.workdir,
        env=container.environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        checked = wait_until_healthy(
            [str(installed.python), "-c", health[2].replace(":8080/", f":{port}/")], container, process
        )
        process.send_signal(signal.SIGTERM)
        output, _ = process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert checked.returncode == 0
    assert process.returncode == 0, output
    messages = [json.loads(line)["message"] for line in output.splitlines() if line.startswith("{")]
    assert messages[-1] == "worker stopped"


def dockerfile_health_check() -> list[str]:
    (health,) = [args for keyword, args in runtime_instructions() if keyword == "HEALTHCHECK"]
    command: list[str] = json.loads(health[health.index("CMD") + 3 :].strip())
    return command


def wait_until_healthy(
    check: list[str], container: Container, process: subprocess.Popen[str], timeout: float = 60.0
) -> subprocess.CompletedProcess[str]:
    """Run the health check as Docker would, until it passes (or fail with the worker's output)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"the worker exited with {process.returncode}: {process.communicate()[0]}")
        result = subprocess.run(
            check, env=container.environment, capture_output=True, text=True, timeout=10, check=False
        )
        if result.returncode == 0:
            return result
        time.sleep(0.2)
    process.kill()
    pytest.fail(f"the health check did not pass within {timeout} s: {process.communicate()[0]}")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port
