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
from etl.publish.warehouse import Publication, ensure_schema, make_engine, publish, publish_together, read_table


def rows(value: float, n: int = 3, run_id: str = "r") -> pd.DataFrame:
    return pd.DataFrame([{
        "kpi_id": "T1.01", "measure": "count", "period_type": "quarter", "period": "2025-Q3",
        "period_start": pd.Timestamp("2025-07-01"), "period_end": pd.Timestamp("2025-09-30"), "org_level": "unit",
        "org_key": f"U{i}", "dimension": None, "dimension_value": None, "value": value, "numerator": None,
        "denominator": None, "unit": "count", "provisional": False, "version": 0, "run_id": run_id,
        "computed_at": dt.datetime(2025, 11, 15, 3), "period_key": "quarter:2025-07-01:2025-09-30",
        "comparison": "current", "org_id": f"unit:U{i}", "value_status": "shown"} for i in range(n)])


@pytest.fixture
def engine(tmp_path):
    engine = make_engine(f"sqlite:///{tmp_path}/warehouse.db")
    ensure_schema(engine)
    publish(engine, "mart", KPI_VALUE, rows(1.0), {"version": 0})
    yield engine
    engine.dispose()


def published_values(engine) -> list[float]:
    return sorted(read_table(engine, "mart.kpi_value")["value"])


#: Through Connection.execute and exec_driver_sql: BEGIN (SQLite: emitted by the engine, so
#: the staging DDL is inside the transaction), the stage table's existence checks (two
#: PRAGMAs), create, insert (through the driver on SQLite), count, delete, insert-select, drop.
PUBLISH_STATEMENTS = 9


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


KILLED_NIGHT = textwrap.dedent("""
    import os, sys, time, pandas as pd, sqlalchemy as sa
    import etl.publish.warehouse as warehouse
    from etl.publish.marts import KPI_VALUE
    engine = warehouse.make_engine(sys.argv[1])
    stop_at, seen = int(sys.argv[3]), {"n": 0}
    for method in ("execute", "exec_driver_sql"):
        real = getattr(sa.engine.Connection, method)
        def counted(self, statement, *args, _real=real, **kwargs):
            seen["n"] += 1
            if seen["n"] == stop_at:  # between statement n-1 and n: announce, wait for SIGKILL
                print("at", seen["n"], flush=True)
                time.sleep(30)
            return _real(self, statement, *args, **kwargs)
        setattr(sa.engine.Connection, method, counted)
    frame = pd.read_parquet(sys.argv[2])
    warehouse.publish_together(engine, [warehouse.Publication("mart", KPI_VALUE, frame, {"version": 0}),
                                        warehouse.Publication("public", KPI_VALUE, frame, {"version": 0})])
    print("done", seen["n"], flush=True)
""")


def night_runs(engine) -> tuple[set, set]:
    return (set(read_table(engine, "mart.kpi_value")["run_id"]), set(read_table(engine, "public.kpi_value")["run_id"]))


def test_a_kill_between_any_two_statements_leaves_mart_and_public_on_the_same_night(tmp_path):
    """The night's `mart` and `public` KPI tables are one publication: SIGKILL before every
    statement of it, and both schemas always show the same run (the old one until the commit)."""
    engine = make_engine(f"sqlite:///{tmp_path}/warehouse.db")
    ensure_schema(engine)
    publish_together(engine, [Publication("mart", KPI_VALUE, rows(1.0, run_id="night-1"), {"version": 0}),
                              Publication("public", KPI_VALUE, rows(1.0, run_id="night-1"), {"version": 0})])
    frame_path = tmp_path / "night-2.parquet"
    rows(2.0, n=4, run_id="night-2").to_parquet(frame_path)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)}
    whole = subprocess.run([sys.executable, "-c", KILLED_NIGHT, str(engine.url), str(frame_path), "0"],
                           capture_output=True, text=True, env=env, check=True, cwd=tmp_path)
    statements = int(whole.stdout.split()[-1])
    assert statements == 2 * PUBLISH_STATEMENTS - 1  # one BEGIN for both tables
    assert night_runs(engine) == ({"night-2"}, {"night-2"})
    publish_together(engine, [Publication("mart", KPI_VALUE, rows(1.0, run_id="night-1"), {"version": 0}),
                              Publication("public", KPI_VALUE, rows(1.0, run_id="night-1"), {"version": 0})])
    for stop_at in range(1, statements + 1):
        proc = subprocess.Popen([sys.executable, "-c", KILLED_NIGHT, str(engine.url), str(frame_path), str(stop_at)],
                                stdout=subprocess.PIPE, text=True, env=env, cwd=tmp_path)
        assert proc.stdout.readline().split() == ["at", str(stop_at)]
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
        assert night_runs(engine) == ({"night-1"}, {"night-1"}), f"killed before statement {stop_at}"
    # and the next run recovers by itself (a hot journal is rolled back on open)
    publish_together(engine, [Publication("mart", KPI_VALUE, rows(3.0, run_id="night-3"), {"version": 0}),
                              Publication("public", KPI_VALUE, rows(3.0, run_id="night-3"), {"version": 0})])
    assert night_runs(engine) == ({"night-3"}, {"night-3"})
    engine.dispose()
