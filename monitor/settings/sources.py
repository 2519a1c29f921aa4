"""Where settings come from, merged in order of precedence, remembering which source gave each value.

Sources, lowest first: the TOML file, ``.env``, the environment, then overrides (command-line
options). A :class:`Layer` is one source's values with a way to name the origin of any path in
them: ``monitor.toml:12`` for the file (the line of the key or table, found by scanning the text,
since :mod:`tomllib` keeps no positions), ``environment variable ENTRA_MONITOR_STATE__PATH`` for
a variable.

Environment variables are parsed by pydantic-settings' :class:`EnvSettingsSource` (prefix
``ENTRA_MONITOR_``, ``__`` between names, JSON for lists and tables). Two additions make them
usable with a file of several tenants:

- a list (``tenants``, ``waivers``, ``alerts.sinks``) is addressed element by element:
  ``TENANTS__0__…`` merges into the first tenant of the file, an index past the end adds one, and
  a tenant's name or a sink's id works too (``TENANTS__CONTOSO__CREDENTIAL__CLIENT_SECRET``,
  ``ALERTS__SINKS__OPS__URL``, matched ignoring case, with ``_`` for ``-``);
- a check id is written with ``_`` for ``-`` (``CHECKS__CREDENTIAL_EXPIRY__ENABLED``), and a check
  setting whose value starts with ``[`` or ``{`` is read as JSON.

A whole list in one variable (``ENTRA_MONITOR_TENANTS='[{…}]'``) replaces the file's list.
"""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic_settings import DotEnvSettingsSource, EnvSettingsSource
from pydantic_settings.exceptions import SettingsError

from monitor.errors import ConfigurationError
from monitor.settings.models import ENV_DELIMITER, ENV_PREFIX, MonitorSettings

SettingPath = tuple[str | int, ...]
LIST_PATHS: dict[tuple[str, ...], str | None] = {
    ("tenants",): "name",
    ("waivers",): None,
    ("alerts", "sinks"): "id",
}
"""Lists the environment addresses element by element, and the key that names an element."""


@dataclass(frozen=True)
class Problem:
    """One thing wrong with the settings: which setting, where it came from, and what is accepted."""

    path: SettingPath
    source: str
    message: str

    def __str__(self) -> str:
        return f"{setting_name(self.path)} ({self.source}): {self.message}"


def setting_name(path: SettingPath) -> str:
    """``("tenants", 0, "credential")`` → ``tenants[0].credential``."""
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else f".{part}" if text else str(part)
    return text or "(top level)"


@dataclass
class Layer:
    """One source's values and how to name the origin of a path inside them."""

    values: dict[str, Any]
    origin: Callable[[SettingPath], str]
    addresses_elements: bool = False
    """Whether a table of numbered or named keys addresses elements of a list (environment)."""


@dataclass
class Merged:
    """The merged values, the origin of each value, and the problems met while merging."""

    values: dict[str, Any] = field(default_factory=dict)
    origins: dict[SettingPath, tuple[Layer, SettingPath]] = field(default_factory=dict)
    problems: list[Problem] = field(default_factory=list)
    fallback: str = "not set"

    def origin(self, path: SettingPath) -> str:
        """The source of the value at ``path``, or of its nearest ancestor that has one."""
        for length in range(len(path), -1, -1):
            found = self.origins.get(path[:length])
            if found is not None:
                layer, source_path = found
                return layer.origin(source_path + path[length:])
        return self.fallback

    def record(self, path: SettingPath, layer: Layer, source_path: SettingPath) -> None:
        for known in [known for known in self.origins if known[: len(path)] == path]:
            del self.origins[known]
        self.origins[path] = (layer, source_path)


def merge(layers: list[Layer], fallback: str) -> Merged:
    """The layers merged, later ones winning; tables merge key by key, other values replace."""
    merged = Merged(fallback=fallback)
    for layer in layers:
        _merge_table(merged.values, layer.values, (), (), layer, merged)
    return merged


def _merge_table(
    target: dict[str, Any],
    values: Mapping[str, Any],
    path: SettingPath,
    source_path: SettingPath,
    layer: Layer,
    merged: Merged,
) -> None:
    for key, value in values.items():
        here, there = (*path, key), (*source_path, key)
        existing = target.get(key)
        if layer.addresses_elements and here in LIST_PATHS and isinstance(value, dict):
            current = existing if isinstance(existing, list) else []
            target[key] = _merge_elements(current, value, here, there, layer, merged)
        elif isinstance(value, dict) and isinstance(existing, dict):
            _merge_table(existing, value, here, there, layer, merged)
        else:
            target[key] = value
            merged.record(here, layer, there)


