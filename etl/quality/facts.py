"""The run's facts beyond the model, for the rules that need them (DQ10, DQ13).

`RunFacts` is what `run_rules(..., facts=...)` hands to a rule registered with
`needs_facts=True`; `load_run_facts` builds it from what the pipeline already writes:

- freshness (`source_freshness`, the one definition behind DQ10 and `mart.source_freshness`):
  each source's current extract (`staged/<source>/CURRENT.json`, written by
  `etl.validate.table.publish_source` when an extract became current) against the night's
  extraction date, and, for file sources, the drop folder;
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

from etl.core import zones
from etl.core.zones import is_stale
from etl.core.periods import COPENHAGEN, local_now
from etl.core.settings import DEFAULT_MONTHLY_FILE_DUE_DAY
from etl.core.storage import write_frame_atomic
from etl.extract.incremental import table_rows
from etl.extract.land import expected_files
from etl.publish.warehouse import read_table
from etl.sources import SOURCES
from etl.validate import breakers
from etl.validate.table import OUTSIDE_FILE

log = logging.getLogger(__name__)

FRESHNESS_COLUMNS = ["source", "kind", "last_success_at", "extract_date", "rows", "age_hours", "days_behind",
                     "stale_after_days", "stale", "expected_file", "file_present", "checked_at"]
ROW_COUNT_COLUMNS = ["source", "table", "extract_date", "rows"]
KPI_TOTAL_COLUMNS = ["kpi_id", "measure", "period_type", "period", "provisional", "value", "denominator"]
HISTORY_COLUMNS = ["run_id", "computed_at", "kpi_id", "measure", "period_type", "period", "provisional", "value",
                   "denominator"]


@dataclass(frozen=True)
class RunFacts:
    """Facts of one run, as frames (columns in the `*_COLUMNS` lists above).

    freshness            one row per source (`source_freshness`): extract_date, days_behind,
                         stale_after_days, stale, age_hours (information), expected_file
                         and file_present (NULL for database sources)
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
    #: source -> "breaker tripped: <table> <measure>" while a tripped extract is held back
    breakers: dict[str, str] | None = None
    #: source, table, record_id, column, kind: the current extracts' deliveries outside the
    #: contract (kind "value": a categorical value kept as Ukendt; "column": an extra column)
    outside_contract: pd.DataFrame | None = None


def history_path(data_dir: Path) -> Path:
    return zones.DataFolder(data_dir).kpi_totals_history


def load_run_facts(settings, engine, run_id: str, checked_at: dt.datetime | None = None,
                   extraction_date: dt.date | None = None, record_history: bool = True) -> RunFacts:
    """Build the run's facts from the data folder and the warehouse.

    `checked_at` (default now) is when ages are measured; `extraction_date` (default the
    latest current extract date of any source, else `checked_at`'s date) names the file a
    daily file source must have delivered. With `engine` None no KPI totals are read.
    With `record_history` this run's KPI totals are appended to the history file
    (replacing an earlier attempt of the same run id) before the previous run's are read.
    """
    checked_at = checked_at or local_now()
    pointers = _pointers(settings.staged_dir)
    freshness = source_freshness(settings, checked_at, extraction_date, pointers)
    row_counts, previous_row_counts = _row_counts(settings.staged_dir, pointers)
    kpi_totals = previous_kpi_totals = None
    if engine is not None:
        kpi_totals = read_kpi_totals(engine)
        path = history_path(settings.data_dir)
        if record_history:
            append_kpi_history(path, kpi_totals, run_id, checked_at)
        previous_kpi_totals = previous_run_totals(path, run_id)
    return RunFacts(checked_at, freshness, row_counts, previous_row_counts, kpi_totals, previous_kpi_totals,
                    _conservation(settings, pointers), _breakers(settings.staged_dir),
                    _outside_contract(settings.staged_dir, pointers))


