"""The runner: totals, thresholds, severity, scoping, breakdowns, failures and the trend.

The standard model has 20 boern and 20 voksen decisions (extraction 2025-11-20):
boern: 1 without deadline (dated 2025-05-02), 1 in the future (2026-01-10), 18 fine (2025-06-15);
voksen: 2 without deadline, 2 in the future, 16 fine.
So DQ01 is 1/20 = 0.05 for boern (equal to a 0.05 threshold: pass) and 2/20 = 0.10 for voksen
(breach); DQ02 is 1 (equal to a count threshold of 1: pass) and 2 (breach).
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest

from etl.publish.marts import DQ_FAILURE, DQ_RESULT, DQ_RULE
from etl.quality.config import load_rules_config
from etl.quality import runner
from etl.quality.rules import RULES
from etl.quality.runner import Breach, _breakdowns, format_breach_log, run_rules

COMPUTED_AT = dt.datetime(2025, 11, 20, 3, 0)


def decisions(source: str, count: int, without_deadline: int, in_future: int) -> list[dict]:
    rows = []
    for i in range(count):
        date, deadline = "2025-06-15", "2025-08-01"
        if i < without_deadline:
            date, deadline = "2025-05-02", None
        elif i >= count - in_future:
            date = "2026-01-10"
        rows.append({"decision_key": f"{source}:{i}", "source": source, "decision_id": f"{source[0]}{i}",
                     "case_key": f"{source}:c", "citizen_key": "p", "outcome": "Bevilget",
                     "paragraph_text": "BL §46" if source == "boern" else "SEL §107",
                     "decision_date": date, "deadline_date": deadline, "area": "x"})
    return rows


@pytest.fixture
def model(make_model):
    return make_model(fact_decision=decisions("boern", 20, 1, 1) + decisions("voksen", 20, 2, 2))


@pytest.fixture
def config(rule_config):
    return {"DQ01": rule_config("DQ01", "rate", 0.05, "error", owners=("a@sofli.example", "b@sofli.example")),
            "DQ02": rule_config("DQ02", "count", 1, "warning")}


def totals(outcome) -> dict[tuple[str, str], tuple]:
    rows = outcome.dq_result[outcome.dq_result["dimension"].isna()]
    return {(r.rule_id, r.source): (r.population, r.failing, None if pd.isna(r.rate) else round(r.rate, 4),
                                    r.status, None if pd.isna(r.previous_failing) else r.previous_failing)
            for r in rows.itertuples()}


def test_totals_thresholds_and_severity(model, config):
    outcome = run_rules(model, config, "run-1", COMPUTED_AT)
    assert totals(outcome) == {
        ("DQ01", "boern"): (20, 1, 0.05, "pass", None),
        ("DQ01", "voksen"): (20, 2, 0.1, "breach", None),
        ("DQ02", "boern"): (20, 1, 0.05, "pass", None),
        ("DQ02", "voksen"): (20, 2, 0.1, "breach", None),
    }
    assert outcome.breaches == [
        Breach("DQ01", "Regel DQ01", "Ret rækkerne for DQ01.", "voksen", 2, 20, 0.1, "rate", 0.05, "error",
               ("a@sofli.example", "b@sofli.example"), None, blocking=True),
        Breach("DQ02", "Regel DQ02", "Ret rækkerne for DQ02.", "voksen", 2, 20, 0.1, "count", 1.0, "warning",
               ("dq-test@sofli.example",), None),
    ]
    assert [(b.rule_id, b.source) for b in outcome.error_breaches] == [("DQ01", "voksen")]


def test_frames_have_the_bi_contract_columns_and_run_metadata(model, config):
    outcome = run_rules(model, config, "run-1", COMPUTED_AT)
    assert list(outcome.dq_rule.columns) == DQ_RULE.column_names
    assert list(outcome.dq_result.columns) == DQ_RESULT.column_names
    assert list(outcome.dq_failure.columns) == DQ_FAILURE.column_names
    assert set(outcome.dq_result["run_id"]) == {"run-1"}
    assert set(outcome.dq_result["run_date"]) == {pd.Timestamp("2025-11-20")}
    assert set(outcome.dq_result["computed_at"]) == {pd.Timestamp(COMPUTED_AT)}
    assert outcome.dq_rule.to_dict("records") == [
        {"rule_id": "DQ01", "title": "Regel DQ01", "description": "Ret rækkerne for DQ01.", "severity": "error",
         "threshold_kind": "rate", "threshold": 0.05, "owners": "a@sofli.example,b@sofli.example",
         "sources": "boern,voksen"},
        {"rule_id": "DQ02", "title": "Regel DQ02", "description": "Ret rækkerne for DQ02.", "severity": "warning",
         "threshold_kind": "count", "threshold": 1.0, "owners": "dq-test@sofli.example",
         "sources": "boern,voksen"},
    ]


def test_breakdown_rows(model, config):
    result = run_rules(model, config, "run-1", COMPUTED_AT).dq_result
    rows = result[(result["rule_id"] == "DQ01") & (result["source"] == "boern") & result["dimension"].notna()]
    assert [(r.dimension, r.dimension_value, r.population, r.failing, r.rate) for r in rows.itertuples()] == [
        ("case_type", "Anbringelse med samtykke", 20, 1, 0.05),
        ("decision_month", "2025-05", 1, 1, 1.0),
        ("decision_month", "2025-06", 18, 0, 0.0),
        ("decision_month", "2026-01", 1, 0, 0.0),
    ]
    assert rows["status"].isna().all() and rows["previous_failing"].isna().all()
    assert set(rows["threshold"]) == {0.05} and set(rows["severity"]) == {"error"}


def test_failures_list_the_source_record_ids(model, config):
    failures = run_rules(model, config, "run-1", COMPUTED_AT).dq_failure
    dq01 = failures[failures["rule_id"] == "DQ01"]
    assert dq01[["source", "source_table", "record_id"]].values.tolist() == [
        ["boern", "Afgoerelse", "b0"], ["voksen", "afgoerelse", "v0"], ["voksen", "afgoerelse", "v1"]]
    assert set(dq01["detail"]) == {"frist (FristDato/frist_dato) mangler"}
    assert sorted(failures.loc[failures["rule_id"] == "DQ02", "record_id"]) == ["b19", "v18", "v19"]
    assert set(failures["run_id"]) == {"run-1"}


def test_source_scope_limits_every_output(model, rule_config):
    outcome = run_rules(model, {"DQ01": rule_config("DQ01", "rate", 0.05, sources=("voksen",))}, "r", COMPUTED_AT)
    assert set(outcome.dq_result["source"]) == {"voksen"}
    assert set(outcome.dq_failure["source"]) == {"voksen"}
    assert outcome.dq_rule["sources"].tolist() == ["voksen"]


def test_disabled_rule_produces_nothing(model, config, rule_config):
    config["DQ02"] = rule_config("DQ02", "count", 0, enabled=False)
    outcome = run_rules(model, config, "r", COMPUTED_AT)
    for frame in (outcome.dq_rule, outcome.dq_result, outcome.dq_failure):
        assert set(frame["rule_id"]) == {"DQ01"}
    assert {b.rule_id for b in outcome.breaches} == {"DQ01"}


def test_empty_population_is_a_pass_with_null_rate(model, rule_config):
    outcome = run_rules(model, {"DQ03": rule_config("DQ03", "count", 0)}, "r", COMPUTED_AT)
    assert totals(outcome) == {("DQ03", "klage"): (0, 0, None, "pass", None)}
    assert len(outcome.dq_result) == 1 and outcome.dq_failure.empty and outcome.breaches == []


def test_previous_run_gives_the_trend(make_model, model, config, rule_config):
    first = run_rules(model, config, "run-1", COMPUTED_AT)
    worse = make_model(fact_decision=decisions("boern", 20, 1, 1) + decisions("voksen", 20, 3, 2))
    config["DQ04"] = rule_config("DQ04", "rate", 0.02)
    second = run_rules(worse, config, "run-2", COMPUTED_AT + dt.timedelta(days=1), previous=first.dq_result)
    assert totals(second) == {
        ("DQ01", "boern"): (20, 1, 0.05, "pass", 1),
        ("DQ01", "voksen"): (20, 3, 0.15, "breach", 2),
        ("DQ02", "boern"): (20, 1, 0.05, "pass", 1),
        ("DQ02", "voksen"): (20, 2, 0.1, "breach", 2),
        ("DQ04", "boern"): (0, 0, None, "pass", None),
        ("DQ04", "voksen"): (0, 0, None, "pass", None),
    }
    assert [(b.rule_id, b.failing, b.previous_failing) for b in second.breaches] == [("DQ01", 3, 2), ("DQ02", 2, 2)]


def test_source_new_since_the_previous_run_has_no_trend(model, rule_config):
    first = run_rules(model, {"DQ01": rule_config("DQ01", "rate", 0.0, sources=("boern",))}, "r1", COMPUTED_AT)
    second = run_rules(model, {"DQ01": rule_config("DQ01", "rate", 0.0)}, "r2", COMPUTED_AT,
                       previous=first.dq_result)
    assert [(b.source, b.failing, b.previous_failing) for b in second.breaches] == [
        ("boern", 1, 1), ("voksen", 2, None)]


def test_aware_computed_at_is_stored_in_utc(model, config):
    aware = dt.datetime(2025, 11, 20, 4, 0, tzinfo=dt.timezone(dt.timedelta(hours=1)))
    outcome = run_rules(model, config, "r", aware)
    assert set(outcome.dq_result["computed_at"]) == {pd.Timestamp("2025-11-20 03:00")}


def test_breach_log_lines(model, config):
    log = format_breach_log(run_rules(model, config, "run-1", COMPUTED_AT))
    assert log.splitlines() == [
        "Data quality: 2 breach(es), 1 of severity error:",
        "  ERROR DQ01 Regel DQ01 [voksen]: 2/20 failing, rate 10.00% > threshold 5.00%",
        "  WARNING DQ02 Regel DQ02 [voksen]: 2/20 failing, count 2 > threshold 1 (rate 10.00%)",
    ]


def test_breach_log_without_breaches(model, rule_config):
    outcome = run_rules(model, {"DQ03": rule_config("DQ03", "count", 0)}, "r", COMPUTED_AT)
    assert format_breach_log(outcome) == "Data quality: no rule breached its threshold."


def test_default_configuration_runs_every_rule(model):
    outcome = run_rules(model, load_rules_config(), "r", COMPUTED_AT)
    assert outcome.dq_rule["rule_id"].tolist() == sorted(RULES)
    # without facts DQ10 and DQ13 are listed but report nothing
    assert not outcome.dq_result["rule_id"].isin(["DQ10", "DQ13"]).any()
    assert [(b.rule_id, b.source) for b in outcome.error_breaches] == [
        ("DQ01", "voksen"), ("DQ02", "boern"), ("DQ02", "voksen")]


@pytest.mark.parametrize("seed", range(4))
def test_breakdown_counts_are_those_of_every_row_once_per_dimension(seed):
    """`_breakdowns` counts one dimension at a time (memory at national); the rows must be what
    melting every row once per dimension and grouping gives: per source, dimension and label,
    missing labels left out, a dimension with no label at all giving no row."""
    rng = np.random.default_rng(seed)
    n = 300

    def labels(values, missing):
        return pd.Series(rng.choice(values, n), dtype="str").where(rng.random(n) >= missing)

    rows = pd.DataFrame({"source": labels(["boern", "voksen", "oekonomi"], 0), "source_table": "t",
                         "record_id": [str(i) for i in range(n)], "failing": rng.random(n) < 0.3,
                         "detail": None, "unit_code": labels(["U1", "U2"], 0.2),
                         "function": labels(["5.28.20", "5.38.50", "Ukendt"], 0.1), "unit": labels(["A", "B"], 0.4),
                         "empty": pd.Series(None, index=range(n), dtype="str")})
    rows = rows.drop(columns=[c for c in rows.columns if c not in (*runner._ROW_COLUMNS, *runner.IDENTIFIER_COLUMNS,
                                                                   "function", "unit", "empty")])
    dimensions = ["function", "unit", "empty"]
    expected = (rows.melt(id_vars=["source", "failing"], value_vars=dimensions, var_name="dimension",
                          value_name="dimension_value").dropna(subset=["dimension_value"])
                .groupby(["source", "dimension", "dimension_value"])["failing"]
                .agg(population="size", failing="sum").reset_index())
    got = _breakdowns(rows)
    assert got[["source", "dimension", "dimension_value"]].astype(object).values.tolist() == \
        expected[["source", "dimension", "dimension_value"]].astype(object).values.tolist()
    assert got["population"].tolist() == expected["population"].tolist()
    assert got["failing"].tolist() == expected["failing"].tolist()
    assert got["rate"].tolist() == (expected["failing"] / expected["population"]).tolist()
    assert _breakdowns(rows[[*runner._ROW_COLUMNS]]).empty
