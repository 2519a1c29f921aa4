"""Coverage: the objects each check run examined per Graph collection, counted by the Graph client,
kept with the run record, and equal to what the emulator served."""

from __future__ import annotations

import asyncio
from collections import Counter
from pathlib import Path

from monitor.graph.permissions import ENDPOINTS
from monitor.runner import coverage_of
from monitor.settings import load_settings
from monitor.state.sqlite import open_store
from monitor.sweep import sweep
from tests.snapshots.conftest import snapshot_config
from tests.support.checks import endpoint_stats, reset_stats
from tests.support.emulator import RunningEmulator
from tests.support.plugins import BUILTIN_CHECKS

COLLECTION_NAMES = {endpoint.path: endpoint.name for endpoint in ENDPOINTS if endpoint.is_collection}


def test_coverage_is_what_the_emulator_served(live: RunningEmulator, tmp_path: Path) -> None:
    settings = load_settings(snapshot_config(live, tmp_path))
    reset_stats(live)
    result = asyncio.run(sweep(settings))
    served = endpoint_stats(live)

    assert {o.check: o.status for o in result.outcomes} == dict.fromkeys(BUILTIN_CHECKS, "succeeded")
    examined: Counter[str] = Counter()
    for outcome in result.outcomes:
        for collection, objects in outcome.coverage.items():
            examined[COLLECTION_NAMES[collection]] += objects
    # Every object of every collection the emulator served was counted, by the run that read it.
    assert dict(examined) == {
        name: entry["items"]
        for name, entry in served.items()
        if name in COLLECTION_NAMES.values() and entry["requests"]
    }

    with live.control() as control:
        counts = control.get("/truth").json()["counts"]
    coverage = {o.check: dict(o.coverage) for o in result.outcomes}
    # Checks that read a whole collection examined exactly the tenant's objects.
    assert coverage["credential-expiry"]["applications"] == counts["applications"]
    assert coverage["credential-expiry"]["servicePrincipals"] == counts["servicePrincipals"]
    assert coverage["consent-grants"]["oauth2PermissionGrants"] == counts["oauth2PermissionGrants"]
    assert (
        coverage["token-lifetime-drift"]["policies/tokenLifetimePolicies"] == counts["tokenLifetimePolicies"]
    )
    assert (
        coverage["conditional-access-baseline"]["identity/conditionalAccess/policies"]
        == counts["conditionalAccessPolicies"]
    )
    assert (
        coverage["access-review-due"]["identityGovernance/accessReviews/definitions"]
        == counts["accessReviewDefinitions"]
    )

    # The run records keep it.
    store = open_store(settings.state.path)
    try:
        for outcome in result.outcomes:
            record = store.runs(check=outcome.check, limit=1)[0]
            assert coverage_of(record.counts) == dict(outcome.coverage)
    finally:
        store.close()
