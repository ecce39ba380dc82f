"""T1.01, T2.04, T3.01, T4.01, T5.01, T6.01 as straight DuckDB SQL over the model's Parquet, against ours.

    python benchmarks/kpi_reference.py --data-dir /tmp/kref-cph [--history-quarters 4] [--threads N]
        [--json out.json]

`<data-dir>/model/` must hold a built model (`benchmarks/run_chain.py` leaves one). The
reference computes the six KPIs (at least one per theme) for the periods the pipeline computes
(`reporting_periods(extraction_date, history_quarters)`; T1.01 is a stock, quarters only)
at every organisation level, breakdown and measure, one SQL query per KPI over all periods,
written from the definitions in `docs/kpi-catalogue.md` and not from our code (where the
catalogue leaves a detail open, the SQL says so and reads it as ours does). It then times our
implementation (`etl.kpi.compute_kpi`, the function `compute_kpis` calls) on the same model
and periods, compares every value, numerator and denominator, and prints any mismatch with
the seconds and the ratio ours / DuckDB per KPI and in total. Money (T6.01) and fte x days
(T5.01) are compared within `RTOL`; internal columns of ours (T6.01's persons_behind) are not
compared.

Timing: DuckDB reads the Parquet files inside each query (its time includes the reading);
ours is timed on the model already loaded, as the pipeline loads it once for all KPIs
(`Model.load` is printed separately).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from etl.core.periods import Period, reporting_periods  # noqa: E402
from etl.kpi import compute_kpis  # noqa: E402
from etl.model import Model  # noqa: E402

KPIS = ("T1.01", "T2.04", "T3.01", "T4.01", "T5.01", "T6.01")
KEY = ["kpi_id", "measure", "period_type", "period", "period_start", "period_end",
       "org_level", "org_key", "dimension", "dimension_value"]
FIGURES = ["value", "numerator", "denominator"]
#: Relative tolerance for sums of non-integral numbers (fte x days, kroner), whose order of
#: summation differs between the engines; counts and day sums must be identical.
RTOL = 1e-9

RESIDENTIAL = ("Midlertidigt botilbud §107", "Længerevarende botilbud §108", "Krisecenter §109",
               "Herberg §110", "Forsorgshjem §110")
SICKNESS = ("Egen sygdom", "Arbejdsskade")
AGE_GROUPS = (("0-5", 0), ("6-11", 6), ("12-17", 12), ("18-22", 18), ("23-29", 23), ("30-49", 30),
              ("50-64", 50), ("65+", 65))
LEVELS = (("area", "org_area"), ("center", "org_center"), ("unit", "org_unit"))
BREAKDOWNS = {"T1.01": ("area", "age_group", "gender", "target_group", "bydel"),
              "T2.04": ("facility_type",), "T3.01": ("service_code",), "T4.01": ("next_step",),
              "T5.01": ("job_category",), "T6.01": ("kategori", "foranstaltningstype", "function")}


def _quote(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def _in_list(values: tuple[str, ...]) -> str:
    return "(" + ", ".join(_quote(v) for v in values) + ")"


def _periods_sql(periods: list[Period]) -> str:
    rows = ", ".join(f"({_quote(p.kind)}, {_quote(p.label)}, DATE '{p.start}', DATE '{p.end}')" for p in periods)
    return f"periods(period_type, period, pstart, pend) AS (VALUES {rows})"


def _org_sql(model_dir: Path) -> str:
    """The organisation on each period's end: the unit code's row valid on that date (the
    last one in the reference when several are); a code with none is Ukendt."""
    return f"""org AS (
        SELECT p.period_type, p.pstart, p.pend, o.unit_code, o.unit, o.center, o.area
        FROM periods p JOIN read_parquet('{model_dir}/dim_org.parquet', file_row_number = true) o
          ON o.valid_from <= p.pend AND (o.valid_to IS NULL OR o.valid_to >= p.pend)
        QUALIFY row_number() OVER (PARTITION BY p.period_type, p.pstart, p.pend, o.unit_code
                                   ORDER BY o.file_row_number DESC) = 1)"""


def _grouped(members: str, breakdowns: tuple[str, ...], aggregates: str) -> str:
    """Aggregate `members` per period x org level x org key x (total, each breakdown):
    one grouping set each, as the catalogue's org levels and breakdowns are reported."""
    period = "period_type, period, pstart, pend"
    sets = []
    for level in (None, *[column for _, column in LEVELS]):
        for dimension in (None, *breakdowns):
            sets.append("(" + ", ".join([period] + [c for c in (level, dimension) if c]) + ")")
    level_case = " ".join(f"WHEN grouping({c}) = 0 THEN '{name}'" for name, c in LEVELS)
    key_case = " ".join(f"WHEN grouping({c}) = 0 THEN {c}" for _, c in LEVELS)
    dim_case = " ".join(f"WHEN grouping({d}) = 0 THEN '{d}'" for d in breakdowns)
    value_case = " ".join(f"WHEN grouping({d}) = 0 THEN {d}" for d in breakdowns)
    dimension = f"CASE {dim_case} END" if breakdowns else "NULL"
    dimension_value = f"CASE {value_case} END" if breakdowns else "NULL"
    return f"""SELECT {period},
        CASE {level_case} ELSE 'sof' END AS org_level,
        CASE {key_case} ELSE 'SOF' END AS org_key,
        {dimension} AS dimension, {dimension_value} AS dimension_value, {aggregates}
      FROM {members} GROUP BY GROUPING SETS ({", ".join(sets)})"""


