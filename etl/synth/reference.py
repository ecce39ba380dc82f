"""The business's reference data, read from `reference/`: the only codes the generator uses.

The generator never invents a unit code or a paragraph text of its own (except where a
quirk plants an unknown one), so whatever the pipeline fails to map is a planted defect.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

REFERENCE_DIR = Path(__file__).resolve().parents[2] / "reference"


@dataclass(frozen=True)
class Reference:
    units_by_system: dict[str, tuple[str, ...]]
    paragraphs_by_code: dict[str, tuple[str, ...]]  # service code -> texts, in file order
    deadline_days: dict[str, int]  # service code -> days

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
