"""Cloud presets, endpoint overrides and TLS trust (monitor/graph/clouds.py)."""

from __future__ import annotations

import ssl
from pathlib import Path

import httpx
import pytest

from monitor.errors import ConfigurationError
from monitor.graph.clouds import CLOUDS, Cloud, resolve_endpoints
from tests.support.emulator import RunningEmulator


def test_presets_are_microsofts_national_cloud_hosts() -> None:
    # https://learn.microsoft.com/graph/deployments
    assert dict(CLOUDS) == {
        "global": Cloud("global", "https://login.microsoftonline.com", "https://graph.microsoft.com"),
        "usgov": Cloud("usgov", "https://login.microsoftonline.us", "https://graph.microsoft.us"),
        "usgov-dod": Cloud("usgov-dod", "https://login.microsoftonline.us", "https://dod-graph.microsoft.us"),
        "china": Cloud("china", "https://login.chinacloudapi.cn", "https://microsoftgraph.chinacloudapi.cn"),
    }


@pytest.mark.parametrize(
    ("cloud", "authority", "scope", "base_url"),
    [
        (
            "global",
            "https://login.microsoftonline.com/contoso.onmicrosoft.com",
            "https://graph.microsoft.com/.default",
            "https://graph.microsoft.com/v1.0",
        ),
        (
            "usgov",
            "https://login.microsoftonline.us/contoso.onmicrosoft.com",
            "https://graph.microsoft.us/.default",
            "https://graph.microsoft.us/v1.0",
        ),
        (
            "usgov-dod",
            "https://login.microsoftonline.us/contoso.onmicrosoft.com",
            "https://dod-graph.microsoft.us/.default",
            "https://dod-graph.microsoft.us/v1.0",
        ),
        (
            "china",
            "https://login.chinacloudapi.cn/contoso.onmicrosoft.com",
            "https://microsoftgraph.chinacloudapi.cn/.default",
            "https://microsoftgraph.chinacloudapi.cn/v1.0",
        ),
    ],
)
def test_each_cloud_has_its_authority_scope_and_graph_root(
    cloud: str, authority: str, scope: str, base_url: str
) -> None:
    endpoints = resolve_endpoints(cloud)

    assert endpoints.cloud is CLOUDS[cloud]
    assert endpoints.authority("contoso.onmicrosoft.com") == authority
    assert endpoints.graph_scope == scope
    assert endpoints.graph_base_url() == base_url
    assert endpoints.ca_bundle is None


def test_overrides_move_requests_but_not_the_token_audience(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("")

    endpoints = resolve_endpoints(
        "usgov",
        authority_host="https://127.0.0.1:8443/",
        graph_endpoint="https://proxy.example.net:9443/graph/",
        ca_bundle=bundle,
    )

    assert endpoints.authority("tenant") == "https://127.0.0.1:8443/tenant"
    assert endpoints.graph_base_url("beta") == "https://proxy.example.net:9443/graph/beta"
    assert endpoints.graph_resource == "https://graph.microsoft.us"
    assert endpoints.graph_scope == "https://graph.microsoft.us/.default"
    assert endpoints.ca_bundle == bundle


def test_unknown_cloud_names_the_field_and_the_accepted_values() -> None:
    with pytest.raises(ConfigurationError) as raised:
        resolve_endpoints("germany")

    assert str(raised.value) == (
        "cloud: unknown cloud 'germany'; accepted values: global, usgov, usgov-dod, china"
    )


@pytest.mark.parametrize(
    ("field", "url", "message"),
    [
        (
            "authority_host",
            "http://127.0.0.1:8080",
            "authority_host: 'http://127.0.0.1:8080' is not an https",
        ),
        ("graph_endpoint", "http://graph.local", "graph_endpoint: 'http://graph.local' is not an https"),
        ("authority_host", "login.microsoftonline.com", "authority_host: 'login.microsoftonline.com' is not"),
        (
            "authority_host",
            "https://login.example.net/tenant",
            "authority_host: 'https://login.example.net/tenant' must consist of only a scheme, host and",
        ),
        ("graph_endpoint", "https://graph.example.net/?x=1", "graph_endpoint: 'https://graph.example.net/?x"),
        ("authority_host", "https:///path", "authority_host: 'https:///path' has no host name"),
        ("graph_endpoint", "https://graph.example.net:99999", "graph_endpoint: 'https://graph.example.net:"),
        (
            "authority_host",
            "https://user:hunter2@login.example.net",
            "authority_host: the URL must not contain",
        ),
    ],
)
def test_bad_override_names_the_field(field: str, url: str, message: str) -> None:
    with pytest.raises(ConfigurationError) as raised:
        resolve_endpoints(**{field: url})  # type: ignore[arg-type]

    assert str(raised.value).startswith(message)
    assert "hunter2" not in str(raised.value)


def test_missing_ca_bundle_names_the_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigurationError, match=r"^ca_bundle: .*missing\.pem is not a file"):
        resolve_endpoints(ca_bundle=tmp_path / "missing.pem")


def test_unreadable_ca_bundle_names_the_field(tmp_path: Path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("not a certificate")
    endpoints = resolve_endpoints(ca_bundle=bundle)

    with pytest.raises(ConfigurationError, match=r"^ca_bundle: cannot load CA certificates from"):
        endpoints.ssl_context()


def test_ssl_context_always_verifies() -> None:
    context = resolve_endpoints().ssl_context()

    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True


def test_ca_bundle_replaces_the_system_trust_store(emulator: RunningEmulator) -> None:
    endpoints = resolve_endpoints(ca_bundle=Path(emulator.info["caBundle"]))

    context = endpoints.ssl_context()

    assert context.verify_mode == ssl.CERT_REQUIRED
    assert context.check_hostname is True
    authorities = context.get_ca_certs()
    assert len(authorities) == 1
    with httpx.Client(verify=context) as http:
        assert http.get(f"{emulator.base_url}/_emulator/info").status_code == 200


def test_system_trust_store_refuses_the_emulators_private_ca(emulator: RunningEmulator) -> None:
    context = resolve_endpoints().ssl_context()

    with httpx.Client(verify=context) as http, pytest.raises(httpx.ConnectError, match="CERTIFICATE_VERIFY"):
        http.get(f"{emulator.base_url}/_emulator/info")
