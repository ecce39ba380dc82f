"""What every builder shares: the profile, the window, the reference data, the population,
and the case-processing habits common to the children's and the adult system."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from etl.synth.draw import stream
from etl.synth.population import PersonRegistry
from etl.synth.profiles import Profile
from etl.synth.reference import Reference
from etl.synth.timeline import Window, days

#: Share of decisions made within the published deadline (the KPI's target is 80 %).
ON_TIME_SHARE = 0.85
#: Longest time from application to decision.
MAX_PROCESSING_DAYS = 120
#: Open cases per active caseworker.
CASES_PER_CASEWORKER = 30


@dataclass
class Context:
    profile: Profile
    window: Window
    reference: Reference
    persons: PersonRegistry
    seed: int

    def rng(self, name: str) -> np.random.Generator:
        return stream(self.seed, name)

    def application_dates(self, rng: np.random.Generator, decided: np.ndarray, codes: np.ndarray) -> np.ndarray:
        """Application dates 1-120 days before each decision, ~85 % within the service's deadline."""
        deadline = pd.Series(codes).map(self.reference.deadline_days).to_numpy(dtype=float)
        on_time = rng.random(len(decided)) < ON_TIME_SHARE
        late_lo = np.minimum(deadline + 1, MAX_PROCESSING_DAYS)
        waited = np.where(
            on_time,
            1 + rng.random(len(decided)) * deadline,
            late_lo + rng.random(len(decided)) * (MAX_PROCESSING_DAYS + 1 - late_lo),
        )
        return decided - days(waited)

    def deadlines(self, applied: np.ndarray, codes: np.ndarray) -> np.ndarray:
        deadline = pd.Series(codes).map(self.reference.deadline_days).to_numpy(dtype="int64")
        return applied + deadline.astype("timedelta64[D]")


def assign_caseworkers(rng: np.random.Generator, case_units: np.ndarray, case_open: np.ndarray,
                       ) -> tuple[np.ndarray, pd.DataFrame]:
    """Caseworker ids per case and the caseworker list (id, unit, active).

    Each unit has enough active caseworkers for its open cases plus some who have left;
    open cases always sit with an active caseworker, closed ones with anyone.
    """
    units = np.unique(case_units)
    worker_ids = np.zeros(len(case_units), dtype="int64")
    rows = []
    next_id = 1
    for unit in units:
        in_unit = case_units == unit
        n_active = max(3, int(np.ceil((in_unit & case_open).sum() / CASES_PER_CASEWORKER)))
        n_left = max(1, n_active // 5)
        ids = np.arange(next_id, next_id + n_active + n_left)
        pool = np.where(case_open[in_unit], n_active, n_active + n_left)
        worker_ids[in_unit] = ids[np.floor(rng.random(in_unit.sum()) * pool).astype(int)]
        rows.append(pd.DataFrame({"id": ids, "unit": unit, "active": np.arange(len(ids)) < n_active}))
        next_id += len(ids)
    return worker_ids, pd.concat(rows, ignore_index=True)
