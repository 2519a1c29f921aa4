"""Run history (newest first, consecutive failures) and per-check watermarks."""

from __future__ import annotations

from pathlib import Path

import pytest

from monitor.state import RunRecord, SqliteStateStore, open_store
from tests.state.factories import CHECK, T0, TENANT, at


def finished(store: SqliteStateStore, hours: float, status: str, check: str = CHECK) -> str:
    run_id = store.start_run(TENANT, check, at(hours))
    store.finish_run(run_id, at(hours + 0.5), status, {}, None if status == "succeeded" else "boom")
    return run_id


def test_a_run_is_recorded_from_start_to_finish(store: SqliteStateStore) -> None:
    run_id = store.start_run(TENANT, CHECK, T0)
    assert store.runs() == [RunRecord(run_id, TENANT, CHECK, T0, None, "running", {}, None)]

    store.finish_run(run_id, at(1), "failed", {"findings": 3, "pages": 12}, "Graph answered 503")

    assert store.runs() == [
        RunRecord(
            run_id, TENANT, CHECK, T0, at(1), "failed", {"findings": 3, "pages": 12}, "Graph answered 503"
        )
    ]


def test_run_ids_are_unique(store: SqliteStateStore) -> None:
    assert len({store.start_run(TENANT, CHECK, T0) for _ in range(20)}) == 20


def test_runs_are_listed_newest_first_filtered_and_limited(store: SqliteStateStore) -> None:
    first = finished(store, 0, "succeeded")
    other = finished(store, 1, "succeeded", check="stale-guests")
    second = finished(store, 2, "failed")
    fabrikam = store.start_run("fabrikam", CHECK, at(3))

    assert [run.run_id for run in store.runs()] == [fabrikam, second, other, first]
    assert [run.run_id for run in store.runs(tenant=TENANT, check=CHECK)] == [second, first]
    assert [run.run_id for run in store.runs(check=CHECK)] == [fabrikam, second, first]
    assert [run.run_id for run in store.runs(limit=2)] == [fabrikam, second]


def test_consecutive_failures_count_failed_and_timed_out_runs_since_the_last_success(
    store: SqliteStateStore,
) -> None:
    assert store.consecutive_failures(TENANT, CHECK) == 0
    finished(store, 0, "failed")
    finished(store, 1, "succeeded")
    finished(store, 2, "failed")
    finished(store, 3, "cancelled")
    finished(store, 4, "timed_out")
    store.start_run(TENANT, CHECK, at(5))
    finished(store, 6, "failed", check="stale-guests")

    assert store.consecutive_failures(TENANT, CHECK) == 2
    assert store.consecutive_failures(TENANT, "stale-guests") == 1
    finished(store, 7, "succeeded")
    assert store.consecutive_failures(TENANT, CHECK) == 0
    finished(store, 8, "failed")
    finished(store, 9, "unavailable")
    assert store.consecutive_failures(TENANT, CHECK) == 0


def test_finishing_with_an_unknown_status_or_run_is_refused(store: SqliteStateStore) -> None:
    run_id = store.start_run(TENANT, CHECK, T0)

    with pytest.raises(ValueError, match="accepted: succeeded, failed, timed_out, cancelled, unavailable"):
        store.finish_run(run_id, at(1), "running", {}, None)
    with pytest.raises(ValueError, match="no run 'nope' was started"):
        store.finish_run("nope", at(1), "succeeded", {}, None)
    assert store.runs()[0].status == "running"


def test_watermarks_are_per_tenant_and_check_and_replace_earlier_values(store: SqliteStateStore) -> None:
    assert store.get_watermark(TENANT, CHECK, "signIns") is None

    store.set_watermarks(TENANT, CHECK, {"signIns": "2026-11-27T11:00:00Z", "audits": "a1"})
    store.set_watermarks(TENANT, CHECK, {"signIns": "2026-11-27T12:00:00Z"})
    store.set_watermarks("fabrikam", CHECK, {"signIns": "other tenant"})

    assert store.get_watermark(TENANT, CHECK, "signIns") == "2026-11-27T12:00:00Z"
    assert store.get_watermark(TENANT, CHECK, "audits") == "a1"
    assert store.get_watermark(TENANT, "stale-guests", "signIns") is None
    assert store.get_watermark("fabrikam", CHECK, "signIns") == "other tenant"


def test_watermarks_and_runs_persist_across_a_restart(database: Path) -> None:
    with open_store(database) as first:
        first.set_watermarks(TENANT, CHECK, {"signIns": "w1"})
        run_id = first.start_run(TENANT, CHECK, T0)
        first.finish_run(run_id, at(1), "timed_out", {"findings": 0}, "ran past 900 s")

    with open_store(database) as second:
        assert second.get_watermark(TENANT, CHECK, "signIns") == "w1"
        assert second.runs() == [
            RunRecord(run_id, TENANT, CHECK, T0, at(1), "timed_out", {"findings": 0}, "ran past 900 s")
        ]
        assert second.consecutive_failures(TENANT, CHECK) == 1


def test_runs_left_running_by_a_crash_are_marked_cancelled(tmp_path: Path) -> None:
    store = open_store(tmp_path / "monitor.db")
    started = T0
    stale = store.start_run("t", "c", started)
    done = store.start_run("t", "c", started)
    store.finish_run(done, started, "succeeded", {}, None)
    assert store.abandon_running(started, "crashed") == 1
    runs = {run.run_id: run for run in store.runs("t", "c")}
    assert (runs[stale].status, runs[stale].error) == ("cancelled", "crashed")
    assert runs[done].status == "succeeded"
    assert store.abandon_running(started, "crashed") == 0
    store.close()
