"""Planting the real-world defects, with an exact count of every record touched.

Each (quirk, table) pair draws from its own random stream derived from the seed and the
pair's name, and defects are planted only after the clean data is built. So a quirk's
rate changes nothing but that quirk's rows: a run with all rates 0 is the clean twin of
a default run, and data-quality checks can be compared against exact planted counts.

The number planted is `round(rate * eligible)`; which records are eligible is stated
where each quirk is planted (e.g. only granted measures can miss a start date).
"""

from __future__ import annotations

from collections import defaultdict

import numpy as np
import pandas as pd

from etl.core.vocabulary import HOUSING_FACILITY_TYPES, NATCAFE, SELF_REFERRED_FACILITY_TYPES, UNKNOWN
from etl.synth.context import Context
from etl.synth.draw import guids, stream
from etl.synth.population import CLIENT_ROLES, replacement_numbers
from etl.synth.profiles import DEFAULT_QUIRK_RATES
from etl.synth.timeline import NAT_SECOND, SECOND, at_hours, days, seconds


class QuirkPlanter:
    """Chooses the records that get each defect and keeps the exact count per table."""

    def __init__(self, rates: dict[str, float], seed: int) -> None:
        self.rates = rates
        self._seed = seed
        self._counts: dict[str, dict[str, int]] = defaultdict(dict)
        self._parts: dict[tuple[str, str], list[int]] = {}  # (quirk, table) -> [eligible, picked] so far

    def rng(self, quirk: str, table: str) -> np.random.Generator:
        """The stream for one quirk in one table, independent of every other choice."""
        return stream(self._seed, f"quirk/{quirk}/{table}")

    def pick(self, quirk: str, table: str, eligible: np.ndarray) -> np.ndarray:
        """Positions (sorted) of the records that get `quirk`; `eligible` is a boolean mask."""
        candidates = np.flatnonzero(eligible)
        n = int(np.floor(self.rates[quirk] * len(candidates) + 0.5))
        chosen = np.sort(self.rng(quirk, table).choice(candidates, n, replace=False)) if n else candidates[:0]
        self.record(quirk, table, n)
        return chosen

    def pick_part(self, quirk: str, table: str, part: str, eligible: np.ndarray) -> np.ndarray:
        """`pick` for a table generated part by part (the postings, month by month).

        Each part draws from its own stream, and the parts' counts add up to
        `round(rate * eligible)` over all parts seen so far, so the total does not depend on
        how the table is split; parts must come in a fixed order.
        """
        candidates = np.flatnonzero(eligible)
        seen = self._parts.setdefault((quirk, table), [0, 0])
        seen[0] += len(candidates)
        n = int(np.floor(self.rates[quirk] * seen[0] + 0.5)) - seen[1]
        n = min(max(n, 0), len(candidates))
        seen[1] += n
        chosen = (np.sort(self.rng(quirk, f"{table}/{part}").choice(candidates, n, replace=False))
                  if n else candidates[:0])
        self.record(quirk, table, n)
        return chosen

    def record(self, quirk: str, table: str, count: int) -> None:
        if quirk not in DEFAULT_QUIRK_RATES:
            raise KeyError(f"unknown quirk {quirk!r}")
        self._counts[quirk][table] = self._counts[quirk].get(table, 0) + int(count)

    def report(self) -> dict[str, dict]:
        """Per quirk: its rate, the total count and the count per table, for every quirk."""
        return {
            quirk: {
                "rate": self.rates[quirk],
                "count": sum(self._counts[quirk].values()),
                "tables": dict(sorted(self._counts[quirk].items())),
            }
            for quirk in DEFAULT_QUIRK_RATES
        }


Tables = dict[str, dict[str, pd.DataFrame]]

#: Codes no reference knows, per system (checked against the reference when planted).
UNKNOWN_UNITS = {"boern": ("BFC-CENTRUM", "BFC-NV"), "voksen": ("CSU-SYD", "CHR-03"),
                 "tilbud": ("TIL-BOST", "TIL-HERB2"), "klage": ("SOF-JUR",), "hr": ("4099901", "4020499")}
UNKNOWN_PARAGRAPHS = {"boern": ("SEL §52a", "BL §33", "SEL § 76"), "voksen": ("SEL §84", "SEL § 103", "SEL 99")}
FORGOTTEN_AFTER_DAYS = 730


