"""Benchmark the streaming extract: a large source table, read through ODBC and SQLAlchemy.

    python benchmarks/extract_memory.py [--rows 3000000] [--batch-rows 50000]

Fills one table shaped like the complaint system's `klage` (11 columns) in a throwaway
PostgreSQL cluster (or `SOFLI_TEST_PG_URL`) with `--rows` rows, then extracts it to
landing Parquet through ODBC columnar (arrow-odbc + psqlODBC, the default), ODBC row-wise
(pyodbc, `SOFLI_ODBC_FETCH=rows`) and SQLAlchemy + psycopg2, each in a fresh process, and
prints seconds, rows/s, the Parquet size and each process's peak resident memory against
the size the rows would take held in memory at once. Memory that stays flat as `--rows`
grows is what lets a table larger than memory be extracted.

The reference is PostgreSQL's own bulk export: `COPY (<the same extract SQL>) TO STDOUT`
through psycopg2's `copy_expert` into a sink that discards the bytes (no parsing, no
Parquet); each path's ratio to it is printed (the issue's target: ODBC within 3x).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import sqlalchemy as sa

from etl.extract import odbc
from etl.extract.land import extract_database_table
from etl.sources import SOURCES
from etl.sources.sql import load_extract_sql

# typed as the generator creates the contract's table (etl/synth/writer.py: str = varchar(255))
FILL = """
CREATE TABLE klage (klage_id integer PRIMARY KEY, modtaget_dato date, klagetype varchar(255),
    aarsag varchar(255), enhed_kode varchar(255), kilde_system varchar(255), sagsreference varchar(255),
    genvurdering varchar(255), ankestyrelse_udfald varchar(255), afgjort_dato date, opdateret timestamp);
INSERT INTO klage
SELECT g AS klage_id, DATE '2019-01-01' + (g % 2500) AS modtaget_dato,
       (ARRAY['Afgørelse','Sagsbehandlingstid','Personale','Tilbud','Andet'])[1 + g % 5] AS klagetype,
       'Årsag ' || (g % 97) || ' ' || repeat('x', 30) AS aarsag, 'U' || (g % 90) AS enhed_kode,
       (ARRAY['boern','voksen'])[1 + g % 2] AS kilde_system, 'SAG-' || g AS sagsreference,
       CASE WHEN g % 3 = 0 THEN NULL ELSE 'Fastholdt' END AS genvurdering,
       CASE WHEN g % 4 = 0 THEN 'Stadfæstet' END AS ankestyrelse_udfald,
       CASE WHEN g % 3 = 0 THEN NULL ELSE DATE '2019-01-01' + (g % 2500) + 30 END AS afgjort_dato,
       TIMESTAMP '2025-11-01' + (g % 100000) * INTERVAL '1 second' AS opdateret
FROM generate_series(1, {rows}) AS g
"""
COLUMNS = 11


class _Sink:
    """A file-like object that counts what COPY writes and keeps nothing."""

    def __init__(self) -> None:
        self.bytes = 0

    def write(self, data) -> int:
        self.bytes += len(data)
        return len(data)


def copy_reference(url: str) -> dict:
    """`COPY (extract SQL) TO STDOUT` through psycopg2: the database's own export speed."""
    source = SOURCES["klage"]
    sql = "\n".join(line for line in load_extract_sql(source, source.tables[0], False).splitlines()
                    if not line.lstrip().startswith("--"))
    engine = sa.create_engine(url)
    sink = _Sink()
    started = time.perf_counter()
    with engine.connect() as conn:
        cursor = conn.connection.driver_connection.cursor()
        cursor.copy_expert(f"COPY ({sql}) TO STDOUT", sink)
    seconds = time.perf_counter() - started
    engine.dispose()
    return {"seconds": seconds, "bytes": sink.bytes}


