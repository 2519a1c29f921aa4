"""Microsoft Entra's built-in directory roles by name, for settings that name roles.

Conditional-access policies and access-review scopes name roles by role *template* id, which is
the same in every tenant; people name them by display name. This table maps the two for the roles
a monitor's baseline is likely to name:
https://learn.microsoft.com/entra/identity/role-based-access-control/permissions-reference
Any other role can be configured by its template id.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

BUILT_IN_ROLES = {
    "Global Administrator": "62e90394-69f5-4237-9190-012177145e10",
    "Privileged Role Administrator": "e8611ab8-c189-46e8-94e1-60213ab1f814",
    "Security Administrator": "194ae4cb-b126-40b2-bd5b-6091b380977d",
    "Application Administrator": "9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3",
    "Cloud Application Administrator": "158c047a-c907-4556-b7ef-446551a6b5f7",
    "Conditional Access Administrator": "b1be1c3e-b65d-4f19-8427-f6fa0d97feb9",
    "Privileged Authentication Administrator": "7be44c8a-adaf-4e2a-84d6-ab2649e08a13",
    "User Administrator": "fe930be7-5e62-47db-91af-98c3a49a38b1",
    "Exchange Administrator": "29232cdf-9323-42fd-ade2-1d097af3e4de",
    "SharePoint Administrator": "f28a1f50-f6e7-4571-818b-6a12f2af6b6c",
    "Helpdesk Administrator": "729827e3-9c14-49f7-bb1b-9608f156bbb8",
    "Global Reader": "f2ef992c-3afb-46b9-b7cf-a126ee74c451",
    "Authentication Administrator": "c4e39bd9-1100-46d3-8c65-fb160da0071f",
}
_NAMES = {template: name for name, template in BUILT_IN_ROLES.items()}
GUID = re.compile(r"^[0-9a-fA-F]{8}-([0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}$")
"""A GUID in any case (Graph writes them lower-case; people paste them upper-case)."""


def known_roles(roles: Iterable[str]) -> tuple[str, ...]:
    """``roles`` unchanged when each is a built-in role name or a template id; ValueError naming
    the unknown ones and what is accepted otherwise (for pydantic field validators)."""
    roles = tuple(roles)
    unknown = [role for role in roles if role not in BUILT_IN_ROLES and not GUID.match(role)]
    if unknown:
        raise ValueError(
            f"unknown directory role(s) {', '.join(map(repr, unknown))}: name a built-in role "
            f"({', '.join(sorted(BUILT_IN_ROLES))}) or give the role's template id"
        )
    return roles


def role_template_id(role: str) -> str:
    """The lower-case template id of a role given by built-in name or template id."""
    return BUILT_IN_ROLES.get(role, role).lower()


def role_name(template_id: str) -> str:
    """The built-in role's display name, or the template id itself for a role not in the table."""
    return _NAMES.get(template_id.lower(), template_id)
