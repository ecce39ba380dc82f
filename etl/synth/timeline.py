"""Vectorised calendar arithmetic on numpy datetime64 arrays.

Dates are `datetime64[D]`, timestamps `datetime64[s]`, missing is NaT. Everything in the
builders is expressed through these few helpers so that no builder loops over rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

DAY = np.timedelta64(1, "D")
SECOND = np.timedelta64(1, "s")
NAT_DAY = np.datetime64("NaT", "D")
NAT_SECOND = np.datetime64("NaT", "s")
DAYS_PER_YEAR = 365.25

#: Barnets Lov replaced the children's part of Serviceloven on this day.
BARNETS_LOV_FROM = np.datetime64("2024-01-01", "D")
#: Rusmiddelbehandlingsloven replaced Serviceloven §101 on this day.
RUSMIDDEL_LAW_FROM = np.datetime64("2025-07-01", "D")


@dataclass(frozen=True)
class Window:
    """The observed history: events on `start` .. the day before `end` (the extraction date).

    Nothing in the clean data happens on or after `end`; open things have no end date.
    """

    start: np.datetime64  # datetime64[D], first day of history
    end: np.datetime64  # datetime64[D], the extraction date (exclusive)

    @classmethod
    def of(cls, first_day: date, extraction_date: date) -> Window:
        if extraction_date <= first_day:
            raise ValueError(f"extraction date {extraction_date} is not after history start {first_day}")
        return cls(np.datetime64(first_day, "D"), np.datetime64(extraction_date, "D"))

    @property
    def days(self) -> int:
        return int((self.end - self.start) / DAY)

    @property
    def years(self) -> float:
        return self.days / DAYS_PER_YEAR

    @property
    def as_of(self) -> np.datetime64:
        """The extraction moment: midnight starting the extraction date."""
        return self.end.astype("datetime64[s]")


def days(values) -> np.ndarray:
    """Whole days as a timedelta64[D] array (floats are floored)."""
    return np.floor(np.asarray(values, dtype=float)).astype("int64").astype("timedelta64[D]")


def seconds(values_in_days) -> np.ndarray:
    """A duration given in (fractional) days as timedelta64[s]."""
    return np.round(np.asarray(values_in_days, dtype=float) * 86_400).astype("int64").astype("timedelta64[s]")


def uniform_dates(rng: np.random.Generator, lo, hi, n: int | None = None) -> np.ndarray:
    """Dates uniform in [lo, hi) (arrays or scalars); where hi <= lo the result is lo."""
    lo = np.asarray(lo, dtype="datetime64[D]")
    hi = np.asarray(hi, dtype="datetime64[D]")
    size = n if n is not None else np.broadcast(lo, hi).shape
    span = np.maximum((hi - lo) / DAY, 0)
    return lo + days(rng.random(size) * span)


def lognormal(rng: np.random.Generator, median: float, sigma: float, n: int, lo: float, hi: float) -> np.ndarray:
    """Right-skewed durations (lengths of stays, cases, absences) clipped to [lo, hi]."""
    return np.clip(np.exp(rng.normal(np.log(median), sigma, n)), lo, hi)


def at_hours(rng: np.random.Generator, day_values: np.ndarray, first_hour: float, last_hour: float) -> np.ndarray:
    """Timestamps on the given days at a random time between the two hours."""
    hours = first_hour + rng.random(len(day_values)) * (last_hour - first_hour)
    return day_values.astype("datetime64[s]") + seconds(hours / 24)


def to_day(timestamps: np.ndarray) -> np.ndarray:
    return timestamps.astype("datetime64[D]")


def year_of(values: np.ndarray) -> np.ndarray:
    return values.astype("datetime64[Y]").astype("int64") + 1970


def add_months(values: np.ndarray, months) -> np.ndarray:
    """Calendar month arithmetic; the 31st becomes the last day of a shorter month."""
    values = values.astype("datetime64[D]")
    month_start = values.astype("datetime64[M]")
    day_index = (values - month_start.astype("datetime64[D]")) / DAY
    target = month_start + np.asarray(months).astype("int64").astype("timedelta64[M]")
    month_length = ((target + 1).astype("datetime64[D]") - target.astype("datetime64[D]")) / DAY
    day_index = np.where(np.isnat(values), 0, np.minimum(day_index, month_length - 1))
    return target.astype("datetime64[D]") + days(day_index)


def add_years(values: np.ndarray, years) -> np.ndarray:
    return add_months(values, np.asarray(years) * 12)


def age_in_years(birth: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Completed years of age on the day `at`."""
    years = year_of(at) - year_of(birth)
    return years - (add_years(birth, years) > at.astype("datetime64[D]"))


def change_timestamps(rng: np.random.Generator, last_event: np.ndarray, window: Window,
                      max_delay_days: float = 3.0, *, timestamps: bool = False) -> np.ndarray:
    """When a row was last written: a little after its last event, never after the extraction.

    A date event is taken to be registered in office hours on that day (`timestamps=False`);
    a timestamp event is the moment itself. The delay is random but seeded, so the change
    timestamps are as reproducible as the rest of the data.
    """
    if timestamps:
        base = last_event.astype("datetime64[s]")
    else:
        base = at_hours(rng, last_event.astype("datetime64[D]"), 8, 16)
    written = base + seconds(rng.random(len(base)) * max_delay_days)
    return np.minimum(written, window.as_of - 60 * SECOND)
