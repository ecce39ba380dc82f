"""Theme 2 — Indsatser og ydelser: the administration's production."""

from __future__ import annotations

import pandas as pd

from etl.core.periods import Period
from etl.core.roles import facility_group, facility_types
from etl.core.vocabulary import ANBRINGELSE, FOREBYGGENDE
from etl.kpi.aggregate import (
    active_on,
    age_at,
    count_rows,
    duration_rows,
    flag_label,
    in_period,
    measure_rows,
    ratio,
    summarise,
    summarise_org_level,
    with_org,
)
from etl.kpi.catalog import CATALOG, kpi
from etl.kpi.demographics import age_group, with_demographics
from etl.model import Model

ONE_DAY = pd.Timedelta(days=1)


def _days(first: pd.Series, last: pd.Series) -> pd.Series:
    """`last - first` in whole days on dates (timestamps are cut to their date), as floats;
    missing (NaN) where either date is missing or `last` is before `first` (contradictory)."""
    days = (last.dt.normalize() - first.dt.normalize()).dt.days.astype(float)
    return days.where(days >= 0)


def _with_age_group_on(members: pd.DataFrame, dim_citizen: pd.DataFrame, date_column: str) -> pd.DataFrame:
    """Add `age_group`: the citizen's age on the member's own `date_column` (flow KPIs)."""
    births = members[["citizen_key"]].merge(dim_citizen[["citizen_key", "birth_date"]], on="citizen_key",
                                             how="left")["birth_date"].set_axis(members.index)
    return members.assign(age_group=age_group(age_at(births, members[date_column].dt.normalize())))


def _counts_and_persons(members: pd.DataFrame, event: str, persons_measure: str,
                        breakdowns: tuple[str, ...]) -> pd.DataFrame:
    """`count` (distinct events) and distinct citizens (`persons_measure`) from one pass;
    members without a citizen count as events only."""
    summary = summarise(members, breakdowns, events=(event, "nunique"), persons=("citizen_key", "nunique"))
    return pd.concat([measure_rows(summary, "count", "count", summary["events"]),
                      measure_rows(summary, persons_measure, "count", summary["persons"])], ignore_index=True)


def _children_measures(services: pd.DataFrame, category: str) -> pd.DataFrame:
    return services[(services["source"] == "boern") & (services["category"] == category)]


@kpi("T2.01")
def decisions(model: Model, period: Period) -> pd.DataFrame:
    """Decisions dated in the period, both systems; every outcome is an event."""
    decided = model.fact_decision
    decided = decided[in_period(decided["decision_date"], period)]
    members = with_org(decided, model.dim_org, period.end)
    return count_rows(members, "decision_key", CATALOG["T2.01"].breakdowns)


@kpi("T2.02")
def active_services(model: Model, period: Period) -> pd.DataFrame:
    """Services (voksen) and measures (boern) active on E, by service code and area."""
    services = model.fact_service
    active = services[active_on(services["start_date"], services["end_date"], period.end)]
    members = with_org(active, model.dim_org, period.end)
    return count_rows(members, "service_key", CATALOG["T2.02"].breakdowns)


@kpi("T2.03")
def temporary_residence_stay_length(model: Model, period: Period) -> pd.DataFrame:
    """Stays at §107 facilities checked out in the period: count, mean and lower median days.

    A stay checked out before it was checked in (DQ06) is counted but has no duration.
    """
    stays = model.fact_stay
    ended = stays[stays["facility_type"].isin(facility_types(model.ref_role, "temporary_housing")) & in_period(stays["check_out"], period)]
    members = with_org(ended.assign(days=_days(ended["check_in"], ended["check_out"])),
                       model.dim_org, period.end)
    return duration_rows(members, "stay_key", "days", CATALOG["T2.03"].breakdowns,
                         CATALOG["T2.03"].measures)


