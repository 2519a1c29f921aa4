"""The session emulator is up and answers Graph with a token from its own identity platform."""

from __future__ import annotations

from tests.support.emulator import RunningEmulator


def test_lists_applications_with_a_secret_client_token(emulator: RunningEmulator) -> None:
    with emulator.graph() as graph:
        response = graph.get("/v1.0/applications?$top=5&$select=id,displayName")
    assert response.status_code == 200
    body = response.json()
    assert body["@odata.context"] == f"{emulator.base_url}/v1.0/$metadata#applications(id,displayName)"
    assert len(body["value"]) == 5
    assert set(body["value"][0]) == {"id", "displayName"}