def plant_quirks(ctx: Context, planter: QuirkPlanter, tables: Tables, persons: pd.DataFrame) -> pd.DataFrame:
    """Plant every quirk into the clean tables (in place); returns the persons with their
    CPR text as the systems know it (replacement numbers planted).

    Eligible records, per quirk: `cpr_replacement` client persons (children, adults, stay
    persons); `duplicate_person` borger rows; `cpr_missing` Barn rows; `soft_deleted` rows
    of Sag, Foranstaltning, sag, ydelse (cases a complaint names excluded); the decision
    quirks all decisions; `service_missing_start` all measures and services (all are
    granted); `stay_forgotten_checkout` a person's latest, closed §110/natcafé stay begun
    more than 730 days ago; `overlapping_stays` named stays of a day or more (one overlapping
    stay is added per pick); `stay_future_start` a person's latest, closed §107/§108/ABL stay
    (a future admission is added per pick); `end_before_start` rows with both dates (not
    natcafé nights, not stays with another defect); `notification_assessed_before_received`
    assessed notifications; the unknown-code quirks all rows of the tables named below;
    complaint quirks each on different complaints. `cpr_invalid` is planted when the CPR
    columns are written (`generator._render_cpr`).
    """
    persons = _replacement_numbers(planter, persons)
    _duplicate_citizens(ctx, planter, tables["voksen"])
    barn = tables["boern"]["Barn"]
    barn["_cpr_missing"] = False
    barn.loc[planter.pick("cpr_missing", "boern.Barn", np.ones(len(barn), bool)), "_cpr_missing"] = True
    _soft_deletes(planter, tables)
    _decision_quirks(ctx, planter, tables)
    _service_quirks(planter, tables)
    _stay_quirks(ctx, planter, tables["tilbud"])
    _end_before_start(planter, tables)
    underretning = tables["boern"]["Underretning"]
    early = planter.pick("notification_assessed_before_received", "boern.Underretning",
                         underretning["VurderetTid"].notna().to_numpy())
    minutes = 10 + planter.rng("notification_assessed_before_received", "boern.Underretning").random(len(early)) * 4310
    underretning.loc[early, "VurderetTid"] = (underretning["ModtagetTid"].iloc[early]
                                              - pd.to_timedelta(np.round(minutes), unit="min")).to_numpy()
    _unknown_codes(ctx, planter, tables)
    _complaint_quirks(planter, tables)
    return persons


def _replacement_numbers(planter: QuirkPlanter, persons: pd.DataFrame) -> pd.DataFrame:
    persons = persons.copy()
    chosen = planter.pick("cpr_replacement", "persons", persons["role"].isin(CLIENT_ROLES).to_numpy())
    persons["replacement"] = False
    persons.loc[chosen, "replacement"] = True
    persons.loc[chosen, "cpr"] = replacement_numbers(planter.rng("cpr_replacement", "persons"),
                                                     persons["cpr"].iloc[chosen]).to_numpy()
    return persons


def _duplicate_citizens(ctx: Context, planter: QuirkPlanter, voksen: dict[str, pd.DataFrame]) -> None:
    """A citizen registered a second time under a new borger_id; the later of two cases moves there."""
    borger, sag = voksen["borger"], voksen["sag"]
    chosen = planter.pick("duplicate_person", "voksen.borger", np.ones(len(borger), bool))
    rng = planter.rng("duplicate_person", "voksen.borger")
    twins = borger.iloc[chosen].copy()
    twins["borger_id"] = guids(rng, len(twins))
    later = twins["opdateret"].to_numpy() + seconds(1 + rng.random(len(twins)) * 400)
    twins["opdateret"] = np.minimum(later, ctx.window.as_of - 60 * SECOND)
    new_id = pd.Series(twins["borger_id"].to_numpy(), index=borger["borger_id"].iloc[chosen].to_numpy())
    cases = sag.sort_values(["oprettet", "sag_id"])
    several = cases["borger_id"].map(cases["borger_id"].value_counts()) >= 2
    last = cases[several & cases["borger_id"].isin(new_id.index)].drop_duplicates("borger_id", keep="last")
    sag.loc[last.index, "borger_id"] = new_id[last["borger_id"]].to_numpy()
    voksen["borger"] = pd.concat([borger, twins], ignore_index=True)


