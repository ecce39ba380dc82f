"""Circuit breakers: an extract becomes current only if it looks like the last good one.

Validation quarantines bad rows one by one; a breaker looks at the table as a whole, so a
delivery that is wrong in bulk (a file in the wrong encoding, a header-only monthly file, a
half table) cannot become "last good" and move published KPIs. Each validated table
carries a `profile` (its measures, computed by `etl.validate.table`); the extract DAG's
`publish` task compares every table's profile with the one stored in the source's current
pointer (the last *good* extract, never a tripped one) against the limits in
`config/breakers.yaml`, before the pointer moves. Why in `publish`, not per table: the
pointer moves per source, so one decision per source with every trip listed at once, and
the operator's acceptance applies to that decision.

A trip keeps the pointer where it is, writes `staged/<source>/BREAKER.json` (what DQ10
reports: "breaker tripped: <table> <measure>") and a `breaker.json` marker into the
tripped partitions (so no later incremental extract merges into them), appends to
`staged/<source>/breaker_log.jsonl`, and raises `CircuitBreakerTripped`.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

import pandas as pd
import yaml

from etl.core.zones import BREAKER_MARKER, partition_dir
from etl.core.periods import local_now
from etl.core.settings import ConfigurationError
from etl.core.storage import PRIVATE_FILE, atomic_write_json, private_dir, read_json
from etl.core.tables import TableSpec
from etl.core.vocabulary import UNKNOWN
from etl.sources import SOURCES

BREAKER_RECORD = "BREAKER.json"
BREAKER_LOG = "breaker_log.jsonl"
_EMAIL_AT = "@"


class CircuitBreakerTripped(RuntimeError):
    """An extract stayed out of use: the message names every table, measure, limit and value."""


@dataclass(frozen=True)
class Limits:
    max_quarantine_share: float = 0.05
    max_row_drop: float = 0.20
    max_row_growth: float = 0.50
    max_null_rise: float = 0.10
    max_distinct_change: float = 0.50
    max_unknown_share: float = 0.02
    min_rows: int = 20


LIMIT_NAMES = tuple(f.name for f in fields(Limits))


@dataclass(frozen=True)
class BreakerConfig:
    defaults: Limits = Limits()
    tables: dict[str, Limits] = field(default_factory=dict)
    owners: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def limits(self, source: str, table: str) -> Limits:
        return self.tables.get(f"{source}.{table}", self.defaults)


def _limits(values: Any, base: Limits, where: str, problems: list[str]) -> Limits:
    if not isinstance(values, dict):
        problems.append(f"{where}: expected a mapping of limits, got {values!r}")
        return base
    unknown = sorted(set(values) - set(LIMIT_NAMES))
    if unknown:
        problems.append(f"{where}: unknown limit(s) {unknown}; known: {list(LIMIT_NAMES)}")
    good = {}
    for name in LIMIT_NAMES:
        if name not in values:
            continue
        value = values[name]
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) or value < 0:
            problems.append(f"{where}.{name}: must be a number >= 0, not {value!r}")
        elif name == "min_rows" and value != int(value):
            problems.append(f"{where}.min_rows: must be a whole number, not {value!r}")
        elif name in ("max_quarantine_share", "max_unknown_share", "max_null_rise") and value > 1:
            problems.append(f"{where}.{name}: a share is at most 1, not {value!r}")
        else:
            good[name] = int(value) if name == "min_rows" else float(value)
    return Limits(**{**asdict(base), **good})


def load_breakers(path: Path) -> BreakerConfig:
    """Read and validate the breaker configuration; every problem is reported at once."""
    try:
        raw = yaml.safe_load(Path(path).read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ConfigurationError(f"SOFLI_BREAKERS: cannot read {path}: {exc}") from None
    problems: list[str] = []
    if not isinstance(raw, dict):
        raise ConfigurationError(f"SOFLI_BREAKERS: {path} must be a mapping with defaults, tables, owners")
    unknown = sorted(set(raw) - {"defaults", "tables", "owners"})
    if unknown:
        problems.append(f"unknown section(s) {unknown}")
    defaults = _limits(raw.get("defaults") or {}, Limits(), "defaults", problems)
    tables = {}
    known_tables = {f"{s.name}.{t.name}" for s in SOURCES.values() for t in s.tables}
    for name, values in (raw.get("tables") or {}).items():
        if name not in known_tables:
            problems.append(f"tables.{name}: no such source table (source.table)")
            continue
        tables[name] = _limits(values, defaults, f"tables.{name}", problems)
    owners = {}
    for source, addresses in (raw.get("owners") or {}).items():
        if source not in SOURCES:
            problems.append(f"owners.{source}: no such source")
            continue
        if not isinstance(addresses, list) or not addresses or not all(
                isinstance(a, str) and _EMAIL_AT in a and " " not in a for a in addresses):
            problems.append(f"owners.{source}: a list of e-mail addresses, not {addresses!r}")
            continue
        owners[source] = tuple(addresses)
    missing = sorted(set(SOURCES) - set(owners))
    if missing:
        problems.append(f"owners: no owner for source(s) {missing}")
    if problems:
        raise ConfigurationError(f"SOFLI_BREAKERS ({path}): " + "; ".join(problems))
    return BreakerConfig(defaults, tables, owners)


# --- the measures of one validated table -------------------------------------------------

def categorical_columns(spec: TableSpec) -> list[str]:
    return [c.name for c in spec.columns if c.allowed is not None and c.type == "str"]


def profile(spec: TableSpec, staged: pd.DataFrame, rows_in: int, rows_quarantined: int, rows_carried: int,
            unknown: dict[str, int], file_rows: dict[str, int]) -> dict:
    """The table's measures (stored in validation.json and, once good, in the pointer)."""
    total = len(staged)
    return {
        "rows": int(rows_in) + int(rows_carried),
        "rows_in": int(rows_in),
        "rows_quarantined": int(rows_quarantined),
        "null_share": {c.name: (round(float(staged[c.name].isna().mean()), 6) if total else 0.0)
                       for c in spec.columns},
        "distinct": {name: int(staged[name].dropna().loc[lambda s: s != UNKNOWN].nunique())
                     for name in categorical_columns(spec)},
        "unknown": {k: int(v) for k, v in unknown.items() if v},
        "file_rows": dict(sorted(file_rows.items())),
    }


