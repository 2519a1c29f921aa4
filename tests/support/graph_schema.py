"""Check JSON objects served by the emulator against the published Microsoft Graph metadata.

``GraphSchema.load()`` parses the reference data in ``METADATA_DIR`` (or ``$GRAPH_METADATA_DIR``)
once per directory: the v1.0 CSDL and the beta name lists described in its README.

v1.0 (from the CSDL): every property must be declared on the type or a base type; values must
have the declared Edm, enum, complex or collection type; ``Nullable="false"`` properties must
not be null; navigation properties must not be inline unless they are ``ContainsTarget`` (those
are checked as their entity type); ``@odata.type`` must name a concrete type that is the
declared type or derives from it, and the object is then checked as that type (an abstract
declared type needs one); evolvable-enum members declared after ``unknownFutureValue`` are
reported because Graph sends them only to clients asking ``Prefer:
include-unknown-enum-members``. Open types accept undeclared (dynamic) properties without
checking them, except directory objects (``directoryObject`` and its derived types, all open in
the CSDL), whose only dynamic properties are directory extension attributes named
``extension_<appId without dashes>_<name>``; otherwise a misspelt property on a user or service
principal would go unnoticed. ``microsoft.graph.Json`` and ``Edm.Untyped`` accept anything.

beta (names only): the JSON lists hold, per type, the *declared* property and navigation names;
they carry no types, no nullability, no enum member order and no base types. Base types are
therefore taken from the v1.0 CSDL for types it knows; a beta entity type that declares ``id``
itself is a root (beta's ``conditionalAccessPolicy`` and ``namedLocation`` are); any other entity
type unknown to v1.0 (``servicePrincipalSignInActivity``) is assumed to derive from ``entity``,
the only way such a type gets its ``id`` key. Only property names are checked. A nested object
is checked by name when its type can be known: from its own ``@odata.type``, or because v1.0
declares the same property on the same type with a structured type that beta also has
(``keyCredentials``); otherwise only the top level is checked (``lastSignInActivity`` of
``servicePrincipalSignInActivity`` is not). Enum members and primitive types are not checked.

Problems are strings ``"<location>: <what is wrong>"``; the location is a JSON pointer into the
object (``/keyCredentials/0/endDateTime``), written ``/`` for the object itself.
"""

from __future__ import annotations

import base64
import binascii
import functools
import json
import os
import re
import xml.etree.ElementTree as ElementTree
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any, Final

__all__ = ["METADATA_DIR", "GraphSchema", "UnknownGraphTypeError", "metadata_directory"]

METADATA_DIR: Final = Path("/work/shared/graph-metadata")
METADATA_DIR_VARIABLE: Final = "GRAPH_METADATA_DIR"
VERSIONS: Final = ("v1.0", "beta")

_GRAPH_NAMESPACE = "microsoft.graph"
_ENTITY = "microsoft.graph.entity"
_DIRECTORY_OBJECT = "microsoft.graph.directoryObject"
_ACCEPTS_ANYTHING = frozenset({"microsoft.graph.Json", "Edm.Untyped", "Edm.PrimitiveType"})
_EDM_XML = "{http://docs.oasis-open.org/odata/ns/edm}"
_UNKNOWN_FUTURE_VALUE = "unknownFutureValue"
_NOT_A_TYPE_REFERENCE = "is not '#' and a qualified type name, like '#microsoft.graph.user'"
# https://learn.microsoft.com/graph/best-practices-concept#handling-future-members-in-evolvable-enumerations
_GATED_ENUM_HINT = "Graph returns it only with 'Prefer: include-unknown-enum-members'"
# https://learn.microsoft.com/graph/extensibility-overview#microsoft-entra-id-directory-extensions
_DIRECTORY_EXTENSION_ATTRIBUTE = re.compile(r"extension_[0-9a-f]{32}_\w+", re.ASCII)


class UnknownGraphTypeError(LookupError):
    """The metadata has no entity or complex type of that name in the requested version."""