def _soft_deletes(planter: QuirkPlanter, tables: Tables) -> None:
    """Deleted rows; cases a complaint refers to are never deleted (that would be a dangling
    reference, a different quirk)."""
    klage = tables["klage"]["klage"]
    referenced = set(klage["sagsreference"])
    for source, table, column, key in (("boern", "Sag", "Slettet", "Sagsnummer"),
                                       ("boern", "Foranstaltning", "Slettet", None),
                                       ("voksen", "sag", "slettet", "sag_id"),
                                       ("voksen", "ydelse", "slettet", None)):
        frame = tables[source][table]
        eligible = np.ones(len(frame), bool) if key is None else ~frame[key].astype(str).isin(referenced).to_numpy()
        frame.loc[planter.pick("soft_deleted", f"{source}.{table}", eligible), column] = True


def _decision_quirks(ctx: Context, planter: QuirkPlanter, tables: Tables) -> None:
    extraction = pd.Timestamp(ctx.window.end)
    for source, table, deadline, decided in (("boern", "Afgoerelse", "FristDato", "AfgoerelseDato"),
                                             ("voksen", "afgoerelse", "frist_dato", "afgoerelse_dato")):
        frame = tables[source][table]
        name = f"{source}.{table}"
        frame.loc[planter.pick("decision_missing_deadline", name, np.ones(len(frame), bool)), deadline] = pd.NaT
        future = planter.pick("decision_future_dated", name, np.ones(len(frame), bool))
        rng = planter.rng("decision_future_dated", name)
        dates = frame[decided].iloc[future]
        year = dates.dt.year.to_numpy()
        typed_year = year // 100 * 100 + year % 10 * 10 + year // 10 % 10  # 2025 -> 2052
        typo = (typed_year > extraction.year) & (rng.random(len(future)) < 0.5)
        day = np.where((dates.dt.month == 2) & (dates.dt.day == 29), 28, dates.dt.day)
        mistyped = pd.to_datetime(pd.DataFrame({"year": typed_year, "month": dates.dt.month.to_numpy(), "day": day}),
                                  errors="coerce")
        days_after = extraction + pd.to_timedelta(1 + rng.integers(0, 20, len(future)), unit="D")
        frame.loc[future, decided] = np.where(typo, mistyped.to_numpy(), days_after.to_numpy())


def _service_quirks(planter: QuirkPlanter, tables: Tables) -> None:
    """Granted measures and services without a start date (every measure/service row is granted)."""
    for source, table, start in (("boern", "Foranstaltning", "StartDato"), ("voksen", "ydelse", "start_dato")):
        frame = tables[source][table]
        frame.loc[planter.pick("service_missing_start", f"{source}.{table}", np.ones(len(frame), bool)), start] = pd.NaT