def _breakers(staged_dir: Path) -> dict[str, str]:
    """The sources whose newest extract a circuit breaker holds back (etl.validate.breakers)."""
    out = {}
    for name in SOURCES:
        record = breakers.tripped(staged_dir, name)
        if record:
            out[name] = f"{breakers.trip_reason(record)} (udtræk {record['extract_date']} holdt tilbage)"
    return out


OUTSIDE_COLUMNS = ["source", "table", "record_id", "column", "kind", "cpr"]


def _outside_contract(staged_dir: Path, pointers: dict[str, dict | None]) -> pd.DataFrame:
    """What the current extracts delivered outside their contracts (DQ20)."""
    frames = []
    for source, pointer in pointers.items():
        for table in sorted((pointer or {}).get("tables", {})):
            folder = zones.partition_dir(staged_dir, source, table, dt.date.fromisoformat(pointer["extract_date"]))
            outside = folder / OUTSIDE_FILE
            if outside.exists():
                values = pd.read_parquet(outside)
                if len(values):
                    frames.append(values.assign(source=source, table=table, kind="value",
                                                cpr=values["cpr"] if "cpr" in values else False))  # older partitions: none
            extra = (zones.read_validation(folder).get("extra_columns") or []) if (folder / zones.VALIDATION).exists() else []
            if extra:
                frames.append(pd.DataFrame({"source": source, "table": table, "record_id": [f"kolonne {c}" for c in extra],
                                            "column": extra, "kind": "column", "cpr": False}))
    if not frames:
        return pd.DataFrame(columns=OUTSIDE_COLUMNS)
    found = pd.concat(frames, ignore_index=True)[OUTSIDE_COLUMNS]
    return found.astype({c: "str" for c in OUTSIDE_COLUMNS if c != "cpr"}).astype({"cpr": "bool"})


def _conservation(settings, pointers: dict[str, dict | None]) -> pd.DataFrame | None:
    """Row counts along the chain for every table of every current extract (DQ14)."""
    rows = []
    for source, pointer in pointers.items():
        for table, counts in (pointer or {}).get("tables", {}).items():
            manifest = zones.read_manifest_if_any(zones.partition_dir(settings.landing_dir, source, table,
                                                                      pointer["extract_date"]))
            landed = manifest["rows"] if manifest else None
            rows.append({"source": source, "source_table": table, "landed": landed, "rows_in": counts["rows_in"],
                         "staged": counts["rows_staged"], "quarantined": counts["rows_quarantined"]})
    if not rows:
        return None
    chain = pd.DataFrame(rows)
    accounting_path = Path(settings.model_dir) / zones.ACCOUNTING
    if accounting_path.exists():
        accounting = pd.read_parquet(accounting_path)[["source", "source_table", "expected", "model"]]
        chain = chain.merge(accounting, on=["source", "source_table"], how="left")
    else:
        chain = chain.assign(expected=pd.NA, model=pd.NA)
    return chain


def _pointers(staged_dir: Path) -> dict[str, dict | None]:
    return zones.read_pointers(staged_dir, SOURCES)


def _naive(moment: dt.datetime) -> dt.datetime:
    """Pointers are written in naive Copenhagen time; an aware moment is compared in that time too."""
    return moment.astimezone(COPENHAGEN).replace(tzinfo=None) if moment.tzinfo is not None else moment


