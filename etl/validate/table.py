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
import re
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import pandera.pandas as pa
import pyarrow as pa_arrow
import pyarrow.parquet as pq

from etl.core import zones
from etl.core.periods import local_now
from etl.core.privacy import cpr_cells
from etl.core.storage import write_parquet_atomic
from etl.core.tables import Column, TableSpec
from etl.core.vocabulary import UNKNOWN
from etl.extract.incremental import high_watermark, merge_into_base, table_rows, vanished_keys
from etl.sources.base import Source
from etl.validate import breakers
from schemas import schema_for

log = logging.getLogger(__name__)

#: A column is unreadable (structural, not row-level) when more than this share of its
#: non-empty values fail to parse, with at least `UNREADABLE_MIN_ROWS` failures.
UNREADABLE_SHARE = 0.5
UNREADABLE_MIN_ROWS = 5
#: Landed rows parsed at a time (memory: the text of this many rows, not of the whole table).
CHUNK_ROWS = 1_000_000
#: The extract is structurally suspect when it has fewer rows than this share of the
#: previous good extract of the same table.
COLLAPSE_SHARE = 0.5
#: Dates outside this window cannot be real registrations (e.g. 0001-01-01).
EARLIEST_DATE = pd.Timestamp("1880-01-01")
#: Per staged partition: the rows with a categorical value outside the contract (record id, column; DQ20).
OUTSIDE_FILE = "outside_contract.parquet"
#: Per quarantine partition: the base's rows withdrawn because their key arrived twice tonight.
WITHDRAWN_FILE = "withdrawn.parquet"


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
    extra_columns: list[str] = field(default_factory=list)  # delivered, not in the contract (ignored)
    values_outside_contract: dict[str, int] = field(default_factory=dict)  # column -> values kept as Ukendt
    rows_withdrawn: int = 0  # base rows of a key quarantined tonight as a duplicate (incremental)
    profile: dict = field(default_factory=dict)  # the circuit breakers' measures (etl.validate.breakers)

    def as_dict(self) -> dict:
        return asdict(self)


#: strptime directives -> the exact text they accept (pandas' `%Y%m%d` also reads 7 digits).
_DIRECTIVES = {"%Y": r"\d{4}", "%m": r"\d{2}", "%d": r"\d{2}", "%H": r"\d{2}", "%M": r"\d{2}", "%S": r"\d{2}"}
#: What the landing layer writes for a database date (a driver may return a midnight timestamp).
_ISO_DATE = r"\d{4}-\d{2}-\d{2}(?: 00:00:00(?:\.0{1,6})?)?"
#: What the landing layer writes for a timestamp (`etl.extract.landing_text`).
_ISO_DATETIME = r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?"


def format_pattern(fmt: str) -> str:
    """The regular expression of exactly the text a strptime format writes."""
    out, i = [], 0
    while i < len(fmt):
        if fmt[i] == "%" and fmt[i:i + 2] in _DIRECTIVES:
            out.append(_DIRECTIVES[fmt[i:i + 2]])
            i += 2
        else:
            out.append(re.escape(fmt[i]))
            i += 1
    return "".join(out)


def _parse_column(raw: pd.Series, column: Column, fmt: str | None) -> pd.Series:
    """Parse text to the logical type; unparseable values become NA (caller compares).

    Dates and timestamps parse only in their exact contract format: the text's shape is
    checked first (so `2024123` is no `%Y%m%d` date), then strptime checks the ranges."""
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
            shaped = text.where(text.str.fullmatch(format_pattern(fmt)).fillna(False).astype(bool))
            parsed = pd.to_datetime(shaped, format=fmt, errors="coerce")
        else:  # ISO date, also when a driver returns a midnight timestamp for a date
            shaped = text.where(text.str.fullmatch(_ISO_DATE).fillna(False).astype(bool))
            parsed = pd.to_datetime(shaped.str.slice(0, 10), format="%Y-%m-%d", errors="coerce")
        return parsed.where(parsed >= EARLIEST_DATE).astype("datetime64[s]")
    if column.type == "datetime":
        if fmt:
            shaped = text.where(text.str.fullmatch(format_pattern(fmt)).fillna(False).astype(bool))
            parsed = pd.to_datetime(shaped, format=fmt, errors="coerce")
        else:
            shaped = text.where(text.str.fullmatch(_ISO_DATETIME).fillna(False).astype(bool))
            parsed = pd.to_datetime(shaped.str.replace("T", " ", regex=False), format="ISO8601", errors="coerce")
        return parsed.where(parsed >= EARLIEST_DATE).astype("datetime64[s]")
    raise ValueError(column.type)


