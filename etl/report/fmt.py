"""Danish number and date formats for the committee report: 14,9 · 4.383 · 30. september 2025 ·
12,3 mio. kr."""

from __future__ import annotations

import datetime as dt
import math

MONTHS = ("januar", "februar", "marts", "april", "maj", "juni", "juli", "august", "september", "oktober",
          "november", "december")
SUPPRESSED = "–"
#: kpi_value.unit values whose figure is a share (0..1), shown as a percentage
SHARE_UNITS = {"share"}
#: kpi_value.unit values in Danish kroner (theme 6): the total, per day of a measure, per citizen
MONEY_UNITS = {"dkk", "dkk_per_day", "dkk_per_citizen"}


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
    if unit in MONEY_UNITS:
        return money(value)
    return number(value)


def money(value: float | None) -> str:
    """Kroner as a committee reads them: 119006600 -> '119,0 mio. kr.', 1.2e9 -> '1,2 mia. kr.',
    845312.4 -> '845.312 kr.' (below a million: whole kroner)."""
    if is_missing(value):
        return SUPPRESSED
    value = float(value)
    if abs(round(value)) < 1e6:
        return f"{number(round(value), 0)} kr."
    if abs(value) >= 1e9:
        return f"{number(value / 1e9, 1)} mia. kr."
    return f"{number(value / 1e6, 1)} mio. kr."


def axis(value: float, unit: str) -> str:
    """A chart axis label: as `figure`, but money short, without 'kr.' ('40 mio.', '500')."""
    if unit in MONEY_UNITS:
        return f"{number(value / 1e6)} mio." if abs(value) >= 1e6 else number(round(value))
    return figure(value, unit)


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
