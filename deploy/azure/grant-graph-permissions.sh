#!/usr/bin/env bash
# Grant the monitor's managed identity exactly the Microsoft Graph application permissions it needs,
# all read-only, as app role assignments on the Microsoft Graph service principal (a managed identity
# has no app registration to consent on, and ARM cannot assign Graph app roles).
#
#   deploy/azure/grant-graph-permissions.sh RESOURCE_GROUP IDENTITY_NAME [--dry-run]
#   deploy/azure/grant-graph-permissions.sh --list
#
# Run it signed in to the monitored tenant with the Azure CLI (`az login`) as a Privileged Role
# Administrator (or Global Administrator), or as an app holding AppRoleAssignment.ReadWrite.All and
# Application.Read.All. It prints each permission and what it did: granted, already granted, or (with
# --dry-run) would grant. It never removes anything; Graph permissions the identity holds beyond the
# list are reported so that an administrator can remove them. A new assignment can take a while to
# reach the identity's tokens (they are cached for up to about 24 hours).
#
# The list is the union of the permissions the checks declare (`entra-monitor checks list`,
# `entra-monitor permissions`); tests/deploy/test_grant_script.py keeps it equal to that union.
set -euo pipefail

GRAPH_APP_ID="00000003-0000-0000-c000-000000000000"
GRAPH="https://graph.microsoft.com/v1.0"
PERMISSIONS=(
  AccessReview.Read.All
  Application.Read.All
  AuditLog.Read.All
  DelegatedPermissionGrant.Read.All
  GroupMember.Read.All
  IdentityRiskEvent.Read.All
  IdentityRiskyUser.Read.All
  Policy.Read.All
  User.Read.All
)

usage() {
  echo "usage: $0 RESOURCE_GROUP IDENTITY_NAME [--dry-run] | $0 --list" >&2
  exit 2
}

# Refuse to run with a permission that could write, whatever someone edits into the list.
for permission in "${PERMISSIONS[@]}"; do
  case "$permission" in
    *.Read.All) ;;
    *)
      echo "refusing: $permission is not a read-only (*.Read.All) permission" >&2
      exit 2
      ;;
  esac
done

if [[ "${1:-}" == "--list" ]]; then
  printf '%s\n' "${PERMISSIONS[@]}"
  exit 0
fi
[[ $# -ge 2 && $# -le 3 ]] || usage
RESOURCE_GROUP="$1"
IDENTITY_NAME="$2"
DRY_RUN=false
if [[ $# -eq 3 ]]; then
  [[ "$3" == "--dry-run" ]] || usage
  DRY_RUN=true
fi
command -v az >/dev/null || { echo "the Azure CLI (az) is not installed" >&2; exit 2; }

principal_id=$(az identity show --resource-group "$RESOURCE_GROUP" --name "$IDENTITY_NAME" \
  --query principalId --output tsv)
[[ -n "$principal_id" ]] || { echo "identity $IDENTITY_NAME in $RESOURCE_GROUP has no principal id" >&2; exit 1; }
graph_sp=$(az ad sp show --id "$GRAPH_APP_ID" --query id --output tsv)
echo "identity:  $IDENTITY_NAME (service principal $principal_id)"
echo "resource:  Microsoft Graph (service principal $graph_sp)"

# The app role ids of Microsoft Graph's application permissions, looked up by value in this tenant.
roles=$(az ad sp show --id "$GRAPH_APP_ID" \
  --query "appRoles[?contains(allowedMemberTypes, 'Application')].[value, id]" --output tsv)
held=$(az rest --method GET \
  --uri "$GRAPH/servicePrincipals/$principal_id/appRoleAssignments?\$select=appRoleId,resourceId" \
  --query "value[?resourceId=='$graph_sp'].appRoleId" --output tsv)

role_id() {
  awk -v wanted="$1" -F '\t' '$1 == wanted { print $2 }' <<<"$roles"
}

wanted_ids=()
for permission in "${PERMISSIONS[@]}"; do
  id=$(role_id "$permission")
  if [[ -z "$id" ]]; then
    echo "error: Microsoft Graph has no application permission $permission" >&2
    exit 1
  fi
  wanted_ids+=("$id")
  if grep -qx "$id" <<<"$held"; then
    echo "already granted  $permission ($id)"
  elif [[ "$DRY_RUN" == true ]]; then
    echo "would grant      $permission ($id)"
  else
    az rest --method POST --uri "$GRAPH/servicePrincipals/$principal_id/appRoleAssignments" \
      --headers "Content-Type=application/json" \
      --body "{\"principalId\": \"$principal_id\", \"resourceId\": \"$graph_sp\", \"appRoleId\": \"$id\"}" \
      --output none
    echo "granted          $permission ($id)"
  fi
done

# Anything more the identity holds on Graph is more than the monitor needs.
while read -r id; do
  [[ -n "$id" ]] || continue
  if ! printf '%s\n' "${wanted_ids[@]}" | grep -qx "$id"; then
    value=$(awk -v wanted="$id" -F '\t' '$2 == wanted { print $1 }' <<<"$roles")
    echo "warning: the identity also holds ${value:-app role $id}, which the monitor does not need; remove it" >&2
  fi
done <<<"$held"
echo "done: ${#PERMISSIONS[@]} read-only Microsoft Graph application permissions"
