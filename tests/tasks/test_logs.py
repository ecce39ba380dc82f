"""Task logs tell the story: rows read, staged and quarantined per table, seconds per step,
and one SUMMARY line at the end of each DAG run."""

from __future__ import annotations

import datetime as dt
import logging
import re

import pytest

from etl.core.settings import REPO_ROOT, Settings
from etl.synth import generate
from etl.tasks import extract as extract_tasks
from etl.tasks import quality as dq_tasks

DATE = dt.date(2025, 11, 15)


def test_an_extract_logs_rows_and_seconds_per_table_and_a_summary(tmp_path, caplog):
    generate(tmp_path / "sources", profile="demo", seed=42, extraction_date=DATE)
    settings = Settings(tmp_path, REPO_ROOT / "reference", "demo")
    with caplog.at_level(logging.INFO, logger="etl.tasks"):
        result = extract_tasks.extract_source("klage", DATE, "log-test", settings)
    text = "\n".join(r.getMessage() for r in caplog.records)
    assert re.search(r"landed klage\.klage: \d+ rows in \d+\.\d+s", text), text
    assert re.search(r"validated klage\.klage: \d+ in, \d+ staged, \d+ quarantined .*in \d+\.\d+s", text), text
    last = caplog.records[-1].getMessage()
    assert last == (f"SUMMARY extract_klage: extract of {DATE} is now current: 1 table(s), "
                    f"{result['rows_staged']} rows staged, {result['rows_quarantined']} quarantined")


@pytest.mark.parametrize("fail_on_breach", [True, False])
def test_the_data_quality_gate_ends_the_run_with_a_summary(caplog, fail_on_breach):
    breach = {"rule_id": "DQ01", "source": "boern", "failing": 9, "population": 100, "threshold_kind": "rate",
              "threshold": 0.05, "severity": "error"}
    summary = {"run_id": "night-1", "breaches": [breach, {**breach, "rule_id": "DQ05", "severity": "warning"}]}
    with caplog.at_level(logging.INFO, logger="etl.tasks"):
        if fail_on_breach:
            with pytest.raises(dq_tasks.DataQualityBreach):
                dq_tasks.dq_gate(summary, fail_on_breach)
        else:
            dq_tasks.dq_gate(summary, fail_on_breach)
    verdict = "gate fails" if fail_on_breach else "gate passes"
    assert caplog.records[-1].getMessage() == f"SUMMARY data_quality: {verdict}: 2 breach(es), 1 of them error rules (run night-1)"
