"""``manifest.json``: the SHA-256 of every file of a snapshot, the link to the previous snapshot's
manifest (a hash chain), and an optional Ed25519 signature.

The signature covers the canonical bytes of the manifest without its ``signature`` member:
``json.dumps(obj, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()``.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from monitor.errors import ConfigurationError

MANIFEST = "manifest.json"
SNAPSHOT = "snapshot.json"
FINDINGS = "findings.csv"
REPORT = "report.html"
SIGNATURE_ALGORITHM = "Ed25519"


def canonical_bytes(document: Mapping[str, Any]) -> bytes:
    """The bytes a signature covers (and the form a manifest is compared in)."""
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def pretty_bytes(document: Mapping[str, Any]) -> bytes:
    """How snapshot.json and manifest.json are written: sorted keys, 2-space indent, UTF-8."""
    return (json.dumps(document, sort_keys=True, indent=2, ensure_ascii=False) + "\n").encode()


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def public_key_fingerprint(key: Ed25519PublicKey) -> str:
    """``SHA256:<hex>`` over the raw 32-byte public key."""
    raw = key.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "SHA256:" + sha256_hex(raw)


def sign(manifest: Mapping[str, Any], key: Ed25519PrivateKey) -> dict[str, Any]:
    """``manifest`` with its ``signature`` member set."""
    unsigned = {name: value for name, value in manifest.items() if name != "signature"}
    value = base64.b64encode(key.sign(canonical_bytes(unsigned))).decode("ascii")
    signature = {
        "algorithm": SIGNATURE_ALGORITHM,
        "public_key_fingerprint": public_key_fingerprint(key.public_key()),
        "value": value,
    }
    return {**unsigned, "signature": signature}


def signature_problem(manifest: Mapping[str, Any], key: Ed25519PublicKey) -> str | None:
    """Why the manifest's signature does not verify with ``key`` (None when it does)."""
    signature = manifest.get("signature")
    if not isinstance(signature, dict):
        return "it is not signed"
    if signature.get("algorithm") != SIGNATURE_ALGORITHM:
        return f"its signature algorithm is {signature.get('algorithm')!r}, not {SIGNATURE_ALGORITHM}"
    expected = public_key_fingerprint(key)
    if signature.get("public_key_fingerprint") != expected:
        return (
            f"it was signed by the key {signature.get('public_key_fingerprint')}, "
            f"not by the given key {expected}"
        )
    unsigned = {name: value for name, value in manifest.items() if name != "signature"}
    try:
        key.verify(base64.b64decode(str(signature.get("value")), validate=True), canonical_bytes(unsigned))
    except (InvalidSignature, ValueError):
        return (
            f"its signature does not verify with the key {expected}: the manifest was changed after signing"
        )
    return None


def load_private_key(path: Path, password: str | None) -> Ed25519PrivateKey:
    """The Ed25519 private key in PEM file ``path``; ConfigurationError naming the setting otherwise
    (never the password)."""
    setting = "snapshots.signing_key_path"
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ConfigurationError(f"{setting}: cannot read {path} ({error.strerror})") from None
    try:
        key = serialization.load_pem_private_key(data, password.encode() if password is not None else None)
    except TypeError:
        raise ConfigurationError(
            f"{setting}: {path} is encrypted and no password was given, or a password was given for a "
            "key that is not encrypted; accepted: snapshots.signing_key_password for an encrypted key"
        ) from None
    except (ValueError, UnsupportedAlgorithm):
        raise ConfigurationError(
            f"{setting}: {path} is not a PEM private key or the password is wrong; accepted: an Ed25519 "
            "key from `openssl genpkey -algorithm ed25519`"
        ) from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigurationError(
            f"{setting}: {path} holds a {type(key).__name__.removeprefix('_')}, not an Ed25519 key; "
            "accepted: a key from `openssl genpkey -algorithm ed25519`"
        )
    return key


def load_public_key(path: Path) -> Ed25519PublicKey:
    """The Ed25519 public key in ``path``: a PEM public key (``openssl pkey -pubout``), or a PEM
    private key whose public half is taken. ValueError naming the file otherwise."""
    try:
        data = path.read_bytes()
    except OSError as error:
        raise ValueError(f"cannot read {path} ({error.strerror})") from None
    try:
        key: object = serialization.load_pem_public_key(data)
    except (ValueError, UnsupportedAlgorithm):
        try:
            key = serialization.load_pem_private_key(data, None).public_key()
        except (ValueError, TypeError, UnsupportedAlgorithm):
            raise ValueError(
                f"{path} is not a PEM public key; accepted: the output of `openssl pkey -in KEY -pubout`"
            ) from None
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError(f"{path} is not an Ed25519 key; accepted: an Ed25519 public key in PEM")
    return key
