"""Incremental extraction: which rows to read tonight, and how they join the table.

A database table with a change timestamp (`TableSpec.watermark`) is read incrementally
once a validated extract of it exists: tonight's query asks only for rows whose change
timestamp is in `[since, until)`, where

- `since` = the base extract's high watermark (the largest change timestamp in it,
  stored in its `validation.json`) minus a safety overlap (default 48 h), so a
  transaction committed late with an earlier timestamp is still caught, and
- `until` = midnight after the extraction date, so a re-run of a past date asks for the
  same window as that night did.

The base is the newest validated extract of the table before the extraction date, so a
re-run of a date uses the same base and reproduces that date's extract. Validation then
merges: the base's rows, replaced by tonight's valid version of each changed key. Soft
deletes arrive as changes (the flag is a column) and are honoured by the model as ever.

A full extract (the whole table) runs instead when there is no usable base, the table has
no change timestamp, the contract changed since the base, the last full extract is
`full_every_days` old (default 7: a weekly full extract), or it is asked for. A full
extract also counts the base's keys that vanished from the source: hard deletes, which an
incremental query cannot see.

A file table is read whole whenever its drop files differ from the base's (a new day's or
month's file, a file replaced or removed: names and SHA-256 compared). When they are the
very files the base was validated from (the monthly employment file on all but one night
a month), nothing is read: the extract is incremental with no changes, and validation
carries the base over as it is. The same weekly full read, contract check and `full`
policy apply as to a database table.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from etl.core import zones
from etl.core.settings import ExtractPolicy
from etl.core.tables import TableSpec

__all__ = ["ExtractPlan", "ExtractPolicy", "base_partition", "changed_files", "high_watermark", "merge_into_base",
           "plan_extract", "table_rows", "vanished_keys"]


@dataclass(frozen=True)
class ExtractPlan:
    mode: str  # "full" or "incremental"
    reason: str
    base_extract_date: str | None = None  # the validated extract an incremental merges into
    since: str | None = None  # ISO timestamps of the change window [since, until)
    until: str | None = None
    last_full_extract_date: str | None = None
    files: dict[str, str] | None = None  # a file table's drop files the plan was made on: name -> SHA-256

    def as_dict(self) -> dict:
        return asdict(self)

    @property
    def window(self) -> dict[str, dt.datetime]:
        """The bind parameters of the incremental query."""
        return {"since": dt.datetime.fromisoformat(self.since), "until": dt.datetime.fromisoformat(self.until)}


base_partition = zones.base_partition  # the newest validated staged partition before a date


def plan_extract(source_name: str, kind: str, table: TableSpec, staged_root: Path, extract_date: dt.date,
                 policy: ExtractPolicy, force_full: bool = False, drop_files: dict[str, str] | None = None
                 ) -> ExtractPlan:
    """Full or incremental for this table tonight, and why (logged and kept in the manifest).

    `drop_files` (file tables): the drop files the table would read tonight, name -> SHA-256."""
    today = extract_date.isoformat()

    def full(reason: str) -> ExtractPlan:
        return ExtractPlan("full", reason, last_full_extract_date=today, files=drop_files)

    if kind != "database" and drop_files is None:
        return full("a file without fingerprints is read whole")
    if force_full or policy.mode == "full":
        return full("full extract asked for")
    if kind == "database" and not table.watermark:
        return full("the table has no change timestamp")
    base = base_partition(staged_root, source_name, table.name, extract_date)
    if base is None:
        return full("no earlier validated extract")
    info = zones.read_validation(base)
    base_date = zones.partition_date(base)
    if info.get("schema_hash") != table.schema_hash():
        return full(f"the contract changed since {base_date}")
    last_full = info.get("last_full_extract_date")
    if not last_full or (extract_date - dt.date.fromisoformat(last_full)).days >= policy.full_every_days:
        return full(f"the last full extract ({last_full}) is {policy.full_every_days}+ days old")
    if kind != "database":
        difference = changed_files(info.get("source_files"), drop_files)
        if difference:
            return full(f"{difference} since {base_date}")
        return ExtractPlan("incremental", f"the drop file(s) are those of {base_date} (same names and SHA-256): "
                           "nothing to read", base_date, last_full_extract_date=last_full, files=drop_files)
    if not info.get("watermark"):
        return full(f"the extract of {base_date} has no watermark")
    since = dt.datetime.fromisoformat(info["watermark"]) - policy.overlap
    until = dt.datetime.combine(extract_date + dt.timedelta(days=1), dt.time())
    return ExtractPlan("incremental", f"changes since {base_date}'s watermark minus {policy.overlap}",
                       base_date, since.isoformat(sep=" "), until.isoformat(sep=" "), last_full)


def changed_files(before: dict[str, str] | None, now: dict[str, str]) -> str:
    """How tonight's drop files differ from the base's ('' when they are the same files)."""
    if before is None:
        return "no file fingerprints in the extract"
    new = sorted(set(now) - set(before))
    gone = sorted(set(before) - set(now))
    replaced = sorted(name for name in set(now) & set(before) if now[name] != before[name])
    parts = [f"{label} {', '.join(names)}" for label, names in (("new", new), ("replaced", replaced), ("gone", gone))
             if names]
    return "drop file(s) " + "; ".join(parts) if parts else ""


def merge_into_base(base: pd.DataFrame, changed: pd.DataFrame, spec: TableSpec) -> tuple[pd.DataFrame, int]:
    """The base's rows with each changed key replaced by its new version; returns the merged
    table and how many base rows were carried over unchanged."""
    if not len(changed):  # a quiet night, or a file table's unchanged drop files
        return base.reset_index(drop=True), len(base)
    key = list(spec.primary_key)
    changed = changed.astype(base.dtypes.to_dict(), errors="ignore")
    if len(key) == 1:
        merged = _merge_sorted(base, changed, key[0])
        if merged is not None:
            return merged
    replaced = base.set_index(key).index.isin(changed.set_index(key).index)
    carried = base[~replaced]
    merged = pd.concat([carried, changed], ignore_index=True)
    return merged.sort_values(key, kind="stable").reset_index(drop=True), len(carried)


def _integer_keys(values: pd.Series) -> np.ndarray | None:
    """A key column as int64, or None when it is not an integer column or misses a value."""
    if values.dtype.kind not in "iu" and str(values.dtype) not in ("Int64", "Int32", "Int16", "int64[pyarrow]"):
        return None
    if values.isna().any():
        return None
    return values.to_numpy(dtype=np.int64)


def _merge_sorted(base: pd.DataFrame, changed: pd.DataFrame, key: str) -> tuple[pd.DataFrame, int] | None:
    """`merge_into_base` for a base already in key order (every merge leaves it so, and the
    extract SQL reads in key order) on an integer key: the changed rows are slotted in where
    they belong instead of sorting the whole table again, one copy of the base instead of
    three (docs/performance.md, "Round 13"). The same rows in the same order as the sort:
    a changed row goes after a carried row of an equal key, as the stable sort puts it.
    None when the key is not integral or the base is not in order (the sort then runs)."""
    base_keys, changed_keys = _integer_keys(base[key]), _integer_keys(changed[key])
    if base_keys is None or changed_keys is None or (len(base_keys) > 1 and (np.diff(base_keys) < 0).any()):
        return None
    carried = ~np.isin(base_keys, changed_keys)
    order = np.argsort(changed_keys, kind="stable")
    # where each changed row lands: after the carried rows of smaller or equal key and the changed before it
    landing = np.searchsorted(base_keys[carried], changed_keys[order], side="right") + np.arange(len(order))
    rows = np.empty(int(carried.sum()) + len(order), dtype=np.int64)
    from_base = np.ones(len(rows), dtype=bool)
    from_base[landing] = False
    rows[from_base] = np.flatnonzero(carried)
    rows[landing] = len(base) + order  # positions in base + changed, one after the other
    merged = pd.concat([base, changed], ignore_index=True).take(rows).reset_index(drop=True)
    return merged, int(carried.sum())


def vanished_keys(base: pd.DataFrame, full: pd.DataFrame, spec: TableSpec) -> int:
    """Keys in the base that a full extract no longer has: hard deletes at the source."""
    key = list(spec.primary_key)
    return int((~base.set_index(key).index.isin(full.set_index(key).index)).sum())


def high_watermark(frame: pd.DataFrame, spec: TableSpec, extract_date: dt.date) -> str | None:
    """The largest change timestamp in a staged table before the end of the extraction
    date, as ISO text (None without one). A timestamp in the future (a source clock or a
    data error) never becomes the watermark, or no later change would ever be read."""
    if not spec.watermark or not len(frame):
        return None
    end = pd.Timestamp(extract_date + dt.timedelta(days=1))
    changed = frame[spec.watermark]
    latest = changed[changed < end].max()
    return None if pd.isna(latest) else pd.Timestamp(latest).isoformat(sep=" ")


def table_rows(validation: dict) -> int:
    """Rows the source table had at an extract: read tonight plus, for an incremental
    extract, the base rows carried over (what row-count checks compare night to night)."""
    return int(validation["rows_in"]) + int(validation.get("rows_carried") or 0)