def _share_of_sums(numerator: str, denominator: str) -> str:
    """The `share` rows of the `sums` CTE: numerator / denominator (NULL on 0), both stored."""
    return f"""SELECT * EXCLUDE ({numerator}, {denominator}), 'share' AS measure,
           CASE WHEN {denominator} <> 0 THEN {numerator} / {denominator} END AS value,
           {numerator} AS numerator, {denominator} AS denominator
    FROM sums"""


def t1_01_sql(model_dir: Path, periods: list[Period]) -> str:
    """Distinct citizens with a service/measure or a §107-§110 stay active on E; org from
    each active row's unit on E (area: the system's area); target groups: every target
    group of the citizen's active services' cases (Ukendt with stays only); age on E."""
    age_case = " ".join(f"WHEN age >= {low} THEN '{label}'" for label, low in reversed(AGE_GROUPS))
    return f"""WITH {_periods_sql([p for p in periods if p.kind == 'quarter'])},
    {_org_sql(model_dir)},
    interventions AS (
        SELECT citizen_key, 'service' AS kind, unit_code, area, target_group,
               start_date::DATE AS s, end_date::DATE AS e
        FROM read_parquet('{model_dir}/fact_service.parquet')
        UNION ALL
        SELECT citizen_key, 'stay', unit_code, area, NULL, check_in::DATE, check_out::DATE
        FROM read_parquet('{model_dir}/fact_stay.parquet')
        WHERE citizen_key IS NOT NULL AND facility_type IN {_in_list(RESIDENTIAL)}),
    active AS (
        SELECT p.*, i.* FROM periods p JOIN interventions i
          ON i.s <= p.pend AND (i.e IS NULL OR i.e >= p.pend)),
    groups AS (
        SELECT DISTINCT period_type, pstart, pend, citizen_key, target_group FROM active WHERE kind = 'service'),
    joined AS (
        SELECT a.*, o.center, o.unit, g.target_group AS citizen_target_group, c.gender, c.bydel,
               year(a.pend) - year(c.birth_date)
                 - CASE WHEN month(c.birth_date) * 100 + day(c.birth_date) > month(a.pend) * 100 + day(a.pend)
                        THEN 1 ELSE 0 END AS age
        FROM active a
        LEFT JOIN org o USING (period_type, pstart, pend, unit_code)
        LEFT JOIN groups g USING (period_type, pstart, pend, citizen_key)
        LEFT JOIN read_parquet('{model_dir}/dim_citizen.parquet') c USING (citizen_key)),
    members AS (
        SELECT period_type, period, pstart, pend, citizen_key,
               coalesce(area, 'Ukendt') AS org_area, coalesce(center, 'Ukendt') AS org_center,
               coalesce(unit, 'Ukendt') AS org_unit, coalesce(area, 'Ukendt') AS area,
               coalesce(citizen_target_group, 'Ukendt') AS target_group,
               coalesce(gender, 'Ukendt') AS gender, coalesce(bydel, 'Ukendt') AS bydel,
               CASE {age_case} ELSE 'Ukendt' END AS age_group
        FROM joined)
    {_grouped('members', BREAKDOWNS['T1.01'], 'count(DISTINCT citizen_key)::DOUBLE AS value')}"""