def _stay_quirks(ctx: Context, planter: QuirkPlanter, tilbud: dict[str, pd.DataFrame]) -> None:
    """Forgotten check-outs, a second stay overlapping the first, and admissions booked in the
    future. Only a person's latest stay is touched or followed, so every planted defect is
    exactly one overlapping pair / one open stay / one future stay."""
    w = ctx.window
    stays = tilbud["ophold"]
    stays["_planted"] = False
    named = (stays["_person_id"] >= 0).to_numpy()
    latest = named & (stays["indskrevet"] == stays.groupby("_person_id")["indskrevet"].transform("max")).to_numpy()
    closed = stays["udskrevet"].notna().to_numpy()
    kind = stays["_tilbudstype"].to_numpy()

    self_referred = np.isin(kind, SELF_REFERRED_FACILITY_TYPES)
    forgotten = planter.pick("stay_forgotten_checkout", "tilbud.ophold", latest & closed & self_referred
                             & (stays["indskrevet"] < w.as_of - FORGOTTEN_AFTER_DAYS * 86_400 * SECOND).to_numpy())
    rng = planter.rng("stay_forgotten_checkout", "tilbud.ophold")
    stays.loc[forgotten, "udskrevet"] = pd.NaT
    stays.loc[forgotten, "udskrevet_til"] = None
    stays.loc[forgotten, "opdateret"] = (stays["indskrevet"].iloc[forgotten].to_numpy()
                                         + seconds(rng.random(len(forgotten)) * 0.5))
    stays.loc[forgotten, "_planted"] = True

    first_day = w.start.astype("datetime64[s]")
    ends = np.where(stays["udskrevet"].isna(), w.as_of, stays["udskrevet"].to_numpy())
    from_ = np.maximum(stays["indskrevet"].to_numpy(), first_day)
    long_enough = (ends - from_) >= 86_400 * SECOND
    overlapped = planter.pick("overlapping_stays", "tilbud.ophold", named & ~stays["_planted"].to_numpy() & long_enough)
    rng = planter.rng("overlapping_stays", "tilbud.ophold")
    span = (ends[overlapped] - from_[overlapped]) / SECOND
    second_in = from_[overlapped] + seconds(rng.random(len(overlapped)) * 0.5 * span / 86_400)
    room = (ends[overlapped] - second_in) / SECOND / 86_400  # at least half a day
    second_out = second_in + seconds(np.maximum(rng.random(len(overlapped)) * room, 1 / 24))
    elsewhere = _other_facility(rng, tilbud["tilbud"], stays["tilbud_id"].to_numpy()[overlapped], kind[overlapped])
    stays.loc[overlapped, "_planted"] = True
    extra = [pd.DataFrame({
        "tilbud_id": elsewhere, "cpr": None, "indskrevet": second_in, "udskrevet": second_out,
        "udskrevet_til": UNKNOWN, "opdateret": np.minimum(second_out + seconds(rng.random(len(overlapped))),
                                                          w.as_of - 60 * SECOND),
        "_person_id": stays["_person_id"].to_numpy()[overlapped], "_tilbudstype": kind[overlapped],
    })]

    booked = planter.pick("stay_future_start", "tilbud.ophold",
                          latest & closed & np.isin(kind, HOUSING_FACILITY_TYPES) & ~stays["_planted"].to_numpy())
    rng = planter.rng("stay_future_start", "tilbud.ophold")
    admission = at_hours(rng, w.end + days(1 + rng.random(len(booked)) * 60), 10, 14)
    extra.append(pd.DataFrame({
        "tilbud_id": stays["tilbud_id"].to_numpy()[booked], "cpr": None, "indskrevet": admission,
        "udskrevet": NAT_SECOND, "udskrevet_til": None,
        "opdateret": w.as_of - seconds(0.05 + rng.random(len(booked)) * 14),
        "_person_id": stays["_person_id"].to_numpy()[booked], "_tilbudstype": kind[booked],
    }))
    added = pd.concat(extra, ignore_index=True)
    added.insert(0, "ophold_id", stays["ophold_id"].max() + 1 + np.arange(len(added)))
    added["_planted"] = True
    tilbud["ophold"] = pd.concat([stays, added], ignore_index=True)


def _other_facility(rng: np.random.Generator, facilities: pd.DataFrame, tilbud_id: np.ndarray,
                    kind: np.ndarray) -> np.ndarray:
    """Another facility of the same type for each stay (every type has several)."""
    other = np.empty(len(tilbud_id), dtype="int64")
    for facility_type in np.unique(kind):
        here = np.flatnonzero(kind == facility_type)
        ids = np.sort(facilities.loc[facilities["tilbudstype"] == facility_type, "tilbud_id"].to_numpy())
        own = np.searchsorted(ids, tilbud_id[here])
        pick = rng.integers(0, len(ids) - 1, len(here))
        other[here] = ids[pick + (pick >= own)]
    return other


def _end_before_start(planter: QuirkPlanter, tables: Tables) -> None:
    """An end typed before the start, on rows that have both (and no other planted defect)."""
    for source, table, start, end, unit in (("boern", "Foranstaltning", "StartDato", "SlutDato", "D"),
                                            ("voksen", "ydelse", "start_dato", "slut_dato", "D"),
                                            ("tilbud", "ophold", "indskrevet", "udskrevet", "h"),
                                            ("hr", "fravaer", "fra_dato", "til_dato", "D")):
        frame = tables[source][table]
        eligible = (frame[start].notna() & frame[end].notna()).to_numpy()
        if table == "ophold":  # not on natcafé nights, nor on stays with another stay defect
            eligible = eligible & ~frame["_planted"].to_numpy() & (frame["_tilbudstype"] != NATCAFE).to_numpy()
        chosen = planter.pick("end_before_start", f"{source}.{table}", eligible)
        back = 1 + planter.rng("end_before_start", f"{source}.{table}").integers(0, 30, len(chosen))
        frame.loc[chosen, end] = (frame[start].iloc[chosen] - pd.to_timedelta(back, unit=unit)).to_numpy()


