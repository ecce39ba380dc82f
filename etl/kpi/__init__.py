"""The KPI layer: the catalogue, and computing it for a model and reporting periods.

`compute_kpis(model, periods)` gives the `mart.kpi_value` rows the KPI layer owns
(the pipeline adds provisional, version, run_id and computed_at); `catalog_frame()`
gives `mart.kpi_catalog`. Importing this package registers every theme's computations.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from etl.kpi import theme1, theme2, theme3, theme4, theme5  # noqa: F401  (registers the @kpi functions)
from etl.kpi.aggregate import KPI_ROW_COLUMNS, MEASURE_COLUMNS, kpi_value_rows
from etl.kpi.catalog import CATALOG, FLOW, KpiDefinition
from etl.marts import KPI_CATALOG, KPI_VALUE
from etl.model import Model, conform, empty_frame
from etl.periods import Period

__all__ = ["CATALOG", "KpiDefinition", "catalog_frame", "compute_kpi", "compute_kpis"]


def _applies(definition: KpiDefinition, period: Period) -> bool:
    """Stocks are a status on a quarter's end: they have no year-to-date figure."""
    return definition.kpi_type == FLOW or period.kind == "quarter"


def compute_kpi(kpi_id: str, model: Model, period: Period) -> pd.DataFrame:
    """One KPI for one period, checked against its catalogue entry before it is published."""
    definition = CATALOG[kpi_id]
    if not definition.implemented:
        raise ValueError(f"{kpi_id} has no computation yet")
    if not _applies(definition, period):
        raise ValueError(f"{kpi_id} is a stock KPI: it is reported for quarters only")
    rows = definition.compute(model, period)
    if list(rows.columns) != MEASURE_COLUMNS:
        raise ValueError(f"{kpi_id}: columns {list(rows.columns)} are not {MEASURE_COLUMNS}")
    undeclared = (set(rows["measure"]) - set(definition.measures)) | (
        set(rows["dimension"].dropna()) - set(definition.breakdowns))
    if undeclared:
        raise ValueError(f"{kpi_id}: measures/breakdowns not in its catalogue entry: {sorted(undeclared)}")
    return kpi_value_rows(rows, kpi_id, period)


def compute_kpis(model: Model, periods: Iterable[Period]) -> pd.DataFrame:
    """Every implemented KPI for every period it applies to, as `mart.kpi_value` rows."""
    frames = [compute_kpi(definition.kpi_id, model, period)
              for period in periods
              for definition in CATALOG.values()
              if definition.implemented and _applies(definition, period)]
    if not frames:
        return empty_frame(KPI_VALUE)[KPI_ROW_COLUMNS]
    return pd.concat(frames, ignore_index=True)


def catalog_frame() -> pd.DataFrame:
    """The catalogue as `mart.kpi_catalog`: every KPI, implemented or not."""
    rows = [{
        "kpi_id": d.kpi_id, "theme": d.theme, "theme_title": d.theme_title, "title": d.title,
        "description": d.description, "definition": d.definition, "kpi_type": d.kpi_type,
        "unit": d.unit, "measures": ",".join(d.measures), "breakdowns": ",".join(d.breakdowns),
        "owner": d.owner, "implemented": d.implemented,
    } for d in CATALOG.values()]
    return conform(pd.DataFrame(rows), KPI_CATALOG)