def metadata_directory() -> Path:
    """The metadata directory: ``$GRAPH_METADATA_DIR`` when set, else ``METADATA_DIR``."""
    return Path(os.environ.get(METADATA_DIR_VARIABLE) or METADATA_DIR)


class GraphSchema:
    """Microsoft Graph types from the reference metadata; build it with ``GraphSchema.load``."""

    def __init__(self, csdl: _CsdlModel, beta: _BetaModel) -> None:
        self._csdl = csdl
        self._beta = beta

    @classmethod
    def load(cls, directory: Path | None = None) -> GraphSchema:
        """The schema parsed from ``directory`` (default ``metadata_directory()``), cached per
        directory. Raises ``FileNotFoundError`` when a metadata file is missing."""
        return _load_schema(Path(directory or metadata_directory()).resolve())

    def validate(
        self,
        obj: Mapping[str, Any],
        type_name: str,
        version: str = "v1.0",
        *,
        allow_gated_enum_members: bool = False,
    ) -> list[str]:
        """Every way ``obj`` differs from ``type_name`` in ``version``, in document order; empty
        when it conforms. Absent properties are not problems (see ``missing_properties``).

        ``type_name`` is unqualified (``"servicePrincipal"``) or namespace-qualified. Raises
        ``UnknownGraphTypeError`` for an unknown type and ``ValueError`` for an unknown version.
        """
        qualified = self._qualify(type_name, version)
        if version == "v1.0":
            return _Validator(self._csdl, allow_gated_enum_members).check_root(obj, qualified)
        return _BetaValidator(self._beta).check_root(obj, qualified)

    def missing_properties(self, obj: Mapping[str, Any], type_name: str, version: str = "v1.0") -> list[str]:
        """Sorted structural properties, inherited ones included, of the object's type (its
        ``@odata.type`` when that is valid, else ``type_name``) that ``obj`` lacks. Stream
        properties (``application.logo``) are left out: Graph never inlines their content."""
        qualified = self._qualify(type_name, version)
        if version == "v1.0":
            runtime = _Validator(self._csdl, False).runtime_type(obj, qualified)
            names = self._csdl.structural_names(runtime)
            streams = self._csdl.stream_names(runtime)
        else:
            runtime = _BetaValidator(self._beta).runtime_type(obj, qualified)
            names = self._beta.accepted_names(runtime, qualified)
            streams = self._csdl.stream_names(runtime) if runtime in self._csdl.types else set()
        return sorted(names - streams - obj.keys())

    def property_names(self, type_name: str, version: str = "v1.0") -> frozenset[str]:
        """Structural (non-navigation) property names of the type, inherited ones included."""
        qualified = self._qualify(type_name, version)
        if version == "v1.0":
            return self._csdl.structural_names(qualified)
        return frozenset(self._beta.names(qualified, navigation=False))

    def _qualify(self, type_name: str, version: str) -> str:
        if version not in VERSIONS:
            raise ValueError(f"Graph version must be one of {VERSIONS}, not {version!r}")
        qualified = type_name if "." in type_name else f"{_GRAPH_NAMESPACE}.{type_name}"
        known = self._csdl.types if version == "v1.0" else self._beta.types
        if qualified not in known:
            raise UnknownGraphTypeError(
                f"Graph {version} metadata has no entity or complex type {qualified!r}; "
                "check the spelling (names are case-sensitive: 'servicePrincipal')"
            )
        return qualified


@functools.cache
def _load_schema(directory: Path) -> GraphSchema:
    csdl = _CsdlModel.parse(directory / "v1.0.csdl")
    beta = _BetaModel.parse(directory, csdl)
    return GraphSchema(csdl, beta)


# The v1.0 model ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Property:
    name: str
    element_type: str  # qualified: "Edm.Guid", "microsoft.graph.keyCredential"
    is_collection: bool
    nullable: bool
    is_navigation: bool
    contains_target: bool

    @property
    def declared_type(self) -> str:
        return f"Collection({self.element_type})" if self.is_collection else self.element_type


