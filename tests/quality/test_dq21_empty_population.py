"""DQ21 (issue 20): a KPI whose population is structurally empty is a data-quality finding
for the KPI's owner, never a quiet 0 or NULL."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from etl.core.reference import load_reference
from etl.core.settings import REPO_ROOT
from etl.kpi.catalog import CATALOG
from etl.quality.config import load_rules_config
from etl.quality.facts import RunFacts
from etl.quality.rules import RULES

ROLES = load_reference(REPO_ROOT / "reference")["ref_role"]


def _facts(current: list[tuple], previous: list[tuple] | None) -> RunFacts:
    columns = ["kpi_id", "measure", "period_type", "period", "provisional", "value", "denominator"]
    frame = (lambda rows: pd.DataFrame(rows, columns=columns))
    return RunFacts(dt.datetime(2025, 11, 20, 6), pd.DataFrame(), pd.DataFrame(), kpi_totals=frame(current),
                    previous_kpi_totals=None if previous is None else frame(previous))


def _failing(model, facts) -> dict[tuple[str, str], str]:
    return {(f.source, r): d for f in RULES["DQ21"].check(model, facts, {})
            for r, d, x in zip(f.record_ids, f.detail, f.failing) if x}


def _populated(make_model, **extra):
    """Every role selects a row: one service per service role, one stay per facility role."""
    services = [{"service_key": f"voksen:{i}", "source": "voksen", "service_id": str(i), "citizen_key": "p",
                 "service_code": code, "area": "Voksne"}
                for i, code in enumerate(ROLES.loc[ROLES["kind"] == "service", "code"])]
    stays = [{"stay_key": f"tilbud:{i}", "stay_id": str(i), "facility_type": kind, "check_in": "2025-01-01"}
             for i, kind in enumerate(ROLES.loc[ROLES["kind"] == "facility", "code"])]
    return make_model(fact_service=services, fact_stay=stays, **extra)


def test_every_role_selecting_rows_and_no_previous_run_finds_nothing(make_model):
    model = _populated(make_model)
    assert _failing(model, _facts([], None)) == {}
    results = RULES["DQ21"].check(model, _facts([], None), {})
    assert sorted(f.source for f in results) == [f"kpi-tema{n}" for n in range(1, 7)]
    assert sum(len(f.record_ids) for f in results) == sum(1 for d in CATALOG.values() if d.implemented)


def test_a_role_that_selects_no_rows_fails_each_kpi_reading_it(make_model):
    model = _populated(make_model)
    treatment = model.fact_service["service_code"] == "SEL101"
    model.replace_table("fact_service", model.fact_service[~treatment])
    assert _failing(model, _facts([], None)) == {
        ("kpi-tema3", "T3.09"): "rollen service/substance_treatment udvælger ingen rækker i modellen",
        ("kpi-tema4", "T4.03"): "rollen service/substance_treatment udvælger ingen rækker i modellen"}


def test_a_population_gone_in_every_total_the_previous_run_had_fails(make_model):
    model = _populated(make_model)
    previous = [("T3.09", "share", "quarter", "2025-Q3", False, 0.8, 10.0),
                ("T3.09", "share", "quarter", "2025-Q2", False, 0.5, 4.0),
                ("T2.01", "count", "quarter", "2025-Q3", False, 12.0, None),
                ("T2.01", "count", "quarter", "2025-Q2", False, 9.0, None),
                ("T4.01", "share", "quarter", "2025-Q3", False, None, None)]  # not yet available then
    current = [("T3.09", "share", "quarter", "2025-Q3", False, None, 0.0),
               ("T3.09", "share", "quarter", "2025-Q2", False, None, 0.0),
               ("T2.01", "count", "quarter", "2025-Q3", False, 0.0, None),  # one of two totals gone: not structural
               ("T2.01", "count", "quarter", "2025-Q2", False, 9.0, None),
               ("T4.01", "share", "quarter", "2025-Q3", False, None, 0.0)]
    assert _failing(model, _facts(current, previous)) == {
        ("kpi-tema3", "T3.09"): "populationen er 0 i alle 2 totaler, hvor forrige kørsel havde en"}


def test_the_breach_goes_to_the_kpi_owner_from_the_catalogue():
    config = load_rules_config()["DQ21"]
    assert config.severity == "error"
    assert config.owners_for("kpi-tema3") == ("sofli-drift@sofli.example", "lis-drift@sof.example.org")
    assert config.owners_for("kpi-tema5") == ("sofli-drift@sofli.example", "lis-hr@sof.example.org")
