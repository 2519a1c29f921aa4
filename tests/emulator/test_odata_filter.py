"""The emulator's OData ``$filter``: grammar, evaluation, capability checks and scan narrowing.

Filter strings come from the Graph fact sheet (graph-facts §1, §2, §4, §5, §7) where it has them.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta, timezone
from types import MappingProxyType
from typing import Any

import pytest

from emulator.odata.filter import (
    OPERATORS,
    And,
    Compare,
    FilterCapabilities,
    FilterError,
    FilterSyntaxError,
    Function,
    In,
    Lambda,
    Literal,
    LiteralKind,
    Node,
    Not,
    Or,
    Path,
    TimeBounds,
    UnsupportedFilter,
    check_capabilities,
    datetime_to_ticks,
    evaluate,
    parse_datetime_ticks,
    parse_filter,
    required_values,
    time_bounds,
)

TICKS_PER_SECOND = 10_000_000
MICROSOFT_SERVICES_TENANT = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"


def matches(text: str, obj: dict[str, Any]) -> bool:
    return evaluate(parse_filter(text), obj)


def compare(path: str, op: str, kind: LiteralKind, value: Any) -> Compare:
    return Compare(Path(path), op, Literal(kind, value))


def string(value: str) -> Literal:
    return Literal(LiteralKind.STRING, value)


def format_ticks(ticks: int, digits: int = 7, offset_minutes: int = 0) -> str:
    """ISO text for ``ticks`` (which must be a multiple of 10**(7 - digits)) at a UTC offset."""
    local = ticks + offset_minutes * 60 * TICKS_PER_SECOND
    seconds, fraction = divmod(local, TICKS_PER_SECOND)
    assert fraction % 10 ** (7 - digits) == 0
    text = (datetime(1, 1, 1) + timedelta(seconds=seconds)).strftime("%Y-%m-%dT%H:%M:%S")
    if digits:
        text += "." + f"{fraction:07d}"[:digits]
    if offset_minutes == 0:
        return text + "Z"
    sign = "+" if offset_minutes > 0 else "-"
    hours, minutes = divmod(abs(offset_minutes), 60)
    return f"{text}{sign}{hours:02d}:{minutes:02d}"


# --- parse_datetime_ticks ------------------------------------------------------------------


class TestParseDatetimeTicks:
    def test_epoch_is_zero(self) -> None:
        assert parse_datetime_ticks("0001-01-01T00:00:00Z") == 0

    def test_matches_dotnet_ticks_for_2024(self) -> None:
        # new DateTime(2024, 1, 1).Ticks in .NET
        assert parse_datetime_ticks("2024-01-01T00:00:00Z") == 638_396_640_000_000_000

    def test_keeps_all_seven_fractional_digits(self) -> None:
        base = parse_datetime_ticks("2020-03-13T19:15:41Z")
        assert parse_datetime_ticks("2020-03-13T19:15:41.6195833Z") == base + 6_195_833

    @pytest.mark.parametrize(
        ("fraction", "ticks"),
        [
            ("", 0),
            (".6", 6_000_000),
            (".61", 6_100_000),
            (".619", 6_190_000),
            (".6195", 6_195_000),
            (".61958", 6_195_800),
            (".619583", 6_195_830),
            (".6195833", 6_195_833),
            (".0000001", 1),
        ],
    )
    def test_pads_shorter_fractions(self, fraction: str, ticks: int) -> None:
        base = parse_datetime_ticks("2020-03-13T19:15:41Z")
        assert parse_datetime_ticks(f"2020-03-13T19:15:41{fraction}Z") == base + ticks

    @pytest.mark.parametrize(
        ("text", "utc"),
        [
            ("2024-01-13T14:13:32+02:00", "2024-01-13T12:13:32Z"),
            ("2024-01-13T14:13:32-08:00", "2024-01-13T22:13:32Z"),
            ("2024-01-13T14:13:32-8:00", "2024-01-13T22:13:32Z"),
            ("2024-01-13T14:13:32+05:30", "2024-01-13T08:43:32Z"),
            ("2024-01-01T01:00:00+02:00", "2023-12-31T23:00:00Z"),
            ("2024-01-13T14:13:32+00:00", "2024-01-13T14:13:32Z"),
            ("2024-01-13t14:13:32z", "2024-01-13T14:13:32Z"),
            ("2024-01-13T14:13Z", "2024-01-13T14:13:00Z"),
        ],
    )
    def test_normalises_offsets_to_utc(self, text: str, utc: str) -> None:
        assert parse_datetime_ticks(text) == parse_datetime_ticks(utc)

    def test_agrees_with_datetime_to_ticks(self) -> None:
        instant = datetime(2020, 3, 13, 19, 15, 41, 619583, tzinfo=UTC)
        assert datetime_to_ticks(instant) == parse_datetime_ticks("2020-03-13T19:15:41.619583Z")
        plus_two = instant.astimezone(timezone(timedelta(hours=2)))
        assert datetime_to_ticks(plus_two) == datetime_to_ticks(instant)
        assert datetime_to_ticks(instant.replace(tzinfo=None)) == datetime_to_ticks(instant)

    @pytest.mark.parametrize(
        "text",
        [
            "",
            "2024-01-13",
            "2024-01-13T14:13:32",
            "2024-01-13 14:13:32Z",
            "2024-01-13T14:13:32.12345678Z",
            "2024-01-13T14:13:32.Z",
            "2024-02-30T00:00:00Z",
            "2024-13-01T00:00:00Z",
            "0000-01-01T00:00:00Z",
            "2024-01-13T24:00:00Z",
            "2024-01-13T14:60:00Z",
            "2024-01-13T14:13:60Z",
            "2024-01-13T14:13:32+24:00",
            "2024-01-13T14:13:32+02:60",
            "2024-01-13T14:13:32Z ",
            "2024-01-13T14:13:32+0200",
            "\uff12\uff10\uff12\uff14-01-13T14:13:32Z",
        ],
    )
    def test_rejects_malformed_text(self, text: str) -> None:
        with pytest.raises(ValueError, match=r"."):
            parse_datetime_ticks(text)


# --- literals ------------------------------------------------------------------------------


class TestLiterals:
    @pytest.mark.parametrize(
        ("text", "literal"),
        [
            ("'medium'", Literal(LiteralKind.STRING, "medium")),
            ("'it''s'", Literal(LiteralKind.STRING, "it's")),
            ("''''", Literal(LiteralKind.STRING, "'")),
            ("''", Literal(LiteralKind.STRING, "")),
            ("'a and b or not c eq d'", Literal(LiteralKind.STRING, "a and b or not c eq d")),
            ("'(x), y/z: ü'", Literal(LiteralKind.STRING, "(x), y/z: ü")),
            ("0", Literal(LiteralKind.INTEGER, 0)),
            ("50126", Literal(LiteralKind.INTEGER, 50126)),
            ("-5", Literal(LiteralKind.INTEGER, -5)),
            ("3.25", Literal(LiteralKind.DECIMAL, 3.25)),
            ("-0.5", Literal(LiteralKind.DECIMAL, -0.5)),
            ("1e3", Literal(LiteralKind.DECIMAL, 1000.0)),
            ("true", Literal(LiteralKind.BOOLEAN, True)),
            ("FALSE", Literal(LiteralKind.BOOLEAN, False)),
            ("null", Literal(LiteralKind.NULL, None)),
            ("Null", Literal(LiteralKind.NULL, None)),
            (MICROSOFT_SERVICES_TENANT, Literal(LiteralKind.GUID, MICROSOFT_SERVICES_TENANT)),
            (
                "00000003-0000-0000-C000-000000000000",
                Literal(LiteralKind.GUID, "00000003-0000-0000-C000-000000000000"),
            ),
            ("2024-01-13T14:13:32Z", Literal(LiteralKind.DATETIME, "2024-01-13T14:13:32Z")),
            (
                "2020-03-13T19:15:41.6195833Z",
                Literal(LiteralKind.DATETIME, "2020-03-13T19:15:41.6195833Z"),
            ),
            (
                "2024-01-13T14:13:32+02:00",
                Literal(LiteralKind.DATETIME, "2024-01-13T14:13:32+02:00"),
            ),
            ("2024-01-13T14:13:32-8:00", Literal(LiteralKind.DATETIME, "2024-01-13T14:13:32-8:00")),
            ("2021-04-27", Literal(LiteralKind.DATE, "2021-04-27")),
            (
                "microsoft.graph.riskLevel'medium'",
                Literal(LiteralKind.ENUM, "medium", "microsoft.graph.riskLevel"),
            ),
        ],
    )
    def test_every_literal_kind(self, text: str, literal: Literal) -> None:
        assert parse_filter(f"x eq {text}") == Compare(Path("x"), "eq", literal)

    def test_literal_text_is_only_for_string_like_kinds(self) -> None:
        assert Literal(LiteralKind.GUID, MICROSOFT_SERVICES_TENANT).text == MICROSOFT_SERVICES_TENANT
        with pytest.raises(TypeError):
            _ = Literal(LiteralKind.INTEGER, 1).text


# --- grammar -------------------------------------------------------------------------------


A = compare("a", "eq", LiteralKind.INTEGER, 1)
B = compare("b", "eq", LiteralKind.INTEGER, 2)
C = compare("c", "eq", LiteralKind.INTEGER, 3)


class TestGrammar:
    @pytest.mark.parametrize("op", ["eq", "ne", "gt", "ge", "lt", "le"])
    def test_comparison_operators(self, op: str) -> None:
        assert parse_filter(f"a {op} 1") == compare("a", op, LiteralKind.INTEGER, 1)

    @pytest.mark.parametrize(
        ("text", "tree"),
        [
            ("a eq 1 or b eq 2 and c eq 3", Or((A, And((B, C))))),
            ("a eq 1 and b eq 2 or c eq 3", Or((And((A, B)), C))),
            ("(a eq 1 or b eq 2) and c eq 3", And((Or((A, B)), C))),
            ("a eq 1 and b eq 2 and c eq 3", And((A, B, C))),
            ("a eq 1 or b eq 2 or c eq 3", Or((A, B, C))),
            ("not a eq 1 and b eq 2", And((Not(A), B))),
            ("not(a eq 1) or b eq 2", Or((Not(A), B))),
            ("not (a eq 1 or b eq 2)", Not(Or((A, B)))),
            ("NOT(a eq 1)", Not(A)),
            ("not not a eq 1", Not(Not(A))),
            ("((a eq 1))", A),
        ],
    )
    def test_precedence_not_over_and_over_or(self, text: str, tree: object) -> None:
        assert parse_filter(text) == tree

    @pytest.mark.parametrize(
        "text",
        [
            "a EQ 1 AND b Eq 2",
            "a eq 1 And b eq 2",
            "  a   eq\t1\nand  b eq 2  ",
            "(a eq 1)and(b eq 2)",
        ],
    )
    def test_keywords_case_and_whitespace(self, text: str) -> None:
        assert parse_filter(text) == And((A, B))

    @pytest.mark.parametrize("name", ["startswith", "startsWith", "STARTSWITH"])
    def test_function_names_are_case_insensitive(self, name: str) -> None:
        assert parse_filter(f"{name}(displayName, 'Con')") == Function(
            "startsWith", Path("displayName"), string("Con")
        )

    @pytest.mark.parametrize(
        ("text", "name"),
        [
            ("endswith(x,'a')", "endsWith"),
            ("endsWith( x , 'a' )", "endsWith"),
            ("contains(x,'a')", "contains"),
            ("Contains(x, 'a')", "contains"),
        ],
    )
    def test_other_functions(self, text: str, name: str) -> None:
        assert parse_filter(text) == Function(name, Path("x"), string("a"))

    def test_in_with_a_literal_list(self) -> None:
        assert parse_filter("appId in ('a','b' , 'c')") == In(
            Path("appId"), (string("a"), string("b"), string("c"))
        )
        assert parse_filter("x IN (1)") == In(Path("x"), (Literal(LiteralKind.INTEGER, 1),))

    def test_paths_with_segments_and_type_casts(self) -> None:
        node = parse_filter("contains(scope/microsoft.graph.accessReviewQueryScope/query, './members')")
        assert isinstance(node, Function)
        assert node.path.text == "scope/microsoft.graph.accessReviewQueryScope/query"
        assert node.path.key == "scope/query"
        assert parse_filter("status/errorCode eq 0") == compare(
            "status/errorCode", "eq", LiteralKind.INTEGER, 0
        )

    def test_lambda_on_primitive_collection(self) -> None:
        assert parse_filter("signInEventTypes/any(t: t eq 'servicePrincipal')") == Lambda(
            Path("signInEventTypes"),
            "any",
            "t",
            Compare(Path("t", "t"), "eq", string("servicePrincipal")),
        )

    def test_lambda_on_complex_collection(self) -> None:
        node = parse_filter("keyCredentials/any(k: k/endDateTime le 2024-01-01T00:00:00Z)")
        assert node == Lambda(
            Path("keyCredentials"),
            "any",
            "k",
            Compare(
                Path("k/endDateTime", "k"),
                "le",
                Literal(LiteralKind.DATETIME, "2024-01-01T00:00:00Z"),
            ),
        )

    def test_lambda_with_function_and_no_spaces(self) -> None:
        assert parse_filter("servicePrincipalNames/any(c:startswith(c,'https'))") == Lambda(
            Path("servicePrincipalNames"),
            "any",
            "c",
            Function("startsWith", Path("c", "c"), string("https")),
        )

    def test_all_lambda_and_keyword_case(self) -> None:
        node = parse_filter("tags/ALL(t: t ne 'hidden' and t ne 'x')")
        assert isinstance(node, Lambda)
        assert node.kind == "all"
        assert isinstance(node.body, And)

    def test_nested_lambda(self) -> None:
        node = parse_filter("appRoles/any(r: r/allowedMemberTypes/any(m: m eq 'Application'))")
        assert isinstance(node, Lambda)
        assert node.body == Lambda(
            Path("r/allowedMemberTypes", "r"),
            "any",
            "m",
            Compare(Path("m", "m"), "eq", string("Application")),
        )

    def test_a_property_named_like_a_function_is_still_a_property(self) -> None:
        assert parse_filter("contains eq 'x'") == Compare(Path("contains"), "eq", string("x"))

    def test_path_must_start_with_its_variable(self) -> None:
        with pytest.raises(ValueError, match="does not start"):
            Path("x/endDateTime", "k")

    def test_compare_rejects_non_comparison_operators(self) -> None:
        with pytest.raises(ValueError, match="comparison"):
            Compare(Path("x"), "in", string("a"))


class TestSyntaxErrors:
    @pytest.mark.parametrize(
        ("text", "position"),
        [
            ("", 0),
            ("displayName eq", 14),
            ("displayName", 11),
            ("displayName xx 'a'", 12),
            ("displayName eq 'abc", 15),
            ("(displayName eq 'a'", 19),
            ("displayName eq 'a')", 18),
            ("displayName eq 'a' and", 22),
            ("displayName eq 'a' 'b'", 19),
            ("displayName eq 'a' &", 19),
            ("displayName eq displayName", 15),
            ("'x' eq displayName", 0),
            ("displayName eq 5L", 15),
            ("startswith(displayName, 1)", 24),
            ("contains(displayName)", 20),
            ("appId in ()", 10),
            ("appId in 'a'", 9),
            ("appId in ('a' 'b')", 14),
            ("createdDateTime ge 2024-13-01T00:00:00Z", 19),
            ("createdDateTime ge 2024-01-01T00:00:00", 19),
            ("createdDateTime ge 2024-01-01T00:00:00.12345678Z", 19),
            ("startDate eq 2021-02-30", 13),
            ("tags/any(t: x eq 'a')", 12),
            ("tags/any(t t eq 'a')", 11),
            ("tags/any()", 9),
            ("tags/all(t: t/any(u: t eq 1))", 21),
            ("riskLevel eq duration'P1D'", 13),
            ("a eq 1 and or b eq 2", 14),
            ("a/'b' eq 1", 2),
        ],
    )
    def test_position_of_the_failure(self, text: str, position: int) -> None:
        with pytest.raises(FilterSyntaxError) as caught:
            parse_filter(text)
        assert caught.value.position == position
        assert caught.value.message == f"Syntax error at position {position} in '{text}'."
        assert caught.value.reason

    def test_is_a_filter_error_with_graphs_wording(self) -> None:
        with pytest.raises(FilterError, match=r"^Syntax error at position 14 in 'displayName eq'\.$"):
            parse_filter("displayName eq")

    def test_deep_nesting_is_a_syntax_error_not_a_crash(self) -> None:
        with pytest.raises(FilterSyntaxError, match="Syntax error"):
            parse_filter("(" * 500 + "a eq 1" + ")" * 500)
        assert parse_filter("(" * 20 + "a eq 1" + ")" * 20) == A


# --- evaluation ----------------------------------------------------------------------------


SERVICE_PRINCIPAL: dict[str, Any] = {
    "id": "59e617e5-e447-4adc-8b88-00af644d7c92",
    "deletedDateTime": None,
    "accountEnabled": True,
    "appDisplayName": "My App",
    "appId": "65415bb1-9267-4313-bbf5-ae259732ee12",
    "appOwnerOrganizationId": "F8CDEF31-A31E-4B4A-93E4-5F571E91255A",
    "displayName": "My App",
    "preferredSingleSignOnMode": "saml",
    "servicePrincipalType": "Application",
    "keyCredentials": [
        {"endDateTime": "2027-01-25T00:00:00Z", "type": "AsymmetricX509Cert", "usage": "Verify"},
        {"endDateTime": "2023-06-01T00:00:00Z", "type": "AsymmetricX509Cert", "usage": "Sign"},
    ],
    "servicePrincipalNames": ["65415bb1-9267-4313-bbf5-ae259732ee12", "https://myapp.contoso.com"],
    "tags": [],
}

SIGN_IN: dict[str, Any] = {
    "id": "66ea54eb-6301-4ee5-be62-ff5a759b0100",
    "createdDateTime": "2020-03-13T19:15:41.6195833Z",
    "userPrincipalName": "testaccount1@contoso.com",
    "appId": "de8bc8b5-d9f9-48b1-a8ad-b748da725064",
    "riskLevelDuringSignIn": "medium",
    "status": {"errorCode": 50126, "failureReason": "Invalid password.", "additionalDetails": None},
    "location": {"city": "Redmond", "countryOrRegion": "US", "geoCoordinates": None},
    "signInEventTypes": ["servicePrincipal"],
}

DEFINITION: dict[str, Any] = {
    "id": "d1",
    "status": "InProgress",
    "scope": {
        "@odata.type": "#microsoft.graph.accessReviewQueryScope",
        "query": "/groups/0a1b/transitiveMembers",
        "queryType": "MicrosoftGraph",
    },
}


class TestEvaluateStrings:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("displayName eq 'My App'", True),
            ("displayName eq 'my app'", True),
            ("displayName EQ 'MY APP'", True),
            ("displayName eq 'My Ap'", False),
            ("displayName ne 'my app'", False),
            ("displayName ne 'other'", True),
            ("displayName ge 'my'", True),
            ("displayName lt 'MY B'", True),
            ("displayName gt 'my app'", False),
            ("servicePrincipalType eq 'application'", True),
        ],
    )
    def test_case_insensitive(self, text: str, expected: bool) -> None:
        assert matches(text, SERVICE_PRINCIPAL) is expected

    def test_escaped_quote(self) -> None:
        assert matches("displayName eq 'it''s'", {"displayName": "It's"})
        assert not matches("displayName eq 'it''s'", {"displayName": "its"})

    def test_unquoted_guid_compares_case_insensitively(self) -> None:
        text = f"appOwnerOrganizationId eq {MICROSOFT_SERVICES_TENANT}"
        assert matches(text, SERVICE_PRINCIPAL)
        upper = f"appOwnerOrganizationId eq {MICROSOFT_SERVICES_TENANT.upper()}"
        assert matches(upper, {"appOwnerOrganizationId": MICROSOFT_SERVICES_TENANT})
        assert not matches(text, {"appOwnerOrganizationId": "72f988bf-86f1-41af-91ab-2d7cd011db47"})
        assert matches(f"appOwnerOrganizationId eq '{MICROSOFT_SERVICES_TENANT}'", SERVICE_PRINCIPAL)

    def test_typed_enum_literal(self) -> None:
        text = "riskLevel eq microsoft.graph.riskLevel'medium'"
        assert matches(text, {"riskLevel": "medium"})
        assert matches(text, {"riskLevel": "Medium"})
        assert not matches(text, {"riskLevel": "high"})
        assert matches("riskLevel eq 'medium'", {"riskLevel": "medium"})

    def test_a_string_literal_never_equals_a_non_string(self) -> None:
        assert not matches("status/errorCode eq '50126'", SIGN_IN)
        assert matches("status/errorCode ne '50126'", SIGN_IN)


class TestEvaluateNull:
    @pytest.mark.parametrize(
        ("obj", "is_null"),
        [
            ({}, True),
            ({"x": None}, True),
            ({"x": "v"}, False),
            ({"x": 0}, False),
            ({"x": ""}, False),
            ({"x": False}, False),
            ({"x": []}, False),
        ],
    )
    def test_eq_and_ne_null(self, obj: dict[str, Any], is_null: bool) -> None:
        assert matches("x eq null", obj) is is_null
        assert matches("x ne null", obj) is not is_null

    @pytest.mark.parametrize("op", ["gt", "ge", "lt", "le"])
    @pytest.mark.parametrize("literal", ["'a'", "5", "2024-01-01T00:00:00Z", "2024-01-01", "null"])
    def test_ordering_with_null_is_false(self, op: str, literal: str) -> None:
        assert not matches(f"x {op} {literal}", {"x": None})
        assert not matches(f"x {op} {literal}", {})

    def test_null_differs_from_every_value(self) -> None:
        assert not matches("x eq 'a'", {})
        assert matches("x ne 'a'", {})
        assert matches("x ne 5", {"x": None})

    def test_missing_or_null_along_a_path_is_null(self) -> None:
        assert matches("status/errorCode eq null", {})
        assert matches("status/errorCode eq null", {"status": None})
        assert matches("status/errorCode eq null", {"status": "oops"})
        assert matches("location/geoCoordinates/latitude eq null", SIGN_IN)
        assert not matches("status/errorCode eq null", SIGN_IN)


class TestEvaluateNumbersAndBooleans:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("status/errorCode eq 50126", True),
            ("status/errorCode ne 0", True),
            ("status/errorCode gt 50125", True),
            ("status/errorCode ge 50126", True),
            ("status/errorCode lt 50126", False),
            ("status/errorCode le 50126.0", True),
            ("status/errorCode gt 50125.5", True),
            ("status/errorCode gt -1", True),
        ],
    )
    def test_numbers_compare_numerically(self, text: str, expected: bool) -> None:
        assert matches(text, SIGN_IN) is expected

    def test_floats_and_negatives(self) -> None:
        assert matches("latitude lt -0.5", {"latitude": -1.25})
        assert matches("latitude eq 47.68", {"latitude": 47.68})
        assert not matches("latitude eq 47.68", {"latitude": "47.68"})

    def test_booleans_compare_exactly(self) -> None:
        assert matches("accountEnabled eq true", SERVICE_PRINCIPAL)
        assert not matches("accountEnabled eq false", SERVICE_PRINCIPAL)
        assert matches("accountEnabled ne false", SERVICE_PRINCIPAL)
        assert not matches("accountEnabled eq 1", SERVICE_PRINCIPAL)
        assert not matches("count eq true", {"count": 1})
        assert not matches("accountEnabled eq 'true'", SERVICE_PRINCIPAL)


class TestEvaluateDateTimes:
    LITERAL = "2020-03-13T19:15:41.6195833Z"

    @pytest.mark.parametrize(
        ("value", "relation"),
        [
            ("2020-03-13T19:15:41.6195832Z", "lt"),
            ("2020-03-13T19:15:41.6195833Z", "eq"),
            ("2020-03-13T19:15:41.6195834Z", "gt"),
            ("2020-03-13T19:15:41.619583Z", "lt"),
            ("2020-03-13T19:15:41.61958330Z", "invalid"),
            ("2020-03-13T21:15:41.6195833+02:00", "eq"),
            ("2020-03-13T11:15:41.6195834-08:00", "gt"),
            ("2020-03-13T19:15:41Z", "lt"),
            ("2020-03-13T19:15:42Z", "gt"),
            ("not a date", "invalid"),
        ],
    )
    def test_one_tick_either_side(self, value: str, relation: str) -> None:
        expected = {
            "eq": relation == "eq",
            "ne": relation != "eq",
            "lt": relation == "lt",
            "le": relation in ("lt", "eq"),
            "gt": relation == "gt",
            "ge": relation in ("gt", "eq"),
        }
        for op, outcome in expected.items():
            assert matches(f"createdDateTime {op} {self.LITERAL}", {"createdDateTime": value}) is (outcome), (
                op,
                value,
            )

    def test_seven_digit_value_is_after_the_whole_second(self) -> None:
        assert matches("createdDateTime gt 2020-03-13T19:15:41Z", SIGN_IN)
        assert not matches("createdDateTime le 2020-03-13T19:15:41Z", SIGN_IN)
        assert matches("createdDateTime le 2020-03-13T19:15:41.6195833Z", SIGN_IN)
        assert not matches("createdDateTime lt 2020-03-13T19:15:41.6195833Z", SIGN_IN)

    def test_offset_literals(self) -> None:
        obj = {"createdDateTime": "2024-01-13T12:13:32Z"}
        assert matches("createdDateTime eq 2024-01-13T14:13:32+02:00", obj)
        assert matches("createdDateTime eq 2024-01-13T04:13:32-8:00", obj)
        assert matches("createdDateTime lt 2024-01-13T14:13:32Z", obj)

    def test_datetime_objects_are_compared_too(self) -> None:
        obj = {"createdDateTime": datetime(2024, 1, 13, 12, 13, 32, tzinfo=UTC)}
        assert matches("createdDateTime eq 2024-01-13T12:13:32Z", obj)
        assert matches("createdDateTime lt 2024-01-13T12:13:32.0000001Z", obj)

    def test_non_string_values_are_incomparable(self) -> None:
        assert not matches("createdDateTime ge 2024-01-13T12:13:32Z", {"createdDateTime": 5})
        assert matches("createdDateTime ne 2024-01-13T12:13:32Z", {"createdDateTime": 5})

    @pytest.mark.parametrize(
        ("value", "op", "expected"),
        [
            ("2021-04-27", "eq", True),
            ("2021-04-27T23:59:59.9999999Z", "eq", True),
            ("2021-04-28", "eq", False),
            ("2021-04-28", "gt", True),
            ("2021-04-26T10:00:00Z", "lt", True),
            ("2021-04-27", "ge", True),
            ("2021-04-27", "ne", False),
            ("9999-12-31", "ge", True),
            ("short", "eq", False),
            ("short", "ne", True),
        ],
    )
    def test_edm_date_literals(self, value: str, op: str, expected: bool) -> None:
        assert matches(f"startDate {op} 2021-04-27", {"startDate": value}) is expected

    def test_random_pairs_agree_with_integer_ticks(self) -> None:
        rng = random.Random(20240113)
        base = parse_datetime_ticks("2024-01-13T14:13:32Z")
        for _ in range(2000):
            digits_a, digits_b = rng.randint(0, 7), rng.randint(0, 7)
            a = base + rng.randint(-30, 30) * 10 ** (7 - digits_a)
            b = base + rng.randint(-30, 30) * 10 ** (7 - digits_b)
            literal = format_ticks(a, digits_a, rng.choice([0, 120, -480]))
            obj = {"t": format_ticks(b, digits_b, rng.choice([0, 60, -330]))}
            assert matches(f"t lt {literal}", obj) is (b < a)
            assert matches(f"t eq {literal}", obj) is (b == a)
            assert matches(f"t ge {literal}", obj) is (b >= a)


class TestEvaluateFunctions:
    @pytest.mark.parametrize(
        ("text", "expected"),
        [
            ("startswith(displayName, 'my')", True),
            ("startsWith(displayName, 'MY A')", True),
            ("startswith(displayName, 'app')", False),
            ("endswith(displayName, 'APP')", True),
            ("endswith(displayName, 'my')", False),
            ("contains(displayName, 'y a')", True),
            ("contains(displayName, 'xyz')", False),
            ("startswith(displayName, '')", True),
            ("startswith(missing, '')", False),
            ("startswith(accountEnabled, 't')", False),
            ("not startswith(missing, 'a')", True),
        ],
    )
    def test_case_insensitive_and_false_on_null(self, text: str, expected: bool) -> None:
        assert matches(text, SERVICE_PRINCIPAL) is expected

    def test_contains_on_a_type_cast_path(self) -> None:
        text = "contains(scope/microsoft.graph.accessReviewQueryScope/query, './members')"
        assert not matches(text, DEFINITION)
        assert matches(text.replace("./members", "/transitiveMembers"), DEFINITION)
        assert matches(text.replace("./members", "/TRANSITIVEmembers"), DEFINITION)


class TestEvaluateTypeCasts:
    TEXT = "scope/microsoft.graph.accessReviewQueryScope/queryType eq 'MicrosoftGraph'"

    def test_cast_matching_odata_type_is_skipped(self) -> None:
        assert matches(self.TEXT, DEFINITION)

    def test_cast_without_odata_type_is_skipped(self) -> None:
        assert matches(self.TEXT, {"scope": {"queryType": "MicrosoftGraph"}})

    def test_cast_to_another_type_yields_null(self) -> None:
        other = {"scope": {"@odata.type": "#microsoft.graph.principalResourceMembershipsScope"}}
        other["scope"]["queryType"] = "MicrosoftGraph"
        assert not matches(self.TEXT, other)
        assert matches(self.TEXT.replace("eq 'MicrosoftGraph'", "eq null"), other)

    def test_cast_type_name_is_case_insensitive(self) -> None:
        assert matches(self.TEXT.replace("accessReviewQueryScope", "ACCESSREVIEWQUERYSCOPE"), DEFINITION)


class TestEvaluateLambdas:
    def test_any_on_primitive_collection(self) -> None:
        assert matches("signInEventTypes/any(t: t eq 'servicePrincipal')", SIGN_IN)
        assert matches("signInEventTypes/any(t: t eq 'SERVICEPRINCIPAL')", SIGN_IN)
        assert not matches("signInEventTypes/any(t: t eq 'interactiveUser')", SIGN_IN)
        assert matches("signInEventTypes/any(t: t ne 'interactiveUser')", SIGN_IN)

    def test_any_on_sub_property(self) -> None:
        expiring = "keyCredentials/any(k: k/endDateTime le 2024-01-01T00:00:00Z)"
        assert matches(expiring, SERVICE_PRINCIPAL)
        assert not matches(expiring.replace("2024-01-01", "2023-01-01"), SERVICE_PRINCIPAL)
        assert matches(
            "keyCredentials/any(k: k/usage eq 'sign' and k/type eq 'asymmetricx509cert')",
            SERVICE_PRINCIPAL,
        )

    def test_any_with_function(self) -> None:
        assert matches("servicePrincipalNames/any(c:startswith(c,'https'))", SERVICE_PRINCIPAL)
        assert not matches("servicePrincipalNames/any(c:startswith(c,'http:'))", SERVICE_PRINCIPAL)

    def test_all(self) -> None:
        assert matches("keyCredentials/all(k: k/type eq 'AsymmetricX509Cert')", SERVICE_PRINCIPAL)
        assert not matches("keyCredentials/all(k: k/usage eq 'Verify')", SERVICE_PRINCIPAL)

    @pytest.mark.parametrize("obj", [{}, {"tags": None}, {"tags": []}, {"tags": "not a list"}])
    def test_empty_missing_and_null_collections(self, obj: dict[str, Any]) -> None:
        assert not matches("tags/any(t: t eq 'x')", obj)
        assert not matches("tags/any(t: t ne 'x')", obj)
        assert matches("tags/all(t: t eq 'x')", obj)

    def test_elements_that_are_not_objects_have_null_sub_properties(self) -> None:
        obj = {"keyCredentials": ["oops", None, {"usage": "Sign"}]}
        assert matches("keyCredentials/any(k: k/usage eq 'sign')", obj)
        assert not matches("keyCredentials/all(k: k/usage eq 'sign')", obj)
        assert matches("keyCredentials/any(k: k/usage eq null)", obj)

    def test_nested_lambda(self) -> None:
        obj = {"appRoles": [{"allowedMemberTypes": ["User"]}, {"allowedMemberTypes": ["Application"]}]}
        assert matches("appRoles/any(r: r/allowedMemberTypes/any(m: m eq 'application'))", obj)
        assert not matches("appRoles/all(r: r/allowedMemberTypes/any(m: m eq 'application'))", obj)

    def test_tuples_count_as_collections(self) -> None:
        assert matches("tags/any(t: t eq 'a')", {"tags": ("a", "b")})


class TestEvaluateInAndBoolean:
    def test_in_matches_any_listed_value(self) -> None:
        assert matches("appId in ('x', 'DE8BC8B5-D9F9-48B1-A8AD-B748DA725064')", SIGN_IN)
        assert not matches("appId in ('x', 'y')", SIGN_IN)
        assert not matches("appId in ('x')", {})

    def test_in_with_mixed_literals(self) -> None:
        assert matches("status/errorCode in (0, 50126)", SIGN_IN)
        assert not matches("status/errorCode in (0, '50126')", SIGN_IN)
        assert matches("x in (null, 'a')", {})
        assert matches("x in (null, 'a')", {"x": "A"})
        assert matches(f"x in ({MICROSOFT_SERVICES_TENANT}, microsoft.graph.riskLevel'high')", {"x": "HIGH"})

    def test_graph_example_with_and_and_or(self) -> None:
        text = (
            "createdDateTime ge 2024-01-13T14:13:32Z and "
            "(riskLevelDuringSignIn eq 'high' or riskLevelDuringSignIn eq 'medium')"
        )
        row = {"createdDateTime": "2024-01-13T14:13:32.0000001Z", "riskLevelDuringSignIn": "medium"}
        assert matches(text, row)
        assert not matches(text, {**row, "riskLevelDuringSignIn": "low"})
        assert not matches(text, {**row, "createdDateTime": "2024-01-13T14:13:31.9999999Z"})

    def test_not_negates(self) -> None:
        assert matches("not(displayName eq 'x')", SERVICE_PRINCIPAL)
        assert not matches("NOT (displayName eq 'my app')", SERVICE_PRINCIPAL)
        assert matches("not not displayName eq 'my app'", SERVICE_PRINCIPAL)

    def test_identity_protection_examples(self) -> None:
        text = "riskEventType eq 'unfamiliarFeatures' or riskLevel eq 'medium'"
        assert matches(text, {"riskEventType": "leakedCredentials", "riskLevel": "medium"})
        assert not matches(text, {"riskEventType": "leakedCredentials", "riskLevel": "low"})

    def test_objects_may_be_any_mapping(self) -> None:
        obj = MappingProxyType({"status": MappingProxyType({"errorCode": 0})})
        assert evaluate(parse_filter("status/errorCode eq 0"), obj)

    def test_hand_built_trees_evaluate(self) -> None:
        tree = And(
            (
                In(Path("a"), (string("x"), string("y"))),
                Not(compare("b", "eq", LiteralKind.NULL, None)),
            )
        )
        assert evaluate(tree, {"a": "Y", "b": 1})
        assert not evaluate(tree, {"a": "Y"})


# --- capabilities --------------------------------------------------------------------------

SERVICE_PRINCIPALS = FilterCapabilities(
    properties={
        "displayName": frozenset({"eq", "ge", "le", "in", "startsWith", "eqNull"}),
        "appId": frozenset({"eq", "in", "startsWith"}),
        "keyCredentials": frozenset({"any"}),
        "keyCredentials/endDateTime": frozenset({"le", "ge", "eq"}),
        "servicePrincipalNames": frozenset({"any", "startsWith", "eq"}),
        "accountEnabled": frozenset({"eq"}),
    },
    advanced={
        "displayName": frozenset({"ne", "not", "endsWith"}),
        "appId": frozenset({"ne", "not"}),
        "keyCredentials": frozenset({"not"}),
        "keyCredentials/endDateTime": frozenset({"not"}),
        "createdDateTime": frozenset({"ge", "le"}),
    },
)
SIGN_INS = FilterCapabilities(
    properties={
        "createdDateTime": frozenset({"eq", "le", "ge", "lt"}),
        "riskLevelDuringSignIn": frozenset({"eq"}),
        "status/errorCode": frozenset({"eq"}),
        "signInEventTypes": frozenset({"any", "eq", "ne"}),
    }
)
DEFINITIONS = FilterCapabilities(
    properties={"scope/query": frozenset({"contains"}), "status": frozenset({"eq"})}
)


def rejection(
    text: str, capabilities: FilterCapabilities, *, advanced: bool = False
) -> tuple[str, str, bool]:
    with pytest.raises(UnsupportedFilter) as caught:
        check_capabilities(parse_filter(text), capabilities, advanced=advanced)
    return caught.value.path, caught.value.operator, caught.value.needs_advanced


class TestCapabilities:
    @pytest.mark.parametrize(
        "text",
        [
            "displayName eq 'x'",
            "displayName ge 'a' and displayName le 'b'",
            "startswith(displayName, 'a') or appId in ('a', 'b')",
            "displayName eq null",
            "keyCredentials/any(k: k/endDateTime le 2024-01-01T00:00:00Z)",
            "servicePrincipalNames/any(c:startswith(c,'https'))",
            "accountEnabled eq true",
        ],
    )
    def test_supported_by_default(self, text: str) -> None:
        check_capabilities(parse_filter(text), SERVICE_PRINCIPALS, advanced=False)

    @pytest.mark.parametrize(
        ("text", "path", "operator"),
        [
            ("displayName ne 'x'", "displayName", "ne"),
            ("not(displayName eq 'x')", "displayName", "not"),
            ("endswith(displayName, 'x')", "displayName", "endsWith"),
            ("displayName ne null", "displayName", "ne"),
            ("createdDateTime ge 2024-01-01T00:00:00Z", "createdDateTime", "ge"),
            (
                "not(keyCredentials/any(k: k/endDateTime le 2024-01-01T00:00:00Z))",
                "keyCredentials",
                "not",
            ),
        ],
    )
    def test_needs_advanced_query(self, text: str, path: str, operator: str) -> None:
        assert rejection(text, SERVICE_PRINCIPALS) == (path, operator, True)
        check_capabilities(parse_filter(text), SERVICE_PRINCIPALS, advanced=True)

    @pytest.mark.parametrize(
        ("text", "path", "operator"),
        [
            ("publisherDomain eq 'contoso.com'", "publisherDomain", "eq"),
            ("contains(displayName, 'x')", "displayName", "contains"),
            ("displayName gt 'x'", "displayName", "gt"),
            ("appId eq null", "appId", "eqNull"),
            ("appId ne null", "appId", "eqNull"),
            ("accountEnabled in (true)", "accountEnabled", "in"),
            ("not(accountEnabled eq true)", "accountEnabled", "not"),
            (
                "keyCredentials/all(k: k/endDateTime le 2024-01-01T00:00:00Z)",
                "keyCredentials",
                "all",
            ),
            (
                "keyCredentials/any(k: k/endDateTime lt 2024-01-01T00:00:00Z)",
                "keyCredentials/endDateTime",
                "lt",
            ),
            ("keyCredentials/any(k: k/keyId eq 'x')", "keyCredentials/keyId", "eq"),
            ("servicePrincipalNames/any(c: endswith(c, 'x'))", "servicePrincipalNames", "endsWith"),
            ("tags/any(t: t eq 'x')", "tags", "any"),
        ],
    )
    def test_not_supported_even_with_advanced_query(self, text: str, path: str, operator: str) -> None:
        assert rejection(text, SERVICE_PRINCIPALS) == (path, operator, False)
        assert rejection(text, SERVICE_PRINCIPALS, advanced=True) == (path, operator, False)

    def test_reports_the_first_offending_clause_left_to_right(self) -> None:
        assert rejection("foo eq 1 and bar eq 2", SERVICE_PRINCIPALS)[0] == "foo"
        assert rejection("displayName eq 'a' or (bar eq 2 and foo eq 1)", SERVICE_PRINCIPALS)[0] == "bar"
        assert rejection("displayName ne 'a' and foo eq 1", SERVICE_PRINCIPALS) == (
            "displayName",
            "ne",
            True,
        )
        assert rejection("displayName ne 'a' and foo eq 1", SERVICE_PRINCIPALS, advanced=True) == (
            "foo",
            "eq",
            False,
        )

    def test_a_clause_that_advanced_query_cannot_fix_is_not_reported_as_needing_it(self) -> None:
        # eqNull is not supported on appId at all, ne only with advanced query
        assert rejection("appId ne null", SERVICE_PRINCIPALS) == ("appId", "eqNull", False)
        # not is advanced-only on displayName, gt not supported at all
        assert rejection("not(displayName gt 'a')", SERVICE_PRINCIPALS) == (
            "displayName",
            "gt",
            False,
        )

    def test_not_applies_to_every_path_inside_it(self) -> None:
        text = "not(displayName eq 'a' or accountEnabled eq true)"
        assert rejection(text, SERVICE_PRINCIPALS, advanced=True) == (
            "accountEnabled",
            "not",
            False,
        )
        text = "not(keyCredentials/any(k: k/endDateTime le 2024-01-01T00:00:00Z))"
        caps = FilterCapabilities(
            properties={
                "keyCredentials": frozenset({"any", "not"}),
                "keyCredentials/endDateTime": frozenset({"le"}),
            }
        )
        assert rejection(text, caps) == ("keyCredentials/endDateTime", "not", False)

    def test_lambda_body_on_primitive_collection_uses_the_collection_path(self) -> None:
        check_capabilities(
            parse_filter("signInEventTypes/any(t: t eq 'servicePrincipal')"),
            SIGN_INS,
            advanced=False,
        )
        check_capabilities(
            parse_filter("signInEventTypes/any(t: t ne 'interactiveUser')"),
            SIGN_INS,
            advanced=False,
        )
        assert rejection("signInEventTypes/any(t: startswith(t, 'x'))", SIGN_INS) == (
            "signInEventTypes",
            "startsWith",
            False,
        )

    def test_sign_in_filters(self) -> None:
        text = (
            "createdDateTime ge 2024-01-13T14:13:32Z and "
            "(riskLevelDuringSignIn eq 'high' or riskLevelDuringSignIn eq 'medium')"
        )
        check_capabilities(parse_filter(text), SIGN_INS, advanced=False)
        check_capabilities(parse_filter("status/errorCode eq 0"), SIGN_INS, advanced=False)
        assert rejection("status/errorCode ne 0", SIGN_INS) == ("status/errorCode", "ne", False)
        assert rejection("status eq null", SIGN_INS) == ("status", "eqNull", False)

    def test_type_casts_are_left_out_of_the_capability_path(self) -> None:
        text = "contains(scope/microsoft.graph.accessReviewQueryScope/query, './members')"
        check_capabilities(parse_filter(text), DEFINITIONS, advanced=False)
        written = FilterCapabilities(
            {"scope/microsoft.graph.accessReviewQueryScope/query": frozenset({"contains"})}
        )
        check_capabilities(parse_filter(text), written, advanced=False)
        assert rejection(text.replace("contains", "startswith"), DEFINITIONS) == (
            "scope/query",
            "startsWith",
            False,
        )

    def test_messages(self) -> None:
        with pytest.raises(UnsupportedFilter) as caught:
            check_capabilities(parse_filter("displayName ne 'x'"), SERVICE_PRINCIPALS, advanced=False)
        assert "ConsistencyLevel:eventual" in caught.value.message
        assert "$count=true" in caught.value.message
        with pytest.raises(FilterError, match="property 'publisherDomain'"):
            check_capabilities(parse_filter("publisherDomain eq 'x'"), SERVICE_PRINCIPALS, advanced=False)

    def test_unknown_operator_names_are_rejected(self) -> None:
        with pytest.raises(ValueError, match="startswith"):
            FilterCapabilities({"displayName": frozenset({"startswith"})})
        with pytest.raises(ValueError, match="Eq"):
            FilterCapabilities({}, advanced={"displayName": frozenset({"Eq"})})
        assert FilterCapabilities({"x": OPERATORS}).advanced == {}


# --- time_bounds ---------------------------------------------------------------------------


def ticks(text: str) -> int:
    return parse_datetime_ticks(text)


T1 = "2024-01-13T14:13:32Z"
T2 = "2024-01-20T00:00:00.0000001Z"


class TestTimeBounds:
    @pytest.mark.parametrize(
        ("text", "bounds"),
        [
            ("riskLevel eq 'high'", TimeBounds()),
            (f"createdDateTime ge {T1}", TimeBounds(ticks(T1), True, None, True)),
            (f"createdDateTime gt {T1}", TimeBounds(ticks(T1), False, None, True)),
            (f"createdDateTime le {T1}", TimeBounds(None, True, ticks(T1), True)),
            (f"createdDateTime lt {T1}", TimeBounds(None, True, ticks(T1), False)),
            (f"createdDateTime eq {T1}", TimeBounds(ticks(T1), True, ticks(T1), True)),
            (
                f"createdDateTime ge {T1} and createdDateTime lt {T2}",
                TimeBounds(ticks(T1), True, ticks(T2), False),
            ),
            (
                f"createdDateTime ge {T1} and createdDateTime ge {T2}",
                TimeBounds(ticks(T2), True, None, True),
            ),
            (
                f"createdDateTime gt {T1} and createdDateTime ge {T1}",
                TimeBounds(ticks(T1), False, None, True),
            ),
            (
                f"createdDateTime le {T2} and createdDateTime lt {T2} and createdDateTime le {T1}",
                TimeBounds(None, True, ticks(T1), True),
            ),
            (
                f"createdDateTime le {T2} and (createdDateTime lt {T2} and riskLevel eq 'x')",
                TimeBounds(None, True, ticks(T2), False),
            ),
            (
                f"createdDateTime eq {T1} and createdDateTime lt {T1}",
                TimeBounds(ticks(T1), True, ticks(T1), False),
            ),
            (f"createdDateTime ge {T1} or riskLevel eq 'x'", TimeBounds()),
            (f"not(createdDateTime ge {T1})", TimeBounds()),
            (f"createdDateTime ne {T1}", TimeBounds()),
            ("createdDateTime ge 2024-01-13", TimeBounds()),
            ("createdDateTime ge '2024-01-13T14:13:32Z'", TimeBounds()),
            (f"activityDateTime ge {T1}", TimeBounds()),
            (f"dates/any(d: d ge {T1})", TimeBounds()),
            (
                "createdDateTime ge 2024-01-13T16:13:32+02:00",
                TimeBounds(ticks(T1), True, None, True),
            ),
        ],
    )
    def test_top_level_conjuncts_only(self, text: str, bounds: TimeBounds) -> None:
        assert time_bounds(parse_filter(text), "createdDateTime") == bounds

    def test_graph_example(self) -> None:
        text = (
            "createdDateTime ge 2024-01-13T14:13:32Z and "
            "(riskLevelDuringSignIn eq 'high' or riskLevelDuringSignIn eq 'medium')"
        )
        assert time_bounds(parse_filter(text), "createdDateTime") == TimeBounds(ticks(T1), True, None, True)

    def test_nested_paths(self) -> None:
        node = parse_filter(f"signInActivity/lastSignInDateTime le {T1}")
        assert time_bounds(node, "signInActivity/lastSignInDateTime").upper == ticks(T1)

    def test_contains(self) -> None:
        bounds = TimeBounds(10, False, 20, True)
        assert [bounds.contains(t) for t in (9, 10, 11, 19, 20, 21)] == [
            False,
            False,
            True,
            True,
            True,
            False,
        ]
        assert TimeBounds().contains(-5)
        inclusive = TimeBounds(10, True, 20, False)
        assert [inclusive.contains(t) for t in (10, 20)] == [True, False]


# --- required_values -----------------------------------------------------------------------


class TestRequiredValues:
    @pytest.mark.parametrize(
        ("text", "values"),
        [
            ("appId eq 'ABC'", {"abc"}),
            (f"appId eq {MICROSOFT_SERVICES_TENANT.upper()}", {MICROSOFT_SERVICES_TENANT}),
            ("appId eq microsoft.graph.x'Y'", {"y"}),
            ("appId in ('a', 'B', 'a')", {"a", "b"}),
            ("appId eq 'a' and riskLevel eq 'x'", {"a"}),
            ("riskLevel eq 'x' and appId in ('a', 'b')", {"a", "b"}),
            ("appId in ('a', 'b') and appId in ('b', 'c')", {"b"}),
            ("appId eq 'a' and appId eq 'b'", set()),
            ("appId eq 'a' or appId in ('b', 'c')", {"a", "b", "c"}),
            ("(appId eq 'a' or appId eq 'b') and (appId eq 'b' or appId eq 'c')", {"b"}),
            ("(appId eq 'a' and riskLevel eq 'x') or appId eq 'b'", {"a", "b"}),
            ("appId eq 'a' and not(appId eq 'b')", {"a"}),
            ("appId eq 'a' or riskLevel eq 'x'", None),
            ("not(appId eq 'a')", None),
            ("appId ne 'a'", None),
            ("appId ge 'a'", None),
            ("startswith(appId, 'a')", None),
            ("appId eq null", None),
            ("appId eq 5", None),
            ("appId in ('a', 5)", None),
            ("appId eq 2024-01-13", None),
            ("riskLevel eq 'x'", None),
            ("tags/any(appId: appId eq 'a')", None),
        ],
    )
    def test_rules(self, text: str, values: set[str] | None) -> None:
        result = required_values(parse_filter(text), "appId")
        assert result == (None if values is None else frozenset(values))

    def test_graph_example(self) -> None:
        text = (
            "createdDateTime ge 2024-01-13T14:13:32Z and "
            "(riskLevelDuringSignIn eq 'high' or riskLevelDuringSignIn eq 'Medium')"
        )
        assert required_values(parse_filter(text), "riskLevelDuringSignIn") == frozenset({"high", "medium"})


# --- randomised soundness ------------------------------------------------------------------

COMPARISONS = ["eq", "ne", "gt", "ge", "lt", "le"]
RISK_LEVELS = ["low", "LOW", "Medium", "medium", "high", "hidden", "none"]
BASE_TICKS = parse_datetime_ticks("2024-01-13T14:13:32Z")


def random_instant(rng: random.Random) -> tuple[int, str]:
    digits = rng.randint(0, 7)
    value = BASE_TICKS + rng.randint(-20, 20) * 10 ** (7 - digits)
    return value, format_ticks(value, digits, rng.choice([0, 0, 120, -480]))


def random_object(rng: random.Random) -> dict[str, Any]:
    obj: dict[str, Any] = {"createdDateTime": random_instant(rng)[1]}
    roll = rng.random()
    if roll < 0.8:
        obj["riskLevel"] = rng.choice(RISK_LEVELS)
    elif roll < 0.9:
        obj["riskLevel"] = None
    obj["tags"] = rng.sample(["a", "b", "c"], rng.randint(0, 2))
    return obj


def random_atom(rng: random.Random) -> str:
    level = rng.choice([*RISK_LEVELS, "unknown"])
    levels = ", ".join(f"'{choice}'" for choice in rng.sample(RISK_LEVELS, rng.randint(1, 3)))
    return rng.choice(
        [
            f"riskLevel eq '{level}'",
            f"riskLevel eq microsoft.graph.riskLevel'{level}'",
            f"riskLevel ne '{level}'",
            f"riskLevel in ({levels})",
            "riskLevel eq null",
            f"startswith(riskLevel, '{level[:1]}')",
            f"createdDateTime {rng.choice(COMPARISONS)} {random_instant(rng)[1]}",
            "tags/any(t: t eq 'a')",
        ]
    )


def random_filter(rng: random.Random, depth: int = 0) -> str:
    roll = rng.random()
    if depth >= 3 or roll < 0.35:
        return random_atom(rng)
    if roll < 0.45:
        return f"not({random_filter(rng, depth + 1)})"
    joiner = " and " if roll < 0.8 else " or "
    parts = [random_filter(rng, depth + 1) for _ in range(rng.randint(2, 3))]
    return "(" + joiner.join(parts) + ")"


def test_analysis_helpers_are_sound_on_random_filters() -> None:
    rng = random.Random(1337)
    objects = [random_object(rng) for _ in range(150)]
    matched = constrained_values = bounded = 0
    for _ in range(600):
        node = parse_filter(random_filter(rng))
        values = required_values(node, "riskLevel")
        bounds = time_bounds(node, "createdDateTime")
        constrained_values += values is not None
        bounded += bounds != TimeBounds()
        for obj in objects:
            if not evaluate(node, obj):
                continue
            matched += 1
            if values is not None:
                assert isinstance(obj.get("riskLevel"), str)
                assert obj["riskLevel"].lower() in values
            assert bounds.contains(parse_datetime_ticks(obj["createdDateTime"]))
    # the cross-check is only meaningful if the helpers often constrain and filters often match
    assert matched > 5_000
    assert constrained_values > 100
    assert bounded > 50


def test_advanced_query_only_ever_adds_permissions() -> None:
    rng = random.Random(7)
    caps = FilterCapabilities(
        properties={"riskLevel": frozenset({"eq", "in"}), "createdDateTime": frozenset({"ge"})},
        advanced={
            "riskLevel": frozenset({"ne", "not", "eqNull", "startsWith"}),
            "createdDateTime": frozenset({"le", "lt", "not"}),
            "tags": frozenset({"any", "eq"}),
        },
    )
    outcomes = {"default": 0, "advanced": 0, "never": 0}
    for _ in range(400):
        node = parse_filter(random_filter(rng))
        with_advanced = capability_error(node, caps, advanced=True)
        without = capability_error(node, caps, advanced=False)
        if with_advanced is not None:
            assert not with_advanced.needs_advanced
            assert without is not None
            outcomes["never"] += 1
        elif without is not None:
            assert without.needs_advanced, without.message
            outcomes["advanced"] += 1
        else:
            outcomes["default"] += 1
    assert min(outcomes.values()) > 20, outcomes


def capability_error(
    node: Node, capabilities: FilterCapabilities, *, advanced: bool
) -> UnsupportedFilter | None:
    try:
        check_capabilities(node, capabilities, advanced=advanced)
    except UnsupportedFilter as error:
        return error
    return None


def test_date_helpers_in_tests_round_trip() -> None:
    assert format_ticks(ticks("2020-03-13T19:15:41.6195833Z")) == "2020-03-13T19:15:41.6195833Z"
    assert format_ticks(ticks(T1), 0, 120) == "2024-01-13T16:13:32+02:00"
    assert date.fromisoformat(format_ticks(ticks(T1), 0)[:10]) == date(2024, 1, 13)