@dataclass(frozen=True, slots=True)
class _StructuredType:
    name: str
    base_type: str | None
    is_abstract: bool
    is_open: bool
    properties: Mapping[str, _Property]  # declared on this type, structural and navigation


@dataclass(frozen=True, slots=True)
class _EnumType:
    name: str
    members: tuple[str, ...]  # in declaration order
    is_flags: bool
    gated_members: frozenset[str]  # declared after unknownFutureValue: an evolvable enum's newest

    @classmethod
    def from_members(cls, name: str, members: tuple[str, ...], is_flags: bool) -> _EnumType:
        gated: tuple[str, ...] = ()
        if _UNKNOWN_FUTURE_VALUE in members:
            gated = members[members.index(_UNKNOWN_FUTURE_VALUE) + 1 :]
        return cls(name, members, is_flags, frozenset(gated))


class _CsdlModel:
    """Entity, complex and enum types of the v1.0 CSDL, keyed by qualified name."""

    def __init__(self, types: Mapping[str, _StructuredType], enums: Mapping[str, _EnumType]) -> None:
        self.types = types
        self.enums = enums
        self._property_cache: dict[str, Mapping[str, _Property]] = {}

    @classmethod
    def parse(cls, path: Path) -> _CsdlModel:
        root = ElementTree.parse(path).getroot()  # noqa: S314 - a trusted, read-only reference
        schemas = list(root.iter(f"{_EDM_XML}Schema"))
        # An alias ("graph", "self") stands for its namespace in the whole document.
        aliases = {s.get("Alias", ""): s.get("Namespace", "") for s in schemas if s.get("Alias")}

        def qualify(reference: str) -> str:
            namespace, _, name = reference.rpartition(".")
            return f"{aliases.get(namespace, namespace)}.{name}"

        types: dict[str, _StructuredType] = {}
        enums: dict[str, _EnumType] = {}
        for schema in schemas:
            for element in schema:
                kind = element.tag.removeprefix(_EDM_XML)
                name = f"{schema.get('Namespace')}.{element.get('Name')}"
                if kind in ("EntityType", "ComplexType"):
                    base_type = element.get("BaseType")
                    types[name] = _StructuredType(
                        name=name,
                        base_type=qualify(base_type) if base_type else None,
                        is_abstract=element.get("Abstract") == "true",
                        is_open=element.get("OpenType") == "true",
                        properties=_parse_properties(element, qualify),
                    )
                elif kind == "EnumType":
                    members = tuple(m.get("Name", "") for m in element.iter(f"{_EDM_XML}Member"))
                    enums[name] = _EnumType.from_members(name, members, element.get("IsFlags") == "true")
        return cls(types, enums)

    def ancestry(self, qualified: str) -> list[str]:
        """The type and its base types, most derived first."""
        chain: list[str] = []
        current: str | None = qualified
        while current is not None and current in self.types and current not in chain:
            chain.append(current)
            current = self.types[current].base_type
        return chain

    def properties(self, qualified: str) -> Mapping[str, _Property]:
        """Declared and inherited properties (structural and navigation) by name."""
        if qualified not in self._property_cache:
            merged: dict[str, _Property] = {}
            for ancestor in reversed(self.ancestry(qualified)):
                merged.update(self.types[ancestor].properties)
            self._property_cache[qualified] = merged
        return self._property_cache[qualified]

    def structural_names(self, qualified: str) -> frozenset[str]:
        properties = self.properties(qualified).values()
        return frozenset(p.name for p in properties if not p.is_navigation)

    def stream_names(self, qualified: str) -> set[str]:
        properties = self.properties(qualified).values()
        return {p.name for p in properties if p.element_type == "Edm.Stream"}

    def accepts_dynamic_property(self, qualified: str, name: str) -> bool:
        """Whether an undeclared property ``name`` may appear (see the module docstring)."""
        ancestry = self.ancestry(qualified)
        if not any(self.types[ancestor].is_open for ancestor in ancestry):
            return False
        if _DIRECTORY_OBJECT in ancestry:
            return _DIRECTORY_EXTENSION_ATTRIBUTE.fullmatch(name) is not None
        return True


