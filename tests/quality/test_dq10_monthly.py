"""DQ10 for the monthly employment file, as the catalogue reads it (issue 20): the previous
month's file is owed from the due day (default the 10th); a month missing after that fails,
even with older months present and a fresh extract. DQ10 and the freshness page
(`mart.source_freshness`) share the one definition."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from etl.core.settings import ConfigurationError, Settings
from etl.quality.facts import due_month, expected_delivery, source_freshness
from etl.quality.rules import RULES
from etl.sources import SOURCES


@pytest.fixture
def settings(tmp_path):
    drop = tmp_path / "drop"
    drop.mkdir()
    for month in ("202508", "202509"):  # older months delivered; October's is not
        (drop / f"beskaeftigelse_{month}.csv").write_text("x\n")
    current = tmp_path / "staged" / "beskaeftigelse" / "CURRENT.json"
    current.parent.mkdir(parents=True)
    current.write_text(json.dumps({"source": "beskaeftigelse", "extract_date": "2025-11-12", "run_id": "r",
                                   "completed_at": "2025-11-12T02:30:00",
                                   "tables": {"beskaeftigelse": {"rows_in": 5, "rows_staged": 5,
                                                                 "rows_quarantined": 0}}}))
    return Settings(tmp_path, tmp_path / "reference", "demo", source_locations={"beskaeftigelse": str(drop)})


def _dq10(settings, day: dt.date, due_day: int = 10):
    """(DQ10 fails, its detail, the page shows it stale) on `day`; a due day other than the
    default is checked on the delivery definition both share."""
    checked = dt.datetime.combine(day, dt.time(6))
    if due_day != 10:
        _, present = expected_delivery(settings, SOURCES["beskaeftigelse"], day, due_day)
        return not present, None, not present
    facts = source_freshness(settings, checked, day)

    class Facts:
        freshness = facts
        breakers = None
    (finding,) = [f for f in RULES["DQ10"].check(None, Facts, {}) if f.source == "beskaeftigelse"]
    page = facts.set_index("source")
    page_stale = bool(page.loc["beskaeftigelse", "stale"]) or page.loc["beskaeftigelse", "file_present"] is False
    return bool(finding.failing.iloc[0]), finding.detail.iloc[0], page_stale


def test_the_owed_month_moves_on_the_due_day():
    assert due_month(dt.date(2025, 11, 9)) == dt.date(2025, 9, 1)
    assert due_month(dt.date(2025, 11, 10)) == dt.date(2025, 10, 1)
    assert due_month(dt.date(2026, 1, 10)) == dt.date(2025, 12, 1)
    assert due_month(dt.date(2026, 2, 3)) == dt.date(2025, 12, 1)
    assert due_month(dt.date(2025, 11, 14), due_day=15) == dt.date(2025, 9, 1)


def test_the_previous_month_missing_after_the_due_day_fails_though_the_extract_is_fresh(settings):
    failing, detail, page_stale = _dq10(settings, dt.date(2025, 11, 12))
    assert failing and page_stale
    assert detail == "forventet fil beskaeftigelse_202510.csv mangler i drop-mappen"


def test_before_the_due_day_the_month_before_is_owed_and_present(settings):
    assert _dq10(settings, dt.date(2025, 11, 9))[::2] == (False, False)


def test_the_due_day_is_configurable(settings):
    assert _dq10(settings, dt.date(2025, 11, 12), due_day=15)[::2] == (False, False)
    assert _dq10(settings, dt.date(2025, 11, 15), due_day=15)[::2] == (True, True)


def test_the_owed_file_arriving_clears_both(settings):
    drop = Path(settings.source_location(SOURCES["beskaeftigelse"]))
    (drop / "beskaeftigelse_202510.csv").write_text("x\n")
    assert _dq10(settings, dt.date(2025, 11, 12))[::2] == (False, False)


def test_the_due_day_is_an_operator_setting_that_dq10_reads(settings):
    """SOFLI_MONTHLY_FILE_DUE_DAY reaches DQ10 and the freshness page through Settings."""
    later = Settings(settings.data_dir, settings.reference_dir, "demo", source_locations=settings.source_locations,
                     monthly_file_due_day=15)
    assert _dq10(later, dt.date(2025, 11, 12))[::2] == (False, False)  # October's file is owed from the 15th
    assert _dq10(later, dt.date(2025, 11, 15))[::2] == (True, True)
    assert Settings.resolve({"SOFLI_DATA_DIR": str(settings.data_dir), "SOFLI_MONTHLY_FILE_DUE_DAY": "15"}
                            ).monthly_file_due_day == 15
    with pytest.raises(ConfigurationError, match="SOFLI_MONTHLY_FILE_DUE_DAY"):
        Settings(settings.data_dir, settings.reference_dir, "demo", monthly_file_due_day=31)
