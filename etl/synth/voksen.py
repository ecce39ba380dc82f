"""`voksen`: adult citizens, cases, decisions, services, waiting lists and VUM assessments.

The adult population has three origins, so the citizen model has real links to follow:
people who stay at facilities and also have an adult case (every §107/§108/ABL §105 stay
is a granted service at that tilbud; §110/§109 stays get a quick decision), young people
placed as children who get an adult case between 18 and 22, and citizens with a case only
(§85 support, §101 treatment), who fill up the profile's number of citizens.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from etl.core.vocabulary import (
    ALMEN_BOLIG,
    DISABILITY_TARGET_GROUPS,
    FORSORGSHJEM,
    HERBERG,
    KRISECENTER,
    LAENGEREVARENDE_BOTILBUD,
    MIDLERTIDIGT_BOTILBUD,
    NATCAFE,
)
from etl.synth.boern import BoernData
from etl.synth.context import Context, assign_caseworkers
from etl.synth.draw import choose, choose_from, explode, guids, ids_in_order
from etl.synth.tilbud import TilbudData
from etl.synth.timeline import (
    DAY,
    DAYS_PER_YEAR,
    NAT_DAY,
    RUSMIDDEL_LAW_FROM,
    Window,
    change_timestamps,
    days,
    lognormal,
    to_day,
    uniform_dates,
)

#: Share of young people placed on their 18th birthday who get an adult case by 22.
ADULT_CASE_AFTER_PLACEMENT = 0.4
#: Case-only citizens are simulated from this long before the history start.
BURN_IN_YEARS = 5
SECOND_CASE_SHARE = 0.12
REFUSAL_SHARE = 0.1
PENDING_PLACEMENT_SHARE = 0.06
ABANDONED_PLACEMENT_SHARE = 0.04
SEL101_BEFORE = "SEL §101"

SERVICE_CODE_BY_FACILITY = {
    MIDLERTIDIGT_BOTILBUD: "SEL107",
    LAENGEREVARENDE_BOTILBUD: "SEL108",
    ALMEN_BOLIG: "ABL105",
    HERBERG: "SEL110",
    FORSORGSHJEM: "SEL110",
    KRISECENTER: "SEL109",
}
WAITING_LIST_TYPE = {"SEL107": "§107", "SEL108": "§108", "ABL105": "ABL §105"}
SERVICE_TYPES = {
    "SEL85": {"Socialpædagogisk støtte": 70, "Socialpædagogisk støtte i gruppe": 15, "Bostøtte": 15},
    "SEL101": {"Ambulant behandling": 70, "Dagbehandling": 20, "Døgnbehandling": 10},
    "SEL107": {"Midlertidigt botilbud": 1},
    "SEL108": {"Længerevarende botilbud": 1},
    "ABL105": {"Almen bolig med støtte": 1},
}
TARGET_GROUP_BY_FACILITY = {
    MIDLERTIDIGT_BOTILBUD: {"Psykiatri": 45, "Handicap": 25, "Hjemløshed": 15, "Rusmiddel": 15},
    LAENGEREVARENDE_BOTILBUD: {"Handicap": 70, "Psykiatri": 30},
    ALMEN_BOLIG: {"Handicap": 50, "Psykiatri": 50},
    HERBERG: {"Hjemløshed": 70, "Rusmiddel": 20, "Socialt udsat": 10},
    FORSORGSHJEM: {"Hjemløshed": 70, "Rusmiddel": 20, "Socialt udsat": 10},
    NATCAFE: {"Hjemløshed": 80, "Rusmiddel": 20},
    KRISECENTER: {"Socialt udsat": 1},
}
#: Mean number of §85/§101 services per case, by where the citizen came from.
SERVICES_PER_CASE = {"case": 1.5, "placed": 1.5, HERBERG: 0.5, FORSORGSHJEM: 0.5,
                     NATCAFE: 0.4, KRISECENTER: 0.4}
TARGET_GROUP_AFTER_PLACEMENT = {"Socialt udsat": 40, "Psykiatri": 30, "Rusmiddel": 20, "Hjemløshed": 10}
TARGET_GROUP_CASE_ONLY = {"Handicap": 30, "Psykiatri": 25, "Rusmiddel": 25, "Socialt udsat": 15, "Hjemløshed": 5}
AGES_CASE_ONLY = {"Handicap": (18, 75), "Psykiatri": (18, 65), "Hjemløshed": (20, 65), "Rusmiddel": (20, 65),
                  "Socialt udsat": (18, 70)}
UNITS_BY_TARGET_GROUP = {
    "Handicap": ("CHR-01", "CHR-02"),
    "Psykiatri": ("CSU-ØST", "CSU-VEST", "CSU-NORD"),
    "Socialt udsat": ("CSU-ØST", "CSU-VEST", "CSU-NORD"),
    "Hjemløshed": ("CSU-ØST", "CSU-VEST", "CSU-NORD", "CRM-01", "CRM-01", "CRM-01"),
    "Rusmiddel": ("CRM-01",),
}
#: VUM level (0-4) weights at the first assessment, by the citizen's main service.
FIRST_LEVEL = {"SEL108": (0, 2, 15, 58, 25), "SEL107": (5, 20, 45, 25, 5), "ABL105": (5, 25, 45, 20, 5),
               "other": (15, 40, 30, 12, 3)}
WAITING_LIST_EXITS_WITHOUT_PLACE = {"Udgået": 60, "Død": 15, "Fraflyttet": 25}


@dataclass
class VoksenData:
    tables: dict[str, pd.DataFrame]  # contract columns plus `_person_id` on borger
    activity: pd.DataFrame  # person_id, start, end (NaT = open), group (maalgruppe): case periods


def build_voksen(ctx: Context, boern: BoernData, tilbud: TilbudData) -> VoksenData:
    rng = ctx.rng("voksen")
    w = ctx.window
    for units in UNITS_BY_TARGET_GROUP.values():
        ctx.reference.units("voksen", *units)

    facility_citizens = _facility_citizens(rng, tilbud)
    young_adults = _after_placement(rng, w, boern)
    n_case_only = max(0, ctx.profile.adult_citizens - len(facility_citizens) - len(young_adults))
    candidates = _case_only_candidates(rng, w, int(n_case_only * 1.6) + 10)
    citizens = pd.concat([facility_citizens, young_adults, candidates], ignore_index=True)
    citizens["citizen"] = np.arange(len(citizens))

    cases = _cases(rng, citizens)
    citizen_of_person = citizens[citizens["person_id"] >= 0].set_index("person_id")["citizen"]
    stays = tilbud.stays[tilbud.stays["person_id"].isin(citizen_of_person.index)]
    first_case = pd.Series(np.arange(len(cases)), index=cases["citizen"].to_numpy()).groupby(level=0).min()
    stays = stays.assign(case=first_case[citizen_of_person[stays["person_id"]].to_numpy()].to_numpy())

    residence, facility_decisions, facility_waiting = _facility_services(ctx, rng, stays)
    grants = pd.concat([residence, _support_services(ctx, rng, cases)], ignore_index=True)
    placements, placement_waiting = _waiting_for_a_place(ctx, rng, cases, grants)
    waiting = pd.concat([facility_waiting, placement_waiting], ignore_index=True)
    decisions = pd.concat([facility_decisions, placements, _refusals(ctx, rng, cases, grants)], ignore_index=True)
    cases = _close_cases(rng, w, cases, grants, waiting, stays)
    cases, grants, decisions, waiting = _end_at_death(cases, grants, decisions, waiting)

    citizens, cases = _keep_observed(ctx, rng, citizens, cases, n_case_only)
    grants = grants[grants["case"].isin(cases.index)]
    decisions = decisions[decisions["case"].isin(cases.index)]
    waiting = waiting[waiting["case"].isin(cases.index)]
    died = waiting[waiting["reason"] == "Død"]
    ctx.persons.death[citizens["person_id"][cases["citizen"][died["case"]]].to_numpy()] = died["left"].to_numpy()

    tables = _render(ctx, rng, citizens, cases, grants, decisions, waiting)
    return VoksenData(
        tables=tables,
        activity=pd.DataFrame({
            "person_id": citizens["person_id"][cases["citizen"]].to_numpy(),
            "start": cases["opened"].to_numpy(),
            "end": cases["closed"].to_numpy(),
            "group": cases["maalgruppe"].to_numpy(),
        }),
    )


def _facility_citizens(rng: np.random.Generator, tilbud: TilbudData) -> pd.DataFrame:
    """Stay persons who also have an adult case, opened shortly before their first stay."""
    persons = tilbud.persons[tilbud.persons["adult_system"]]
    group = np.empty(len(persons), dtype=object)
    for facility_type, weights in TARGET_GROUP_BY_FACILITY.items():
        here = (persons["tilbudstype"] == facility_type).to_numpy()
        group[here] = choose(rng, weights, here.sum())
    first_stay = tilbud.stays.groupby("person_id")["start"].min()
    first_stay = to_day(first_stay.reindex(persons["person_id"]).to_numpy())
    return pd.DataFrame({
        "person_id": persons["person_id"].to_numpy(),
        "maalgruppe": group,
        "origin": persons["tilbudstype"].to_numpy(),
        "case_start": first_stay - days(30 + rng.random(len(persons)) * 150),
    })


def _after_placement(rng: np.random.Generator, w: Window, boern: BoernData) -> pd.DataFrame:
    """~40 % of young people placed on their 18th birthday get an adult case between 18 and 22."""
    placed = boern.placed_at_18
    opened = placed["adult_day"].to_numpy() + days(rng.random(len(placed)) * 4 * DAYS_PER_YEAR)
    chosen = (rng.random(len(placed)) < ADULT_CASE_AFTER_PLACEMENT) & (opened < w.end)
    group = choose(rng, TARGET_GROUP_AFTER_PLACEMENT, len(placed))
    group = np.where(placed["maalgruppe"].to_numpy() == "Handicap", "Handicap", group)
    return pd.DataFrame({"person_id": placed["person_id"].to_numpy()[chosen], "maalgruppe": group[chosen],
                         "origin": "placed", "case_start": opened[chosen]})


def _case_only_candidates(rng: np.random.Generator, w: Window, n: int) -> pd.DataFrame:
    """More case-only citizens than needed; those whose cases miss the history are dropped later."""
    return pd.DataFrame({
        "person_id": -1,
        "maalgruppe": choose(rng, TARGET_GROUP_CASE_ONLY, n),
        "origin": "case",
        "case_start": uniform_dates(rng, w.start - days(BURN_IN_YEARS * DAYS_PER_YEAR), w.end, n),
    })


def _cases(rng: np.random.Generator, citizens: pd.DataFrame) -> pd.DataFrame:
    """One case per citizen, and a second, independent case for some case-only citizens."""
    second = citizens[(citizens["origin"] == "case").to_numpy() & (rng.random(len(citizens)) < SECOND_CASE_SHARE)]
    return pd.concat([
        pd.DataFrame({"citizen": citizens["citizen"], "origin": citizens["origin"],
                      "maalgruppe": citizens["maalgruppe"], "opened": citizens["case_start"]}),
        pd.DataFrame({"citizen": second["citizen"].to_numpy(), "origin": "case",
                      "maalgruppe": choose(rng, TARGET_GROUP_CASE_ONLY, len(second)),
                      "opened": second["case_start"].to_numpy() + days(
                          (0.5 + rng.random(len(second)) * 4) * DAYS_PER_YEAR)}),
    ], ignore_index=True)


def _grants(ctx: Context, rng: np.random.Generator, case: np.ndarray, code: np.ndarray, decided: np.ndarray,
            start: np.ndarray, end: np.ndarray, tilbud_id: np.ndarray) -> pd.DataFrame:
    """Granted services with the decision that granted them."""
    return pd.DataFrame({
        "case": case, "code": code, "decided": decided,
        "applied": ctx.application_dates(rng, decided, code),
        "udfald": np.where(rng.random(len(case)) < 0.9, "Bevilget", "Delvis bevilget"),
        "start": start, "end": np.where(end >= ctx.window.end, NAT_DAY, end), "tilbud_id": tilbud_id,
    })


def _facility_services(ctx: Context, rng: np.random.Generator,
                       stays: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A granted service per §107/§108/ABL stay (after a wait on the list), and a decision
    within days for every §110/§109 stay; all on the citizen's first case."""
    stays = stays[stays["tilbudstype"].isin(SERVICE_CODE_BY_FACILITY)]
    case = stays["case"].to_numpy()
    code = stays["tilbudstype"].map(SERVICE_CODE_BY_FACILITY).to_numpy()
    start = to_day(stays["start"].to_numpy())
    end = to_day(stays["end"].to_numpy())
    residence = np.isin(code, list(WAITING_LIST_TYPE))

    res = np.flatnonzero(residence)
    decided = start[res] - days(rng.exponential(np.where(code[res] == "SEL107", 30, 60)))
    grants = _grants(ctx, rng, case[res], code[res], decided, start[res], end[res],
                     stays["tilbud_id"].to_numpy()[res])
    waiting = pd.DataFrame({
        "case": case[res], "code": code[res],
        "listed": np.minimum(decided + days(rng.random(len(res)) * 4), start[res]),
        "left": start[res], "reason": "Tilbudt plads",
    })
    # Most almen-bolig residents also get §85 support while they live there.
    abl = np.flatnonzero((code[res] == "ABL105") & (rng.random(len(res)) < 0.7))
    support = _grants(ctx, rng, case[res][abl], np.full(len(abl), "SEL85"), decided[abl] + days(rng.random(len(abl)) * 10),
                      start[res][abl], end[res][abl], np.full(len(abl), -1))

    shelter = np.flatnonzero(~residence)
    applied = start[shelter]
    on_time = rng.random(len(shelter)) < 0.85
    shelter_decisions = pd.DataFrame({
        "case": case[shelter], "code": code[shelter], "applied": applied,
        "decided": applied + days(np.where(on_time, 1 + rng.random(len(shelter)) * 2, 3 + rng.random(len(shelter)) * 28)),
        "udfald": np.where(rng.random(len(shelter)) < 0.95, "Bevilget", "Afslag"),
    })
    return pd.concat([grants, support], ignore_index=True), shelter_decisions, waiting