def parse_table(raw: pd.DataFrame, spec: TableSpec) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame, dict]:
    """Phase 1, on one chunk of the landed rows: typed frame, a (row, rule, column, reason)
    frame of parse failures, a (row, column) frame of categorical values outside the
    contract's list, and per column the tally `_check_readable` judges the table by
    (failed, present, the first failing rows).

    Such a value is not a reason to drop the row (the case, the complaint still happened):
    it is kept as `Ukendt` and reported (DQ20), so nothing outside the contract's lists can
    reach a breakdown in `public`; the value itself is never copied anywhere (it may be free
    text, even a CPR)."""
    typed = pd.DataFrame(index=raw.index)
    problems, unknown, tally = [], [], {}
    for column in spec.columns:
        values = raw[column.name]
        parsed = _parse_column(values, column, spec.date_formats.get(column.name))
        failed = values.notna() & parsed.isna()
        if column.type == "str":  # undecodable bytes (U+FFFD), or a NUL no warehouse text column holds
            failed = values.notna() & values.astype("str").str.contains("[\ufffd\x00]").fillna(False).astype(bool)
        n_failed, n_present = int(failed.sum()), int(values.notna().sum())
        tally[column.name] = (n_failed, n_present, [int(i) for i in values.index[failed][:3]])
        if n_failed:
            kind = "encoding" if column.type == "str" else "type"
            reason = "is not valid text (undecodable bytes or NUL)" if kind == "encoding" else f"is not a valid {column.type}"
            problems.append(pd.DataFrame({
                "_row": values.index[failed], "_rule": f"{kind}:{column.name}", "_column": column.name,
                "_reason": [f"{v!r} {reason}" for v in values[failed]]}))
        if column.allowed is not None and column.type == "str":
            outside = (values.notna() & ~failed & ~values.isin(column.allowed)).fillna(False).astype(bool)
            if outside.any():
                parsed = parsed.where(~outside, UNKNOWN)
                unknown.append(pd.DataFrame({"_row": values.index[outside], "_column": column.name,
                                             "_cpr": cpr_cells(values[outside]).to_numpy()}))  # DQ22
        typed[column.name] = parsed
    failures = pd.concat(problems) if problems else pd.DataFrame(columns=["_row", "_rule", "_column", "_reason"])
    outside = pd.concat(unknown) if unknown else pd.DataFrame(columns=["_row", "_column", "_cpr"])
    return typed, failures, outside, tally


def _check_readable(tally: dict, spec: TableSpec, where: str) -> None:
    """A column is unreadable, and the table broken, when most of its values fail to parse."""
    for column in spec.columns:
        n_failed, n_present, first = tally[column.name]
        if n_failed >= UNREADABLE_MIN_ROWS and n_failed > UNREADABLE_SHARE * n_present:
            rows = ", ".join(str(i + 1) for i in first)  # positions, never the values
            raise StructuralValidationError(
                f"{where}: column {column.name!r} cannot be read as {column.type} "
                f"({n_failed} of {n_present} values fail, first at record(s) {rows} of the extract); rule type:{column.name}")


@dataclass
class _Parsed:
    """The landed table parsed chunk by chunk: the typed rows and what failed, never the raw
    text of every row (at national scale the postings' text alone took 5.7 GiB)."""

    typed: pd.DataFrame
    failures: pd.DataFrame
    outside: pd.DataFrame
    rows: int
    file_rows: pd.Series  # rows per drop file (`_source_file`), empty for a database table


def _landed_chunks(path: Path, chunk_rows: int, rows: list[int] | None = None):
    """The landed file as pandas frames of at most `chunk_rows` rows, indexed by position in the
    file; with `rows` (sorted positions) only those rows."""
    landed = pq.ParquetFile(path)
    positions = None if rows is None else np.asarray(rows, dtype="int64")
    offset = 0
    for batch in landed.iter_batches(batch_size=chunk_rows):
        chunk = pa_arrow.Table.from_batches([batch])
        if positions is None:
            frame = chunk.to_pandas()
            frame.index = pd.RangeIndex(offset, offset + len(frame))
            yield frame
        else:
            inside = positions[(positions >= offset) & (positions < offset + batch.num_rows)]
            if len(inside):
                frame = chunk.take(inside - offset).to_pandas()
                frame.index = pd.Index(inside, dtype="int64")
                yield frame
        offset += batch.num_rows
    if offset == 0 and rows is None:  # no rows: one empty frame with the file's columns
        yield landed.schema_arrow.empty_table().to_pandas()


