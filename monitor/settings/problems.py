"""Pydantic's validation errors as :class:`~monitor.settings.sources.Problem` lines a person can act on.

Each line names the setting (``tenants[0].credential.certificate_path``), the source it came from
and what is accepted, taken from the field's ``description`` (or, for the credential models, the
table below). A rejected value is never repeated, with two exceptions that cannot be secrets: a
file path that does not exist, and an unknown credential ``kind``.
"""

from __future__ import annotations

import re
import types
from collections.abc import Callable, Iterable
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel, SecretStr, ValidationError
from pydantic.fields import FieldInfo

from monitor.settings.sources import Problem, SettingPath

_ACCEPTED = {
    "kind": "client_secret, certificate, managed_identity or workload_identity",
    "client_secret": "the secret's value, a non-empty string (set it through an environment variable "
    "rather than the file)",
    "certificate_path": "an existing PEM file (certificate, and key unless private_key_path names it) or "
    "PKCS#12 file (.pfx/.p12)",
    "private_key_path": "an existing PEM file holding the private key",
    "password": "the password of the PKCS#12 file or the encrypted private key",
    "send_certificate_chain": "true or false",
    "object_id": "a managed identity's object (principal) id, a GUID",
    "resource_id": "a user-assigned identity's resource id, /subscriptions/…/userAssignedIdentities/…",
    "token_file": "an existing file holding the federated token",
    "backoff_initial_seconds": "seconds, more than 0",
    "backoff_max_seconds": "seconds, more than 0",
    "user_agent": "a string",
    "budgets": "tables of limit (requests, more than 0) and window_seconds (more than 0)",
}


def validation_problems(
    error: ValidationError,
    model: type[BaseModel],
    origin: Callable[[SettingPath], str],
    prefix: SettingPath = (),
) -> list[Problem]:
    """One problem per error of validating ``model``; ``prefix`` is where the model sits in the
    settings (a check's settings sit under ``checks.<id>.settings``)."""
    problems: list[Problem] = []
    for item in error.errors(include_url=False):
        path, target = _resolve(model, item["loc"])
        path = (*prefix, *path)
        if item["type"].startswith("union_tag"):
            path = (*path, "kind")
        problems.append(Problem(path, origin(path), _message(item, target)))
    return problems


class _Target:
    """What an error's location points at: the field (if known) and the model that holds it."""

    def __init__(self) -> None:
        self.field: FieldInfo | None = None
        self.model: type[BaseModel] | None = None
        self.name = ""

    @property
    def secret(self) -> bool:
        annotation = self.field.annotation if self.field is not None else None
        return SecretStr in (annotation, *get_args(annotation))


def _resolve(model: type[BaseModel], loc: Iterable[int | str]) -> tuple[SettingPath, _Target]:
    """The location without pydantic's union tags, and the field it names."""
    target = _Target()
    annotation: Any = model
    path: list[str | int] = []
    parts = list(loc)
    skip_tag = False
    for position, part in enumerate(parts):
        if skip_tag:
            skip_tag = False
            continue
        annotation = _without_none(annotation)
        origin = get_origin(annotation)
        if isinstance(annotation, type) and issubclass(annotation, BaseModel):
            target.model, target.name = annotation, str(part)
            target.field = annotation.model_fields.get(str(part))
            annotation = target.field.annotation if target.field is not None else None
            if target.field is not None and target.field.discriminator and position + 1 < len(parts):
                annotation = _member(annotation, str(target.field.discriminator), parts[position + 1])
                skip_tag = True
        elif origin is dict and parts[position + 1 : position + 2] == ["[key]"]:
            target.field = FieldInfo.from_annotation(get_args(annotation)[0])
            skip_tag = True
        elif origin in (list, dict):
            annotation = get_args(annotation)[-1] if get_args(annotation) else None
        else:
            annotation = None
        path.append(part)
    return tuple(path), target


def _without_none(annotation: Any) -> Any:
    if get_origin(annotation) is Annotated:
        annotation = get_args(annotation)[0]
    if get_origin(annotation) in (Union, types.UnionType):
        members = [member for member in get_args(annotation) if member is not type(None)]
        if len(members) == 1:
            return _without_none(members[0])
    return annotation


def _member(union: Any, discriminator: str, tag: Any) -> Any:
    for member in get_args(_without_none(union)):
        field = getattr(member, "model_fields", {}).get(discriminator)
        if field is not None and field.default == tag:
            return member
    return None


def _message(item: Any, target: _Target) -> str:
    kind: str = item["type"]
    accepted = target.field.description if target.field is not None else None
    accepted = (accepted or _ACCEPTED.get(target.name, "")).rstrip(".")
    if kind == "missing":
        problem = "required but not set"
    elif kind == "extra_forbidden":
        problem = "unknown setting"
        accepted = ", ".join(target.model.model_fields) if target.model is not None else ""
    elif kind.startswith("union_tag"):
        tag = str(item.get("ctx", {}).get("tag", ""))
        # Repeated only when it looks like a kind, not like a secret pasted into the wrong place.
        shown = f" {tag!r}" if re.fullmatch(r"[a-z][a-z_-]{0,39}", tag) else ""
        problem = f"unknown credential kind{shown}" if tag else "the credential has no kind"
        accepted = _ACCEPTED["kind"]
    elif kind in ("path_not_file", "path_not_exists") and not target.secret:
        problem = f"{item['input']} is not an existing file"
    elif kind == "value_error":
        problem = str(item["msg"]).removeprefix("Value error, ")
        if "; accepted: " in problem:
            return problem
    elif kind == "string_pattern_mismatch" and accepted:
        problem = "not in the accepted form"
    else:
        message = str(item["msg"])
        problem = message[:1].lower() + message[1:]
    return f"{problem}; accepted: {accepted}" if accepted else problem
