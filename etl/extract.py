"""Extract: one source table to landed Parquet plus a manifest.

Landing keeps the source's values as text, exactly as read (the "raw" layer), so a value
that cannot be parsed is still landed, then quarantined with a reason by `validate`,
never lost in a cast. Batches stream from the cursor into the Parquet writer, so memory
stays bounded by the batch size, not the table.

A database source is reached through SQLAlchemy (a URL: SQLite, PostgreSQL,
`mssql+pyodbc`) or straight through pyodbc (an `odbc:` connection string, see
`etl.odbc`); both stream the same extract SQL with bound parameters. What an extract
read (full or the incremental window, see `etl.incremental`) is kept in its manifest.
"""

from __future__ import annotations

import datetime as dt
import contextlib
import decimal
import io
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.csv as pacsv
import sqlalchemy as sa

from etl import odbc
from etl.incremental import ExtractPlan
from etl.sources.base import Source
from etl.sources.sql import load_extract_sql
from etl.storage import AtomicParquetWriter, atomic_write_json, file_sha256, partition_dir
from etl.tables import TableSpec

log = logging.getLogger(__name__)
BATCH_ROWS = 50_000


class ExtractError(RuntimeError):
    """A source table could not be extracted; the message names source, table and cause."""


@dataclass
class LandedTable:
    source: str
    table: str
    extract_date: str
    path: str
    manifest_path: str
    rows: int
    schema_hash: str
    watermark: str | None
    seconds: float

    def as_dict(self) -> dict:
        return asdict(self)


def _to_text(value) -> str | None:
    """The one canonical text form of a source value (dates ISO, bits 1/0)."""
    if value is None:
        return None
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, dt.datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, bytes):
        return value.decode("utf-8", errors="replace")
    return str(value)


def _text_schema(names: list[str]) -> pa.Schema:
    return pa.schema([pa.field(n, pa.string()) for n in names])


def _write_manifest(source: Source, table: TableSpec, extract_date: dt.date, data_path: Path,
                    rows: int, columns: list[str], watermark: str | None, started: float,
                    origin: str, ignored_columns: list[str] | None = None,
                    plan: ExtractPlan | None = None) -> LandedTable:
    manifest_path = data_path.parent / "manifest.json"
    seconds = round(time.monotonic() - started, 3)
    plan = plan or ExtractPlan("full", "full extract", last_full_extract_date=extract_date.isoformat())
    atomic_write_json(manifest_path, {
        "source": source.name, "table": table.name, "extract_date": extract_date.isoformat(),
        "rows": rows, "columns": columns, "schema_hash": table.schema_hash(),
        "watermark": watermark, "mode": plan.mode, "plan": plan.as_dict(), "origin": origin,
        "ignored_columns": ignored_columns or [],
        "sha256": file_sha256(data_path), "seconds": seconds,
        "extracted_at": dt.datetime.now().isoformat(timespec="seconds"),
    })
    return LandedTable(source.name, table.name, extract_date.isoformat(), str(data_path),
                       str(manifest_path), rows, table.schema_hash(), watermark, seconds)


def extract_database_table(source: Source, table: TableSpec, location: str, landing_root: Path,
                           extract_date: dt.date, batch_rows: int = BATCH_ROWS,
                           plan: ExtractPlan | None = None) -> LandedTable:
    """Run the table's extract SQL (full, or the plan's change window) and stream it into landing."""
    started = time.monotonic()
    incremental = plan is not None and plan.mode == "incremental"
    sql = load_extract_sql(source, table, incremental)
    params = plan.window if incremental else {}
    out_dir = partition_dir(landing_root, source.name, table.name, extract_date)
    data_path = out_dir / "data.parquet"
    watermark: str | None = None
    try:
        with _database_rows(location, table, sql, params, batch_rows) as (names, added, batches):
            if added:
                log.warning("%s.%s: column(s) not in the contract ignored: %s", source.name, table.name, added)
            missing = [c for c in table.column_names if c not in names]
            if missing:
                raise ExtractError(f"{source.name}.{table.name}: the source lacks contract column(s) {missing}")
            schema = _text_schema(names)
            wm_index = names.index(table.watermark) if table.watermark else None
            with AtomicParquetWriter(data_path, schema) as writer:
                for batch in batches:
                    columns = list(zip(*batch)) if batch else [() for _ in names]
                    arrays = [pa.array([_to_text(v) for v in col], pa.string()) for col in columns]
                    writer.write(pa.Table.from_arrays(arrays, schema=schema))
                    if wm_index is not None:
                        batch_max = max((v for v in columns[wm_index] if v is not None), default=None)
                        if batch_max is not None:
                            text = _to_text(batch_max)
                            watermark = max(watermark or text, text)
                    log.info("%s.%s: %d rows extracted so far", source.name, table.name, writer.rows)
                rows = writer.rows
    except (sa.exc.SQLAlchemyError, odbc.Error) as exc:
        cause = getattr(exc, "orig", None) or exc
        raise ExtractError(f"{source.name}.{table.name}: {type(exc).__name__}: {cause}") from exc
    return _write_manifest(source, table, extract_date, data_path, rows, names, watermark, started,
                           "odbc" if odbc.is_odbc(location) else "database", added, plan)