@kpi("T2.04")
def occupancy(model: Model, period: Period) -> pd.DataFrame:
    """Occupied bed-nights / available bed-nights in the period, per facility type.

    A night belongs to the date it starts: a stay occupies its check-in date up to (not
    including) its check-out date, an open stay up to and including E, clipped to
    [S, E]. A facility offers `places` nights on each day it is active in [S, E],
    `active_from` and `active_to` included. Stays and facilities are contributions to one
    members frame, organised by the facility's unit, so numerator and denominator of
    every group come from the same facilities; a stay at a facility missing from
    `dim_facility` has no capacity to occupy and is left out (DQ08 reports the code).
    """
    start, end = pd.Timestamp(period.start), pd.Timestamp(period.end)
    facilities = model.dim_facility
    stays = model.fact_stay
    stays = stays[stays["facility_id"].isin(facilities["facility_id"])]  # no capacity, no occupancy
    check_in, check_out = stays["check_in"].dt.normalize(), stays["check_out"].dt.normalize()
    contradictory = check_out < check_in
    nights = (check_out.fillna(end + ONE_DAY).clip(upper=end + ONE_DAY) - check_in.clip(lower=start)).dt.days
    occupied = pd.DataFrame({"facility_type": stays["facility_type"], "unit_code": stays["unit_code"],
                             "occupied": nights.clip(lower=0).astype(float), "capacity": 0.0})
    occupied = occupied[~contradictory & (occupied["occupied"] > 0)]

    active_days = ((facilities["active_to"].fillna(end).clip(upper=end)
                    - facilities["active_from"].clip(lower=start)).dt.days + 1).clip(lower=0)
    capacity = pd.DataFrame({"facility_type": facilities["facility_type"], "unit_code": facilities["unit_code"],
                             "occupied": 0.0,
                             "capacity": (facilities["places"].astype(float) * active_days).fillna(0.0)})
    capacity = capacity[capacity["capacity"] > 0]

    members = with_org(pd.concat([occupied, capacity], ignore_index=True), model.dim_org, period.end,
                       area_column=None)
    summary = summarise(members, CATALOG["T2.04"].breakdowns,
                        occupied=("occupied", "sum"), capacity=("capacity", "sum"))
    return measure_rows(summary, "share", "share", ratio(summary["occupied"], summary["capacity"]),
                        summary["occupied"], summary["capacity"])


@kpi("T2.05")
def preventive_measures_started(model: Model, period: Period) -> pd.DataFrame:
    """Preventive (forebyggende) children's measures started in the period; age on the start date."""
    measures = _children_measures(model.fact_service, FOREBYGGENDE)
    started = measures[in_period(measures["start_date"], period)]
    members = _with_age_group_on(with_org(started, model.dim_org, period.end), model.dim_citizen, "start_date")
    return count_rows(members.assign(measure_type=members["service_type"]), "service_key",
                      CATALOG["T2.05"].breakdowns)


@kpi("T2.06")
def placed_children(model: Model, period: Period) -> pd.DataFrame:
    """Distinct children with an active placement (anbringelse) on E.

    One member row per active placement, so a child with two placement types counts
    under both types but once in the total.
    """
    status_date = period.end
    services = model.fact_service
    placements = services[(services["source"] == "boern") & (services["category"] == ANBRINGELSE)
                          & active_on(services["start_date"], services["end_date"], status_date)]
    members = with_demographics(with_org(placements, model.dim_org, status_date),
                                model.dim_citizen, status_date)
    members = members.rename(columns={"service_type": "placement_type"})
    return count_rows(members, "citizen_key", CATALOG["T2.06"].breakdowns)


@kpi("T2.07")
def new_placements(model: Model, period: Period) -> pd.DataFrame:
    """Placements started in the period for a child with no placement active the day before.

    A move between placements (one ends the day before or later than the next starts) is
    not a new placement. Placements are compared within the child (citizen) only.
    """
    placements = _children_measures(model.fact_service, ANBRINGELSE)
    started = placements[in_period(placements["start_date"], period)]
    earlier = started[["service_key", "citizen_key", "start_date"]].merge(
        placements[["citizen_key", "start_date", "end_date"]].rename(
            columns={"start_date": "start_date_other", "end_date": "end_date_other"}), on="citizen_key")
    day_before = earlier["start_date"] - ONE_DAY
    active_day_before = ((earlier["start_date_other"] <= day_before)
                         & (earlier["end_date_other"].isna() | (earlier["end_date_other"] >= day_before)))
    placed_day_before = earlier.loc[active_day_before, "service_key"]
    new = started[~started["service_key"].isin(placed_day_before)]
    members = _with_age_group_on(with_org(new, model.dim_org, period.end), model.dim_citizen, "start_date")
    return _counts_and_persons(members.assign(placement_type=members["service_type"]), "service_key", "children",
                               CATALOG["T2.07"].breakdowns)


