"""The business's reference data, read from `reference/`: the only codes the generator uses.

The generator never invents a unit code or a paragraph text of its own (except where a
quirk plants an unknown one), so whatever the pipeline fails to map is a planted defect.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from etl.core.reference import read_accounts, read_refusion

REFERENCE_DIR = Path(__file__).resolve().parents[2] / "reference"


@dataclass(frozen=True)
class Reference:
    units_by_system: dict[str, tuple[str, ...]]
    paragraphs_by_code: dict[str, tuple[str, ...]]  # service code -> texts, in file order
    deadline_days: dict[str, int]  # service code -> days
    unit_names: dict[tuple[str, str], str]  # (system, unit code) -> the Ét SOF unit it maps to
    accounts: pd.DataFrame  # accounts.csv: one row per function
    refusion: pd.DataFrame  # refusion.csv: one row per year

    @classmethod
    def load(cls, folder: Path = REFERENCE_DIR) -> Reference:
        organisation = pd.read_csv(folder / "organisation.csv", dtype=str)
        paragraphs = pd.read_csv(folder / "paragraphs.csv", dtype=str)
        deadlines = pd.read_csv(folder / "deadlines.csv", dtype={"service_code": str, "deadline_days": int})
        return cls(
            units_by_system={
                system: tuple(dict.fromkeys(group["unit_code"]))
                for system, group in organisation.groupby("system", sort=True)
            },
            paragraphs_by_code={
                code: tuple(group["paragraph_text"])
                for code, group in paragraphs.groupby("service_code", sort=True)
            },
            deadline_days=dict(zip(deadlines["service_code"], deadlines["deadline_days"])),
            unit_names=dict(zip(zip(organisation["system"], organisation["unit_code"]), organisation["unit"])),
            accounts=read_accounts(folder / "accounts.csv"),
            refusion=read_refusion(folder / "refusion.csv"),
        )

    @property
    def known_units(self) -> frozenset[str]:
        return frozenset(u for units in self.units_by_system.values() for u in units)

    @property
    def known_paragraphs(self) -> frozenset[str]:
        return frozenset(t for texts in self.paragraphs_by_code.values() for t in texts)

    def units(self, system: str, *wanted: str) -> tuple[str, ...]:
        """The system's unit codes, or the `wanted` ones after checking they exist."""
        known = self.units_by_system[system]
        missing = [u for u in wanted if u not in known]
        if missing:
            raise ValueError(f"reference/organisation.csv has no {system} units {missing}")
        return tuple(wanted) or known

    def finance_unit(self, system: str, unit_code: str) -> str:
        """The finance system's code for the same Ét SOF unit as `system`'s `unit_code`."""
        name = self.unit_names[(system, unit_code)]
        codes = [code for (s, code), unit in self.unit_names.items() if s == "oekonomi" and unit == name]
        if len(codes) != 1:
            raise ValueError(f"reference/organisation.csv maps {len(codes)} oekonomi units to {name!r} "
                             f"({system} {unit_code}); expected exactly one")
        return codes[0]

    def function(self, funktion: str) -> pd.Series:
        """The accounts.csv row of a function the generator books on (it must be there)."""
        rows = self.accounts[self.accounts["funktion"] == funktion]
        if len(rows) != 1:
            raise ValueError(f"reference/accounts.csv has no function {funktion!r}")
        return rows.iloc[0]

    def refusion_row(self, year: int) -> pd.Series:
        """The refund thresholds in force in `year`: that year's row, else the latest earlier one."""
        rows = self.refusion[self.refusion["aar"] <= year]
        if rows.empty:
            raise ValueError(f"reference/refusion.csv has no row for {year} or earlier")
        return rows.iloc[-1]

    def paragraph(self, code: str, text: str) -> str:
        """`text`, after checking the reference maps it to service code `code`."""
        if text not in self.paragraphs_by_code.get(code, ()):
            raise ValueError(f"reference/paragraphs.csv does not map {text!r} to {code}")
        return text

    def unknown(self, candidates: tuple[str, ...], known: frozenset[str]) -> tuple[str, ...]:
        """The planted unknown codes, checked to really be unknown to the reference."""
        clashes = [c for c in candidates if c in known]
        if clashes:
            raise ValueError(f"planted unknown codes {clashes} are in the reference")
        return candidates
