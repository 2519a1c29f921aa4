"""Client assertions: the JWTs a client presents instead of a secret.

Two kinds reach the token endpoint as ``client_assertion``:

- a **certificate assertion**, signed by the client with the key of a certificate registered on
  the app (found by its ``x5t``/``x5t#S256`` header) or, for subject-name/issuer trust, of the
  certificate carried in the ``x5c`` header; ``iss`` = ``sub`` = the client id;
- a **federated assertion**, issued by an external OIDC issuer the tenant trusts (a Kubernetes
  cluster, a CI pipeline), matched against the app's federated identity credentials by issuer,
  subject and audience. :func:`mint_federated_token` makes the tokens such an issuer would write
  to ``AZURE_FEDERATED_TOKEN_FILE``.

Assertion lifetimes (five minutes of skew) and the dates of an ``x5c`` certificate are checked
against the **host's real clock**, since clients make both with it; the dates of credentials
registered on the app against the emulator (tenant) clock.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import jwt
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from emulator.crypto import sha1_thumbprint, sha256_thumbprint
from emulator.identity import errors
from emulator.identity.registry import (
    FEDERATED_AUDIENCE,
    ClientRegistration,
    FederatedIssuer,
    SubjectNameTrust,
)
from emulator.identity.tokens import SIGNATURE_ONLY_OPTIONS

CLOCK_SKEW_SECONDS = 300
_SUPPORTED_ALGORITHMS = ("RS256", "PS256")


def mint_federated_token(
    issuer: FederatedIssuer,
    *,
    subject: str,
    audience: str = FEDERATED_AUDIENCE,
    issued_at: float,
    lifetime_seconds: int = 3600,
) -> str:
    """An RS256 token shaped like an Azure Workload Identity projected service-account token.

    ``aud`` is a one-element list; a ``system:serviceaccount:<namespace>:<name>`` subject also
    gets the ``kubernetes.io`` claim Kubernetes adds.
    """
    issued = int(issued_at)
    claims: dict[str, Any] = {
        "aud": [audience],
        "exp": issued + lifetime_seconds,
        "iat": issued,
        "iss": issuer.issuer,
    }
    parts = subject.split(":")
    if len(parts) == 4 and parts[:2] == ["system", "serviceaccount"]:
        claims["kubernetes.io"] = {
            "namespace": parts[2],
            "serviceaccount": {
                "name": parts[3],
                "uid": str(uuid.uuid5(uuid.NAMESPACE_URL, subject)),
            },
        }
    claims |= {"nbf": issued, "sub": subject}
    return jwt.encode(claims, issuer.private_key, algorithm="RS256", headers={"kid": issuer.key_id})


@dataclass(frozen=True)
class AssertionCheck:
    """What an assertion is checked against.

    ``accepted_audiences`` holds the token endpoint URLs (and issuer) a certificate assertion may
    name, compared case-insensitively without a trailing ``/``.
    """

    federated_issuers: Sequence[FederatedIssuer]
    accepted_audiences: Collection[str]
    tenant_now: datetime
    real_now: float


def verify_client_assertion(assertion: str, client: ClientRegistration, check: AssertionCheck) -> None:
    """Authenticate ``client`` by ``assertion``; raises :class:`errors.IdentityPlatformError`.

    An assertion whose ``iss`` or ``sub`` is the client id is a certificate assertion; any other
    is treated as federated.
    """
    try:
        header = jwt.get_unverified_header(assertion)
        claims = jwt.decode(assertion, options={"verify_signature": False})
    except jwt.PyJWTError:
        raise errors.malformed_assertion() from None
    if client.client_id in (claims.get("iss"), claims.get("sub")):
        _verify_certificate_assertion(assertion, header, claims, client, check)
    else:
        _verify_federated_assertion(assertion, header, claims, client, check)


# --- certificate assertions ---------------------------------------------------------------------


def _verify_certificate_assertion(
    assertion: str,
    header: dict[str, Any],
    claims: dict[str, Any],
    client: ClientRegistration,
    check: AssertionCheck,
) -> None:
    if claims.get("iss") != claims.get("sub"):
        raise errors.assertion_subject_mismatches_issuer()
    certificate, thumbprint_hex = _signing_certificate(header, client, check)
    _verify_signature(assertion, header, certificate, client.client_id, thumbprint_hex)
    _check_audience(claims, check.accepted_audiences)
    _check_lifetime(claims, check.real_now)
    if not claims.get("jti"):
        raise errors.malformed_assertion()


def _decode_thumbprint(value: object) -> bytes:
    if not isinstance(value, str) or not value:
        raise errors.malformed_assertion()
    text = value.strip().rstrip("=").replace("+", "-").replace("/", "_")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise errors.malformed_assertion() from None


def _signing_certificate(
    header: dict[str, Any], client: ClientRegistration, check: AssertionCheck
) -> tuple[x509.Certificate, str]:
    """The certificate whose key must have signed the assertion, and its thumbprint in hex."""
    sha1 = _decode_thumbprint(header["x5t"]) if "x5t" in header else None
    sha256 = _decode_thumbprint(header["x5t#S256"]) if "x5t#S256" in header else None
    chain = header.get("x5c")
    if sha1 is None and sha256 is None and not chain:
        raise errors.missing_thumbprint()
    thumbprint_hex = (sha1 or sha256 or b"").hex().upper()
    for registered in client.certificates:
        certificate = registered.certificate
        if sha1 == sha1_thumbprint(certificate) or sha256 == sha256_thumbprint(certificate):
            if not registered.start <= check.tenant_now <= registered.end:
                raise errors.certificate_expired(client.client_id, thumbprint_hex)
            return certificate, thumbprint_hex
    if client.subject_name_trust is not None and isinstance(chain, list) and chain:
        leaf = _subject_name_certificate(chain, client.subject_name_trust, check.real_now)
        return leaf, thumbprint_hex or sha1_thumbprint(leaf).hex().upper()
    raise errors.certificate_not_registered(client.client_id, thumbprint_hex)


def _subject_names(certificate: x509.Certificate) -> list[str]:
    names = [certificate.subject.rfc4514_string()]
    names += [
        str(attribute.value) for attribute in certificate.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    ]
    try:
        alternative = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        names += alternative.value.get_values_for_type(x509.DNSName)
    except x509.ExtensionNotFound:
        pass
    return names


def _subject_name_certificate(chain: list[Any], trust: SubjectNameTrust, real_now: float) -> x509.Certificate:
    """The ``x5c`` leaf, if it has the trusted subject and was issued by the trusted issuer."""
    try:
        # MSAL copies the PEM body, line breaks included.
        encoded = "".join(str(chain[0]).split())
        leaf = x509.load_der_x509_certificate(base64.b64decode(encoded, validate=True))
    except (binascii.Error, ValueError):
        raise errors.malformed_assertion() from None
    names = _subject_names(leaf)
    wanted = trust.subject.strip().lower()
    if not any(name.lower() in (wanted, f"cn={wanted}") or f"cn={name.lower()}" == wanted for name in names):
        raise errors.subject_name_not_authorized(", ".join(names[1:] or names))
    try:
        leaf.verify_directly_issued_by(trust.issuer_certificate)
    except (ValueError, TypeError, InvalidSignature):
        raise errors.certificate_chain_untrusted() from None
    # The client made this certificate with its own clock, as it signs assertions with it.
    now = datetime.fromtimestamp(real_now, UTC)
    if not leaf.not_valid_before_utc <= now <= leaf.not_valid_after_utc:
        raise errors.certificate_chain_untrusted()
    return leaf


def _verify_signature(
    assertion: str,
    header: dict[str, Any],
    certificate: x509.Certificate,
    client_id: str,
    thumbprint_hex: str | None,
) -> None:
    algorithm = header.get("alg")
    if algorithm not in _SUPPORTED_ALGORITHMS:
        reason = f"The signing algorithm '{algorithm}' is not supported."
        raise errors.assertion_signature_invalid(client_id, thumbprint_hex, reason)
    public_key = certificate.public_key()
    if not isinstance(public_key, rsa.RSAPublicKey):
        reason = "Only RSA certificates can sign client assertions."
        raise errors.assertion_signature_invalid(client_id, thumbprint_hex, reason)
    try:
        jwt.decode(assertion, public_key, algorithms=[str(algorithm)], options=SIGNATURE_ONLY_OPTIONS)
    except jwt.PyJWTError:
        raise errors.assertion_signature_invalid(client_id, thumbprint_hex) from None


def _check_audience(claims: dict[str, Any], accepted: Collection[str]) -> None:
    audience = claims.get("aud")
    if isinstance(audience, list):
        if len(audience) > 1:
            raise errors.assertion_too_many_audiences(len(audience))
        audience = audience[0] if audience else None
    normalized = {value.rstrip("/").lower() for value in accepted}
    if not isinstance(audience, str) or audience.rstrip("/").lower() not in normalized:
        raise errors.assertion_audience_invalid()


def _check_lifetime(claims: dict[str, Any], real_now: float) -> None:
    expires, not_before = claims.get("exp"), claims.get("nbf", 0)
    if not isinstance(expires, int | float) or not isinstance(not_before, int | float):
        raise errors.malformed_assertion()
    if expires + CLOCK_SKEW_SECONDS < real_now or not_before - CLOCK_SKEW_SECONDS > real_now:
        raise errors.assertion_outside_lifetime(real_now, float(not_before), float(expires))


# --- federated assertions -----------------------------------------------------------------------


def _verify_federated_assertion(
    assertion: str,
    header: dict[str, Any],
    claims: dict[str, Any],
    client: ClientRegistration,
    check: AssertionCheck,
) -> None:
    issuer = claims.get("iss")
    if not isinstance(issuer, str):
        raise errors.malformed_assertion()
    # Matching is case-sensitive, as Entra's has been since 2024.
    candidates = [credential for credential in client.federated_credentials if credential.issuer == issuer]
    if not candidates:
        raise errors.federated_issuer_mismatch(issuer)
    _verify_federated_signature(assertion, header, issuer, client.client_id, check.federated_issuers)
    subject = claims.get("sub")
    candidates = [credential for credential in candidates if credential.subject == subject]
    if not candidates:
        raise errors.federated_subject_mismatch(str(subject))
    audience = claims.get("aud")
    presented = [audience] if isinstance(audience, str) else list(audience or [])
    if not any(value in credential.audiences for credential in candidates for value in presented):
        raise errors.federated_audience_mismatch(", ".join(str(value) for value in presented))
    _check_lifetime(claims, check.real_now)


def _verify_federated_signature(
    assertion: str,
    header: dict[str, Any],
    issuer: str,
    client_id: str,
    trusted: Sequence[FederatedIssuer],
) -> None:
    keys = [candidate for candidate in trusted if candidate.issuer == issuer]
    key_id = header.get("kid")
    matching = [candidate for candidate in keys if key_id in (None, candidate.key_id)]
    if not matching:
        reason = "No matching signing key was found in the issuer's published keys."
        raise errors.assertion_signature_invalid(client_id, reason=reason)
    for candidate in matching:
        try:
            jwt.decode(
                assertion,
                candidate.private_key.public_key(),
                algorithms=["RS256"],
                options=SIGNATURE_ONLY_OPTIONS,
            )
            return
        except jwt.PyJWTError:
            continue
    raise errors.assertion_signature_invalid(client_id)
