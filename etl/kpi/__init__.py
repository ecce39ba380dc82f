"""The KPI layer: the catalogue, and computing it for a model and reporting periods.

`compute_kpis(model, periods)` gives the `mart.kpi_value` rows the KPI layer owns
(the pipeline adds provisional, version, run_id and computed_at); `catalog_frame()`
gives `mart.kpi_catalog`. Importing this package registers every theme's computations.

Periods are independent, so `compute_kpis` spreads them over worker processes (one per
usable core, the setting `SOFLI_KPI_WORKERS` to override): the per-period work is many small pandas
operations that one core cannot overlap. Workers are forked, so they share the loaded
model copy-on-write instead of each reading it again.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping
from typing import Any

import pandas as pd

from etl.core.forking import map_forked
from etl.core.periods import Period
from etl.kpi import theme1, theme2, theme3, theme4, theme5, theme6  # noqa: F401  (registers the @kpi functions)
from etl.kpi.aggregate import KPI_ROW_COLUMNS, KPI_ROW_DTYPES, MEASURE_COLUMNS, PERSONS_BEHIND, kpi_value_rows
from etl.kpi.catalog import CATALOG, FLOW, KpiDefinition
from etl.model import Model, conform, empty_frame
from etl.publish.marts import KPI_CATALOG, KPI_VALUE

__all__ = ["CATALOG", "KpiDefinition", "catalog_frame", "compute_kpi", "compute_kpis", "kpi_params", "kpi_workers"]

log = logging.getLogger(__name__)


def _applies(definition: KpiDefinition, period: Period) -> bool:
    """Stocks are a status on a quarter's end: they have no year-to-date figure."""
    return definition.kpi_type == FLOW or period.kind == "quarter"