@contextlib.contextmanager
def _database_rows(location: str, table: TableSpec, sql: str, params: dict, batch_rows: int):
    """(column names, columns beyond the contract, batches of row tuples) from a URL or ODBC."""
    probe = f'SELECT * FROM "{table.name}" WHERE 1 = 0'
    if odbc.is_odbc(location):
        with odbc.connect(location) as conn:
            cursor = conn.cursor()
            present = odbc.column_names(cursor, probe)
            cursor.execute(*odbc.qmark(sql, params))
            names = [d[0] for d in cursor.description]
            yield names, _beyond_contract(present, table), iter(lambda: cursor.fetchmany(batch_rows), [])
        return
    engine = sa.create_engine(location)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine, "connect", _decode_with_replacement)
    try:
        with engine.connect() as conn:
            try:
                present = list(conn.exec_driver_sql(probe).keys())
            except sa.exc.DBAPIError:
                conn.rollback()  # the extract SQL itself fails next, with the database's own message
                present = []
            result = conn.execution_options(stream_results=True).execute(sa.text(sql), params)
            yield list(result.keys()), _beyond_contract(present, table), result.partitions(batch_rows)
    finally:
        engine.dispose()


def _decode_with_replacement(dbapi_conn, _record) -> None:  # noqa: ANN001 - DBAPI callback
    """SQLite stores any bytes as TEXT: an undecodable value becomes U+FFFD, so validation
    quarantines its row (rule encoding) instead of the driver failing the whole table."""
    dbapi_conn.text_factory = lambda raw: raw.decode("utf-8", errors="replace")


def _beyond_contract(present: list[str], table: TableSpec) -> list[str]:
    """Columns the source table has beyond the contract (schema drift: reported, never read)."""
    return [c for c in present if c not in table.column_names]


def expected_files(table: TableSpec, drop_dir: Path, extract_date: dt.date) -> list[Path]:
    """The drop-folder files a file table reads.

    A daily file (pattern with a day) is the extraction date's file. A monthly file is
    every month's file present: the table is the union of months (one row per person
    and month), which the model needs for month-to-month movements.
    """
    assert table.file_pattern is not None
    if "%d" in table.file_pattern:
        return [drop_dir / table.file_pattern.format(date=extract_date)]
    prefix = table.file_pattern.split("{", 1)[0]
    suffix = table.file_pattern.rsplit("}", 1)[1]
    return sorted(drop_dir.glob(f"{prefix}*{suffix}"))


def read_delimited(path: Path, table: TableSpec) -> pa.Table:
    """Read a drop file as text columns; short (truncated) lines become NULL-padded rows.

    Decoding uses the contract's encoding with replacement, so a wrongly encoded byte
    becomes U+FFFD (quarantined by validation) instead of crashing the night; a file that
    starts with a UTF-8 byte-order mark is read as UTF-8.
    """
    data = path.read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):  # a UTF-8 byte-order mark says UTF-8, whatever the contract
        raw = data[3:].decode("utf-8", errors="replace")
    else:
        raw = data.decode(table.encoding, errors="replace")
    lines = raw.splitlines()
    if not lines:
        raise ExtractError(f"{path.name}: the file is empty (no header)")
    header = lines[0].split(table.delimiter)
    missing = [c for c in table.column_names if c not in header]
    if missing:
        raise ExtractError(f"{path.name}: missing contract column(s) {missing}; header is {header}")
    width = len(header)
    fixed = [lines[0]]
    for line in lines[1:]:
        if not line.strip():
            continue
        parts = line.split(table.delimiter)
        if len(parts) < width:  # truncated line: keep it, validation quarantines it
            parts += [""] * (width - len(parts))
        elif len(parts) > width:  # stray delimiters: keep the row whole for quarantine
            parts = parts[: width - 1] + [table.delimiter.join(parts[width - 1:])]
        fixed.append("\x1f".join(parts))
    if len(fixed) == 1:  # a header and no rows: validation decides whether that is allowed
        return pa.table({c: pa.array([], pa.string()) for c in header})
    fixed[0] = "\x1f".join(header)
    options = pacsv.ConvertOptions(column_types={c: pa.string() for c in header},
                                   strings_can_be_null=True, null_values=[""])
    parse = pacsv.ParseOptions(delimiter="\x1f", quote_char=False)
    return pacsv.read_csv(io.BytesIO("\n".join(fixed).encode()), parse_options=parse,
                          convert_options=options)


def extract_file_table(source: Source, table: TableSpec, drop_dir: Path, landing_root: Path,
                       extract_date: dt.date) -> LandedTable:
    """Land the table's drop file(s) as one Parquet file; a missing file fails loudly."""
    started = time.monotonic()
    files = expected_files(table, Path(drop_dir), extract_date)
    present = [f for f in files if f.exists()]
    if not present:
        raise ExtractError(f"{source.name}.{table.name}: expected file missing in {drop_dir}: "
                           f"{', '.join(f.name for f in files) or table.file_pattern}")
    out_dir = partition_dir(landing_root, source.name, table.name, extract_date)
    data_path = out_dir / "data.parquet"
    schema = _text_schema(table.column_names + ["_source_file", "_source_line"])
    with AtomicParquetWriter(data_path, schema) as writer:
        for path in present:
            landed = read_delimited(path, table).select(table.column_names)
            lines = pa.array(range(2, landed.num_rows + 2)).cast(pa.string())
            landed = landed.append_column("_source_file", pa.array([path.name] * landed.num_rows, pa.string()))
            landed = landed.append_column("_source_line", lines)
            writer.write(landed.cast(schema))
        rows = writer.rows
    return _write_manifest(source, table, extract_date, data_path, rows, schema.names, None, started,
                           ",".join(p.name for p in present))


def extract_table(source: Source, table: TableSpec, location: str, landing_root: Path,
                  extract_date: dt.date, plan: ExtractPlan | None = None) -> LandedTable:
    if source.kind == "database":
        return extract_database_table(source, table, location, landing_root, extract_date, plan=plan)
    return extract_file_table(source, table, Path(location), landing_root, extract_date)
