"""The emulator's composition root: one tenant, its identity platform, its Graph, its controls.

:class:`Emulator` builds everything from :class:`EmulatorOptions` and exposes the Starlette
app; :func:`serve` runs it over HTTPS and writes the info file clients configure themselves from.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import time
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.serialization import pkcs12
from starlette.applications import Starlette
from starlette.routing import BaseRoute

from emulator.clock import EmulatorClock
from emulator.control import control_routes
from emulator.crypto import certificate_pem, private_key_pem
from emulator.faults import FaultProfile, Faults
from emulator.graph.query import SkipTokens
from emulator.graph.routes import graph_routes
from emulator.graph.service import GraphService
from emulator.identity.federation import mint_federated_token
from emulator.identity.routes import IdentityContext, identity_routes
from emulator.identity.tokens import TokenIssuer
from emulator.server import write_file
from emulator.stats import Stats
from emulator.tenant.fixed import SERVICE_ACCOUNT_SUBJECT
from emulator.tenant.ground_truth import GroundTruth
from emulator.tenant.model import Tenant, TenantConfig
from emulator.tenant.scale import PRESETS, Scale
from emulator.throttle import Throttle

FEDERATED_TOKEN_LIFETIME = 3600


@dataclass
class EmulatorOptions:
    seed: int = 42
    now: datetime | None = None
    """The tenant's "now"; the real time (to the second) when None."""
    scale: Scale = field(default_factory=lambda: PRESETS["small"])
    license: str = "P2"
    token_lifetime_seconds: int = 3599
    throttling: str = "real"
    faults: FaultProfile = field(default_factory=FaultProfile)

    def resolved_now(self) -> datetime:
        now = self.now or datetime.now(UTC)
        if now.tzinfo is None:
            raise ValueError("--now needs a time zone, for example 2026-11-27T12:00:00Z")
        return now.astimezone(UTC).replace(microsecond=0)


