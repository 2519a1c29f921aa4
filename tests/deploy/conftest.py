"""What the deployment tests share: the repository's paths, the linters and scanners (hadolint,
kubectl and kubernetes-validate from the test extras in .venv; checkov from its own venv, installed
by mk/deploy-tools.mk), and the kustomize renderings."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
AZURE = DEPLOY / "azure"
KUBERNETES = DEPLOY / "kubernetes"
BIN = Path(sys.executable).parent
CHECKOV = ROOT / ".venv" / "tools" / "checkov" / "bin" / "checkov"
KUSTOMIZATIONS = {"base": KUBERNETES / "base", "example": KUBERNETES / "overlays" / "example"}


def tool(name: str) -> str:
    path = BIN / name
    assert path.is_file(), f"{path} is missing: install the test extras (`make test` does)"
    return str(path)


def render(kustomization: Path) -> str:
    result = subprocess.run(
        [tool("kubectl"), "kustomize", str(kustomization)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def documents(text: str) -> dict[tuple[str, str], dict[str, Any]]:
    """The rendered resources by (kind, name)."""
    found: dict[tuple[str, str], dict[str, Any]] = {}
    for document in yaml.safe_load_all(text):
        if document:
            found[(document["kind"], document["metadata"]["name"])] = document
    return found


@pytest.fixture(scope="session", params=sorted(KUSTOMIZATIONS))
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One kustomization rendered to a file of its own directory (checkov scans directories)."""
    name: str = request.param
    directory = tmp_path_factory.mktemp(f"rendered-{name}")
    path = directory / f"{name}.yaml"
    path.write_text(render(KUSTOMIZATIONS[name]))
    return path


@pytest.fixture(scope="session")
def checkov_environment(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """checkov offline: no PyPI version check, no download of Prisma Cloud's mappings, and its
    caches (the lark grammar cache) in a temporary directory (shared notes ci-tooling.md §3)."""
    assert CHECKOV.is_file(), f"{CHECKOV} is missing: run `make checkov` (make test does)"
    scratch = tmp_path_factory.mktemp("checkov")
    return {
        "PATH": f"{BIN}:/usr/bin:/bin",
        "HOME": str(scratch),
        "CKV_SKIP_PACKAGE_UPDATE_CHECK": "true",
        "BC_SKIP_MAPPING": "TRUE",
        "TMPDIR": str(scratch),
        "XDG_CACHE_HOME": str(scratch / "cache"),
        "LANG": os.environ.get("LANG", "C.UTF-8"),
    }