def _parse_landed(path: Path, spec: TableSpec, where: str, chunk_rows: int) -> _Parsed:
    """Phase 1 over the whole landed file, one chunk at a time; the failures and the values
    outside the contract in the order a single pass would give (column by column)."""
    typed, failures, outside, file_rows, tally, rows = [], [], [], [], {}, 0
    for chunk in _landed_chunks(path, chunk_rows):
        parsed, failed, out, counts = parse_table(chunk, spec)
        typed.append(parsed)
        failures.append(failed)
        outside.append(out)
        if "_source_file" in chunk.columns:
            file_rows.append(chunk["_source_file"].value_counts())
        for name, (n_failed, n_present, first) in counts.items():
            before = tally.get(name, (0, 0, []))
            tally[name] = (before[0] + n_failed, before[1] + n_present, (before[2] + first)[:3])
        rows += len(chunk)
    _check_readable(tally, spec, where)
    order = {c.name: i for i, c in enumerate(spec.columns)}

    def column_major(frames: list[pd.DataFrame]) -> pd.DataFrame:
        frames = [f for f in frames if len(f)] or frames[:1]
        frame = pd.concat(frames) if len(frames) > 1 else frames[0]
        if len(frames) > 1:
            frame = frame.sort_values(["_column", "_row"], key=lambda s: s.map(order) if s.name == "_column" else s,
                                      kind="stable")
        return frame

    return _Parsed(typed=pd.concat(typed) if len(typed) > 1 else typed[0], failures=column_major(failures),
                   outside=column_major(outside), rows=rows,
                   file_rows=pd.concat(file_rows).groupby(level=0).sum() if file_rows else pd.Series(dtype="int64"))


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
                f"{where}: column {first['column']!r} fails {first['check']}; "
                f"{len(table_level)} table-level failure(s)") from None  # the failing values stay out of the log
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
                   quarantine_root: Path, extract_date: dt.date, chunk_rows: int = CHUNK_ROWS) -> ValidationResult:
    """Landed -> staged and quarantined. The landed text is parsed `chunk_rows` rows at a time
    and only the failing rows' text is read back for the quarantine, so memory follows the
    typed table, not the text."""
    started = time.monotonic()
    where = f"{source.name}.{spec.name} ({extract_date})"
    landed_dir = zones.partition_dir(landing_root, source.name, spec.name, extract_date)
    manifest = zones.read_manifest(landed_dir)
    landed = pq.ParquetFile(landed_dir / zones.DATA_FILE)
    rows_in, landed_columns = landed.metadata.num_rows, landed.schema_arrow.names
    if rows_in != manifest["rows"]:
        raise StructuralValidationError(f"{where}: landed file has {rows_in} rows, manifest says {manifest['rows']}")

    result = ValidationResult(source.name, spec.name, extract_date.isoformat(), rows_in, 0, 0)
    missing = [c for c in spec.column_names if c not in landed_columns]
    if missing:
        raise StructuralValidationError(f"{where}: missing contract column(s) {missing}; rule contract_columns")
    extra = [c for c in landed_columns if c not in spec.column_names and not c.startswith("_source_")]
    extra += manifest.get("ignored_columns", [])
    result.extra_columns = sorted(set(extra))
    if extra:
        result.warnings.append(f"ignored column(s) not in the contract: {extra}")
        log.warning("%s: ignoring column(s) not in the contract: %s", where, extra)
    incremental = manifest.get("mode") == "incremental"
    if spec.expect_rows and rows_in == 0 and not incremental:  # a quiet night has no changes
        raise StructuralValidationError(f"{where}: zero rows where rows are expected; rule expect_rows")
    previous = _previous_rows(staged_root, source.name, spec.name, extract_date)
    if previous and not incremental and rows_in < COLLAPSE_SHARE * previous:
        raise StructuralValidationError(
            f"{where}: row count collapsed from {previous} to {rows_in}; rule row_count_collapse")

    parsed = _parse_landed(landed_dir / zones.DATA_FILE, spec, where, chunk_rows)
    if parsed.rows != rows_in:
        raise StructuralValidationError(f"{where}: landed file read {parsed.rows} rows of {rows_in}")
    typed, parse_failures, outside = parsed.typed, parsed.failures, parsed.outside
    parsed.typed = None  # `del typed` below frees it
    readable = ~typed.index.isin(parse_failures["_row"])
    schema_failures = check_schema(typed[readable], schema_for(spec, source.owner, extra_allowed=(UNKNOWN,)), where)
    failures = pd.concat([parse_failures, schema_failures], ignore_index=True)

    bad_rows = failures["_row"].unique() if len(failures) else []
    duplicated = failures.loc[failures["_rule"] == "duplicate_key", "_row"].unique() if len(failures) else []
    # (`drop` copies even with nothing to drop; `reset_index` is a lazy copy under copy-on-write)
    valid = (typed.drop(index=bad_rows) if len(bad_rows) else typed).reset_index(drop=True)
    withdrawn_keys = typed.loc[duplicated, list(spec.primary_key)] if len(duplicated) else None
    del typed
    wanted = sorted(set(failures["_row"].astype("int64")) | set(outside["_row"].astype("int64")))
    raw = (pd.concat(list(_landed_chunks(landed_dir / zones.DATA_FILE, chunk_rows, wanted))) if wanted
           else landed.schema_arrow.empty_table().to_pandas())  # only the rows the owner is told about
    quarantine = _quarantine_frame(raw, failures)
    staged, withdrawn = _stage(result, valid, manifest, spec, staged_root, source.name, where, withdrawn_keys)
    staged_dir = zones.partition_dir(staged_root, source.name, spec.name, extract_date)
    quarantine_dir = zones.partition_dir(quarantine_root, source.name, spec.name, extract_date)
    (quarantine_dir / WITHDRAWN_FILE).unlink(missing_ok=True)
    if withdrawn is not None and len(withdrawn):  # the base's version of a quarantined key, kept for the owner
        write_parquet_atomic(quarantine_dir / WITHDRAWN_FILE, pa_arrow.Table.from_pandas(withdrawn, preserve_index=False))
    outside = outside[~outside["_row"].isin(bad_rows)]
    result.values_outside_contract = {str(k): int(v) for k, v in outside["_column"].value_counts().sort_index().items()}
    write_parquet_atomic(staged_dir / OUTSIDE_FILE, pa_arrow.Table.from_pandas(
        pd.DataFrame({"record_id": _record_ids(raw.loc[outside["_row"]], spec, source).to_numpy(),
                      "column": outside["_column"].astype("str").to_numpy(),
                      "cpr": outside["_cpr"].astype("bool").to_numpy()}), preserve_index=False))
    write_parquet_atomic(staged_dir / zones.DATA_FILE, pa_arrow.Table.from_pandas(staged, preserve_index=False))
    write_parquet_atomic(quarantine_dir / zones.QUARANTINE_FILE,
                         pa_arrow.Table.from_pandas(quarantine, preserve_index=False))

    result.rows_staged, result.rows_quarantined = len(valid), len(quarantine)
    result.quarantine_by_rule = {str(k): int(v) for k, v in
                                 failures.drop_duplicates(["_row", "_rule"])["_rule"].value_counts().sort_index().items()}
    result.staged_path = str(staged_dir / zones.DATA_FILE)
    result.quarantine_path = str(quarantine_dir / zones.QUARANTINE_FILE)
    file_rows = {}
    if result.mode == "full" and len(manifest.get("files") or {}) >= 2 and "_source_file" in landed_columns:
        counts = parsed.file_rows
        file_rows = {name: int(counts.get(name, 0)) for name in manifest["files"]}
    result.profile = breakers.profile(spec, staged, result.rows_in, len(quarantine), result.rows_carried,
                                      result.values_outside_contract, file_rows)
    result.seconds = round(time.monotonic() - started, 3)
    if result.rows_in != result.rows_staged + result.rows_quarantined:  # conservation, always
        raise StructuralValidationError(f"{where}: {result.rows_in} rows in but {result.rows_staged} staged "
                                        f"+ {result.rows_quarantined} quarantined")
    zones.write_validation(staged_dir, result.as_dict())  # last: the partition now counts
    return result


