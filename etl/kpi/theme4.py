"""Theme 4 — Borgerens forløb: trajectories across systems.

These KPIs follow one citizen (the cross-system citizen_key) from one event to a later
one. Where the later event may still happen after the extraction date (a follow-up
window that has not passed), the share is reported as not yet available: value,
numerator and denominator NULL, never 0 (`aggregate.not_yet_available`).
"""

from __future__ import annotations

import datetime as dt

import pandas as pd

from etl.core.periods import Period, add_months, shift_years
from etl.core.roles import FACILITY, SERVICE, facility_group, facility_types, role_of, service_codes
from etl.core.vocabulary import ANBRINGELSE, AREA_ADULTS, IN_WORK_OR_EDUCATION, OWN_HOME
from etl.kpi.aggregate import (
    add_months_to,
    age_at,
    count_rows,
    in_period,
    not_yet_available,
    part_share_rows,
    share_rows,
    with_org,
)
from etl.kpi.catalog import CATALOG, kpi
from etl.kpi.theme1 import WORKING_AGE, intervention_rows
from etl.model import Model

#: T4.01's next steps, in the order that decides a tie on the same day.
NEXT_STEPS = ("§107", "§108", OWN_HOME)
NEXT_STEP_DAYS = 90
STAYED_MONTHS = 12
#: T4.01: the housing roles (service and facility alike) and the next step each is.
HOUSING_STEPS = {"temporary_housing": "§107", "long_term_housing": "§108"}
RETURN_DAYS, RETURN_YEARS = 365, 3


def _citizen_stays(model: Model, facility_types: tuple[str, ...]) -> pd.DataFrame:
    stays = model.fact_stay
    return stays[stays["facility_type"].isin(facility_types) & stays["citizen_key"].notna()]


def _days_between(first: pd.Series, later: pd.Series) -> pd.Series:
    """Whole days from the date of `first` to the date of `later` (times of day ignored)."""
    return (later.dt.normalize() - first.dt.normalize()).dt.days


# --- T4.01 Fra herberg til bolig ------------------------------------------------------

def _next_step_events(model: Model) -> pd.DataFrame:
    """Every event that is a next step after a shelter: citizen_key, date, next_step, rank.

    A service of a housing role starting (reference roles `temporary_housing` → §107,
    `long_term_housing` → §108) or a stay at a facility of those roles checked in, and any
    stay of a residential role (§107-§110) checked out to Egen bolig (the shelter stay itself too; natcaféer count in occupancy only, so a night there is no step).
    """
    services = model.fact_service
    roles = tuple(HOUSING_STEPS)
    housing = services[services["service_code"].isin(service_codes(model.ref_role, *roles))
                       & services["start_date"].notna()]
    housing_stays = _citizen_stays(model, facility_group(model.ref_role, "housing"))
    stays = _citizen_stays(model, facility_group(model.ref_role, "residential"))
    home = stays[stays["discharged_to"].eq(OWN_HOME).fillna(False) & stays["check_out"].notna()]
    events = pd.concat([
        pd.DataFrame({"citizen_key": housing["citizen_key"], "date": housing["start_date"],
                      "next_step": role_of(model.ref_role, SERVICE, housing["service_code"],
                                           roles).map(HOUSING_STEPS)}),
        pd.DataFrame({"citizen_key": housing_stays["citizen_key"], "date": housing_stays["check_in"],
                      "next_step": role_of(model.ref_role, FACILITY, housing_stays["facility_type"],
                                                       roles).map(HOUSING_STEPS)}),
        pd.DataFrame({"citizen_key": home["citizen_key"], "date": home["check_out"], "next_step": OWN_HOME}),
    ], ignore_index=True)
    return events.assign(date=events["date"].dt.normalize(),
                         rank=events["next_step"].map({step: i for i, step in enumerate(NEXT_STEPS)}))


@kpi("T4.01")
def from_shelter_to_housing(model: Model, period: Period) -> pd.DataFrame:
    """Persons checked out of a §110 stay in the period (count) and the share whose first
    next step within 0..90 days after a check-out is §107, §108 or Egen bolig.

    A person with several check-outs in the period counts once, by the earliest next step
    within 90 days of any of them, and in the unit of each shelter they left. The share
    is available once E + 90 days <= the extraction date.
    """
    shelter = _citizen_stays(model, facility_types(model.ref_role, "shelter"))
    exits = shelter[in_period(shelter["check_out"], period)]
    events = model.derived(("next_step_events",), lambda: _next_step_events(model))  # the same in every period
    pairs = exits[["citizen_key", "check_out"]].drop_duplicates().merge(events, on="citizen_key")
    after = _days_between(pairs["check_out"], pairs["date"])
    first_steps = (pairs[(after >= 0) & (after <= NEXT_STEP_DAYS)]
                   .sort_values(["citizen_key", "date", "rank"])
                   .drop_duplicates("citizen_key")[["citizen_key", "next_step"]])
    members = with_org(exits, model.dim_org, period.end).merge(first_steps, on="citizen_key", how="left")
    members = members.assign(moved_on=members["next_step"].notna())
    shares = part_share_rows(members, "citizen_key", "moved_on", CATALOG["T4.01"].breakdowns)
    settled = period.end + dt.timedelta(days=NEXT_STEP_DAYS) <= model.extraction_date
    return pd.concat([count_rows(members, "citizen_key", ()),
                      shares if settled else not_yet_available(shares)], ignore_index=True)


