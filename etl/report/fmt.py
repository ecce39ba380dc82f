"""Danish number and date formats for the committee report: 14,9 · 4.383 · 30. september 2025."""

from __future__ import annotations

import datetime as dt
import math

MONTHS = ("januar", "februar", "marts", "april", "maj", "juni", "juli", "august", "september", "oktober",
          "november", "december")
SUPPRESSED = "–"
#: kpi_value.unit values whose figure is a share (0..1), shown as a percentage
SHARE_UNITS = {"share"}


def is_missing(value: object) -> bool:
    return value is None or (isinstance(value, float) and math.isnan(value))


def number(value: float | None, decimals: int | None = None) -> str:
    """4383 -> '4.383'; 14.93 -> '14,9'; None -> '–'. Whole numbers get no decimals unless asked."""
    if is_missing(value):
        return SUPPRESSED
    value = float(value)
    if decimals is None:
        decimals = 0 if value.is_integer() else 1
    text = f"{value:,.{decimals}f}"
    return text.replace(",", "\x00").replace(".", ",").replace("\x00", ".")


def figure(value: float | None, unit: str) -> str:
    """A KPI figure by its kpi_value.unit: shares as '14,9 %', counts as '4.383', days '12,5'."""
    if is_missing(value):
        return SUPPRESSED
    if unit in SHARE_UNITS:
        return f"{number(100 * float(value), 1)} %"
    return number(value)


def date(day: dt.date | str) -> str:
    """2025-09-30 -> '30. september 2025'."""
    if isinstance(day, str):
        day = dt.date.fromisoformat(day[:10])
    return f"{day.day}. {MONTHS[day.month - 1]} {day.year}"


def datetime(moment: dt.datetime | str) -> str:
    if isinstance(moment, str):
        moment = dt.datetime.fromisoformat(moment)
    return f"{date(moment.date())} kl. {moment:%H.%M}"


def quarter(label: str) -> str:
    """'2025-Q3' -> '3. kvartal 2025'."""
    year, q = label.split("-Q")
    return f"{q}. kvartal {year}"


def quarter_short(label: str) -> str:
    """'2025-Q3' -> '3. kv. 2025'."""
    year, q = label.split("-Q")
    return f"{q}. kv. {year}"
