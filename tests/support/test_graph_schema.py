"""Unit tests of the Graph metadata validator, on hand-made objects.

Type facts asserted here were looked up in ``v1.0.csdl`` (line numbers drift between snapshots,
so the comments name the type instead).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tests.support.graph_schema import (
    METADATA_DIR,
    GraphSchema,
    UnknownGraphTypeError,
    metadata_directory,
)

# The servicePrincipal of graph-facts §1, with its two elided GUIDs written out.
DOCUMENTED_SERVICE_PRINCIPAL: dict[str, Any] = {
    "id": "59e617e5-e447-4adc-8b88-00af644d7c92",
    "deletedDateTime": None,
    "accountEnabled": True,
    "appDisplayName": "My App",
    "appId": "65415bb1-9267-4313-bbf5-ae259732ee12",
    "appOwnerOrganizationId": "1bc1c026-2f7b-48a5-98da-afa2fd8bc7bc",
    "appRoleAssignmentRequired": False,
    "displayName": "My App",
    "preferredSingleSignOnMode": "saml",
    "preferredTokenSigningKeyThumbprint": "DA20FCA696C4F83E8A9AED59BE33368ED421F3C1",
    "servicePrincipalType": "Application",
    "signInAudience": "AzureADMyOrg",
    "keyCredentials": [
        {
            "customKeyIdentifier": "2iD8ppbE+D6Kmu1ZvjM2jtQh88E=",
            "displayName": "CN=My App",
            "endDateTime": "2027-01-25T00:00:00Z",
            "key": None,
            "keyId": "93bc223f-7235-4b9c-beea-d66847531c49",
            "startDateTime": "2024-01-25T00:00:00Z",
            "type": "AsymmetricX509Cert",
            "usage": "Verify",
        }
    ],
    "passwordCredentials": [
        {
            "customKeyIdentifier": None,
            "displayName": "ci-secret",
            "endDateTime": "2026-12-01T00:00:00Z",
            "hint": "Abc",
            "keyId": "0a1b2c3d-4e5f-4a6b-8c7d-8e9fa0b1c2d3",
            "secretText": None,
            "startDateTime": "2025-12-01T00:00:00.1234567Z",
        }
    ],
    "appRoles": [],
    "oauth2PermissionScopes": [],
    "servicePrincipalNames": ["65415bb1-9267-4313-bbf5-ae259732ee12"],
    "tags": [],
}

# graph-facts §3, beta /reports/servicePrincipalSignInActivities.
DOCUMENTED_SIGN_IN_ACTIVITY: dict[str, Any] = {
    "id": "ZjRkOTY1NGYtMDMwNS00MDcyLTg3OGMtOGJmMjY2ZGZlMTQ2",
    "appId": "f4d9654f-0305-4072-878c-8bf266dfe146",
    "lastSignInActivity": {
        "lastSignInDateTime": "2021-04-01T00:00:00Z",
        "lastSignInRequestId": "b26f6bf8-af96-4f2a-bef7-07913f634d6d",
    },
    "delegatedClientSignInActivity": None,
    "delegatedResourceSignInActivity": None,
    "applicationAuthenticationClientSignInActivity": None,
    "applicationAuthenticationResourceSignInActivity": None,
}

SIGN_IN = {
    "id": "66ea54eb-6301-4ee5-be62-ff5a759b0100",
    "createdDateTime": "2024-01-13T14:13:32Z",
    "userId": "d2a9e5c8-1f0b-4c3a-9e7d-6b5a4c3d2e1f",
    "riskDetail": "none",
    "riskLevelAggregated": "low",
}


@pytest.fixture(scope="module")
def schema() -> GraphSchema:
    return GraphSchema.load()


def service_principal(**changes: Any) -> dict[str, Any]:
    """A copy of the documented service principal with top-level ``changes`` applied."""
    copy: dict[str, Any] = {
        key: [dict(item) for item in value] if key.endswith("Credentials") else value
        for key, value in DOCUMENTED_SERVICE_PRINCIPAL.items()
    }
    copy.update(changes)
    return copy


def assert_one_problem(problems: list[str], location: str, phrase: str) -> None:
    assert len(problems) == 1, problems
    assert problems[0].startswith(f"{location}: "), problems
    assert phrase in problems[0], problems


# Loading -------------------------------------------------------------------------------------


def test_load_parses_once_per_directory(schema: GraphSchema) -> None:
    assert GraphSchema.load() is schema
    assert GraphSchema.load(METADATA_DIR) is schema


def test_environment_variable_chooses_the_directory(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, schema: GraphSchema
) -> None:
    for source in METADATA_DIR.iterdir():
        (tmp_path / source.name).symlink_to(source)
    monkeypatch.setenv("GRAPH_METADATA_DIR", str(tmp_path))

    assert metadata_directory() == tmp_path
    assert GraphSchema.load() is not schema


def test_unknown_type_and_version_are_errors(schema: GraphSchema) -> None:
    with pytest.raises(UnknownGraphTypeError, match="serviceprincipal"):
        schema.validate({}, "serviceprincipal")
    with pytest.raises(ValueError, match=r"v2\.0"):
        schema.validate({}, "servicePrincipal", "v2.0")


# v1.0: a conforming object -------------------------------------------------------------------


def test_documented_service_principal_conforms(schema: GraphSchema) -> None:
    assert schema.validate(DOCUMENTED_SERVICE_PRINCIPAL, "servicePrincipal") == []


def test_property_names_include_inherited_and_exclude_navigation(schema: GraphSchema) -> None:
    names = schema.property_names("servicePrincipal")

    assert {"id", "deletedDateTime", "appId", "keyCredentials"} <= names
    assert "owners" not in names  # a navigation property


# v1.0: one problem per kind of error ---------------------------------------------------------


def test_unknown_property(schema: GraphSchema) -> None:
    problems = schema.validate(service_principal(appDisplayNam="My App"), "servicePrincipal")

    assert_one_problem(problems, "/appDisplayNam", "not a property of microsoft.graph.servic")


def test_directory_extension_attribute_is_a_dynamic_property(schema: GraphSchema) -> None:
    extension = {"extension_0123456789abcdef0123456789abcdef_costCenter": "4711"}

    assert schema.validate(service_principal(**extension), "servicePrincipal") == []


def test_string_where_boolean_is_declared(schema: GraphSchema) -> None:
    problems = schema.validate(service_principal(accountEnabled="true"), "servicePrincipal")

    assert_one_problem(problems, "/accountEnabled", "'true' is not an Edm.Boolean")


def test_uppercase_guid(schema: GraphSchema) -> None:
    tenant = "1BC1C026-2F7B-48A5-98DA-AFA2FD8BC7BC"
    problems = schema.validate(service_principal(appOwnerOrganizationId=tenant), "servicePrincipal")

    assert_one_problem(problems, "/appOwnerOrganizationId", "is not an Edm.Guid")


@pytest.mark.parametrize(
    "end",
    [
        "2027-01-25T00:00:00",
        "2027-01-25",
        "2027-01-25T00:00:00+00:00",
        "2027-02-30T00:00:00Z",
        "2027-01-25T00:00:00.12345678Z",
    ],
)
def test_date_time_offset_must_be_utc_with_z(schema: GraphSchema, end: str) -> None:
    principal = service_principal()
    principal["keyCredentials"][0]["endDateTime"] = end

    problems = schema.validate(principal, "servicePrincipal")

    assert_one_problem(problems, "/keyCredentials/0/endDateTime", "is not an Edm.DateTimeOffset")


def test_invalid_base64(schema: GraphSchema) -> None:
    principal = service_principal()
    principal["keyCredentials"][0]["customKeyIdentifier"] = "2iD8ppbE-D6Kmu1ZvjM2jtQh88E"

    problems = schema.validate(principal, "servicePrincipal")

    assert_one_problem(problems, "/keyCredentials/0/customKeyIdentifier", "is not an Edm.Binary")


def test_unknown_field_in_nested_complex_value(schema: GraphSchema) -> None:
    principal = service_principal()
    principal["keyCredentials"][0]["thumbprint"] = "DA20FCA696C4F83E8A9AED59BE33368ED421F3C1"

    problems = schema.validate(principal, "servicePrincipal")

    assert_one_problem(problems, "/keyCredentials/0/thumbprint", "microsoft.graph.keyCredential")


def test_collection_must_be_an_array(schema: GraphSchema) -> None:
    problems = schema.validate(
        service_principal(tags="WindowsAzureActiveDirectoryIntegratedApp"), "servicePrincipal"
    )

    assert_one_problem(problems, "/tags", "expected a JSON array for Collection(Edm.String)")


def test_collection_items_must_not_be_null(schema: GraphSchema) -> None:
    problems = schema.validate(service_principal(tags=["a", None]), "servicePrincipal")

    assert_one_problem(problems, "/tags/1", "null item")


def test_wrong_odata_type(schema: GraphSchema) -> None:
    principal = service_principal(**{"@odata.type": "#microsoft.graph.application"})

    problems = schema.validate(principal, "servicePrincipal")

    assert_one_problem(problems, "/@odata.type", "is not microsoft.graph.servicePrincipal or")


def test_inline_navigation_property(schema: GraphSchema) -> None:
    problems = schema.validate(service_principal(owners=[]), "servicePrincipal")

    assert_one_problem(problems, "/owners", "navigation property")


def test_null_in_non_nullable_property(schema: GraphSchema) -> None:
    # signIn.createdDateTime is declared Nullable="false".
    problems = schema.validate({**SIGN_IN, "createdDateTime": None}, "signIn")

    assert_one_problem(problems, "/createdDateTime", "null in non-nullable")


def test_absent_non_nullable_property_is_not_a_validation_problem(schema: GraphSchema) -> None:
    sign_in = {key: value for key, value in SIGN_IN.items() if key != "createdDateTime"}

    assert schema.validate(sign_in, "signIn") == []
    assert schema.missing_properties(sign_in, "signIn")[:3] == [
        "appDisplayName",
        "appId",
        "appliedConditionalAccessPolicies",
    ]


def test_enum_value_must_be_a_member(schema: GraphSchema) -> None:
    # riskLevel: low, medium, high, hidden, none, unknownFutureValue.
    problems = schema.validate({**SIGN_IN, "riskLevelAggregated": "severe"}, "signIn")

    assert_one_problem(problems, "/riskLevelAggregated", "not a member of microsoft.graph.riskLevel")


def test_member_after_unknown_future_value_is_gated(schema: GraphSchema) -> None:
    # riskDetail declares m365DAdminDismissedDetection right after unknownFutureValue.
    sign_in = {**SIGN_IN, "riskDetail": "m365DAdminDismissedDetection"}

    problems = schema.validate(sign_in, "signIn")

    assert_one_problem(problems, "/riskDetail", "include-unknown-enum-members")
    assert schema.validate(sign_in, "signIn", allow_gated_enum_members=True) == []
    assert schema.validate({**SIGN_IN, "riskDetail": "unknownFutureValue"}, "signIn") == []


def test_flags_enum_accepts_comma_separated_members(schema: GraphSchema) -> None:
    # application.nativeAuthenticationApisEnabled is an IsFlags enum: none, all, unknownFutureValue.
    assert schema.validate({"nativeAuthenticationApisEnabled": "none,all"}, "application") == []
    problems = schema.validate({"nativeAuthenticationApisEnabled": "all,some"}, "application")
    assert_one_problem(problems, "/nativeAuthenticationApisEnabled", "'some' is not a member")


@pytest.mark.parametrize(
    ("field", "value", "edm_type"),
    [
        ("instanceDurationInDays", True, "Edm.Int32"),
        ("instanceDurationInDays", 2**31, "Edm.Int32"),
        ("instanceDurationInDays", 1.5, "Edm.Int32"),
        ("recommendationLookBackDuration", "30 days", "Edm.Duration"),
        ("recommendationLookBackDuration", "P1M", "Edm.Duration"),
        ("autoApplyDecisionsEnabled", 1, "Edm.Boolean"),
    ],
)
def test_primitive_value_of_the_wrong_kind(
    schema: GraphSchema, field: str, value: object, edm_type: str
) -> None:
    problems = schema.validate({field: value}, "accessReviewScheduleSettings")

    assert_one_problem(problems, f"/{field}", f"is not an {edm_type}")


def test_primitive_values_of_the_right_kind(schema: GraphSchema) -> None:
    settings = {"instanceDurationInDays": 0, "recommendationLookBackDuration": "P30DT12H"}
    location = {"geoCoordinates": {"latitude": 47.6, "longitude": -122, "altitude": "NaN"}}

    assert schema.validate(settings, "accessReviewScheduleSettings") == []
    assert schema.validate({"startDate": "2024-02-29"}, "recurrenceRange") == []
    assert schema.validate(location, "signInLocation") == []


# v1.0: derived types -------------------------------------------------------------------------

IP_NAMED_LOCATION = {
    "@odata.type": "#microsoft.graph.ipNamedLocation",
    "id": "0824dbaf-6277-4db0-8112-b29fd356f2c4",
    "displayName": "Untrusted IP named location",
    "createdDateTime": "2021-04-01T21:08:18.0475011Z",
    "modifiedDateTime": "2021-04-01T21:08:18.0475011Z",
    "isTrusted": False,
    "ipRanges": [{"@odata.type": "#microsoft.graph.iPv4CidrRange", "cidrAddress": "12.34.221.11/22"}],
}


def test_named_location_is_checked_as_its_derived_type(schema: GraphSchema) -> None:
    assert schema.validate(IP_NAMED_LOCATION, "namedLocation") == []


def test_derived_properties_need_the_derived_odata_type(schema: GraphSchema) -> None:
    untyped = {key: value for key, value in IP_NAMED_LOCATION.items() if key != "@odata.type"}

    problems = schema.validate(untyped, "namedLocation")

    assert [problem.split(":")[0] for problem in problems] == ["/isTrusted", "/ipRanges"]


def test_abstract_complex_value_needs_odata_type(schema: GraphSchema) -> None:
    # ipRange is abstract; its items must say iPv4CidrRange, iPv6CidrRange, iPv4Range or iPv6Range.
    location = {**IP_NAMED_LOCATION, "ipRanges": [{"cidrAddress": "12.34.221.11/22"}]}

    problems = schema.validate(location, "namedLocation")

    assert_one_problem(problems, "/ipRanges/0", "microsoft.graph.ipRange is abstract")


# missing_properties --------------------------------------------------------------------------


def test_missing_properties_lists_exactly_what_was_dropped(schema: GraphSchema) -> None:
    complete = dict.fromkeys(schema.property_names("servicePrincipal"))
    assert schema.missing_properties(complete, "servicePrincipal") == []

    del complete["tags"], complete["appOwnerOrganizationId"]

    missing = schema.missing_properties(complete, "servicePrincipal")
    assert missing == ["appOwnerOrganizationId", "tags"]


def test_missing_properties_follow_odata_type(schema: GraphSchema) -> None:
    location = {key: value for key, value in IP_NAMED_LOCATION.items() if key != "ipRanges"}

    assert schema.missing_properties(location, "namedLocation") == ["deletedDateTime", "ipRanges"]


def test_missing_properties_leave_out_stream_properties(schema: GraphSchema) -> None:
    # application.logo is an Edm.Stream, read from /applications/{id}/logo, never inline.
    complete = dict.fromkeys(schema.property_names("application") - {"logo"})

    assert "logo" in schema.property_names("application")
    assert schema.missing_properties(complete, "application") == []


# beta: names only ----------------------------------------------------------------------------


def test_beta_sign_in_activity_names_conform(schema: GraphSchema) -> None:
    problems = schema.validate(DOCUMENTED_SIGN_IN_ACTIVITY, "servicePrincipalSignInActivity", "beta")

    assert problems == []


def test_beta_misspelt_property(schema: GraphSchema) -> None:
    activity = {**DOCUMENTED_SIGN_IN_ACTIVITY, "lastSigninActivity": None}

    problems = schema.validate(activity, "servicePrincipalSignInActivity", "beta")

    assert_one_problem(problems, "/lastSigninActivity", "servicePrincipalSignInActivity")


def beta_service_principal() -> dict[str, Any]:
    """The documented service principal as beta spells it: beta renamed
    oauth2PermissionScopes to publishedPermissionScopes."""
    principal = service_principal(publishedPermissionScopes=[])
    del principal["oauth2PermissionScopes"]
    return principal


def test_beta_inherits_along_v1_base_types(schema: GraphSchema) -> None:
    # The beta lists give declared names only; id and deletedDateTime come from
    # entity and directoryObject, as in v1.0.
    names = schema.property_names("servicePrincipal", "beta")

    assert {"id", "deletedDateTime", "preferredTokenSigningKeyEndDateTime"} <= names
    assert schema.validate(beta_service_principal(), "servicePrincipal", "beta") == []


def test_beta_reports_v1_only_property(schema: GraphSchema) -> None:
    problems = schema.validate(DOCUMENTED_SERVICE_PRINCIPAL, "servicePrincipal", "beta")

    assert_one_problem(problems, "/oauth2PermissionScopes", "beta microsoft.graph.servicePrincipal")


def test_beta_entity_declaring_id_is_a_root(schema: GraphSchema) -> None:
    # v1.0 derives conditionalAccessPolicy from policyDeletableItem (deletedDateTime);
    # beta declares id on it, so it has no base type and no deletedDateTime.
    assert "deletedDateTime" in schema.property_names("conditionalAccessPolicy")
    assert "deletedDateTime" not in schema.property_names("conditionalAccessPolicy", "beta")


def test_beta_checks_nested_names_when_v1_knows_the_type(schema: GraphSchema) -> None:
    principal = beta_service_principal()
    principal["keyCredentials"][0]["thumbprint"] = "DA20FCA696C4F83E8A9AED59BE33368ED421F3C1"

    problems = schema.validate(principal, "servicePrincipal", "beta")

    assert_one_problem(problems, "/keyCredentials/0/thumbprint", "microsoft.graph.keyCredential")


def test_beta_missing_properties(schema: GraphSchema) -> None:
    activity = dict(DOCUMENTED_SIGN_IN_ACTIVITY)
    del activity["delegatedClientSignInActivity"]

    missing = schema.missing_properties(activity, "servicePrincipalSignInActivity", "beta")

    assert missing == ["delegatedClientSignInActivity"]