def compute_kpi(kpi_id: str, model: Model, period: Period, params: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """One KPI for one period, checked against its catalogue entry before it is published;
    `params` override the KPI's own settings (`KpiDefinition.params`)."""
    return kpi_value_rows(_checked_rows(kpi_id, model, period, params), kpi_id, period)


def kpi_params(definition: KpiDefinition, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """A KPI's settings: its catalogue defaults, overridden; an unknown name is refused."""
    unknown = set(overrides or {}) - set(definition.params)
    if unknown:
        raise ValueError(f"{definition.kpi_id} has no setting(s) {sorted(unknown)}")
    return {**definition.params, **(overrides or {})}


def _checked_rows(kpi_id: str, model: Model, period: Period,
                  params: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """A KPI function's rows for one period, refused if they stray from its catalogue entry."""
    definition = CATALOG[kpi_id]
    if not definition.implemented:
        raise ValueError(f"{kpi_id} has no computation yet")
    if not _applies(definition, period):
        raise ValueError(f"{kpi_id} is a stock KPI: it is reported for quarters only")
    if definition.params:
        rows = definition.compute(model, period, kpi_params(definition, params))
    else:
        rows = definition.compute(model, period)
    if list(rows.columns) != MEASURE_COLUMNS:
        raise ValueError(f"{kpi_id}: columns {list(rows.columns)} are not {MEASURE_COLUMNS}")
    undeclared = (set(rows["measure"]) - set(definition.measures)) | (
        set(rows["dimension"].dropna()) - set(definition.breakdowns))
    if undeclared:
        raise ValueError(f"{kpi_id}: measures/breakdowns not in its catalogue entry: {sorted(undeclared)}")
    if period.kind != "quarter" and set(rows["measure"]) & set(definition.quarter_only_measures):
        raise ValueError(f"{kpi_id}: stock measures {sorted(set(rows['measure']) & set(definition.stock_measures))} "
                         "are reported for quarters only")
    return rows


def _period_rows(model: Model, period: Period, kpi_ids: frozenset[str] | None = None,
                 params: Mapping[str, Mapping[str, Any]] | None = None) -> pd.DataFrame:
    """Every implemented KPI (of `kpi_ids`, default all) that applies to one period,
    stamped with its id and period; `params` per KPI id override its settings."""
    params = params or {}
    frames = [_checked_rows(d.kpi_id, model, period, params.get(d.kpi_id)).assign(kpi_id=d.kpi_id)
              for d in CATALOG.values()
              if d.implemented and _applies(d, period) and (kpi_ids is None or d.kpi_id in kpi_ids)]
    if not frames:
        return pd.DataFrame(columns=[*MEASURE_COLUMNS, "kpi_id"])
    rows = pd.concat(frames, ignore_index=True)
    return rows.assign(period_type=period.kind, period=period.label,
                       period_start=pd.Timestamp(period.start), period_end=pd.Timestamp(period.end))


def kpi_workers(n_periods: int, configured: int | None = None) -> int:
    """Worker processes for `n_periods`: `configured` (Settings.kpi_workers), else one per
    usable core; never more than there are periods."""
    workers = configured if configured is not None else len(os.sched_getaffinity(0))
    if workers < 1:
        raise ValueError(f"KPI workers must be at least 1, not {workers}")
    return max(1, min(workers, n_periods))


def _period_task(model: Model, task: tuple) -> pd.DataFrame:
    return _period_rows(model, *task)


def reads_postings(kpi_ids: Iterable[str] | None = None) -> bool:
    """Whether an implemented KPI of the run (all, or `kpi_ids`) reads `fact_posting`."""
    kpi_ids = None if kpi_ids is None else frozenset(kpi_ids)
    return any(d.implemented and "fact_posting" in d.model_tables and (kpi_ids is None or d.kpi_id in kpi_ids)
               for d in CATALOG.values())


def stage_tables() -> frozenset[str]:
    """The model tables the KPI stage reads: every implemented KPI's lineage, `case_cost`'s and
    the caseworker dimension's (`etl.publish.dims.dim_caseworker`)."""
    tables = set(theme6.CASE_COST_TABLES) | {"fact_case", "dim_org"}
    for d in CATALOG.values():
        if d.implemented:
            tables |= d.model_tables
    return frozenset(tables)


def compute_kpis(model: Model, periods: Iterable[Period], workers: int | None = None,
                 kpi_ids: Iterable[str] | None = None,
                 params: Mapping[str, Mapping[str, Any]] | None = None) -> pd.DataFrame:
    """Every implemented KPI (or those of `kpi_ids`) for every period it applies to, as
    `mart.kpi_value` rows (plus the internal `persons_behind`); `params` per KPI id
    override its settings (e.g. `{"T6.04": {"percent": 12}}`).

    The rows are the same, in the same order, whatever the number of workers (tested).
    Where worker processes cannot be started (a daemonic parent, no fork), the periods
    are computed here, one after the other.
    """
    periods = list(periods)
    kpi_ids = None if kpi_ids is None else frozenset(kpi_ids)
    workers = kpi_workers(len(periods)) if workers is None else max(1, min(workers, len(periods)))
    if workers > 1 and reads_postings(kpi_ids):
        theme6.prepare_shared(model)  # the postings prepared once, shared copy-on-write
    parts = map_forked(_period_task, model, [(p, kpi_ids, params) for p in periods], workers, log, "KPI",
                       f"computing the {len(periods)} periods")
    parts = [part for part in parts if len(part)]
    if not parts:
        return empty_frame(KPI_VALUE).assign(**{PERSONS_BEHIND: pd.Series(dtype=float)})[KPI_ROW_COLUMNS]
    rows = pd.concat(parts, ignore_index=True)
    return rows[KPI_ROW_COLUMNS].astype(KPI_ROW_DTYPES)


def catalog_frame() -> pd.DataFrame:
    """The catalogue as `mart.kpi_catalog`: every KPI, implemented or not."""
    rows = [{
        "kpi_id": d.kpi_id, "theme": d.theme, "theme_title": d.theme_title, "title": d.title,
        "description": d.description, "definition": d.definition, "kpi_type": d.kpi_type,
        "unit": d.unit, "measures": ",".join(d.measures), "breakdowns": ",".join(d.breakdowns),
        "owner": d.owner, "implemented": d.implemented,
    } for d in CATALOG.values()]
    return conform(pd.DataFrame(rows), KPI_CATALOG)