def _support_services(ctx: Context, rng: np.random.Generator, cases: pd.DataFrame) -> pd.DataFrame:
    """§85 support or §101 treatment in sequence on a case, each granted by a decision."""
    w = ctx.window
    mean = cases["origin"].map(SERVICES_PER_CASE).fillna(0).to_numpy()
    from_case = (cases["origin"].isin(["case", "placed"])).to_numpy()
    n_services = np.where(from_case, 1 + rng.poisson(np.maximum(mean - 1, 0)), rng.poisson(mean))
    case = explode(n_services)
    k = len(case)
    code = np.where(cases["maalgruppe"].to_numpy()[case] == "Rusmiddel", "SEL101", "SEL85")
    length = np.where(code == "SEL101", lognormal(rng, 180, 0.7, k, 14, 1500), lognormal(rng, 540, 0.8, k, 30, 4000))
    cycle = length + 7 + rng.random(k) * 120
    before = pd.Series(cycle).groupby(case).cumsum().to_numpy() - cycle
    decided = cases["opened"].to_numpy()[case] + days(7 + rng.random(k) * 50 + before)
    start = decided + days(rng.random(k) * 20)
    ok = start < w.end
    return _grants(ctx, rng, case[ok], code[ok], decided[ok], start[ok], start[ok] + days(length[ok]),
                   np.full(ok.sum(), -1))


