"""What the container image does, without a Docker engine: build the wheel, install it into a
fresh virtual environment and run the console script from outside the source tree."""

from __future__ import annotations

import os
import site
import subprocess
import sys
import venv
import zipfile
from pathlib import Path

import pytest

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


def test_the_installed_wheel_runs_the_demo_outside_the_source_tree(wheel: Path, tmp_path: Path) -> None:
    environment = tmp_path / "venv"
    venv.create(environment, with_pip=False)
    # The dependencies come from this environment's site-packages (a path entry, so the editable
    # install's own .pth hooks, which would put the source tree on the path, are not processed).
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
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    environ = {**os.environ, "PYTHONPATH": "", "COLUMNS": "200"}
    result = subprocess.run(
        [str(script), "demo", "--once", "--scale", "tiny", "--state-dir", str(workdir / "demo")],
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
        [
            str(environment / "bin" / "python"),
            "-c",
            "import emulator, monitor; print(emulator.__file__, monitor.__file__)",
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        env=environ,
        check=True,
    )
    assert str(ROOT) not in located.stdout
    assert str(target) in located.stdout
