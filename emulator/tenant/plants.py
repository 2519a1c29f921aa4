"""Which generated objects carry a planted problem, chosen deterministically from the seed.

Everything not chosen here is generated healthy (credentials far from every threshold, recently
used clients, ordinary permissions, risk-free sign-ins), so the ground truth is exactly the set of
problems on the objects listed here plus the fixed objects built in ``fixed.py``/``policies.py``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from emulator.tenant.base import TenantContext

# Problems planted on generated applications (credential-expiry rules).
APP_PLANTS = (
    "expired-secret",  # a secret expired days ago next to a valid certificate
    "expiring-critical",  # a credential ends within critical_days (7)
    "expiring-warning",  # a credential ends within warning_days (30)
    "long-lifetime",  # a secret valid for two years (rotate annually)
    "unused-application",  # every credential expired and no sign-in for 90+ days
)
# Problems planted on generated service principals (consent-grant rules).
SERVICE_PRINCIPAL_PLANTS = (
    "unused-client",  # healthy credentials, but no sign-in for 90+ days (or never)
    "high-privilege-delegated",  # one delegated grant includes a high-privilege scope
    "high-privilege-app-role",  # one extra application permission that is high privilege
)
# Risky sign-ins planted in the interactive sign-in log.
SIGN_IN_PLANTS = (
    "high-risk-success",  # high risk, succeeded, with MFA
    "medium-risk-success",  # medium risk, succeeded, with MFA
    "low-risk-single-factor",  # low risk, succeeded with single-factor authentication
    "high-risk-single-factor",  # high risk, succeeded with single-factor authentication
    "high-risk-failure",  # high risk but the sign-in failed: not a finding
)
MAX_INTERACTIVE_APPS = 20


@dataclass(frozen=True)
class SignInPlant:
    kind: str
    victim: int
    """Index of the generated user who signed in."""


@dataclass
class PlantPlan:
    app_plants: dict[int, str] = field(default_factory=dict)
    service_principal_plants: dict[int, str] = field(default_factory=dict)
    interactive_apps: tuple[int, ...] = ()
    """Generated application indices users sign in to interactively (never planted as unused)."""
    sign_in_plants: dict[int, SignInPlant] = field(default_factory=dict)

    @property
    def unused_service_principals(self) -> set[int]:
        unused = {index for index, kind in self.app_plants.items() if kind == "unused-application"}
        unused.update(
            index for index, kind in self.service_principal_plants.items() if kind == "unused-client"
        )
        return unused


def per_kind(total: int, divisor: int) -> int:
    return max(1, total // divisor)


def plan_plants(context: TenantContext) -> PlantPlan:
    """Choose the planted objects: about 2.5 % of applications, 1.5 % of service principals and
    one sign-in in 2,000 of each risky kind (at least one of each kind at every scale)."""
    scale = context.scale
    rng = context.seeded.rng("plants")
    plan = PlantPlan()

    app_counts = [per_kind(scale.applications, 200)] * len(APP_PLANTS)
    sp_counts = [per_kind(scale.service_principals, 200)] * len(SERVICE_PRINCIPAL_PLANTS)
    interactive_count = min(MAX_INTERACTIVE_APPS, max(2, scale.applications // 10))
    needed = sum(app_counts) + sum(sp_counts) + interactive_count
    if scale.applications < needed:
        raise ValueError(
            f"applications={scale.applications} is too few to plant every problem; use at least {needed}"
        )
    chosen = rng.sample(range(scale.applications), needed)
    cursor = 0
    for kind, count in zip(APP_PLANTS, app_counts, strict=True):
        for index in chosen[cursor : cursor + count]:
            plan.app_plants[index] = kind
        cursor += count
    for kind, count in zip(SERVICE_PRINCIPAL_PLANTS, sp_counts, strict=True):
        for index in chosen[cursor : cursor + count]:
            plan.service_principal_plants[index] = kind
        cursor += count
    plan.interactive_apps = tuple(sorted(chosen[cursor : cursor + interactive_count]))

    sign_in_count = per_kind(scale.sign_ins, 2000)
    total = sign_in_count * len(SIGN_IN_PLANTS)
    if scale.sign_ins < total:
        raise ValueError(f"sign_ins must be at least {total} to plant every risky sign-in")
    positions = rng.sample(range(scale.sign_ins), total)
    if scale.users >= total:
        victims = rng.sample(range(scale.users), total)
    else:
        # A big log over few users (small,signIns=1000000): users are victims several times,
        # each as evenly as possible; RiskBuilder keeps a user's highest risk.
        pool = rng.sample(range(scale.users), scale.users)
        victims = [pool[number % scale.users] for number in range(total)]
    for number, (position, victim) in enumerate(zip(positions, victims, strict=True)):
        plan.sign_in_plants[position] = SignInPlant(SIGN_IN_PLANTS[number % len(SIGN_IN_PLANTS)], victim)
    return plan
