"""Rotate the pseudonymisation key without breaking longitudinal links.

A pseudonym is HMAC-SHA256 over a normalised value (the CPR number, a source person id,
a caseworker id) under the secret key, so it cannot be turned back into its value, and a
new key cannot be applied to the old pseudonyms. Re-keying therefore needs the values:
they are in the CPR-bearing staged extracts (`staged/`, restricted), the only place the
pipeline keeps them. `rekey` runs the model build over the staged extracts with a
pseudonymiser that computes every pseudonym under both keys, which gives the exact
old → new mapping of every pseudonym the pipeline can make from what is retained, for
every namespace the build uses (persons, source-person fallbacks, caseworkers, employees, cases). It then
rewrites every stored artefact that carries pseudonyms through that mapping:

- the live model and every backfill model (`model/**.parquet`: `citizen_key`,
  `caseworker_key`, `case_pseudonym`, `employee_key`);
- theme 6's caseworker overview (`kpi/case_cost.parquet` and `restricted.case_cost`: its
  case, citizen and caseworker keys);
- the computed KPI set (`kpi/kpi_value.parquet`) and `restricted.kpi_value_caseworker` in the
  warehouse, every version (the caseworker rows' `org_key` is the caseworker pseudonym and
  their `org_id` is `caseworker:<pseudonym>`; `mart.kpi_value` and `public.kpi_value` carry no
  caseworker rows);
- the BI star's caseworker dimension (`kpi/dim_caseworker.parquet` and
  `restricted.dim_caseworker`: `caseworker_key` and `org_id`).

A warehouse not yet migrated to the schema `restricted` (issue 21; the next publish moves
them) still has them in `mart`: those tables are re-keyed where they are.

Nothing else holds pseudonyms: `mart.dq_failure` and `model/link_finding.parquet` carry
the sources' own record ids, the data-quality history (`dq/`) carries SOF totals and
rule counts (`tests/security/test_rekey.py` checks every file of a demo data folder).

Safety: everything is computed before anything is written. A pseudonym in an artefact
that the retained extracts cannot reproduce is counted per artefact (never shown) and the
run refuses, leaving every file as it was. New files are written under temporary names
beside the old ones, the warehouse is updated in one transaction, then the files are
renamed into place. The mapping is idempotent (a value that is already a new pseudonym
is kept), so a run interrupted during the renames is completed by running it again with
the same keys; a marker `model/REKEY_IN_PROGRESS.json` says one was interrupted.
"""

from __future__ import annotations

import datetime as dt
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import sqlalchemy as sa

from etl.core import zones
from etl.core.periods import local_now
from etl.core.settings import NEW_PSEUDONYM_KEY_ENV, ConfigurationError, Settings, check_pseudonym_key
from etl.core.storage import atomic_write_json, make_private
from etl.core.reference import load_reference
from etl.model.build import build_model, load_current_staged
from etl.model.link import Pseudonymiser, key_fingerprint, record_key_fingerprint
from etl.publish.warehouse import make_engine

log = logging.getLogger(__name__)

#: Model columns that hold a pseudonym.
PSEUDONYM_COLUMNS = ("citizen_key", "caseworker_key", "case_pseudonym", "employee_key")
#: `restricted.case_cost` (and its staged `kpi/case_cost.parquet`): every key is a pseudonym.
CASE_COST_COLUMNS = ("case_key", "citizen_key", "caseworker_key")
#: The KPI rows whose `org_key` is a pseudonym.
PSEUDONYMOUS_ORG_LEVEL = "caseworker"
#: The BI star names a caseworker `caseworker:<pseudonym>` (`org_id` of kpi_value and dim_caseworker).
ORG_ID_COLUMN = "org_id"
_ORG_ID_PREFIX = f"{PSEUDONYMOUS_ORG_LEVEL}:"
NEW_KEY_ENV = NEW_PSEUDONYM_KEY_ENV
#: Where the warehouse keeps the caseworker rows: the schema `restricted`, and `mart` in a
#: warehouse published before issue 21 and not migrated yet.
KPI_TABLES = ("restricted.kpi_value_caseworker", "mart.kpi_value")
CASEWORKER_TABLES = ("restricted.dim_caseworker", "mart.dim_caseworker")
CASE_COST_TABLES = ("restricted.case_cost", "mart.case_cost")
MARKER = "REKEY_IN_PROGRESS.json"


