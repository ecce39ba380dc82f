"""Theme 3 — Service og sikker drift: deadlines and the quality of case work."""

from __future__ import annotations

import datetime as dt

import pandas as pd

from etl.core.periods import Period, add_months
from etl.core.roles import service_codes
from etl.core.vocabulary import AREA_ADULTS, AREA_CHILDREN, COMPLAINT_ABOUT_DECISION, GRANTED, MEDHOLD
from etl.kpi.aggregate import (
    add_months_to,
    count_rows,
    duration_rows,
    flag_label,
    in_period,
    measure_rows,
    share_rows,
    summarise,
    with_org,
)
from etl.kpi.catalog import CATALOG, kpi
from etl.model import Model

#: Barnets Lov §136: a notification must be assessed within 24 hours (24 h itself is in time).
ASSESSMENT_DEADLINE = pd.Timedelta(hours=24)
#: Barnets Lov §20: a child-welfare investigation is finished within 4 months.
INVESTIGATION_MONTHS = 4
#: T3.04: notifications received in the 12 months up to the investigation's start count.
NOTIFICATION_WINDOW_MONTHS = 12
#: Barnets Lov §§91-92: the child's plan is due 3 months after a §32/§46 decision.
PLAN_MONTHS = 3
#: Behandlingsgarantien: substance-abuse treatment starts within 14 days of the request.
TREATMENT_GUARANTEE_DAYS = 14
#: T3.05: Ankestyrelsen's outcomes as reported; Ændret and Ophævet together are Omgjort.
APPEALS_OUTCOME_LABELS = {"Stadfæstet": "Stadfæstet", "Ændret": "Omgjort", "Ophævet": "Omgjort",
                    "Hjemvist": "Hjemvist", "Afvist": "Afvist"}
#: T3.05: the outcome of a decided complaint that is not about a decision (no appeal route).
HANDLED = "Behandlet"


def _lookup(keys: pd.Series, values: pd.Series) -> pd.Series:
    """`values` (indexed by a unique key) for each of `keys`, aligned with `keys`."""
    return pd.Series(values.reindex(keys.to_numpy()).to_numpy(), index=keys.index, dtype=values.dtype)


def _days(first: pd.Series, last: pd.Series) -> pd.Series:
    """`last - first` in whole days on dates, as floats (NaN where a date is missing)."""
    return (last.dt.normalize() - first.dt.normalize()).dt.days.astype(float)


@kpi("T3.01")
def deadline_compliance(model: Model, period: Period) -> pd.DataFrame:
    """Share of the period's decisions made within the published deadline of their service.

    Only decisions with an application date and a service code that has a deadline in
    `ref_deadline` are measured (every outcome); unmapped paragraphs have no service code
    and are left out, as are decisions dated before their application (contradictory).
    """
    decided = model.fact_decision
    decided = decided[in_period(decided["decision_date"], period)]
    deadline_days = _lookup(decided["service_code"], model.ref_deadline.set_index("service_code")["deadline_days"])
    processing_days = _days(decided["application_date"], decided["decision_date"])
    measurable = deadline_days.notna() & (processing_days >= 0)
    members = with_org(decided.assign(measurable=measurable,
                                      in_time=measurable & (processing_days <= deadline_days.astype(float))),
                       model.dim_org, period.end)
    members = members[members["measurable"]]
    return share_rows(members, "decision_key", "in_time", "measurable", CATALOG["T3.01"].breakdowns)


@kpi("T3.02")
def notifications_assessed_in_time(model: Model, period: Period) -> pd.DataFrame:
    """Share of the period's notifications assessed within 24 hours, plus their count.

    An unassessed notification is late once more than 24 hours have passed by the
    extraction time; before that it could still be in time, so it stays out of the
    share. One assessed before it was received (DQ11) is an event in `count` but its
    dates cannot be used, so it stays out of the share too.
    """
    received = model.fact_notification
    received = received[in_period(received["received_at"], period)]
    time_to_assessment = received["assessed_at"] - received["received_at"]
    assessed = received["assessed_at"].notna()
    contradictory = time_to_assessment < pd.Timedelta(0)
    time_waiting = pd.Timestamp(model.extraction_time) - received["received_at"]
    overdue = ~assessed & (time_waiting > ASSESSMENT_DEADLINE)
    members = with_org(received.assign(
        acute=flag_label(received["acute"]),
        in_time=assessed & ~contradictory & (time_to_assessment <= ASSESSMENT_DEADLINE),
        assessable=(assessed & ~contradictory) | overdue,
    ), model.dim_org, period.end)
    breakdowns = CATALOG["T3.02"].breakdowns
    return pd.concat([
        share_rows(members, "notification_id", "in_time", "assessable", breakdowns),
        count_rows(members, "notification_id", breakdowns),
    ], ignore_index=True)