def t2_04_sql(model_dir: Path, periods: list[Period]) -> str:
    """Occupied / available bed-nights in [S, E] per facility type, org from the facility's unit."""
    return f"""WITH {_periods_sql(periods)},
    {_org_sql(model_dir)},
    facilities AS (SELECT * FROM read_parquet('{model_dir}/dim_facility.parquet')),
    occupied AS (
        SELECT p.*, f.facility_type, f.unit_code,
               least(coalesce(s.check_out::DATE, p.pend + 1), p.pend + 1) - greatest(s.check_in::DATE, p.pstart)
                 AS occupied, 0 AS capacity
        FROM read_parquet('{model_dir}/fact_stay.parquet') s
        JOIN facilities f USING (facility_id), periods p
        WHERE s.check_out IS NULL OR s.check_out::DATE >= s.check_in::DATE),
    capacity AS (
        SELECT p.*, f.facility_type, f.unit_code, 0 AS occupied,
               f.places * greatest(least(coalesce(f.active_to::DATE, p.pend), p.pend)
                                   - greatest(f.active_from::DATE, p.pstart) + 1, 0) AS capacity
        FROM facilities f, periods p),
    members AS (
        SELECT c.* REPLACE (coalesce(c.facility_type, 'Ukendt') AS facility_type),
               coalesce(o.area, 'Ukendt') AS org_area, coalesce(o.center, 'Ukendt') AS org_center,
               coalesce(o.unit, 'Ukendt') AS org_unit
        FROM (SELECT * FROM occupied WHERE occupied > 0 UNION ALL SELECT * FROM capacity WHERE capacity > 0) c
        LEFT JOIN org o USING (period_type, pstart, pend, unit_code)),
    sums AS ({_grouped('members', BREAKDOWNS['T2.04'],
                       'sum(occupied)::DOUBLE AS occupied, sum(capacity)::DOUBLE AS capacity')})
    {_share_of_sums('occupied', 'capacity')}"""


def t5_01_sql(model_dir: Path, periods: list[Period]) -> str:
    """Sickness days per average FTE, annualised, short/long absence days and the employees
    behind each; org and
    job category from the employee, org resolved on E."""
    return f"""WITH {_periods_sql(periods)},
    {_org_sql(model_dir)},
    employees AS (SELECT * FROM read_parquet('{model_dir}/dim_employee.parquet')),
    absences AS (
        SELECT p.*, a.employee_key,
               least(coalesce(a.to_date::DATE, p.pend), p.pend) - greatest(a.from_date::DATE, p.pstart) + 1 AS days_in,
               coalesce(a.to_date::DATE, p.pend) - a.from_date::DATE + 1 >= 15 AS is_long
        FROM read_parquet('{model_dir}/fact_absence.parquet') a, periods p
        WHERE a.absence_type IN {_in_list(SICKNESS)}
          AND (a.to_date IS NULL OR a.to_date::DATE >= a.from_date::DATE)),
    contributions AS (
        SELECT period_type, period, pstart, pend, employee_key, days_in AS absence_days,
               CASE WHEN is_long THEN 0 ELSE days_in END AS short_days,
               CASE WHEN is_long THEN days_in ELSE 0 END AS long_days, 0.0::DOUBLE AS fte_days
        FROM absences WHERE days_in > 0
        UNION ALL
        SELECT p.*, e.employee_key, 0, 0, 0, coalesce(e.fte, 0) * d.days
        FROM employees e, periods p,
             LATERAL (SELECT least(coalesce(e.left_date::DATE, p.pend), p.pend)
                             - greatest(e.hired_date::DATE, p.pstart) + 1 AS days) d
        WHERE d.days > 0),
    members AS (
        SELECT c.*, coalesce(e.job_category, 'Ukendt') AS job_category,
               coalesce(o.area, 'Ukendt') AS org_area, coalesce(o.center, 'Ukendt') AS org_center,
               coalesce(o.unit, 'Ukendt') AS org_unit
        FROM contributions c LEFT JOIN employees e USING (employee_key)
        LEFT JOIN org o ON o.period_type = c.period_type AND o.pstart = c.pstart AND o.pend = c.pend
                       AND o.unit_code = e.unit_code),
    sums AS ({_grouped('members', BREAKDOWNS['T5.01'],
                       'sum(absence_days)::DOUBLE AS absence_days, sum(short_days)::DOUBLE AS short_days, '
                       'sum(long_days)::DOUBLE AS long_days, sum(fte_days)::DOUBLE AS fte_days, '
                       'count(DISTINCT CASE WHEN short_days > 0 THEN employee_key END)::DOUBLE AS short_persons, '
                       'count(DISTINCT CASE WHEN long_days > 0 THEN employee_key END)::DOUBLE AS long_persons')}),
    rated AS (SELECT *, pend - pstart + 1 AS n_days, fte_days / (pend - pstart + 1) AS average_fte FROM sums)
    SELECT rated.* EXCLUDE (absence_days, short_days, long_days, fte_days, n_days, average_fte, short_persons,
                            long_persons), m.*
    FROM rated, LATERAL (
        SELECT 'per_fte' AS measure,
               CASE WHEN average_fte <> 0 THEN absence_days / average_fte * 365 / n_days END AS value,
               absence_days AS numerator, average_fte AS denominator
        UNION ALL SELECT 'short_days', short_days, NULL, NULL
        UNION ALL SELECT 'long_days', long_days, NULL, NULL
        UNION ALL SELECT 'short_persons', short_persons, NULL, NULL
        UNION ALL SELECT 'long_persons', long_persons, NULL, NULL) m"""


