"""The suppression attack's verdict the tests share: which small cells an attacker holding a
warehouse's `public` rows recovers (the attacker is the publisher's own, etl/publish/audit.py)."""

from __future__ import annotations

import pandas as pd

from etl.core.reference import load_reference
from etl.core.settings import Settings
from etl.publish.audit import AttackResult, attack
from etl.publish.suppression import CELL, primary_mask
from etl.publish.warehouse import make_engine, read_table


def leaks(result: AttackResult) -> pd.DataFrame:
    """The recovered figures that are not 0 (a recovered zero tells nothing about a person)."""
    return result.determined[result.determined["true"].abs() > 1e-9]


def cell_keys(frame: pd.DataFrame) -> list[tuple]:
    keys = frame[[*CELL, "version"]].astype(str).copy()
    for column in ("period_start", "period_end"):
        keys[column] = pd.to_datetime(frame[column]).dt.strftime("%Y-%m-%d")
    return list(keys.itertuples(index=False, name=None))


def small_cells(truth: pd.DataFrame) -> set[tuple]:
    """The cells (with their version) that hold a small figure: what suppression protects."""
    small = truth[primary_mask(truth.reset_index(drop=True)).to_numpy()]
    return set(cell_keys(small))


def public_and_truth(settings: Settings, where: str = "", kpis: tuple[str, ...] | None = None
                     ) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The warehouse's `public.kpi_value` rows (`where`: a filter, e.g. one version; `kpis`: only
    those) and `mart.kpi_value`'s true figures of the same keys (no caseworker rows)."""
    engine = make_engine(settings.warehouse_url())
    try:
        public, truth = read_table(engine, "public.kpi_value", where), read_table(engine, "mart.kpi_value", where)
    finally:
        engine.dispose()
    if kpis is not None:
        public, truth = public[public["kpi_id"].isin(kpis)], truth[truth["kpi_id"].isin(kpis)]
    return public, truth[truth["org_level"] != "caseworker"].reset_index(drop=True)


def attack_public(settings: Settings, where: str = "", kpis: tuple[str, ...] | None = None
                  ) -> tuple[pd.DataFrame, pd.DataFrame, AttackResult]:
    """Attack those rows (as `public_and_truth`): the rows, the truth and the result."""
    public, truth = public_and_truth(settings, where, kpis)
    return public, truth, attack(public, truth, load_reference(settings.reference_dir)["dim_org"])


def recovered_small_cells(settings: Settings, where: str = "", kpis: tuple[str, ...] | None = None
                          ) -> tuple[set[tuple], AttackResult]:
    """The small cells whose figure the attack on `public` (as `attack_public`) recovers."""
    _, truth, result = attack_public(settings, where, kpis)
    return set(cell_keys(leaks(result))) & small_cells(truth), result