def _waiting_for_a_place(ctx: Context, rng: np.random.Generator, cases: pd.DataFrame,
                         grants: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Handicap and psychiatry citizens granted a residential place they have not got yet
    (still on the list), or never got (left the list)."""
    w = ctx.window
    open_service = grants[grants["end"].isna()]["case"].unique()
    eligible = cases["maalgruppe"].isin(DISABILITY_TARGET_GROUPS).to_numpy() & (cases["origin"] == "case").to_numpy()
    pending = np.flatnonzero(eligible & cases.index.isin(open_service) & (rng.random(len(cases)) < PENDING_PLACEMENT_SHARE))
    abandoned = np.flatnonzero(eligible & (rng.random(len(cases)) < ABANDONED_PLACEMENT_SHARE))
    opened = cases["opened"].to_numpy()
    pending_decided = np.maximum(w.end - days(1 + rng.random(len(pending)) * 270), opened[pending])
    abandoned_decided = uniform_dates(rng, opened[abandoned], w.end - 60 * DAY)
    case = np.concatenate([pending, abandoned])
    decided = np.concatenate([pending_decided, abandoned_decided])
    code = choose(rng, {"SEL107": 40, "SEL108": 40, "ABL105": 20}, len(case))
    left = abandoned_decided + days(30 + rng.random(len(abandoned)) * 300)
    left = np.concatenate([np.full(len(pending), NAT_DAY), np.where(left >= w.end, NAT_DAY, left)])
    reason = np.concatenate([np.full(len(pending), None), choose(rng, WAITING_LIST_EXITS_WITHOUT_PLACE, len(abandoned))])
    decisions = pd.DataFrame({"case": case, "code": code, "decided": decided,
                              "applied": ctx.application_dates(rng, decided, code), "udfald": "Bevilget"})
    waiting = pd.DataFrame({"case": case, "code": code,
                            "listed": decided + days(rng.random(len(case)) * 4), "left": left,
                            "reason": np.where(np.isnat(left), None, reason)})
    return decisions, waiting


def _refusals(ctx: Context, rng: np.random.Generator, cases: pd.DataFrame, grants: pd.DataFrame) -> pd.DataFrame:
    """Refused applications, about one decision in ten."""
    n = int(round(len(grants) * REFUSAL_SHARE / (1 - REFUSAL_SHARE)))
    case = rng.integers(0, len(cases), n)
    rusmiddel = cases["maalgruppe"].to_numpy()[case] == "Rusmiddel"
    code = np.where(rusmiddel, "SEL101", choose(rng, {"SEL85": 70, "SEL107": 10, "SEL108": 10, "ABL105": 10}, n))
    decided = uniform_dates(rng, cases["opened"].to_numpy()[case] + 14 * DAY, ctx.window.end)
    return pd.DataFrame({"case": case, "code": code, "decided": decided,
                         "applied": ctx.application_dates(rng, decided, code), "udfald": "Afslag"})


def _close_cases(rng: np.random.Generator, w: Window, cases: pd.DataFrame, grants: pd.DataFrame,
                 waiting: pd.DataFrame, stays: pd.DataFrame) -> pd.DataFrame:
    """A case closes some weeks after its last service, stay or waiting-list place ends; it
    stays open while any of them is open."""
    ends = pd.concat([
        pd.DataFrame({"case": grants["case"].to_numpy(), "end": grants["end"].to_numpy()}),
        pd.DataFrame({"case": waiting["case"].to_numpy(), "end": waiting["left"].to_numpy()}),
        pd.DataFrame({"case": stays["case"].to_numpy(), "end": to_day(stays["end"].to_numpy())}),
        pd.DataFrame({"case": np.arange(len(cases)), "end": cases["opened"].to_numpy()}),
    ])
    still_open = ends["end"].isna().groupby(ends["case"]).any().reindex(np.arange(len(cases)), fill_value=False)
    last = ends.groupby("case")["end"].max().reindex(np.arange(len(cases))).to_numpy()
    closed = to_day(last) + days(rng.random(len(cases)) * 90)
    cases = cases.copy()
    cases["closed"] = np.where(still_open.to_numpy() | (closed >= w.end), NAT_DAY, closed)
    return cases


def _keep_observed(ctx: Context, rng: np.random.Generator, citizens: pd.DataFrame, cases: pd.DataFrame,
                   n_case_only: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Keep cases seen in the history, and as many case-only citizens as the profile wants;
    only those get a person (and a CPR number)."""
    w = ctx.window
    observed = (cases["closed"].isna() | (cases["closed"] >= w.start)).to_numpy() & (cases["opened"] < w.end).to_numpy()
    cases = cases[observed]
    seen = np.unique(cases["citizen"].to_numpy())
    candidates = citizens[(citizens["origin"] == "case").to_numpy() & citizens["citizen"].isin(seen).to_numpy()]
    chosen = candidates.iloc[:n_case_only]
    citizens = citizens[(citizens["origin"] != "case").to_numpy() | citizens["citizen"].isin(chosen["citizen"]).to_numpy()]
    citizens = citizens.set_index("citizen", drop=False)

    new = (citizens["person_id"] < 0).to_numpy()
    group = citizens["maalgruppe"].to_numpy()[new]
    lo = pd.Series(group).map({g: a[0] for g, a in AGES_CASE_ONLY.items()}).to_numpy(dtype=float)
    hi = pd.Series(group).map({g: a[1] for g, a in AGES_CASE_ONLY.items()}).to_numpy(dtype=float)
    birth = citizens["case_start"].to_numpy()[new] - days((lo + rng.random(new.sum()) * (hi - lo)) * DAYS_PER_YEAR)
    citizens.loc[new, "person_id"] = ctx.persons.add(birth, rng.random(new.sum()) < 0.55, "adult")
    return citizens, cases[cases["citizen"].isin(citizens.index)]


def _end_at_death(cases: pd.DataFrame, grants: pd.DataFrame, decisions: pd.DataFrame,
                  waiting: pd.DataFrame) -> tuple[pd.DataFrame, ...]:
    """A citizen who left a waiting list by death has nothing after that day: later cases,
    decisions and places are dropped, open services and cases end on the day of death."""
    died = waiting[waiting["reason"] == "Død"]
    death = pd.Series(died["left"].to_numpy(), index=cases["citizen"].to_numpy()[died["case"]])
    death = death.groupby(level=0).min()
    case_death = cases["citizen"].map(death).to_numpy()
    cases = cases[~(cases["opened"].to_numpy() > case_death)].copy()
    cases["closed"] = np.fmin(cases["closed"].to_numpy(), cases["citizen"].map(death).to_numpy())

    def day_of_death(frame: pd.DataFrame) -> np.ndarray:
        return cases["citizen"].reindex(frame["case"]).map(death).to_numpy()

    grants = grants[grants["case"].isin(cases.index)]
    grants = grants[~(grants["start"].to_numpy() > day_of_death(grants))].copy()
    grants["end"] = np.where(np.isnat(grants["end"].to_numpy()), day_of_death(grants),
                             np.fmin(grants["end"].to_numpy(), day_of_death(grants)))
    decisions = decisions[decisions["case"].isin(cases.index)]
    decisions = decisions[~(decisions["decided"].to_numpy() > day_of_death(decisions))]
    waiting = waiting[waiting["case"].isin(cases.index)]
    waiting = waiting[~(waiting["listed"].to_numpy() > day_of_death(waiting))]
    return cases, grants, decisions, waiting


def _render(ctx: Context, rng: np.random.Generator, citizens: pd.DataFrame, cases: pd.DataFrame,
            grants: pd.DataFrame, decisions: pd.DataFrame, waiting: pd.DataFrame) -> dict[str, pd.DataFrame]:
    w = ctx.window
    person = citizens["person_id"].to_numpy(dtype="int64")
    first_opened = cases.groupby("citizen")["opened"].min().reindex(citizens.index).to_numpy()
    borger_id = pd.Series(guids(rng, len(citizens)), index=citizens.index)
    borger = pd.DataFrame({
        "borger_id": borger_id.to_numpy(),
        "cpr": None,
        "foedselsdato": ctx.persons.birth_of(person),
        "koen": np.where(ctx.persons.male_of(person), "M", "K"),
        "opdateret": change_timestamps(rng, np.maximum(first_opened, w.start), w),
        "_person_id": person,
    })

    case_key = cases.index.to_numpy()
    opened = cases["opened"].to_numpy()
    closed = cases["closed"].to_numpy()
    sag_id = pd.Series(ids_in_order(opened, cases["citizen"].to_numpy(), first=100_001), index=case_key)
    units = np.empty(len(cases), dtype=object)
    for group, options in UNITS_BY_TARGET_GROUP.items():
        here = (cases["maalgruppe"] == group).to_numpy()
        units[here] = choose_from(rng, options, here.sum())
    is_open = np.isnat(closed)
    worker, _ = assign_caseworkers(rng, units, is_open)
    unassigned = is_open & (opened >= w.end - 30 * DAY) & (rng.random(len(cases)) < 0.4)
    last_event = pd.concat([
        pd.Series(np.where(is_open, opened, closed), index=case_key),
        pd.Series(grants["start"].to_numpy(), index=grants["case"].to_numpy()),
        pd.Series(grants["end"].to_numpy(), index=grants["case"].to_numpy()),
        pd.Series(decisions["decided"].to_numpy(), index=decisions["case"].to_numpy()),
    ])
    last_event = last_event[last_event < w.end].groupby(level=0).max().reindex(case_key).to_numpy()
    sag = pd.DataFrame({
        "sag_id": sag_id.to_numpy(),
        "borger_id": borger_id[cases["citizen"]].to_numpy(),
        "oprettet": opened,
        "lukket": closed,
        "enhed_kode": units,
        "sagsbehandler_id": pd.array(np.where(unassigned, 0, worker), dtype="Int64"),
        "maalgruppe": cases["maalgruppe"].to_numpy(),
        "opdateret": change_timestamps(rng, np.maximum(last_event, w.start), w),
        "slettet": False,
    })
    sag.loc[unassigned, "sagsbehandler_id"] = pd.NA

    with_service = grants.reset_index(drop=True)
    all_decisions = pd.concat([
        with_service[["case", "code", "applied", "decided", "udfald"]].assign(service=np.arange(len(with_service))),
        decisions[["case", "code", "applied", "decided", "udfald"]].assign(service=-1),
    ], ignore_index=True)
    in_window = ((all_decisions["decided"] >= w.start) & (all_decisions["decided"] < w.end)).to_numpy()
    all_decisions = all_decisions[in_window]
    decided = all_decisions["decided"].to_numpy()
    decision_id = ids_in_order(decided, sag_id[all_decisions["case"]].to_numpy())
    code = all_decisions["code"].to_numpy()
    afgoerelse = pd.DataFrame({
        "afgoerelse_id": decision_id,
        "sag_id": sag_id[all_decisions["case"]].to_numpy(),
        "paragraf": _paragraphs(ctx, rng, code, decided),
        "ansoegt_dato": all_decisions["applied"].to_numpy(),
        "afgoerelse_dato": decided,
        "frist_dato": ctx.deadlines(all_decisions["applied"].to_numpy(), code),
        "udfald": all_decisions["udfald"].to_numpy(),
        "opdateret": change_timestamps(rng, decided, w),
    })

    decision_of_service = pd.Series(decision_id, index=all_decisions["service"].to_numpy())
    decision_of_service = decision_of_service[decision_of_service.index >= 0]
    observed = (with_service["end"].isna() | (with_service["end"] >= w.start)).to_numpy()
    services = with_service[observed]
    service_pos = np.flatnonzero(observed)
    start = services["start"].to_numpy()
    end = services["end"].to_numpy()
    service_code = services["code"].to_numpy()
    service_type = np.empty(len(services), dtype=object)
    for service, types in SERVICE_TYPES.items():
        here = service_code == service
        service_type[here] = choose(rng, types, here.sum())
    tilbud_id = services["tilbud_id"].to_numpy()
    ydelse = pd.DataFrame({
        "ydelse_id": ids_in_order(start, sag_id[services["case"]].to_numpy()),
        "sag_id": sag_id[services["case"]].to_numpy(),
        "afgoerelse_id": pd.array(decision_of_service.reindex(service_pos).to_numpy(), dtype="Int64"),
        "paragraf": _paragraphs(ctx, rng, service_code, start),
        "ydelsestype": service_type,
        "start_dato": start,
        "slut_dato": end,
        "tilbud_id": pd.array(np.where(tilbud_id < 0, np.nan, tilbud_id), dtype="Int64"),
        "opdateret": change_timestamps(rng, np.where(np.isnat(end), np.maximum(start, w.start), end), w),
        "slettet": False,
    })

    waiting = waiting[(waiting["left"].isna() | (waiting["left"] >= w.start)).to_numpy()
                      & (waiting["listed"] < w.end).to_numpy()]
    listed = waiting["listed"].to_numpy()
    left = waiting["left"].to_numpy()
    waiting_borger = borger_id[cases["citizen"][waiting["case"]]].to_numpy()
    venteliste = pd.DataFrame({
        "venteliste_id": ids_in_order(listed, sag_id[waiting["case"]].to_numpy()),
        "borger_id": waiting_borger,
        "tilbudstype": waiting["code"].map(WAITING_LIST_TYPE).to_numpy(),
        "opskrevet_dato": listed,
        "afgang_dato": left,
        "afgang_aarsag": waiting["reason"].to_numpy(),
        "opdateret": change_timestamps(rng, np.maximum(np.where(np.isnat(left), listed, left), w.start), w),
    })

    return {"borger": borger, "sag": sag, "afgoerelse": afgoerelse, "ydelse": ydelse, "venteliste": venteliste,
            "funktionsvurdering": _assessments(ctx, rng, cases, grants, borger_id)}


def _assessments(ctx: Context, rng: np.random.Generator, cases: pd.DataFrame, grants: pd.DataFrame,
                 borger_id: pd.Series) -> pd.DataFrame:
    """1-4 VUM assessments per handicap/psychiatry citizen (during the first such case), the
    level drifting a step at a time."""
    w = ctx.window
    assessed = cases[cases["maalgruppe"].isin(DISABILITY_TARGET_GROUPS).to_numpy()].drop_duplicates("citizen")
    lo = np.maximum(assessed["opened"].to_numpy(), w.start)
    hi = np.where(assessed["closed"].isna(), w.end, assessed["closed"].to_numpy())
    assessed, lo, hi = assessed[hi > lo], lo[hi > lo], hi[hi > lo]
    count = 1 + rng.binomial(3, 0.4, len(assessed))
    case = explode(count)
    day = uniform_dates(rng, lo[case], hi[case])
    order = np.lexsort((day, case))
    case, day = case[order], day[order]

    residence = grants[grants["code"].isin(list(WAITING_LIST_TYPE))].drop_duplicates("case", keep="last")
    main_service = residence.set_index("case")["code"].reindex(assessed.index).fillna("other").to_numpy()
    first_level = np.zeros(len(assessed), dtype="int64")
    for service, weights in FIRST_LEVEL.items():
        here = main_service == service
        p = np.asarray(weights, dtype=float)
        first_level[here] = rng.choice(5, here.sum(), p=p / p.sum())
    first_of_case = np.r_[True, case[1:] != case[:-1]]
    step = np.where(first_of_case, 0, rng.choice([-1, 0, 1], len(case), p=[0.2, 0.6, 0.2]))
    level = np.clip(first_level[case] + pd.Series(step).groupby(case).cumsum().to_numpy(), 0, 4)
    citizen = assessed["citizen"].to_numpy()[case]
    return pd.DataFrame({
        "vurdering_id": ids_in_order(day, citizen),
        "borger_id": borger_id[citizen].to_numpy(),
        "dato": day,
        "niveau": level,
        "opdateret": change_timestamps(rng, day, w),
    })


def _paragraphs(ctx: Context, rng: np.random.Generator, codes: np.ndarray, on: np.ndarray) -> np.ndarray:
    """Paragraph texts as caseworkers type them: any of the reference's variants for the code;
    §101 as Serviceloven before 1 July 2025 and Rusmiddelbehandlingsloven after."""
    texts = np.empty(len(codes), dtype=object)
    for code in np.unique(codes):
        here = codes == code
        variants = ctx.reference.paragraphs_by_code[code]
        if code == "SEL101":
            new_law = on >= RUSMIDDEL_LAW_FROM
            texts[here & ~new_law] = ctx.reference.paragraph(code, SEL101_BEFORE)
            variants = tuple(v for v in variants if v != SEL101_BEFORE)
            here = here & new_law
        weights = np.r_[1.0, np.full(len(variants) - 1, 0.8 / max(len(variants) - 1, 1))]
        texts[here] = np.array(variants, dtype=object)[rng.choice(len(variants), here.sum(), p=weights / weights.sum())]
    return texts

