"""The `housekeeping` DAG's task: retention of the CPR-bearing extract zones."""

from __future__ import annotations

import datetime as dt

from etl.core.settings import Settings


def expire_partitions(extract_date: dt.date, dry_run: bool = False, *, settings: Settings | None = None) -> dict:
    """Delete landing, staged and quarantine partitions past the retention period (counts only)."""
    from etl.ops.housekeeping import run_housekeeping  # noqa: PLC0415 - pandas (~0.4 s): not at DAG parse

    settings = settings if settings is not None else Settings.resolve()
    return run_housekeeping(extract_date, settings, dry_run=dry_run)