# --- T4.02 Fastholdt i egen bolig -----------------------------------------------------

@kpi("T4.02")
def kept_own_home(model: Model, period: Period) -> pd.DataFrame:
    """Of persons who left a §110 stay to Egen bolig in the same period one year earlier,
    the share with no §110 stay checked in during the 12 months after that check-out.

    A person counts once, by their first such check-out in that period, in the unit of
    that shelter. A return is another §110 stay checked in at or after the check-out time
    and on or before the check-out date + 12 months (same day-of-month rule). Available
    once the last cohort member's 12 months have passed by the extraction date.
    """
    cohort_period = period.last_year()
    shelter = _citizen_stays(model, facility_types(model.ref_role, "shelter"))
    cohort = (shelter[in_period(shelter["check_out"], cohort_period) & shelter["discharged_to"].eq(OWN_HOME).fillna(False)]
              .sort_values(["check_out", "stay_key"]).drop_duplicates("citizen_key"))
    returns = cohort[["citizen_key", "stay_key", "check_out"]].merge(
        shelter[["citizen_key", "stay_key", "check_in"]], on="citizen_key", suffixes=("", "_return"))
    deadline = add_months_to(returns["check_out"].dt.normalize(), STAYED_MONTHS)
    returned = returns[(returns["stay_key_return"] != returns["stay_key"])
                       & (returns["check_in"] >= returns["check_out"])
                       & (returns["check_in"].dt.normalize() <= deadline)]
    members = with_org(cohort, model.dim_org, period.end).assign(in_cohort=True)
    members = members.assign(kept=~members["citizen_key"].isin(returned["citizen_key"]))
    rows = share_rows(members, "citizen_key", "kept", "in_cohort", CATALOG["T4.02"].breakdowns)
    settled = add_months(cohort_period.end, STAYED_MONTHS) <= model.extraction_date
    return rows if settled else not_yet_available(rows)


# --- T4.03 Genindskrivning i rusmiddelbehandling --------------------------------------

@kpi("T4.03")
def treatment_restarted(model: Model, period: Period) -> pd.DataFrame:
    """Persons with a substance-abuse treatment (reference role `substance_treatment`) ended in the period: share who
    start another one 1..365 days after an end in the period (share_365), and within
    3 years of it (share_3y, same day-of-month rule).

    A treatment starting on the day another ended is a transfer, not a restart. Each
    share is available once its window has passed for E (E + 365 days, E + 3 years).
    """
    services = model.fact_service
    treatments = services[services["service_code"].isin(service_codes(model.ref_role, "substance_treatment"))]
    ended = treatments[in_period(treatments["end_date"], period)]
    pairs = ended[["citizen_key", "service_key", "end_date"]].merge(
        treatments[["citizen_key", "service_key", "start_date"]], on="citizen_key", suffixes=("", "_new"))
    pairs = pairs[(pairs["service_key_new"] != pairs["service_key"]) & (pairs["start_date"] > pairs["end_date"])]
    within_365 = _days_between(pairs["end_date"], pairs["start_date"]) <= RETURN_DAYS
    within_3y = pairs["start_date"] <= pairs["end_date"] + pd.DateOffset(years=RETURN_YEARS)
    members = with_org(ended, model.dim_org, period.end).assign(ended=True)
    members = members.assign(again_365=members["citizen_key"].isin(pairs.loc[within_365, "citizen_key"]),
                             again_3y=members["citizen_key"].isin(pairs.loc[within_3y, "citizen_key"]))
    breakdowns = CATALOG["T4.03"].breakdowns
    extraction = model.extraction_date
    share_365 = share_rows(members, "citizen_key", "again_365", "ended", breakdowns, measure="share_365")
    share_3y = share_rows(members, "citizen_key", "again_3y", "ended", breakdowns, measure="share_3y")
    return pd.concat([
        share_365 if period.end + dt.timedelta(days=RETURN_DAYS) <= extraction else not_yet_available(share_365),
        share_3y if shift_years(period.end, RETURN_YEARS) <= extraction else not_yet_available(share_3y),
    ], ignore_index=True)


