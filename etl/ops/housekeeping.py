"""Retention: delete CPR-bearing extract partitions older than the retention period.

`landing/`, `staged/` and `quarantine/` hold CPR numbers (restricted). They are kept
only as long as they are useful: for re-running and backfilling recent dates, for the
data owners to look up quarantined rows, and for re-keying (`etl.ops.rekey`). Each zone is
laid out `<zone>/<source>/<table>/extract_date=YYYY-MM-DD/`; a partition whose date is
more than `SOFLI_RETENTION_DAYS` (default 30) days before the run's date is deleted,
except:

- the partitions of the extract date a source's `staged/<source>/CURRENT.json` points
  at (the model reads them; DQ14 reconciles their landing manifests),
- the newest partition of every source table in every zone (the base of the next
  incremental extract, and the last good extract of a source that stopped delivering),
- the partitions of the date the live model was built for (`model/model.json`), so a
  key rotation can still reproduce its pseudonyms.

Only folder names are read; the log and the result give counts and dates, never data.
"""

from __future__ import annotations

import datetime as dt
import logging
import shutil
from pathlib import Path

from etl.core import zones
from etl.core.settings import MINIMUM_RETENTION_DAYS, ConfigurationError, Settings

log = logging.getLogger(__name__)


def _protected_dates(settings: Settings) -> dict[str, set[str]]:
    """Per source, the extract dates that are never deleted (current pointer, live model)."""
    protected: dict[str, set[str]] = {}
    for source, pointer in zones.current_extracts(settings.staged_dir).items():
        protected.setdefault(source, set()).add(pointer["extract_date"])
    day = zones.model_extraction_date(settings.model_dir)
    if day:
        for zone in (settings.landing_dir, settings.staged_dir, settings.quarantine_dir):
            for source in zones.source_dirs(zone):
                protected.setdefault(source.name, set()).add(day)
    return protected


def plan_housekeeping(settings: Settings, today: dt.date, days: int) -> tuple[list[Path], list[Path]]:
    """(partitions to delete, partitions kept) — every `extract_date=` folder of the zones."""
    cutoff = (today - dt.timedelta(days=days)).isoformat()
    protected = _protected_dates(settings)
    delete, keep = [], []
    for zone in (settings.landing_dir, settings.staged_dir, settings.quarantine_dir):
        for table_dir in zones.table_dirs(zone):
            dated = zones.partitions(table_dir)
            newest = dated[-1][0] if dated else None
            for day, folder in dated:
                source = table_dir.parent.name
                if day < cutoff and day != newest and day not in protected.get(source, set()):
                    delete.append(folder)
                else:
                    keep.append(folder)
    return delete, keep


def run_housekeeping(today: dt.date, settings: Settings, days: int | None = None, dry_run: bool = False) -> dict:
    """Delete expired partitions older than `days` (default: the setting `SOFLI_RETENTION_DAYS`);
    returns counts per zone and the dates deleted (no data)."""
    days = settings.retention_days if days is None else days
    if days < MINIMUM_RETENTION_DAYS:
        raise ConfigurationError(f"a retention of {days} days is below the minimum {MINIMUM_RETENTION_DAYS}")
    delete, keep = plan_housekeeping(settings, today, days)
    deleted: dict[str, int] = {}
    dates: set[str] = set()
    for folder in delete:
        zone = folder.parent.parent.parent.name
        if not dry_run:
            shutil.rmtree(folder)
        deleted[zone] = deleted.get(zone, 0) + 1
        dates.add(folder.name[len(zones.PARTITION_PREFIX):])  # a partition's folder, never anything else
    summary = {"retention_days": days, "cutoff": (today - dt.timedelta(days=days)).isoformat(),
               "deleted": deleted, "deleted_dates": sorted(dates), "kept": len(keep), "dry_run": dry_run}
    log.info("housekeeping (%d days, cutoff %s): %s %d partition(s) %s of extract dates %s; %d kept",
             days, summary["cutoff"], "would delete" if dry_run else "deleted", len(delete),
             deleted, ", ".join(summary["deleted_dates"]) or "-", len(keep))
    return summary
