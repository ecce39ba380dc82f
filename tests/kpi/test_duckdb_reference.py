"""T1.01, T2.04 and T5.01 from `benchmarks/kpi_reference.py` (straight DuckDB SQL over the
model's Parquet, written from the catalogue) agree with our pandas KPIs, value for value,
at every organisation level and breakdown and for every period the pipeline computes: on
a generated demo model and on a hand-built one with the edge cases of the definitions."""

from __future__ import annotations

import datetime as dt
import importlib.util

import duckdb
from model_files import save_model

from etl.core.periods import reporting_periods
from etl.core.settings import REPO_ROOT
from etl.model import Model

_spec = importlib.util.spec_from_file_location("kpi_reference", REPO_ROOT / "benchmarks" / "kpi_reference.py")
kpi_reference = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(kpi_reference)

DAY = dt.date(2025, 11, 15)


def agree(model_dir, history_quarters: int = 4) -> dict[str, int]:
    """Compare the three KPIs; returns the rows compared per KPI and fails on any mismatch."""
    model = Model.load(model_dir)
    periods = reporting_periods(model.extraction_date, history_quarters)
    con = duckdb.connect()
    rows = {}
    for kpi_id in kpi_reference.KPIS:
        expected = kpi_reference.reference(con, kpi_id, model_dir, periods)
        actual = kpi_reference.ours(model, kpi_id, periods)
        bad = kpi_reference.compare(expected, actual)
        assert bad.empty, f"{kpi_id}: DuckDB reference and ours differ:\n{bad.to_string()}"
        rows[kpi_id] = len(expected)
    return rows


def test_reference_agrees_on_the_demo_model_dir(demo_model_dir):
    rows = agree(demo_model_dir)
    # every level and breakdown of every period is compared, not just the totals
    assert rows["T1.01"] > 1000 and rows["T2.04"] > 200 and rows["T5.01"] > 1000


def test_compare_finds_a_changed_value(demo_model_dir):
    model = Model.load(demo_model_dir)
    periods = reporting_periods(model.extraction_date, 1)
    expected = kpi_reference.reference(duckdb.connect(), "T2.04", demo_model_dir, periods)
    actual = kpi_reference.ours(model, "T2.04", periods)
    assert kpi_reference.compare(expected, actual).empty
    changed = actual.copy()
    changed.loc[5, "numerator"] += 1
    assert len(kpi_reference.compare(expected, changed)) == 1
    assert len(kpi_reference.compare(expected, actual.drop(index=7))) == 1


