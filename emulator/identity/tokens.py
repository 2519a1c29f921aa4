"""Access tokens of the emulated tenant: issued, published (JWKS) and validated.

Tokens are RS256 JWTs shaped like real app-only Microsoft Graph v1.0 access tokens::

    header  {"typ": "JWT", "alg": "RS256", "x5t": kid, "kid": kid}
    claims  aud, iss "https://sts.windows.net/{tid}/", iat, nbf, exp, aio, app_displayname, appid,
            appidacr, idp, idtyp "app", oid, rh, roles (omitted when empty), sub (= oid), tid, uti,
            ver "1.0", xms_tcdt, and xms_mirid for managed identities.

Every time in a token is in the emulator clock (``EmulatorClock.timestamp()``), so moving the clock
forward expires tokens. The signing key sits in a self-signed certificate, as Entra's keys do; its
``kid`` (and ``x5t``) is the unpadded base64url SHA-1 thumbprint of that certificate.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from emulator.clock import EmulatorClock
from emulator.crypto import self_signed_certificate, sha1_thumbprint
from emulator.identity.registry import GRAPH_APP_ID, GRAPH_RESOURCE

if TYPE_CHECKING:
    from jwt.types import Options

GRAPH_AUDIENCES = frozenset({GRAPH_RESOURCE, GRAPH_RESOURCE + "/", GRAPH_APP_ID})
"""Every ``aud`` Microsoft Graph accepts."""
MONITOR_RESOURCE = "https://monitor.azure.com"
MONITOR_AUDIENCE = MONITOR_RESOURCE + "/"
"""The ``aud`` of Azure Monitor ingestion tokens (scope ``https://monitor.azure.com//.default``)."""
MONITOR_AUDIENCES = frozenset({MONITOR_RESOURCE, MONITOR_AUDIENCE})

MESSAGE_EMPTY = "Access token is empty."
MESSAGE_MALFORMED = (
    "IDX14100: JWT is not well formed, there are no dots (.).\nThe token needs to be in JWS or "
    "JWE Compact Serialization Format. (JWS): 'EncodedHeader.EncodedPayload.EncodedSignature'. "
    "(JWE): 'EncodedProtectedHeader.EncodedEncryptedKey.EncodedInitializationVector."
    "EncodedCiphertext.EncodedAuthenticationTag'."
)
MESSAGE_VALIDATION_FAILURE = "Access token validation failure."
MESSAGE_INVALID_AUDIENCE = "Access token validation failure. Invalid audience."
MESSAGE_INVALID_ISSUER = "Access token validation failure. Invalid issuer."  # UNCONFIRMED wording
MESSAGE_EXPIRED = "Lifetime validation failed, the token is expired."
MESSAGE_NOT_YET_VALID = "Lifetime validation failed, the token is not yet valid."  # UNCONFIRMED

SIGNATURE_ONLY_OPTIONS: Options = {
    "verify_signature": True,
    "verify_exp": False,
    "verify_nbf": False,
    "verify_iat": False,
    "verify_aud": False,
    "verify_iss": False,
    "verify_sub": False,
    "verify_jti": False,
}


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    expires_on: int
    """Epoch seconds in the emulator clock."""


@dataclass(frozen=True)
class AccessTokenClaims:
    tenant_id: str
    app_id: str
    object_id: str
    roles: frozenset[str]
    audience: str
    expires_at: float
    issued_at: float


@dataclass(frozen=True)
class TokenAudience:
    """What a token for one resource looks like: its ``aud`` and whether it carries app roles."""

    audience: str
    carries_roles: bool


class InvalidToken(Exception):  # noqa: N818 - the name the Graph routes import
    """A token Graph rejects; ``message`` is the text of its InvalidAuthenticationToken error."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def resolve_resource(resource: str) -> TokenAudience | None:
    """The audience for a resource identifier (an application ID URI or app id, no ``/.default``).

    Microsoft Graph (URI or app id) carries the caller's app roles; Azure Monitor ingestion gets a
    token without roles. A trailing ``/`` is ignored. ``None`` for any other resource.
    """
    normalized = resource.rstrip("/").lower()
    if normalized == GRAPH_RESOURCE:
        return TokenAudience(GRAPH_RESOURCE, carries_roles=True)
    if normalized == GRAPH_APP_ID:
        return TokenAudience(GRAPH_APP_ID, carries_roles=True)
    if normalized == MONITOR_RESOURCE:
        return TokenAudience(MONITOR_AUDIENCE, carries_roles=False)
    return None


def _base64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def _uint(value: int) -> str:
    return _base64url(value.to_bytes((value.bit_length() + 7) // 8, "big"))


class TokenIssuer:
    """Signs access tokens with one RSA key and validates the tokens it signed.

    ``lifetime_seconds`` is both ``exp - iat`` and the ``expires_in`` reported to clients.
    ``tenant_created_at`` feeds ``xms_tcdt`` (three years before the clock's start if omitted).
    """

    def __init__(
        self,
        clock: EmulatorClock,
        lifetime_seconds: int = 3599,
        signing_key: rsa.RSAPrivateKey | None = None,
        *,
        tenant_created_at: datetime | None = None,
    ) -> None:
        if lifetime_seconds <= 0:
            raise ValueError("a token lifetime must be positive")
        self._clock = clock
        self.lifetime_seconds = lifetime_seconds
        self._key = signing_key or rsa.generate_private_key(public_exponent=65537, key_size=2048)
        public_der = self._key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        serial = int.from_bytes(hashlib.sha256(public_der).digest()[:8], "big") >> 1 or 1
        self._certificate = self_signed_certificate(
            self._key,
            "accounts.accesscontrol.windows.net",
            not_before=clock.start - timedelta(days=30),
            not_after=clock.start + timedelta(days=5 * 365),
            serial=serial,
        )
        self.key_id = _base64url(sha1_thumbprint(self._certificate))
        created = tenant_created_at or clock.start - timedelta(days=3 * 365)
        self._tenant_created = int(created.timestamp())

    def issue(
        self,
        *,
        tenant_id: str,
        app_id: str,
        object_id: str,
        roles: Sequence[str],
        audience: str,
        app_id_acr: str,
        managed_identity_resource_id: str | None = None,
        app_display_name: str | None = None,
    ) -> IssuedToken:
        """Sign an app-only token valid from now (emulator clock) for the configured lifetime.

        ``app_id_acr`` is "1" for a secret, "2" for a certificate, assertion or managed identity.
        """
        issued_at = int(self._clock.timestamp())
        expires_on = issued_at + self.lifetime_seconds
        authority = f"https://sts.windows.net/{tenant_id}/"
        claims: dict[str, Any] = {
            "aud": audience,
            "iss": authority,
            "iat": issued_at,
            "nbf": issued_at,
            "exp": expires_on,
            "aio": secrets.token_urlsafe(48),
        }
        if app_display_name:
            claims["app_displayname"] = app_display_name
        claims |= {
            "appid": app_id,
            "appidacr": app_id_acr,
            "idp": authority,
            "idtyp": "app",
            "oid": object_id,
            "rh": f"0.A{secrets.token_urlsafe(60)}.",
        }
        if roles:
            claims["roles"] = list(roles)
        claims |= {
            "sub": object_id,
            "tid": tenant_id,
            "uti": secrets.token_urlsafe(16),
            "ver": "1.0",
            "xms_tcdt": self._tenant_created,
        }
        if managed_identity_resource_id:
            claims["xms_mirid"] = managed_identity_resource_id
        headers = {"typ": "JWT", "alg": "RS256", "x5t": self.key_id, "kid": self.key_id}
        token = jwt.encode(claims, self._key, algorithm="RS256", headers=headers)
        return IssuedToken(token, expires_in=self.lifetime_seconds, expires_on=expires_on)

    def validate(self, token: str, *, tenant_id: str, audiences: Collection[str]) -> AccessTokenClaims:
        """Check signature, ``aud`` (one of ``audiences``), tenant and lifetime (emulator clock).

        Raises :class:`InvalidToken` carrying Graph's message for the first check that fails.
        """
        claims = self._verified_claims(token)
        audience = claims.get("aud")
        if not isinstance(audience, str) or audience not in audiences:
            raise InvalidToken(MESSAGE_INVALID_AUDIENCE)
        if claims.get("tid") != tenant_id or claims.get("iss") != f"https://sts.windows.net/{tenant_id}/":
            raise InvalidToken(MESSAGE_INVALID_ISSUER)
        now = self._clock.timestamp()
        try:
            expires_at, not_before = float(claims["exp"]), float(claims.get("nbf", claims["iat"]))
            issued_at = float(claims["iat"])
        except (KeyError, TypeError, ValueError):
            raise InvalidToken(MESSAGE_VALIDATION_FAILURE) from None
        if now >= expires_at:
            raise InvalidToken(MESSAGE_EXPIRED)
        if now < not_before:
            raise InvalidToken(MESSAGE_NOT_YET_VALID)
        return AccessTokenClaims(
            tenant_id=tenant_id,
            app_id=str(claims.get("appid", "")),
            object_id=str(claims.get("oid", "")),
            roles=frozenset(str(role) for role in claims.get("roles", ())),
            audience=audience,
            expires_at=expires_at,
            issued_at=issued_at,
        )

    def _verified_claims(self, token: str) -> dict[str, Any]:
        if not token or not token.strip():
            raise InvalidToken(MESSAGE_EMPTY)
        if token.count(".") != 2:
            raise InvalidToken(MESSAGE_MALFORMED)
        try:
            header = jwt.get_unverified_header(token)
            if header.get("kid", self.key_id) != self.key_id:
                raise InvalidToken(MESSAGE_VALIDATION_FAILURE)
            return jwt.decode(
                token, self._key.public_key(), algorithms=["RS256"], options=SIGNATURE_ONLY_OPTIONS
            )
        except jwt.InvalidSignatureError:
            raise InvalidToken(MESSAGE_VALIDATION_FAILURE) from None
        except jwt.DecodeError:
            raise InvalidToken(MESSAGE_MALFORMED) from None
        except jwt.InvalidTokenError:
            raise InvalidToken(MESSAGE_VALIDATION_FAILURE) from None

    def jwks(self) -> dict[str, Any]:
        """The JSON Web Key Set of the signing key, as ``/discovery/v2.0/keys`` serves it."""
        numbers = self._key.public_key().public_numbers()
        certificate_der = self._certificate.public_bytes(serialization.Encoding.DER)
        key = {
            "kty": "RSA",
            "use": "sig",
            "kid": self.key_id,
            "x5t": self.key_id,
            "n": _uint(numbers.n),
            "e": _uint(numbers.e),
            "x5c": [base64.b64encode(certificate_der).decode("ascii")],
            "cloud_instance_name": "microsoftonline.com",
        }
        return {"keys": [key]}
