"""Benchmark the whole chain on a generated profile, stage by stage, without Airflow.

    python benchmarks/run_chain.py --profile copenhagen [--date 2025-11-15] [--data-dir /tmp/bench]
        [--sources sqlite|postgres] [--incremental-night [--freeze 2025-Q3]] [--daytime-refresh]
        [--changed-share 0.005] [--json out.json]

Prints per stage: seconds, rows in and out, rows per second, CPU seconds (worker
processes included) and the stage's peak memory (see `MemoryWatch`), then the total.
Each stage runs in a forked process of its own, as each Airflow task runs in its own. Airflow's own scheduling overhead is
deliberately excluded: the stages are the functions the DAG tasks call.

`--sources postgres` generates the database sources into a throwaway PostgreSQL cluster
(or `SOFLI_TEST_PG_URL`) and extracts them through ODBC (psqlODBC, columnar arrow-odbc;
Airflow connections of type odbc in `AIRFLOW_CONN_SOFLI_SRC_<NAME>`), as production reads
its fagsystemer. `--incremental-night` then changes `--changed-share` of every database
table's rows (a fresh change timestamp on the next day), delivers the next day's CPR
file, and times a second night on the next date: incremental extract + validate (merge)
-> model -> KPIs -> publish -> data quality. `--freeze` freezes a quarter between the two
nights, as the quarter close does, so the second night's publish audits its rows beside the
frozen version (the nights after a freeze).

`--daytime-refresh` then times one run of the optional daytime refresh (`refresh_daytime`'s
functions, `etl/tasks/refresh.py`) on the last night's date: `--changed-share` of every
database table's rows changed that morning, the database sources re-read incrementally, the
model rebuilt, the running quarter's KPIs recomputed (the other periods kept), audited and
published, the rules run. Give it `--incremental-night` too for a production-like refresh: on
the day of a source's first extract there is no earlier extract to be incremental on, so the
refresh reads the tables whole.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import multiprocessing
import os
import platform
import resource
import shutil
import sys
import threading
import time
import traceback
from pathlib import Path

import psutil
import sqlalchemy as sa

from etl.core.settings import REPO_ROOT, Connections, Settings
from etl.publish.freeze import freeze_quarter
from etl.sources import SOURCES
from etl.synth import generate
from etl.tasks import extract as extract_tasks
from etl.tasks import kpis as kpi_tasks
from etl.tasks import model as model_tasks
from etl.tasks import quality as dq_tasks
from etl.tasks import refresh as refresh_tasks


def high_water_mark() -> int:
    """This process's peak resident memory in bytes since start or the last reset."""
    status = Path("/proc/self/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")) * 1024


class MemoryWatch:
    """Peak memory of one stage: its process and the KPI stage's workers together.

    Each stage runs in a process of its own (`in_own_process`), as each Airflow task does,
    so no stage inherits what an earlier one left allocated. A thread samples, every
    0.2 s, the summed proportional set size (PSS: shared pages split between the
    processes sharing them, as the KPI workers share the model copy-on-write) of this
    process and all its descendants. A stage's peak is the larger of that and the stage
    process's own high-water mark (which catches spikes between samples).
    """

    def __init__(self, interval: float = 0.2):
        self._process, self._interval, self._peak = psutil.Process(), interval, 0
        threading.Thread(target=self._sample, daemon=True, name="memory-watch").start()

    def _sample(self) -> None:
        while True:
            total = 0
            for process in [self._process, *self._process.children(recursive=True)]:
                with contextlib.suppress(psutil.Error):
                    total += process.memory_full_info().pss
            self._peak = max(self._peak, total)
            time.sleep(self._interval)

    def reset(self) -> None:
        self._peak = 0

    def peak_gib(self, stage_high_water_mark: int = 0) -> float:
        return max(stage_high_water_mark, self._peak) / 1024**3


def in_own_process(fn):
    """Run `fn` in a forked process and return (its result, its high-water mark in bytes)."""
    context = multiprocessing.get_context("fork")
    receive, send = context.Pipe(duplex=False)

    def target() -> None:
        try:
            outcome = ("ok", fn())
        except BaseException:  # noqa: BLE001 - reported to the parent, which raises
            outcome = ("error", traceback.format_exc())
        send.send((outcome, high_water_mark()))

    process = context.Process(target=target, name="benchmark-stage")
    process.start()
    send.close()
    try:
        (status, value), mark = receive.recv()
    except EOFError:
        process.join()
        raise RuntimeError(f"the stage's process died (exit code {process.exitcode})") from None
    process.join()
    if status == "error":
        raise RuntimeError(f"the stage failed:\n{value}")
    return value, mark


