"""Facts about Microsoft's side of a tenant: first-party applications, Graph permissions, roles.

Permission and role ids are stable across every Entra tenant (see graph-facts §2 and §8); the
emulator uses the real ones so that a monitor resolving ``appRoleId`` or a directory role template
id against them behaves as it would against a real tenant.
"""

from __future__ import annotations

from dataclasses import dataclass

MICROSOFT_SERVICES_TENANT = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"


@dataclass(frozen=True)
class Permission:
    value: str
    id: str
    display_name: str
    high_privilege: bool = False


# Microsoft Graph application permissions (app roles), by value.
GRAPH_APP_ROLES: tuple[Permission, ...] = (
    Permission("AccessReview.Read.All", "d07a8cc0-3d51-4b77-b3b0-32704d1f69fa", "Read all access reviews"),
    Permission("Application.Read.All", "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30", "Read all applications"),
    Permission(
        "Application.ReadWrite.All",
        "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9",
        "Read and write all applications",
        high_privilege=True,
    ),
    Permission(
        "AppRoleAssignment.ReadWrite.All",
        "06b708a9-e830-4db3-a914-8e69da51d44f",
        "Manage app permission grants and app role assignments",
        high_privilege=True,
    ),
    Permission("AuditLog.Read.All", "b0afded3-3588-46d8-8b3d-9842eff778da", "Read all audit log data"),
    Permission("Calendars.Read", "798ee544-9d2d-430c-a058-570e29e34338", "Read calendars in all mailboxes"),
    Permission(
        "Calendars.ReadWrite",
        "ef54d2bf-783f-4e0f-bca1-3210c0444d99",
        "Read and write calendars in all mailboxes",
    ),
    Permission(
        "DelegatedPermissionGrant.Read.All",
        "81b4724a-58aa-41c1-8a55-84ef97466587",
        "Read all delegated permission grants",
    ),
    Permission("Directory.Read.All", "7ab1d382-f21e-4acd-a863-ba3e13f7da61", "Read directory data"),
    Permission(
        "Directory.ReadWrite.All",
        "19dbc75e-c2e2-444c-a770-ec69d8559fc7",
        "Read and write directory data",
        high_privilege=True,
    ),
    Permission(
        "Files.Read.All",
        "01d4889c-1287-42c6-ac1f-5d1e02578ef6",
        "Read files in all site collections",
    ),
    Permission(
        "Files.ReadWrite.All",
        "75359482-378d-4052-8f01-80520e7db3cd",
        "Read and write files in all site collections",
        high_privilege=True,
    ),
    Permission("Group.Read.All", "5b567255-7703-4780-807c-7be8301ae99b", "Read all groups"),
    Permission("GroupMember.Read.All", "98830695-27a2-44f7-8c18-0c3ebc9698f6", "Read all group memberships"),
    Permission(
        "IdentityRiskEvent.Read.All",
        "6e472fd1-ad78-48da-a0f0-97ab2c6b769e",
        "Read all identity risk event information",
    ),
    Permission(
        "IdentityRiskyUser.Read.All",
        "dc5007c0-2d7d-4c42-879c-2dab87571379",
        "Read all identity risky user information",
    ),
    Permission("Mail.Read", "810c84a8-4a9e-49e6-bf7d-12d183f40d01", "Read mail in all mailboxes"),
    Permission(
        "Mail.ReadWrite",
        "e2a3a72e-5f79-4c64-b1b1-878b674786c9",
        "Read and write mail in all mailboxes",
        high_privilege=True,
    ),
    Permission("Mail.Send", "b633e1c5-b582-4048-a93e-9f11b44c7e96", "Send mail as any user"),
    Permission(
        "OnlineMeetings.ReadWrite.All",
        "b8bb2037-6e08-44ac-a4ea-4674e010e2a4",
        "Read and create online meetings",
    ),
    Permission(
        "Organization.Read.All",
        "498476ce-e0fe-48b0-b801-37ba7e2685c6",
        "Read organization information",
    ),
    Permission(
        "Policy.Read.All",
        "246dd0d5-5bd0-4def-940b-0421030a5b68",
        "Read your organization's policies",
    ),
    Permission(
        "Policy.Read.ConditionalAccess",
        "37730810-e9ba-4e46-b07e-8ca78d182097",
        "Read your organization's conditional access policies",
    ),
    Permission("Reports.Read.All", "230c1aed-a721-4c5d-9cb4-a90514e508ef", "Read all usage reports"),
    Permission(
        "RoleManagement.Read.Directory",
        "483bed4a-2ad3-4361-a73b-c83ccdbdc53c",
        "Read all directory RBAC settings",
    ),
    Permission(
        "RoleManagement.ReadWrite.Directory",
        "9e3f62cf-ca93-4989-b6ce-bf83c28f9fe8",
        "Read and write all directory RBAC settings",
        high_privilege=True,
    ),
    Permission(
        "Sites.Read.All",
        "332a536c-c7ef-4017-ab91-336970924f0d",
        "Read items in all site collections",
    ),
    Permission(
        "Sites.FullControl.All",
        "a82116e5-55eb-4c41-a434-62fe8a61c773",
        "Have full control of all site collections",
        high_privilege=True,
    ),
    Permission("User.Read.All", "df021288-bdef-4463-88db-98f22de89214", "Read all users' full profiles"),
    Permission(
        "User.ReadWrite.All",
        "741f803b-c850-494e-b5df-cde7c675a1ca",
        "Read and write all users' full profiles",
    ),
)

