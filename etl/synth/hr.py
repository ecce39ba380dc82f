"""`hr`: employees, absences, recruitments and work-environment incidents.

Employments are simulated position by position (like the beds of a facility): a position
is held by one employee after another, with a vacancy while it is being recruited for.
Tenure is exponential with a mean that gives ~12 % turnover a year. Employees are their
own persons (aged 20-67), never clients, and their CPR is stored as a number.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from etl.core.vocabulary import (
    ABSENCE_TYPES,
    ALMEN_BOLIG,
    CARE_JOB_CATEGORIES,
    FORSORGSHJEM,
    HERBERG,
    KRISECENTER,
    LAENGEREVARENDE_BOTILBUD,
    MIDLERTIDIGT_BOTILBUD,
    NATCAFE,
    RECRUITMENT_RESULTS,
)
from etl.synth.context import Context
from etl.synth.draw import choose, choose_from, explode, ids_in_order
from etl.synth.tilbud import TilbudData
from etl.synth.timeline import (
    DAY,
    DAYS_PER_YEAR,
    NAT_DAY,
    add_years,
    age_in_years,
    change_timestamps,
    days,
    uniform_dates,
)

TURNOVER_PER_YEAR = 0.12
RETIREMENT_AGE = 67
SIMULATED_YEARS_BEFORE_HISTORY = 45
JOBS = {"Socialrådgiver": 30, "Pædagog": 30, "Social- og sundhedsassistent": 13, "Administration": 12,
        "Leder": 6, "Behandler": 5, "Øvrige": 4}
MALE_SHARE = {"Socialrådgiver": 0.15, "Pædagog": 0.25, "Social- og sundhedsassistent": 0.1,
              "Administration": 0.3, "Leder": 0.4, "Behandler": 0.35, "Øvrige": 0.5}
COUNSELLING_UNITS = ("4010101", "4010102", "4010201", "4010202", "4010301", "4010302",
                     "4020101", "4020102", "4020103", "4020201", "4020202", "4020301")
#: Payroll units that run facilities, and the tilbudstyper they run.
FACILITY_UNITS = {
    "4020302": (HERBERG, FORSORGSHJEM),
    "4020303": (NATCAFE,),
    "4020304": (KRISECENTER,),
    "4020401": (MIDLERTIDIGT_BOTILBUD,),
    "4020402": (LAENGEREVARENDE_BOTILBUD,),
    "4020403": (ALMEN_BOLIG,),
}
CHILDREN_INSTITUTIONS = "4010401"
LEGAL_UNIT = "4030101"
UNITS_BY_JOB = {
    "Socialrådgiver": (*COUNSELLING_UNITS, LEGAL_UNIT),
    "Pædagog": (*FACILITY_UNITS, CHILDREN_INSTITUTIONS, CHILDREN_INSTITUTIONS, CHILDREN_INSTITUTIONS),
    "Social- og sundhedsassistent": ("4020401", "4020402", "4020402", "4020403", "4020302"),
    "Administration": (*COUNSELLING_UNITS, *FACILITY_UNITS, CHILDREN_INSTITUTIONS, LEGAL_UNIT, LEGAL_UNIT),
    "Leder": (*COUNSELLING_UNITS, *FACILITY_UNITS, CHILDREN_INSTITUTIONS, LEGAL_UNIT),
    "Behandler": ("4020301", "4020301", "4020302", "4020401"),
    "Øvrige": (*FACILITY_UNITS, CHILDREN_INSTITUTIONS),
}
HOURS = {1.0: 70, 0.9: 10, 0.8: 15, 0.5: 5}
LEAVING_REASONS = {"Egen opsigelse": 68, "Afskediget": 8, "Udløb": 20, "Død": 1, "Pension": 3}
FAILED_RECRUITMENT_SHARE = 0.12
CANCELLED_RECRUITMENT_SHARE = 0.04
#: Length in days per absence type, in the order of ABSENCE_TYPES (own sickness: 80 % of spells;
#: 15 % are 6-14 days and 5 % long, 15-120 days; maternity leave: fathers take 14-70 days).
ABSENCE_DAYS = ((1, 5), (1, 60), (1, 2), (3, 15), (150, 330), (1, 5))
INCIDENTS = {"Fysisk vold": 30, "Trussel": 45, "Chikane": 15, "Andet": 10}
#: Incidents per employee-year for staff working with residents, and for everyone else.
INCIDENT_RATE_CARE = 0.25
INCIDENT_RATE_OTHER = 0.04


def build_hr(ctx: Context, tilbud: TilbudData) -> dict[str, pd.DataFrame]:
    rng = ctx.rng("hr")
    w = ctx.window
    for units in UNITS_BY_JOB.values():
        ctx.reference.units("hr", *units)
    employments = _employments(ctx, rng)
    current = employments["hired"] < w.end
    staff = employments[current].reset_index(drop=True)
    staff["person_id"] = ctx.persons.add(staff["birth"].to_numpy(), staff["male"].to_numpy(), "employee")
    staff["medarbejder_nr"] = ids_in_order(staff["hired"].to_numpy(), staff["person_id"].to_numpy(), first=10_001)

    left = staff["left"].to_numpy()
    hired = staff["hired"].to_numpy()
    touched = uniform_dates(rng, np.maximum(hired, w.start), w.end)
    medarbejder = pd.DataFrame({
        "medarbejder_nr": staff["medarbejder_nr"],
        "cpr": ctx.persons.cpr_numbers(staff["person_id"].to_numpy()),
        "enhed_kode": staff["unit"],
        "stillingskategori": staff["job"],
        "ansat_dato": hired,
        "fratraadt_dato": left,
        "fratraedelsesaarsag": staff["reason"],
        "beskaeftigelsesgrad": staff["hours"],
        "opdateret": change_timestamps(rng, np.where(np.isnat(left), touched, left), w),
    })
    return {
        "medarbejder": medarbejder,
        "fravaer": _absences(ctx, rng, staff),
        "rekruttering": _recruitments(ctx, rng, employments),
        "arbejdsmiljoe_haendelse": _incidents(ctx, rng, staff, tilbud),
    }


def _employments(ctx: Context, rng: np.random.Generator) -> pd.DataFrame:
    """Successive employees per position, from long before the history start until after the
    extraction date (the next hires are what open recruitments are for)."""
    w = ctx.window
    n_positions = int(round(ctx.profile.employees / 0.97))
    job = choose(rng, JOBS, n_positions)
    unit = np.empty(n_positions, dtype=object)
    for name, units in UNITS_BY_JOB.items():
        here = job == name
        unit[here] = choose_from(rng, units, here.sum())
    horizon = w.end + 365 * DAY
    clock = w.start - days(SIMULATED_YEARS_BEFORE_HISTORY * DAYS_PER_YEAR * rng.random(n_positions))
    spells = []
    while (clock < horizon).any():
        active = np.flatnonzero(clock < horizon)
        n = len(active)
        age_at_hire = 22 + 33 * rng.beta(1.5, 2.5, n)
        hired = clock[active]
        birth = hired - days(age_at_hire * DAYS_PER_YEAR)
        retirement = add_years(birth, RETIREMENT_AGE)
        planned = hired + days(1 + rng.exponential(DAYS_PER_YEAR / TURNOVER_PER_YEAR, n))
        retires = planned >= retirement
        left = np.where(retires, retirement, planned)
        reason = choose(rng, LEAVING_REASONS, n)
        reason = np.where(retires, "Pension", reason)
        age_leaving = age_in_years(birth, left)
        reason = np.where((age_leaving >= 62) & (rng.random(n) < 0.7), "Pension", reason)
        reason = np.where((reason == "Pension") & (age_leaving < 60), "Egen opsigelse", reason)
        spells.append(pd.DataFrame({
            "position": active, "job": job[active], "unit": unit[active], "hired": hired, "left": left,
            "reason": reason, "birth": birth, "male": rng.random(n) < pd.Series(job[active]).map(MALE_SHARE).to_numpy(),
            "hours": choose(rng, HOURS, n).astype(float),
        }))
        clock[active] = left + days(30 + rng.random(n) * 120)
    employments = pd.concat(spells, ignore_index=True)
    employments = employments[(employments["left"] >= w.start).to_numpy()].reset_index(drop=True)
    still_employed = (employments["left"] >= w.end).to_numpy()
    employments.loc[still_employed, "left"] = NAT_DAY
    employments.loc[still_employed, "reason"] = None
    return employments


def _absences(ctx: Context, rng: np.random.Generator, staff: pd.DataFrame) -> pd.DataFrame:
    """Absence spells one after another per employee, so an employee's spells never overlap."""
    w = ctx.window
    lo = np.maximum(staff["hired"].to_numpy(), w.start)
    hi = np.where(staff["left"].isna(), w.end, staff["left"].to_numpy())
    years = np.maximum((hi - lo) / DAY, 0) / DAYS_PER_YEAR
    age = age_in_years(staff["birth"].to_numpy(), lo + (hi - lo) // 2)
    female = ~staff["male"].to_numpy()
    parent_age = (age >= 25) & (age <= 45)
    rate = np.column_stack([
        np.full(len(staff), 4.0),  # Egen sygdom
        np.full(len(staff), 0.05),  # Arbejdsskade
        np.where(parent_age, 1.0, 0.1),  # Barns sygdom
        np.full(len(staff), 2.5),  # Ferie
        np.where((age >= 25) & (age <= 42), np.where(female, 0.06, 0.03), 0.0),  # Barsel
        np.full(len(staff), 0.3),  # Andet
    ])
    total_rate = rate.sum(axis=1)
    count = np.ceil(years * total_rate * 1.3).astype(int) + 2
    employee = explode(count)
    k = len(employee)
    cumulative = np.cumsum(rate / total_rate[:, None], axis=1)
    draw = rng.random(k)
    kind = np.zeros(k, dtype="int64")
    for threshold in range(len(ABSENCE_TYPES) - 1):
        kind += draw > cumulative[employee, threshold]
    length = np.zeros(k, dtype="int64")
    for index, (lo_days, hi_days) in enumerate(ABSENCE_DAYS):
        here = kind == index
        length[here] = rng.integers(lo_days, hi_days + 1, here.sum())
    sick = np.flatnonzero(kind == 0)
    band = rng.random(len(sick))
    length[sick[band >= 0.80]] = rng.integers(6, 15, (band >= 0.80).sum())
    length[sick[band >= 0.95]] = rng.integers(15, 121, (band >= 0.95).sum())
    paternity = np.flatnonzero((kind == ABSENCE_TYPES.index("Barsel")) & ~female[employee])
    length[paternity] = rng.integers(14, 71, len(paternity))
    gap = rng.exponential(DAYS_PER_YEAR / total_rate[employee])
    cycle = gap + length
    offset = pd.Series(cycle).groupby(employee).cumsum().to_numpy() - length
    start = lo[employee] + days(offset)
    end = np.minimum(start + days(length - 1), hi[employee] - DAY)
    keep = start < hi[employee]
    employee, kind, start, end = employee[keep], kind[keep], start[keep], end[keep]
    staff_nr = staff["medarbejder_nr"].to_numpy()[employee]
    open_now = end >= w.end - DAY
    return pd.DataFrame({
        "fravaer_id": ids_in_order(start, staff_nr),
        "medarbejder_nr": staff_nr,
        "fravaerstype": np.array(ABSENCE_TYPES, dtype=object)[kind],
        "fra_dato": start,
        "til_dato": np.where(open_now & staff["left"].isna().to_numpy()[employee], NAT_DAY, end),
        "opdateret": change_timestamps(rng, np.where(open_now, start, end), w),
    })


def _recruitments(ctx: Context, rng: np.random.Generator, employments: pd.DataFrame) -> pd.DataFrame:
    """A posting before every hire, sometimes after a failed one; some postings are cancelled;
    postings not finished on the extraction date are open."""
    w = ctx.window
    hires = employments[(employments["hired"] >= w.start).to_numpy()]
    n = len(hires)
    posted = hires["hired"].to_numpy() - days(35 + rng.random(n) * 65)
    closed = posted + days(14 + rng.random(n) * 16)
    failed = rng.random(n) < FAILED_RECRUITMENT_SHARE
    failed_posted = posted[failed] - days(45 + rng.random(failed.sum()) * 45)
    cancelled = rng.random(n) < CANCELLED_RECRUITMENT_SHARE
    cancelled_posted = uniform_dates(rng, w.start, w.end, cancelled.sum())
    rows = pd.DataFrame({
        "unit": np.concatenate([hires["unit"], hires["unit"].to_numpy()[failed], hires["unit"].to_numpy()[cancelled]]),
        "job": np.concatenate([hires["job"], hires["job"].to_numpy()[failed], hires["job"].to_numpy()[cancelled]]),
        "posted": np.concatenate([posted, failed_posted, cancelled_posted]),
        "closed": np.concatenate([closed, failed_posted + days(21 + rng.random(failed.sum()) * 19),
                                  cancelled_posted + days(5 + rng.random(cancelled.sum()) * 25)]),
        "result": np.repeat(RECRUITMENT_RESULTS, [n, failed.sum(), cancelled.sum()]),
    })
    rows = rows[(rows["posted"] >= w.start) & (rows["posted"] < w.end)].reset_index(drop=True)
    still_open = (rows["closed"] >= w.end).to_numpy()
    posted = rows["posted"].to_numpy()
    return pd.DataFrame({
        "rekruttering_id": ids_in_order(posted, rows["unit"].to_numpy().astype(str)),
        "enhed_kode": rows["unit"],
        "stillingskategori": rows["job"],
        "opslaaet_dato": posted,
        "afsluttet_dato": np.where(still_open, NAT_DAY, rows["closed"].to_numpy()),
        "resultat": np.where(still_open, None, rows["result"].to_numpy()),
        "opdateret": change_timestamps(rng, np.where(still_open, posted, rows["closed"].to_numpy()), w),
    })


def _incidents(ctx: Context, rng: np.random.Generator, staff: pd.DataFrame, tilbud: TilbudData) -> pd.DataFrame:
    """Violence and threats, mostly against staff working with residents; at a facility
    unit the incident names the facility (one of the unit's that was open that day)."""
    w = ctx.window
    lo = np.maximum(staff["hired"].to_numpy(), w.start)
    hi = np.where(staff["left"].isna(), w.end, staff["left"].to_numpy())
    years = np.maximum((hi - lo) / DAY, 0) / DAYS_PER_YEAR
    care = staff["job"].isin(CARE_JOB_CATEGORIES).to_numpy() & staff["unit"].isin([*FACILITY_UNITS, CHILDREN_INSTITUTIONS]).to_numpy()
    count = rng.poisson(np.where(care, INCIDENT_RATE_CARE, INCIDENT_RATE_OTHER) * years)
    employee = explode(count)
    day = uniform_dates(rng, lo[employee], hi[employee])
    unit = staff["unit"].to_numpy()[employee]
    facility = np.full(len(employee), -1, dtype="int64")
    facilities = tilbud.facilities
    for payroll_unit, types in FACILITY_UNITS.items():
        here = np.flatnonzero(unit == payroll_unit)
        own = facilities[facilities["tilbudstype"].isin(types)]
        closes = np.where(own["aktiv_til"].isna(), w.end, own["aktiv_til"].to_numpy())
        open_then = (own["aktiv_fra"].to_numpy()[None, :] <= day[here, None]) & (day[here, None] < closes[None, :])
        pick = np.argmax(rng.random(open_then.shape) * open_then, axis=1)
        facility[here] = np.where(open_then.any(axis=1), own["tilbud_id"].to_numpy()[pick], -1)
    named = rng.random(len(employee)) < 0.9
    staff_nr = staff["medarbejder_nr"].to_numpy()[employee]
    return pd.DataFrame({
        "haendelse_id": ids_in_order(day, staff_nr),
        "medarbejder_nr": pd.array(np.where(named, staff_nr, np.nan), dtype="Int64"),
        "enhed_kode": unit,
        "tilbud_id": pd.array(np.where(facility < 0, np.nan, facility), dtype="Int64"),
        "dato": day,
        "kategori": choose(rng, INCIDENTS, len(employee)),
        "opdateret": change_timestamps(rng, day, w),
    })