def _parse_properties(element: ElementTree.Element, qualify: Callable[[str], str]) -> dict[str, _Property]:
    properties: dict[str, _Property] = {}
    for child in element:
        kind = child.tag.removeprefix(_EDM_XML)
        if kind not in ("Property", "NavigationProperty"):
            continue
        declared_type = child.get("Type", "")
        element_type = declared_type.removeprefix("Collection(").removesuffix(")")
        name = child.get("Name", "")
        properties[name] = _Property(
            name=name,
            element_type=element_type if element_type.startswith("Edm.") else qualify(element_type),
            is_collection=declared_type.startswith("Collection("),
            nullable=child.get("Nullable") != "false",
            is_navigation=kind == "NavigationProperty",
            contains_target=child.get("ContainsTarget") == "true",
        )
    return properties


# The beta model ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _BetaType:
    name: str
    is_entity: bool
    properties: frozenset[str]  # declared on this type only, as the beta JSON lists them
    navigation_properties: frozenset[str]


class _BetaModel:
    """Property names of the beta types, with base types inferred as the module docstring says."""

    def __init__(self, types: Mapping[str, _BetaType], csdl: _CsdlModel) -> None:
        self.types = types
        self.csdl = csdl

    @classmethod
    def parse(cls, directory: Path, csdl: _CsdlModel) -> _BetaModel:
        """Reads ``{namespace: {type: {"properties": [...], "navigationProperties": [...]}}}``."""
        types: dict[str, _BetaType] = {}
        for file_name, is_entity in (
            ("beta-entity-types.json", True),
            ("beta-complex-types.json", False),
        ):
            with (directory / file_name).open(encoding="utf-8") as file:
                namespaces: dict[str, dict[str, dict[str, list[str]]]] = json.load(file)
            for namespace, names in namespaces.items():
                for name, lists in names.items():
                    types[f"{namespace}.{name}"] = _BetaType(
                        name=f"{namespace}.{name}",
                        is_entity=is_entity,
                        properties=frozenset(lists.get("properties", [])),
                        navigation_properties=frozenset(lists.get("navigationProperties", [])),
                    )
        return cls(types, csdl)

    def base_type(self, qualified: str) -> str | None:
        beta_type = self.types[qualified]
        if beta_type.is_entity and "id" in beta_type.properties:
            return None  # declares its own key, so it does not derive from entity
        v1_type = self.csdl.types.get(qualified)
        if v1_type is not None and v1_type.base_type in self.types:
            return v1_type.base_type
        return _ENTITY if beta_type.is_entity and qualified != _ENTITY else None

    def ancestry(self, qualified: str) -> list[str]:
        chain: list[str] = []
        current: str | None = qualified
        while current is not None and current not in chain:
            chain.append(current)
            current = self.base_type(current)
        return chain

    def names(self, qualified: str, *, navigation: bool) -> set[str]:
        names: set[str] = set()
        for ancestor in self.ancestry(qualified):
            beta_type = self.types[ancestor]
            names |= beta_type.navigation_properties if navigation else beta_type.properties
        return names

    def accepted_names(self, runtime: str, declared: str) -> frozenset[str]:
        """Names of ``runtime`` and, when beta cannot tell that it derives from ``declared``,
        of ``declared`` as well."""
        names = self.names(runtime, navigation=False)
        if declared not in self.ancestry(runtime):
            names |= self.names(declared, navigation=False)
        return frozenset(names)

    def nested_type(self, owner: str, key: str) -> str | None:
        """The type of ``owner.key`` when v1.0 declares it as a structured type beta also has."""
        definition = self.csdl.properties(owner).get(key) if owner in self.csdl.types else None
        if definition is None or definition.element_type not in self.types:
            return None
        return definition.element_type


# Validation ----------------------------------------------------------------------------------