@dataclass(frozen=True)
class Trip:
    table: str
    measure: str
    value: float
    limit: float
    detail: str

    def as_dict(self) -> dict:
        return asdict(self)

    def describe(self, source: str) -> str:
        return f"{source}.{self.table} {self.measure} = {self.value:.4g} > limit {self.limit:g} ({self.detail})"


def check_table(table: str, now: dict, before: dict | None, limits: Limits) -> list[Trip]:
    """Every limit `now` breaks against `before` (the last good extract's profile, or None)."""
    trips = []
    rows_in = now["rows_in"]
    if rows_in >= limits.min_rows:
        share = now["rows_quarantined"] / rows_in
        if share > limits.max_quarantine_share:
            trips.append(Trip(table, "quarantine_share", share, limits.max_quarantine_share,
                              f"{now['rows_quarantined']} of {rows_in} rows quarantined"))
        for column, count in sorted(now.get("unknown", {}).items()):
            share = count / rows_in
            if share > limits.max_unknown_share:
                trips.append(Trip(table, f"unknown_share:{column}", share, limits.max_unknown_share,
                                  f"{count} of {rows_in} values outside the contract list"))
    files = now.get("file_rows") or {}
    if len(files) >= 2:  # a monthly file: the newest month against the month before
        (older, previous), (newest, latest) = sorted(files.items())[-2:]
        trips += _count_trips(table, previous, latest, limits, f"{newest} against {older}")
    elif before is not None:
        trips += _count_trips(table, before["rows"], now["rows"], limits, "against the last good extract")
    if before is None:
        return trips
    if now["rows"] >= limits.min_rows:
        for column, share in sorted(now["null_share"].items()):
            rise = share - before.get("null_share", {}).get(column, share)
            if rise > limits.max_null_rise:
                trips.append(Trip(table, f"null_rise:{column}", rise, limits.max_null_rise,
                                  f"NULL share {before['null_share'][column]:.1%} -> {share:.1%}"))
    for column, count in sorted(now.get("distinct", {}).items()):
        was = before.get("distinct", {}).get(column)
        if was and abs(count - was) >= 2 and abs(count - was) / was > limits.max_distinct_change:
            trips.append(Trip(table, f"distinct_change:{column}", abs(count - was) / was, limits.max_distinct_change,
                              f"{was} -> {count} distinct values"))
    return trips


