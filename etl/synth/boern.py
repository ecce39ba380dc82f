"""`boern`: children, notifications, cases, investigations, measures, decisions and plans.

Cases are simulated from well before the history start, so the cases, measures and
placements that are open on the first day of history are there with their real start
dates (the stock), while flows (notifications, investigations, decisions, plans) are
kept only from the history start on.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from etl.core.vocabulary import ANBRINGELSE, MEASURE_CATEGORIES, TEEN_ONLY_PLACEMENT_TYPES
from etl.synth.context import Context, assign_caseworkers
from etl.synth.draw import choose, explode, ids_in_order
from etl.synth.timeline import (
    BARNETS_LOV_FROM,
    DAY,
    DAYS_PER_YEAR,
    NAT_DAY,
    NAT_SECOND,
    Window,
    add_months,
    add_years,
    age_in_years,
    at_hours,
    change_timestamps,
    days,
    lognormal,
    seconds,
    uniform_dates,
)

#: New cases a year per notification a year (Copenhagen: ~4,000 new cases, ~17,000 notifications).
CASES_PER_NOTIFICATION = 0.25
HANDICAP_SHARE = 0.25
#: Cases are simulated from this many years before the history start (a child's case can last 18 years).
BURN_IN_YEARS = 15
#: Children in placement during a year per placement started that year (measured on the
#: simulated data: placements last ~2.5 years and a fifth are followed by a second one).
PLACED_PER_NEW_PLACEMENT = 3.75
HANDICAP_PLACEMENT_SHARE = 0.05
SECOND_PLACEMENT_SHARE = 0.2

# Age at case start (0..17): socially exposed children peak at birth and in the teens.
AGE_WEIGHTS_UDSAT = np.array([9, 4, 4, 4, 4, 4, 5, 5, 5, 5, 6, 6, 7, 8, 9, 9, 8, 6], dtype=float)
AGE_WEIGHTS_HANDICAP = np.array([3, 5, 7, 8, 8, 8, 7, 7, 6, 6, 5, 5, 5, 4, 4, 4, 3, 3], dtype=float)
AGE_WEIGHTS_NOTIFIED = np.array([10, 5, 5, 5, 5, 5, 6, 6, 6, 6, 7, 7, 8, 9, 10, 10, 9, 7], dtype=float)

PLACEMENT_TYPES = {
    "Plejefamilie": 30, "Netværksplejefamilie": 10, "Kommunal plejefamilie": 5,
    "Døgninstitution": 20, "Opholdssted": 20, "Eget værelse": 8, "Kostskole/efterskole": 7,
}
TEEN_ONLY_PLACEMENTS = TEEN_ONLY_PLACEMENT_TYPES
PREVENTIVE_TYPES_UDSAT = {
    "Familiebehandling": 35, "Aflastning": 8, "Kontaktperson": 30,
    "Praktisk pædagogisk støtte": 12, "Døgnophold for familien": 5, "Netværksgruppe": 10,
}
PREVENTIVE_TYPES_HANDICAP = {
    "Familiebehandling": 10, "Aflastning": 40, "Kontaktperson": 20,
    "Praktisk pædagogisk støtte": 25, "Døgnophold for familien": 2, "Netværksgruppe": 3,
}
SUPPLIERS_PLACEMENT = {"Egen": 35, "Anden kommune": 15, "Privat": 50}
SUPPLIERS_PREVENTIVE = {"Egen": 70, "Anden kommune": 5, "Privat": 25}
SOURCES_BY_AGE = {  # Kilde of a notification, by the child's age band
    "infant": {"Sundhedsvæsen": 45, "Forælder": 10, "Politi": 10, "Anonym": 8, "Andet": 17, "Dagtilbud": 5, "Skole": 5},
    "preschool": {"Dagtilbud": 32, "Sundhedsvæsen": 18, "Politi": 15, "Forælder": 10, "Anonym": 9, "Andet": 11, "Skole": 5},
    "school": {"Skole": 36, "Politi": 24, "Sundhedsvæsen": 12, "Forælder": 8, "Anonym": 7, "Andet": 11, "Dagtilbud": 2},
}
#: Paragraph texts per service code: Serviceloven's numbering before 2024, Barnets Lov from 2024.
PARAGRAPH_TEXTS = {
    "BL20": ("SEL §50", "BL §20"),
    "BL32": ("SEL §52 stk. 3", "BL § 32"),
    "BL46": ("SEL § 52, stk. 3, nr. 7", "BL §46"),
    "BL47": ("SEL §58", "BL §47"),
}
UNITS_GEOGRAPHIC = ("BFC-NORD", "BFC-OEST", "BFC-SYD", "BFC-VEST")
UNIT_HANDICAP = "BFC-HAND"
UNIT_YOUTH = "BFC-UNG"


@dataclass
class BoernData:
    tables: dict[str, pd.DataFrame]  # contract columns plus `_person_id` on Barn
    placed_at_18: pd.DataFrame  # person_id, adult_day, maalgruppe: candidates for an adult case
    formerly_placed: pd.DataFrame  # person_id, birth: young people followed in the employment file
    activity: pd.DataFrame  # person_id, start, end (NaT = open): time known to the system


def build_boern(ctx: Context) -> BoernData:
    rng = ctx.rng("boern")
    w = ctx.window
    for code, texts in PARAGRAPH_TEXTS.items():
        for text in texts:
            ctx.reference.paragraph(code, text)
    ctx.reference.units("boern", *UNITS_GEOGRAPHIC, UNIT_HANDICAP, UNIT_YOUTH)

    cases = _simulate_cases(ctx, rng)
    measures = _simulate_measures(ctx, rng, cases)
    investigations = _simulate_investigations(rng, cases)
    cases = _close_cases(rng, w, cases, measures, investigations)
    cases, measures, investigations = _observed(w, cases, measures, investigations)
    decisions = _simulate_decisions(ctx, rng, cases, measures)
    plans = _simulate_plans(rng, w, decisions, measures)
    notifications, notified_children = _simulate_notifications(ctx, rng, cases)
    children = _register_children(ctx, rng, cases, notified_children, notifications)
    cases["person_id"] = children["person_id"].to_numpy()[:len(cases)]
    cases["barn_id"] = children["barn_id"].to_numpy()[:len(cases)]

    tables = _render(ctx, rng, children, cases, measures, investigations, decisions, plans, notifications)
    placements = measures[measures["kategori"] == ANBRINGELSE]
    placed_cases = cases.iloc[placements["case"].unique()]
    at_18 = placements[placements["placed_at_18"]]
    at_18_cases = cases.iloc[at_18["case"].to_numpy()]
    return BoernData(
        tables=tables,
        placed_at_18=pd.DataFrame({
            "person_id": at_18_cases["person_id"].to_numpy(),
            "adult_day": at_18_cases["adult_day"].to_numpy(),
            "maalgruppe": at_18_cases["maalgruppe"].to_numpy(),
        }).drop_duplicates("person_id"),
        formerly_placed=pd.DataFrame({
            "person_id": placed_cases["person_id"].to_numpy(),
            "birth": placed_cases["birth"].to_numpy(),
        }),
        activity=pd.concat([
            pd.DataFrame({"person_id": cases["person_id"], "start": cases["opened"], "end": cases["closed"]}),
            pd.DataFrame({"person_id": children["person_id"], "start": children["first_contact"],
                          "end": children["first_contact"]}),
        ], ignore_index=True),
    )


def _simulate_cases(ctx: Context, rng: np.random.Generator) -> pd.DataFrame:
    w = ctx.window
    cases_per_year = ctx.profile.notifications_per_year * CASES_PER_NOTIFICATION
    n = int(round(cases_per_year * (w.years + BURN_IN_YEARS)))
    opened = uniform_dates(rng, w.start - days(BURN_IN_YEARS * DAYS_PER_YEAR), w.end, n)
    handicap = rng.random(n) < HANDICAP_SHARE
    age = np.where(
        handicap,
        rng.choice(18, n, p=AGE_WEIGHTS_HANDICAP / AGE_WEIGHTS_HANDICAP.sum()),
        rng.choice(18, n, p=AGE_WEIGHTS_UDSAT / AGE_WEIGHTS_UDSAT.sum()),
    )
    birth = opened - days((age + rng.random(n)) * DAYS_PER_YEAR)
    return pd.DataFrame({
        "opened": opened,
        "birth": birth,
        "adult_day": add_years(birth, 18),
        "maalgruppe": np.where(handicap, "Handicap", "Socialt udsat"),
        "age_at_open": age,
    })


def _simulate_measures(ctx: Context, rng: np.random.Generator, cases: pd.DataFrame) -> pd.DataFrame:
    """Placements (some followed by a second placement) and preventive measures per case."""
    w = ctx.window
    n = len(cases)
    handicap = (cases["maalgruppe"] == "Handicap").to_numpy()
    opened = cases["opened"].to_numpy()
    adult_day = cases["adult_day"].to_numpy()

    placements_per_year = ctx.profile.placed_children_per_year / PLACED_PER_NEW_PLACEMENT
    cases_per_year = ctx.profile.notifications_per_year * CASES_PER_NOTIFICATION
    p_udsat = (placements_per_year - HANDICAP_PLACEMENT_SHARE * HANDICAP_SHARE * cases_per_year) / (
        (1 - HANDICAP_SHARE) * cases_per_year)
    placed = rng.random(n) < np.where(handicap, HANDICAP_PLACEMENT_SHARE, np.clip(p_udsat, 0, 0.9))
    first_start = opened + days(20 + rng.random(n) * 180)
    placed &= first_start < adult_day - 30 * DAY
    first = np.flatnonzero(placed)
    first_end = np.minimum(first_start[first] + days(lognormal(rng, 800, 0.9, len(first), 14, 6000)),
                           adult_day[first] - DAY)
    again = (rng.random(len(first)) < SECOND_PLACEMENT_SHARE) & (first_end < adult_day[first] - 60 * DAY)
    second = first[again]
    second_start = first_end[again] + DAY
    second_end = np.minimum(second_start + days(lognormal(rng, 700, 0.9, len(second), 14, 6000)),
                            adult_day[second] - DAY)
    placement_case = np.concatenate([first, second])
    placement_start = np.concatenate([first_start[first], second_start])
    placement_end = np.concatenate([first_end, second_end])

    n_preventive = np.where(handicap, 1 + rng.poisson(0.6, n), rng.poisson(1.1, n))
    preventive_case = explode(n_preventive)
    preventive_start = opened[preventive_case] + days(14 + rng.random(len(preventive_case)) * 400)
    preventive_end = np.minimum(
        preventive_start + days(lognormal(rng, 270, 0.8, len(preventive_case), 14, 1500)),
        adult_day[preventive_case] - DAY)
    ok = preventive_start < adult_day[preventive_case] - 14 * DAY
    preventive_case, preventive_start, preventive_end = preventive_case[ok], preventive_start[ok], preventive_end[ok]

    n_place, n_prev = len(placement_case), len(preventive_case)
    age_at_placement = age_in_years(cases["birth"].to_numpy()[placement_case], placement_start)
    placement_type = choose(rng, PLACEMENT_TYPES, n_place)
    young_teen_type = (age_at_placement < 14) & np.isin(placement_type, TEEN_ONLY_PLACEMENTS)
    placement_type[young_teen_type] = choose(
        rng, {k: v for k, v in PLACEMENT_TYPES.items() if k not in TEEN_ONLY_PLACEMENTS}, young_teen_type.sum())
    preventive_type = np.where(
        handicap[preventive_case],
        choose(rng, PREVENTIVE_TYPES_HANDICAP, n_prev),
        choose(rng, PREVENTIVE_TYPES_UDSAT, n_prev),
    )
    without_consent = rng.random(n_place) < 0.2
    measures = pd.DataFrame({
        "case": np.concatenate([placement_case, preventive_case]),
        "kategori": np.repeat(MEASURE_CATEGORIES, [n_place, n_prev]),
        "type": np.concatenate([placement_type, preventive_type]),
        "code": np.concatenate([np.where(without_consent, "BL47", "BL46"), np.full(n_prev, "BL32")]),
        "start": np.concatenate([placement_start, preventive_start]),
        "end": np.concatenate([placement_end, preventive_end]),
        "leverandoer": np.concatenate([choose(rng, SUPPLIERS_PLACEMENT, n_place),
                                       choose(rng, SUPPLIERS_PREVENTIVE, n_prev)]),
    })
    measures["decided"] = measures["start"].to_numpy() - days(rng.random(len(measures)) * 13)
    measures["placed_at_18"] = (measures["kategori"] == ANBRINGELSE).to_numpy() & (
        measures["end"].to_numpy() == adult_day[measures["case"]] - DAY)
    measures = measures[measures["start"] < w.end].reset_index(drop=True)
    measures.loc[measures["end"] >= w.end, "end"] = NAT_DAY
    measures.loc[measures["end"].isna(), "placed_at_18"] = False
    return measures


def _simulate_investigations(rng: np.random.Generator, cases: pd.DataFrame) -> pd.DataFrame:
    """A børnefaglig undersøgelse at the start of every socially exposed case and half the
    handicap cases; ~75 % finish within the four months the law allows."""
    n = len(cases)
    has = (cases["maalgruppe"] == "Socialt udsat").to_numpy() | (rng.random(n) < 0.5)
    case = np.flatnonzero(has)
    start = cases["opened"].to_numpy()[case] + days(rng.random(len(case)) * 15)
    in_time = rng.random(len(case)) < 0.75
    length = np.where(in_time, 20 + rng.random(len(case)) * 99, 125 + rng.random(len(case)) * 180)
    return pd.DataFrame({"case": case, "start": start, "end": start + days(length)})


def _close_cases(rng: np.random.Generator, w: Window, cases: pd.DataFrame, measures: pd.DataFrame,
                 investigations: pd.DataFrame) -> pd.DataFrame:
    """A case closes some weeks after its last measure or investigation ends; open if any is open."""
    activity = pd.concat([
        pd.DataFrame({"case": measures["case"], "end": measures["end"]}),
        pd.DataFrame({"case": investigations["case"], "end": investigations["end"]}),
    ])
    activity.loc[activity["end"] >= w.end, "end"] = NAT_DAY
    still_open = activity["end"].isna().groupby(activity["case"]).any()
    last_end = activity.groupby("case")["end"].max()
    cases = cases.copy()
    last = last_end.reindex(np.arange(len(cases))).to_numpy()
    last = np.where(np.isnat(last), cases["opened"].to_numpy(), last)
    closed = last + days(rng.random(len(cases)) * 90)
    open_now = still_open.reindex(np.arange(len(cases)), fill_value=False).to_numpy() | (closed >= w.end)
    cases["closed"] = np.where(open_now, NAT_DAY, closed)
    return cases


def _observed(w: Window, cases: pd.DataFrame, measures: pd.DataFrame,
              investigations: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Only cases open on or after the history start are in the system, and of their
    measures only those not ended before it; case positions are renumbered."""
    kept = (cases["closed"].isna() | (cases["closed"] >= w.start)).to_numpy()
    new_position = pd.Series(np.arange(kept.sum()), index=np.flatnonzero(kept))
    measures = measures[measures["case"].isin(new_position.index)
                        & (measures["end"].isna() | (measures["end"] >= w.start))].copy()
    measures["case"] = new_position[measures["case"]].to_numpy()
    investigations = investigations[investigations["case"].isin(new_position.index)].copy()
    investigations["case"] = new_position[investigations["case"]].to_numpy()
    return cases[kept].reset_index(drop=True), measures.reset_index(drop=True), investigations


