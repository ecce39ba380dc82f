"""The daytime refresh's extract + validate alone, timed on the data folder a `run_chain.py
--incremental-night --daytime-refresh` run leaves (SQLite sources), with this checkout's code
or another's (an A/B of a change on the same data).

    python benchmarks/refresh_extract.py <data-dir> [--code /path/to/other/checkout] [--repeat 2]
        [--changed-share 0.005]

Per repeat, on a fresh copy of the folder: `--changed-share` of every database table's rows get
a change timestamp at 11:00 on the live model's date (`run_chain.change_rows`, untimed; the same
rows in every copy), then each database source is refreshed as `refresh_daytime`'s
`refresh_<source>` tasks do it (`etl.tasks.refresh.refresh_source`: incremental extract, validate
and merge into the staged table, publish), one after the other, and timed. `--code` runs it in a
process whose imports come from another checkout first (`git worktree add /tmp/old 832911c`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import time
from pathlib import Path

from on_a_copy import run_on_a_copy

REPO_ROOT = Path(__file__).resolve().parents[1]


def refresh_sources(data_dir: Path, changed_share: float) -> dict:
    """Change the rows, then time every database source's refresh (imports from the path as it stands)."""
    from run_chain import change_rows  # noqa: PLC0415 - the benchmark's own change, same rows each copy

    from etl.core import zones  # noqa: PLC0415 - from the checkout under test
    from etl.core.settings import Connections, Settings  # noqa: PLC0415 - as above
    from etl.sources import SOURCES  # noqa: PLC0415 - as above
    from etl.tasks import refresh as refresh_tasks  # noqa: PLC0415 - as above

    settings = Settings(data_dir, REPO_ROOT / "reference", "demo", connections=Connections())
    day = dt.date.fromisoformat(zones.model_extraction_date(settings.zones.model))
    urls = {name: f"sqlite:///{settings.sources_dir / f'{name}.db'}"
            for name, source in SOURCES.items() if source.kind == "database"}
    changed = change_rows(urls, changed_share, dt.datetime.combine(day, dt.time(11, 0)))
    plan = refresh_tasks.plan_refresh(day, settings)
    seconds, cpu_started, started = {}, time.process_time(), time.monotonic()
    for name in plan["sources"]:
        source_started = time.monotonic()
        refresh_tasks.refresh_source(name, plan, "bench-refresh-extract", settings)
        seconds[name] = round(time.monotonic() - source_started, 2)
    return {"changed": changed, "seconds": time.monotonic() - started, "cpu": time.process_time() - cpu_started,
            "sources": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--code", type=Path, default=REPO_ROOT, help="the checkout whose etl/ is timed")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--changed-share", type=float, default=0.005)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(refresh_sources(args.data_dir, args.changed_share)))
        return
    if not (args.data_dir / "model" / "model.json").exists() or not list((args.data_dir / "sources").glob("*.db")):
        parser.error(f"{args.data_dir} is not a run_chain.py data folder with SQLite sources: run "
                     "run_chain.py --incremental-night --daytime-refresh into it first")
    for repeat in range(args.repeat):
        timed = run_on_a_copy(__file__, args.data_dir, args.code, "--changed-share", str(args.changed_share))
        per_source = ", ".join(f"{name} {seconds:.2f}" for name, seconds in timed["sources"].items())
        print(f"refresh extract, code {args.code}, run {repeat + 1}: {timed['seconds']:.1f} s "
              f"(cpu {timed['cpu']:.1f} s; {timed['changed']:,} rows changed; {per_source})")


if __name__ == "__main__":
    main()
