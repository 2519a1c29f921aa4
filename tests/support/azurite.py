"""Azurite, the Azure Storage emulator, as a real Blob service on a loopback port for tests.

``start_azurite(directory)`` runs ``tools/azurite/node_modules/.bin/azurite-blob`` (installed by
``make azurite``, see ``mk/azurite.mk``) directly, not through ``npx``, so the process the test
holds is the server itself and killing it leaves nothing behind. It listens on port 0; the real port
is read from the line Azurite prints once it listens. Data lives under ``directory``.

Azurite 3.35.0 accepts API versions up to 2025-11-05 while azure-storage-blob sends a newer one, so it
runs with ``--skipApiVersionCheck``; telemetry is off (it would call Application Insights).
Azurite does not implement immutability policies or legal holds (501 APINotImplemented), so WORM
behaviour cannot be tested against it.
"""

from __future__ import annotations

import ipaddress
import re
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

ROOT = Path(__file__).resolve().parents[2]
AZURITE_BLOB = ROOT / "tools" / "azurite" / "node_modules" / ".bin" / "azurite-blob"
ACCOUNT_NAME = "devstoreaccount1"
# Azurite's well-known development account key, published in its documentation; not a secret.
ACCOUNT_KEY = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
LISTENING = re.compile(r"Blob service successfully listens on (https?://127\.0\.0\.1:(\d+))")
START_TIMEOUT_SECONDS = 30.0
STOP_TIMEOUT_SECONDS = 10.0
LOOPBACK = ipaddress.ip_address("127.0.0.1")


@dataclass(frozen=True)
class RunningAzurite:
    """A started Azurite Blob service."""

    port: int
    log: Path
    pid: int
    https: bool = False

    @property
    def blob_endpoint(self) -> str:
        scheme = "https" if self.https else "http"
        return f"{scheme}://127.0.0.1:{self.port}/{ACCOUNT_NAME}"

    def connection_string(self, account_key: str = ACCOUNT_KEY) -> str:
        """A connection string for the development account (``account_key`` replaced to test a wrong key)."""
        return (
            f"DefaultEndpointsProtocol=http;AccountName={ACCOUNT_NAME};AccountKey={account_key};"
            f"BlobEndpoint={self.blob_endpoint};"
        )


@dataclass(frozen=True)
class TlsFiles:
    """A self-signed certificate for 127.0.0.1 (also the CA bundle a client trusts) and its key."""

    certificate: Path
    key: Path


def self_signed_tls(directory: Path) -> TlsFiles:
    """Write a fresh self-signed certificate for 127.0.0.1 and its unencrypted key (PEM)."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), False
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    files = TlsFiles(certificate=directory / "azurite-cert.pem", key=directory / "azurite-key.pem")
    files.certificate.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    files.key.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return files


@contextmanager
def start_azurite(directory: Path, tls: TlsFiles | None = None) -> Iterator[RunningAzurite]:
    """Start Azurite's Blob service with its data and log in ``directory``; stop it (and wait for it)
    on exit. With ``tls`` it serves HTTPS with that certificate and accepts OAuth bearer tokens
    (``--oauth basic``: issuer, audience and lifetime are checked, the signature is not).
    Fails the test with a pointer to ``make azurite`` when the emulator is not installed."""
    if not AZURITE_BLOB.exists():
        pytest.fail(
            f"{AZURITE_BLOB.relative_to(ROOT)} is missing; run `make azurite` (needs Node.js 20 and npm)"
        )
    data = directory / "data"
    data.mkdir(parents=True, exist_ok=True)
    log = directory / "azurite.log"
    command = [
        str(AZURITE_BLOB),
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        "0",
        "--location",
        str(data),
        "--skipApiVersionCheck",
        "--loose",
        "--disableTelemetry",
        "--silent",
    ]
    if tls is not None:
        command += ["--cert", str(tls.certificate), "--key", str(tls.key), "--oauth", "basic"]
    with log.open("wb") as log_file:
        process = subprocess.Popen(command, stdout=log_file, stderr=subprocess.STDOUT, cwd=directory)
    try:
        port = _wait_for_port(process, log)
        yield RunningAzurite(port=port, log=log, pid=process.pid, https=tls is not None)
    finally:
        process.terminate()
        try:
            process.wait(timeout=STOP_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_for_port(process: subprocess.Popen[bytes], log: Path) -> int:
    deadline = time.monotonic() + START_TIMEOUT_SECONDS
    while time.monotonic() < deadline:
        text = log.read_text(errors="replace")
        match = LISTENING.search(text)
        if match:
            return int(match.group(2))
        if process.poll() is not None:
            pytest.fail(f"Azurite exited with status {process.returncode} before listening:\n{text}")
        time.sleep(0.05)
    pytest.fail(
        f"Azurite did not listen within {START_TIMEOUT_SECONDS:.0f} s:\n{log.read_text(errors='replace')}"
    )
