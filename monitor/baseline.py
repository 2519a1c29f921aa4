"""The platform baseline the checks enforce (``config/baseline.toml``), as a typed model.

Every check's thresholds start from the baseline: :meth:`monitor.check.Check.baseline_defaults`
maps the relevant section onto the check's settings, and ``[checks.<id>.settings]`` in the
settings file overrides single values. An organisation states its own baseline by pointing the
``baseline`` setting at its own copy of the file; without one, the copy packaged with the monitor
(identical to ``config/baseline.toml``, which a test keeps so) is used.
"""

from __future__ import annotations

import tomllib
from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from monitor.errors import ConfigurationError
from monitor.graph.connection import describe_validation


class _Section(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class CredentialsBaseline(_Section):
    critical_days: int = Field(ge=0)
    warning_days: int = Field(ge=0)
    max_lifetime_days: int = Field(gt=0)
    unused_days: int = Field(gt=0)
    production_apps: tuple[str, ...] = ()


class ConsentBaseline(_Section):
    high_privilege_permissions: tuple[str, ...] = ()
    allowed_permissions: dict[str, tuple[str, ...]] = Field(default_factory=dict)


class TokensBaseline(_Section):
    access_token_lifetime_minutes: int = Field(gt=0)
    access_token_tolerance_minutes: int = Field(ge=0)
    refresh_token_days: int = Field(gt=0)
    session_hours: int = Field(gt=0)


class AccessReviewsBaseline(_Section):
    max_recurrence_months: int = Field(gt=0)
    max_review_age_days: int = Field(gt=0)
    due_soon_days: int = Field(ge=0)
    required_roles: tuple[str, ...] = ()
    required_groups: tuple[str, ...] = ()
    required_apps: tuple[str, ...] = ()


class ConditionalAccessBaseline(_Section):
    admin_roles: tuple[str, ...] = ()
    admin_apps: tuple[str, ...] = ()
    mfa_exclusions_allowed: tuple[str, ...] = ()
    protected_apps: tuple[str, ...] = ()


class Baseline(_Section):
    """The whole baseline document."""

    credentials: CredentialsBaseline
    consent: ConsentBaseline
    tokens: TokensBaseline
    access_reviews: AccessReviewsBaseline
    conditional_access: ConditionalAccessBaseline


def load_baseline(path: Path | None = None) -> Baseline:
    """The baseline in ``path``, or the packaged default. Raises ConfigurationError naming the
    file and each field that is wrong."""
    if path is None:
        text = resources.files("monitor.data").joinpath("baseline.toml").read_text(encoding="utf-8")
        source = "the built-in baseline"
    else:
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as error:
            raise ConfigurationError(f"baseline: cannot read {path} ({error.strerror})") from None
        source = str(path)
    try:
        return Baseline.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as error:
        raise ConfigurationError(f"baseline: {source} is not valid TOML ({error})") from None
    except ValidationError as error:
        raise ConfigurationError(f"baseline ({source}): {describe_validation(error)}") from None