def _completed_investigations(model: Model, period: Period) -> pd.DataFrame:
    investigations = model.fact_investigation
    completed = investigations[in_period(investigations["completed_date"], period)]
    # investigations are all children's cases (fact_investigation has no area column)
    return completed.assign(area=AREA_CHILDREN,
                            usable=completed["completed_date"] >= completed["start_date"])


@kpi("T3.03")
def investigations_in_time(model: Model, period: Period) -> pd.DataFrame:
    """Share of the investigations completed in the period that took at most 4 months.

    The deadline is StartDato + 4 months by the same day-of-month rule (clipped to the
    month's last day); completed on the deadline is in time. An investigation completed
    before it started (contradictory) is left out.
    """
    completed = _completed_investigations(model, period)
    deadline = add_months_to(completed["start_date"], INVESTIGATION_MONTHS)
    members = with_org(completed.assign(in_time=completed["usable"] & (completed["completed_date"] <= deadline)),
                       model.dim_org, period.end)
    return share_rows(members, "investigation_id", "in_time", "usable", CATALOG["T3.03"].breakdowns)


@kpi("T3.04")
def notification_to_completed_investigation(model: Model, period: Period) -> pd.DataFrame:
    """Days from the latest notification to the completed investigation.

    Investigations completed in the period whose child had a notification received (date)
    in [StartDato - 12 months, StartDato]; the days run from the latest such notification's
    received date to the completion date. One completed before it started is counted but
    has no duration.
    """
    completed = _completed_investigations(model, period)
    notes = model.fact_notification
    notes = pd.DataFrame({"citizen_key": notes["citizen_key"],
                          "received": notes["received_at"].dt.normalize()}).dropna(subset=["citizen_key"])
    pairs = completed[["investigation_id", "citizen_key", "start_date"]].merge(notes, on="citizen_key")
    window_start = add_months_to(pairs["start_date"], -NOTIFICATION_WINDOW_MONTHS)
    pairs = pairs[(pairs["received"] >= window_start) & (pairs["received"] <= pairs["start_date"])]
    latest = pairs.groupby("investigation_id")["received"].max()
    with_notification = completed[completed["investigation_id"].isin(latest.index)]
    days = _days(_lookup(with_notification["investigation_id"], latest), with_notification["completed_date"])
    members = with_org(with_notification.assign(days=days.where(with_notification["usable"])),
                       model.dim_org, period.end)
    return duration_rows(members, "investigation_id", "days", CATALOG["T3.04"].breakdowns,
                         CATALOG["T3.04"].measures)


@kpi("T3.05")
def complaints(model: Model, period: Period) -> pd.DataFrame:
    """Complaints received in the period; complaints decided in the period by outcome.

    The outcome is Medhold when the reconsideration gave it, else Ankestyrelsen's
    (Ændret and Ophævet as Omgjort); a complaint not about a decision (processing time,
    staff, facility, other) with neither is Behandlet; a decision complaint with neither
    is Ukendt. The organisation is the complaint's own unit (its area that of the unit).
    """
    registered = model.fact_complaint
    outcome = (registered["appeals_outcome"].map(APPEALS_OUTCOME_LABELS)
               .mask(registered["reconsideration"] == MEDHOLD, MEDHOLD))
    # Only complaints about a decision are reconsidered and appealed; the others are handled.
    not_about_decision = registered["complaint_type"].notna() & (registered["complaint_type"] != COMPLAINT_ABOUT_DECISION)
    outcome = outcome.mask(outcome.isna() & not_about_decision, HANDLED)
    received = in_period(registered["received_date"], period)
    decided = in_period(registered["decided_date"], period)
    members = with_org(registered[received | decided].assign(
        outcome=outcome, _received=registered["complaint_id"].where(received),
        _decided=registered["complaint_id"].where(decided)), model.dim_org, period.end, area_column=None)
    summary = summarise(members, CATALOG["T3.05"].breakdowns,
                        received=("_received", "nunique"), decided=("_decided", "nunique"))
    # The outcome describes a decision: complaints received are not broken down by it.
    received_summary = summary[summary["dimension"] != "outcome"]
    return pd.concat([measure_rows(received_summary, "received", "count", received_summary["received"]),
                      measure_rows(summary, "decided", "count", summary["decided"])], ignore_index=True)


#: Waiting lists carry no unit: they are reported for SOF and the adult area only.
WAITING_LIST_LEVELS = ("sof", "area")