# Microsoft Graph delegated permissions (oauth2PermissionScopes), by value: (id, admin-consent?).
GRAPH_SCOPES: tuple[Permission, ...] = (
    Permission("Calendars.Read", "465a38f9-76ea-45b9-9f34-9e8b0d4b0b42", "Read user calendars"),
    Permission(
        "Calendars.ReadWrite",
        "1ec239c2-d7c9-4623-a91a-a9775856bb36",
        "Have full access to user calendars",
    ),
    Permission("Directory.Read.All", "06da0dbc-49e2-44d2-8312-53f166ab848a", "Read directory data"),
    Permission(
        "Directory.ReadWrite.All",
        "c5366453-9fb0-48a5-a156-24f0c49a4b84",
        "Read and write directory data",
        high_privilege=True,
    ),
    Permission("email", "64a6cdd6-aab1-4aaf-94b8-3cc8405e90d0", "View users' email address"),
    Permission(
        "Files.ReadWrite.All",
        "863451e7-0667-486c-a5d6-d135439485f0",
        "Have full access to all files user can access",
        high_privilege=True,
    ),
    Permission("Group.Read.All", "5f8c59db-677d-491f-a6b8-5f174b11ec1d", "Read all groups"),
    Permission("Mail.Read", "570282fd-fa5c-430d-a7fd-fc8dc98a9dca", "Read user mail"),
    Permission(
        "Mail.ReadWrite",
        "024d486e-b451-40bb-833d-3e66d98c5c73",
        "Read and write access to user mail",
        high_privilege=True,
    ),
    Permission(
        "offline_access",
        "7427e0e9-2fba-42fe-b0c0-848c9e6a8182",
        "Maintain access to data you have given it access to",
    ),
    Permission(
        "OnlineMeetings.ReadWrite",
        "a65f2972-a4f8-4f5e-afd7-69ccb046d5dc",
        "Read and create user's online meetings",
    ),
    Permission("openid", "37f7f235-527c-4136-accd-4a02d197296e", "Sign users in"),
    Permission("profile", "14dad69e-099b-42c9-810b-d002981feec1", "View users' basic profile"),
    Permission(
        "RoleManagement.ReadWrite.Directory",
        "d01b97e9-cbc0-49fe-810a-750afd5527a3",
        "Read and write directory RBAC settings",
        high_privilege=True,
    ),
    Permission("User.Read", "e1fe6dd8-ba31-4d61-89e7-88639da4683d", "Sign in and read user profile"),
    Permission("User.Read.All", "a154be20-db9c-4678-8ab7-66f6cc099a59", "Read all users' full profiles"),
    Permission(
        "User.ReadBasic.All",
        "b340eb25-3456-403f-be2f-af7a0d370277",
        "Read all users' basic profiles",
    ),
)

