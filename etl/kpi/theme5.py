"""Theme 5 — SOF som arbejdsplads: sickness absence, turnover, recruitment and incidents."""

from __future__ import annotations

import pandas as pd

from etl.core.periods import Period
from etl.core.vocabulary import (
    LEAVE_REASONS_NOT_TURNOVER,
    LEAVE_REASONS_NOT_VOLUNTARY,
    RECRUITMENT_FAILED,
    RECRUITMENT_FILLED,
    SICKNESS_ABSENCE_TYPES,
)
from etl.kpi.aggregate import (
    count_rows,
    in_period,
    measure_rows,
    not_yet_available,
    ratio,
    share_rows,
    summarise,
    with_org,
)
from etl.kpi.catalog import CATALOG, kpi
from etl.model import Model

#: An absence of this many calendar days or more is long sickness absence.
LONG_ABSENCE_DAYS = 15
DAYS_PER_YEAR = 365


def _inclusive_days(first: pd.Series, last: pd.Series) -> pd.Series:
    """Calendar days from `first` to `last`, both included; 0 when `last` is before `first`."""
    return ((last - first).dt.days + 1).clip(lower=0)


@kpi("T5.01")
def sickness_absence(model: Model, period: Period) -> pd.DataFrame:
    """Sickness days per full-time employee (annualised) and days of short/long absence, with
    the number of employees behind each kind of days (public output blanks days that rest on
    fewer than the threshold of persons: etl.publish.suppression.PERSONS_BEHIND).

    Works per contribution rather than per day, so it stays one pass over the rows: an
    absence contributes its days inside the period and an employee fte x the days
    employed in the period; the average FTE is then the summed fte-days divided by the
    days in the period.
    """
    start, end = pd.Timestamp(period.start), pd.Timestamp(period.end)
    days_in_period = (end - start).days + 1

    absences = model.fact_absence
    absences = absences[absences["absence_type"].isin(SICKNESS_ABSENCE_TYPES)
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
    absence_days["short_person"] = absence_days["employee_key"].where(absence_days["short_days"] > 0)
    absence_days["long_person"] = absence_days["employee_key"].where(absence_days["long_days"] > 0)

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
                        long_days=("long_days", "sum"), fte_days=("fte_days", "sum"),
                        short_persons=("short_person", "nunique"), long_persons=("long_person", "nunique"))
    average_fte = summary["fte_days"] / days_in_period
    per_fte = ratio(summary["absence_days"], average_fte) * DAYS_PER_YEAR / days_in_period
    return pd.concat([
        measure_rows(summary, "per_fte", "per_fte", per_fte, summary["absence_days"], average_fte),
        measure_rows(summary, "short_days", "days", summary["short_days"]),
        measure_rows(summary, "long_days", "days", summary["long_days"]),
        measure_rows(summary, "short_persons", "count", summary["short_persons"]),
        measure_rows(summary, "long_persons", "count", summary["long_persons"]),
    ], ignore_index=True)


# --- T5.02-T5.05: turnover, recruitment and incidents ----------------------------

#: T5.05: a long absence must start 0..14 days after the incident.
INCIDENT_FOLLOW_UP_DAYS = 14


def _period_months(period: Period) -> pd.DataFrame:
    """The period's calendar months clipped to it: month label, first and last day, days."""
    start, end = pd.Timestamp(period.start), pd.Timestamp(period.end)
    firsts = pd.date_range(start.to_period("M").to_timestamp(), end, freq="MS")
    months = pd.DataFrame({"month": firsts.strftime("%Y-%m"),
                           "month_first": firsts.where(firsts > start, start),
                           "month_last": (firsts + pd.offsets.MonthEnd(0)).where(
                               firsts + pd.offsets.MonthEnd(0) < end, end)})
    return months.assign(month_days=(months["month_last"] - months["month_first"]).dt.days + 1)


