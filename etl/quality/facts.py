"""The run's facts beyond the model, for the rules that need them (DQ10, DQ13).

`RunFacts` is what `run_rules(..., facts=...)` hands to a rule registered with
`needs_facts=True`; `load_run_facts` builds it from what the pipeline already writes:

- freshness: `staged/<source>/CURRENT.json` (written by `etl.validate.table.publish_source`
  when an extract became current) and, for file sources, the drop folder;
- row counts: `staged/<source>/<table>/extract_date=<d>/validation.json` (`rows_in`, the
  rows the source delivered) of the current extract date and of the one before it;
- KPI totals: the SOF totals (`org_level = 'sof'`, no breakdown) of `mart.kpi_value`
  version 0, appended to `<data>/dq/kpi_totals_history.parquet` each run, because
  `mart.kpi_value` keeps only the latest nightly version; the previous run's totals are
  read back from that file.

Every part may be missing (a first run, no warehouse yet): the rules then report what
they can and never fail for lack of a previous value.
"""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from etl.core.periods import COPENHAGEN, local_now
from etl.core.storage import partition_dir, read_json
from etl.extract.incremental import table_rows
from etl.extract.land import expected_files
from etl.publish.warehouse import read_table
from etl.sources import SOURCES

log = logging.getLogger(__name__)

FRESHNESS_COLUMNS = ["source", "kind", "last_success_at", "extract_date", "age_hours", "days_behind",
                     "stale_after_hours", "stale", "expected_file", "file_present"]
#: DQ10: the monthly file for month M is expected from this day of month M + 1 (catalogue
#: reading, issue 20); `config/dq_rules.yaml` DQ10 `monthly_file_due_day` overrides it.
MONTHLY_FILE_DUE_DAY = 10
ROW_COUNT_COLUMNS = ["source", "table", "extract_date", "rows"]
KPI_TOTAL_COLUMNS = ["kpi_id", "measure", "period_type", "period", "provisional", "value", "denominator"]
HISTORY_COLUMNS = ["run_id", "computed_at", "kpi_id", "measure", "period_type", "period", "provisional", "value",
                   "denominator"]


@dataclass(frozen=True)
class RunFacts:
    """Facts of one run, as frames (columns in the `*_COLUMNS` lists above).

    freshness            one row per source: last_success_at, age_hours (unrounded),
                         stale_after_hours, stale, expected_file and file_present (NULL
                         for database sources)
    row_counts           source, table, extract_date, rows of the current extract
    previous_row_counts  the same for each table's previous extract date (None: none)
    kpi_totals           kpi_id, measure, period_type, period, provisional, value (SOF totals)
    previous_kpi_totals  the previous run's, same columns (None: no previous run)
    conservation         per source table: landed (manifest), rows_in, staged, quarantined
                         of the current extract, and the model stage's accounting
                         (expected model rows after documented drops, actual model rows)
    """

    checked_at: dt.datetime
    freshness: pd.DataFrame
    row_counts: pd.DataFrame
    previous_row_counts: pd.DataFrame | None = None
    kpi_totals: pd.DataFrame | None = None
    previous_kpi_totals: pd.DataFrame | None = None
    conservation: pd.DataFrame | None = None


def is_stale(age_hours: float | None, stale_after_hours: float, days_behind: int | None = 0) -> bool:
    """Stale when never extracted, strictly older than the limit (36 h exactly is fresh), or
    its extract date further behind the run's extraction date than the limit allows (a
    source that failed tonight keeps serving yesterday's extract, visibly behind)."""
    return age_hours is None or age_hours > stale_after_hours or 24 * (days_behind or 0) > stale_after_hours