WATCH: MemoryWatch | None = None


def pg_sources(names: list[str]):
    """Databases for the database sources in a PostgreSQL server, read through ODBC: the
    URLs to generate into, with `AIRFLOW_CONN_SOFLI_SRC_<NAME>` set to odbc connections."""
    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests" / "support"))
    import pgcluster  # noqa: PLC0415 - tests/support, put on the path just above

    cluster = None
    url = os.environ.get("SOFLI_TEST_PG_URL")
    if not url:
        cluster = pgcluster.start()
        url = cluster.url
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    server = sa.engine.make_url(url)
    urls = {}
    with admin.connect() as conn:
        for name in names:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS bench_src_{name} WITH (FORCE)")
            conn.exec_driver_sql(f"CREATE DATABASE bench_src_{name}")
            urls[name] = server.set(database=f"bench_src_{name}").render_as_string(hide_password=False)
            os.environ[f"AIRFLOW_CONN_SOFLI_SRC_{name.upper()}"] = json.dumps({
                "conn_type": "odbc", "host": server.host, "port": server.port, "schema": f"bench_src_{name}",
                "login": server.username, "password": server.password, "extra": {"driver": "PostgreSQL Unicode"}})
    admin.dispose()
    return urls, cluster


def change_rows(urls: dict[str, str], share: float, changed_at: dt.datetime) -> int:
    """Give `share` of every database table's rows (every n-th primary key) a fresh change
    timestamp: what a night's edits in the fagsystemer look like to an incremental extract."""

    step = max(1, round(1 / share))
    changed = 0
    for name, url in urls.items():
        engine = sa.create_engine(url)
        stamp = changed_at.isoformat(sep=" ", timespec="microseconds") if url.startswith("sqlite") else changed_at
        with engine.begin() as conn:
            for table in SOURCES[name].tables:
                if not table.watermark:
                    continue
                key = ", ".join(f'"{k}"' for k in table.primary_key)
                keys = conn.exec_driver_sql(f'SELECT {key} FROM "{table.name}" ORDER BY {key}').fetchall()[::step]
                where = " AND ".join(f'"{k}" = :k{i}' for i, k in enumerate(table.primary_key))
                statement = sa.text(f'UPDATE "{table.name}" SET "{table.watermark}" = :stamp WHERE {where}')
                conn.execute(statement, [{"stamp": stamp, **{f"k{i}": v for i, v in enumerate(row)}} for row in keys])
                changed += len(keys)
        engine.dispose()
    return changed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="demo", choices=["demo", "copenhagen", "national"])
    parser.add_argument("--date", type=dt.date.fromisoformat, default=dt.date(2025, 11, 15))
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/sofli-bench"),
                        help="scratch folder; deleted and rewritten by every run")
    parser.add_argument("--history-quarters", type=int, default=4)
    parser.add_argument("--sources", choices=["sqlite", "postgres"], default="sqlite",
                        help="where the database sources are generated (postgres: read through ODBC)")
    parser.add_argument("--incremental-night", action="store_true",
                        help="after the full night, change rows and time an incremental night on the next date")
    parser.add_argument("--daytime-refresh", action="store_true",
                        help="after the last night, change rows that morning and time one daytime refresh")
    parser.add_argument("--changed-share", type=float, default=0.005, help="share of rows changed (0.5 %%)")
    parser.add_argument("--freeze", metavar="QUARTER", help="with --incremental-night: freeze this quarter (e.g. "
                        "2025-Q3) before the second night, whose publish then audits beside the frozen version")
    parser.add_argument("--json", type=Path, help="also write the figures here (default: <data-dir>/benchmark.json)")
    args = parser.parse_args()
    if args.freeze and not args.incremental_night:
        parser.error("--freeze needs --incremental-night (the night after the freeze is the one measured)")
    global WATCH  # noqa: PLW0603 - one watch per benchmark process
    WATCH = MemoryWatch()

    shutil.rmtree(args.data_dir, ignore_errors=True)
    # demo mode (the generated sources, the demo key); sources through the Airflow connections
    # `pg_sources` puts in the environment (looked up when first needed, after that)
    settings = Settings(args.data_dir, REPO_ROOT / "reference", "demo", connections=Connections())

    database_sources = [name for name, s in SOURCES.items() if s.kind == "database"]
    with contextlib.ExitStack() as cleanup:
        db_urls = None
        if args.sources == "postgres":
            db_urls, cluster = pg_sources(database_sources)
            if cluster:
                cleanup.callback(cluster.stop)
        nights = [run_night(args, settings, SOURCES, generate, db_urls)]
        urls = db_urls or {n: f"sqlite:///{settings.sources_dir / f'{n}.db'}" for n in database_sources}
        if args.incremental_night:
            nights.append(run_incremental_night(args, settings, SOURCES, urls))
        if args.daytime_refresh:
            nights.append(run_daytime_refresh(args, settings, urls, dt.date.fromisoformat(nights[-1]["date"])))
    out = args.json or args.data_dir / "benchmark.json"
    out.write_text(json.dumps({"profile": args.profile, "sources": args.sources, "cores": os.cpu_count(),
                               "nights": nights, "peak_gib": max(n["peak_gib"] for n in nights)}, indent=2))


