"""The demo's exit code: 0 = ran and published; --strict turns a breached error rule into 3."""

import datetime as dt

import pandas as pd
import pytest

from etl.core.settings import Settings
from etl.publish.marts import KPI_VALUE
from etl.publish.warehouse import ensure_schema, make_engine, publish
from etl.cli.summary import EXIT_DQ_BREACH, EXIT_OK, EXIT_PIPELINE_FAILED, print_summary
from etl.kpi.catalog import CATALOG, MEASURE_LABELS
from etl.publish.marts import DQ_RESULT, DQ_RULE

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


def _kpi_rows(period: str, start: str, end: str, provisional: bool, cells: list[tuple]) -> list[dict]:
    return [{"kpi_id": kpi, "measure": measure, "period_type": kind, "period": period, "period_start": start,
             "period_end": end, "org_level": "sof", "org_key": "SOF", "dimension": None, "dimension_value": None,
             "value": value, "numerator": None, "denominator": None, "unit": unit, "provisional": provisional,
             "version": 0, "run_id": "night-1", "computed_at": dt.datetime(2025, 11, 16, 3),
             "period_key": f"{kind}:{start}:{end}",
             "comparison": "current" if provisional or end.endswith(("03-31", "06-30", "09-30", "12-31"))
             else "last_year_twin", "org_id": "sof:SOF", "value_status": "shown"}
            for kpi, measure, kind, unit, value in cells]


def test_the_summary_prints_theme6_money_against_budget_from_the_warehouse(tmp_path, monkeypatch, capsys):
    """The economy headlines read mart.kpi_tile (version 0, SOF) of the newest period, the running
    quarter to the extraction date: net ÅTD against its budget, the year's prognosis against the
    year's budget, the number of dyre enkeltsager with their cost; last year in brackets."""
    url = f"sqlite:///{tmp_path}/warehouse/warehouse.db"
    engine = make_engine(url)
    ensure_schema(engine)
    now = [("T6.01", "net", "ytd", "dkk", 132_349_876.5), ("T6.01", "budget", "ytd", "dkk", 125_400_000.0),
           ("T6.01", "share_of_budget", "ytd", "share", 132_349_876.5 / 125_400_000.0),
           ("T6.02", "prognosis", "quarter", "dkk", 161_050_000.0), ("T6.02", "budget_year", "quarter", "dkk", 153_496_800.0),
           ("T6.02", "deviation", "quarter", "dkk", 7_553_200.0),
           ("T6.04", "count", "quarter", "count", 87.0), ("T6.04", "cost", "quarter", "dkk", 77_650_000.0),
           ("T6.04", "share_of_total", "quarter", "share", 0.50649), ("T6.04", "estimated_refund", "quarter", "dkk", 940_250.4)]
    last = [("T6.01", "net", "ytd", "dkk", 135_100_000.0), ("T6.02", "prognosis", "quarter", "dkk", 999_600.0),
            ("T6.04", "count", "quarter", "count", 95.0)]
    closed = [("T6.01", "net", "ytd", "dkk", 1.0)]  # an older period: not the one shown
    rows = (_kpi_rows("2025-Q4", "2025-10-01", "2025-11-15", True, now)
            + _kpi_rows("2024-Q4", "2024-10-01", "2024-11-15", False, last)
            + _kpi_rows("2025-Q3", "2025-07-01", "2025-09-30", False, closed))
    publish(engine, "mart", KPI_VALUE, pd.DataFrame(rows))
    engine.dispose()
    assert print_summary(Settings(tmp_path, mode="production", warehouse_location=url), {"publish_kpis": OK}, strict=False, seconds=1.0) == EXIT_OK
    out = capsys.readouterr().out
    lines = [" ".join(line.split()) for line in out.splitlines()]
    assert "Economy (tema 6) on 2025-11-15, SOF total (provisional); last year in brackets:" in lines
    assert ("T6.01 Net spending ÅTD 132,3 mio. kr. (135,1 mio. kr.) budget ÅTD 125,4 mio. kr., spent 105,5 %"
            in lines)
    assert ("T6.02 Prognosis for the year 161,1 mio. kr. (999.600 kr.) budget 153,5 mio. kr., deviation 7,6 mio. kr."
            in lines)
    assert ("T6.04 Dyre enkeltsager (citizens) 87 (95) cost 77,7 mio. kr., of all cost 50,6 %, refund 940.250 kr."
            in lines)


def test_the_summary_has_no_economy_block_without_theme6(tmp_path, monkeypatch, capsys):
    url = f"sqlite:///{tmp_path}/warehouse/warehouse.db"
    engine = make_engine(url)
    ensure_schema(engine)
    publish(engine, "mart", KPI_VALUE, pd.DataFrame(_kpi_rows("2025-Q3", "2025-07-01", "2025-09-30", False,
                                                              [("T1.01", "count", "quarter", "count", 596.0)])))
    engine.dispose()
    print_summary(Settings(tmp_path, mode="production", warehouse_location=url), {"publish_kpis": OK}, strict=False, seconds=1.0)
    out = capsys.readouterr().out
    assert "Nøgletal, " in out and "Economy (tema 6)" not in out


