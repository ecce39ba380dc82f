"""Reporting periods: calendar quarters and year-to-date, and their last-year twins."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from zoneinfo import ZoneInfo

#: Where the people reading the figures live: every time the pipeline writes for a person.
COPENHAGEN = ZoneInfo("Europe/Copenhagen")


def local_now() -> dt.datetime:
    """Now as naive Copenhagen wall-clock time, to the second: the `computed_at`, `checked_at`,
    `frozen_at` … the warehouse, pointers, manifests and reports carry, whatever zone the machine
    runs in (containers run in UTC). Naive, because BI tools read naive times as local."""
    return dt.datetime.now(COPENHAGEN).replace(tzinfo=None, microsecond=0)


def local_today() -> dt.date:
    """Today's date in Copenhagen (a night after midnight UTC+1 is already tomorrow's)."""
    return dt.datetime.now(COPENHAGEN).date()


@dataclass(frozen=True)
class Period:
    """One reporting period: `kind` is `quarter` or `ytd`; `label` is the quarter, `2025-Q3`.

    `end` is the quarter's last day, or the extraction date for the running
    (provisional) quarter. `start` is the quarter's first day (quarter) or 1 January (ytd).
    """

    kind: str
    label: str
    start: dt.date
    end: dt.date
    provisional: bool = False

    def last_year(self) -> Period:
        """The same period one year earlier ("Sidste år (ÅTD)")."""
        year, q = self.label.split("-Q")
        return Period(self.kind, f"{int(year) - 1}-Q{q}", shift_years(self.start, -1),
                      shift_years(self.end, -1), provisional=False)

    def contains(self, day: dt.date) -> bool:
        return self.start <= day <= self.end


def shift_years(day: dt.date, years: int) -> dt.date:
    """Same day-of-month `years` later; 29 February falls back to 28 February."""
    try:
        return day.replace(year=day.year + years)
    except ValueError:
        return day.replace(year=day.year + years, day=28)


def add_months(day: dt.date, months: int) -> dt.date:
    """Same day-of-month rule: 2025-01-31 + 4 months = 2025-05-31; 2025-10-31 + 4 = 2026-02-28."""
    month0 = day.month - 1 + months
    year, month = day.year + month0 // 12, month0 % 12 + 1
    last = (dt.date(year + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return dt.date(year, month, min(day.day, last))


def quarter_of(day: dt.date) -> tuple[int, int]:
    return day.year, (day.month - 1) // 3 + 1


def quarter_bounds(year: int, quarter: int) -> tuple[dt.date, dt.date]:
    start = dt.date(year, 3 * quarter - 2, 1)
    return start, add_months(start, 3) - dt.timedelta(days=1)


def parse_quarter(label: str) -> tuple[int, int]:
    year, q = label.upper().split("-Q")
    if not (1 <= int(q) <= 4):
        raise ValueError(f"not a quarter: {label!r}")
    return int(year), int(q)


def quarter_periods(year: int, quarter: int, extraction_date: dt.date) -> list[Period]:
    """The quarter and its year-to-date, clipped to the extraction date when running."""
    start, end = quarter_bounds(year, quarter)
    provisional = end > extraction_date
    if provisional:
        end = extraction_date
    label = f"{year}-Q{quarter}"
    return [Period("quarter", label, start, end, provisional),
            Period("ytd", label, dt.date(year, 1, 1), end, provisional)]


def reporting_periods(extraction_date: dt.date, history_quarters: int = 8) -> list[Period]:
    """Periods computed each night: the running quarter and `history_quarters` closed ones
    before it, each as quarter and ÅTD, plus every period's same period last year (so the
    tiles' "Sidste år" always has a figure computed on identical dates)."""
    year, q = quarter_of(extraction_date)
    periods: list[Period] = []
    for back in range(history_quarters + 1):
        idx = year * 4 + (q - 1) - back
        periods += quarter_periods(idx // 4, idx % 4 + 1, extraction_date)
    with_last_year = periods + [p.last_year() for p in periods]
    unique = {(p.kind, p.start, p.end): p for p in with_last_year}
    return sorted(unique.values(), key=lambda p: (p.end, p.kind, p.start))


def last_closed_quarter(extraction_date: dt.date) -> str:
    year, q = quarter_of(extraction_date)
    idx = year * 4 + (q - 1) - 1
    return f"{idx // 4}-Q{idx % 4 + 1}"