def _role_codes(model_dir: Path, kind: str, *roles: str) -> str:
    """The codes (service codes or facility types) of `roles` in the model's ref_role, as a subquery."""
    return (f"(SELECT code FROM read_parquet('{model_dir}/ref_role.parquet') "
            f"WHERE kind = {_quote(kind)} AND role IN {_in_list(roles)})")


def _extraction_date(model_dir: Path) -> dt.date:
    return dt.date.fromisoformat(json.loads((model_dir / "model.json").read_text())["extraction_date"])


def t3_01_sql(model_dir: Path, periods: list[Period]) -> str:
    """Decisions in [S, E] with an application date, a deadline for their (mapped) service
    code and no decision before the application: the share decided within the deadline;
    org from the decision's case unit on E, area the system's."""
    return f"""WITH {_periods_sql(periods)},
    {_org_sql(model_dir)},
    decisions AS (
        SELECT p.*, d.decision_key, d.unit_code, d.area, d.service_code,
               (d.decision_date::DATE - d.application_date::DATE <= r.deadline_days)::INT AS on_time
        FROM read_parquet('{model_dir}/fact_decision.parquet') d
        JOIN read_parquet('{model_dir}/ref_deadline.parquet') r USING (service_code)
        JOIN periods p ON d.decision_date::DATE BETWEEN p.pstart AND p.pend
        WHERE d.application_date IS NOT NULL AND d.decision_date::DATE >= d.application_date::DATE),
    members AS (
        SELECT d.period_type, d.period, d.pstart, d.pend, d.decision_key, d.on_time, d.service_code,
               coalesce(d.area, 'Ukendt') AS org_area, coalesce(o.center, 'Ukendt') AS org_center,
               coalesce(o.unit, 'Ukendt') AS org_unit
        FROM decisions d LEFT JOIN org o USING (period_type, pstart, pend, unit_code)),
    sums AS ({_grouped('members', BREAKDOWNS['T3.01'],
                       'sum(on_time)::DOUBLE AS on_time, count(*)::DOUBLE AS decisions')})
    {_share_of_sums('on_time', 'decisions')}"""


