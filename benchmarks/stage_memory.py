"""Peak memory of one stage on data already staged, without re-running the chain.

    python benchmarks/stage_memory.py validate --data-dir /tmp/mem-cph [--date 2025-11-15]
    python benchmarks/stage_memory.py model --data-dir /tmp/mem-cph [--date 2025-11-15]
    python benchmarks/stage_memory.py kpis --data-dir /tmp/mem-cph [--history-quarters 4]
    python benchmarks/stage_memory.py publish --data-dir /tmp/mem-cph
    python benchmarks/stage_memory.py dq --data-dir /tmp/mem-cph
    python benchmarks/stage_memory.py compare MODEL_DIR_A MODEL_DIR_B

`validate` validates every landed table of `<data-dir>/landing` (landed as `run_chain.py`
does) in one process into `<data-dir>/bench-validate` and prints each table's peak resident
memory and the process's high-water mark. `model` runs the model stage (`etl.model.stage.run_model_stage`) on `<data-dir>/staged` into
`<data-dir>/model` and prints the resident memory's peak in each phase (reading, the link
step, each builder, each table written), sampled every 20 ms, and the process's high-water
mark. `kpis` computes the KPIs on `<data-dir>/model` in a forked process, as
`run_chain.py` does, and prints the peak summed PSS of the process and its workers, in each
phase (loading the model, coding the postings, the workers computing, case_cost,
dim_caseworker) and in all. `publish` audits and publishes what `kpis` computed there to the
warehouse (SQLite in the data folder) in a forked process and prints its peak. `dq` runs the data-quality rules on `<data-dir>/model` in this
process and prints each rule's peak (the rules on the run's facts, which read the warehouse,
skipped).
`compare` checks two model folders hold equal tables (every table sorted on all its
columns, then `pd.testing.assert_frame_equal`, dtypes included): how a memory change is
shown to leave the output as it was (docs/performance.md, "Round 5").
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import functools
import shutil
import sys
import threading
import time
from pathlib import Path

import pandas as pd
import psutil

from etl.core.settings import REPO_ROOT, Connections, Settings
from etl.model import ModelWriter
from etl.model import build as model_build
from etl.model import stage as model_stage
from etl.model.tables import MODEL_TABLES


class PhasePeaks:
    """Memory's peak per named phase, sampled by a thread every `interval` seconds: this
    process's resident memory, or with `pss` the summed proportional set size of this process
    and its descendants (the KPI stage's forked workers share the model copy-on-write; PSS
    splits shared pages between them, as `run_chain.MemoryWatch` does)."""

    def __init__(self, interval: float = 0.02, pss: bool = False):
        self.phase, self.peaks, self._process, self._interval = "start", {}, psutil.Process(), interval
        self._pss, self._running = pss, []
        threading.Thread(target=self._sample, daemon=True, name="phase-peaks").start()

    def _memory(self) -> int:
        if not self._pss:
            return self._process.memory_info().rss
        total = 0
        for process in [self._process, *self._process.children(recursive=True)]:
            with contextlib.suppress(psutil.Error):
                total += process.memory_full_info().pss
        return total

    def _sample(self) -> None:
        while True:
            phase, memory = self.phase, self._memory()
            self.peaks[phase] = max(self.peaks.get(phase, 0), memory)
            time.sleep(self._interval)

    def wrap(self, owner, name: str, label) -> None:
        """Replace `owner.name` by a wrapper that names the phase while it runs (`label(*args)`)."""
        fn = getattr(owner, name)

        @functools.wraps(fn)
        def phased(*args, **kwargs):
            """The phase while `fn` runs; after it, the phase it was called in (a nested call),
            else "after <its phase>"."""
            phase = label(*args)
            self._running.append(phase)
            self.phase = phase
            try:
                return fn(*args, **kwargs)
            finally:
                self._running.pop()
                self.phase = self._running[-1] if self._running else f"after {phase}"

        setattr(owner, name, phased)


def high_water_mark() -> int:
    status = Path("/proc/self/status").read_text()
    return next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM:")) * 1024


def model_memory(data_dir: Path, day: dt.date) -> None:
    peaks = PhasePeaks()
    for name in ("guard_free_text", "link_persons", "_citizens", "_link_findings", "build_measure_links"):
        peaks.wrap(model_build, name, lambda *_, n=name: n)
    peaks.wrap(model_build, "_build_rows", lambda entry, *_: f"build {entry.label}")
    for name in ("load_current_staged", "staged_rows", "load_reference"):
        peaks.wrap(model_stage, name, lambda *_, n=name: n)
    peaks.wrap(ModelWriter, "add", lambda _writer, table, *_: f"write {table}")
    settings = Settings(data_dir, REPO_ROOT / "reference", "demo", connections=Connections())
    started = time.perf_counter()
    result = model_stage.run_model_stage(settings, day)
    seconds = time.perf_counter() - started
    time.sleep(0.1)
    for phase, peak in peaks.peaks.items():
        print(f"{phase:<45} {peak / 1024**3:6.2f} GiB")
    print(f"model stage: {seconds:.1f} s, {sum(result['rows'].values()):,} model rows, "
          f"high-water mark {high_water_mark() / 1024**3:.2f} GiB")


def validate_memory(data_dir: Path, day: dt.date) -> None:
    """Validate every table landed under `<data-dir>/landing` for `day` in this one process, as
    the extract stage does, into a scratch folder (`<data-dir>/bench-validate`, replaced)."""
    from etl.sources import get_source  # noqa: PLC0415 - the source registry, only for this subcommand
    from etl.validate.table import validate_table  # noqa: PLC0415 - as above

    peaks = PhasePeaks()
    scratch = data_dir / "bench-validate"
    shutil.rmtree(scratch, ignore_errors=True)
    started = time.perf_counter()
    for partition in sorted((data_dir / "landing").glob(f"*/*/extract_date={day}")):
        source = get_source(partition.parent.parent.name)
        peaks.phase = f"{source.name}.{partition.parent.name}"
        result = validate_table(source, source.table(partition.parent.name), data_dir / "landing",
                                scratch / "staged", scratch / "quarantine", day)
        print(f"{peaks.phase:<45} {result.rows_in:>11,} rows {result.seconds:7.1f} s "
              f"peak {peaks.peaks.get(peaks.phase, 0) / 1024**3:6.2f} GiB")
    print(f"validate: {time.perf_counter() - started:.1f} s, high-water mark {high_water_mark() / 1024**3:.2f} GiB")


def kpi_memory(data_dir: Path, history_quarters: int) -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import run_chain  # noqa: PLC0415 - the benchmark beside this file, put on the path just above
    from etl.tasks import kpis as kpi_tasks  # noqa: PLC0415 - the KPI catalogue, only for this subcommand

    settings = Settings(data_dir, REPO_ROOT / "reference", "demo", connections=Connections())
    watch = run_chain.MemoryWatch()
    started = time.perf_counter()

    def stage() -> tuple[dict, dict]:
        """The stage in its own process, its phases' peak summed PSS (the stage and its workers)."""
        import etl.kpi  # noqa: PLC0415 - the catalogue, only in the stage's process
        from etl.kpi import theme6  # noqa: PLC0415 - as above
        from etl.model import Model  # noqa: PLC0415 - as above
        from etl.publish import dims  # noqa: PLC0415 - as above

        peaks = PhasePeaks(interval=0.2, pss=True)
        peaks.wrap(Model, "load", lambda *_: "loading the model")
        peaks.wrap(theme6, "prepare_shared", lambda *_: "coding the postings (theme6.prepare_shared)")
        peaks.wrap(etl.kpi, "compute_kpis", lambda *_: "the workers computing")
        peaks.wrap(kpi_tasks, "_compute_case_cost", lambda *_: "case_cost")
        peaks.wrap(dims, "dim_caseworker", lambda *_: "dim_caseworker")
        result = kpi_tasks.compute_kpis("bench", settings, history_quarters)
        return result, dict(peaks.peaks)

    (result, phases), mark = run_chain.in_own_process(stage)
    for phase, peak in phases.items():
        print(f"{phase:<48} {peak / 1024**3:6.2f} GiB")
    print(f"KPIs (compute): {time.perf_counter() - started:.1f} s, {result['rows']:,} rows, "
          f"peak {watch.peak_gib(mark):.2f} GiB (stage process high-water mark {mark / 1024**3:.2f} GiB)")