class _Validator:
    """One v1.0 validation run; collects problems in document order."""

    def __init__(self, csdl: _CsdlModel, allow_gated_enum_members: bool) -> None:
        self._csdl = csdl
        self._allow_gated = allow_gated_enum_members
        self.problems: list[str] = []

    def check_root(self, obj: object, qualified: str) -> list[str]:
        self._check_single(obj, qualified, "")
        return self.problems

    def runtime_type(self, obj: Mapping[str, Any], declared: str) -> str:
        """The type named by a valid ``@odata.type``, else the declared type."""
        return self._runtime_type(obj, declared, "") or declared

    def _report(self, location: str, message: str) -> None:
        self.problems.append(f"{location or '/'}: {message}")

    def _runtime_type(self, obj: Mapping[str, Any], declared: str, location: str) -> str | None:
        """The type to check ``obj`` as, or None (and a problem) when ``@odata.type`` is wrong."""
        annotation = obj.get("@odata.type")
        if annotation is None:
            if not self._csdl.types[declared].is_abstract:
                return declared
            self._report(location, f"{declared} is abstract; '@odata.type' must name the type")
            return None
        named = _named_type(annotation)
        if named is None:
            problem = _NOT_A_TYPE_REFERENCE
        elif named not in self._csdl.types:
            problem = "names no Graph v1.0 type"
        elif declared not in self._csdl.ancestry(named):
            problem = f"is not {declared} or a type derived from it"
        elif self._csdl.types[named].is_abstract:
            problem = "names an abstract type"
        else:
            return named
        self._report(f"{location}/@odata.type", f"{_show(annotation)} {problem}")
        return None

    def _check_object(self, obj: Mapping[str, Any], declared: str, location: str) -> None:
        qualified = self._runtime_type(obj, declared, location)
        if qualified is None:
            return
        properties = self._csdl.properties(qualified)
        for key, value in obj.items():
            if _is_annotation(key):
                continue
            key_location = _child(location, key)
            definition = properties.get(key)
            if definition is None:
                if not self._csdl.accepts_dynamic_property(qualified, key):
                    self._report(key_location, f"not a property of {qualified} or its base types")
            elif definition.is_navigation and not definition.contains_target:
                message = f"navigation property of {qualified}; Graph inlines it only on $expand"
                self._report(key_location, message)
            else:
                self._check_property(value, definition, qualified, key_location)

    def _check_property(self, value: object, definition: _Property, owner: str, location: str) -> None:
        declared_type = definition.declared_type
        if value is None:
            if definition.is_collection:
                self._report(location, f"null instead of a JSON array for {declared_type}")
            elif not definition.nullable:
                self._report(location, f"null in non-nullable {declared_type} property of {owner}")
        elif not definition.is_collection:
            self._check_single(value, definition.element_type, location)
        elif not isinstance(value, list):
            self._report(location, f"expected a JSON array for {declared_type}, got {_kind(value)}")
        else:
            for index, item in enumerate(value):
                if item is None:
                    self._report(f"{location}/{index}", f"null item in {declared_type}")
                else:
                    self._check_single(item, definition.element_type, f"{location}/{index}")

    def _check_single(self, value: object, type_name: str, location: str) -> None:
        if type_name in _ACCEPTS_ANYTHING:
            return
        if type_name.startswith("Edm."):
            is_valid = _PRIMITIVE_CHECKS.get(type_name)
            if is_valid is not None and not is_valid(value):
                self._report(location, f"{_show(value)} is not an {type_name}")
        elif type_name in self._csdl.enums:
            self._check_enum(value, self._csdl.enums[type_name], location)
        elif type_name not in self._csdl.types:
            return  # the CSDL does not define it, so there is nothing to check against
        elif not isinstance(value, Mapping):
            self._report(location, f"expected a JSON object for {type_name}, got {_kind(value)}")
        else:
            self._check_object(value, type_name, location)

    def _check_enum(self, value: object, enum: _EnumType, location: str) -> None:
        if not isinstance(value, str):
            self._report(location, f"{_show(value)} is not a member name of {enum.name}")
            return
        # A flags value lists its members separated by commas.
        members = [part.strip() for part in value.split(",")] if enum.is_flags else [value]
        for member in members:
            if member not in enum.members:
                self._report(location, f"{_show(member)} is not a member of {enum.name}")
            elif member in enum.gated_members and not self._allow_gated:
                message = f"is declared after {_UNKNOWN_FUTURE_VALUE} in {enum.name}"
                self._report(location, f"{_show(member)} {message}; {_GATED_ENUM_HINT}")