def t4_01_sql(model_dir: Path, periods: list[Period]) -> str:
    """Persons checked out of a shelter in [S, E] (count), and the share of them whose
    earliest next step (§107, §108, Egen bolig; ties in that order) falls 0-90 days after
    one of those check-outs; org from each shelter left, resolved on E; the share only
    once E + 90 days <= the extraction date (else NULL, no next_step rows)."""
    # Readings where the catalogue is silent (as ours): a person's first step is taken over all
    # their check-outs in the period and counted in every unit they left; area is the stay's
    # (its facility unit's, as T1.01); a shelter stay checked out before its check-in (DQ06)
    # still counts, the definition excluding only anonymous ones.
    return f"""WITH {_periods_sql(periods)},
    {_org_sql(model_dir)},
    stays AS (
        SELECT citizen_key, facility_type, unit_code, area, discharged_to,
               check_in::DATE AS ci, check_out::DATE AS co
        FROM read_parquet('{model_dir}/fact_stay.parquet') WHERE citizen_key IS NOT NULL),
    leavers AS (
        SELECT p.*, s.citizen_key, s.co, s.unit_code, s.area
        FROM stays s JOIN periods p ON s.co BETWEEN p.pstart AND p.pend
        WHERE s.facility_type IN {_role_codes(model_dir, 'facility', 'shelter')}),
    steps AS (
        SELECT citizen_key, start_date::DATE AS day, 1 AS step
        FROM read_parquet('{model_dir}/fact_service.parquet')
        WHERE service_code IN {_role_codes(model_dir, 'service', 'temporary_housing')}
        UNION ALL
        SELECT citizen_key, ci, 1 FROM stays
        WHERE facility_type IN {_role_codes(model_dir, 'facility', 'temporary_housing')}
        UNION ALL
        SELECT citizen_key, start_date::DATE, 2 FROM read_parquet('{model_dir}/fact_service.parquet')
        WHERE service_code IN {_role_codes(model_dir, 'service', 'long_term_housing')}
        UNION ALL
        SELECT citizen_key, ci, 2 FROM stays
        WHERE facility_type IN {_role_codes(model_dir, 'facility', 'long_term_housing')}
        UNION ALL
        SELECT citizen_key, co, 3 FROM stays
        WHERE discharged_to = 'Egen bolig' AND facility_type IN {_role_codes(
            model_dir, 'facility', 'temporary_housing', 'long_term_housing', 'crisis_centre', 'shelter')}),
    first_steps AS (
        SELECT l.period_type, l.pstart, l.pend, l.citizen_key,
               CASE s.step WHEN 1 THEN '§107' WHEN 2 THEN '§108' ELSE 'Egen bolig' END AS next_step
        FROM leavers l JOIN steps s ON s.citizen_key = l.citizen_key AND s.day BETWEEN l.co AND l.co + 90
        QUALIFY row_number() OVER (PARTITION BY l.period_type, l.pstart, l.pend, l.citizen_key
                                   ORDER BY s.day, s.step) = 1),
    members AS (
        SELECT l.period_type, l.period, l.pstart, l.pend, l.citizen_key, f.next_step,
               coalesce(l.area, 'Ukendt') AS org_area, coalesce(o.center, 'Ukendt') AS org_center,
               coalesce(o.unit, 'Ukendt') AS org_unit
        FROM leavers l
        LEFT JOIN first_steps f USING (period_type, pstart, pend, citizen_key)
        LEFT JOIN org o USING (period_type, pstart, pend, unit_code)),
    sums AS ({_grouped('members', BREAKDOWNS['T4.01'],
                       'count(DISTINCT citizen_key)::DOUBLE AS persons, '
                       'count(DISTINCT CASE WHEN next_step IS NOT NULL THEN citizen_key END)::DOUBLE AS moved')}),
    shares AS (
        SELECT *, max(CASE WHEN dimension IS NULL THEN persons END)
                      OVER (PARTITION BY period_type, pstart, pend, org_level, org_key) AS all_persons,
               pend + 90 <= DATE '{_extraction_date(model_dir)}' AS known
        FROM sums WHERE dimension IS NULL OR dimension_value IS NOT NULL)
    SELECT * EXCLUDE (persons, moved, all_persons, known), 'count' AS measure, persons AS value,
           NULL::DOUBLE AS numerator, NULL::DOUBLE AS denominator
    FROM shares WHERE dimension IS NULL
    UNION ALL
    SELECT * EXCLUDE (persons, moved, all_persons, known), 'share',
           CASE WHEN known AND all_persons <> 0 THEN moved / all_persons END,
           CASE WHEN known THEN moved END, CASE WHEN known THEN all_persons END
    FROM shares WHERE known OR dimension IS NULL"""