def _record_ids(rows: pd.DataFrame, spec: TableSpec, source: Source) -> pd.Series:
    """How an owner finds a row without its values: the drop file and line, or the primary
    key (a row number where the key is personal, e.g. a CPR)."""
    if not len(rows):
        return pd.Series([], dtype="str")
    if "_source_file" in rows.columns:
        return rows["_source_file"].astype("str") + ":" + rows["_source_line"].astype("str")
    if spec.primary_key and not any(spec.column(k).personal for k in spec.primary_key):
        return rows[list(spec.primary_key)].astype("str").agg("|".join, axis=1)
    return pd.Series([f"row {i + 1}" for i in rows.index], index=rows.index, dtype="str")


def _stage(result: ValidationResult, valid: pd.DataFrame, manifest: dict, spec: TableSpec, staged_root: Path,
           source: str, where: str, withdrawn_keys: pd.DataFrame | None = None
           ) -> tuple[pd.DataFrame, pd.DataFrame | None]:
    """The staged table: the valid rows, merged into the base when the extract is incremental.

    Records mode, base, carried rows, vanished keys and the new watermark in `result`.
    A key quarantined tonight as a duplicate also loses its base row (returned, for the
    quarantine): neither version is trusted until the owner has fixed the source.
    """
    withdrawn = None
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
        base = pd.read_parquet(base_dir / zones.DATA_FILE)
        if withdrawn_keys is not None and len(withdrawn_keys):
            key = list(spec.primary_key)
            gone = base.set_index(key).index.isin(withdrawn_keys.astype(base[key].dtypes.to_dict()).set_index(key).index)
            withdrawn, base = base[gone].reset_index(drop=True), base[~gone].reset_index(drop=True)
            result.rows_withdrawn = len(withdrawn)
            if len(withdrawn):
                log.warning("%s: %d key(s) arrived more than once tonight; their rows of %s are withdrawn too "
                            "(kept in quarantine)", where, len(withdrawn), plan["base_extract_date"])
        staged, result.rows_carried = merge_into_base(base, valid, spec)
    elif base_dir is not None and spec.primary_key and source_kind_is_database(manifest):
        result.rows_vanished = vanished_keys(pd.read_parquet(base_dir / zones.DATA_FILE), valid, spec)
        if result.rows_vanished:
            log.warning("%s: %d key(s) of the extract of %s are gone from the source (hard deletes, or "
                        "rows quarantined tonight)", where, result.rows_vanished, zones.partition_date(base_dir))
    result.rows_total, result.watermark = len(staged), high_watermark(staged, spec, dt.date.fromisoformat(result.extract_date))
    return staged, withdrawn


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
                   results: list[dict], accepted: dict | None = None, refresh: str = "night") -> dict:
    """Mark this extract as the source's current good one (what the model reads).

    Written only after every table validated, so a failed night leaves the previous
    pointer, and with it the previous good extract, in place. The pointer only moves
    forward: re-running an older date (a backfill) re-validates that date's partition
    without making it current. `refresh` says which run made it current: `night`, or `daytime`
    (`refresh_daytime` re-extracting a database source during the day; `public.data_freshness`).
    """
    tables = {r["table"]: {**{k: r.get(k) for k in ("rows_in", "rows_staged", "rows_quarantined", "rows_total",
                                                     "mode", "profile")},
                           "staged_path": str(zones.partition_dir(staged_root, source.name, r["table"], extract_date)
                                              / zones.DATA_FILE)}
              for r in results}
    missing = [t.name for t in source.tables if t.name not in tables]
    if missing:
        raise StructuralValidationError(f"{source.name}: no validated extract for table(s) {missing}")
    pointer = {"source": source.name, "extract_date": extract_date.isoformat(), "run_id": run_id,
               "completed_at": local_now().isoformat(timespec="seconds"), "refresh": refresh, "tables": tables}
    if accepted:  # an operator accepted a tripped extract: the pointer says so, with the reason
        pointer["accepted_breakers"] = accepted
    current = zones.read_pointer(staged_root, source.name)
    if current and current["extract_date"] > pointer["extract_date"]:
        log.info("%s: %s is a backfill; the current extract stays %s", source.name, extract_date,
                 current["extract_date"])
        return {**pointer, "current": False}
    zones.write_pointer(staged_root, source.name, pointer)
    breakers.clear(staged_root, source.name, list(tables), extract_date)
    return {**pointer, "current": True}
