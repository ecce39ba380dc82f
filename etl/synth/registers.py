"""The two file sources: the daily CPR extract and the monthly employment/education files.

Both cover the persons the fagsystemer know (employees are not clients and are left out),
and both know persons by their real CPR number only: a person registered under a
replacement number (erstatningspersonnummer) is in neither file.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from etl.core.vocabulary import BYDELE, DISABILITY_TARGET_GROUPS, EMPLOYMENT_STATUSES, HOUSING_FACILITY_TYPES
from etl.synth.context import Context
from etl.synth.draw import choose
from etl.synth.population import with_separator
from etl.synth.timeline import DAY, Window, add_years, uniform_dates

COPENHAGEN = "0101"
COPENHAGEN_SHARE = 0.88
#: Other municipalities' codes, weighted roughly by how often their citizens use Copenhagen's services.
OTHER_MUNICIPALITIES = {"0147": 30, "0185": 12, "0151": 6, "0153": 6, "0157": 6, "0159": 6, "0161": 3,
                        "0163": 4, "0165": 4, "0167": 8, "0169": 4, "0173": 4, "0175": 5, "0187": 2,
                        "0751": 5, "0461": 3, "0851": 2}
BYDEL_WEIGHTS = dict(zip(BYDELE, (8, 12, 13, 12, 10, 6, 7, 9, 10, 13)))
#: Share of persons without activity for 90 days who have since died or emigrated.
DEATH_SHARE_ADULTS = 0.03
EMIGRATION_SHARE = 0.015

#: Long-run status mix per kind of person, in the order of EMPLOYMENT_STATUSES; month to month a
#: person keeps the status with probability 1 - STATUS_CHANGE_PER_MONTH, else draws again from the mix.
STATUS_MIX = {
    "young": (0.20, 0.34, 0.05, 0.20, 0.21),  # 18-24
    "disability": (0.14, 0.05, 0.03, 0.16, 0.62),  # handicap, psychiatry, residential care
    "other": (0.38, 0.07, 0.03, 0.31, 0.21),
}
#: Activity groups (target group or facility type) whose persons follow the "disability" mix.
DISABILITY_GROUPS = (*DISABILITY_TARGET_GROUPS, *HOUSING_FACILITY_TYPES)
STATUS_CHANGE_PER_MONTH = 0.06
COMPLETED_EDUCATION_SHARE = 0.01


def cpr_register(ctx: Context, persons: pd.DataFrame, activity: pd.DataFrame) -> pd.DataFrame:
    """One row per known person with a real CPR number, in the contract's columns."""
    rng = ctx.rng("cpr")
    w = ctx.window
    known = persons[persons["person_id"].isin(activity["person_id"]).to_numpy() & ~persons["replacement"].to_numpy()]
    known = known.sort_values("cpr").reset_index(drop=True)
    n = len(known)
    last_seen = activity.assign(end=activity["end"].fillna(pd.Timestamp(w.end))).groupby("person_id")["end"].max()
    last_seen = last_seen.reindex(known["person_id"]).to_numpy().astype("datetime64[D]")
    birth = known["birth"].to_numpy().astype("datetime64[D]")
    adult = add_years(birth, 18) <= last_seen
    quiet = last_seen < w.end - 90 * DAY
    recorded_death = known["death"].to_numpy().astype("datetime64[D]")
    dies = ~np.isnat(recorded_death) | (quiet & adult & (rng.random(n) < DEATH_SHARE_ADULTS))
    emigrates = ~dies & quiet & (rng.random(n) < EMIGRATION_SHARE)
    event_day = uniform_dates(rng, last_seen + DAY, w.end)
    status = np.where(dies, "90", np.where(emigrates, "80", "01"))
    moved_in = np.where(rng.random(n) < 0.4, birth, uniform_dates(rng, birth, w.end))
    status_day = np.where(status == "01", moved_in, np.where(np.isnat(recorded_death), event_day, recorded_death))
    in_copenhagen = rng.random(n) < COPENHAGEN_SHARE
    return pd.DataFrame({
        "PNR": known["cpr"].to_numpy(),
        "FOED_DATO": birth,
        "KOEN": np.where(known["male"], "M", "K"),
        "KOMKOD": np.where(in_copenhagen, COPENHAGEN, choose(rng, OTHER_MUNICIPALITIES, n)),
        "BYDEL": np.where(in_copenhagen, choose(rng, BYDEL_WEIGHTS, n), None),
        "STATUS": status,
        "STATUS_DATO": status_day,
    })