def _merge_elements(
    current: list[Any],
    values: Mapping[str, Any],
    path: SettingPath,
    source_path: SettingPath,
    layer: Layer,
    merged: Merged,
) -> list[Any]:
    elements = list(current)
    numbered = sorted((key for key in values if key.isdigit()), key=int)
    for key in numbered + [key for key in values if not key.isdigit()]:
        value, there = values[key], (*source_path, key)
        position = _position(elements, key, path)
        if position is None:
            merged.problems.append(Problem((*path, key), layer.origin(there), _no_element(elements, path)))
        elif position < len(elements) and isinstance(value, dict) and isinstance(elements[position], dict):
            _merge_table(elements[position], value, (*path, position), there, layer, merged)
        elif position < len(elements):
            elements[position] = value
            merged.record((*path, position), layer, there)
        else:
            elements.append(value)
            merged.record((*path, len(elements) - 1), layer, there)
    return elements


def _position(elements: list[Any], key: str, path: SettingPath) -> int | None:
    if key.isdigit():
        return min(int(key), len(elements))
    naming = LIST_PATHS.get(tuple(str(part) for part in path))
    if naming is None:
        return None
    wanted = _env_spelling(key)
    for position, element in enumerate(elements):
        if isinstance(element, dict) and _env_spelling(str(element.get(naming, ""))) == wanted:
            return position
    return None


def _no_element(elements: list[Any], path: SettingPath) -> str:
    accepted = f"an index from 0 to {len(elements)} ({len(elements)} adds one)"
    naming = LIST_PATHS.get(tuple(str(part) for part in path))
    if naming is not None:
        names = [str(element.get(naming)) for element in elements if isinstance(element, dict)]
        what = "tenant" if naming == "name" else "sink"
        accepted += f", or the {naming} of a {what} in the file ({', '.join(names) or 'none'})"
    return f"no such element; accepted: {accepted}"


def _env_spelling(name: str) -> str:
    return re.sub(r"[^A-Z0-9]", "_", name.upper())


def file_layer(path: Path) -> Layer:
    """The TOML file's values; ConfigurationError naming the file (and line) if it cannot be read."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigurationError(
            f"{path}: cannot read the settings file ({error.strerror}); accepted: a TOML file, "
            f"for example one written by `entra-monitor config init -o {path}`"
        ) from None
    try:
        values = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        found = re.search(r"\(at line (\d+), column \d+\)", str(error))
        where = f"{path}:{found.group(1)}" if found else str(path)
        reason = re.sub(r"\s*\(at line.*\)$", "", str(error))
        raise ConfigurationError(f"{where}: not valid TOML ({reason}); accepted: TOML 1.0") from None
    lines = key_lines(text)

    def origin(setting: SettingPath) -> str:
        for length in range(len(setting), 0, -1):
            line = lines.get(setting[:length])
            if line is not None:
                return f"{path}:{line}"
        return str(path)

    return Layer(values, origin)


_ARRAY_HEADER = re.compile(r"^\s*\[\[\s*([^\]]+?)\s*\]\]")
_TABLE_HEADER = re.compile(r"^\s*\[\s*([^\[\]]+?)\s*\]")
_SIMPLE_KEY = r"(?:[A-Za-z0-9_-]+|\"[^\"]*\"|'[^']*')"
_KEY = re.compile(rf"^\s*({_SIMPLE_KEY}(?:\s*\.\s*{_SIMPLE_KEY})*)\s*=")
_KEY_PART = re.compile(r"\"([^\"]*)\"|'([^']*)'|([A-Za-z0-9_-]+)")


def key_lines(text: str) -> dict[SettingPath, int]:
    """The first line of each table and key of a TOML document, by path (array elements by
    index). Best effort: a line inside a multi-line string that looks like a key may be taken
    for one, which only makes a message point at a nearby line."""
    lines: dict[SettingPath, int] = {}
    arrays: dict[SettingPath, int] = {}
    table: SettingPath = ()
    for number, line in enumerate(text.splitlines(), start=1):
        if match := _ARRAY_HEADER.match(line):
            *parents, last = _parts(match.group(1))
            array = (*_resolve(tuple(parents), arrays), last)
            arrays[array] = arrays.get(array, 0) + 1
            table = (*array, arrays[array] - 1)
        elif match := _TABLE_HEADER.match(line):
            table = _resolve(_parts(match.group(1)), arrays)
        elif match := _KEY.match(line):
            for length in range(1, len(parts := _parts(match.group(1))) + 1):
                lines.setdefault((*table, *parts[:length]), number)
            continue
        else:
            continue
        lines.setdefault(table, number)
    return lines


def _parts(dotted: str) -> tuple[str, ...]:
    return tuple(
        next(group for group in match.groups() if group is not None) for match in _KEY_PART.finditer(dotted)
    )


def _resolve(parts: tuple[str, ...], arrays: Mapping[SettingPath, int]) -> SettingPath:
    """A header's path, with each array of tables it passes through replaced by its last element."""
    path: SettingPath = ()
    for part in parts:
        path = (*path, part)
        if path in arrays:
            path = (*path, arrays[path] - 1)
    return path


