"""Validate: a landed table becomes a typed, staged table plus a quarantine, or fails loudly.

Two phases (engineering notes): first parse every text value to its contract type — a
value that cannot be parsed sends its row to quarantine with the column and reason;
then run the table's pandera schema lazily on the typed rows — row-level failures
(NULL in a required column, a value outside the allowed set or range, a duplicate
primary key) also go to quarantine. Table-level failures (missing column, a column
that cannot be read at all, zero rows, the row count collapsing against the previous
extract) raise `StructuralValidationError`, so the task goes red and the previous good
extract stays in use. Conservation: rows in = rows staged + rows quarantined, always.
"""

from __future__ import annotations

import datetime as dt
import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow

from etl.core import zones
from etl.core.periods import local_now
from etl.core.storage import write_parquet_atomic
from etl.core.tables import Column, TableSpec
from etl.extract.incremental import high_watermark, merge_into_base, table_rows, vanished_keys
from etl.sources.base import Source
from schemas import schema_for

log = logging.getLogger(__name__)

#: A column is unreadable (structural, not row-level) when more than this share of its
#: non-empty values fail to parse, with at least `UNREADABLE_MIN_ROWS` failures.
UNREADABLE_SHARE = 0.5
UNREADABLE_MIN_ROWS = 5
#: The extract is structurally suspect when it has fewer rows than this share of the
#: previous good extract of the same table.
COLLAPSE_SHARE = 0.5
#: Dates outside this window cannot be real registrations (e.g. 0001-01-01).
EARLIEST_DATE = pd.Timestamp("1880-01-01")


class StructuralValidationError(RuntimeError):
    """The table as a whole is unusable; the message names source, table, column and rule."""


@dataclass
class ValidationResult:
    source: str
    table: str
    extract_date: str
    rows_in: int
    rows_staged: int
    rows_quarantined: int
    quarantine_by_rule: dict[str, int] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    staged_path: str = ""  # absolute here; relative to the data folder where it is stored
    quarantine_path: str = ""
    seconds: float = 0.0
    # What the staged table is (see etl.extract.incremental): a full extract's valid rows, or an
    # incremental extract's valid rows merged into its base.
    mode: str = "full"
    base_extract_date: str | None = None
    rows_carried: int = 0  # base rows kept unchanged (incremental)
    rows_total: int = 0  # rows in the staged table = rows_staged + rows_carried
    rows_vanished: int | None = None  # base keys a full extract no longer has (hard deletes)
    source_files: dict[str, str] | None = None  # a file table's drop files, name -> SHA-256 (etl.extract.incremental)
    watermark: str | None = None  # largest change timestamp in the staged table
    last_full_extract_date: str | None = None
    schema_hash: str = ""

    def as_dict(self) -> dict:
        return asdict(self)