def _simulate_decisions(ctx: Context, rng: np.random.Generator, cases: pd.DataFrame,
                        measures: pd.DataFrame) -> pd.DataFrame:
    """One granted decision before every measure, plus refusals; kept from the history start."""
    w = ctx.window
    granted = pd.DataFrame({
        "case": measures["case"].to_numpy(),
        "measure": np.arange(len(measures)),
        "code": measures["code"].to_numpy(),
        "decided": measures["decided"].to_numpy(),
        "udfald": np.where(rng.random(len(measures)) < 0.9, "Bevilget", "Delvis bevilget"),
    })
    n_refused = int(round(len(measures) * 0.12 / 0.88))
    case = rng.integers(0, len(cases), n_refused)
    life_end = np.where(cases["closed"].isna(), w.end, cases["closed"].to_numpy())[case]
    refused = pd.DataFrame({
        "case": case,
        "measure": -1,
        "code": np.where(rng.random(n_refused) < 0.9, "BL32", "BL46"),
        "decided": uniform_dates(rng, cases["opened"].to_numpy()[case] + 30 * DAY, life_end),
        "udfald": "Afslag",
    })
    decisions = pd.concat([granted, refused], ignore_index=True)
    decisions = decisions[(decisions["decided"] >= w.start) & (decisions["decided"] < w.end)].reset_index(drop=True)
    decisions["applied"] = ctx.application_dates(rng, decisions["decided"].to_numpy(), decisions["code"].to_numpy())
    decisions["deadline"] = ctx.deadlines(decisions["applied"].to_numpy(), decisions["code"].to_numpy())
    return decisions


