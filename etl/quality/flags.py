"""KPIs built on a source whose blocking rule breached, or on a stale source: flagged, not held back.

Choice: FLAG. The KPI values are still published in `mart.kpi_value` (its columns are
the fixed BI contract, and holding a whole KPI back hides every correct breakdown for
one bad source); beside them `mart.dq_kpi_flag` lists, per run, each KPI built on a
source with a breached blocking rule and which rule@source blocked it. The BI layer
joins on `kpi_id` + `run_id` and shows a warning on the tile. A rule blocks when
`blocking: true` in `config/dq_rules.yaml`, by default when its severity is `error`.

Stale: a KPI reading a source that DQ10 found behind the night (a failed extract left its last
good one in use) carries `stale = true` and the stale sources, whether or not DQ10 blocks; the
same rows go to `public.dq_kpi_flag`, and the committee report marks those tiles.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Mapping

import pandas as pd

from etl.kpi.catalog import CATALOG
from etl.model import conform
from etl.publish.marts import DQ_KPI_FLAG
from etl.quality.runner import Breach, DqOutcome


def _field(breach: Breach | Mapping, name: str, default=None):
    return breach.get(name, default) if isinstance(breach, Mapping) else getattr(breach, name, default)


def blocking_breaches(breaches: DqOutcome | Iterable[Breach | Mapping]) -> dict[str, list[str]]:
    """Source -> the `rule@source` labels of its breached blocking rules (sorted).

    Accepts an outcome, `Breach` objects, or breaches as the plain dicts XCom carries
    (a dict without `blocking` blocks when its severity is error).
    """
    items = breaches.breaches if isinstance(breaches, DqOutcome) else breaches
    blocked: dict[str, set[str]] = {}
    for breach in items:
        blocking = _field(breach, "blocking")
        if blocking is None:
            blocking = _field(breach, "severity") == "error"
        if blocking:
            source = _field(breach, "source")
            blocked.setdefault(source, set()).add(f"{_field(breach, 'rule_id')}@{source}")
    return {source: sorted(labels) for source, labels in sorted(blocked.items())}


def blocked_sources(breaches: DqOutcome | Iterable[Breach | Mapping]) -> set[str]:
    """The sources with at least one breached blocking rule."""
    return set(blocking_breaches(breaches))


def catalogue_sources() -> dict[str, frozenset[str]]:
    """KPI id -> the sources it is built on: the lineage of each catalogue entry."""
    return {kpi_id: definition.sources for kpi_id, definition in CATALOG.items()}


#: The freshness rule: its breach on a source means the source is stale (etl/quality/rules.py).
STALE_RULE = "DQ10"


def stale_sources(breaches: DqOutcome | Iterable[Breach | Mapping]) -> set[str]:
    """The sources DQ10 found stale, blocking or not."""
    items = breaches.breaches if isinstance(breaches, DqOutcome) else breaches
    return {_field(b, "source") for b in items if _field(b, "rule_id") == STALE_RULE}


def flag_kpis(kpi_values: pd.DataFrame, blocked: Mapping[str, Collection[str]] | Collection[str],
              run_id: str, flagged_at: dt.datetime,
              kpi_sources: Mapping[str, Collection[str]] | None = None,
              stale: Collection[str] = ()) -> pd.DataFrame:
    """One `dq_kpi_flag` row per KPI in `kpi_values` built on a blocked or a `stale` source.

    `blocked` is `blocking_breaches(...)` (source -> rule@source labels) or a plain set
    of sources (then the label is the source). `kpi_sources` defaults to the catalogue's
    lineage. A KPI it does not know is flagged by every blocked or stale source: unknown
    dependencies are not assumed clean. `kpi_run_id` is taken from the values' own `run_id`
    column when they have one.
    """
    labels = blocked if isinstance(blocked, Mapping) else {source: [source] for source in blocked}
    if kpi_sources is None:
        kpi_sources = catalogue_sources()
    stale = set(stale)
    kpi_run = None
    if "run_id" in kpi_values.columns and kpi_values["run_id"].notna().any():
        kpi_run = str(kpi_values["run_id"].dropna().iloc[0])
    rows = []
    for kpi_id in sorted(set(kpi_values["kpi_id"])):
        sources = kpi_sources.get(kpi_id, set(labels) | stale)
        by = sorted({label for source in sources for label in labels.get(source, ())})
        behind = sorted(stale & set(sources))
        if by or behind:
            rows.append({"kpi_id": kpi_id, "run_id": run_id, "blocked_by": ",".join(by),
                         "flagged_at": pd.Timestamp(flagged_at), "stale": bool(behind),
                         "stale_sources": ",".join(behind) or None, "kpi_run_id": kpi_run})
    return conform(pd.DataFrame(rows, columns=DQ_KPI_FLAG.column_names), DQ_KPI_FLAG)
