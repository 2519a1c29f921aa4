"""The monitor's settings: what can be configured, from where, and what happens when it is wrong.

Sources, highest precedence first: ``overrides`` (command-line options), environment variables
(``ENTRA_MONITOR_`` prefix, ``__`` between names), a ``.env`` file, the TOML file (``--config``,
default ``config/monitor.toml`` when it exists), the defaults. :func:`load_settings` merges them
and validates once; every problem becomes one line naming the setting, its source (``file:line``
or the variable) and what is accepted, and all of them are raised together as a
:class:`~monitor.errors.ConfigurationError`. Secrets are :class:`~pydantic.SecretStr`: no message,
repr, log or :func:`redacted` output shows them. :func:`render_config` writes the complete
commented file ``entra-monitor config init`` prints (and ``config/monitor.example.toml`` is).

Modules: ``models`` (the sections), ``sources`` (file, .env and environment layers, merging, and
where each value came from), ``problems`` (validation errors as lines), ``loading``
(:func:`load_settings`, :func:`redacted`), ``render`` (:func:`render_config`, TOML output).
"""

from __future__ import annotations

from monitor.settings.loading import (
    DEFAULT_CONFIG_FILE,
    DEFAULT_ENV_FILE,
    check_settings,
    load_settings,
    redacted,
)
from monitor.settings.models import (
    ENV_PREFIX,
    CheckConfig,
    HealthSettings,
    LogSettings,
    MonitorSettings,
    StateSettings,
    TenantSettings,
    WaiverSettings,
    WorkerSettings,
)
from monitor.settings.render import render_config, toml_document

__all__ = [
    "DEFAULT_CONFIG_FILE",
    "DEFAULT_ENV_FILE",
    "ENV_PREFIX",
    "CheckConfig",
    "HealthSettings",
    "LogSettings",
    "MonitorSettings",
    "StateSettings",
    "TenantSettings",
    "WaiverSettings",
    "WorkerSettings",
    "check_settings",
    "load_settings",
    "redacted",
    "render_config",
    "toml_document",
]