def _count_trips(table: str, previous: int, current: int, limits: Limits, what: str) -> list[Trip]:
    if previous <= 0 or max(previous, current) < limits.min_rows:
        return []
    change = (current - previous) / previous
    if -change > limits.max_row_drop:
        return [Trip(table, "row_drop", -change, limits.max_row_drop, f"{previous} -> {current} rows, {what}")]
    if change > limits.max_row_growth:
        return [Trip(table, "row_growth", change, limits.max_row_growth, f"{previous} -> {current} rows, {what}")]
    return []


# --- the decision, per source ------------------------------------------------------------

def check_source(source_name: str, profiles: dict[str, dict], pointer: dict | None,
                 config: BreakerConfig) -> list[Trip]:
    """Every trip of tonight's extract (`profiles`: table -> profile) against the current pointer."""
    trips = []
    for table, now in sorted(profiles.items()):
        before = ((pointer or {}).get("tables", {}).get(table) or {}).get("profile")
        trips += check_table(table, now, before, config.limits(source_name, table))
    return trips


def message(source_name: str, extract_date: dt.date, trips: list[Trip], current: str | None) -> str:
    keep = f"the current extract stays {current}" if current else "the source has no current extract"
    return (f"{source_name}: circuit breaker tripped for the extract of {extract_date}, {keep}: "
            + "; ".join(t.describe(source_name) for t in trips)
            + ". Check the delivery with its owner; to use it anyway, re-run extract_"
            f"{source_name} with the param extract_date {extract_date} and the accept_breakers param set to your reason.")


def _log(staged_root: Path, source_name: str, entry: dict) -> None:
    path = Path(staged_root) / source_name / BREAKER_LOG
    private_dir(path.parent)  # the staged zone: 0700 folders, 0600 files whatever the umask
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, PRIVATE_FILE)
    os.chmod(path, PRIVATE_FILE)
    with open(fd, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, sort_keys=True, default=str) + "\n")


def record_trip(staged_root: Path, source_name: str, tables: list[str], extract_date: dt.date, run_id: str,
                trips: list[Trip]) -> dict:
    """Write what a trip leaves behind (see the module docstring); returns the record."""
    record = {"source": source_name, "extract_date": extract_date.isoformat(), "run_id": run_id,
              "tripped_at": local_now().isoformat(timespec="seconds"), "trips": [t.as_dict() for t in trips]}
    for table in tables:
        folder = partition_dir(Path(staged_root), source_name, table, extract_date)
        if folder.exists():
            atomic_write_json(folder / BREAKER_MARKER, record)
    atomic_write_json(Path(staged_root) / source_name / BREAKER_RECORD, record)
    _log(staged_root, source_name, {"event": "tripped", **record})
    return record


def record_acceptance(staged_root: Path, source_name: str, tables: list[str], extract_date: dt.date,
                      run_id: str, trips: list[Trip], reason: str, accepted_by: str) -> dict:
    """An operator's deliberate acceptance: logged; returned for the pointer to carry."""
    accepted = {"reason": reason, "accepted_by": accepted_by, "run_id": run_id,
                "accepted_at": local_now().isoformat(timespec="seconds"), "trips": [t.as_dict() for t in trips]}
    _log(staged_root, source_name, {"event": "accepted", "source": source_name,
                                    "extract_date": extract_date.isoformat(), **accepted})
    clear(staged_root, source_name, tables, extract_date)
    return accepted


def clear(staged_root: Path, source_name: str, tables: list[str], extract_date: dt.date) -> None:
    """An extract became current: its partitions' markers go, and the trip record of any
    extract up to its date (a later good night supersedes an earlier trip)."""
    for table in tables:
        (partition_dir(Path(staged_root), source_name, table, extract_date) / BREAKER_MARKER).unlink(missing_ok=True)
    path = Path(staged_root) / source_name / BREAKER_RECORD
    if path.exists() and read_json(path)["extract_date"] <= extract_date.isoformat():
        path.unlink(missing_ok=True)


def tripped(staged_root: Path, source_name: str) -> dict | None:
    """The source's open trip record (an extract held back and not superseded), if any."""
    path = Path(staged_root) / source_name / BREAKER_RECORD
    return read_json(path) if path.exists() else None


def trip_reason(record: dict) -> str:
    """DQ10's reason: "breaker tripped: <table> <measure>" for each trip."""
    return "; ".join(f"breaker tripped: {t['table']} {t['measure']}" for t in record["trips"])