def publish_memory(data_dir: Path) -> None:
    """Audit and publish the KPI values last computed into `<data-dir>/kpi` (by `kpis`) to the
    settings' warehouse (the demo settings: SQLite in the data folder), in a forked process as
    `run_chain.py` runs a stage, and print its peak."""
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    import run_chain  # noqa: PLC0415 - the benchmark beside this file, put on the path just above
    from etl.tasks import kpis as kpi_tasks  # noqa: PLC0415 - the KPI catalogue, only for this subcommand

    settings = Settings(data_dir, REPO_ROOT / "reference", "demo", connections=Connections())
    zones = settings.zones
    computed_at = pd.read_parquet(zones.kpi_values, columns=["computed_at"])["computed_at"].iloc[0]
    staged = zones.portable({"path": zones.kpi_values, "case_cost_path": zones.case_cost,
                             "caseworker_path": zones.dim_caseworker,
                             "freshness": kpi_tasks.kpi_freshness(settings, "bench", computed_at)})
    watch = run_chain.MemoryWatch()
    started = time.perf_counter()
    result, mark = run_chain.in_own_process(
        lambda: kpi_tasks.publish_kpis(kpi_tasks.audit_kpis(staged, settings=settings), settings))
    print(f"publish (audit+publish): {time.perf_counter() - started:.1f} s, {result['mart_rows']:,} mart rows, "
          f"peak {watch.peak_gib(mark):.2f} GiB (stage process high-water mark {mark / 1024**3:.2f} GiB)")