def source_freshness(settings, checked_at: dt.datetime, extraction_date: dt.date | None = None,
                     pointers: dict[str, dict | None] | None = None) -> pd.DataFrame:
    """How current every registered source is on the night of `extraction_date`: the one
    definition behind DQ10 and `mart.source_freshness`.

    A source is **stale** when it has no good extract, or its current extract's date is
    more than its allowance (`Source.stale_after_days`, default 0) behind the night's
    extraction date: a source whose extract failed tonight keeps serving yesterday's, one
    day behind, however recently that completed. The night's date, not the wall clock, so a
    replayed or late night is judged as the live one was. `age_hours` (since the pointer's
    extract completed, at `checked_at`) is information only. A file source's delivery is
    checked apart (`expected_delivery`): DQ10 also fails a file source whose expected file
    is missing, stale or not.

    `extraction_date` defaults to the newest current extract of any source (else
    `checked_at`'s date), so a source behind the others is stale."""
    pointers = _pointers(settings.staged_dir) if pointers is None else pointers
    if extraction_date is None:
        dates = [dt.date.fromisoformat(p["extract_date"]) for p in pointers.values() if p]
        extraction_date = max(dates) if dates else _naive(checked_at).date()
    rows = []
    for name, source in SOURCES.items():
        pointer = pointers.get(name)
        last = _naive(dt.datetime.fromisoformat(pointer["completed_at"])) if pointer else None
        extract_date = dt.date.fromisoformat(pointer["extract_date"]) if pointer else None
        behind = zones.days_behind(pointer, extraction_date)
        age = (_naive(checked_at) - last).total_seconds() / 3600 if last else None
        expected_file, present = expected_delivery(settings, source, extraction_date, settings.monthly_file_due_day)
        rows.append({"source": name, "kind": source.kind, "last_success_at": last, "extract_date": extract_date,
                     "rows": sum(t["rows_staged"] for t in pointer["tables"].values()) if pointer else None,
                     "age_hours": round(age, 2) if age is not None else None, "days_behind": behind,
                     "stale_after_days": source.stale_after_days, "stale": is_stale(behind, source.stale_after_days),
                     "expected_file": expected_file, "file_present": present, "checked_at": _naive(checked_at)})
    frame = pd.DataFrame(rows, columns=FRESHNESS_COLUMNS)
    return frame.astype({"rows": "Int64", "days_behind": "Int64", "age_hours": "Float64"})


#: DQ10: the monthly file for month M is owed from this day of month M + 1 (catalogue
#: reading, issue 20); an operator sets another with SOFLI_MONTHLY_FILE_DUE_DAY.
MONTHLY_FILE_DUE_DAY = DEFAULT_MONTHLY_FILE_DUE_DAY


def due_month(extraction_date: dt.date, due_day: int = MONTHLY_FILE_DUE_DAY) -> dt.date:
    """The latest month whose monthly file must have arrived by `extraction_date`: the month
    before the extraction date's month from its `due_day`, the month before that until then."""
    month = extraction_date.month - (1 if extraction_date.day >= due_day else 2)
    return dt.date(extraction_date.year + (month - 1) // 12, (month - 1) % 12 + 1, 1)


def expected_delivery(settings, source, extraction_date: dt.date,
                      monthly_due_day: int = MONTHLY_FILE_DUE_DAY) -> tuple[str | None, bool | None]:
    """(the files a file source must have delivered for `extraction_date`, whether they are
    there); (None, None) for a database source.

    A daily file (`%d` in its pattern) must be there for the date itself; a monthly file
    for the `due_month` (the previous month from the due day on), whatever older months
    are there (catalogue reading of DQ10, issue 20)."""
    if source.kind != "file":
        return None, None
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
    return ", ".join(names), present


def _row_counts(staged_dir: Path, pointers: dict[str, dict | None]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Rows delivered per table on the current extract date and the one before (an
    incremental extract counts its base rows carried over too: the table's size)."""
    current, previous = [], []
    for source, pointer in pointers.items():
        if not pointer:
            continue
        date = pointer["extract_date"]
        for table, counts in sorted(pointer.get("tables", {}).items()):
            here = zones.partition_dir(staged_dir, source, table, date)
            rows = table_rows(zones.read_validation(here)) if zones.is_validated(here) else counts.get("rows_in")
            if rows is not None:
                current.append({"source": source, "table": table, "extract_date": date, "rows": int(rows)})
            earlier = zones.base_partition(staged_dir, source, table, dt.date.fromisoformat(date))
            if earlier is not None:
                previous.append({"source": source, "table": table, "extract_date": zones.partition_date(earlier),
                                 "rows": table_rows(zones.read_validation(earlier))})
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
    write_frame_atomic(path, combined)


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