def t6_01_sql(model_dir: Path, periods: list[Period]) -> str:
    """Expense (art 4.*), revenue (minus 7.*, 8.*) and net booked in [S, E] (DQ18 copies
    left out), against the budget of the period's months (Korrigeret where any, else
    Oprindeligt; E's month pro rata by days); prior_year: net of postings for an earlier
    year. Org from the finance unit on E; kategori and function from ref_account by the
    function; foranstaltningstype from the linked measure, else the function (no budget)."""
    return f"""WITH {_periods_sql(periods)},
    {_org_sql(model_dir)},
    accounts AS (SELECT * FROM read_parquet('{model_dir}/ref_account.parquet')),
    booked AS (
        SELECT p.*, f.unit_code, f.funktion,
               CASE WHEN split_part(trim(f.art), '.', 1) = '4' THEN f.amount ELSE 0 END AS expense,
               CASE WHEN split_part(trim(f.art), '.', 1) IN ('7', '8') THEN -f.amount ELSE 0 END AS revenue,
               coalesce(f.period_to::DATE < make_date(year(p.pend), 1, 1), false) AS prior,
               -- a measure whose type is Ukendt (not on its list, DQ20) has no known type: the
               -- function's then (the catalogue's "the linked measure's type, else the function's"
               -- does not say; read as ours reads it)
               coalesce(nullif(m.service_type, 'Ukendt'), a.foranstaltningstype, 'Ukendt') AS foranstaltningstype
        FROM read_parquet('{model_dir}/fact_posting.parquet') f
        JOIN periods p ON f.booked_date::DATE BETWEEN p.pstart AND p.pend
        LEFT JOIN read_parquet('{model_dir}/dim_measure_link.parquet') m USING (service_key)
        LEFT JOIN accounts a USING (funktion)
        WHERE split_part(trim(f.art), '.', 1) IN ('4', '7', '8') AND NOT coalesce(f.duplicate, false)),
    postings AS (  -- summed per finance unit, function, type and prior year before the grouping sets
        SELECT period_type, period, pstart, pend, unit_code, funktion, sum(expense) AS expense,
               sum(revenue) AS revenue, prior, foranstaltningstype, 0.0::DOUBLE AS budget
        FROM booked GROUP BY period_type, period, pstart, pend, unit_code, funktion, prior, foranstaltningstype),
    lines AS (
        SELECT *, make_date(year, month, 1) AS mstart FROM read_parquet('{model_dir}/fact_budget.parquet')
        QUALIFY version = CASE WHEN bool_or(version = 'Korrigeret')
                                    OVER (PARTITION BY year, month, funktion, unit_code)
                               THEN 'Korrigeret' ELSE 'Oprindeligt' END),
    budgets AS (
        SELECT p.*, b.unit_code, b.funktion, 0.0::DOUBLE, 0.0::DOUBLE, false, NULL::VARCHAR,
               b.amount * (least(p.pend, last_day(b.mstart)) - greatest(p.pstart, b.mstart) + 1)
                 / day(last_day(b.mstart)) AS budget
        FROM lines b JOIN periods p ON b.mstart <= p.pend AND last_day(b.mstart) >= p.pstart),
    members AS (
        SELECT m.* EXCLUDE (unit_code, funktion), coalesce(a.funktion, 'Ukendt') AS function,
               coalesce(a.kategori, 'Ukendt') AS kategori,
               coalesce(o.area, 'Ukendt') AS org_area, coalesce(o.center, 'Ukendt') AS org_center,
               coalesce(o.unit, 'Ukendt') AS org_unit
        FROM (SELECT * FROM postings UNION ALL SELECT * FROM budgets) m
        LEFT JOIN accounts a USING (funktion)
        LEFT JOIN org o USING (period_type, pstart, pend, unit_code)),
    sums AS ({_grouped('members', BREAKDOWNS['T6.01'],
                       'sum(expense)::DOUBLE AS expense, sum(revenue)::DOUBLE AS revenue, '
                       'sum(budget)::DOUBLE AS budget, '
                       'sum(CASE WHEN prior THEN expense - revenue ELSE 0 END)::DOUBLE AS prior_year')}),
    money AS (
        SELECT * EXCLUDE (budget), expense - revenue AS net,
               CASE WHEN dimension IS DISTINCT FROM 'foranstaltningstype' THEN budget END AS budget
        FROM sums WHERE dimension IS DISTINCT FROM 'foranstaltningstype' OR dimension_value IS NOT NULL)
    SELECT money.* EXCLUDE (expense, revenue, net, budget, prior_year), m.*
    FROM money, LATERAL (
        SELECT 'expense' AS measure, expense AS value, NULL::DOUBLE AS numerator, NULL::DOUBLE AS denominator
        UNION ALL SELECT 'revenue', revenue, NULL, NULL
        UNION ALL SELECT 'net', net, NULL, NULL
        UNION ALL SELECT 'budget', budget, NULL, NULL
        UNION ALL SELECT 'deviation', net - budget, NULL, NULL
        -- a foranstaltningstype row has no budget: no value and no denominator, its numerator
        -- net kept ("share_of_budget ... NULL" read as ours reads it: the value NULL)
        UNION ALL SELECT 'share_of_budget', CASE WHEN budget <> 0 THEN net / budget END, net, budget
        UNION ALL SELECT 'prior_year', prior_year, NULL, NULL) m"""