def test_headline_kpis_show_danish_measure_labels_and_units(tmp_path, capsys):
    url = f"sqlite:///{tmp_path}/warehouse/warehouse.db"
    engine = make_engine(url)
    ensure_schema(engine)
    publish(engine, "mart", KPI_VALUE, pd.DataFrame(_kpi_rows("2025-Q3", "2025-07-01", "2025-09-30", False, [
        ("T5.01", "per_fte", "quarter", "per_fte", 14.25), ("T5.01", "long_days", "quarter", "days", 1234.0),
        ("T3.02", "share", "quarter", "share", 0.8125), ("T1.01", "count", "quarter", "count", 4383.0)])
        + _kpi_rows("2025-Q4", "2025-10-01", "2025-11-15", True, [("T1.01", "count", "quarter", "count", 1.0)])))
    engine.dispose()
    print_summary(Settings(tmp_path, mode="production", warehouse_location=url), {"publish_kpis": OK}, strict=False,
                  seconds=1.0)
    lines = [" ".join(line.split()) for line in capsys.readouterr().out.splitlines()]
    assert "Nøgletal, 3. kvartal 2025 (SOF i alt; sidste år i parentes):" in lines
    kpi_lines = {line.split()[0]: line for line in lines if line[:3] in ("T1.", "T3.", "T5.")}
    assert any("Pr. fuldtidsansat 14,2 dage pr. fuldtidsansat (–)" in line for line in lines)
    assert any("Langt sygefravær (dage) 1.234 dage (–)" in line for line in lines)
    assert "Andel 81,2 % (–)" in kpi_lines["T3.02"] and "Antal 4.383 (–)" in kpi_lines["T1.01"]
    assert not any(code in " ".join(lines) for code in ("per_fte", "long_days"))  # no raw measure codes


def test_every_catalogue_measure_has_a_danish_label():
    assert {m for kpi in CATALOG.values() for m in kpi.measures} <= set(MEASURE_LABELS)


def _dq_warehouse(tmp_path, passes: int) -> str:
    """A warehouse with one run's DQ totals: 2 error breaches, 1 warning breach, `passes` passes."""
    url = f"sqlite:///{tmp_path}/warehouse/warehouse.db"
    engine = make_engine(url)
    ensure_schema(engine)
    rule = {"title": "t", "description": "d", "threshold_kind": "count", "threshold": 0.0, "owners": "a@b.dk",
            "sources": "boern"}
    publish(engine, "mart", DQ_RULE, pd.DataFrame([{**rule, "rule_id": "DQ01", "severity": "error"},
                                                   {**rule, "rule_id": "DQ06", "severity": "warning"},
                                                   {**rule, "rule_id": "DQ02", "severity": "error"}]))
    base = {"run_id": "r1", "run_date": dt.date(2025, 11, 20), "computed_at": dt.datetime(2025, 11, 20, 5),
            "dimension": None, "dimension_value": None, "threshold_kind": "count", "threshold": 0.0,
            "previous_failing": None}
    rows = [{**base, "rule_id": "DQ06", "source": "tilbud", "population": 2000, "failing": 1500, "rate": 0.75,
             "status": "breach", "severity": "warning"},
            {**base, "rule_id": "DQ02", "source": "voksen", "population": 12345, "failing": 3, "rate": 3 / 12345,
             "status": "breach", "severity": "error"},
            {**base, "rule_id": "DQ01", "source": "boern", "population": 4, "failing": 3, "rate": 0.75,
             "status": "breach", "severity": "error"}]
    rows += [{**base, "rule_id": "DQ02", "source": f"s{i:03d}", "population": 10, "failing": 0, "rate": 0.0,
              "status": "pass", "severity": "error"} for i in range(passes)]
    publish(engine, "mart", DQ_RESULT, pd.DataFrame(rows)[DQ_RESULT.column_names])
    engine.dispose()
    return url


def test_data_quality_prints_breaches_first_errors_before_warnings_and_counts_the_passes(tmp_path, capsys):
    url = _dq_warehouse(tmp_path, passes=120)
    print_summary(Settings(tmp_path, mode="production", warehouse_location=url), {"publish_kpis": OK}, strict=False,
                  seconds=1.0)
    out = capsys.readouterr().out
    lines = [" ".join(line.split()) for line in out.splitlines()]
    start = lines.index("Datakvalitet: 123 regel × kilde-resultater: 3 brud, 120 bestået")
    assert lines[start + 1:start + 5] == [
        "!! BRUD DQ01 boern 3 af 4 (75,0 %, fejl)",
        "!! BRUD DQ02 voksen 3 af 12.345 (0,0 %, fejl)",
        "!! BRUD DQ06 tilbud 1.500 af 2.000 (75,0 %, advarsel)",
        "120 bestået (alle: --verbose, eller datakvalitetssiden i Airflow)"]
    assert len(out.splitlines()) < 40  # 123 results, a short summary


def test_verbose_lists_every_result(tmp_path, capsys):
    url = _dq_warehouse(tmp_path, passes=120)
    print_summary(Settings(tmp_path, mode="production", warehouse_location=url), {"publish_kpis": OK}, strict=False,
                  seconds=1.0, verbose=True)
    lines = [" ".join(line.split()) for line in capsys.readouterr().out.splitlines()]
    assert sum(line.startswith("bestået DQ02 s") for line in lines) == 120