def cpu_seconds() -> float:
    """CPU time of this process (all threads) and of its finished stage processes and
    their KPI workers: unlike wall time, not inflated by other load."""
    return sum(usage.ru_utime + usage.ru_stime
               for usage in (resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)))


def chain_rows(rows: list) -> list:
    """The chain's stages: without the generator and the setup steps (changing rows, a freeze)."""
    return [r for r in rows if r[0] != "generate" and not r[0].endswith("(setup)")]


def chain_peak(rows: list) -> float:
    """The chain's peak memory: the largest stage peak, setup and generator left out."""
    return max(r[5] for r in chain_rows(rows))


def stage_timer(rows: list):
    """Each stage as (name, wall seconds, rows in, rows out, CPU seconds, peak GiB)."""
    def stage(name: str, fn, rows_in: int, rows_out_of) -> object:
        WATCH.reset()
        started, cpu = time.perf_counter(), cpu_seconds()
        result, mark = in_own_process(fn)
        seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu
        out, peak = rows_out_of(result), WATCH.peak_gib(mark)
        rows.append((name, seconds, rows_in, out, cpu, peak))
        print(f"{name:<22} {seconds:8.1f} s  in {rows_in:>11,}  out {out:>11,}  "
              f"{(rows_in or out) / seconds if seconds else 0:>11,.0f} rows/s  cpu {cpu:7.1f} s  "
              f"peak {peak:5.2f} GiB", flush=True)
        return result
    return stage


def run_chain(args, settings, sources, day: dt.date, run_id: str, stage, source_rows: int) -> dict:
    """extract+validate -> model -> KPIs -> publish -> DQ for one extraction date."""
    extracted = stage("extract+validate", lambda: [extract_tasks.extract_source(s, day, run_id, settings)
                                                   for s in sources], source_rows,
                      lambda r: sum(x["rows_staged"] + x["rows_quarantined"] for x in r))
    staged = sum(x["rows_staged"] for x in extracted)
    model = stage("link+model", lambda: model_tasks.build_model(day, settings), staged,
                  lambda r: sum(r["rows"].values()))
    model_rows = sum(model["rows"].values())
    kpis = stage("kpis (compute+audit)", lambda: kpi_tasks.audit_kpis(
        kpi_tasks.compute_kpis(run_id, settings, args.history_quarters), settings=settings), model_rows,
        lambda r: r["rows"])
    stage("publish", lambda: kpi_tasks.publish_kpis(kpis, settings), kpis["rows"], lambda r: r["mart_rows"])
    dq = stage("data quality", lambda: dq_tasks.run_data_quality(run_id, settings), model_rows,
               lambda r: r["results"])
    return {"error_breaches": dq["error_breaches"]}


def run_night(args, settings, sources, generate, db_urls) -> dict:
    rows: list[tuple[str, float, int, int, float, float]] = []
    stage = stage_timer(rows)
    print(f"profile {args.profile}, sources {args.sources}, extraction date {args.date}, {platform.node()} "
          f"({os.cpu_count()} cores, Python {platform.python_version()})")
    report = stage("generate", lambda: generate(settings.sources_dir, args.profile, 42, args.date, db_urls=db_urls),
                   0, lambda r: sum(sum(t.values()) for t in r["rows"].values()))
    source_rows = sum(sum(t.values()) for t in report["rows"].values())
    result = run_chain(args, settings, sources, args.date, "bench", stage, source_rows)
    total = sum(r[1] for r in chain_rows(rows))
    print(f"{'total (without generate)':<22} {total:8.1f} s  cpu {sum(r[4] for r in chain_rows(rows)):7.1f} s  "
          f"peak {chain_peak(rows):5.2f} GiB; load average {os.getloadavg()[0]:.1f}")
    return {"night": "full", "date": args.date.isoformat(), "stages": rows, "total_seconds": total,
            "peak_gib": chain_peak(rows), **result}


