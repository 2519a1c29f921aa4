"""Signing keys made the way docs/snapshots.md says (openssl genpkey), clear errors for wrong ones,
and the by-hand verification of docs/snapshots.md with sha256sum-equivalent hashes and openssl."""

from __future__ import annotations

import base64
import hashlib
import json
import subprocess
from pathlib import Path

import pytest

from monitor.errors import ConfigurationError
from monitor.snapshots.manifest import load_private_key, load_public_key
from monitor.snapshots.verify import verify_path
from tests.snapshots.support import new_chain

PASSWORD = "correct horse battery"


def openssl(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["openssl", *args], capture_output=True, text=True, check=False, cwd=cwd, timeout=60
    )


@pytest.fixture
def encrypted_key(tmp_path: Path) -> Path:
    made = openssl(
        "genpkey",
        "-algorithm",
        "ed25519",
        "-aes-256-cbc",
        "-pass",
        f"pass:{PASSWORD}",
        "-out",
        "k.pem",
        cwd=tmp_path,
    )
    assert made.returncode == 0, made.stderr
    return tmp_path / "k.pem"


def test_a_chain_signed_with_an_openssl_key_verifies_by_hand(tmp_path: Path, encrypted_key: Path) -> None:
    chain = new_chain(tmp_path / "snapshots", signing_key_path=encrypted_key, signing_key_password=PASSWORD)
    first, second = chain.write(2)
    public = openssl(
        "pkey", "-in", "k.pem", "-passin", f"pass:{PASSWORD}", "-pubout", "-out", "k.pub", cwd=tmp_path
    )
    assert public.returncode == 0, public.stderr
    assert verify_path(chain.tenant_directory, load_public_key(tmp_path / "k.pub")).problems == []

    # By hand: file hashes, the link, the signature and the key's fingerprint.
    manifest = json.loads((second.path / "manifest.json").read_text())
    for name, recorded in manifest["files"].items():
        assert hashlib.sha256((second.path / name).read_bytes()).hexdigest() == recorded
    assert (
        manifest["previous"]["manifest_sha256"]
        == hashlib.sha256((first.path / "manifest.json").read_bytes()).hexdigest()
    )
    signature = manifest.pop("signature")
    canonical = json.dumps(manifest, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()
    (tmp_path / "m.canonical").write_bytes(canonical)
    (tmp_path / "m.sig").write_bytes(base64.b64decode(signature["value"]))
    verified = openssl(
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        "k.pub",
        "-rawin",
        "-in",
        "m.canonical",
        "-sigfile",
        "m.sig",
        cwd=tmp_path,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr
    assert "Signature Verified Successfully" in verified.stdout
    der = subprocess.run(
        ["openssl", "pkey", "-pubin", "-in", "k.pub", "-outform", "DER"],
        capture_output=True,
        check=True,
        cwd=tmp_path,
    ).stdout
    assert signature["public_key_fingerprint"] == "SHA256:" + hashlib.sha256(der[-32:]).hexdigest()
    # A changed byte no longer verifies.
    (tmp_path / "m.canonical").write_bytes(canonical.replace(b'"sequence":2', b'"sequence":3'))
    forged = openssl(
        "pkeyutl",
        "-verify",
        "-pubin",
        "-inkey",
        "k.pub",
        "-rawin",
        "-in",
        "m.canonical",
        "-sigfile",
        "m.sig",
        cwd=tmp_path,
    )
    assert forged.returncode != 0


def test_wrong_keys_are_named_without_the_password(tmp_path: Path, encrypted_key: Path) -> None:
    with pytest.raises(ConfigurationError) as wrong:
        load_private_key(encrypted_key, "not the password")
    assert str(wrong.value) == (
        f"snapshots.signing_key_path: {encrypted_key} is not a PEM private key or the password is wrong; "
        "accepted: an Ed25519 key from `openssl genpkey -algorithm ed25519`"
    )
    assert "not the password" not in str(wrong.value)
    with pytest.raises(ConfigurationError, match="is encrypted and no password was given"):
        load_private_key(encrypted_key, None)
    made = openssl(
        "genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out", "ec.pem", cwd=tmp_path
    )
    assert made.returncode == 0, made.stderr
    with pytest.raises(ConfigurationError, match="not an Ed25519 key; accepted: a key from `openssl genpkey"):
        load_private_key(tmp_path / "ec.pem", None)
