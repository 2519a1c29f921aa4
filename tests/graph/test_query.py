"""URL building from untrusted values."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from monitor.graph.query import Query, encode_query, graph_path, odata_datetime, odata_string


def test_graph_path_encodes_each_value() -> None:
    assert graph_path("servicePrincipals/{id}/appRoleAssignedTo", id="a/b?c") == (
        "servicePrincipals/a%2Fb%3Fc/appRoleAssignedTo"
    )


def test_graph_path_doubles_quotes_inside_a_literal() -> None:
    assert graph_path("applications(appId='{app_id}')", app_id="x'y") == "applications(appId='x%27%27y')"


def test_graph_path_names_a_missing_value() -> None:
    with pytest.raises(KeyError, match="needs id"):
        graph_path("servicePrincipals/{id}")


def test_odata_literals() -> None:
    assert odata_string("O'Brien") == "'O''Brien'"
    moment = datetime(2026, 11, 27, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    assert odata_datetime(moment) == "2026-11-27T12:00:00Z"
    with pytest.raises(ValueError, match="time zone"):
        odata_datetime(datetime(2026, 11, 27))


def test_query_defaults_top_to_the_largest_page() -> None:
    query = Query(select=("id", "appId"), filter="appId eq 'x y'")
    assert encode_query(query.parameters(999)) == "$select=id,appId&$filter=appId%20eq%20'x%20y'&$top=999"
    assert Query(top=5).parameters(999) == [("$top", "5")]
    assert Query().parameters(None) == []


def test_query_encodes_ampersands_and_plus_signs() -> None:
    query = Query(filter="displayName eq 'A&B+C'", count=True)
    assert encode_query(query.parameters(None)) == "$filter=displayName%20eq%20'A%26B%2BC'&$count=true"


def test_utc_moment_round_trip() -> None:
    assert odata_datetime(datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)) == "2026-01-02T03:04:05Z"
