"""The rules the ground truth is computed with, and the baseline values they assume.

These mirror the seed document's recommendations and ``config/baseline.toml`` (a test keeps the
two equal). They define what each planted problem *is*; the monitor's checks implement the same
rules with evidence, settings and metrics of their own.
"""

from __future__ import annotations

from dataclasses import dataclass

from emulator.tenant import catalog


@dataclass(frozen=True)
class Rule:
    check: str
    rule: str
    severity: str
    summary: str


RULES: tuple[Rule, ...] = (
    Rule("credential-expiry", "credential-expired", "high", "A certificate or secret has expired."),
    Rule(
        "credential-expiry",
        "credential-expiring-critical",
        "critical",
        "A credential expires within critical_days.",
    ),
    Rule(
        "credential-expiry",
        "credential-expiring-warning",
        "medium",
        "A credential expires within warning_days.",
    ),
    Rule(
        "credential-expiry",
        "credential-lifetime-too-long",
        "medium",
        "A credential is valid for longer than max_lifetime_days.",
    ),
    Rule(
        "credential-expiry",
        "secret-on-production-app",
        "medium",
        "A production application authenticates with a client secret.",
    ),
    Rule(
        "credential-expiry",
        "unused-application",
        "low",
        "Every credential has expired and the app has not signed in for unused_days.",
    ),
    Rule(
        "consent-grants",
        "unused-grant",
        "medium",
        "The client holding a permission has not signed in for unused_days, or never.",
    ),
    Rule(
        "consent-grants",
        "high-privilege-grant",
        "high",
        "A grant includes a high-privilege permission.",
    ),
    Rule(
        "consent-grants",
        "permission-not-allowed",
        "medium",
        "An application holds a permission outside its allow-list.",
    ),
    Rule("consent-grants", "new-grant", "info", "A grant appeared since the previous run."),
    Rule(
        "risky-sign-ins",
        "high-risk-sign-in-succeeded",
        "critical",
        "A high-risk sign-in succeeded.",
    ),
    Rule(
        "risky-sign-ins",
        "medium-risk-sign-in-succeeded",
        "high",
        "A medium-risk sign-in succeeded.",
    ),
    Rule(
        "risky-sign-ins",
        "risky-sign-in-single-factor",
        "high",
        "A risky sign-in succeeded with single-factor authentication.",
    ),
    Rule("risky-sign-ins", "user-at-risk", "high", "Identity Protection considers a user at risk."),
    Rule(
        "token-lifetime-drift",
        "access-token-lifetime-drift",
        "medium",
        "AccessTokenLifetime is off the baseline beyond the tolerance.",
    ),
    Rule(
        "token-lifetime-drift",
        "retired-token-property",
        "low",
        "A token-lifetime policy still sets retired properties.",
    ),
    Rule(
        "token-lifetime-drift",
        "sign-in-frequency-exceeds-baseline",
        "medium",
        "An enabled sign-in frequency exceeds the session baseline.",
    ),
    Rule(
        "token-lifetime-drift",
        "persistent-browser-session",
        "medium",
        "An enabled policy keeps browser sessions persistent.",
    ),
    Rule(
        "token-lifetime-drift",
        "token-policy-changed",
        "info",
        "A token or session policy changed since the previous run.",
    ),
    Rule(
        "access-review-due",
        "scope-without-review",
        "high",
        "A required scope has no recurring access review.",
    ),
    Rule(
        "access-review-due",
        "recurrence-longer-than-quarterly",
        "medium",
        "A review recurs less often than quarterly.",
    ),
    Rule(
        "access-review-due",
        "review-due-soon",
        "low",
        "A review instance ends within due_soon_days.",
    ),
    Rule("access-review-due", "review-overdue", "high", "A review instance ended without completing."),
    Rule(
        "access-review-due",
        "last-review-too-old",
        "high",
        "A required scope's last completed review ended over max_review_age_days ago.",
    ),
    Rule(
        "conditional-access-baseline",
        "admin-mfa-missing",
        "critical",
        "No policy requires MFA for admin roles.",
    ),
    Rule(
        "conditional-access-baseline",
        "admin-mfa-not-enforced",
        "critical",
        "The MFA-for-admins policy is report-only or disabled.",
    ),
    Rule(
        "conditional-access-baseline",
        "admin-mfa-incomplete",
        "high",
        "The enforced MFA-for-admins policy misses admin roles.",
    ),
    Rule(
        "conditional-access-baseline",
        "admin-mfa-broad-exclusion",
        "high",
        "The MFA-for-admins policy excludes more than the break-glass group.",
    ),
    Rule(
        "conditional-access-baseline",
        "untrusted-location-block-missing",
        "high",
        "Nothing blocks untrusted locations for the platform APIs.",
    ),
    Rule(
        "conditional-access-baseline",
        "untrusted-location-block-not-enforced",
        "high",
        "The untrusted-location block is report-only or disabled.",
    ),
    Rule(
        "conditional-access-baseline",
        "policy-disabled",
        "low",
        "A conditional-access policy is disabled.",
    ),
    Rule(
        "conditional-access-baseline",
        "policy-report-only",
        "low",
        "A conditional-access policy is left in report-only mode.",
    ),
)
RULES_BY_ID = {rule.rule: rule for rule in RULES}


@dataclass(frozen=True)
class Baseline:
    """The default baseline (``config/baseline.toml``), as the ground truth assumes it."""

    critical_days: int = 7
    warning_days: int = 30
    max_lifetime_days: int = 365
    unused_days: int = 90
    production_apps: tuple[str, ...] = ("SCIM Provisioning App", "Calendar/Teams App")
    high_privilege_permissions: tuple[str, ...] = (
        "Directory.ReadWrite.All",
        "RoleManagement.ReadWrite.Directory",
        "AppRoleAssignment.ReadWrite.All",
        "Application.ReadWrite.All",
        "Mail.ReadWrite",
        "Files.ReadWrite.All",
        "Sites.FullControl.All",
    )
    allowed_permissions: tuple[tuple[str, tuple[str, ...]], ...] = (
        ("SCIM Provisioning App", ("User.Read.All", "Group.Read.All")),
        (
            "Calendar/Teams App",
            (
                "Calendars.ReadWrite",
                "OnlineMeetings.ReadWrite.All",
                "User.Read.All",
                "User.Read",
                "openid",
                "profile",
                "offline_access",
            ),
        ),
    )
    access_token_lifetime_minutes: int = 60
    access_token_tolerance_minutes: int = 15
    refresh_token_days: int = 90
    session_hours: int = 8
    due_soon_days: int = 14
    max_review_age_days: int = 92
    max_recurrence_months: int = 3
    required_review_roles: tuple[str, ...] = (
        "Global Administrator",
        "Privileged Role Administrator",
        "Security Administrator",
        "Application Administrator",
    )
    required_review_groups: tuple[str, ...] = ("Platform Admins",)
    required_review_apps: tuple[str, ...] = ("SCIM Provisioning App", "Calendar/Teams App")
    admin_roles: tuple[str, ...] = tuple(
        role.display_name for role in catalog.DIRECTORY_ROLES if role.privileged
    )
    mfa_exclusions_allowed: tuple[str, ...] = ("Break-glass Accounts",)
    admin_apps: tuple[str, ...] = ("Platform Management Portal",)
    protected_apps: tuple[str, ...] = ("Platform APIs",)

    def allowed_for(self, app_name: str) -> tuple[str, ...] | None:
        return dict(self.allowed_permissions).get(app_name)


DEFAULT_BASELINE = Baseline()
