"""Consent: delegated permission grants, application permissions (app role assignments) and the
service-principal sign-in activity report that says whether a client still uses them.

Generated grants are laid out client by client: the grants of generated service principal ``c``
are a contiguous run of indices, so ``clientId eq '…'`` and grant ids resolve without a scan.
"""

from __future__ import annotations

import base64
import math
from collections.abc import Iterable, Iterator
from datetime import datetime

from emulator.ids import decode_opaque_id, guid_from_bytes_le, iso, mix64
from emulator.odata.filter import Node
from emulator.tenant import catalog
from emulator.tenant.base import Collection, GraphObject, IndexedCollection, Key, TenantContext
from emulator.tenant.directory import Applications, People
from emulator.tenant.fixed import FixedObjects
from emulator.tenant.objects import app_role_assignment, delegated_grant, random_guid
from emulator.tenant.plants import PlantPlan

HIGH_PRIVILEGE_SCOPES = ("Directory.ReadWrite.All", "Mail.ReadWrite", "Files.ReadWrite.All")
HIGH_PRIVILEGE_APP_ROLES = (
    "RoleManagement.ReadWrite.Directory",
    "Application.ReadWrite.All",
    "AppRoleAssignment.ReadWrite.All",
    "Sites.FullControl.All",
)
SHAREPOINT_SCOPES = "AllSites.Read MyFiles.Read"