# --- T4.04 Uddannelse og beskæftigelse ------------------------------------------------

def _employment_events(model: Model) -> pd.DataFrame:
    """T4.04's events of every month, before the intervention condition: transitions into
    work/education (from another status the month before) and completed educations, of
    citizens 18-64 on the month's first day. They do not depend on the period."""
    statuses = model.fact_employment_status
    in_work = statuses["status"].isin(IN_WORK_OR_EDUCATION)
    before = statuses.loc[~in_work, ["citizen_key", "month"]].assign(
        month=lambda frame: frame["month"] + pd.DateOffset(months=1))
    transitions = statuses[in_work].merge(before, on=["citizen_key", "month"])
    completions = statuses[statuses["completed_education"].fillna(False).astype(bool)]
    events = pd.concat([transitions.assign(kind="count"), completions.assign(kind="completed_education")],
                       ignore_index=True)[["citizen_key", "month", "status", "kind"]]
    events["event_id"] = events["kind"] + ":" + events["citizen_key"] + ":" + events["month"].dt.strftime("%Y-%m")

    births = model.dim_citizen[["citizen_key", "birth_date"]]
    events = events.merge(births, on="citizen_key", how="left")
    age = age_at(events["birth_date"], events["month"])
    low, high = WORKING_AGE
    return events[((age >= low) & (age <= high)).fillna(False).to_numpy()].reset_index(drop=True)


@kpi("T4.04")
def into_work_or_education(model: Model, period: Period) -> pd.DataFrame:
    """Adults 18-64 with an intervention who get into work/education in the period, and
    completed educations in the period.

    An event month is a month whose first day lies in [S, E]. `count`: distinct citizens
    with a status row in Beskæftiget/Uddannelse/Erhvervspraktik for an event month and a
    row with another status for the month before. `completed_education`: status rows with
    completed_education in an event month (each citizen and month one education). Either
    counts when the citizen is 18-64 on the first day of the event month and has a T1.01
    intervention (service, measure or residential stay) active on some day from the first
    day of the month before to the event month's last day (at most E). Organisation and
    target groups from those interventions, as in T1.01; `status` is the month's status.
    """
    events = model.derived(("employment_events",), lambda: _employment_events(model))
    events = events[in_period(events["month"], period)]
    window_end = (events["month"] + pd.offsets.MonthEnd(0)).clip(upper=pd.Timestamp(period.end))
    window_start = events["month"] - pd.DateOffset(months=1)
    overlapping = events.assign(window_start=window_start, window_end=window_end).merge(
        intervention_rows(model), on="citizen_key")
    overlapping = overlapping[(overlapping["start"].dt.normalize() <= overlapping["window_end"])
                              & (overlapping["end"].isna()
                                 | (overlapping["end"].dt.normalize() >= overlapping["window_start"]))]
    target_groups = (overlapping.loc[overlapping["system"] != "tilbud", ["event_id", "target_group"]]
                     .drop_duplicates())
    members = (with_org(overlapping.drop(columns="target_group"), model.dim_org, period.end)
               .merge(target_groups, on="event_id", how="left"))
    breakdowns = CATALOG["T4.04"].breakdowns
    return pd.concat([
        count_rows(members[members["kind"] == "count"], "citizen_key", breakdowns),
        count_rows(members[members["kind"] == "completed_education"], "event_id", breakdowns,
                   measure="completed_education"),
    ], ignore_index=True)


# --- T4.05 Udvikling på indsatstrappen (VUM) ------------------------------------------

def _ordered_assessments(model: Model) -> pd.DataFrame:
    """Dated VUM assessments with a level, in each person's order (date, then the id as a
    number where it is one): the same for every period, so sorted once per model."""
    assessments = model.fact_assessment.dropna(subset=["assessment_date", "level"])
    assessments = assessments.assign(_order=pd.to_numeric(assessments["assessment_id"], errors="coerce"))
    return assessments.sort_values(["citizen_key", "assessment_date", "_order", "assessment_id"])