@kpi("T3.06")
def waiting_list(model: Model, period: Period) -> pd.DataFrame:
    """Persons on a waiting list on E and the lower median of days waited so far (E - listed)."""
    status_date = pd.Timestamp(period.end)
    waiting = model.fact_waiting_list
    on_list = waiting[(waiting["listed_date"] <= status_date)
                      & (waiting["left_date"].isna() | (waiting["left_date"] >= status_date))]
    members = on_list.assign(days=(status_date - on_list["listed_date"]).dt.days.astype(float),
                             org_area=AREA_ADULTS, org_center=None, org_unit=None)
    # count: distinct persons; median_days: over the waiting rows (its denominator).
    rows = duration_rows(members, "citizen_key", "days", CATALOG["T3.06"].breakdowns, ("count", "median_days"))
    return rows[rows["org_level"].isin(WAITING_LIST_LEVELS)].reset_index(drop=True)


@kpi("T3.07")
def use_of_force(model: Model, period: Period) -> pd.DataFrame:
    """Use-of-force registrations in the period and the distinct persons they concern.

    Organisation, facility type and facility from the facility (`dim_facility`); a
    registration without a person counts in `count` only.
    """
    force = model.fact_use_of_force
    force = force[in_period(force["occurred_at"], period)]
    facilities = model.dim_facility[["facility_id", "facility_type", "unit_code"]]
    force = force.merge(facilities, on="facility_id", how="left")
    members = with_org(force.assign(facility=force["facility_id"]), model.dim_org, period.end, area_column=None)
    summary = summarise(members, CATALOG["T3.07"].breakdowns,
                        events=("force_id", "nunique"), persons=("citizen_key", "nunique"))
    return pd.concat([measure_rows(summary, "count", "count", summary["events"]),
                      measure_rows(summary, "persons", "count", summary["persons"])], ignore_index=True)


def plan_window(period: Period) -> tuple[pd.Timestamp, pd.Timestamp]:
    """The decision dates T3.08 measures: the period shifted back 3 months, so every plan
    deadline has passed by E ([S - 3 months, (E + 1 day) - 3 months - 1 day]: for a quarter
    the quarter before, for a running quarter its days so far three months earlier)."""
    one_day = dt.timedelta(days=1)
    first = add_months(period.start, -PLAN_MONTHS)
    last = add_months(period.end + one_day, -PLAN_MONTHS) - one_day
    return pd.Timestamp(first), pd.Timestamp(last)


@kpi("T3.08")
def child_plan_in_time(model: Model, period: Period) -> pd.DataFrame:
    """Share of granted §32/§46 decisions with a child's plan within 3 months.

    Decisions of the children's system with outcome Bevilget or Delvis bevilget and
    a service code in the reference role `plan_required` (shipped: BL32 and BL46, which old
    SEL paragraphs map to; BL47, without consent, is not in it), dated in `plan_window`.
    In time: a plan linked to the decision (`fact_plan.decision_key`) dated no later than decision date + 3 months
    (same day-of-month rule); a plan made before the decision is in time.
    """
    first, last = plan_window(period)
    decided = model.fact_decision
    days = decided["decision_date"].dt.normalize()
    granted = decided[(decided["source"] == "boern") & decided["outcome"].isin(GRANTED)
                      & decided["service_code"].isin(service_codes(model.ref_role, "plan_required"))
                      & (days >= first) & (days <= last)]
    plans = model.fact_plan.dropna(subset=["decision_key"])
    pairs = granted[["decision_key", "decision_date"]].merge(plans[["decision_key", "plan_date"]], on="decision_key")
    in_time = pairs.loc[pairs["plan_date"] <= add_months_to(pairs["decision_date"], PLAN_MONTHS), "decision_key"]
    members = with_org(granted.assign(in_time=granted["decision_key"].isin(in_time), measured=True),
                       model.dim_org, period.end)
    return share_rows(members, "decision_key", "in_time", "measured", CATALOG["T3.08"].breakdowns)


@kpi("T3.09")
def treatment_within_14_days(model: Model, period: Period) -> pd.DataFrame:
    """Share of substance-abuse treatments started in the period within 14 days of the request.

    Services whose service code is in the reference role `substance_treatment` (shipped:
    SEL101, SEL §101 and the Rusmiddelbehandlingsloven's successor) with start_date in the
    period whose decision (`decision_key`) has an application date; in time: start_date - application_date <= 14 days (day 14 is in
    time). Started before the application (contradictory): left out.
    """
    services = model.fact_service
    started = services[services["service_code"].isin(service_codes(model.ref_role, "substance_treatment"))
                       & in_period(services["start_date"], period)]
    applied = model.fact_decision.set_index("decision_key")["application_date"]
    waited = _days(_lookup(started["decision_key"], applied), started["start_date"])
    members = with_org(started.assign(measured=waited >= 0, in_time=waited.between(0, TREATMENT_GUARANTEE_DAYS)),
                       model.dim_org, period.end)
    members = members[members["measured"]]
    return share_rows(members, "service_key", "in_time", "measured", CATALOG["T3.09"].breakdowns)

