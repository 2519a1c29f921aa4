"""Which Microsoft cloud a tenant lives in, and the endpoints the monitor talks to for it.

A :class:`Cloud` is one of Microsoft's deployments (global, US Government L4 and L5, China); its
hosts come from https://learn.microsoft.com/graph/deployments. :func:`resolve_endpoints` picks a
cloud and applies overrides (an emulator, a private-link or proxy host) into :class:`Endpoints`.

Two rules hold whatever the overrides say:

- the token audience is always the cloud's own Graph resource (``graph_resource``): a proxy or
  emulator in front of Graph still wants a token *for Graph*;
- TLS is always verified. A custom CA bundle replaces the system trust store; nothing turns
  verification off, and only ``https://`` endpoints are accepted.

Raises :class:`~monitor.errors.ConfigurationError` naming the field and what it accepts.
"""

from __future__ import annotations

import ssl
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from urllib.parse import urlsplit

from monitor.errors import ConfigurationError


@dataclass(frozen=True)
class Cloud:
    """One Microsoft cloud: its token service host and its Microsoft Graph root (no trailing slash)."""

    name: str
    authority_host: str
    graph_endpoint: str


CLOUDS: Mapping[str, Cloud] = MappingProxyType(
    {
        cloud.name: cloud
        for cloud in (
            Cloud("global", "https://login.microsoftonline.com", "https://graph.microsoft.com"),
            # GCC High (L4) and DoD (L5) share the token service but not the Graph host.
            Cloud("usgov", "https://login.microsoftonline.us", "https://graph.microsoft.us"),
            Cloud("usgov-dod", "https://login.microsoftonline.us", "https://dod-graph.microsoft.us"),
            # Operated by 21Vianet.
            Cloud("china", "https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn"),
        )
    }
)
"""The clouds by name: ``global``, ``usgov``, ``usgov-dod`` and ``china``."""


@dataclass(frozen=True)
class Endpoints:
    """What one tenant connects to: a cloud, possibly with its hosts overridden, and the CA bundle
    that TLS connections trust (``None``: the system trust store)."""

    cloud: Cloud
    authority_host: str
    graph_endpoint: str
    ca_bundle: Path | None = None

    @property
    def graph_resource(self) -> str:
        """The token audience: the cloud's Graph root even when ``graph_endpoint`` is overridden."""
        return self.cloud.graph_endpoint

    @property
    def graph_scope(self) -> str:
        """The client-credentials scope: every application permission granted for Graph."""
        return f"{self.graph_resource}/.default"

    def authority(self, tenant_id: str) -> str:
        """The MSAL authority of a tenant, ``{authority_host}/{tenant_id}``."""
        return f"{self.authority_host}/{tenant_id}"

    def graph_base_url(self, version: str = "v1.0") -> str:
        """Where Graph requests of an API version go, e.g. ``https://graph.microsoft.com/v1.0``."""
        return f"{self.graph_endpoint}/{version}"

    def ssl_context(self) -> ssl.SSLContext:
        """A client context that verifies certificates and host names; trusts only ``ca_bundle``
        when one is given. Raises ConfigurationError if the bundle cannot be loaded."""
        if self.ca_bundle is None:
            return ssl.create_default_context()
        try:
            return ssl.create_default_context(cafile=str(self.ca_bundle))
        except (OSError, ssl.SSLError) as error:
            raise ConfigurationError(
                f"ca_bundle: cannot load CA certificates from {self.ca_bundle} ({error}); "
                "give a PEM file of the CA certificates to trust"
            ) from None


def resolve_endpoints(
    cloud: str = "global",
    *,
    authority_host: str | None = None,
    graph_endpoint: str | None = None,
    ca_bundle: Path | None = None,
) -> Endpoints:
    """The endpoints for ``cloud``, with any overrides applied (trailing slashes removed).

    Raises ConfigurationError for an unknown cloud, a non-https or malformed override, or a CA
    bundle that is not a file.
    """
    preset = CLOUDS.get(cloud)
    if preset is None:
        raise ConfigurationError(f"cloud: unknown cloud {cloud!r}; accepted values: {', '.join(CLOUDS)}")
    if ca_bundle is not None and not Path(ca_bundle).is_file():
        raise ConfigurationError(f"ca_bundle: {ca_bundle} is not a file; give a PEM file of CA certificates")
    return Endpoints(
        cloud=preset,
        authority_host=_https_root("authority_host", authority_host or preset.authority_host, path=False),
        graph_endpoint=_https_root("graph_endpoint", graph_endpoint or preset.graph_endpoint, path=True),
        ca_bundle=Path(ca_bundle) if ca_bundle is not None else None,
    )


def _https_root(field: str, url: str, *, path: bool) -> str:
    """``url`` without a trailing slash, if it is an https URL with a host and nothing after the
    path (and no path at all unless ``path``: MSAL reads the tenant from the authority's first
    path segment). Messages never repeat user information (it may hold a password)."""
    stripped = url.strip().rstrip("/")
    parts = urlsplit(stripped)
    shown = repr(stripped) if "@" not in parts.netloc else "the URL"
    if parts.scheme != "https":
        raise ConfigurationError(
            f"{field}: {shown} is not an https:// URL; only TLS endpoints are accepted "
            "(use ca_bundle to trust a private CA)"
        )
    if "@" in parts.netloc:
        raise ConfigurationError(f"{field}: the URL must not contain user information")
    try:
        parts.port  # noqa: B018 - reading the port validates it
    except ValueError:
        raise ConfigurationError(f"{field}: {shown} has an invalid port") from None
    if not parts.hostname:
        raise ConfigurationError(f"{field}: {shown} has no host name")
    if parts.query or parts.fragment or (parts.path and not path):
        expected = "scheme, host, optional port and path" if path else "scheme, host and optional port"
        raise ConfigurationError(f"{field}: {shown} must consist of only a {expected}")
    return stripped
