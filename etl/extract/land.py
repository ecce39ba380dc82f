"""Extract: one source table to landed Parquet plus a manifest.

Landing keeps the source's values as text, exactly as read (the "raw" layer), so a value
that cannot be parsed is still landed, then quarantined with a reason by `validate`,
never lost in a cast. Batches stream from the cursor into the Parquet writer, so memory
stays bounded by the batch size, not the table.

A database source is reached through SQLAlchemy (a URL: SQLite, PostgreSQL,
`mssql+pyodbc`) or straight through ODBC (an `odbc:` connection string, see `etl.extract.odbc`);
both stream the same extract SQL with bound parameters. ODBC is fetched columnar into
Arrow batches with arrow-odbc (bulk block cursors, no Python object per value) and cast
to landing text with pyarrow compute; `odbc_fetch="rows"` (the setting `SOFLI_ODBC_FETCH`)
falls back to pyodbc's row-wise fetch. Either way the landed text is the same, byte for byte
(`etl.extract.landing_text`). What an extract read (full or the incremental window, see
`etl.extract.incremental`) is kept in its manifest.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import logging
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import sqlalchemy as sa

from etl.core import zones
from etl.core.periods import local_now
from etl.core.storage import AtomicParquetWriter, file_sha256
from etl.core.tables import TableSpec
from etl.extract import odbc
from etl.extract.incremental import ExtractPlan
from etl.extract.landing_text import arrow_column_text, arrow_fetch_type, python_column_text
from etl.extract.landing_text import to_text as _to_text
from etl.sources.base import Source
from etl.sources.sql import load_extract_sql

log = logging.getLogger(__name__)
BATCH_ROWS = 50_000
# arrow-odbc binds a buffer of batch rows x the widest possible value of each column:
# unbounded text (varchar(max), text) is bound at this many bytes (a table with a longer
# value is read again row-wise, never truncated), and a batch never takes more than the byte limit.
# psqlODBC is fastest fetching blocks of ~10,000 rows (measured: benchmarks/extract_memory.py);
# blocks are gathered into batches of `batch_rows` before they are written (row groups).
ODBC_MAX_TEXT_BYTES = 8192
ODBC_MAX_BATCH_BYTES = 256 * 2**20
ODBC_FETCH_ROWS = 10_000
ODBC_FETCH_CONCURRENTLY = True  # fetch the next block on a thread while this one is written: +20 %, +70 MiB

try:  # columnar ODBC; without it (or with SOFLI_ODBC_FETCH=rows) ODBC is read row-wise by pyodbc
    import arrow_odbc
    ArrowOdbcError: type[Exception] = arrow_odbc.Error
except ImportError:  # pragma: no cover - requirements.txt pins arrow-odbc
    arrow_odbc = None

    class ArrowOdbcError(Exception):  # type: ignore[no-redef]
        """Stands in for arrow_odbc.Error when arrow-odbc is not installed."""


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


def _text_schema(names: list[str]) -> pa.Schema:
    return pa.schema([pa.field(n, pa.string()) for n in names])


def _write_manifest(source: Source, table: TableSpec, extract_date: dt.date, data_path: Path,
                    rows: int, columns: list[str], watermark: str | None, started: float,
                    origin: str, ignored_columns: list[str] | None = None,
                    plan: ExtractPlan | None = None, files: dict[str, str] | None = None) -> LandedTable:
    seconds = round(time.monotonic() - started, 3)
    plan = plan or ExtractPlan("full", "full extract", last_full_extract_date=extract_date.isoformat())
    manifest_path = zones.write_manifest(data_path.parent, {
        "source": source.name, "table": table.name, "extract_date": extract_date.isoformat(),
        "rows": rows, "columns": columns, "schema_hash": table.schema_hash(),
        "watermark": watermark, "mode": plan.mode, "plan": plan.as_dict(), "origin": origin,
        "ignored_columns": ignored_columns or [], "files": files,
        "sha256": file_sha256(data_path), "seconds": seconds,
        "extracted_at": local_now().isoformat(timespec="seconds"),
    })
    return LandedTable(source.name, table.name, extract_date.isoformat(), str(data_path),
                       str(manifest_path), rows, table.schema_hash(), watermark, seconds)


def extract_database_table(source: Source, table: TableSpec, location: str, landing_root: Path,
                           extract_date: dt.date, batch_rows: int = BATCH_ROWS,
                           plan: ExtractPlan | None = None, odbc_fetch: str = "arrow") -> LandedTable:
    """Run the table's extract SQL (full, or the plan's change window) and stream it into landing.

    `odbc_fetch` (an ODBC source): "arrow", columnar through arrow-odbc, or "rows", pyodbc."""
    if odbc_fetch not in ("arrow", "rows"):
        raise ValueError(f"odbc_fetch must be arrow or rows, not {odbc_fetch!r}")
    columnar = odbc_fetch == "arrow"
    started = time.monotonic()
    incremental = plan is not None and plan.mode == "incremental"
    sql = load_extract_sql(source, table, incremental)
    params = plan.window if incremental else {}
    data_path = zones.partition_dir(landing_root, source.name, table.name, extract_date) / zones.DATA_FILE
    try:
        names, added, rows, watermark = _land_database_rows(source, table, location, sql, params, batch_rows,
                                                            data_path, tolerant=False, columnar=columnar)
    except ExtractError as exc:
        if not (isinstance(exc.__cause__, ArrowOdbcError) and "too large" in str(exc.__cause__)):
            raise
        log.warning("%s.%s: a text value is longer than the columnar buffer (%d bytes); read row-wise instead",
                    source.name, table.name, ODBC_MAX_TEXT_BYTES)
        names, added, rows, watermark = _land_database_rows(source, table, location, sql, params, batch_rows,
                                                            data_path, tolerant=False, columnar=False)
    except sa.exc.OperationalError as exc:
        if "could not decode" not in str(exc).lower():
            raise _extract_error(source, table, exc) from exc
        log.warning("%s.%s: undecodable text in the source; read again replacing it (quarantined by validation)",
                    source.name, table.name)
        names, added, rows, watermark = _land_database_rows(source, table, location, sql, params, batch_rows,
                                                            data_path, tolerant=True, columnar=columnar)
    return _write_manifest(source, table, extract_date, data_path, rows, names, watermark, started,
                           "odbc" if odbc.is_odbc(location) else "database", added, plan)


def _extract_error(source: Source, table: TableSpec, exc: Exception) -> ExtractError:
    cause = getattr(exc, "orig", None) or exc
    return ExtractError(f"{source.name}.{table.name}: {type(exc).__name__}: {cause}")


def _land_database_rows(source: Source, table: TableSpec, location: str, sql: str, params: dict, batch_rows: int,
                        data_path: Path, tolerant: bool, columnar: bool = True
                        ) -> tuple[list[str], list[str], int, str | None]:
    """Stream the query into landing; (columns, columns beyond the contract, rows, watermark).

    SQLite is first read with its own (C) UTF-8 decoding; a table holding undecodable
    bytes fails that read (`could not decode`, nothing landed) and is read again by the
    caller with `tolerant`: a Python decoder replacing them, a third as fast."""
    watermark: str | None = None
    try:
        with _database_batches(location, table, sql, params, batch_rows, tolerant, columnar) as (names, added,
                                                                                                   batches):
            if added:
                log.warning("%s.%s: column(s) not in the contract ignored: %s", source.name, table.name, added)
            missing = [c for c in table.column_names if c not in names]
            if missing:
                raise ExtractError(f"{source.name}.{table.name}: the source lacks contract column(s) {missing}")
            schema = _text_schema(names)
            with AtomicParquetWriter(data_path, schema) as writer:
                for arrays, batch_watermark in batches:
                    writer.write(pa.Table.from_arrays(arrays, schema=schema))
                    if batch_watermark is not None:
                        watermark = max(watermark or batch_watermark, batch_watermark)
                    log.info("%s.%s: %d rows extracted so far", source.name, table.name, writer.rows)
                rows = writer.rows
    except sa.exc.OperationalError as exc:
        if not tolerant and "could not decode" in str(exc).lower():
            raise
        raise _extract_error(source, table, exc) from exc
    except (sa.exc.SQLAlchemyError, odbc.Error, ArrowOdbcError) as exc:
        raise _extract_error(source, table, exc) from exc
    return names, added, rows, watermark


def _param_text(value) -> str | None:
    """A bind value as the text arrow-odbc binds (VARCHAR): timestamps ISO with a space."""
    return None if value is None else _to_text(value)


@contextlib.contextmanager
def _database_batches(location: str, table: TableSpec, sql: str, params: dict, batch_rows: int,
                      tolerant: bool = True, columnar: bool = True):
    """(column names, columns beyond the contract, batches) from a URL or ODBC; a batch is
    (landing text arrays, the batch's largest watermark value as text or None)."""
    probe = f'SELECT * FROM "{table.name}" WHERE 1 = 0'
    if odbc.is_odbc(location):
        with odbc.connect(location) as conn:
            cursor = conn.cursor()
            present = odbc.column_names(cursor, probe)
            if not (columnar and arrow_odbc is not None):
                cursor.execute(*odbc.qmark(sql, params))
                names = [d[0] for d in cursor.description]
                rows = iter(lambda: cursor.fetchmany(batch_rows), [])
                yield names, _beyond_contract(present, table), _text_batches(rows, names, table.watermark)
                return
        query, *values = odbc.qmark(sql, params)
        fetched: dict[str, pa.Field] = {}

        def fetch_type(schema: pa.Schema) -> pa.Schema:
            fetched.update({f.name: f for f in schema})
            return pa.schema([arrow_fetch_type(f) for f in schema])

        reader = arrow_odbc.read_arrow_batches_from_odbc(
            query, location[len(odbc.PREFIX):], batch_size=min(batch_rows, ODBC_FETCH_ROWS),
            parameters=[_param_text(v) for v in values], max_text_size=ODBC_MAX_TEXT_BYTES,
            max_binary_size=ODBC_MAX_TEXT_BYTES, max_bytes_per_batch=ODBC_MAX_BATCH_BYTES, map_schema=fetch_type,
            fetch_concurrently=ODBC_FETCH_CONCURRENTLY)
        yield reader.schema.names, _beyond_contract(present, table), _gathered(
            _arrow_batches(reader, fetched, table.watermark), batch_rows)
        return
    engine = sa.create_engine(location)
    if engine.dialect.name == "sqlite" and tolerant:
        sa.event.listen(engine, "connect", _decode_with_replacement)
    try:
        with engine.connect() as conn:
            try:
                present = list(conn.exec_driver_sql(probe).keys())
            except sa.exc.DBAPIError:
                conn.rollback()  # the extract SQL itself fails next, with the database's own message
                present = []
            result = conn.execution_options(stream_results=True).execute(sa.text(sql), params)
            names = list(result.keys())
            yield names, _beyond_contract(present, table), _text_batches(result.partitions(batch_rows), names,
                                                                          table.watermark)
    finally:
        engine.dispose()


def _text_batches(batches, names: list[str], watermark: str | None):
    """Batches of DB-API row tuples as landing text, a column at a time."""
    wm_index = names.index(watermark) if watermark in names else None
    for batch in batches:
        columns = list(zip(*batch)) if batch else [() for _ in names]
        high = None
        if wm_index is not None:
            high = max((v for v in columns[wm_index] if v is not None), default=None)
        yield [python_column_text(col) for col in columns], None if high is None else _to_text(high)


def _gathered(batches, batch_rows: int):
    """Fetched blocks gathered into batches of `batch_rows` rows (the last one smaller)."""
    pending: list[tuple[list[pa.Array], str | None]] = []
    rows = 0
    for arrays, high in batches:
        pending.append((arrays, high))
        rows += len(arrays[0]) if arrays else 0
        while rows >= batch_rows:
            yield _take(pending, batch_rows)
            rows -= batch_rows
    if rows:
        yield _take(pending, batch_rows)


def _take(pending: list, batch_rows: int) -> tuple[list[pa.Array], str | None]:
    """The first `batch_rows` rows of the pending blocks (removed from `pending`), and their
    watermark: a block split across two batches counts its maximum in both (a maximum of
    maxima, so no harm)."""
    width = len(pending[0][0])
    columns: list[list[pa.Array]] = [[] for _ in range(width)]
    highs = []
    taken = 0
    while pending and taken < batch_rows:
        arrays, high = pending.pop(0)
        need = batch_rows - taken
        length = len(arrays[0]) if arrays else 0
        if length > need:
            pending.insert(0, ([a.slice(need) for a in arrays], high))
            arrays = [a.slice(0, need) for a in arrays]
            length = need
        for i, array in enumerate(arrays):
            columns[i].append(array)
        highs.append(high)
        taken += length
    merged = [pa.concat_arrays(parts) if len(parts) != 1 else parts[0] for parts in columns]
    marks = [h for h in highs if h is not None]
    return merged, max(marks) if marks else None


def _arrow_batches(reader, fetched: dict[str, pa.Field], watermark: str | None):
    """Arrow record batches from arrow-odbc as landing text, each column cast vectorised."""
    for batch in reader:
        arrays = [arrow_column_text(batch.column(i), fetched.get(name)) for i, name in enumerate(batch.schema.names)]
        high = None
        if watermark in batch.schema.names:
            column = batch.column(batch.schema.get_field_index(watermark))
            if pa.types.is_timestamp(column.type) or pa.types.is_date32(column.type):
                high = pc.max(column).as_py()
            else:  # a text (or other) change timestamp: the largest value as Python compares it
                high = max((v for v in column.to_pylist() if v is not None), default=None)
        yield arrays, None if high is None else _to_text(high)


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
        return [_inside(drop_dir, drop_dir / table.file_pattern.format(date=extract_date))]
    prefix = table.file_pattern.split("{", 1)[0]
    suffix = table.file_pattern.rsplit("}", 1)[1]
    return [_inside(drop_dir, path) for path in sorted(drop_dir.glob(f"{prefix}*{suffix}"))]


def _inside(drop_dir: Path, path: Path) -> Path:
    """A drop file that is a regular file of the folder itself: a symbolic link (which could
    point at any file the pipeline may read, and log its first line) or anything resolving
    outside the folder is refused, by name only."""
    if path.is_symlink():
        raise ExtractError(f"{path.name}: refused, a symbolic link in the drop folder {drop_dir} "
                           "(only regular files delivered into the folder are read)")
    if path.exists() and (not path.is_file() or path.resolve().parent != drop_dir.resolve()):
        raise ExtractError(f"{path.name}: refused, not a regular file of the drop folder {drop_dir}")
    return path


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
        # The first line is named by its shape only: a file without its header starts with data (CPR).
        raise ExtractError(f"{path.name}: missing contract column(s) {missing}; the first line has {len(header)} "
                           f"field(s), {len(set(header) & set(table.column_names))} of them contract column names")
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


def drop_file_digests(table: TableSpec, drop_dir: Path, extract_date: dt.date) -> dict[str, str]:
    """The drop files the table reads tonight that are present: name -> SHA-256 (what
    `etl.extract.incremental.plan_extract` compares with the base's to skip unchanged files)."""
    return {path.name: file_sha256(path) for path in expected_files(table, Path(drop_dir), extract_date)
            if path.exists()}


def extract_file_table(source: Source, table: TableSpec, drop_dir: Path, landing_root: Path,
                       extract_date: dt.date, plan: ExtractPlan | None = None) -> LandedTable:
    """Land the table's drop file(s) as one Parquet file; a missing file fails loudly.

    An incremental plan means the drop files are the base's own: nothing is read, and an
    empty landing (no changes) lets validation carry the base over."""
    started = time.monotonic()
    files = expected_files(table, Path(drop_dir), extract_date)
    present = [f for f in files if f.exists()]
    if not present:
        raise ExtractError(f"{source.name}.{table.name}: expected file missing in {drop_dir}: "
                           f"{', '.join(f.name for f in files) or table.file_pattern}")
    unchanged = plan is not None and plan.mode == "incremental"
    data_path = zones.partition_dir(landing_root, source.name, table.name, extract_date) / zones.DATA_FILE
    schema = _text_schema(table.column_names + ["_source_file", "_source_line"])
    digests, ignored = {}, []
    with AtomicParquetWriter(data_path, schema) as writer:
        for path in [] if unchanged else present:
            digests[path.name] = file_sha256(path)
            landed = read_delimited(path, table)
            extra = [c for c in landed.column_names if c not in table.column_names and c not in ignored]
            if extra:  # recorded in the manifest: validation reports it, DQ20 warns
                log.warning("%s.%s: %s has column(s) not in the contract, ignored: %s", source.name, table.name,
                            path.name, extra)
                ignored += extra
            landed = landed.select(table.column_names)
            lines = pa.array(range(2, landed.num_rows + 2)).cast(pa.string())
            landed = landed.append_column("_source_file", pa.array([path.name] * landed.num_rows, pa.string()))
            landed = landed.append_column("_source_line", lines)
            writer.write(landed.cast(schema))
        rows = writer.rows
    return _write_manifest(source, table, extract_date, data_path, rows, schema.names, None, started,
                           ",".join(p.name for p in present), ignored, plan=plan,
                           files=plan.files if unchanged else digests)


def extract_table(source: Source, table: TableSpec, location: str, landing_root: Path,
                  extract_date: dt.date, plan: ExtractPlan | None = None, odbc_fetch: str = "arrow") -> LandedTable:
    if source.kind == "database":
        return extract_database_table(source, table, location, landing_root, extract_date, plan=plan,
                                      odbc_fetch=odbc_fetch)
    return extract_file_table(source, table, Path(location), landing_root, extract_date, plan)