APP_ROLES_BY_VALUE = {permission.value: permission for permission in GRAPH_APP_ROLES}
SCOPES_BY_VALUE = {permission.value: permission for permission in GRAPH_SCOPES}

# Delegated scopes and application roles an ordinary, healthy app uses.
ORDINARY_SCOPES = (
    "openid",
    "profile",
    "email",
    "offline_access",
    "User.Read",
    "Calendars.Read",
    "Mail.Read",
)
ORDINARY_APP_ROLES = (
    "User.Read.All",
    "Group.Read.All",
    "Calendars.Read",
    "Sites.Read.All",
    "Reports.Read.All",
)

# The read-only permissions the monitor itself is granted (least privilege, graph-facts §1-§8).
MONITOR_ROLES = (
    "AccessReview.Read.All",
    "Application.Read.All",
    "AuditLog.Read.All",
    "Directory.Read.All",
    "IdentityRiskEvent.Read.All",
    "IdentityRiskyUser.Read.All",
    "Policy.Read.All",
    "User.Read.All",
)


@dataclass(frozen=True)
class FirstPartyApp:
    app_id: str
    display_name: str
    interactive: bool = True
    """Users sign in to it interactively (it appears in the sign-in log)."""


MICROSOFT_GRAPH = FirstPartyApp(GRAPH_APP_ID, "Microsoft Graph", interactive=False)
EXCHANGE_ONLINE = FirstPartyApp("00000002-0000-0ff1-ce00-000000000000", "Office 365 Exchange Online", False)
SHAREPOINT_ONLINE = FirstPartyApp(
    "00000003-0000-0ff1-ce00-000000000000", "Office 365 SharePoint Online", False
)
FIRST_PARTY_APPS: tuple[FirstPartyApp, ...] = (
    MICROSOFT_GRAPH,
    EXCHANGE_ONLINE,
    SHAREPOINT_ONLINE,
    FirstPartyApp("4765445b-32c6-49b0-83e6-1d93765276ca", "OfficeHome"),
    FirstPartyApp("1fec8e78-bce4-4aaf-ab1b-5451cc387264", "Microsoft Teams"),
    FirstPartyApp("d3590ed6-52b3-4102-aeff-aad2292ab01c", "Microsoft Office"),
    FirstPartyApp("c44b4083-3bb0-49c1-b47d-974e53cbdf3c", "Azure Portal"),
    FirstPartyApp("04b07795-8ddb-461a-bbee-02f9e1bf7b46", "Microsoft Azure CLI"),
    FirstPartyApp("de8bc8b5-d9f9-48b1-a8ad-b748da725064", "Graph Explorer"),
    FirstPartyApp("27922004-5251-4030-b22d-91ecd9a37ea4", "Outlook Mobile"),
)


@dataclass(frozen=True)
class DirectoryRole:
    template_id: str
    display_name: str
    privileged: bool


DIRECTORY_ROLES: tuple[DirectoryRole, ...] = (
    DirectoryRole("62e90394-69f5-4237-9190-012177145e10", "Global Administrator", True),
    DirectoryRole("e8611ab8-c189-46e8-94e1-60213ab1f814", "Privileged Role Administrator", True),
    DirectoryRole("194ae4cb-b126-40b2-bd5b-6091b380977d", "Security Administrator", True),
    DirectoryRole("9b895d92-2cd3-44c7-9d02-a6ac2d5ea5c3", "Application Administrator", True),
    DirectoryRole("158c047a-c907-4556-b7ef-446551a6b5f7", "Cloud Application Administrator", True),
    DirectoryRole("b1be1c3e-b65d-4f19-8427-f6fa0d97feb9", "Conditional Access Administrator", True),
    DirectoryRole("7be44c8a-adaf-4e2a-84d6-ab2649e08a13", "Privileged Authentication Administrator", True),
    DirectoryRole("fe930be7-5e62-47db-91af-98c3a49a38b1", "User Administrator", True),
    DirectoryRole("29232cdf-9323-42fd-ade2-1d097af3e4de", "Exchange Administrator", True),
    DirectoryRole("f28a1f50-f6e7-4571-818b-6a12f2af6b6c", "SharePoint Administrator", True),
    DirectoryRole("729827e3-9c14-49f7-bb1b-9608f156bbb8", "Helpdesk Administrator", False),
    DirectoryRole("f2ef992c-3afb-46b9-b7cf-a126ee74c451", "Global Reader", False),
)
ROLES_BY_NAME = {role.display_name: role for role in DIRECTORY_ROLES}