SQL = {"T1.01": t1_01_sql, "T2.04": t2_04_sql, "T3.01": t3_01_sql, "T4.01": t4_01_sql,
       "T5.01": t5_01_sql, "T6.01": t6_01_sql}


def _empty_total(kpi_id: str, known: bool = True) -> list[dict]:
    """The figures of a period without members: the SOF total is always reported (T4.01's
    share NULL, not 0/0, while `known` is false: E + 90 days after the extraction date)."""
    empty_share = {"measure": "share", "value": np.nan, "numerator": 0.0, "denominator": 0.0}
    if kpi_id == "T1.01":
        return [{"measure": "count", "value": 0.0}]
    if kpi_id in ("T2.04", "T3.01"):
        return [empty_share]
    if kpi_id == "T4.01":
        return [{"measure": "count", "value": 0.0}, empty_share if known else {"measure": "share"}]
    if kpi_id == "T6.01":
        return [{"measure": measure, "value": 0.0} for measure in
                ("expense", "revenue", "net", "budget", "deviation", "prior_year")] + [
            {**empty_share, "measure": "share_of_budget"}]
    return [{"measure": "per_fte", "value": np.nan, "numerator": 0.0, "denominator": 0.0},
            {"measure": "short_days", "value": 0.0}, {"measure": "long_days", "value": 0.0},
            {"measure": "short_persons", "value": 0.0}, {"measure": "long_persons", "value": 0.0}]


def reference(con: duckdb.DuckDBPyConnection, kpi_id: str, model_dir: Path, periods: list[Period]) -> pd.DataFrame:
    """One KPI for all its periods from DuckDB, in the key and figure columns of `KEY` + `FIGURES`."""
    applies = [p for p in periods if kpi_id != "T1.01" or p.kind == "quarter"]
    rows = con.execute(SQL[kpi_id](model_dir, applies)).df()
    if "measure" not in rows:
        rows["measure"] = "count"
    for column in FIGURES:
        if column not in rows:
            rows[column] = np.nan
    rows = rows.rename(columns={"pstart": "period_start", "pend": "period_end"}).assign(kpi_id=kpi_id)
    totals = rows[(rows["org_level"] == "sof") & rows["dimension"].isna()]
    missing = [p for p in applies if not ((totals["period_type"] == p.kind) & (totals["period"] == p.label)).any()]
    fill = [{"kpi_id": kpi_id, "period_type": p.kind, "period": p.label, "period_start": p.start,
             "period_end": p.end, "org_level": "sof", "org_key": "SOF", "dimension": None,
             "dimension_value": None, **figures} for p in missing
            for figures in _empty_total(kpi_id, p.end + dt.timedelta(days=90) <= _extraction_date(model_dir))]
    if fill:
        rows = pd.concat([rows, pd.DataFrame(fill)], ignore_index=True)
    return _normalised(rows)


def ours(model, kpi_id: str, periods: list[Period]) -> pd.DataFrame:
    """Our implementation of one KPI for all its periods, as the pipeline computes it
    (`etl.kpi.compute_kpis`: periods spread over worker processes, one per usable core)."""
    return _normalised(compute_kpis(model, periods, kpi_ids=[kpi_id]))


