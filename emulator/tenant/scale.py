"""How big a generated tenant is: named presets and explicit counts."""

from __future__ import annotations

from dataclasses import dataclass, fields, replace


@dataclass(frozen=True)
class Scale:
    """Counts of generated objects, on top of the fixed ones every tenant has (Microsoft's
    resource applications, the monitor's own registrations, the seed's platform applications)."""

    users: int
    applications: int
    service_principals: int
    grants: int
    sign_ins: int

    def __post_init__(self) -> None:
        for item in fields(self):
            value = getattr(self, item.name)
            if not isinstance(value, int) or value < 0:
                raise ValueError(f"scale count {item.name} must be a non-negative integer, got {value!r}")
        if self.users < 10:
            raise ValueError("a tenant needs at least 10 users (risky-user and review plants use them)")
        if self.service_principals < self.applications:
            raise ValueError("service_principals must be at least applications (each app has one)")


PRESETS: dict[str, Scale] = {
    "tiny": Scale(users=30, applications=24, service_principals=30, grants=60, sign_ins=600),
    "small": Scale(users=200, applications=120, service_principals=160, grants=480, sign_ins=5_000),
    "medium": Scale(
        users=5_000, applications=5_000, service_principals=6_000, grants=15_000, sign_ins=100_000
    ),
    "large": Scale(
        users=50_000,
        applications=100_000,
        service_principals=100_000,
        grants=300_000,
        sign_ins=1_000_000,
    ),
}

# Accepted spellings of each count in ``--scale`` (Graph's collection names and snake_case).
_ALIASES = {
    "users": "users",
    "applications": "applications",
    "apps": "applications",
    "serviceprincipals": "service_principals",
    "service_principals": "service_principals",
    "grants": "grants",
    "oauth2permissiongrants": "grants",
    "signins": "sign_ins",
    "sign_ins": "sign_ins",
}


def parse_scale(text: str) -> Scale:
    """Parse ``tiny|small|medium|large`` optionally followed by counts, or counts alone.

    ``"small"``, ``"large,signIns=50000"`` and ``"users=100,applications=40"`` (counts not given
    come from ``small``) are all accepted. Raises ValueError naming what is wrong and what is accepted.
    """
    parts = [part.strip() for part in text.split(",") if part.strip()]
    if not parts:
        raise ValueError("empty scale; use tiny, small, medium, large or name=count pairs")
    base = PRESETS["small"]
    if "=" not in parts[0]:
        preset = parts.pop(0).lower()
        if preset not in PRESETS:
            raise ValueError(f"unknown scale {preset!r}; use one of {', '.join(PRESETS)} or name=count pairs")
        base = PRESETS[preset]
    counts: dict[str, int] = {}
    for part in parts:
        name, separator, value = part.partition("=")
        field_name = _ALIASES.get(name.strip().lower())
        if not separator or field_name is None:
            accepted = "users, applications, servicePrincipals, grants, signIns"
            raise ValueError(
                f"cannot read scale item {part!r}; expected name=count with name one of {accepted}"
            )
        try:
            counts[field_name] = int(value.replace("_", ""))
        except ValueError:
            raise ValueError(f"scale count {name}={value!r} is not an integer") from None
    return replace(base, **counts)
