"""The `housekeeping` DAG's task: retention of the CPR-bearing extract zones."""

from __future__ import annotations

import datetime as dt


def expire_partitions(extract_date: dt.date, dry_run: bool = False) -> dict:
    """Delete landing, staged and quarantine partitions past the retention period (counts only)."""
    from etl.ops.housekeeping import run_housekeeping  # noqa: PLC0415 - pandas (~0.4 s): not at DAG parse

    return run_housekeeping(extract_date, dry_run=dry_run)