def _simulate_plans(rng: np.random.Generator, w: Window, decisions: pd.DataFrame, measures: pd.DataFrame) -> pd.DataFrame:
    """Barnets plan for ~80 % of granted §32/§46 decisions, most within the three months due."""
    eligible = decisions["code"].isin(["BL32", "BL46"]) & (decisions["udfald"] != "Afslag")
    has_plan = eligible.to_numpy() & (rng.random(len(decisions)) < 0.8)
    plans = decisions[has_plan][["case", "measure", "decided"]].reset_index()
    plans = plans.rename(columns={"index": "decision"})
    n = len(plans)
    delay = np.where(rng.random(n) < 0.85, 7 + rng.random(n) * 83, 91 + rng.random(n) * 150)
    plans["date"] = plans["decided"].to_numpy() + days(delay)
    plans = plans[plans["date"] < w.end].reset_index(drop=True)
    follow_up = add_months(plans["date"].to_numpy(), 6)
    measure_end = measures["end"].to_numpy()[plans["measure"].to_numpy()]
    plans["follow_up"] = np.where(measure_end < follow_up, NAT_DAY, follow_up)
    return plans


def _simulate_notifications(ctx: Context, rng: np.random.Generator,
                            cases: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Notifications about case children (mostly before the case) and about children who
    never get a case, topped up to the profile's notifications a year."""
    w = ctx.window
    n = len(cases)
    udsat = (cases["maalgruppe"] == "Socialt udsat").to_numpy()
    opened = cases["opened"].to_numpy()
    life_end = np.where(cases["closed"].isna(), w.end, cases["closed"].to_numpy())
    before = np.where(udsat, 1 + rng.poisson(1.0, n), rng.poisson(0.15, n))
    during = np.where(udsat, rng.poisson(0.5, n), 0)
    case_before = explode(before)
    case_during = explode(during)
    linked = pd.DataFrame({
        "child": np.concatenate([case_before, case_during]),
        "day": np.concatenate([
            opened[case_before] - days(rng.random(len(case_before)) * 300),
            uniform_dates(rng, opened[case_during], life_end[case_during]),
        ]),
    })
    linked["birth"] = cases["birth"].to_numpy()[linked["child"]]
    linked = _in_childhood(linked, w)

    target = ctx.profile.notifications_per_year * w.years
    expected_per_child = 1.5
    n_children = max(0, int(round((target - len(linked)) / expected_per_child)))
    first = uniform_dates(rng, w.start, w.end, n_children)
    age = rng.choice(18, n_children, p=AGE_WEIGHTS_NOTIFIED / AGE_WEIGHTS_NOTIFIED.sum())
    notified_children = pd.DataFrame({"birth": first - days((age + rng.random(n_children)) * DAYS_PER_YEAR)})
    extra = rng.poisson(0.6, n_children)
    child_extra = explode(extra)
    only = pd.DataFrame({
        "child": n + np.concatenate([np.arange(n_children), child_extra]),
        "day": np.concatenate([first, first[child_extra] + days(-200 + rng.random(len(child_extra)) * 600)]),
    })
    only["birth"] = notified_children["birth"].to_numpy()[only["child"] - n]
    notifications = pd.concat([linked, _in_childhood(only, w)], ignore_index=True)

    m = len(notifications)
    office = rng.random(m) < 0.75
    received = np.where(office, at_hours(rng, notifications["day"].to_numpy(), 8, 16),
                        at_hours(rng, notifications["day"].to_numpy(), 0, 24))
    age = age_in_years(notifications["birth"].to_numpy(), notifications["day"].to_numpy())
    kilde = np.where(age < 1, choose(rng, SOURCES_BY_AGE["infant"], m),
                     np.where(age < 6, choose(rng, SOURCES_BY_AGE["preschool"], m),
                              choose(rng, SOURCES_BY_AGE["school"], m)))
    band = rng.random(m)
    hours = np.where(band < 0.85, 0.3 + rng.random(m) * 23.5,
                     np.where(band < 0.97, 24 + rng.random(m) * 216, 240 + rng.random(m) * 760))
    assessed = received + seconds(hours / 24)
    notifications["received"] = received
    notifications["assessed"] = np.where(assessed < w.as_of, assessed, NAT_SECOND)
    notifications["kilde"] = kilde
    notifications["akut"] = rng.random(m) < 0.05
    notifications["unlinked"] = rng.random(m) < 0.005
    return notifications, notified_children


def _in_childhood(notifications: pd.DataFrame, w: Window) -> pd.DataFrame:
    day = notifications["day"]
    keep = (day >= w.start) & (day < w.end) & (day >= notifications["birth"]) & (
        day < add_years(notifications["birth"].to_numpy(), 18))
    return notifications[keep.to_numpy()]


def _register_children(ctx: Context, rng: np.random.Generator, cases: pd.DataFrame,
                       notified_children: pd.DataFrame, notifications: pd.DataFrame) -> pd.DataFrame:
    """The children the system knows: every case child and every notified child."""
    n_cases = len(cases)
    first_notification = notifications.groupby("child")["day"].min()
    notified_only = np.unique(notifications["child"][notifications["child"] >= n_cases])
    child = np.concatenate([np.arange(n_cases), notified_only])
    birth = np.concatenate([cases["birth"].to_numpy(), notified_children["birth"].to_numpy()[notified_only - n_cases]])
    opened = np.concatenate([cases["opened"].to_numpy(), np.full(len(notified_only), NAT_DAY)])
    first_contact = np.fmin(first_notification.reindex(child).to_numpy(), opened)
    male = rng.random(len(child)) < 0.51
    return pd.DataFrame({
        "child": child,
        "birth": birth,
        "male": male,
        "first_contact": first_contact,
        "person_id": ctx.persons.add(birth, male, "child"),
        "barn_id": ids_in_order(first_contact, child),
    })


def _paragraph(code: np.ndarray, on: np.ndarray) -> np.ndarray:
    """The text a caseworker would register: old numbering before Barnets Lov, new after."""
    text = np.empty(len(code), dtype=object)
    new_law = on >= BARNETS_LOV_FROM
    for service, (old, new) in PARAGRAPH_TEXTS.items():
        is_code = code == service
        text[is_code & ~new_law] = old
        text[is_code & new_law] = new
    return text


def _case_units(rng: np.random.Generator, cases: pd.DataFrame) -> np.ndarray:
    handicap = (cases["maalgruppe"] == "Handicap").to_numpy()
    youth = (cases["age_at_open"].to_numpy() >= 15) & (rng.random(len(cases)) < 0.7)
    geographic = np.array(UNITS_GEOGRAPHIC, dtype=object)[rng.integers(0, len(UNITS_GEOGRAPHIC), len(cases))]
    return np.where(handicap, UNIT_HANDICAP, np.where(youth, UNIT_YOUTH, geographic))


def _render(ctx: Context, rng: np.random.Generator, children: pd.DataFrame, cases: pd.DataFrame,
            measures: pd.DataFrame, investigations: pd.DataFrame, decisions: pd.DataFrame,
            plans: pd.DataFrame, notifications: pd.DataFrame) -> dict[str, pd.DataFrame]:
    w = ctx.window
    barn = pd.DataFrame({
        "BarnId": children["barn_id"],
        "CPR": None,
        "Foedselsdato": children["birth"],
        "Koen": np.where(children["male"], "M", "K"),
        "OpdateretTid": change_timestamps(rng, children["first_contact"].to_numpy(), w),
        "_person_id": children["person_id"],
    })

    sag_id = ids_in_order(cases["opened"].to_numpy(), cases["barn_id"].to_numpy())
    year = cases["opened"].dt.year.to_numpy()
    number_in_year = pd.Series(sag_id).groupby(year).rank(method="first").astype(int).to_numpy()
    case_open = cases["closed"].isna().to_numpy()
    units = _case_units(rng, cases)
    worker, workers = assign_caseworkers(rng, units, case_open)
    unassigned = case_open & (cases["opened"].to_numpy() >= w.end - 30 * DAY) & (rng.random(len(cases)) < 0.4)
    case_events = pd.concat([
        pd.DataFrame({"case": measures["case"], "day": measures["start"]}),
        pd.DataFrame({"case": measures["case"], "day": measures["end"]}),
        pd.DataFrame({"case": decisions["case"], "day": decisions["decided"]}),
        pd.DataFrame({"case": np.arange(len(cases)), "day": cases["opened"]}),
        pd.DataFrame({"case": np.arange(len(cases)), "day": cases["closed"]}),
    ]).groupby("case")["day"].max()
    sag = pd.DataFrame({
        "SagId": sag_id,
        "BarnId": cases["barn_id"],
        "Sagsnummer": "BS-" + pd.Series(year).astype(str) + "-" + pd.Series(number_in_year).astype(str).str.zfill(6),
        "OprettetDato": cases["opened"],
        "LukketDato": cases["closed"],
        "EnhedKode": units,
        "SagsbehandlerId": pd.array(np.where(unassigned, 0, worker), dtype="Int64"),
        "Maalgruppe": cases["maalgruppe"],
        "OpdateretTid": change_timestamps(rng, case_events.reindex(np.arange(len(cases))).to_numpy(), w),
        "Slettet": False,
    })
    sag.loc[unassigned, "SagsbehandlerId"] = pd.NA

    inv = investigations[(investigations["start"] >= w.start) & (investigations["start"] < w.end)].copy()
    inv_end = inv["end"].to_numpy()
    inv_start = inv["start"].to_numpy()
    undersoegelse = pd.DataFrame({
        "UndersoegelseId": ids_in_order(inv_start, sag_id[inv["case"]]),
        "SagId": sag_id[inv["case"]],
        "Paragraf": _paragraph(np.full(len(inv), "BL20"), inv_start),
        "StartDato": inv_start,
        "FristDato": add_months(inv_start, 4),
        "AfsluttetDato": np.where(inv_end < w.end, inv_end, NAT_DAY),
        "OpdateretTid": change_timestamps(rng, np.where(inv_end < w.end, inv_end, inv_start), w),
    })

    measure_start = measures["start"].to_numpy()
    measure_end = measures["end"].to_numpy()
    measure_ids = ids_in_order(measure_start, sag_id[measures["case"]])
    foranstaltning = pd.DataFrame({
        "ForanstaltningId": measure_ids,
        "SagId": sag_id[measures["case"]],
        "Paragraf": _paragraph(measures["code"].to_numpy(), measures["decided"].to_numpy()),
        "Kategori": measures["kategori"],
        "Type": measures["type"],
        "StartDato": measure_start,
        "SlutDato": measure_end,
        "Leverandoer": measures["leverandoer"],
        "OpdateretTid": change_timestamps(rng, np.where(np.isnat(measure_end), measure_start, measure_end), w),
        "Slettet": False,
    })

    decision_ids = ids_in_order(decisions["decided"].to_numpy(), sag_id[decisions["case"]])
    afgoerelse = pd.DataFrame({
        "AfgoerelseId": decision_ids,
        "SagId": sag_id[decisions["case"]],
        "Paragraf": _paragraph(decisions["code"].to_numpy(), decisions["decided"].to_numpy()),
        "AnsoegningDato": decisions["applied"],
        "AfgoerelseDato": decisions["decided"],
        "FristDato": decisions["deadline"],
        "Udfald": decisions["udfald"],
        "OpdateretTid": change_timestamps(rng, decisions["decided"].to_numpy(), w),
    })

    handleplan = pd.DataFrame({
        "HandleplanId": ids_in_order(plans["date"].to_numpy(), sag_id[plans["case"]]),
        "SagId": sag_id[plans["case"]],
        "AfgoerelseId": decision_ids[plans["decision"]],
        "Dato": plans["date"],
        "NaesteOpfoelgning": plans["follow_up"],
        "OpdateretTid": change_timestamps(rng, plans["date"].to_numpy(), w),
    })

    child_barn_id = pd.Series(children["barn_id"].to_numpy(), index=children["child"].to_numpy())
    barn_id = child_barn_id[notifications["child"].to_numpy()].to_numpy()
    received = notifications["received"].to_numpy()
    assessed = notifications["assessed"].to_numpy()
    underretning = pd.DataFrame({
        "UnderretningId": ids_in_order(received, barn_id),
        "BarnId": pd.array(np.where(notifications["unlinked"], 0, barn_id), dtype="Int64"),
        "ModtagetTid": received,
        "VurderetTid": assessed,
        "Kilde": notifications["kilde"].to_numpy(),
        "Akut": notifications["akut"].to_numpy(),
        "OpdateretTid": change_timestamps(rng, np.where(np.isnat(assessed), received, assessed), w, 0.5,
                                          timestamps=True),
    })
    underretning.loc[notifications["unlinked"].to_numpy(), "BarnId"] = pd.NA

    sagsbehandler = pd.DataFrame({
        "SagsbehandlerId": workers["id"],
        "EnhedKode": workers["unit"],
        "Aktiv": workers["active"],
        "OpdateretTid": change_timestamps(rng, uniform_dates(rng, w.start, w.end, len(workers)), w),
    })
    return {"Barn": barn, "Sag": sag, "Underretning": underretning, "Undersoegelse": undersoegelse,
            "Foranstaltning": foranstaltning, "Afgoerelse": afgoerelse, "Handleplan": handleplan,
            "Sagsbehandler": sagsbehandler}
