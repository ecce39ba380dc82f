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