@kpi("T2.08")
def placement_duration(model: Model, period: Period) -> pd.DataFrame:
    """Placements ended in the period: count; mean, lower median, min and max days."""
    placements = _children_measures(model.fact_service, ANBRINGELSE)
    ended = placements[in_period(placements["end_date"], period)]
    members = with_org(ended.assign(days=_days(ended["start_date"], ended["end_date"]),
                                    placement_type=ended["service_type"]), model.dim_org, period.end)
    return duration_rows(members, "service_key", "days", CATALOG["T2.08"].breakdowns,
                         CATALOG["T2.08"].measures)


def _open_cases(model: Model, period: Period) -> pd.DataFrame:
    cases = model.fact_case
    return cases[active_on(cases["opened_date"], cases["closed_date"], period.end)]


@kpi("T2.09")
def open_cases(model: Model, period: Period) -> pd.DataFrame:
    """Cases open on E: opened on or before E, not closed before E."""
    members = with_org(_open_cases(model, period), model.dim_org, period.end)
    return count_rows(members, "case_key", CATALOG["T2.09"].breakdowns)


@kpi("T2.10")
def cases_per_caseworker(model: Model, period: Period) -> pd.DataFrame:
    """Open cases with a caseworker / distinct caseworkers with one or more of them.

    A caseworker (system, id: `caseworker_key`) counts once in every unit, center and
    area they have open cases in and once in SOF; the org level `caseworker` gives each
    caseworker's own number of open cases (the distribution, internal output only).
    """
    cases = _open_cases(model, period)
    members = with_org(cases[cases["caseworker_key"].notna()], model.dim_org, period.end)
    aggregations = {"cases": ("case_key", "nunique"), "caseworkers": ("caseworker_key", "nunique")}
    summary = pd.concat([summarise(members, CATALOG["T2.10"].breakdowns, **aggregations),
                         summarise_org_level(members, "caseworker", "caseworker_key", **aggregations)],
                        ignore_index=True)
    return pd.concat([
        measure_rows(summary, "cases_per_caseworker", "per_caseworker",
                     ratio(summary["cases"], summary["caseworkers"]), summary["cases"], summary["caseworkers"]),
        measure_rows(summary, "cases", "count", summary["cases"]),
        measure_rows(summary, "caseworkers", "count", summary["caseworkers"]),
    ], ignore_index=True)


@kpi("T2.11")
def cases_created_and_closed(model: Model, period: Period) -> pd.DataFrame:
    """Cases created (opened_date) and closed (closed_date) in the period."""
    cases = model.fact_case
    created, closed = in_period(cases["opened_date"], period), in_period(cases["closed_date"], period)
    members = with_org(cases[created | closed].assign(
        _created=cases["case_key"].where(created), _closed=cases["case_key"].where(closed)),
        model.dim_org, period.end)
    summary = summarise(members, CATALOG["T2.11"].breakdowns,
                        created=("_created", "nunique"), closed=("_closed", "nunique"))
    return pd.concat([measure_rows(summary, "created", "count", summary["created"]),
                      measure_rows(summary, "closed", "count", summary["closed"])], ignore_index=True)


@kpi("T2.12")
def notifications(model: Model, period: Period) -> pd.DataFrame:
    """Notifications received in the period and the distinct children they concern.

    Every notification is an event (also one assessed before it was received); a
    notification without a known child counts in `count` but not in `children`.
    """
    received = model.fact_notification
    received = received[in_period(received["received_at"], period)]
    members = _with_age_group_on(with_org(received, model.dim_org, period.end), model.dim_citizen, "received_at")
    return _counts_and_persons(members.assign(acute=flag_label(members["acute"])), "notification_id", "children",
                               CATALOG["T2.12"].breakdowns)


@kpi("T2.13")
def persons_in_shelters(model: Model, period: Period) -> pd.DataFrame:
    """Distinct persons with a stay open on E at a krisecenter (§109), herberg or forsorgshjem
    (§110); an anonymous stay is one person of its own."""
    stays = model.fact_stay
    open_stays = stays[stays["facility_type"].isin(facility_group(model.ref_role, "shelters_and_crisis_centres"))
                       & active_on(stays["check_in"], stays["check_out"], period.end)]
    members = with_org(open_stays.assign(person=open_stays["citizen_key"].fillna("stay:" + open_stays["stay_key"])),
                       model.dim_org, period.end)
    return count_rows(members, "person", CATALOG["T2.13"].breakdowns)
