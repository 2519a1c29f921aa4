"""entra-compliance-monitor: continuous compliance monitoring of Microsoft Entra ID tenants."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("entra-compliance-monitor")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