def rows_read(settings, sources, day: dt.date) -> tuple[dict[str, int], dict[str, int]]:
    """Rows read and tables per extract mode (incremental or full) of `day`'s current extracts."""
    read = {"incremental": 0, "full": 0}
    tables = {"incremental": 0, "full": 0}
    for name, source in sources.items():
        for table in source.tables:
            info = json.loads((settings.staged_dir / name / table.name / f"extract_date={day}" / "validation.json")
                              .read_text())
            mode = info.get("mode", "full")
            read[mode] += int(info["rows_in"])
            tables[mode] += 1
    return read, tables


def print_total(rows: list, read: dict[str, int], tables: dict[str, int], note: str = "") -> float:
    """Print a night's (or refresh's) total without its setup steps, and the rows read per mode."""
    total = sum(r[1] for r in chain_rows(rows))
    print(f"{'total (without setup)':<22} {total:8.1f} s  cpu {sum(r[4] for r in chain_rows(rows)):7.1f} s  "
          f"peak {chain_peak(rows):5.2f} GiB; {note}read {read['incremental']:,} rows from {tables['incremental']} "
          f"incremental tables, {read['full']:,} rows from {tables['full']} read whole; "
          f"load average {os.getloadavg()[0]:.1f}")
    return total


def run_daytime_refresh(args, settings, urls: dict[str, str], day: dt.date) -> dict:
    """One daytime refresh of the last night's date `day`, as `refresh_daytime` runs it (its
    tasks' functions in order), after `--changed-share` of the database rows changed that morning."""
    run_id = "bench-refresh"
    rows: list[tuple[str, float, int, int, float, float]] = []
    stage = stage_timer(rows)
    print(f"daytime refresh {day}: {args.changed_share:.1%} of the database rows changed this morning")
    changed = stage("change rows (setup)", lambda: change_rows(urls, args.changed_share,
                                                                dt.datetime.combine(day, dt.time(10, 0))),
                    0, lambda n: n)
    plan = refresh_tasks.plan_refresh(day, settings)
    stage("extract+validate", lambda: [refresh_tasks.refresh_source(s, plan, run_id, settings) for s in plan["sources"]],
          changed, lambda r: sum(x["rows_staged"] + x["rows_quarantined"] for x in r))
    read, tables = rows_read(settings, {name: SOURCES[name] for name in plan["sources"]}, day)
    model = stage("link+model", lambda: refresh_tasks.refresh_model(plan, settings), 0,
                  lambda r: sum(r["rows"].values()))
    model_rows = sum(model["rows"].values())
    kpis = stage("kpis (running quarter)", lambda: kpi_tasks.audit_kpis(
        refresh_tasks.compute_running_quarter(run_id, settings), settings=settings), model_rows,
        lambda r: r["refreshed_rows"])
    stage("publish", lambda: kpi_tasks.publish_kpis(kpis, settings), kpis["rows"], lambda r: r["mart_rows"])
    stage("data quality", lambda: refresh_tasks.refresh_quality(run_id, settings), model_rows,
          lambda r: r["rules"])
    total = print_total(rows, read, tables, f"{kpis['refreshed_rows']:,} KPI rows recomputed, "
                                            f"{kpis['kept_rows']:,} kept; ")
    return {"night": "daytime refresh", "date": day.isoformat(), "stages": rows, "total_seconds": total,
            "changed_rows": changed, "rows_read": read, "tables": tables, "peak_gib": chain_peak(rows)}


def run_incremental_night(args, settings, sources, urls: dict[str, str]) -> dict:
    day = args.date + dt.timedelta(days=1)
    rows: list[tuple[str, float, int, int, float, float]] = []
    stage = stage_timer(rows)
    print(f"incremental night {day}: {args.changed_share:.1%} of the database rows changed")
    if args.freeze:  # as the quarter close freezes it, before tonight's publish
        stage(f"freeze {args.freeze} (setup)", lambda: freeze_quarter(args.freeze, settings=settings), 0,
              lambda frozen: frozen.public_rows)
    changed = stage("change rows (setup)", lambda: change_rows(urls, args.changed_share,
                                                                dt.datetime.combine(day, dt.time(12, 0))),
                    0, lambda n: n)
    drop = settings.sources_dir / "drop"
    for table in sources["cpr"].tables:  # tonight's daily CPR delivery (the same people)
        shutil.copyfile(drop / table.file_pattern.format(date=args.date), drop / table.file_pattern.format(date=day))
    result = run_chain(args, settings, sources, day, "bench-incremental", stage, changed)
    read, tables = rows_read(settings, sources, day)
    total = print_total(rows, read, tables)
    return {"night": "incremental", "date": day.isoformat(), "stages": rows, "total_seconds": total,
            "changed_rows": changed, "rows_read": read, "tables": tables, "peak_gib": chain_peak(rows), **result}


if __name__ == "__main__":
    main()