def _unknown_codes(ctx: Context, planter: QuirkPlanter, tables: Tables) -> None:
    units = ctx.reference.known_units
    for source, table, column in (("boern", "Sag", "EnhedKode"), ("voksen", "sag", "enhed_kode"),
                                  ("tilbud", "tilbud", "enhed_kode"), ("klage", "klage", "enhed_kode"),
                                  ("hr", "medarbejder", "enhed_kode")):
        _replace_with(planter, "unknown_unit_code", tables, source, table, column,
                      ctx.reference.unknown(UNKNOWN_UNITS[source], units))
    paragraphs = ctx.reference.known_paragraphs
    for source, table, column in (("boern", "Undersoegelse", "Paragraf"), ("boern", "Foranstaltning", "Paragraf"),
                                  ("boern", "Afgoerelse", "Paragraf"), ("voksen", "afgoerelse", "paragraf"),
                                  ("voksen", "ydelse", "paragraf")):
        _replace_with(planter, "unknown_paragraph", tables, source, table, column,
                      ctx.reference.unknown(UNKNOWN_PARAGRAPHS[source], paragraphs))


def _replace_with(planter: QuirkPlanter, quirk: str, tables: Tables, source: str, table: str, column: str,
                  options: tuple[str, ...]) -> None:
    frame = tables[source][table]
    name = f"{source}.{table}"
    chosen = planter.pick(quirk, name, np.ones(len(frame), bool))
    frame.loc[chosen, column] = np.array(options, dtype=object)[planter.rng(quirk, name).integers(0, len(options), len(chosen))]


def _complaint_quirks(planter: QuirkPlanter, tables: Tables) -> None:
    """Missing, dangling and reformatted references and a missing source system, each on
    different complaints. A reformatted reference is valid once whitespace is removed and
    letters upper-cased; a dangling one names a case that does not exist."""
    klage = tables["klage"]["klage"]
    name = "klage.klage"
    untouched = np.ones(len(klage), bool)

    missing = planter.pick("complaint_missing_reference", name, untouched)
    klage.loc[missing, "sagsreference"] = None
    untouched[missing] = False

    dangling = planter.pick("complaint_dangling_reference", name, untouched)
    untouched[dangling] = False
    from_boern = (klage["kilde_system"].iloc[dangling] == "boern").to_numpy()
    year = klage["modtaget_dato"].iloc[dangling].dt.year.astype(str).to_numpy()
    sequence = pd.Series(900_001 + np.arange(len(dangling))).astype(str).to_numpy()
    max_sag_id = int(tables["voksen"]["sag"]["sag_id"].max())
    nowhere = np.where(from_boern, "BS-" + year + "-" + sequence,
                       (max_sag_id + 1_000 + np.arange(len(dangling))).astype(str))
    if np.isin(nowhere, tables["boern"]["Sag"]["Sagsnummer"].to_numpy()).any():
        raise RuntimeError("a planted dangling complaint reference exists")
    klage.loc[dangling, "sagsreference"] = nowhere

    reformatted = planter.pick("complaint_reference_formatting", name, untouched)
    untouched[reformatted] = False
    rng = planter.rng("complaint_reference_formatting", name)
    reference = klage["sagsreference"].iloc[reformatted].astype(str)
    style = rng.integers(0, 3, len(reformatted))
    spaced = reference.str.replace("-", " - ", regex=False).where(reference.str.contains("-"),
                                                                  reference.str[:3] + " " + reference.str[3:])
    klage.loc[reformatted, "sagsreference"] = np.select(
        [style == 0, style == 1], [reference.str.lower().where(reference.str.contains("-"), " " + reference), spaced],
        reference + " ")

    no_system = planter.pick("complaint_missing_system", name, untouched)
    klage.loc[no_system, "kilde_system"] = None
