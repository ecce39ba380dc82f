"""Theme 5 — SOF som arbejdsplads: sickness absence and the workforce."""

from __future__ import annotations

import pandas as pd

from etl.kpi.aggregate import measure_rows, ratio, summarise, with_org
from etl.kpi.catalog import CATALOG, kpi
from etl.model import Model
from etl.periods import Period

SICKNESS_TYPES = ("Egen sygdom", "Arbejdsskade")
#: An absence of this many calendar days or more is long sickness absence.
LONG_ABSENCE_DAYS = 15
DAYS_PER_YEAR = 365


def _inclusive_days(first: pd.Series, last: pd.Series) -> pd.Series:
    """Calendar days from `first` to `last`, both included; 0 when `last` is before `first`."""
    return ((last - first).dt.days + 1).clip(lower=0)


@kpi("T5.01")
def sickness_absence(model: Model, period: Period) -> pd.DataFrame:
    """Sickness days per full-time employee (annualised) and days of short/long absence.

    Works per contribution rather than per day, so it stays one pass over the rows: an
    absence contributes its days inside the period and an employee fte x the days
    employed in the period; the average FTE is then the summed fte-days divided by the
    days in the period.
    """
    start, end = pd.Timestamp(period.start), pd.Timestamp(period.end)
    days_in_period = (end - start).days + 1

    absences = model.fact_absence
    absences = absences[absences["absence_type"].isin(SICKNESS_TYPES)
                        & ~(absences["to_date"] < absences["from_date"])]
    last_day = absences["to_date"].fillna(end)  # an open absence has lasted until E
    days_in = _inclusive_days(absences["from_date"].clip(lower=start), last_day.clip(upper=end))
    is_long = _inclusive_days(absences["from_date"], last_day) >= LONG_ABSENCE_DAYS
    absence_days = pd.DataFrame({
        "employee_key": absences["employee_key"],
        "absence_days": days_in,
        "short_days": days_in.where(~is_long, 0),
        "long_days": days_in.where(is_long, 0),
    })[days_in > 0]

    employees = model.dim_employee
    employed_days = _inclusive_days(employees["hired_date"].clip(lower=start),
                                    employees["left_date"].fillna(end).clip(upper=end))
    fte_days = pd.DataFrame({"employee_key": employees["employee_key"],
                             "fte_days": employees["fte"].astype(float) * employed_days})[employed_days > 0]

    contributions = (pd.concat([absence_days, fte_days], ignore_index=True)
                     .fillna(dict.fromkeys(["absence_days", "short_days", "long_days", "fte_days"], 0))
                     .merge(employees[["employee_key", "unit_code", "job_category"]],
                            on="employee_key", how="left"))
    members = with_org(contributions, model.dim_org, period.end, area_column=None)
    summary = summarise(members, CATALOG["T5.01"].breakdowns,
                        absence_days=("absence_days", "sum"), short_days=("short_days", "sum"),
                        long_days=("long_days", "sum"), fte_days=("fte_days", "sum"))
    average_fte = summary["fte_days"] / days_in_period
    per_fte = ratio(summary["absence_days"], average_fte) * DAYS_PER_YEAR / days_in_period
    return pd.concat([
        measure_rows(summary, "per_fte", "per_fte", per_fte, summary["absence_days"], average_fte),
        measure_rows(summary, "short_days", "days", summary["short_days"]),
        measure_rows(summary, "long_days", "days", summary["long_days"]),
    ], ignore_index=True)
