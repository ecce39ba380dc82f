"""Sizes of the synthetic municipality and the default rates of the planted defects.

A profile says how big the administration is (citizens, notifications, placed children,
employees) and how much history it has; every other volume is derived from these in the
builders, so the three profiles differ in size only, never in shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from types import MappingProxyType

#: Default extraction date: fixed, so a run never depends on the clock. It lies after
#: Barnets Lov (2024-01-01) and Rusmiddelbehandlingsloven (2025-07-01), so both
#: paragraph renumberings are in the data.
DEFAULT_EXTRACTION_DATE = date(2025, 10, 1)

#: Every planted defect and its default rate: the share of the eligible records (defined
#: per quirk in `quirks.py`) that get the defect. A rate of 0 plants nothing.
DEFAULT_QUIRK_RATES: Mapping[str, float] = MappingProxyType({
    "decision_missing_deadline": 0.08,
    "decision_future_dated": 0.004,
    "complaint_missing_reference": 0.05,
    "complaint_dangling_reference": 0.03,
    "complaint_reference_formatting": 0.05,
    "complaint_missing_system": 0.01,
    "service_missing_start": 0.03,
    "cpr_missing": 0.02,
    "cpr_replacement": 0.005,
    "cpr_invalid": 0.003,
    "duplicate_person": 0.01,
    "end_before_start": 0.005,
    "notification_assessed_before_received": 0.01,
    "overlapping_stays": 0.01,
    "stay_forgotten_checkout": 0.01,
    "stay_future_start": 0.04,
    "unknown_unit_code": 0.005,
    "unknown_paragraph": 0.005,
    "soft_deleted": 0.02,
    # oekonomi (economy.md): eligible records are stated in etl/synth/oekonomi.py.
    "posting_missing_reference": 0.01,
    "posting_reference_formatting": 0.03,
    "posting_credit_note": 0.005,
    "posting_december_in_january": 0.9,
    "posting_duplicate_voucher": 0.002,
    "commitment_open_after_end": 0.03,
    "measure_without_economy": 0.01,
    "unknown_function": 0.002,
    "budget_missing": 0.05,
    # Not a rate but an on/off switch (0 or 1): the CPR file's last line is cut short.
    "cpr_file_truncated_last_line": 0.0,
})


@dataclass(frozen=True)
class Profile:
    """The size of one synthetic administration."""

    name: str
    description: str
    adult_citizens: int  # adults with a case in the adult system during the history
    notifications_per_year: int
    placed_children_per_year: int  # children in placement at some time during a year
    employees: int  # headcount on the extraction date
    history_start: date | None = None  # a fixed first day of history ...
    history_years: int | None = None  # ... or this many years before the extraction date
    quirk_rates: Mapping[str, float] = field(default_factory=lambda: dict(DEFAULT_QUIRK_RATES))
    cpr_file_truncated_last_line: bool = False

    def __post_init__(self) -> None:
        if (self.history_start is None) == (self.history_years is None):
            raise ValueError(f"profile {self.name}: give history_start or history_years")

    def first_day(self, extraction_date: date) -> date:
        """The first day of history for an extraction on `extraction_date`."""
        if self.history_start is not None:
            return self.history_start
        return date(extraction_date.year - self.history_years, extraction_date.month, 1)

    def rates(self, overrides: Mapping[str, float] | None = None) -> dict[str, float]:
        """The profile's quirk rates with `overrides` applied; unknown names are errors."""
        rates = {**DEFAULT_QUIRK_RATES, **self.quirk_rates,
                 "cpr_file_truncated_last_line": float(self.cpr_file_truncated_last_line)}
        for name, rate in (overrides or {}).items():
            if name not in DEFAULT_QUIRK_RATES:
                raise ValueError(f"unknown quirk {name!r}; known: {', '.join(DEFAULT_QUIRK_RATES)}")
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"quirk {name}: rate {rate} is not between 0 and 1")
            rates[name] = float(rate)
        return rates


PROFILES: dict[str, Profile] = {
    p.name: p
    for p in (
        Profile(
            name="demo",
            description="A small administration that generates in seconds: the newcomer's default.",
            adult_citizens=1_500,
            notifications_per_year=800,
            placed_children_per_year=60,
            employees=400,
            history_start=date(2019, 1, 1),
        ),
        Profile(
            name="copenhagen",
            description="Copenhagen's Socialforvaltning at its real size, ten years of history.",
            adult_citizens=30_000,
            notifications_per_year=17_000,
            placed_children_per_year=1_200,
            employees=7_500,
            history_years=10,
        ),
        Profile(
            name="national",
            description="Ten times Copenhagen: a load test for the pipeline.",
            adult_citizens=300_000,
            notifications_per_year=170_000,
            placed_children_per_year=12_000,
            employees=75_000,
            history_years=10,
        ),
    )
}