class _MappingEnvSource(EnvSettingsSource):
    """pydantic-settings' environment source, reading the given variables instead of os.environ."""

    def __init__(self, variables: Mapping[str, str]) -> None:
        self._variables = {name.lower(): value for name, value in variables.items()}
        super().__init__(MonitorSettings, case_sensitive=False)

    def _load_env_vars(self) -> Mapping[str, str | None]:
        return self._variables


def dotenv_variables(path: Path) -> dict[str, str]:
    """The variables of a ``.env`` file as pydantic-settings reads it (empty when there is none)."""
    source = DotEnvSettingsSource(MonitorSettings, env_file=path, dotenv_filtering="only_existing")
    return {name: value for name, value in source.env_vars.items() if value is not None}


def environment_layer(variables: Mapping[str, str], describe: str) -> tuple[Layer, list[Problem]]:
    """The ``ENTRA_MONITOR_…`` variables as settings, and the variables that cannot be used.

    ``describe`` formats a variable name as a source, e.g. ``"environment variable {}"``.
    """
    ours = {name.upper(): value for name, value in variables.items() if name.upper().startswith(ENV_PREFIX)}

    def origin(setting: SettingPath) -> str:
        names = [
            ENV_PREFIX + ENV_DELIMITER.join(_env_spelling(str(part)) for part in setting[:length])
            for length in range(len(setting), 0, -1)
        ]
        exact = [name for name in names if name in ours]
        if exact:
            return describe.format(exact[0])
        # A value no variable sets, inside a table that variables set: name the table's variables.
        for name in names:
            inside = [known for known in ours if known.startswith(name + ENV_DELIMITER)]
            if inside:
                return describe.format(inside[0] if len(inside) == 1 else name + ENV_DELIMITER + "…")
        return describe.format(ENV_PREFIX + "…")

    problems: list[Problem] = []
    usable: dict[str, str] = {}
    for name, value in ours.items():
        head = name[len(ENV_PREFIX) :].split(ENV_DELIMITER)[0].lower()
        if head not in MonitorSettings.model_fields:
            accepted = ", ".join(MonitorSettings.model_fields)
            problems.append(Problem((head,), describe.format(name), f"unknown setting; accepted: {accepted}"))
        elif not _parses(name, value):
            message = "not valid JSON; accepted: JSON, or one variable per setting with __ between names"
            problems.append(Problem(_path_of(name), describe.format(name), message))
        else:
            usable[name] = value
    values = _MappingEnvSource(usable)()
    checks = values.get("checks")
    if isinstance(checks, dict):
        values["checks"] = {key.replace("_", "-"): _decode_settings(value) for key, value in checks.items()}
    return Layer(values, origin, addresses_elements=True), problems


def _parses(name: str, value: str) -> bool:
    try:
        _MappingEnvSource({name: value})()
    except SettingsError:
        return False
    return True


def _path_of(name: str) -> SettingPath:
    return tuple(part.lower() for part in name[len(ENV_PREFIX) :].split(ENV_DELIMITER))


def _decode_settings(check: Any) -> Any:
    if not isinstance(check, dict) or not isinstance(check.get("settings"), dict):
        return check
    return {**check, "settings": {key: _json_or_text(value) for key, value in check["settings"].items()}}


def _json_or_text(value: Any) -> Any:
    if isinstance(value, str) and value.lstrip()[:1] in ("[", "{"):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def overrides_layer(overrides: Mapping[str, Any]) -> Layer:
    """Overrides (command-line options) as a layer; ``"health.port"`` keys are split at dots."""
    values: dict[str, Any] = {}
    for key, value in overrides.items():
        *parents, last = key.split(".")
        table = values
        for parent in parents:
            table = table.setdefault(parent, {})
        table[last] = value
    return Layer(values, lambda setting: "command line")
