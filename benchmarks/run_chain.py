"""Benchmark the whole chain on a generated profile, stage by stage, without Airflow.

    python benchmarks/run_chain.py --profile copenhagen [--date 2025-11-15] [--data-dir /tmp/bench]

Prints per stage: seconds, rows in and out, rows per second and the process's peak
resident memory so far (ru_maxrss), then the total. Airflow's own scheduling overhead is
deliberately excluded: the stages are the functions the DAG tasks call.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import resource
import shutil
import time
from pathlib import Path

from etl.config import REPO_ROOT, Settings


def peak_gib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024 / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--profile", default="demo", choices=["demo", "copenhagen", "national"])
    parser.add_argument("--date", type=dt.date.fromisoformat, default=dt.date(2025, 11, 15))
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/sofli-bench"),
                        help="scratch folder; deleted and rewritten by every run")
    parser.add_argument("--history-quarters", type=int, default=4)
    args = parser.parse_args()

    os.environ["SOFLI_MODE"] = "demo"
    shutil.rmtree(args.data_dir, ignore_errors=True)
    settings = Settings(args.data_dir, REPO_ROOT / "reference", "demo")
    from etl import pipeline  # noqa: PLC0415
    from etl.sources import SOURCES  # noqa: PLC0415
    from etl.synth import generate  # noqa: PLC0415

    rows: list[tuple[str, float, int, int]] = []

    def stage(name: str, fn, rows_in: int, rows_out_of) -> object:
        started = time.perf_counter()
        result = fn()
        seconds = time.perf_counter() - started
        out = rows_out_of(result)
        rows.append((name, seconds, rows_in, out))
        print(f"{name:<22} {seconds:8.1f} s  in {rows_in:>11,}  out {out:>11,}  "
              f"{(rows_in or out) / seconds if seconds else 0:>11,.0f} rows/s  peak {peak_gib():5.2f} GiB", flush=True)
        return result

    print(f"profile {args.profile}, extraction date {args.date}, {platform.node()} "
          f"({os.cpu_count()} cores, Python {platform.python_version()})")
    report = stage("generate", lambda: generate(settings.sources_dir, args.profile, 42, args.date), 0,
                   lambda r: sum(sum(t.values()) for t in r["rows"].values()))
    source_rows = sum(sum(t.values()) for t in report["rows"].values())
    extracted = stage("extract+validate", lambda: [pipeline.extract_source(s, args.date, "bench", settings)
                                                   for s in SOURCES], source_rows,
                      lambda r: sum(x["rows_staged"] + x["rows_quarantined"] for x in r))
    staged = sum(x["rows_staged"] for x in extracted)
    model = stage("link+model", lambda: pipeline.build_model(args.date, settings), staged,
                  lambda r: sum(r["rows"].values()))
    model_rows = sum(model["rows"].values())
    kpis = stage("kpis (compute+audit)", lambda: pipeline.audit_kpis(
        pipeline.compute_kpis("bench", settings, args.history_quarters)), model_rows, lambda r: r["rows"])
    stage("publish", lambda: pipeline.publish_kpis(kpis, settings), kpis["rows"], lambda r: r["mart_rows"])
    dq = stage("data quality", lambda: pipeline.run_data_quality("bench", settings), model_rows,
               lambda r: r["results"])
    total = sum(s for _, s, _, _ in rows[1:])
    print(f"{'total (without generate)':<22} {total:8.1f} s  peak {peak_gib():5.2f} GiB")
    out = args.data_dir / "benchmark.json"
    out.write_text(json.dumps({"profile": args.profile, "stages": rows, "total_seconds": total,
                               "peak_gib": peak_gib(), "error_breaches": dq["error_breaches"]}, indent=2))


if __name__ == "__main__":
    main()