class RekeyError(RuntimeError):
    """The rotation cannot be done safely; nothing was changed."""


class RecordingPseudonymiser(Pseudonymiser):
    """Pseudonymises under the new key and records what the old key made of each value."""

    def __init__(self, new_key: bytes, old_key: bytes):
        super().__init__(new_key)
        self._old = Pseudonymiser(old_key)
        self.mapping: dict[str, str] = {}

    def one(self, namespace: str, value: str) -> str:
        new = super().one(namespace, value)
        old = self._old.one(namespace, value)
        if self.mapping.setdefault(old, new) != new:  # a 128-bit collision: never expected
            raise RekeyError("two values share one old pseudonym; re-keying would merge citizens")
        return new


@dataclass
class Artefact:
    """One stored thing that carries pseudonyms: a Parquet file or a warehouse table."""

    name: str
    values: set[str] = field(default_factory=set)
    path: Path | None = None
    columns: tuple[str, ...] = ()
    org_key: bool = False  # KPI rows: only `org_key` of caseworker rows
    org_id: bool = False  # also `org_id` where it is `caseworker:<pseudonym>`


def _org_id_pseudonym(value: object) -> str | None:
    """The pseudonym in a caseworker's org id (`caseworker:<pseudonym>`); None for other org ids."""
    return value[len(_ORG_ID_PREFIX):] if isinstance(value, str) and value.startswith(_ORG_ID_PREFIX) else None


def _remap_org_id(value: object, mapping: dict[str, str]) -> object:
    pseudonym = _org_id_pseudonym(value)
    return value if pseudonym is None else _ORG_ID_PREFIX + mapping.get(pseudonym, pseudonym)


def _org_id_values(table: pa.Table) -> set[str]:
    if ORG_ID_COLUMN not in table.column_names:
        return set()
    return {p for p in map(_org_id_pseudonym, table[ORG_ID_COLUMN].to_pylist()) if p is not None}


def _kpi_org_keys(table: pa.Table) -> list[str]:
    levels, keys = table["org_level"].to_pylist(), table["org_key"].to_pylist()
    return [k for lvl, k in zip(levels, keys) if lvl == PSEUDONYMOUS_ORG_LEVEL and k is not None]


def _parquet_artefacts(settings: Settings) -> list[Artefact]:
    found = []
    for path in sorted(settings.model_dir.rglob("*.parquet")):
        if path.name.startswith("."):
            continue
        names = pq.read_schema(path).names
        columns = tuple(c for c in PSEUDONYM_COLUMNS if c in names)
        if columns:
            table = pq.read_table(path, columns=list(columns))
            values = {v for c in columns for v in table[c].to_pylist() if v is not None}
            found.append(Artefact(str(path.relative_to(settings.data_dir)), values, path, columns))
    kpi = settings.zones.kpi_values
    if kpi.exists():
        has_org_id = ORG_ID_COLUMN in pq.read_schema(kpi).names  # a KPI set staged before the BI star has none
        table = pq.read_table(kpi, columns=["org_level", "org_key", *([ORG_ID_COLUMN] if has_org_id else [])])
        found.append(Artefact(str(kpi.relative_to(settings.data_dir)), set(_kpi_org_keys(table)) | _org_id_values(table),
                              kpi, org_key=True, org_id=has_org_id))
    caseworkers = settings.zones.dim_caseworker
    if caseworkers.exists():
        table = pq.read_table(caseworkers, columns=["caseworker_key", ORG_ID_COLUMN])
        values = {v for v in table["caseworker_key"].to_pylist() if v is not None} | _org_id_values(table)
        found.append(Artefact(str(caseworkers.relative_to(settings.data_dir)), values, caseworkers,
                              ("caseworker_key",), org_id=True))
    cost = settings.data_dir / "kpi" / "case_cost.parquet"
    if cost.exists():
        table = pq.read_table(cost, columns=list(CASE_COST_COLUMNS))
        values = {v for c in CASE_COST_COLUMNS for v in table[c].to_pylist() if v is not None}
        found.append(Artefact(str(cost.relative_to(settings.data_dir)), values, cost, CASE_COST_COLUMNS))
    return found