class _BetaValidator:
    """One beta validation run: property names only (see the module docstring)."""

    def __init__(self, beta: _BetaModel) -> None:
        self._beta = beta
        self.problems: list[str] = []

    def check_root(self, obj: object, qualified: str) -> list[str]:
        if isinstance(obj, Mapping):
            self._check_object(obj, qualified, "")
        else:
            self.problems.append(f"/: expected a JSON object for {qualified}, got {_kind(obj)}")
        return self.problems

    def runtime_type(self, obj: Mapping[str, Any], declared: str) -> str:
        """The type named by a valid ``@odata.type``, else the declared type."""
        return self._runtime_type(obj, declared, "") or declared

    def _runtime_type(self, obj: Mapping[str, Any], declared: str, location: str) -> str | None:
        annotation = obj.get("@odata.type")
        if annotation is None:
            return declared
        named = _named_type(annotation)
        if named is None:
            problem = _NOT_A_TYPE_REFERENCE
        elif named not in self._beta.types:
            problem = "names no Graph beta type"
        elif declared in self._beta.ancestry(named) or named not in self._beta.csdl.types:
            return named  # it derives, or without v1.0's base types nobody can tell
        else:
            problem = f"is not {declared} or a type derived from it"
        self.problems.append(f"{location}/@odata.type: {_show(annotation)} {problem}")
        return None

    def _check_object(self, obj: Mapping[str, Any], declared: str, location: str) -> None:
        runtime = self._runtime_type(obj, declared, location)
        if runtime is None:
            return
        names = self._beta.accepted_names(runtime, declared)
        navigation_names = self._beta.names(runtime, navigation=True)
        for key, value in obj.items():
            if _is_annotation(key):
                continue
            key_location = _child(location, key)
            if key in navigation_names:
                message = f"navigation property of beta {runtime}; Graph inlines it only on $expand"
                self.problems.append(f"{key_location}: {message}")
            elif key in names:
                self._check_nested(value, self._beta.nested_type(runtime, key), key_location)
            elif not self._accepts_dynamic_property(runtime, key):
                message = f"not a property of beta {runtime} or its base types"
                self.problems.append(f"{key_location}: {message}")

    def _accepts_dynamic_property(self, qualified: str, name: str) -> bool:
        """Whether v1.0, the only source of ``OpenType``, lets the type carry ``name``."""
        csdl = self._beta.csdl
        return qualified in csdl.types and csdl.accepts_dynamic_property(qualified, name)

    def _check_nested(self, value: object, declared: str | None, location: str) -> None:
        items = list(enumerate(value)) if isinstance(value, list) else [(None, value)]
        for index, item in items:
            if not isinstance(item, Mapping):
                continue
            item_location = location if index is None else f"{location}/{index}"
            named = _named_type(item.get("@odata.type"))
            if declared is not None:
                self._check_object(item, declared, item_location)
            elif named is not None and named in self._beta.types:
                self._check_object(item, named, item_location)


# Values --------------------------------------------------------------------------------------

_GUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_DATE = re.compile(r"([0-9]{4})-([0-9]{2})-([0-9]{2})")
_TIME_OF_DAY = re.compile(r"([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.[0-9]{1,12})?)?")
# Graph writes DateTimeOffset in UTC with a Z suffix and at most 7 fractional digits.
_DATE_TIME_OFFSET = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2})T([0-9]{2}:[0-9]{2}:[0-9]{2})(?:\.[0-9]{1,7})?Z")
# OData's durationValue: days, hours, minutes and seconds only (no years, months or weeks).
_DURATION = re.compile(
    r"-?P(?=[0-9]|T[0-9])(?:[0-9]+D)?(?:T(?=[0-9])(?:[0-9]+H)?(?:[0-9]+M)?(?:[0-9]+(?:\.[0-9]+)?S)?)?"
)
_BASE64 = re.compile(r"(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?")
_INTEGER_RANGES: Final = {
    "Edm.Byte": (0, 2**8 - 1),
    "Edm.SByte": (-(2**7), 2**7 - 1),
    "Edm.Int16": (-(2**15), 2**15 - 1),
    "Edm.Int32": (-(2**31), 2**31 - 1),
    "Edm.Int64": (-(2**63), 2**63 - 1),
}
# With IEEE754Compatible=false, special floating-point values are the only numbers as strings.
_NUMBER_SPECIAL_VALUES = frozenset({"NaN", "INF", "-INF"})


def _is_date(value: object) -> bool:
    match = _DATE.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return False
    try:
        date(*(int(part) for part in match.groups()))
    except ValueError:
        return False
    return True


def _is_time_of_day(value: object) -> bool:
    match = _TIME_OF_DAY.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        return False
    hour, minute, second = (int(part or 0) for part in match.groups())
    return hour < 24 and minute < 60 and second < 60


def _is_date_time_offset(value: object) -> bool:
    match = _DATE_TIME_OFFSET.fullmatch(value) if isinstance(value, str) else None
    return match is not None and _is_date(match[1]) and _is_time_of_day(match[2])


def _is_binary(value: object) -> bool:
    if not isinstance(value, str) or _BASE64.fullmatch(value) is None:
        return False
    try:
        base64.b64decode(value, validate=True)
    except binascii.Error:
        return False
    return True


def _integer_check(type_name: str) -> Callable[[object], bool]:
    low, high = _INTEGER_RANGES[type_name]

    def is_integer(value: object) -> bool:
        return isinstance(value, int) and not isinstance(value, bool) and low <= value <= high

    return is_integer


def _is_number(value: object) -> bool:
    if isinstance(value, str):
        return value in _NUMBER_SPECIAL_VALUES
    return isinstance(value, int | float) and not isinstance(value, bool)


def _is_string(value: object) -> bool:
    return isinstance(value, str)


_PRIMITIVE_CHECKS: Final[Mapping[str, Callable[[object], bool]]] = {
    "Edm.String": _is_string,
    "Edm.Stream": _is_string,
    "Edm.Boolean": lambda value: isinstance(value, bool),
    **{type_name: _integer_check(type_name) for type_name in _INTEGER_RANGES},
    "Edm.Double": _is_number,
    "Edm.Single": _is_number,
    "Edm.Decimal": _is_number,
    "Edm.Guid": lambda value: isinstance(value, str) and _GUID.fullmatch(value) is not None,
    "Edm.DateTimeOffset": _is_date_time_offset,
    "Edm.Date": _is_date,
    "Edm.TimeOfDay": _is_time_of_day,
    "Edm.Duration": lambda value: isinstance(value, str) and _DURATION.fullmatch(value) is not None,
    "Edm.Binary": _is_binary,
}


def _named_type(annotation: object) -> str | None:
    """The qualified name in an ``@odata.type`` value such as ``#microsoft.graph.user``."""
    if isinstance(annotation, str) and annotation.startswith("#"):
        return annotation[1:]
    return None


def _is_annotation(key: str) -> bool:
    """``@odata.type`` and other instance annotations, or ``property@annotation`` keys."""
    return "@" in key


def _child(location: str, key: str) -> str:
    return f"{location}/{key.replace('~', '~0').replace('/', '~1')}"


def _kind(value: object) -> str:
    """The JSON kind of a decoded value, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _show(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 80 else f"{text[:77]}..."
