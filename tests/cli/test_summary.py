"""The demo's exit code: 0 = ran and published; --strict turns a breached error rule into 3."""

import pytest

from etl.core.settings import Settings
from etl.cli.summary import EXIT_DQ_BREACH, EXIT_OK, EXIT_PIPELINE_FAILED, print_summary

OK = {"state": "success", "tasks": {"t": "success"}, "seconds": 1.0}
GATE_RED = {"state": "failed", "tasks": {"run_rules": "success", "alert_owners": "success", "gate": "failed"},
            "seconds": 1.0}
BROKEN = {"state": "failed", "tasks": {"land_Barn": "failed", "publish": "upstream_failed"}, "seconds": 1.0}


@pytest.mark.parametrize("states, strict, code", [
    ({"extract_boern": OK, "data_quality": OK}, False, EXIT_OK),
    ({"extract_boern": OK, "data_quality": GATE_RED}, False, EXIT_OK),
    ({"extract_boern": OK, "data_quality": GATE_RED}, True, EXIT_DQ_BREACH),
    ({"extract_boern": BROKEN, "data_quality": GATE_RED}, False, EXIT_PIPELINE_FAILED),
    ({"extract_boern": OK, "data_quality": {**GATE_RED, "tasks": {"run_rules": "failed", "gate": "failed"}}},
     False, EXIT_PIPELINE_FAILED),
])
def test_exit_codes(tmp_path, capsys, states, strict, code):
    settings = Settings(tmp_path, mode="demo")  # the embedded warehouse under tmp_path, not yet written
    assert print_summary(settings, states, strict=strict, seconds=1.0) == code
    out = capsys.readouterr().out
    if states["data_quality"] is GATE_RED:
        assert "RED  data_quality" in out


def test_a_failed_extract_is_named_and_the_rest_of_the_night_said_to_be_published(tmp_path, capsys):
    settings = Settings(tmp_path, mode="production", warehouse_location=f"sqlite:///{tmp_path}/warehouse/warehouse.db")
    states = {"extract_boern": OK, "extract_klage": BROKEN, "build_model": OK, "publish_kpis": OK,
              "data_quality": GATE_RED}
    assert print_summary(settings, states, strict=False, seconds=1.0,
                         title="sofli run, night of 2026-03-10") == EXIT_PIPELINE_FAILED
    out = capsys.readouterr().out
    assert "sofli run, night of 2026-03-10: 5 DAG runs" in out
    assert "FAIL extract_klage" in out and "failed/not run: land_Barn, publish" in out
    assert "PIPELINE FAILED: extract_klage did not complete" in out
    assert "their last good extract was used, DQ10 flags them stale" in out
    assert "alert e-mails received" not in out  # production mails through smtp_default, not a sink