def child(location: str, batch_rows: int, out: str, fetch: str) -> None:
    """Run in a fresh process: extract `klage` through the real contract and print what it took."""
    source = SOURCES["klage"]
    started = time.perf_counter()
    landed = extract_database_table(source, source.tables[0], location, Path(out) / "landing",
                                    dt.date(2025, 11, 15), batch_rows=batch_rows, odbc_fetch=fetch)
    print(json.dumps({"rows": landed.rows, "seconds": time.perf_counter() - started,
                      "bytes": Path(landed.path).stat().st_size,
                      "peak_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=3_000_000)
    parser.add_argument("--batch-rows", type=int, default=50_000)
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    parser.add_argument("--child", nargs=3, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child[0], args.batch_rows, args.child[1], args.child[2])
        return

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))
    import pgcluster  # noqa: PLC0415 - tests/support, put on the path just above

    cluster = None
    url = os.environ.get("SOFLI_TEST_PG_URL")
    if not url:
        cluster = pgcluster.start()
        url = cluster.url
    try:
        admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.exec_driver_sql("DROP DATABASE IF EXISTS bench_extract WITH (FORCE)")
            conn.exec_driver_sql("CREATE DATABASE bench_extract")
        admin.dispose()
        target = sa.engine.make_url(url).set(database="bench_extract")
        engine = sa.create_engine(target)
        started = time.perf_counter()
        with engine.begin() as conn:
            conn.exec_driver_sql(FILL.format(rows=int(args.rows)).replace("%", "%%"))  # psycopg2 paramstyle
        engine.dispose()
        print(f"{args.rows:,} rows x {COLUMNS} columns filled in {time.perf_counter() - started:.1f} s; "
              f"batch {args.batch_rows:,} rows; {os.cpu_count()} cores, Python {sys.version.split()[0]}")
        # what the rows would take as Python objects held at once (a text value per column)
        print(f"held in memory at once the rows would take roughly {args.rows * COLUMNS * 60 / 2**20:,.0f} MiB")
        odbc_location = odbc.PREFIX + odbc.connection_string("PostgreSQL Unicode", target.host, target.port,
                                                             "bench_extract", target.username)
        paths = {  # name: (location, odbc_fetch: the setting SOFLI_ODBC_FETCH)
            "odbc columnar (arrow-odbc)": (odbc_location, "arrow"),
            "odbc row-wise (pyodbc)": (odbc_location, "rows"),
            "sqlalchemy (psycopg2)": (target.render_as_string(hide_password=False), "arrow"),
        }
        reference = copy_reference(target.render_as_string(hide_password=False))
        copy_rate = args.rows / reference["seconds"]
        print(f"{'COPY ... TO STDOUT':<28} {reference['seconds']:7.1f} s  {copy_rate:>10,.0f} rows/s  "
              f"text   {reference['bytes'] / 2**20:6.1f} MiB  (reference: psycopg2 copy_expert, bytes discarded)")
        results = {"rows": args.rows, "copy": {"seconds": reference["seconds"], "rows_per_s": copy_rate}}
        for name, (location, fetch) in paths.items():
            with tempfile.TemporaryDirectory() as out:
                done = subprocess.run([sys.executable, __file__, "--batch-rows", str(args.batch_rows),
                                       "--child", location, out, fetch], check=True, capture_output=True,
                                      text=True)
                result = json.loads(done.stdout.strip().splitlines()[-1])
            rate = result["rows"] / result["seconds"]
            print(f"{name:<28} {result['seconds']:7.1f} s  {rate:>10,.0f} rows/s  "
                  f"parquet {result['bytes'] / 2**20:6.1f} MiB  peak {result['peak_mib']:7.0f} MiB  "
                  f"{copy_rate / rate:4.1f}x COPY's time")
            results[name] = {**result, "rows_per_s": rate, "x_copy": copy_rate / rate}
        if args.json:
            args.json.write_text(json.dumps(results, indent=2))
    finally:
        if cluster:
            cluster.stop()


if __name__ == "__main__":
    main()
