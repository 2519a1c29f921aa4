"""The Dockerfile: hadolint finds nothing (with every rule on), and it says what the deployment
relies on: pinned base, non-root numeric user, the worker as the default command, a health check on
/healthz, the volume for state and snapshots, and the settings the container needs."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from tests.deploy.conftest import ROOT, tool

DOCKERFILE = ROOT / "Dockerfile"


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    joined = re.sub(r"\\\n", " ", "\n".join(line for line in text.splitlines() if not line.startswith("#")))
    found = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def hadolint(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [tool("hadolint"), "--no-color", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
        check=False,
    )


def test_hadolint_passes_the_dockerfile_with_every_rule_on() -> None:
    result = hadolint(DOCKERFILE)

    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_hadolint_would_catch_an_unpinned_base_and_a_root_user(tmp_path: Path) -> None:
    worse = tmp_path / "Dockerfile"
    text = DOCKERFILE.read_text().replace(":3.11.11-slim-bookworm AS runtime", " AS runtime")
    worse.write_text(text.replace("USER 10001:10001", "USER monitor"))

    result = hadolint(worse)

    assert result.returncode == 1
    assert {code for code in ("DL3006", "DL3066") if code in result.stdout} == {"DL3006", "DL3066"}


def test_the_image_runs_the_worker_as_a_non_root_user_with_a_health_check() -> None:
    found = instructions(DOCKERFILE.read_text())
    bases = [args for keyword, args in found if keyword == "FROM"]
    assert bases == ["python:3.11.11-slim-bookworm AS build", "python:3.11.11-slim-bookworm AS runtime"]
    final = found[max(i for i, (keyword, _) in enumerate(found) if keyword == "FROM") :]
    single = {keyword: args for keyword, args in final if keyword not in ("RUN", "ENV")}
    assert json.loads(single["ENTRYPOINT"]) == ["entra-monitor"]
    assert json.loads(single["CMD"]) == ["run"]
    assert single["USER"] == "10001:10001"
    assert json.loads(single["VOLUME"]) == ["/var/lib/entra-monitor"]
    assert single["WORKDIR"] == "/etc/entra-monitor"
    assert single["EXPOSE"] == "8080"
    health = single["HEALTHCHECK"]
    assert "http://127.0.0.1:8080/healthz" in health
    assert json.loads(health[health.index("CMD") + 3 :].strip())[0] == "python"
    # The wheel alone, from the build stage; nothing of the source tree reaches the runtime stage.
    runtime_runs = " ".join(args for keyword, args in final if keyword == "RUN")
    assert "--mount=type=bind,from=build,source=/dist" in runtime_runs
    assert not [args for keyword, args in final if keyword in ("COPY", "ADD")]


def test_the_image_environment_points_state_and_health_where_the_deployment_expects_them() -> None:
    environment = image_environment()

    assert environment["ENTRA_MONITOR_HEALTH__HOST"] == "0.0.0.0"  # noqa: S104 (the probes come from outside)
    assert environment["ENTRA_MONITOR_HEALTH__PORT"] == "8080"
    assert environment["ENTRA_MONITOR_STATE__PATH"].startswith("/var/lib/entra-monitor/")
    assert environment["ENTRA_MONITOR_SNAPSHOTS__DIRECTORY"].startswith("/var/lib/entra-monitor/")
    assert environment["PYTHONDONTWRITEBYTECODE"] == "1"


def test_the_build_context_is_only_what_the_wheel_is_built_from() -> None:
    lines = [line for line in (ROOT / ".dockerignore").read_text().splitlines() if line and line[0] != "#"]
    included = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    sources = {
        source.rstrip("/")
        for keyword, args in instructions(DOCKERFILE.read_text())
        if keyword == "COPY"
        for source in args.split()[:-1]
    }

    assert lines[0] == "*"
    assert included == {"pyproject.toml", "README.md", "monitor", "checks", "emulator"}
    assert sources == included


def image_environment() -> dict[str, str]:
    """Every ENV of the runtime stage, as the container sees it."""
    found = instructions(DOCKERFILE.read_text())
    final = found[max(i for i, (keyword, _) in enumerate(found) if keyword == "FROM") :]
    environment: dict[str, str] = {}
    for keyword, args in final:
        if keyword == "ENV":
            for pair in args.split():
                name, _, value = pair.partition("=")
                environment[name] = value
    return environment