def _parse_column(raw: pd.Series, column: Column, fmt: str | None) -> pd.Series:
    """Parse text to the logical type; unparseable values become NA (caller compares)."""
    text = raw.astype("str").str.strip()
    if column.type == "str":
        return raw.astype("str")
    if column.type == "int":
        ok = text.str.fullmatch(r"[+-]?\d+(\.0+)?")
        return pd.to_numeric(text.where(ok), errors="coerce").astype("Int64")
    if column.type in ("decimal", "float"):
        return pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce").astype("Float64")
    if column.type == "bool":
        mapping = {"1": True, "0": False, "true": True, "false": False}
        return text.str.lower().map(mapping).astype("boolean")
    if column.type == "date":
        if fmt:
            parsed = pd.to_datetime(text, format=fmt, errors="coerce")
        else:  # ISO date, also when a driver returns a midnight timestamp for a date
            parsed = pd.to_datetime(text.str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
        return parsed.where(parsed >= EARLIEST_DATE).astype("datetime64[s]")
    if column.type == "datetime":
        parsed = pd.to_datetime(text, format="ISO8601", errors="coerce")
        return parsed.where(parsed >= EARLIEST_DATE).astype("datetime64[s]")
    raise ValueError(column.type)


def parse_table(raw: pd.DataFrame, spec: TableSpec, where: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Phase 1: typed frame and a (row, rule, column, reason) frame of parse failures."""
    typed = pd.DataFrame(index=raw.index)
    problems = []
    for column in spec.columns:
        values = raw[column.name]
        parsed = _parse_column(values, column, spec.date_formats.get(column.name))
        failed = values.notna() & parsed.isna()
        if column.type == "str":  # undecodable bytes (U+FFFD), or a NUL no warehouse text column holds
            failed = values.notna() & values.astype("str").str.contains("[\ufffd\x00]").fillna(False).astype(bool)
        n_failed, n_present = int(failed.sum()), int(values.notna().sum())
        if n_failed >= UNREADABLE_MIN_ROWS and n_failed > UNREADABLE_SHARE * n_present:
            examples = ", ".join(repr(v) for v in values[failed].head(3))
            raise StructuralValidationError(
                f"{where}: column {column.name!r} cannot be read as {column.type} "
                f"({n_failed} of {n_present} values fail, e.g. {examples}); rule type:{column.name}")
        if n_failed:
            kind = "encoding" if column.type == "str" else "type"
            reason = "is not valid text (undecodable bytes or NUL)" if kind == "encoding" else f"is not a valid {column.type}"
            problems.append(pd.DataFrame({
                "_row": values.index[failed], "_rule": f"{kind}:{column.name}", "_column": column.name,
                "_reason": [f"{v!r} {reason}" for v in values[failed]]}))
        typed[column.name] = parsed
    failures = pd.concat(problems) if problems else pd.DataFrame(columns=["_row", "_rule", "_column", "_reason"])
    return typed, failures


_CHECK_KINDS = {"isin": "allowed_values", "not_nullable": "not_null", "greater_than_or_equal_to": "min",
                "less_than_or_equal_to": "max", "field_uniqueness": "duplicate_key",
                "multiple_fields_uniqueness": "duplicate_key"}


def check_schema(typed: pd.DataFrame, schema: pa.DataFrameSchema, where: str) -> pd.DataFrame:
    """Phase 2: pandera, lazily; row failures returned, table failures raised."""
    try:
        schema.validate(typed, lazy=True)
    except pa.errors.SchemaErrors as err:
        cases = err.failure_cases
        table_level = cases[cases["index"].isna()]
        if len(table_level):
            first = table_level.iloc[0]
            raise StructuralValidationError(
                f"{where}: column {first['column']!r} fails {first['check']} "
                f"({first['failure_case']!r}); {len(table_level)} table-level failure(s)") from err
        rows = cases.dropna(subset=["index"])
        kind = rows["check"].astype(str).str.split("(", n=1).str[0].map(_CHECK_KINDS).fillna("check")
        rule = (kind + ":" + rows["column"].astype(str)).where(kind != "duplicate_key", "duplicate_key")
        return pd.DataFrame({
            "_row": rows["index"].astype("int64").to_numpy(), "_rule": rule.to_numpy(),
            "_column": rows["column"].astype(str).to_numpy(),
            "_reason": [f"{c}: {v!r}" for c, v in zip(rows["check"], rows["failure_case"])]})
    return pd.DataFrame(columns=["_row", "_rule", "_column", "_reason"])


def _previous_rows(staged_root: Path, source: str, table: str, extract_date: dt.date) -> int | None:
    """Rows of the table in its latest earlier validated extract, if any."""
    base = zones.base_partition(staged_root, source, table, extract_date)
    if base is None:
        return None
    return table_rows(zones.read_validation(base))


def validate_table(source: Source, spec: TableSpec, landing_root: Path, staged_root: Path,
                   quarantine_root: Path, extract_date: dt.date) -> ValidationResult:
    started = time.monotonic()
    where = f"{source.name}.{spec.name} ({extract_date})"
    landed_dir = zones.partition_dir(landing_root, source.name, spec.name, extract_date)
    manifest = zones.read_manifest(landed_dir)
    raw = pd.read_parquet(landed_dir / zones.DATA_FILE)
    if len(raw) != manifest["rows"]:
        raise StructuralValidationError(f"{where}: landed file has {len(raw)} rows, manifest says {manifest['rows']}")

    result = ValidationResult(source.name, spec.name, extract_date.isoformat(), len(raw), 0, 0)
    missing = [c for c in spec.column_names if c not in raw.columns]
    if missing:
        raise StructuralValidationError(f"{where}: missing contract column(s) {missing}; rule contract_columns")
    extra = [c for c in raw.columns if c not in spec.column_names and not c.startswith("_source_")]
    extra += manifest.get("ignored_columns", [])
    if extra:
        result.warnings.append(f"ignored column(s) not in the contract: {extra}")
        log.warning("%s: ignoring column(s) not in the contract: %s", where, extra)
    incremental = manifest.get("mode") == "incremental"
    if spec.expect_rows and len(raw) == 0 and not incremental:  # a quiet night has no changes
        raise StructuralValidationError(f"{where}: zero rows where rows are expected; rule expect_rows")
    previous = _previous_rows(staged_root, source.name, spec.name, extract_date)
    if previous and not incremental and len(raw) < COLLAPSE_SHARE * previous:
        raise StructuralValidationError(
            f"{where}: row count collapsed from {previous} to {len(raw)}; rule row_count_collapse")

    raw = raw.reset_index(drop=True)
    typed, parse_failures = parse_table(raw, spec, where)
    readable = ~typed.index.isin(parse_failures["_row"])
    schema_failures = check_schema(typed[readable], schema_for(spec, source.owner), where)
    failures = pd.concat([parse_failures, schema_failures], ignore_index=True)

    bad_rows = failures["_row"].unique() if len(failures) else []
    valid = typed.drop(index=bad_rows).reset_index(drop=True)
    quarantine = _quarantine_frame(raw, failures)
    staged = _stage(result, valid, manifest, spec, staged_root, source.name, where)
    staged_dir = zones.partition_dir(staged_root, source.name, spec.name, extract_date)
    quarantine_dir = zones.partition_dir(quarantine_root, source.name, spec.name, extract_date)
    write_parquet_atomic(staged_dir / zones.DATA_FILE, pa_arrow.Table.from_pandas(staged, preserve_index=False))
    write_parquet_atomic(quarantine_dir / zones.QUARANTINE_FILE,
                         pa_arrow.Table.from_pandas(quarantine, preserve_index=False))

    result.rows_staged, result.rows_quarantined = len(valid), len(quarantine)
    result.quarantine_by_rule = {str(k): int(v) for k, v in
                                 failures.drop_duplicates(["_row", "_rule"])["_rule"].value_counts().sort_index().items()}
    result.staged_path = str(staged_dir / zones.DATA_FILE)
    result.quarantine_path = str(quarantine_dir / zones.QUARANTINE_FILE)
    result.seconds = round(time.monotonic() - started, 3)
    if result.rows_in != result.rows_staged + result.rows_quarantined:  # conservation, always
        raise StructuralValidationError(f"{where}: {result.rows_in} rows in but {result.rows_staged} staged "
                                        f"+ {result.rows_quarantined} quarantined")
    zones.write_validation(staged_dir, result.as_dict())  # last: the partition now counts
    return result


def _stage(result: ValidationResult, valid: pd.DataFrame, manifest: dict, spec: TableSpec, staged_root: Path,
           source: str, where: str) -> pd.DataFrame:
    """The staged table: the valid rows, merged into the base when the extract is incremental.

    Records mode, base, carried rows, vanished keys and the new watermark in `result`.
    """
    plan = manifest.get("plan") or {}
    result.mode, result.schema_hash = manifest.get("mode", "full"), spec.schema_hash()
    result.source_files = manifest.get("files")
    result.last_full_extract_date = plan.get("last_full_extract_date") or result.extract_date
    base_dir = (zones.partition_dir(staged_root, source, spec.name, plan["base_extract_date"])
                if result.mode == "incremental" else
                zones.base_partition(staged_root, source, spec.name, dt.date.fromisoformat(result.extract_date)))
    staged = valid
    if result.mode == "incremental":
        if base_dir is None or not zones.is_validated(base_dir):
            raise StructuralValidationError(f"{where}: the incremental extract's base {base_dir} is gone; "
                                            "re-run with a full extract; rule incremental_base")
        result.base_extract_date = plan["base_extract_date"]
        staged, result.rows_carried = merge_into_base(pd.read_parquet(base_dir / zones.DATA_FILE), valid, spec)
    elif base_dir is not None and spec.primary_key and source_kind_is_database(manifest):
        result.rows_vanished = vanished_keys(pd.read_parquet(base_dir / zones.DATA_FILE), valid, spec)
        if result.rows_vanished:
            log.warning("%s: %d key(s) of the extract of %s are gone from the source (hard deletes, or "
                        "rows quarantined tonight)", where, result.rows_vanished, zones.partition_date(base_dir))
    result.rows_total, result.watermark = len(staged), high_watermark(staged, spec, dt.date.fromisoformat(result.extract_date))
    return staged


def source_kind_is_database(manifest: dict) -> bool:
    return manifest.get("origin") in ("database", "odbc")


def _quarantine_frame(raw: pd.DataFrame, failures: pd.DataFrame) -> pd.DataFrame:
    """One row per quarantined source row: its raw values plus every rule it broke."""
    if not len(failures):
        return raw.iloc[0:0].assign(_row=pd.Series(dtype="int64"), _rules="", _reasons="")
    grouped = failures.groupby("_row").agg(_rules=("_rule", lambda s: "; ".join(dict.fromkeys(s))),
                                           _reasons=("_reason", lambda s: "; ".join(dict.fromkeys(s))))
    out = raw.loc[grouped.index].copy()
    out.insert(0, "_row", grouped.index.astype("int64"))
    out["_rules"], out["_reasons"] = grouped["_rules"].to_numpy(), grouped["_reasons"].to_numpy()
    return out.reset_index(drop=True)


def publish_source(source: Source, staged_root: Path, extract_date: dt.date, run_id: str,
                   results: list[dict]) -> dict:
    """Mark this extract as the source's current good one (what the model reads).

    Written only after every table validated, so a failed night leaves the previous
    pointer, and with it the previous good extract, in place. The pointer only moves
    forward: re-running an older date (a backfill) re-validates that date's partition
    without making it current.
    """
    tables = {r["table"]: {**{k: r.get(k) for k in ("rows_in", "rows_staged", "rows_quarantined", "rows_total",
                                                     "mode")},
                           "staged_path": str(zones.partition_dir(staged_root, source.name, r["table"], extract_date)
                                              / zones.DATA_FILE)}
              for r in results}
    missing = [t.name for t in source.tables if t.name not in tables]
    if missing:
        raise StructuralValidationError(f"{source.name}: no validated extract for table(s) {missing}")
    pointer = {"source": source.name, "extract_date": extract_date.isoformat(), "run_id": run_id,
               "completed_at": local_now().isoformat(timespec="seconds"), "tables": tables}
    current = zones.read_pointer(staged_root, source.name)
    if current and current["extract_date"] > pointer["extract_date"]:
        log.info("%s: %s is a backfill; the current extract stays %s", source.name, extract_date,
                 current["extract_date"])
        return {**pointer, "current": False}
    zones.write_pointer(staged_root, source.name, pointer)
    return {**pointer, "current": True}