def _has_org_id(engine: sa.Engine, table: str) -> bool:
    """Whether a KPI table has the BI star's `org_id` (a warehouse not yet migrated has not)."""
    try:
        with engine.connect() as conn:
            conn.execute(sa.text(f"SELECT {ORG_ID_COLUMN} FROM {table} WHERE 1 = 0"))
    except sa.exc.DBAPIError:
        return False
    return True


def _warehouse_values(engine: sa.Engine, table: str, org_id: bool) -> set[str] | None:
    """Caseworker pseudonyms in a KPI table: `org_key` and, where the table has it, `org_id`
    (None when the table does not exist)."""
    columns = f"org_key, {ORG_ID_COLUMN}" if org_id else "org_key, NULL"
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(f"SELECT DISTINCT {columns} FROM {table} WHERE org_level = :lvl"),
                                {"lvl": PSEUDONYMOUS_ORG_LEVEL}).fetchall()
    except sa.exc.DBAPIError:  # no table yet: nothing published, nothing to re-key
        return None
    return {v for key, org_id in rows for v in (key, _org_id_pseudonym(org_id)) if v is not None}


def _dim_caseworker_values(engine: sa.Engine, table: str) -> set[str] | None:
    """The pseudonyms in a caseworker dimension (None when the table does not exist)."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(f"SELECT caseworker_key, org_id FROM {table}")).fetchall()
    except sa.exc.DBAPIError:
        return None
    return {v for key, org_id in rows for v in (key, _org_id_pseudonym(org_id)) if v is not None}


def _case_cost_values(engine: sa.Engine, table: str) -> set[str] | None:
    """The pseudonyms in a case_cost table (None when the table does not exist)."""
    try:
        with engine.connect() as conn:
            rows = conn.execute(sa.text(f"SELECT {', '.join(CASE_COST_COLUMNS)} FROM {table}")).fetchall()
    except sa.exc.DBAPIError:
        return None
    return {v for row in rows for v in row if v is not None}


def _staged_dates(staged_dir: Path) -> list[dt.date]:
    """Every extract date retained in `staged/`, newest first."""
    dates = {day for table_dir in zones.table_dirs(staged_dir) for day, _ in zones.partitions(table_dir)}
    return sorted((dt.date.fromisoformat(d) for d in dates), reverse=True)


def _model_dates(settings: Settings) -> list[dt.date]:
    """The extraction dates of the live and backfill models, live first."""
    return [dt.date.fromisoformat(zones.model_extraction_date(d)) for d in zones.model_dirs(settings.model_dir)]


def build_mapping(settings: Settings, old_key: bytes, new_key: bytes, needed: set[str]) -> dict[str, str]:
    """old pseudonym → new, from the staged extracts, as the model build pseudonymises them.

    The dates the stored models were built for come first; older retained extracts are
    read, newest first, only while some needed pseudonym is still unexplained."""

    reference = load_reference(settings.reference_dir)
    recorder = RecordingPseudonymiser(new_key, old_key)
    dates = list(dict.fromkeys([*_model_dates(settings), *_staged_dates(settings.staged_dir)]))
    for day in dates:
        if not needed - recorder.mapping.keys() - set(recorder.mapping.values()):
            break
        frames, pointers = load_current_staged(settings.staged_dir, day)
        if pointers:
            build_model(frames, reference, recorder, day)
            log.info("re-key mapping: read the extracts as of %s (%d pseudonyms so far)", day, len(recorder.mapping))
    return recorder.mapping


def _remap_parquet(artefact: Artefact, mapping: dict[str, str]) -> Path:
    """Write the re-keyed file beside the original under a temporary name; return it."""
    table = pq.read_table(artefact.path)
    if artefact.org_key:
        levels = table["org_level"].to_pylist()
        keys = [mapping.get(k, k) if lvl == PSEUDONYMOUS_ORG_LEVEL and k is not None else k
                for lvl, k in zip(levels, table["org_key"].to_pylist())]
        columns = {"org_key": keys}
    else:
        columns = {c: [mapping.get(v, v) if v is not None else None for v in table[c].to_pylist()]
                   for c in artefact.columns}
    if artefact.org_id:
        columns[ORG_ID_COLUMN] = [_remap_org_id(v, mapping) for v in table[ORG_ID_COLUMN].to_pylist()]
    for name, values in columns.items():
        i = table.schema.get_field_index(name)
        table = table.set_column(i, table.schema.field(i), pa.array(values, type=table.schema.field(i).type))
    tmp = artefact.path.with_name(f".{artefact.path.name}.rekey.tmp")
    pq.write_table(table, tmp, compression="zstd")
    make_private(tmp)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    return tmp


@dataclass(frozen=True)
class WarehouseTable:
    """A warehouse table holding pseudonyms, found by `_warehouse_artefacts`."""

    kind: str  # kpi | caseworker | case_cost
    table: str  # schema.name, from the constants above, never from data
    values: set[str]
    org_id: bool = True


def _warehouse_artefacts(engine: sa.Engine) -> list[WarehouseTable]:
    """Every warehouse table that holds caseworker (and theme 6's case and citizen) pseudonyms."""
    found = []
    for table in KPI_TABLES:
        org_id = _has_org_id(engine, table)
        values = _warehouse_values(engine, table, org_id)
        if values is not None:
            found.append(WarehouseTable("kpi", table, values, org_id))
    for kind, tables, read in (("caseworker", CASEWORKER_TABLES, _dim_caseworker_values),
                               ("case_cost", CASE_COST_TABLES, _case_cost_values)):
        for table in tables:
            values = read(engine, table)
            if values is not None:
                found.append(WarehouseTable(kind, table, values))
    return found


def _remap_warehouse(engine: sa.Engine, mapping: dict[str, str], tables: list[WarehouseTable]) -> int:
    """Re-key the caseworker rows of the KPI tables (every version: `org_key` and `org_id`),
    the caseworker dimension and case_cost's keys, in one transaction."""
    def pairs_of(values: set[str] | None) -> list[dict]:
        return [{"old": old, "new": mapping[old], "old_id": _ORG_ID_PREFIX + old, "new_id": _ORG_ID_PREFIX + mapping[old]}
                for old in sorted(values or ()) if old in mapping]

    changed = 0
    with engine.begin() as conn:
        for item in tables:
            pairs = pairs_of(item.values)
            if item.kind == "kpi":
                # org_id follows org_key (the star derives it so); a row whose org_id alone held the old
                # pseudonym is caught by the second statement
                statements = ([f"UPDATE {item.table} SET org_key = :new, org_id = :new_id "
                               "WHERE org_level = :lvl AND org_key = :old",
                               f"UPDATE {item.table} SET org_id = :new_id WHERE org_level = :lvl AND org_id = :old_id"]
                              if item.org_id else
                              [f"UPDATE {item.table} SET org_key = :new WHERE org_level = :lvl AND org_key = :old"])
            elif item.kind == "caseworker":
                statements = [f"UPDATE {item.table} SET caseworker_key = :new, org_id = :new_id "
                              "WHERE caseworker_key = :old OR org_id = :old_id"]
            else:  # column names from the contract, never from data
                statements = [f"UPDATE {item.table} SET {column} = :new WHERE {column} = :old"
                              for column in CASE_COST_COLUMNS]
            for statement in statements:
                for pair in pairs:
                    changed += conn.execute(sa.text(statement), {**pair, "lvl": PSEUDONYMOUS_ORG_LEVEL}).rowcount
    return changed


def check_new_key(old_key: bytes, new_key: bytes, mode: str) -> None:
    """The new key must be a new, strong key (the same rules as the pipeline's key)."""
    if not new_key:
        raise ConfigurationError(f"no new pseudonymisation key: set {NEW_KEY_ENV}")
    if new_key == old_key:
        raise ConfigurationError("the new pseudonymisation key is the current one")
    check_pseudonym_key(new_key.decode(errors="replace"), mode, NEW_KEY_ENV)


def rekey(settings: Settings, old_key: bytes, new_key: bytes, dry_run: bool = False) -> dict:
    """Re-key every stored pseudonym from `old_key` to `new_key`; returns counts (never values).

    Raises `RekeyError` (having changed nothing) when a stored pseudonym cannot be
    reproduced from the retained staged extracts under the old key.
    """

    check_new_key(old_key, new_key, settings.mode)
    artefacts = _parquet_artefacts(settings)
    engine = make_engine(settings.warehouse_url())
    tables = _warehouse_artefacts(engine)
    artefacts += [Artefact(item.table, item.values) for item in tables]
    needed = set().union(*(a.values for a in artefacts))
    mapping = build_mapping(settings, old_key, new_key, needed)
    already_new = set(mapping.values())
    unexplained = {a.name: len(a.values - mapping.keys() - already_new) for a in artefacts}
    unexplained = {name: n for name, n in unexplained.items() if n}
    report = {"old_key": key_fingerprint(old_key), "new_key": key_fingerprint(new_key),
              "artefacts": len(artefacts), "pseudonyms": len(needed),
              "rekeyed": len(needed & mapping.keys()), "already_new": len(needed & already_new),
              "unexplained": unexplained, "dry_run": dry_run}
    if unexplained:
        engine.dispose()
        log.error("re-key refused, nothing changed: pseudonyms the retained extracts cannot reproduce "
                  "under the old key, per artefact: %s", unexplained)
        raise RekeyError("re-key refused, nothing changed: " + ", ".join(
            f"{name}: {n} pseudonym(s) not reproducible" for name, n in sorted(unexplained.items()))
            + " (wrong old key, or extracts no longer retained)")
    if dry_run:
        engine.dispose()
        log.info("re-key dry run: %s", report)
        return report

    marker = settings.model_dir / MARKER
    settings.model_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_json(marker, {"started_at": local_now().isoformat(),
                               "old_key": report["old_key"], "new_key": report["new_key"]})
    written: list[tuple[Path, Path]] = []
    try:
        for artefact in artefacts:
            if artefact.path is not None and artefact.values:
                written.append((_remap_parquet(artefact, mapping), artefact.path))
        report["warehouse_rows"] = _remap_warehouse(engine, mapping, tables)
    except Exception:
        for tmp, _ in written:
            tmp.unlink(missing_ok=True)
        marker.unlink(missing_ok=True)
        raise
    finally:
        engine.dispose()
    for tmp, path in written:
        os.replace(tmp, path)
    record_key_fingerprint(settings.model_dir, new_key)  # the nightly build now expects the new key
    marker.unlink()
    report["files"] = len(written)
    log.info("re-keyed %d pseudonyms in %d file(s) and %d warehouse row(s); old key %s, new key %s",
             report["rekeyed"], report["files"], report["warehouse_rows"], report["old_key"], report["new_key"])
    return report


def rekey_command(settings: Settings, new_key: bytes, dry_run: bool = False) -> dict:
    """`sofli rekey`: the old key as the pipeline resolves it (`settings`), the new one from
    `SOFLI_NEW_PSEUDONYM_KEY` (resolved by the CLI through the settings owner)."""
    return rekey(settings, settings.pseudonym_key(), new_key, dry_run=dry_run)
