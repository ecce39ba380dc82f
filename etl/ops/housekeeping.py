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
import json
import logging
import os
import shutil
from pathlib import Path

from etl.core.settings import ConfigurationError, Settings
from etl.core.storage import read_json

log = logging.getLogger(__name__)

RETENTION_ENV = "SOFLI_RETENTION_DAYS"
DEFAULT_RETENTION_DAYS = 30
#: Below this a backfill of last week could find its extracts gone.
MINIMUM_RETENTION_DAYS = 7
PREFIX = "extract_date="


def retention_days(value: str | None = None) -> int:
    """The retention period from `SOFLI_RETENTION_DAYS` (default 30, at least 7)."""
    raw = value if value is not None else os.environ.get(RETENTION_ENV)
    if raw is None or raw == "":
        return DEFAULT_RETENTION_DAYS
    try:
        days = int(raw)
    except ValueError:
        raise ConfigurationError(f"{RETENTION_ENV} must be a whole number of days, not {raw!r}") from None
    if days < MINIMUM_RETENTION_DAYS:
        raise ConfigurationError(f"{RETENTION_ENV} must be at least {MINIMUM_RETENTION_DAYS} days, not {days}")
    return days


def _protected_dates(settings: Settings) -> dict[str, set[str]]:
    """Per source, the extract dates that are never deleted (current pointer, live model)."""
    protected: dict[str, set[str]] = {}
    for pointer in settings.staged_dir.glob("*/CURRENT.json"):
        protected.setdefault(pointer.parent.name, set()).add(read_json(pointer)["extract_date"])
    model = settings.model_dir / "model.json"
    if model.exists():
        day = json.loads(model.read_text())["extraction_date"]
        for zone in (settings.landing_dir, settings.staged_dir, settings.quarantine_dir):
            for source in (p for p in zone.glob("*") if p.is_dir()):
                protected.setdefault(source.name, set()).add(day)
    return protected


def _partition_date(folder: Path) -> str | None:
    """`YYYY-MM-DD` of a partition folder, or None for anything else (never deleted)."""
    if not folder.is_dir() or not folder.name.startswith(PREFIX):
        return None
    text = folder.name[len(PREFIX):]
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return None
    return text


def plan_housekeeping(settings: Settings, today: dt.date, days: int) -> tuple[list[Path], list[Path]]:
    """(partitions to delete, partitions kept) — every `extract_date=` folder of the zones."""
    cutoff = (today - dt.timedelta(days=days)).isoformat()
    protected = _protected_dates(settings)
    delete, keep = [], []
    for zone in (settings.landing_dir, settings.staged_dir, settings.quarantine_dir):
        for table_dir in sorted(p for p in zone.glob("*/*") if p.is_dir()):
            dated = sorted((d, p) for p in table_dir.iterdir() if (d := _partition_date(p)))
            newest = dated[-1][0] if dated else None
            for day, folder in dated:
                source = table_dir.parent.name
                if day < cutoff and day != newest and day not in protected.get(source, set()):
                    delete.append(folder)
                else:
                    keep.append(folder)
    return delete, keep


def run_housekeeping(today: dt.date, settings: Settings | None = None, days: int | None = None,
                     dry_run: bool = False) -> dict:
    """Delete expired partitions; returns counts per zone and the dates deleted (no data)."""
    settings = settings or Settings.from_env()
    days = retention_days() if days is None else retention_days(str(days))
    delete, keep = plan_housekeeping(settings, today, days)
    deleted: dict[str, int] = {}
    dates: set[str] = set()
    for folder in delete:
        zone = folder.parent.parent.parent.name
        if not dry_run:
            shutil.rmtree(folder)
        deleted[zone] = deleted.get(zone, 0) + 1
        dates.add(folder.name[len(PREFIX):])
    summary = {"retention_days": days, "cutoff": (today - dt.timedelta(days=days)).isoformat(),
               "deleted": deleted, "deleted_dates": sorted(dates), "kept": len(keep), "dry_run": dry_run}
    log.info("housekeeping (%d days, cutoff %s): %s %d partition(s) %s of extract dates %s; %d kept",
             days, summary["cutoff"], "would delete" if dry_run else "deleted", len(delete),
             deleted, ", ".join(summary["deleted_dates"]) or "-", len(keep))
    return summary