def employment_statuses(ctx: Context, persons: pd.DataFrame, activity: pd.DataFrame) -> pd.DataFrame:
    """Monthly status rows (cpr, maaned, status, afsluttet_uddannelse) for adults aged 18-64
    in the months they are active in a fagsystem, from the history start to the extraction month."""
    rng = ctx.rng("beskaeftigelse")
    w = ctx.window
    first_month = w.start.astype("datetime64[M]")
    months = np.arange(first_month, w.end.astype("datetime64[M]") + 1)
    eligible = persons.set_index("person_id")
    eligible = eligible[~eligible["replacement"] & eligible["role"].isin(["child", "adult", "stay"])]
    active = activity[activity["person_id"].isin(eligible.index)]

    start = np.maximum(active["start"].to_numpy().astype("datetime64[D]"), w.start).astype("datetime64[M]")
    end = active["end"].to_numpy().astype("datetime64[D]")
    end = np.where(np.isnat(end), months[-1], np.minimum(end, w.end - DAY).astype("datetime64[M]"))
    first = (start - first_month).astype("int64")
    span = (end - start).astype("int64") + 1
    keep = span > 0
    person = active["person_id"].to_numpy()[keep]
    first, span = first[keep], span[keep]
    pair_person = np.repeat(person, span)
    pair_month = np.repeat(first, span) + (np.arange(span.sum()) - np.repeat(np.cumsum(span) - span, span))
    pairs = np.sort(pair_person.astype("int64") * len(months) + pair_month)
    pairs = pairs[np.r_[True, pairs[1:] != pairs[:-1]]]
    pair_person, pair_month = pairs // len(months), pairs % len(months)

    birth = eligible["birth"].to_numpy().astype("datetime64[D]")
    position = pd.Series(np.arange(len(eligible)), index=eligible.index)
    row_birth = birth[position[pair_person].to_numpy()]
    month_day = months[pair_month].astype("datetime64[D]")
    death = eligible["death"].to_numpy().astype("datetime64[D]")[position[pair_person].to_numpy()]
    in_age = (add_years(row_birth, 18) <= month_day) & (add_years(row_birth, 65) > month_day)
    alive = np.isnat(death) | (death >= month_day)
    pair_person, pair_month = pair_person[in_age & alive], pair_month[in_age & alive]

    disabled = set(active["person_id"][active["group"].isin(DISABILITY_GROUPS)])
    people = pair_person[np.r_[True, pair_person[1:] != pair_person[:-1]]]  # pairs are sorted by person
    states = _status_chain(rng, people, np.isin(people, list(disabled)),
                           birth[position[people].to_numpy()], months)
    row = np.searchsorted(people, pair_person)
    status = states[row, pair_month]
    completed = (status == EMPLOYMENT_STATUSES.index("Uddannelse")) & (rng.random(len(status)) < COMPLETED_EDUCATION_SHARE)
    # Rows in file order (month, then CPR); CPR texts and statuses are categoricals, so ten
    # million rows cost a few integers each until a month's file is written.
    person_cpr = with_separator(eligible["cpr"].reindex(people).reset_index(drop=True), "-").to_numpy(dtype=object)
    by_cpr = np.argsort(person_cpr, kind="stable")
    cpr_rank = np.empty(len(people), dtype="int64")
    cpr_rank[by_cpr] = np.arange(len(people))
    order = np.lexsort((cpr_rank[row], pair_month))
    return pd.DataFrame({
        "cpr": pd.Categorical.from_codes(cpr_rank[row][order], categories=person_cpr[by_cpr]),
        "maaned": months[pair_month[order]].astype("datetime64[D]"),
        "status": pd.Categorical.from_codes(status[order], categories=EMPLOYMENT_STATUSES),
        "afsluttet_uddannelse": completed[order],
    })


def _status_chain(rng: np.random.Generator, people: np.ndarray, disabled: np.ndarray, birth: np.ndarray,
                  months: np.ndarray) -> np.ndarray:
    """A persistent status per person and month (people x months, as status indexes)."""
    mixes = np.array([STATUS_MIX["young"], STATUS_MIX["disability"], STATUS_MIX["other"]])
    cumulative = np.cumsum(mixes, axis=1)
    states = np.zeros((len(people), len(months)), dtype="int8")
    current = np.zeros(len(people), dtype="int64")
    for m, month in enumerate(months):
        young = add_years(birth, 25) > month.astype("datetime64[D]")
        mix = np.where(young, 0, np.where(disabled, 1, 2))
        redraw = (rng.random(len(people)) < STATUS_CHANGE_PER_MONTH) | (m == 0)
        draw = rng.random(len(people))
        fresh = (draw[:, None] > cumulative[mix][:, :-1]).sum(axis=1)
        current = np.where(redraw, fresh, current)
        states[:, m] = current
    return states


def write_cpr_file(rows: pd.DataFrame, folder: Path, extraction_date: date, truncate_last_line: bool) -> Path:
    """`cpr_YYYYMMDD.csv`: `;`-separated, cp1252, dates as YYYYMMDD; optionally cut short."""
    path = folder / f"cpr_{extraction_date:%Y%m%d}.csv"
    text = _compact_dates(rows, ["FOED_DATO", "STATUS_DATO"]).to_csv(sep=";", index=False, lineterminator="\n")
    if truncate_last_line and len(rows):
        body, last = text.rstrip("\n").rsplit("\n", 1)
        text = body + "\n" + last[: len(last) // 2]
    path.write_bytes(text.encode("cp1252"))
    return path


def write_employment_files(rows: pd.DataFrame, folder: Path, window: Window) -> list[Path]:
    """One `beskaeftigelse_YYYYMM.csv` per month (UTF-8 with BOM), header-only if a month is
    empty; `rows` are in file order (month, then CPR)."""
    months = np.arange(window.start.astype("datetime64[M]"), window.end.astype("datetime64[M]") + 1)
    bounds = np.searchsorted(rows["maaned"].to_numpy().astype("datetime64[M]"), months, side="left")
    bounds = np.r_[bounds, len(rows)]
    paths = []
    for i, month in enumerate(months):
        part = rows.iloc[bounds[i]:bounds[i + 1]]
        text = part.assign(maaned=str(month), afsluttet_uddannelse=part["afsluttet_uddannelse"].astype(int))
        path = folder / f"beskaeftigelse_{str(month).replace('-', '')}.csv"
        path.write_bytes(text.to_csv(index=False, lineterminator="\n").encode("utf-8-sig"))
        paths.append(path)
    return paths


def _compact_dates(rows: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """Dates as YYYYMMDD text, the way the register writes them."""
    as_text = {c: pd.Series(np.datetime_as_string(rows[c].to_numpy().astype("datetime64[D]"), unit="D"))
               .str.replace("-", "", regex=False) for c in columns}
    return rows.assign(**as_text)
