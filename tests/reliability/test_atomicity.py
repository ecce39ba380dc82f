"""Atomic publish and landing: a crash at any step leaves what readers see unchanged,
and the next run recovers without manual cleanup."""

from __future__ import annotations

import datetime as dt
import os
import signal
import subprocess
import sys
import textwrap
import time

import pandas as pd
import pyarrow as pa
import pytest
import sqlalchemy as sa

from etl.core.storage import AtomicParquetWriter
from etl.publish.marts import KPI_VALUE
from etl.publish.warehouse import ensure_schema, make_engine, publish, read_table


def rows(value: float, n: int = 3, run_id: str = "r") -> pd.DataFrame:
    return pd.DataFrame([{
        "kpi_id": "T1.01", "measure": "count", "period_type": "quarter", "period": "2025-Q3",
        "period_start": pd.Timestamp("2025-07-01"), "period_end": pd.Timestamp("2025-09-30"), "org_level": "unit",
        "org_key": f"U{i}", "dimension": None, "dimension_value": None, "value": value, "numerator": None,
        "denominator": None, "unit": "count", "provisional": False, "version": 0, "run_id": run_id,
        "computed_at": dt.datetime(2025, 11, 15, 3)} for i in range(n)])


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/warehouse.db")
    ensure_schema(engine)
    publish(engine, "mart", KPI_VALUE, rows(1.0), {"version": 0})
    yield engine
    engine.dispose()


def published_values(engine) -> list[float]:
    return sorted(read_table(engine, "mart.kpi_value")["value"])


#: Through Connection.execute and exec_driver_sql: the stage table's existence checks (two
#: PRAGMAs), create, insert (through the driver on SQLite), count, delete, insert-select, drop.
PUBLISH_STATEMENTS = 8


def count_statements(monkeypatch, fail_at: int | None = None) -> dict:
    """Count (and optionally fail at the n-th of) the statements a publish sends."""
    calls = {"n": 0}
    for method in ("execute", "exec_driver_sql"):
        real = getattr(sa.engine.Connection, method)

        def counted(self, statement, *args, _real=real, **kwargs):
            calls["n"] += 1
            if calls["n"] == fail_at:
                raise RuntimeError(f"injected fault at statement {fail_at}")
            return _real(self, statement, *args, **kwargs)

        monkeypatch.setattr(sa.engine.Connection, method, counted)
    return calls


def test_a_publish_is_the_statements_the_fault_test_covers(engine, monkeypatch):
    calls = count_statements(monkeypatch)
    publish(engine, "mart", KPI_VALUE, rows(2.0), {"version": 0})
    assert calls["n"] == PUBLISH_STATEMENTS


@pytest.mark.parametrize("fail_at", range(1, PUBLISH_STATEMENTS + 1))
def test_an_exception_at_any_statement_of_a_publish_changes_nothing(engine, monkeypatch, fail_at):
    count_statements(monkeypatch, fail_at)
    with pytest.raises(RuntimeError, match="injected fault"):
        publish(engine, "mart", KPI_VALUE, rows(2.0, n=5), {"version": 0})
    monkeypatch.undo()
    assert published_values(engine) == [1.0, 1.0, 1.0]  # the complete old version
    publish(engine, "mart", KPI_VALUE, rows(3.0, n=4), {"version": 0})  # the next run recovers by itself
    assert published_values(engine) == [3.0] * 4


KILLED_PUBLISH = textwrap.dedent("""
    import sys, datetime as dt, pandas as pd
    import etl.publish.warehouse as warehouse
    from etl.publish.marts import KPI_VALUE
    engine = warehouse.make_engine(sys.argv[1])
    real_insert = warehouse._insert
    def slow_insert(conn, table, spec, rows):  # staged inside the transaction: announce, then wait to be killed
        real_insert(conn, table, spec, rows)
        print("staging", flush=True)
        import time; time.sleep(30)
    warehouse._insert = slow_insert
    frame = pd.read_parquet(sys.argv[2])
    warehouse.publish(engine, "mart", KPI_VALUE, frame, {"version": 0})
""")


def test_sigkill_mid_publish_leaves_the_old_version_and_the_next_run_recovers(engine, tmp_path):
    frame_path = tmp_path / "new.parquet"
    rows(9.0, n=50).to_parquet(frame_path)
    proc = subprocess.Popen([sys.executable, "-c", KILLED_PUBLISH, str(engine.url), str(frame_path)],
                            stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "staging"
    time.sleep(0.5)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert published_values(engine) == [1.0, 1.0, 1.0]
    publish(engine, "mart", KPI_VALUE, rows(4.0, n=2), {"version": 0})
    assert published_values(engine) == [4.0, 4.0]


KILLED_WRITER = textwrap.dedent("""
    import sys, time, pyarrow as pa
    from pathlib import Path
    from etl.core.storage import AtomicParquetWriter
    schema = pa.schema([("x", pa.int64())])
    with AtomicParquetWriter(Path(sys.argv[1]), schema) as writer:
        writer.write(pa.table({"x": list(range(1000))}))
        print("writing", flush=True)
        time.sleep(30)
""")


def test_sigkill_mid_landing_never_exposes_a_partial_file(tmp_path):
    target = tmp_path / "landing" / "data.parquet"
    with AtomicParquetWriter(target, pa.schema([("x", pa.int64())])) as writer:
        writer.write(pa.table({"x": [1, 2, 3]}))
    proc = subprocess.Popen([sys.executable, "-c", KILLED_WRITER, str(target)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "writing"
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert pd.read_parquet(target)["x"].tolist() == [1, 2, 3]  # the old file, whole
    assert len(list(target.parent.glob(".*.tmp"))) == 1  # the killed run's temporary
    with AtomicParquetWriter(target, pa.schema([("x", pa.int64())])) as writer:
        writer.write(pa.table({"x": [7]}))
    assert pd.read_parquet(target)["x"].tolist() == [7]
    assert list(target.parent.glob(".*.tmp")) == []  # cleaned up by the next run