def due_month(extraction_date: dt.date, due_day: int = MONTHLY_FILE_DUE_DAY) -> dt.date:
    """The latest month whose monthly file must have arrived by `extraction_date`: the month
    before the extraction date's month from its `due_day`, the month before that until then."""
    first = extraction_date.replace(day=1)
    back = 1 if extraction_date.day >= due_day else 2
    month = first.month - back
    return dt.date(first.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def history_path(data_dir: Path) -> Path:
    return Path(data_dir) / "dq" / "kpi_totals_history.parquet"


def load_run_facts(settings, engine, run_id: str, checked_at: dt.datetime | None = None,
                   extraction_date: dt.date | None = None, record_history: bool = True,
                   monthly_due_day: int = MONTHLY_FILE_DUE_DAY) -> RunFacts:
    """Build the run's facts from the data folder and the warehouse.

    `checked_at` (default now) is when ages are measured; `extraction_date` (default the
    latest current extract date of any source, else `checked_at`'s date) names the file a
    daily file source must have delivered. With `engine` None no KPI totals are read.
    With `record_history` this run's KPI totals are appended to the history file
    (replacing an earlier attempt of the same run id) before the previous run's are read.
    """
    checked_at = checked_at or local_now()
    pointers = current_pointers(settings.staged_dir)
    if extraction_date is None:
        dates = [dt.date.fromisoformat(p["extract_date"]) for p in pointers.values() if p]
        extraction_date = max(dates) if dates else checked_at.date()
    freshness = source_freshness_facts(settings, pointers, checked_at, extraction_date, monthly_due_day)
    row_counts, previous_row_counts = _row_counts(settings.staged_dir, pointers)
    kpi_totals = previous_kpi_totals = None
    if engine is not None:
        kpi_totals = read_kpi_totals(engine)
        path = history_path(settings.data_dir)
        if record_history:
            append_kpi_history(path, kpi_totals, run_id, checked_at)
        previous_kpi_totals = previous_run_totals(path, run_id)
    return RunFacts(checked_at, freshness, row_counts, previous_row_counts, kpi_totals, previous_kpi_totals,
                    _conservation(settings, pointers))


def _conservation(settings, pointers: dict[str, dict | None]) -> pd.DataFrame | None:
    """Row counts along the chain for every table of every current extract (DQ14)."""
    rows = []
    for source, pointer in pointers.items():
        for table, counts in (pointer or {}).get("tables", {}).items():
            manifest = partition_dir(settings.landing_dir, source, table,
                                     dt.date.fromisoformat(pointer["extract_date"])) / "manifest.json"
            landed = read_json(manifest)["rows"] if manifest.exists() else None
            rows.append({"source": source, "source_table": table, "landed": landed, "rows_in": counts["rows_in"],
                         "staged": counts["rows_staged"], "quarantined": counts["rows_quarantined"]})
    if not rows:
        return None
    chain = pd.DataFrame(rows)
    accounting_path = Path(settings.model_dir) / "accounting.parquet"
    if accounting_path.exists():
        accounting = pd.read_parquet(accounting_path)[["source", "source_table", "expected", "model"]]
        chain = chain.merge(accounting, on=["source", "source_table"], how="left")
    else:
        chain = chain.assign(expected=pd.NA, model=pd.NA)
    return chain


def current_pointers(staged_dir: Path) -> dict[str, dict | None]:
    pointers = {}
    for name in SOURCES:
        path = Path(staged_dir) / name / "CURRENT.json"
        pointers[name] = read_json(path) if path.exists() else None
    return pointers


def _naive(moment: dt.datetime) -> dt.datetime:
    """Pointers are written in naive Copenhagen time; an aware moment is compared in that time too."""
    return moment.astimezone(COPENHAGEN).replace(tzinfo=None) if moment.tzinfo is not None else moment


def source_freshness_facts(settings, pointers: dict[str, dict | None], checked_at: dt.datetime,
                           extraction_date: dt.date, monthly_due_day: int = MONTHLY_FILE_DUE_DAY) -> pd.DataFrame:
    """The one definition of a source's freshness, behind both DQ10 and `mart.source_freshness`
    (the freshness page): age and days behind against the source's allowance, and for a
    file source whether the file it owes is in the drop folder (a daily file: the
    extraction date's; a monthly file: the `due_month`'s, whatever older months are there)."""
    rows = []
    for name, source in SOURCES.items():
        pointer = pointers.get(name)
        last = _naive(dt.datetime.fromisoformat(pointer["completed_at"])) if pointer else None
        age = (_naive(checked_at) - last).total_seconds() / 3600 if last else None
        extract_date = dt.date.fromisoformat(pointer["extract_date"]) if pointer else None
        behind = (extraction_date - extract_date).days if extract_date else None
        expected_file, present = None, None
        if source.kind == "file":
            drop = Path(settings.source_location(source))
            names, present = [], True
            for table in source.tables:
                if "%d" in (table.file_pattern or ""):  # a daily file: that day's file must be there
                    files = expected_files(table, drop, extraction_date)
                    names += [f.name for f in files]
                    present = present and all(f.exists() for f in files)
                else:  # a monthly file: the due month's must be there, older months do not stand in
                    owed = drop / table.file_pattern.format(date=due_month(extraction_date, monthly_due_day))
                    names.append(owed.name)
                    present = present and owed.exists()
            expected_file = ", ".join(names)
        rows.append({"source": name, "kind": source.kind, "last_success_at": last,
                     "extract_date": extract_date, "age_hours": age, "days_behind": behind,
                     "stale_after_hours": float(source.stale_after_hours),
                     "stale": is_stale(age, source.stale_after_hours, behind),
                     "expected_file": expected_file, "file_present": present})
    return pd.DataFrame(rows, columns=FRESHNESS_COLUMNS)


def _row_counts(staged_dir: Path, pointers: dict[str, dict | None]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows delivered per table on the current extract date and the one before (an
    incremental extract counts its base rows carried over too: the table's size)."""
    current, previous = [], []
    for source, pointer in pointers.items():
        if not pointer:
            continue
        date = pointer["extract_date"]
        for table, counts in sorted(pointer.get("tables", {}).items()):
            table_dir = Path(staged_dir) / source / table
            here = table_dir / f"extract_date={date}" / "validation.json"
            rows = table_rows(read_json(here)) if here.exists() else counts.get("rows_in")
            if rows is not None:
                current.append({"source": source, "table": table, "extract_date": date, "rows": int(rows)})
            earlier = sorted(p for p in table_dir.glob("extract_date=*")
                             if p.name < f"extract_date={date}" and (p / "validation.json").exists())
            if earlier:
                previous.append({"source": source, "table": table,
                                 "extract_date": earlier[-1].name.split("=", 1)[1],
                                 "rows": table_rows(read_json(earlier[-1] / "validation.json"))})
    return (pd.DataFrame(current, columns=ROW_COUNT_COLUMNS), pd.DataFrame(previous, columns=ROW_COUNT_COLUMNS))


def read_kpi_totals(engine) -> pd.DataFrame:
    """The SOF totals of the nightly version of `mart.kpi_value`."""
    try:
        values = read_table(engine, "mart.kpi_value",
                            "WHERE version = 0 AND org_level = 'sof' AND dimension IS NULL")
    except Exception as exc:  # noqa: BLE001 - no KPI table yet: DQ13 checks row counts only
        log.warning("no KPI totals for DQ13: %s", exc)
        return pd.DataFrame(columns=KPI_TOTAL_COLUMNS)
    values = values.assign(provisional=values["provisional"].astype(bool),
                           value=pd.to_numeric(values["value"], errors="coerce"),
                           denominator=pd.to_numeric(values["denominator"], errors="coerce"))
    return values[KPI_TOTAL_COLUMNS].reset_index(drop=True)


def append_kpi_history(path: Path, totals: pd.DataFrame, run_id: str, computed_at: dt.datetime) -> None:
    """Add this run's totals to the history file (atomically), replacing the same run id's."""
    rows = totals[KPI_TOTAL_COLUMNS].assign(run_id=run_id, computed_at=pd.Timestamp(_naive(computed_at)))
    history = read_kpi_history(path)
    history = history[history["run_id"] != run_id]
    combined = rows[HISTORY_COLUMNS] if history.empty else pd.concat([history, rows[HISTORY_COLUMNS]],
                                                                     ignore_index=True)
    combined = combined.astype({"run_id": "str", "kpi_id": "str", "measure": "str", "period_type": "str",
                                "period": "str", "provisional": "bool", "value": "float64",
                                "denominator": "float64"})
    combined["computed_at"] = pd.to_datetime(combined["computed_at"]).astype("datetime64[us]")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    combined.to_parquet(tmp, index=False)
    tmp.replace(path)


def read_kpi_history(path: Path) -> pd.DataFrame:
    path = Path(path)
    # a history written before the denominators were kept reads them as unknown
    return pd.read_parquet(path).reindex(columns=HISTORY_COLUMNS) if path.exists() else pd.DataFrame(columns=HISTORY_COLUMNS)


def previous_run_totals(path: Path, run_id: str) -> pd.DataFrame | None:
    """The totals of the latest run before `run_id` (by computed_at), None when there is none."""
    history = read_kpi_history(path)
    earlier = history[history["run_id"] != run_id]
    if earlier.empty:
        return None
    latest = earlier.loc[earlier["computed_at"].idxmax(), "run_id"]
    return earlier[earlier["run_id"] == latest][KPI_TOTAL_COLUMNS].reset_index(drop=True)