def _normalised(rows: pd.DataFrame) -> pd.DataFrame:
    out = pd.DataFrame({column: rows[column].astype(object).where(rows[column].notna(), None).astype(str)
                        for column in KEY if column not in ("period_start", "period_end")})
    for column in ("period_start", "period_end"):
        out[column] = pd.to_datetime(rows[column]).dt.strftime("%Y-%m-%d")
    for column in FIGURES:
        out[column] = pd.to_numeric(rows[column], errors="coerce").astype(float)
    return out[KEY + FIGURES].sort_values(KEY).reset_index(drop=True)


def compare(expected: pd.DataFrame, actual: pd.DataFrame) -> pd.DataFrame:
    """Rows present on one side only, or whose value, numerator or denominator differ
    (NULL equals NULL; `RTOL` relative, for float sums in a different order)."""
    merged = expected.merge(actual, on=KEY, how="outer", suffixes=("_duckdb", "_ours"), indicator=True)
    bad = merged["_merge"] != "both"
    for column in FIGURES:
        a, b = merged[f"{column}_duckdb"], merged[f"{column}_ours"]
        both_null = a.isna() & b.isna()
        close = np.isclose(a.fillna(0), b.fillna(0), rtol=RTOL, atol=0) & (a.isna() == b.isna())
        bad |= ~(both_null | close)
    return merged[bad]


def _load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data-dir", type=Path, required=True)
    parser.add_argument("--history-quarters", type=int, default=4, help="as compute_kpis (default 4)")
    parser.add_argument("--threads", type=int, default=None, help="DuckDB threads (default: all cores)")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)

    model_dir = (args.data_dir / "model").resolve()
    started = time.perf_counter()
    model = Model.load(model_dir)
    load_s = time.perf_counter() - started
    periods = reporting_periods(model.extraction_date, args.history_quarters)
    con = duckdb.connect()
    if args.threads:
        con.execute(f"SET threads = {args.threads}")
    threads = con.execute("SELECT current_setting('threads')").fetchone()[0]
    print(f"model {model_dir} (extraction date {model.extraction_date}), {len(periods)} periods, "
          f"Model.load {load_s:.2f} s, DuckDB {duckdb.__version__} with {threads} threads, "
          f"load average {_load_average()}")
    print(f"{'KPI':<6} {'rows':>7} {'DuckDB s':>9} {'ours s':>8} {'ours/DuckDB':>12} {'mismatches':>11}")
    results, total_ref, total_ours, all_bad = [], 0.0, 0.0, []
    for kpi_id in KPIS:
        t0 = time.perf_counter()
        expected = reference(con, kpi_id, model_dir, periods)
        t1 = time.perf_counter()
        actual = ours(model, kpi_id, periods)
        t2 = time.perf_counter()
        bad = compare(expected, actual)
        all_bad.append(bad)
        ref_s, ours_s = t1 - t0, t2 - t1
        total_ref, total_ours = total_ref + ref_s, total_ours + ours_s
        print(f"{kpi_id:<6} {len(expected):>7} {ref_s:>9.2f} {ours_s:>8.2f} {ours_s / ref_s:>11.1f}× {len(bad):>11}")
        results.append({"kpi_id": kpi_id, "rows": len(expected), "duckdb_s": round(ref_s, 3),
                        "ours_s": round(ours_s, 3), "ratio": round(ours_s / ref_s, 2), "mismatches": len(bad)})
    print(f"{'total':<6} {'':>7} {total_ref:>9.2f} {total_ours:>8.2f} {total_ours / total_ref:>11.1f}×"
          f"   load average {_load_average()}")
    bad = pd.concat(all_bad, ignore_index=True)
    if len(bad):
        with pd.option_context("display.width", 250, "display.max_columns", 30, "display.max_rows", 60):
            print(bad.drop(columns="_merge").head(60))
    if args.json:
        args.json.write_text(json.dumps({
            "model_dir": str(model_dir), "periods": len(periods), "duckdb": duckdb.__version__,
            "threads": threads, "model_load_s": round(load_s, 3), "kpis": results,
            "total": {"duckdb_s": round(total_ref, 3), "ours_s": round(total_ours, 3),
                      "ratio": round(total_ours / total_ref, 2)},
            "load_average": os.getloadavg(), "date": dt.datetime.now().isoformat(timespec="seconds")}, indent=2))
    return 1 if len(bad) else 0


if __name__ == "__main__":
    raise SystemExit(main())
