"""The baseline every check's thresholds start from."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from monitor.app import prepare_checks
from monitor.baseline import Baseline, load_baseline
from monitor.check import Check, CheckContext, CheckSettings, Finding, Interval
from monitor.errors import ConfigurationError
from monitor.plugins import Discovery
from monitor.settings import MonitorSettings

ROOT = Path(__file__).resolve().parents[1]
TENANT = {
    "name": "t",
    "tenant_id": "11111111-2222-3333-4444-555555555555",
    "credential": {"kind": "managed_identity"},
}


def test_the_packaged_baseline_is_the_documented_one() -> None:
    packaged = ROOT / "monitor" / "data" / "baseline.toml"
    assert packaged.read_text() == (ROOT / "config" / "baseline.toml").read_text()
    assert load_baseline() == load_baseline(ROOT / "config" / "baseline.toml")


def test_a_bad_baseline_names_the_file_and_field(tmp_path: Path) -> None:
    path = tmp_path / "baseline.toml"
    path.write_text(
        (ROOT / "config" / "baseline.toml").read_text().replace("critical_days = 7", "critical_days = -1")
    )
    with pytest.raises(ConfigurationError, match=rf"baseline \({path}\): credentials.critical_days: "):
        load_baseline(path)


class ReviewSettings(CheckSettings):
    due_soon_days: int = 1
    max_review_age_days: int = 1


class Reviews(Check[ReviewSettings, None]):
    id = "reviews"
    title = "t"
    description = "d"
    permissions = ()
    schedule = Interval(hours=1)
    settings_model = ReviewSettings

    @classmethod
    def baseline_defaults(cls, baseline: Baseline) -> dict[str, Any]:
        section = baseline.access_reviews
        return {"due_soon_days": section.due_soon_days, "max_review_age_days": section.max_review_age_days}

    async def collect(self, context: CheckContext) -> None:
        return None

    def evaluate(self, data: None, settings: ReviewSettings, now: datetime) -> list[Finding]:
        return []


def test_check_settings_start_from_the_baseline_and_yield_to_the_settings_file(tmp_path: Path) -> None:
    custom = tmp_path / "baseline.toml"
    custom.write_text(
        (ROOT / "config" / "baseline.toml").read_text().replace("due_soon_days = 14", "due_soon_days = 21")
    )
    settings = MonitorSettings.model_validate(
        {
            "tenants": [TENANT],
            "baseline": str(custom),
            "checks": {"reviews": {"settings": {"max_review_age_days": 100}}},
        }
    )
    (prepared,), _ = prepare_checks(settings, Discovery(checks={"reviews": Reviews}))
    assert prepared.settings == ReviewSettings(due_soon_days=21, max_review_age_days=100)
