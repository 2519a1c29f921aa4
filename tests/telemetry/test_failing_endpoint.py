"""The real exporter against a healthy, refusing, rejecting and hanging ingestion endpoint, each
in a fresh interpreter: no call leaves loopback, no feedback loop, shutdown within the grace."""

from __future__ import annotations

from pathlib import Path

from tests.support.ingestion import INSTRUMENTATION_KEY, ingestion_server, refused_connection_string
from tests.telemetry.conftest import run_child

GRACE_SECONDS = 2.0
START_UP_SLACK_SECONDS = 15.0
"""Interpreter start-up and imports; a hang past the grace would still exceed it by far (the
hanging endpoint holds an answer for 60 s, azure-core's default read timeout is 300 s)."""

LOOPBACK = "127.0.0.1"


def _assert_no_secret(stderr: str) -> None:
    assert INSTRUMENTATION_KEY not in stderr
    assert "InstrumentationKey" not in stderr


def test_locked_down_set_up_export_and_shutdown_stay_on_loopback() -> None:
    with ingestion_server() as server:
        run = run_child(
            {"connection_string": server.connection_string, "grace_seconds": GRACE_SECONDS, "audit": True},
            limit_seconds=GRACE_SECONDS + START_UP_SLACK_SECONDS,
        )
        events = server.events()
    assert run.report["shutdown_in_time"] is True
    assert run.report["network"], "the audit hook saw no connection at all"
    assert {entry.split(" ", 1)[1] for entry in run.report["network"]} == {LOOPBACK}
    assert [event["name"] for event in events] == ["EntraMonitorFindingOpened"] * 3
    assert [request.path for request in server.requests] == ["/v2.1/track", "/v2.1/track"]
    _assert_no_secret(run.stderr)


def test_refused_endpoint_stores_batches_in_the_configured_directory(tmp_path: Path) -> None:
    storage = tmp_path / "telemetry-retry"
    run = run_child(
        {
            "connection_string": refused_connection_string(),
            "storage_directory": str(storage),
            "grace_seconds": GRACE_SECONDS,
        },
        limit_seconds=GRACE_SECONDS + START_UP_SLACK_SECONDS,
    )
    assert run.report["shutdown_in_time"] is True
    blobs = sorted(path.name for path in storage.rglob("*") if path.is_file())
    assert len(blobs) == 2, blobs  # the events batch and the metrics batch, nothing fed back
    assert all(".blob" in name for name in blobs)
    stored = "\n".join(path.read_text() for path in storage.rglob("*") if path.is_file())
    assert stored.count('"EntraMonitorFindingOpened"') == 3
    assert run.stderr.count("Retrying due to server request error") <= 2
    _assert_no_secret(run.stderr)


def test_rejecting_endpoint_is_not_fed_back_and_shutdown_is_prompt() -> None:
    with ingestion_server("reject") as server:
        run = run_child(
            {"connection_string": server.connection_string, "grace_seconds": GRACE_SECONDS},
            limit_seconds=GRACE_SECONDS + START_UP_SLACK_SECONDS,
        )
        posts = len(server.requests)
        kinds = [sorted({envelope["name"] for envelope in request.envelopes}) for request in server.requests]
    assert run.report["shutdown_in_time"] is True
    # One batch of events and one of metrics; the exporter's "Non-retryable" errors are not exported.
    assert posts == 2
    assert kinds == [["Microsoft.ApplicationInsights.Event"], ["Microsoft.ApplicationInsights.Metric"]]
    _assert_no_secret(run.stderr)


def test_hanging_endpoint_does_not_hold_shutdown_or_exit_beyond_the_grace() -> None:
    with ingestion_server("hang") as server:
        run = run_child(
            {
                "connection_string": server.connection_string,
                "grace_seconds": GRACE_SECONDS,
                "export_timeout_seconds": 60.0,
            },
            limit_seconds=GRACE_SECONDS + START_UP_SLACK_SECONDS,
        )
        posts = len(server.requests)
    assert run.report["shutdown_in_time"] is False
    assert run.report["shutdown_seconds"] < GRACE_SECONDS + 1.0
    assert posts == 1  # the events batch, still unanswered when the grace ran out
    _assert_no_secret(run.stderr)