class Emulator:
    def __init__(self, options: EmulatorOptions) -> None:
        self.options = options
        now = options.resolved_now()
        self.clock = EmulatorClock(now)
        self.tenant = Tenant(TenantConfig(options.seed, now, options.scale, options.license))
        self.truth = GroundTruth(self.tenant)
        self.tenant.sign_ins.follow_clock(self.clock.advanced)
        self.stats = Stats()
        self.faults = Faults(options.seed, options.faults)
        self.throttle = Throttle(options.scale.users, options.throttling)
        self.issuer = TokenIssuer(self.clock, options.token_lifetime_seconds)
        self.graph = GraphService(
            self.tenant,
            self.issuer,
            self.clock,
            self.throttle,
            self.faults,
            self.stats,
            SkipTokens(secrets.token_bytes(32)),
        )
        self.federated_subject = SERVICE_ACCOUNT_SUBJECT
        self.info: dict[str, Any] = {}

    def routes(self) -> list[BaseRoute]:
        context = IdentityContext(
            self.tenant.registry,
            self.issuer,
            self.clock,
            on_response=lambda name, status: self.stats.record(f"identity.{name}", status),
        )
        return [*control_routes(self), *graph_routes(self.graph), *identity_routes(context)]

    def app(self) -> Starlette:
        return Starlette(routes=self.routes())

    # -- files for clients -------------------------------------------------------------------

    def write_client_files(self, directory: Path, base_url: str, ca_bundle: Path) -> dict[str, Any]:
        """Write the client certificates, keys and the federated token next to the info file;
        returns the info document (also served at ``/_emulator/info``)."""
        directory.mkdir(parents=True, exist_ok=True)
        fixed = self.tenant.fixed
        materials = fixed.materials
        certificate = materials["certificate"]
        assert certificate.certificate is not None
        assert certificate.private_key is not None
        cert_path = write_file(directory / "client-certificate.pem", certificate_pem(certificate.certificate))
        key_path = write_file(
            directory / "client-certificate-key.pem",
            private_key_pem(certificate.private_key),
            private=True,
        )
        pfx_password = secrets.token_urlsafe(12)
        pfx_path = write_file(
            directory / "client-certificate.pfx",
            pkcs12.serialize_key_and_certificates(
                b"entra-monitor",
                certificate.private_key,
                certificate.certificate,
                None,
                serialization.BestAvailableEncryption(pfx_password.encode()),
            ),
            private=True,
        )
        sni = materials["subject-name"]
        assert sni.certificate is not None
        assert sni.private_key is not None
        assert sni.issuer_certificate is not None
        sni_cert = write_file(
            directory / "subject-name-certificate.pem",
            certificate_pem(sni.certificate) + certificate_pem(sni.issuer_certificate),
        )
        sni_key = write_file(
            directory / "subject-name-key.pem", private_key_pem(sni.private_key), private=True
        )
        token_file = directory / "federated-token"
        self.refresh_federated_token(token_file)
        registry = self.tenant.registry
        identities = {
            ("user" if not mi.system_assigned else "system"): mi for mi in registry.managed_identities
        }
        tenant_id = self.tenant.tenant_id
        self.info = {
            "tenantId": tenant_id,
            "tenantDomain": self.tenant.context.domain,
            "seed": self.options.seed,
            "now": self.tenant.context.now.isoformat().replace("+00:00", "Z"),
            "scale": asdict(self.options.scale),
            "license": self.options.license,
            "baseUrl": base_url,
            "authorityHost": base_url,
            "authority": f"{base_url}/{tenant_id}",
            "graphEndpoint": base_url,
            "graphBaseUrl": f"{base_url}/v1.0",
            "caBundle": str(ca_bundle),
            "clients": {
                "secret": {
                    "clientId": fixed.client_ids["secret"],
                    "clientSecret": materials["secret"].secret,
                },
                "certificate": {
                    "clientId": fixed.client_ids["certificate"],
                    "certificatePath": str(cert_path),
                    "privateKeyPath": str(key_path),
                    "pfxPath": str(pfx_path),
                    "pfxPassword": pfx_password,
                    "thumbprint": certificate.certificate.fingerprint(hashes.SHA1()).hex().upper(),  # noqa: S303
                },
                "subjectName": {
                    "clientId": fixed.client_ids["subject-name"],
                    "certificatePath": str(sni_cert),
                    "privateKeyPath": str(sni_key),
                },
                "federated": {
                    "clientId": fixed.client_ids["federated"],
                    "tokenFile": str(token_file),
                    "issuer": registry.federated_issuers[0].issuer,
                    "subject": self.federated_subject,
                },
                "limited": {
                    "clientId": fixed.client_ids["limited"],
                    "clientSecret": materials["limited"].secret,
                    "roles": ["Application.Read.All"],
                },
                "disabled": {
                    "clientId": fixed.client_ids["disabled"],
                    "clientSecret": materials["disabled"].secret,
                },
            },
            "managedIdentity": {
                "endpoint": f"{base_url}/msi/token",
                "header": registry.identity_header,
                "imdsHost": base_url,
                "systemAssigned": {
                    "clientId": identities["system"].client_id,
                    "objectId": identities["system"].object_id,
                },
                "userAssigned": {
                    "clientId": identities["user"].client_id,
                    "objectId": identities["user"].object_id,
                    "resourceId": identities["user"].resource_id,
                },
            },
            "control": f"{base_url}/_emulator",
            "truth": f"{base_url}/_emulator/truth",
        }
        return self.info

    def refresh_federated_token(self, path: Path) -> None:
        """Write a fresh workload-identity token, as the kubelet rotates the projected one."""
        token = mint_federated_token(
            self.tenant.registry.federated_issuers[0],
            subject=self.federated_subject,
            issued_at=time.time(),
            lifetime_seconds=FEDERATED_TOKEN_LIFETIME,
        )
        temporary = path.with_suffix(".tmp")
        write_file(temporary, token.encode(), private=True)
        os.replace(temporary, path)

    async def rotate_federated_token(self, path: Path) -> None:
        while True:
            await asyncio.sleep(FEDERATED_TOKEN_LIFETIME / 2)
            self.refresh_federated_token(path)


def write_info_file(path: Path, info: dict[str, Any]) -> None:
    """The info file holds client secrets: readable by its owner only, replaced atomically."""
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    write_file(temporary, json.dumps(info, indent=2).encode() + b"\n", private=True)
    os.replace(temporary, path)