@kpi("T4.05")
def functional_level_change(model: Model, period: Period) -> pd.DataFrame:
    """Persons with a VUM assessment in the period and an earlier one: shares whose latest
    level in the period is lower (improved), equal or higher (worsened) than that of the
    latest assessment dated before it.

    Assessments on one date are ordered by assessment_id (as a number where it is one);
    "before" means an earlier date. Organisation and target groups come from the person's
    adult (voksen) cases open on the latest assessment's date; with none open, the unit,
    center and target group are Ukendt (area Voksne).
    """
    ordered = model.derived(("ordered_assessments",), lambda: _ordered_assessments(model))
    latest = ordered[in_period(ordered["assessment_date"], period)].drop_duplicates("citizen_key", keep="last")
    earlier = ordered.merge(latest[["citizen_key", "assessment_date"]], on="citizen_key", suffixes=("", "_latest"))
    previous = (earlier[earlier["assessment_date"] < earlier["assessment_date_latest"]]
                .drop_duplicates("citizen_key", keep="last")[["citizen_key", "level"]])
    compared = latest[["citizen_key", "assessment_date", "level"]].merge(
        previous, on="citizen_key", suffixes=("", "_previous"))
    change = compared["level"] - compared["level_previous"]
    compared = compared.assign(improved=(change < 0).to_numpy(), unchanged=(change == 0).to_numpy(),
                               worsened=(change > 0).to_numpy(), compared=True)

    cases = model.fact_case
    cases = cases.loc[cases["source"] == "voksen", ["citizen_key", "opened_date", "closed_date", "unit_code",
                                                     "target_group"]]
    open_cases = compared[["citizen_key", "assessment_date"]].merge(cases, on="citizen_key")
    day = open_cases["assessment_date"]
    open_cases = open_cases[(open_cases["opened_date"] <= day)
                            & (open_cases["closed_date"].isna() | (open_cases["closed_date"] >= day))]
    members = compared.merge(open_cases[["citizen_key", "unit_code"]].drop_duplicates(), on="citizen_key", how="left")
    members = with_org(members.assign(area=AREA_ADULTS), model.dim_org, period.end).merge(
        open_cases[["citizen_key", "target_group"]].drop_duplicates(), on="citizen_key", how="left")
    breakdowns = CATALOG["T4.05"].breakdowns
    return pd.concat([share_rows(members, "citizen_key", flag, "compared", breakdowns, measure=f"share_{flag}")
                      for flag in ("improved", "unchanged", "worsened")], ignore_index=True)


# --- T4.06 Tidligere anbragte med voksensag -------------------------------------------

def birthday(birth_dates: pd.Series, years: int) -> pd.Series:
    """The day someone turns `years`, as `demographics.age_on` counts age: the same month
    and day, and 1 March for a 29 February birthday in a year without one."""
    births = pd.to_datetime(birth_dates)
    shifted = births + pd.DateOffset(years=years)
    moved_back = (births.dt.month == 2) & (births.dt.day == 29) & (shifted.dt.day == 28)
    return shifted + pd.to_timedelta(moved_back.astype(int), unit="D")


@kpi("T4.06")
def formerly_placed_with_adult_case(model: Model, period: Period) -> pd.DataFrame:
    """Young people whose 22nd birthday lies in the period and who had a placement active
    on their 18th birthday: share with an adult (voksen) case opened from their 18th to
    their 22nd birthday, both days included.

    Birthdays are those of `birthday` (29 February -> 1 March); the placement is a boern
    measure of category Anbringelse with start <= the 18th birthday and (no end or end >=
    it). One citizen across systems (citizen_key), counted in the unit of each placement
    active on the 18th birthday; citizens without a birth date cannot be placed in time.
    """
    citizens = model.dim_citizen[["citizen_key", "birth_date"]].dropna(subset=["birth_date"])
    citizens = citizens.assign(turned_18=birthday(citizens["birth_date"], 18),
                               turned_22=birthday(citizens["birth_date"], 22))
    cohort = citizens[in_period(citizens["turned_22"], period)]
    services = model.fact_service
    placements = services[(services["source"] == "boern") & services["category"].eq(ANBRINGELSE).fillna(False)]
    placed = cohort.merge(placements[["citizen_key", "start_date", "end_date", "unit_code", "area"]],
                          on="citizen_key")
    placed = placed[(placed["start_date"] <= placed["turned_18"])
                    & (placed["end_date"].isna() | (placed["end_date"] >= placed["turned_18"]))]
    cases = model.fact_case
    adult_cases = placed[["citizen_key", "turned_18", "turned_22"]].drop_duplicates().merge(
        cases.loc[cases["source"] == "voksen", ["citizen_key", "opened_date"]], on="citizen_key")
    with_case = adult_cases.loc[(adult_cases["opened_date"] >= adult_cases["turned_18"])
                                & (adult_cases["opened_date"] <= adult_cases["turned_22"]), "citizen_key"]
    members = with_org(placed, model.dim_org, period.end).assign(in_cohort=True)
    members = members.assign(adult_case=members["citizen_key"].isin(with_case))
    return share_rows(members, "citizen_key", "adult_case", "in_cohort", CATALOG["T4.06"].breakdowns)
