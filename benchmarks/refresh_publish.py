"""The daytime refresh's publish alone, timed on the data folder a `run_chain.py
--incremental-night --daytime-refresh` run leaves, with this checkout's code or another's (an
A/B of a change on the same data).

    python benchmarks/refresh_publish.py <data-dir> [--code /path/to/other/checkout] [--repeat 2]

The folder holds the incremental night's staged KPI set (`kpi/kpi_value.published.parquet`,
which the refresh kept aside) and the refresh's (`kpi/kpi_value.parquet`). Per repeat, on a
fresh copy of the folder: the night's set is published as version 0 (untimed), then the
refresh's set by `publish_kpis` with the hand-over `compute_running_quarter` gives it
(`published_path`, `refreshed_periods`): that publish is timed. `--code` runs both in a
process whose imports come from another checkout first (`git worktree add /tmp/old 4445c54`);
code from before the hand-over ignores its keys and publishes the whole version from scratch.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from on_a_copy import run_on_a_copy

REPO_ROOT = Path(__file__).resolve().parents[1]


def publish_twice(data_dir: Path) -> float:
    """Publish the night's set, then time the refresh's (imports from the path as it stands)."""
    import pandas as pd  # noqa: PLC0415 - from the checkout under test

    from etl.core.settings import Connections, Settings  # noqa: PLC0415 - as above
    from etl.tasks import kpis as kpi_tasks  # noqa: PLC0415 - as above

    settings = Settings(data_dir, REPO_ROOT / "reference", "demo", connections=Connections())
    night = settings.zones.kpi_values.with_name("kpi_value.published.parquet")
    (data_dir / "kpi" / "audit_memo.json").unlink(missing_ok=True)  # the night asks the audit afresh
    kpi_tasks.publish_kpis({"audited": True, "path": str(night)}, settings)
    values = pd.read_parquet(settings.zones.kpi_values, columns=["period_key", "provisional", "comparison"])
    refreshed = values["provisional"].astype(bool) | values["comparison"].eq("last_year_twin")
    started = time.monotonic()
    kpi_tasks.publish_kpis({"audited": True, "path": str(settings.zones.kpi_values), "published_path": str(night),
                            "refreshed_periods": sorted(set(values.loc[refreshed, "period_key"]))}, settings)
    return time.monotonic() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--code", type=Path, default=REPO_ROOT, help="the checkout whose etl/ is timed")
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps({"seconds": publish_twice(args.data_dir)}))
        return
    if not (args.data_dir / "kpi" / "kpi_value.published.parquet").exists():
        parser.error(f"{args.data_dir} has no kpi/kpi_value.published.parquet: run run_chain.py with "
                     "--incremental-night --daytime-refresh into it first")
    for repeat in range(args.repeat):
        seconds = run_on_a_copy(__file__, args.data_dir, args.code)["seconds"]
        print(f"refresh publish, code {args.code}, run {repeat + 1}: {seconds:.1f} s")


if __name__ == "__main__":
    main()
