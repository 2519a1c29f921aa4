"""Fixtures of the snapshot tests: a tenant of their own on real time (the monitor keeps the host's
time, as in tests/test_once_truth.py), settings for it, and a signing key."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import jsonschema
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from tests.support.emulator import RunningEmulator, console_script, start_emulator
from tests.test_once import write_config

SCHEMA = Path(__file__).resolve().parents[2] / "docs" / "snapshot.schema.json"


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningEmulator]:
    directory = tmp_path_factory.mktemp("snapshot-tenant")
    with start_emulator(directory, "--seed", "7", "--scale", "small", "--throttling", "off") as running:
        yield running


def snapshot_config(emulator: RunningEmulator, directory: Path, snapshots: str = "") -> Path:
    """The settings of tests/test_once.py for ``emulator`` plus a ``[snapshots]`` table writing to
    ``directory/snapshots`` (``snapshots``: more lines of that table)."""
    config = write_config(emulator, directory, "certificate")
    with config.open("a") as handle:
        handle.write(f'[snapshots]\ndirectory = "{directory / "snapshots"}"\n{snapshots}\n')
    return config


def monitor(
    config: Path, *args: str, environ: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    """``entra-monitor ARGS --config CONFIG`` in the config's directory (``environ``: more variables)."""
    return subprocess.run(
        [console_script(), *args, "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=240,
        check=False,
        cwd=config.parent,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "250", **(environ or {})},
    )


def entra_monitor(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    """``entra-monitor ARGS`` without settings."""
    return subprocess.run(
        [console_script(), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=cwd,
        env={"PATH": "/usr/bin:/bin", "COLUMNS": "250"},
    )


def write_key(path: Path, password: bytes | None = None) -> Ed25519PrivateKey:
    """A new Ed25519 private key in PEM at ``path`` (encrypted with ``password`` if given)."""
    key = Ed25519PrivateKey.generate()
    encryption: serialization.KeySerializationEncryption = (
        serialization.BestAvailableEncryption(password) if password else serialization.NoEncryption()
    )
    path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, encryption)
    )
    return key


def write_public_key(key: Ed25519PrivateKey, path: Path) -> Path:
    path.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return path


def assert_follows_schema(document: dict[str, object]) -> None:
    """``document`` is valid against docs/snapshot.schema.json (every problem listed otherwise)."""
    validator = jsonschema.Draft202012Validator(json.loads(SCHEMA.read_text(encoding="utf-8")))
    problems = [f"{list(error.absolute_path)}: {error.message}" for error in validator.iter_errors(document)]
    assert problems == []