class Consents:
    def __init__(
        self,
        context: TenantContext,
        plan: PlantPlan,
        apps: Applications,
        people: People,
        fixed: FixedObjects,
        service_principals: IndexedCollection,
    ) -> None:
        self._context = context
        self._plan = plan
        self._apps = apps
        self._people = people
        self._fixed = fixed
        self._service_principals = service_principals
        self.graph_sp = fixed.by_name["Microsoft Graph"]
        self.sharepoint_sp = fixed.by_name["Office 365 SharePoint Online"]
        self._grant_count = context.scale.grants
        self._sp_count = context.scale.service_principals
        self.grants = IndexedCollection(
            "oAuth2PermissionGrant",
            fixed.grants,
            self._grant_count,
            self.grant,
            self._grant_index,
            alternate_keys={"clientId": self._grant_positions_of_client},
        )

    # -- delegated grants ------------------------------------------------------------------

    def grant_range(self, client: int) -> range:
        """Indices of the generated grants whose client is generated service principal ``client``."""
        grants, sps = self._grant_count, self._sp_count
        return range(math.ceil(client * grants / sps), math.ceil((client + 1) * grants / sps))

    def client_of(self, grant: int) -> int:
        return grant * self._sp_count // self._grant_count

    def grant(self, index: int) -> GraphObject:
        client = self.client_of(index)
        number = index - self.grant_range(client).start
        rng = self._context.seeded.rng("grant", index)
        client_id = self._apps.service_principal_id(client)
        if number == 1 and rng.random() < 0.3:
            resource, principal, scope = self.sharepoint_sp["id"], None, SHAREPOINT_SCOPES
        elif number == 0:
            extras = [s for s in ("Calendars.Read", "Mail.Read") if rng.random() < 0.3]
            scope = " ".join(["openid", "profile", "email", "offline_access", "User.Read", *extras])
            if self._plan.service_principal_plants.get(client) == "high-privilege-delegated":
                scope += " " + rng.choice(HIGH_PRIVILEGE_SCOPES)
            resource, principal = self.graph_sp["id"], None
        else:
            user = (mix64(client) + number) % self._context.scale.users
            principal = self._people.person(user).id
            resource = self.graph_sp["id"]
            scope = " ".join(rng.sample(["User.Read", "Calendars.Read", "Mail.Read", "offline_access"], 2))
        return delegated_grant(client_id, resource, scope, principal)

    def _grant_index(self, grant_id: str) -> int | None:
        raw = decode_opaque_id(grant_id)
        if raw is None or len(raw) not in (32, 48):
            return None
        client = self._apps.index_of_service_principal(guid_from_bytes_le(raw[:16]))
        if client is None:
            return None
        for index in self.grant_range(client):
            if self.grant(index)["id"] == grant_id:
                return index
        return None

    def _grant_positions_of_client(self, client_id: str) -> Iterable[int]:
        positions = [p for p, g in enumerate(self._fixed.grants) if g["clientId"] == client_id.lower()]
        client = self._apps.index_of_service_principal(client_id)
        if client is not None and client < self._sp_count:
            offset = len(self._fixed.grants)
            positions.extend(offset + index for index in self.grant_range(client))
        return positions

    # -- application permissions ----------------------------------------------------------

    def assignments_of(self, position: int) -> list[GraphObject]:
        """App role assignments held by the service principal at ``position``."""
        sp = self._service_principals.at(position)
        fixed = [a for a in self._fixed.app_role_assignments if a["principalId"] == sp["id"]]
        index = position - self._service_principals.fixed_count
        if index < 0 or index >= self._sp_count:
            return fixed
        return fixed + self._generated_assignments(index, sp)

    def _generated_assignments(self, index: int, sp: GraphObject) -> list[GraphObject]:
        rng = self._context.seeded.rng("app-roles", index)
        draw = rng.random()
        count = 0 if draw < 0.4 else 1 if draw < 0.75 else 2
        values = rng.sample(catalog.ORDINARY_APP_ROLES, count)
        if self._plan.service_principal_plants.get(index) == "high-privilege-app-role":
            values.append(rng.choice(HIGH_PRIVILEGE_APP_ROLES))
        assignments = []
        for number, value in enumerate(values):
            created = self._context.ago(days=rng.uniform(30, 700))
            unique = rng.randbytes(15) + bytes([number])
            role = catalog.APP_ROLES_BY_VALUE[value].id
            assignments.append(app_role_assignment(sp, self.graph_sp, role, created, unique))
        return assignments

    def assignments_to(self, resource_id: str) -> AssignedTo:
        return AssignedTo(self, resource_id)

    def assignment(self, assignment_id: str) -> GraphObject | None:
        raw = decode_opaque_id(assignment_id)
        if raw is None or len(raw) != 32:
            return None
        position = self._service_principals.position_of(guid_from_bytes_le(raw[:16]))
        if position is None:
            return None
        return next((a for a in self.assignments_of(position) if a["id"] == assignment_id), None)

    @property
    def service_principals(self) -> IndexedCollection:
        return self._service_principals

    # -- sign-in activity (beta report) ----------------------------------------------------

    def activity(self, position: int) -> GraphObject | None:
        """The beta ``servicePrincipalSignInActivity`` of the service principal at ``position``,
        or None when it never signed in (the report then has no entry for it)."""
        sp = self._service_principals.at(position)
        index = position - self._service_principals.fixed_count
        last = self._fixed_last_sign_in(sp) if index < 0 else self._generated_last_sign_in(index, sp)
        if last is None:
            return None
        rng = self._context.seeded.rng("activity-request", position)
        stamp = {"lastSignInDateTime": iso(last), "lastSignInRequestId": random_guid(rng)}
        delegated = sp["appId"] in self._fixed.interactive_app_ids or (
            index >= 0 and index in self._plan.interactive_apps
        )
        resource = sp["appOwnerOrganizationId"] == catalog.MICROSOFT_SERVICES_TENANT and not delegated
        return {
            "id": base64.b64encode(sp["appId"].encode()).decode(),
            "appId": sp["appId"],
            "lastSignInActivity": stamp,
            "delegatedClientSignInActivity": stamp if delegated else None,
            "delegatedResourceSignInActivity": stamp if resource else None,
            "applicationAuthenticationClientSignInActivity": None if delegated or resource else stamp,
            "applicationAuthenticationResourceSignInActivity": stamp if resource else None,
        }

    def _generated_last_sign_in(self, index: int, sp: GraphObject) -> datetime | None:
        return self._apps.last_sign_in(index)

    def _fixed_last_sign_in(self, sp: GraphObject) -> datetime | None:
        if sp["displayName"] == "Retired Reporting Integration":
            return self._context.ago(days=200).replace(microsecond=0)
        return self._context.now.replace(microsecond=0)


class AssignedTo(Collection):
    """``GET /servicePrincipals/{id}/appRoleAssignedTo``: every assignment whose resource is one
    service principal, in the order of the principals holding them."""

    entity_type = "appRoleAssignment"

    def __init__(self, consents: Consents, resource_id: str) -> None:
        self._consents = consents
        self._resource_id = resource_id

    def count(self) -> int:
        return sum(1 for _ in self.scan(None, None))

    def scan(self, after: Key | None, filter_node: Node | None) -> Iterator[tuple[Key, GraphObject]]:
        sps = self._consents.service_principals
        start = after[0] if after else 0
        # Generated service principals hold permissions on Microsoft Graph only.
        is_graph = self._resource_id == self._consents.graph_sp["id"]
        end = sps.count() if is_graph else sps.fixed_count
        for position in range(start, end):
            for number, assignment in enumerate(self._consents.assignments_of(position)):
                key = (position, number)
                if after is not None and key <= after:
                    continue
                if assignment["resourceId"] == self._resource_id:
                    yield key, assignment

    def get(self, object_id: str) -> GraphObject | None:
        found = self._consents.assignment(object_id)
        return found if found and found["resourceId"] == self._resource_id else None