def test_reference_agrees_on_the_edge_cases(make_model, tmp_path):
    """BFC-VEST / 4010202 move center on 2025-01-01 (org resolved on each period's end), an
    unknown unit, a citizen missing from dim_citizen and one born on 29 February, stays only,
    anonymous and Natcafé stays, an open and a same-day stay, check-out before check-in, a
    stay at a facility missing from dim_facility, a facility closing mid-quarter, open and
    long absences straddling a period start, an absence of someone not in dim_employee,
    part-time and leaving employees."""
    vest, hr_vest = "BFC-VEST", "4010202"
    model = make_model(
        extraction_date=DAY,
        dim_citizen=[
            {"citizen_key": "c1", "birth_date": "2010-02-28", "gender": "M", "bydel": "Vesterbro"},
            {"citizen_key": "c2", "birth_date": "1960-02-29", "gender": "K"},
            {"citizen_key": "c3", "birth_date": "1990-06-01", "bydel": "Amager Øst"},
        ],
        fact_service=[
            {"service_key": "s1", "source": "boern", "citizen_key": "c1", "start_date": "2024-01-10",
             "unit_code": vest, "target_group": "Udsatte børn", "area": "Børn og Unge"},
            {"service_key": "s2", "source": "boern", "citizen_key": "c1", "start_date": "2025-03-01",
             "end_date": "2025-09-30", "unit_code": "BFC-NORD", "target_group": "Handicap", "area": "Børn og Unge"},
            {"service_key": "s3", "source": "voksen", "citizen_key": "c2", "start_date": "2024-05-01",
             "end_date": "2025-06-30", "unit_code": "NO-SUCH-UNIT", "area": "Voksne"},
            {"service_key": "s4", "source": "voksen", "citizen_key": "c9", "start_date": "2025-06-30",
             "unit_code": "CSU-ØST", "target_group": "Psykiatri", "area": "Voksne"},
            {"service_key": "s5", "source": "voksen", "citizen_key": "c3", "start_date": None,
             "unit_code": "CSU-ØST", "area": "Voksne"},
        ],
        dim_facility=[
            {"facility_id": "f1", "facility_type": "Herberg §110", "unit_code": "TIL-HERB", "places": 10,
             "active_from": "2020-01-01"},
            {"facility_id": "f2", "facility_type": "Natcafé", "unit_code": "TIL-NAT", "places": 5,
             "active_from": "2025-02-15", "active_to": "2025-08-10"},
            {"facility_id": "f3", "facility_type": "Krisecenter §109", "unit_code": "TIL-KRISE", "places": 3,
             "active_from": "2019-01-01", "active_to": "2024-11-30"},
        ],
        fact_stay=[
            {"stay_key": "t1", "facility_id": "f1", "facility_type": "Herberg §110", "citizen_key": "c3",
             "has_cpr": True, "check_in": "2024-12-20 18:00", "unit_code": "TIL-HERB", "area": "Voksne"},
            {"stay_key": "t2", "facility_id": "f1", "facility_type": "Herberg §110", "has_cpr": False,
             "check_in": "2025-03-30", "check_out": "2025-04-03", "unit_code": "TIL-HERB", "area": "Voksne"},
            {"stay_key": "t3", "facility_id": "f2", "facility_type": "Natcafé", "citizen_key": "c2",
             "has_cpr": True, "check_in": "2025-05-05 22:00", "check_out": "2025-05-06 07:00",
             "unit_code": "TIL-NAT", "area": "Voksne"},
            {"stay_key": "t4", "facility_id": "f1", "facility_type": "Herberg §110", "citizen_key": "c2",
             "has_cpr": True, "check_in": "2025-07-01", "check_out": "2025-07-01", "unit_code": "TIL-HERB",
             "area": "Voksne"},
            {"stay_key": "t5", "facility_id": "f1", "facility_type": "Herberg §110", "citizen_key": "c1",
             "has_cpr": True, "check_in": "2025-08-01", "check_out": "2025-07-20", "unit_code": "TIL-HERB",
             "area": "Voksne"},
            {"stay_key": "t6", "facility_id": "f9", "facility_type": "Herberg §110", "citizen_key": "c1",
             "has_cpr": True, "check_in": "2025-01-01", "unit_code": "TIL-HERB", "area": "Voksne"},
            {"stay_key": "t7", "facility_id": "f3", "facility_type": "Krisecenter §109", "citizen_key": "c9",
             "has_cpr": True, "check_in": "2024-09-01", "check_out": "2024-11-15", "unit_code": "TIL-KRISE",
             "area": "Voksne"},
        ],
        dim_employee=[
            {"employee_key": "e1", "unit_code": hr_vest, "job_category": "Socialrådgiver",
             "hired_date": "2020-01-01", "fte": 1.0},
            {"employee_key": "e2", "unit_code": hr_vest, "job_category": "Pædagog",
             "hired_date": "2024-08-15", "left_date": "2025-05-31", "fte": 0.75},
            {"employee_key": "e3", "unit_code": "NO-SUCH-UNIT", "hired_date": "2025-02-01", "fte": 0.333},
        ],
        fact_absence=[
            {"absence_id": "a1", "employee_key": "e1", "absence_type": "Egen sygdom",
             "from_date": "2025-06-20", "to_date": "2025-07-10"},
            {"absence_id": "a2", "employee_key": "e1", "absence_type": "Arbejdsskade", "from_date": "2025-10-20"},
            {"absence_id": "a3", "employee_key": "e2", "absence_type": "Egen sygdom",
             "from_date": "2024-12-30", "to_date": "2025-01-03"},
            {"absence_id": "a4", "employee_key": "e2", "absence_type": "Barsel", "from_date": "2025-02-01"},
            {"absence_id": "a5", "employee_key": "e3", "absence_type": "Egen sygdom",
             "from_date": "2025-03-10", "to_date": "2025-03-01"},
            {"absence_id": "a6", "employee_key": "e7", "absence_type": "Egen sygdom",
             "from_date": "2025-04-01", "to_date": "2025-04-02"},
        ],
    )
    save_model(model, tmp_path / "model")
    rows = agree(tmp_path / "model")
    assert all(n > 0 for n in rows.values())
