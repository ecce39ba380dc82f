"""`tilbud`: facilities, stays and use of force.

Stays are simulated bed by bed: each bed alternates stays and vacant gaps whose lengths
are drawn so that the facility's occupancy lands at a target between 70 % and 95 %, and
the first stays start before the history start so the residents present on day one are
there. A person's stays are consecutive stays on one bed, so a person never has two
overlapping stays unless the `overlapping_stays` quirk plants one.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from etl.core.vocabulary import (
    ALMEN_BOLIG,
    BOTILBUD_107_108,
    FORSORGSHJEM,
    HERBERG,
    KRISECENTER,
    LAENGEREVARENDE_BOTILBUD,
    MIDLERTIDIGT_BOTILBUD,
    NATCAFE,
    UNKNOWN,
)
from etl.synth.context import Context
from etl.synth.draw import choose, explode, ids_in_order
from etl.synth.timeline import (
    DAY,
    DAYS_PER_YEAR,
    NAT_DAY,
    NAT_SECOND,
    Window,
    at_hours,
    change_timestamps,
    days,
    seconds,
    to_day,
    uniform_dates,
)

EXITS_SHELTER = {"Egen bolig": 20, "§107": 8, "§108": 3, "Andet herberg": 17, "Hospital": 8, "Fængsel": 6, UNKNOWN: 38}


@dataclass(frozen=True)
class FacilityKind:
    """How one tilbudstype is used: capacity, length of stay, who stays and where they go."""

    tilbudstype: str
    unit: str
    beds_per_1000_adults: float
    typical_places: int
    median_days: float
    sigma: float
    max_days: float
    stays_per_run: float  # mean consecutive stays by one person on one bed
    runs_per_person: float  # mean returns of a person to the same bed
    anonymous_share: float
    adult_system_share: float  # share of named persons who are citizens in `voksen`
    women_share: float
    ages: tuple[int, int]
    checkin_hours: tuple[float, float]
    exits: dict[str, float]
    nightly: bool = False  # a natcafé: one stay per night


KINDS = (
    FacilityKind(HERBERG, "TIL-HERB", beds_per_1000_adults=10, typical_places=35, median_days=30, sigma=1.0,
                 max_days=540, stays_per_run=2.0, runs_per_person=1.3, anonymous_share=0.0, adult_system_share=0.5,
                 women_share=0.25, ages=(22, 70), checkin_hours=(14, 22), exits=EXITS_SHELTER),
    FacilityKind(FORSORGSHJEM, "TIL-HERB", beds_per_1000_adults=5, typical_places=30, median_days=60, sigma=0.9,
                 max_days=540, stays_per_run=1.5, runs_per_person=1.3, anonymous_share=0.0, adult_system_share=0.5,
                 women_share=0.2, ages=(22, 70), checkin_hours=(10, 18), exits=EXITS_SHELTER),
    FacilityKind(NATCAFE, "TIL-NAT", beds_per_1000_adults=2, typical_places=20, median_days=0.4, sigma=0.0,
                 max_days=1, stays_per_run=6.0, runs_per_person=8.0, anonymous_share=0.6, adult_system_share=0.3,
                 women_share=0.2, ages=(22, 70), checkin_hours=(21, 25),
                 exits={UNKNOWN: 85, "Andet herberg": 10, "Hospital": 5}, nightly=True),
    FacilityKind(KRISECENTER, "TIL-KRISE", beds_per_1000_adults=3, typical_places=12, median_days=45, sigma=0.8,
                 max_days=365, stays_per_run=1.0, runs_per_person=1.1, anonymous_share=0.3, adult_system_share=0.2,
                 women_share=0.95, ages=(19, 55), checkin_hours=(10, 22),
                 exits={"Egen bolig": 50, "Andet herberg": 10, "Hospital": 2, UNKNOWN: 38}),
    FacilityKind(MIDLERTIDIGT_BOTILBUD, "TIL-BO107", beds_per_1000_adults=12, typical_places=20, median_days=300,
                 sigma=0.8, max_days=2000, stays_per_run=1.0, runs_per_person=1.0, anonymous_share=0.0,
                 adult_system_share=1.0, women_share=0.45, ages=(18, 60), checkin_hours=(9, 15),
                 exits={"Egen bolig": 40, "§108": 25, "Andet herberg": 8, "Hospital": 5, UNKNOWN: 22}),
    FacilityKind(LAENGEREVARENDE_BOTILBUD, "TIL-BO108", beds_per_1000_adults=20, typical_places=25,
                 median_days=2200, sigma=0.7, max_days=9000, stays_per_run=1.0, runs_per_person=1.0,
                 anonymous_share=0.0, adult_system_share=1.0, women_share=0.45, ages=(18, 65), checkin_hours=(9, 15),
                 exits={"Egen bolig": 10, "§107": 5, "Hospital": 15, UNKNOWN: 70}),
    FacilityKind(ALMEN_BOLIG, "TIL-ABL", beds_per_1000_adults=10, typical_places=20, median_days=1800,
                 sigma=0.7, max_days=9000, stays_per_run=1.0, runs_per_person=1.0, anonymous_share=0.0,
                 adult_system_share=1.0, women_share=0.45, ages=(18, 60), checkin_hours=(9, 15),
                 exits={"Egen bolig": 40, "§108": 20, "Hospital": 5, UNKNOWN: 35}),
)
FORCE_TYPES = {"Fastholdelse": 40, "Tilbageholdelse i boligen": 10, "Personlig alarm": 20,
               "Flytning uden samtykke": 10, "Andet": 20}
#: Incidents of use of force per resident-year at §107/§108 (a few residents account for most).
FORCE_PER_RESIDENT_YEAR = 0.6
CLOSED_FACILITY_SHARE = 0.08
OCCUPANCY_TARGET = (0.72, 0.93)


@dataclass
class TilbudData:
    tables: dict[str, pd.DataFrame]  # contract columns plus internal `_...` columns
    facilities: pd.DataFrame  # tilbud_id, tilbudstype, unit, aktiv_fra, aktiv_til
    stays: pd.DataFrame  # one row per ophold row, in the same order, with person_id (-1 anonymous)
    persons: pd.DataFrame  # person_id, tilbudstype, adult_system


def build_tilbud(ctx: Context) -> TilbudData:
    rng = ctx.rng("tilbud")
    w = ctx.window
    ctx.reference.units("tilbud", *{k.unit for k in KINDS})
    facilities = _facilities(ctx, rng)
    stays = pd.concat([_stays(rng, w, kind, facilities) for kind in KINDS], ignore_index=True)
    stays, persons = _persons(ctx, rng, stays)
    stays["ophold_id"] = ids_in_order(stays["start"].to_numpy(), stays["tilbud_id"].to_numpy())
    stays = stays.sort_values("ophold_id").reset_index(drop=True)
    force = _use_of_force(rng, w, stays)

    tilbud = pd.DataFrame({
        "tilbud_id": facilities["tilbud_id"],
        "tilbudstype": facilities["tilbudstype"],
        "enhed_kode": facilities["unit"],
        "pladser": facilities["pladser"],
        "aktiv_fra": facilities["aktiv_fra"],
        "aktiv_til": facilities["aktiv_til"],
        "opdateret": change_timestamps(rng, _last_facility_change(rng, w, facilities), w),
    })
    ophold = pd.DataFrame({
        "ophold_id": stays["ophold_id"],
        "tilbud_id": stays["tilbud_id"],
        "cpr": None,
        "indskrevet": stays["start"],
        "udskrevet": stays["end"],
        "udskrevet_til": stays["exit"],
        "opdateret": change_timestamps(rng, np.fmax(stays["start"].to_numpy(), stays["end"].to_numpy()), w, 0.2,
                                       timestamps=True),
        "_person_id": stays["person_id"],
        "_tilbudstype": stays["tilbudstype"],
    })
    magtanvendelse = pd.DataFrame({
        "magt_id": ids_in_order(force["time"].to_numpy(), force["tilbud_id"].to_numpy()),
        "tilbud_id": force["tilbud_id"],
        "cpr": None,
        "tidspunkt": force["time"],
        "type": choose(rng, FORCE_TYPES, len(force)),
        "opdateret": change_timestamps(rng, force["time"].to_numpy(), w, 2, timestamps=True),
        "_person_id": force["person_id"],
    })
    return TilbudData({"tilbud": tilbud, "ophold": ophold, "magtanvendelse": magtanvendelse},
                      facilities, stays, persons)


def _facilities(ctx: Context, rng: np.random.Generator) -> pd.DataFrame:
    """Several facilities per type, sized to the population; most predate the history start
    and a few (never a type's first) have closed since."""
    w = ctx.window
    frames = []
    for kind in KINDS:
        beds = kind.beds_per_1000_adults * ctx.profile.adult_citizens / 1000
        n = max(3, int(round(beds / kind.typical_places)))
        opened_early = rng.random(n) < 0.85
        frames.append(pd.DataFrame({
            "tilbudstype": kind.tilbudstype,
            "unit": kind.unit,
            "pladser": np.clip(np.round(beds / n * (0.6 + 0.8 * rng.random(n))), 5, 60).astype(int),
            "aktiv_fra": np.where(opened_early, w.start - days((1 + rng.random(n) * 29) * DAYS_PER_YEAR),
                                  w.start + days(rng.random(n) * w.days * 0.4)),
            "may_close": np.arange(n) > 0,
            "occupancy": OCCUPANCY_TARGET[0] + rng.random(n) * (OCCUPANCY_TARGET[1] - OCCUPANCY_TARGET[0]),
        }))
    facilities = pd.concat(frames, ignore_index=True)
    facilities["tilbud_id"] = np.arange(1, len(facilities) + 1)
    closing_from = np.maximum(facilities["aktiv_fra"].to_numpy(), w.start) + days(DAYS_PER_YEAR)
    candidates = np.flatnonzero(facilities["may_close"].to_numpy() & (closing_from < w.end - 60 * DAY))
    n_closed = min(len(candidates), max(1, int(round(CLOSED_FACILITY_SHARE * len(facilities)))))
    closed = rng.choice(candidates, n_closed, replace=False)
    facilities["aktiv_til"] = NAT_DAY
    facilities.loc[closed, "aktiv_til"] = uniform_dates(rng, closing_from[closed], w.end - 30 * DAY)
    return facilities.drop(columns="may_close")


def _last_facility_change(rng: np.random.Generator, w: Window, facilities: pd.DataFrame) -> np.ndarray:
    """Facility rows are touched now and then (capacity, contact data); closing is the last change."""
    closed = facilities["aktiv_til"].to_numpy()
    touched = uniform_dates(rng, np.maximum(facilities["aktiv_fra"].to_numpy(), w.start), w.end)
    return np.where(np.isnat(closed), touched, closed)


def _stays(rng: np.random.Generator, w: Window, kind: FacilityKind, facilities: pd.DataFrame) -> pd.DataFrame:
    """All stays of one facility type that overlap the history, bed by bed."""
    own = facilities[facilities["tilbudstype"] == kind.tilbudstype]
    bed_facility = np.repeat(own.index.to_numpy(), own["pladser"].to_numpy())
    opened = facilities["aktiv_fra"].to_numpy()[bed_facility]
    closed = facilities["aktiv_til"].to_numpy()[bed_facility]
    occupancy = facilities["occupancy"].to_numpy()[bed_facility]
    bed_end = np.where(np.isnat(closed), w.end, closed).astype("datetime64[D]")
    if kind.nightly:
        bed, start, end = _nightly_stays(rng, w, kind, np.maximum(opened, w.start), bed_end, occupancy)
    else:
        bed_start = np.maximum(opened, w.start - days(kind.max_days + 1))
        bed, start, end = _bed_sequences(rng, kind, bed_start, bed_end, occupancy)
    close_at = bed_end[bed].astype("datetime64[s]") + np.timedelta64(12, "h")
    keep = (start < bed_end[bed].astype("datetime64[s]")) & (end > w.start.astype("datetime64[s]"))
    bed, start, end, close_at = bed[keep], start[keep], end[keep], close_at[keep]
    facility_closed = ~np.isnat(closed[bed])
    end = np.where(facility_closed & (end > close_at), close_at, end)
    end = np.where(end >= w.as_of, NAT_SECOND, end)
    return pd.DataFrame({
        "tilbudstype": kind.tilbudstype,
        "kind": KINDS.index(kind),
        "tilbud_id": facilities["tilbud_id"].to_numpy()[bed_facility[bed]],
        "bed": bed,
        "start": start,
        "end": end,
        "exit": np.where(np.isnat(end), None, choose(rng, kind.exits, len(bed))),
    })


def _bed_sequences(rng: np.random.Generator, kind: FacilityKind, bed_start: np.ndarray, bed_end: np.ndarray,
                   occupancy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Alternating stays and vacant gaps per bed; gaps of at least a day keep stays apart."""
    mean_stay = kind.median_days * np.exp(kind.sigma ** 2 / 2)
    mean_gap = np.maximum(mean_stay * (1 - occupancy) / occupancy - 1, 0.1)
    horizon = ((bed_end - bed_start) / DAY).astype(float)
    n_beds = len(bed_start)
    clock = rng.random(n_beds) * np.minimum(mean_gap, 30)  # days since bed_start: the first admission
    starts, ends = [], []
    active = np.ones(n_beds, dtype=bool)
    while active.any():
        length = np.clip(np.exp(rng.normal(np.log(kind.median_days), kind.sigma, n_beds)), 1, kind.max_days)
        day_start = np.floor(clock)
        checkin = (kind.checkin_hours[0] + rng.random(n_beds) * (kind.checkin_hours[1] - kind.checkin_hours[0])) / 24
        start = day_start + checkin
        starts.append(np.where(active, start, np.nan))
        ends.append(start + length)
        clock = start + length + 1 + rng.exponential(mean_gap)
        active &= start < horizon
    start_days = np.column_stack(starts)
    end_days = np.column_stack(ends)
    bed, column = np.nonzero(~np.isnan(start_days))
    origin = bed_start[bed].astype("datetime64[s]")
    return bed, origin + seconds(start_days[bed, column]), origin + seconds(end_days[bed, column])


def _nightly_stays(rng: np.random.Generator, w: Window, kind: FacilityKind, bed_start: np.ndarray,
                   bed_end: np.ndarray, occupancy: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One stay per used bed-night: in during the evening, out the next morning at 7-9."""
    n_nights = w.days
    night = w.start + np.arange(n_nights) * DAY
    used = (rng.random((len(bed_start), n_nights)) < occupancy[:, None]) & (
        night[None, :] >= bed_start[:, None]) & (night[None, :] < bed_end[:, None])
    bed, column = np.nonzero(used)
    nights = night[column]
    start = at_hours(rng, nights, *kind.checkin_hours)
    end = at_hours(rng, nights + DAY, 7, 9)
    return bed, start, end


def _persons(ctx: Context, rng: np.random.Generator, stays: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Split each bed's stays into runs by one person and give each bed a pool of returning
    persons, so a person's stays never overlap; anonymous runs get no person."""
    stays = stays.sort_values(["kind", "bed", "start"], kind="stable").reset_index(drop=True)
    bed_key = stays["kind"].to_numpy() * 10_000_000 + stays["bed"].to_numpy()
    first_on_bed = np.r_[True, bed_key[1:] != bed_key[:-1]]
    new_run = first_on_bed | (rng.random(len(stays)) < 1 / _attribute(stays["kind"], "stays_per_run"))
    run = np.cumsum(new_run) - 1
    run_first = np.flatnonzero(new_run)
    run_kind = stays["kind"].to_numpy()[run_first]
    named = np.flatnonzero(rng.random(len(run_first)) >= _attribute(run_kind, "anonymous_share"))
    named_bed = bed_key[run_first[named]]
    runs_on_bed = pd.Series(named_bed).map(pd.Series(named_bed).value_counts()).to_numpy()
    pool = np.ceil(runs_on_bed / _attribute(run_kind[named], "runs_per_person")).astype("int64")
    place_in_pool = np.floor(rng.random(len(named)) * pool).astype("int64")
    person_of_run, person_key = pd.factorize(named_bed * 100_000 + place_in_pool, sort=True)

    n_persons = len(person_key)
    kind = np.zeros(n_persons, dtype="int64")
    kind[person_of_run] = run_kind[named]
    first_start = pd.Series(stays["start"].to_numpy()[run_first[named]]).groupby(person_of_run).min().to_numpy()
    age_lo = _attribute(kind, "age_lo")
    age = age_lo + rng.random(n_persons) * (_attribute(kind, "age_hi") - age_lo)
    birth = to_day(first_start) - days(age * DAYS_PER_YEAR)
    male = rng.random(n_persons) >= _attribute(kind, "women_share")
    adult_system = rng.random(n_persons) < _attribute(kind, "adult_system_share")
    person_id = np.empty(n_persons, dtype="int64")
    person_id[adult_system] = ctx.persons.add(birth[adult_system], male[adult_system], "adult")
    person_id[~adult_system] = ctx.persons.add(birth[~adult_system], male[~adult_system], "stay")

    run_person = np.full(len(run_first), -1, dtype="int64")
    run_person[named] = person_id[person_of_run]
    stays["person_id"] = run_person[run]
    stays["last_in_run"] = np.r_[new_run[1:], True]
    persons = pd.DataFrame({
        "person_id": person_id,
        "tilbudstype": np.array([k.tilbudstype for k in KINDS], dtype=object)[kind],
        "adult_system": adult_system,
    })
    return stays.drop(columns=["kind", "bed"]), persons


def _attribute(kind_index, name: str) -> np.ndarray:
    """A FacilityKind attribute for each kind index (vectorised lookup)."""
    if name in ("age_lo", "age_hi"):
        values = np.array([k.ages[name == "age_hi"] for k in KINDS], dtype=float)
    else:
        values = np.array([getattr(k, name) for k in KINDS], dtype=float)
    return values[np.asarray(kind_index, dtype="int64")]


def _use_of_force(rng: np.random.Generator, w: Window, stays: pd.DataFrame) -> pd.DataFrame:
    """Registered use of force at §107/§108 facilities; a few residents account for most."""
    at_risk = stays[stays["tilbudstype"].isin(BOTILBUD_107_108)]
    start = np.maximum(at_risk["start"].to_numpy(), w.start.astype("datetime64[s]"))
    end = np.where(at_risk["end"].isna(), w.as_of, at_risk["end"].to_numpy())
    years = np.maximum((end - start) / np.timedelta64(1, "D"), 0) / DAYS_PER_YEAR
    tendency = rng.gamma(0.3, 1 / 0.3, len(at_risk))
    counts = rng.poisson(FORCE_PER_RESIDENT_YEAR * tendency * years)
    stay = explode(counts)
    span = (end[stay] - start[stay]) / np.timedelta64(1, "s")
    time = start[stay] + (rng.random(len(stay)) * span).astype("int64").astype("timedelta64[s]")
    return pd.DataFrame({
        "tilbud_id": at_risk["tilbud_id"].to_numpy()[stay],
        "person_id": at_risk["person_id"].to_numpy()[stay],
        "time": time,
    })