def dq_memory(data_dir: Path) -> None:
    """The data-quality rules on `<data-dir>/model` in this process, as the stage runs them, each
    rule's peak resident memory (its check, then the runner's counting of its findings). The
    rules on the run's facts (DQ10, DQ13, DQ14, DQ20-DQ22: they read the warehouse) are skipped;
    the tables DQ20-DQ22 read (services, decisions, stays, link findings) are loaded all the same."""
    import dataclasses  # noqa: PLC0415 - only for this subcommand

    from etl.model import Model  # noqa: PLC0415 - as above
    from etl.quality import runner  # noqa: PLC0415 - as above
    from etl.quality.config import load_rules_config  # noqa: PLC0415 - as above

    settings = Settings(data_dir, REPO_ROOT / "reference", "demo", connections=Connections())
    peaks = PhasePeaks()

    def phased(rule_id: str, check):
        @functools.wraps(check)
        def run(*args, **kwargs):
            peaks.phase = rule_id
            try:
                return check(*args, **kwargs)
            finally:
                peaks.phase = f"{rule_id}: counting its findings"
        return run

    runner.RULES = {rule_id: dataclasses.replace(entry, check=phased(rule_id, entry.check))
                    for rule_id, entry in runner.RULES.items()}
    peaks.wrap(Model, "load", lambda *_: "loading the model")
    peaks.wrap(runner, "_with_case_identifiers", lambda *_: "the failures' case identifiers")
    started = time.perf_counter()
    config = load_rules_config(settings.dq_rules_path)
    model = Model.load(settings.model_dir, only=runner.model_tables(config))  # as the stage loads it
    outcome = runner.run_rules(model, config, "bench", dt.datetime.now(), facts=None)
    seconds = time.perf_counter() - started
    for phase, peak in peaks.peaks.items():
        print(f"{phase:<48} {peak / 1024**3:6.2f} GiB")
    print(f"data quality: {seconds:.1f} s, {len(outcome.dq_result):,} results, {len(outcome.dq_failure):,} failing "
          f"records, high-water mark {high_water_mark() / 1024**3:.2f} GiB")


def compare_models(a: Path, b: Path) -> int:
    """0 when every model table (and the row accounting) of `a` equals `b`'s, else 1."""
    differ = 0
    for name in [*MODEL_TABLES, "accounting"]:
        x, y = pd.read_parquet(a / f"{name}.parquet"), pd.read_parquet(b / f"{name}.parquet")
        try:
            assert list(x.columns) == list(y.columns), f"columns {list(x.columns)} != {list(y.columns)}"
            columns = list(x.columns)
            x, y = (f.sort_values(columns, kind="stable", na_position="first").reset_index(drop=True) for f in (x, y))
            pd.testing.assert_frame_equal(x, y, check_exact=True)
            print(f"equal   {name:<28} {len(x):>11,} rows x {len(columns)}")
        except AssertionError as error:
            differ = 1
            print(f"DIFFERS {name}: {str(error)[:400]}")
    return differ


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("what", choices=["validate", "model", "kpis", "publish", "dq", "compare"])
    parser.add_argument("dirs", nargs="*", type=Path, help="compare: the two model folders")
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--date", type=dt.date.fromisoformat, default=dt.date(2025, 11, 15))
    parser.add_argument("--history-quarters", type=int, default=4)
    args = parser.parse_args()
    if args.what == "compare":
        sys.exit(compare_models(*args.dirs))
    if args.what == "validate":
        validate_memory(args.data_dir, args.date)
    elif args.what == "model":
        model_memory(args.data_dir, args.date)
    elif args.what == "dq":
        dq_memory(args.data_dir)
    elif args.what == "publish":
        publish_memory(args.data_dir)
    else:
        kpi_memory(args.data_dir, args.history_quarters)


if __name__ == "__main__":
    main()