FIRST_NAMES = (
    "Adele",
    "Alex",
    "Amara",
    "Ben",
    "Carlos",
    "Chen",
    "Diego",
    "Emma",
    "Fatima",
    "Grace",
    "Hiro",
    "Ines",
    "Isaac",
    "Jana",
    "Jonas",
    "Kai",
    "Lara",
    "Lee",
    "Lucia",
    "Mateo",
    "Maya",
    "Megan",
    "Nia",
    "Noah",
    "Olga",
    "Omar",
    "Priya",
    "Raj",
    "Sara",
    "Sven",
    "Tariq",
    "Yara",
    "Zoe",
)
LAST_NAMES = (
    "Abbott",
    "Bauer",
    "Costa",
    "Dubois",
    "Eriksen",
    "Fischer",
    "Garcia",
    "Haddad",
    "Ivanova",
    "Jensen",
    "Kowalski",
    "Larsen",
    "Moreau",
    "Nakamura",
    "Okafor",
    "Patel",
    "Quinn",
    "Rossi",
    "Schmidt",
    "Tanaka",
    "Umar",
    "Varga",
    "Weber",
    "Xu",
    "Yilmaz",
    "Zhang",
)
DEPARTMENTS = (
    "Engineering",
    "Finance",
    "Sales",
    "Operations",
    "Legal",
    "Marketing",
    "Support",
    "HR",
)
JOB_TITLES = ("Engineer", "Analyst", "Manager", "Consultant", "Specialist", "Director", "Associate")
APP_NOUNS = (
    "Billing",
    "Catalog",
    "Payroll",
    "Inventory",
    "Reporting",
    "Analytics",
    "Ticketing",
    "Onboarding",
    "Scheduler",
    "Gateway",
    "Connector",
    "Portal",
    "Dashboard",
    "Sync",
    "Archive",
    "Notifier",
    "Pipeline",
    "Importer",
    "Exporter",
    "Ledger",
    "Forecast",
    "Helpdesk",
    "Expenses",
    "Wiki",
)
APP_QUALIFIERS = ("Service", "API", "Worker", "Web", "Automation", "Integration", "Backend", "Bot")

# (city, state, country code, latitude, longitude, public IPv4 prefix)
OFFICE_LOCATIONS = (
    ("Seattle", "Washington", "US", 47.61, -122.33, "131.107.160"),
    ("New York", "New York", "US", 40.71, -74.01, "40.112.72"),
    ("London", "England", "GB", 51.51, -0.13, "51.140.12"),
    ("Berlin", "Berlin", "DE", 52.52, 13.40, "20.113.45"),
    ("Amsterdam", "North Holland", "NL", 52.37, 4.90, "20.50.2"),
)
FOREIGN_LOCATIONS = (
    ("Lagos", "Lagos", "NG", 6.52, 3.38, "105.112.24"),
    ("Novosibirsk", "Novosibirsk Oblast", "RU", 55.01, 82.93, "95.170.134"),
    ("Pyongyang", "Pyongyang", "KP", 39.03, 125.75, "175.45.176"),
    ("Caracas", "Distrito Capital", "VE", 10.48, -66.90, "190.202.87"),
)
BROWSERS = ("Edge 131.0.0", "Chrome 131.0.0", "Firefox 133.0", "Safari 18.1")
OPERATING_SYSTEMS = ("Windows 10", "Windows 11", "MacOs", "Ios", "Android")