@kpi("T5.02")
def staff_turnover(model: Model, period: Period) -> pd.DataFrame:
    """Leavers in the period / average headcount over the period's days.

    One contribution per employee and calendar month of the period: the days employed
    that month (hired_date <= day <= left_date, both included) and whether the employee
    left that month. The average headcount of a period (or of a month, for the `month`
    breakdown) is the employed days divided by its days. Leavers split by reason keep the
    org group's whole average headcount as denominator, so the reasons add up to the total.
    """
    start, end = pd.Timestamp(period.start), pd.Timestamp(period.end)
    days_in_period = (end - start).days + 1
    employees = model.dim_employee
    contributions = employees[["employee_key", "unit_code", "job_category", "hired_date", "left_date",
                               "leave_reason"]].merge(_period_months(period), how="cross")
    employed_days = _inclusive_days(contributions["hired_date"].clip(lower=contributions["month_first"]),
                                    contributions["left_date"].fillna(end).clip(upper=contributions["month_last"]))
    left = ((contributions["left_date"] >= contributions["month_first"])
            & (contributions["left_date"] <= contributions["month_last"]))
    reason = contributions["leave_reason"]
    contributions = contributions.assign(
        headcount_period=employed_days / days_in_period,
        headcount_month=employed_days / contributions["month_days"],
        leavers=(left & ~reason.isin(LEAVE_REASONS_NOT_TURNOVER)).astype(int),
        voluntary=(left & ~reason.isin(LEAVE_REASONS_NOT_VOLUNTARY)).astype(int),
        left=left)[(employed_days > 0) | left]
    members = with_org(contributions, model.dim_org, period.end, area_column=None)

    breakdowns = CATALOG["T5.02"].breakdowns
    partitions = tuple(b for b in breakdowns if b != "leave_reason")
    summary = summarise(members, partitions, leavers=("leavers", "sum"), voluntary=("voluntary", "sum"),
                        headcount_period=("headcount_period", "sum"), headcount_month=("headcount_month", "sum"))
    summary["headcount"] = summary["headcount_month"].where(summary["dimension"] == "month",
                                                           summary["headcount_period"])
    if "leave_reason" in breakdowns:
        by_reason = summarise(members[members["left"]], ("leave_reason",),
                              leavers=("leavers", "sum"), voluntary=("voluntary", "sum"))
        by_reason = by_reason[by_reason["dimension"].notna()]
        if not by_reason.empty:
            totals = summary.loc[summary["dimension"].isna(), ["org_level", "org_key", "headcount"]]
            summary = pd.concat([summary, by_reason.merge(totals, on=["org_level", "org_key"], how="left")],
                                ignore_index=True)
    return pd.concat([
        measure_rows(summary, measure, "share", ratio(summary[column], summary["headcount"]),
                     summary[column], summary["headcount"])
        for measure, column in (("share", "leavers"), ("share_voluntary", "voluntary"))
    ], ignore_index=True)


@kpi("T5.03")
def failed_recruitments(model: Model, period: Period) -> pd.DataFrame:
    """Recruitments closed in the period as Forgæves (count), and their share of those
    closed as Besat or Forgæves; Annulleret (or no result) is neither."""
    recruitments = model.fact_recruitment
    closed = recruitments[in_period(recruitments["closed_date"], period)]
    members = with_org(closed, model.dim_org, period.end, area_column=None).assign(
        failed=closed["result"].eq(RECRUITMENT_FAILED).fillna(False).to_numpy(),
        decided=closed["result"].isin([RECRUITMENT_FAILED, RECRUITMENT_FILLED]).to_numpy())
    breakdowns = CATALOG["T5.03"].breakdowns
    return pd.concat([
        count_rows(members[members["failed"]], "recruitment_id", breakdowns),
        share_rows(members, "recruitment_id", "failed", "decided", breakdowns),
    ], ignore_index=True)


@kpi("T5.04")
def violence_and_threats(model: Model, period: Period) -> pd.DataFrame:
    """Incidents registered with a date in the period; facility = the facility id (Ukendt when none)."""
    incidents = model.fact_incident
    incidents = incidents[in_period(incidents["incident_date"], period)]
    members = with_org(incidents.assign(facility=incidents["facility_id"]), model.dim_org, period.end,
                       area_column=None)
    return count_rows(members, "incident_id", CATALOG["T5.04"].breakdowns)


@kpi("T5.05")
def incidents_followed_by_long_absence(model: Model, period: Period) -> pd.DataFrame:
    """Share of the period's incidents with a known employee followed by a long sickness
    absence of that employee starting 0..14 days after the incident date.

    Long = the whole absence lasts >= 15 days (to_date - from_date + 1; an open absence by
    its length so far on the extraction date). An absence starting on day 14 shows whether
    it is long on its 15th day, so the share is not yet available until E + 28 days.
    """
    incidents = model.fact_incident
    incidents = incidents[in_period(incidents["incident_date"], period) & incidents["employee_key"].notna()]
    absences = model.fact_absence
    absences = absences[absences["absence_type"].isin(SICKNESS_ABSENCE_TYPES)
                        & ~(absences["to_date"] < absences["from_date"])]
    extraction = pd.Timestamp(model.extraction_date)
    whole_length = _inclusive_days(absences["from_date"], absences["to_date"].fillna(extraction))
    long_absences = absences.loc[whole_length >= LONG_ABSENCE_DAYS, ["employee_key", "from_date"]]
    pairs = incidents[["incident_id", "employee_key", "incident_date"]].merge(long_absences, on="employee_key")
    delay = (pairs["from_date"] - pairs["incident_date"]).dt.days
    followed = set(pairs.loc[(delay >= 0) & (delay <= INCIDENT_FOLLOW_UP_DAYS), "incident_id"])
    members = with_org(incidents, model.dim_org, period.end, area_column=None).assign(
        followed=incidents["incident_id"].isin(followed).to_numpy(), known=True)
    rows = share_rows(members, "incident_id", "followed", "known", CATALOG["T5.05"].breakdowns)
    # The last day that can settle an incident on E: an absence starting on day 14 reaches
    # its 15th day 28 days after E.
    settled = pd.Timestamp(period.end) + pd.Timedelta(days=INCIDENT_FOLLOW_UP_DAYS + LONG_ABSENCE_DAYS - 1)
    return rows if settled <= extraction else not_yet_available(rows)
