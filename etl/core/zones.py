"""The data folder's layout: the one owner of where everything lives under it, and of the
small files that say what is there (pointers, manifests, validation records, markers).

    <data>/
      .sofli-demo.json     written by `sofli demo` only: this folder is the demo's
      sources/             the embedded synthetic fagsystemer (`<source>.db`, `drop/`)
      landing/<source>/<table>/extract_date=YYYY-MM-DD/   data.parquet + manifest.json
      staged/<source>/CURRENT.json                         the source's current good extract
      staged/<source>/<table>/extract_date=YYYY-MM-DD/    data.parquet + validation.json
      quarantine/<source>/<table>/extract_date=YYYY-MM-DD/ quarantine.parquet
      model/               model.json, one Parquet file per table, accounting.parquet,
                           backfill/<date>/ (a model rebuilt for an earlier date)
      kpi/kpi_value.parquet          the night's computed KPI set before it is published
      dq/                  last_breaches.json, mail_log.json, kpi_totals_history.parquet
      warehouse/           warehouse.db (+ mart.db, public.db): the embedded warehouse
      mail/                e-mails the demo's SMTP server received
      reports/<quarter>/v<N>/        rapport.html, rapport.pdf
      airflow/             AIRFLOW_HOME: Airflow's own (metadata DB, logs, airflow.cfg)

**Relocatable.** Every path written into a file under the folder (a pointer's staged
tables, a validation record's staged and quarantine files) and every path a task returns
(XCom lives in Airflow's metadata DB under the folder) is relative to the folder, so a
folder that is moved or restored elsewhere reads as before. A record written before
paths were relative holds absolute ones: a reader re-anchors such a path's zone part
(`staged/...`) on the current folder, where the same file is after a move or a copy.

The functions that take a zone root (`staged_root`, `landing_root`) are for the stage
modules, which are handed one zone; the data folder above a zone is its parent.
`DataFolder` is the whole folder, what `Settings.zones` gives.
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

from etl.core.storage import atomic_write_json, read_json

LANDING, STAGED, QUARANTINE = "landing", "staged", "quarantine"
#: The zones a stored path may point into (what a legacy absolute path is re-anchored on).
ZONES = ("sources", LANDING, STAGED, QUARANTINE, "model", "kpi", "dq", "warehouse", "mail", "reports")
PARTITION_PREFIX = "extract_date="
POINTER = "CURRENT.json"
MANIFEST = "manifest.json"
VALIDATION = "validation.json"
DATA_FILE = "data.parquet"
QUARANTINE_FILE = "quarantine.parquet"
MODEL_META = "model.json"
ACCOUNTING = "accounting.parquet"  # the model stage's row accounting (DQ14)
DEMO_MARKER = ".sofli-demo.json"
#: Keys whose values are paths, in records written under the folder and in task results.
PATH_KEYS = ("path", "published_path", "case_cost_path", "caseworker_path", "manifest_path", "staged_path", "quarantine_path", "model_dir", "html", "pdf")


# --- paths stored relative to the data folder ---------------------------------------------

def stored_path(path: str | Path, data_root: Path) -> str:
    """How a path is written down: relative to the data folder (POSIX separators). A path
    outside the folder (a report rendered elsewhere) stays as it is."""
    path = Path(path)
    if not path.is_absolute():
        return PurePosixPath(path).as_posix()
    try:
        return path.relative_to(Path(data_root)).as_posix()
    except ValueError:
        try:
            return path.resolve().relative_to(Path(data_root).resolve()).as_posix()
        except ValueError:
            return str(path)


def resolve_stored(text: str | Path, data_root: Path) -> Path:
    """The file a stored path means in the data folder as it is now.

    Relative: under `data_root`. Absolute (written before paths were relative): itself when
    it is inside `data_root`; otherwise its zone part (from the last `staged/`, `landing/`,
    ... on) re-anchored on `data_root` when that file exists there (the folder was moved
    or copied), else the old path if it still exists, else the re-anchored one (so a
    missing file is reported under the current folder)."""
    path, root = Path(text), Path(data_root)
    if not path.is_absolute():
        return root / path
    try:
        path.relative_to(root)
        return path
    except ValueError:
        pass
    parts = path.parts
    anchors = [i for i, part in enumerate(parts) if part in ZONES]
    for i in reversed(anchors):  # the last zone-named part first: `/srv/staged/data/staged/...`
        moved = root.joinpath(*parts[i:])
        if moved.exists():
            return moved
    if not anchors or path.exists():
        return path
    return root.joinpath(*parts[anchors[-1]:])


def portable(record: dict[str, Any], data_root: Path) -> dict[str, Any]:
    """`record` with its path values (`PATH_KEYS`) relative to the data folder: what a task
    returns and a record stores."""
    return {k: stored_path(v, data_root) if k in PATH_KEYS and v else v for k, v in record.items()}


def resolved(record: dict[str, Any], data_root: Path) -> dict[str, Any]:
    """`record` with its stored path values resolved against the data folder as it is now."""
    return {k: str(resolve_stored(v, data_root)) if k in PATH_KEYS and v else v for k, v in record.items()}


def data_root_of(zone_root: Path) -> Path:
    """The data folder above a zone (`<data>/staged` -> `<data>`)."""
    return Path(zone_root).parent


# --- partitions ---------------------------------------------------------------------------

def partition_dir(zone_root: Path, source: str, table: str, extract_date: dt.date | str) -> Path:
    """`<zone>/<source>/<table>/extract_date=YYYY-MM-DD`."""
    day = extract_date.isoformat() if isinstance(extract_date, dt.date) else str(extract_date)
    return Path(zone_root) / source / table / f"{PARTITION_PREFIX}{day}"


def partition_date(folder: Path) -> str | None:
    """`YYYY-MM-DD` of a partition folder; None for anything else (a stray file or folder)."""
    folder = Path(folder)
    if not folder.name.startswith(PARTITION_PREFIX) or not folder.is_dir():
        return None
    text = folder.name[len(PARTITION_PREFIX):]
    try:
        dt.date.fromisoformat(text)
    except ValueError:
        return None
    return text


def table_dirs(zone_root: Path) -> list[Path]:
    """Every `<zone>/<source>/<table>` folder, sorted."""
    return sorted(p for p in Path(zone_root).glob("*/*") if p.is_dir())


def source_dirs(zone_root: Path) -> list[Path]:
    """Every `<zone>/<source>` folder, sorted."""
    return sorted(p for p in Path(zone_root).glob("*") if p.is_dir())


def partitions(table_dir: Path) -> list[tuple[str, Path]]:
    """(date, folder) of every partition of one table folder, oldest first."""
    table_dir = Path(table_dir)
    if not table_dir.is_dir():
        return []
    return sorted((day, p) for p in table_dir.iterdir() if (day := partition_date(p)))


def table_partitions(zone_root: Path, source: str, table: str) -> list[tuple[str, Path]]:
    return partitions(Path(zone_root) / source / table)


# --- manifests (landing) ------------------------------------------------------------------

def manifest_path(partition: Path) -> Path:
    return Path(partition) / MANIFEST


def write_manifest(partition: Path, manifest: dict[str, Any]) -> Path:
    """Write a landed partition's manifest: last, as the partition's commit marker."""
    path = manifest_path(partition)
    atomic_write_json(path, portable(manifest, data_root_of(path.parents[3])))
    return path


def read_manifest(partition: Path) -> dict[str, Any]:
    return read_json(manifest_path(partition))


def read_manifest_if_any(partition: Path) -> dict[str, Any] | None:
    path = manifest_path(partition)
    return read_json(path) if path.exists() else None


def landed_manifests(landing_root: Path) -> list[dict[str, Any]]:
    """Every manifest in the landing zone (the demo summary's row count)."""
    return [read_json(p) for p in sorted(Path(landing_root).glob(f"*/*/{PARTITION_PREFIX}*/{MANIFEST}"))]


# --- validation records (staged) ----------------------------------------------------------

def is_validated(partition: Path) -> bool:
    """A staged partition counts only once its validation record exists (written last)."""
    return (Path(partition) / VALIDATION).exists()


def write_validation(partition: Path, record: dict[str, Any]) -> Path:
    path = Path(partition) / VALIDATION
    atomic_write_json(path, portable(record, data_root_of(path.parents[3])))
    return path


def read_validation(partition: Path) -> dict[str, Any]:
    """A staged partition's validation record, its paths resolved against the current folder."""
    partition = Path(partition)
    return resolved(read_json(partition / VALIDATION), data_root_of(partition.parents[2]))


#: Written into a staged partition a circuit breaker tripped on (etl.validate.breakers).
BREAKER_MARKER = "breaker.json"


def validated_partitions(staged_root: Path, source: str, table: str) -> list[tuple[str, Path]]:
    """(date, folder) of the table's validated staged partitions, oldest first."""
    return [(day, p) for day, p in table_partitions(staged_root, source, table) if is_validated(p)]


def base_partition(staged_root: Path, source: str, table: str, extract_date: dt.date) -> Path | None:
    """The newest validated staged partition of the table before `extract_date` that no circuit
    breaker holds back (`BREAKER_MARKER`, etl.validate.breakers): the base an incremental
    extract merges into, and what row-count checks compare with; a tripped extract never is."""
    earlier = [p for day, p in validated_partitions(staged_root, source, table)
               if day < extract_date.isoformat() and not (p / BREAKER_MARKER).exists()]
    return earlier[-1] if earlier else None


# --- pointers: each source's current good extract -----------------------------------------

def pointer_path(staged_root: Path, source: str) -> Path:
    return Path(staged_root) / source / POINTER


def read_pointer(staged_root: Path, source: str) -> dict[str, Any] | None:
    """`staged/<source>/CURRENT.json` with each table's `staged_path` resolved against the
    current data folder; None when the source has no good extract yet."""
    path = pointer_path(staged_root, source)
    if not path.exists():
        return None
    pointer = read_json(path)
    root = data_root_of(staged_root)
    pointer["tables"] = {name: resolved(table, root) for name, table in pointer.get("tables", {}).items()}
    return pointer


def write_pointer(staged_root: Path, source: str, pointer: dict[str, Any]) -> Path:
    """Make `pointer` the source's current extract (atomic; paths stored relative)."""
    root = data_root_of(staged_root)
    stored = {**pointer, "tables": {name: portable(table, root) for name, table in pointer["tables"].items()}}
    path = pointer_path(staged_root, source)
    atomic_write_json(path, stored)
    return path


def read_pointers(staged_root: Path, sources) -> dict[str, dict[str, Any] | None]:
    """The pointer of each named source (None: no good extract yet)."""
    return {name: read_pointer(staged_root, name) for name in sources}


def days_behind(pointer: dict[str, Any] | None, night: dt.date) -> int | None:
    """Whole days a source's current extract (its pointer) is behind the night's extraction
    date (negative: ahead of it); None when the source has no good extract."""
    return (night - dt.date.fromisoformat(pointer["extract_date"])).days if pointer else None


def is_stale(behind: int | None, stale_after_days: int) -> bool:
    """THE staleness rule (DQ10, `mart.source_freshness`, the KPIs' stale flag and the model
    plan all use it): stale when the source has no good extract, or its current extract is
    more than `stale_after_days` behind the night's extraction date (default 0: one day behind
    is stale, however recently it completed). The wall clock plays no part, so a replayed or
    late night is judged like a live one."""
    return behind is None or behind > stale_after_days


def current_extracts(staged_root: Path) -> dict[str, dict[str, Any]]:
    """Every pointer in the staged zone, by source folder (registered or not)."""
    return {p.parent.name: read_pointer(staged_root, p.parent.name)
            for p in sorted(Path(staged_root).glob(f"*/{POINTER}"))}


# --- the model's metadata -----------------------------------------------------------------

def read_model_meta(model_dir: Path) -> dict[str, Any] | None:
    """`model/model.json` of a model folder (live or backfill); None before the first build."""
    path = Path(model_dir) / MODEL_META
    return json.loads(path.read_text()) if path.exists() else None


def model_extraction_date(model_dir: Path) -> str | None:
    meta = read_model_meta(model_dir)
    return meta["extraction_date"] if meta else None


def model_dirs(model_root: Path) -> list[Path]:
    """The live model folder and every backfill model folder that holds a model, live first."""
    root = Path(model_root)
    return [d for d in [root, *sorted(p.parent for p in root.glob(f"backfill/*/{MODEL_META}"))]
            if (d / MODEL_META).exists()]


# --- the whole folder ---------------------------------------------------------------------

@dataclass(frozen=True)
class DataFolder:
    """One data folder: every zone's path, and the folder-level records."""

    root: Path

    def __post_init__(self) -> None:
        object.__setattr__(self, "root", Path(self.root))

    # zones
    @property
    def sources(self) -> Path:
        """The embedded synthetic fagsystemer (the demo's default source locations)."""
        return self.root / "sources"

    @property
    def drop(self) -> Path:
        """The embedded default drop folder of the file sources."""
        return self.sources / "drop"

    def source_db(self, source: str) -> Path:
        return self.sources / f"{source}.db"

    @property
    def landing(self) -> Path:
        """Raw extracts as landed (restricted: holds CPR)."""
        return self.root / LANDING

    @property
    def staged(self) -> Path:
        """Validated, typed extracts (restricted: holds CPR until the link step)."""
        return self.root / STAGED

    @property
    def quarantine(self) -> Path:
        """Rows that could not be read, with rule and reason (restricted)."""
        return self.root / QUARANTINE

    @property
    def model(self) -> Path:
        """The pseudonymous citizen model (no CPR)."""
        return self.root / "model"

    def backfill_model(self, extraction_date: dt.date) -> Path:
        """Where a model rebuilt for a date before the live model's goes."""
        return self.model / "backfill" / extraction_date.isoformat()

    @property
    def kpi_values(self) -> Path:
        """The night's computed KPI set, staged before audit and publish."""
        return self.root / "kpi" / "kpi_value.parquet"

    @property
    def audit_memo(self) -> Path:
        """The suppression audit's answers of the last publish (`etl.publish.audit_memo`): fingerprints
        over the true figures, so beside them in the restricted KPI zone."""
        return self.root / "kpi" / "audit_memo.json"

    @property
    def case_cost(self) -> Path:
        """The night's `restricted.case_cost` rows, staged beside the KPIs (caseworker level)."""
        return self.root / "kpi" / "case_cost.parquet"

    @property
    def dim_caseworker(self) -> Path:
        """The night's `restricted.dim_caseworker` (pseudonym -> unit), staged beside the KPIs."""
        return self.root / "kpi" / "dim_caseworker.parquet"

    @property
    def dq(self) -> Path:
        return self.root / "dq"

    @property
    def dq_breaches(self) -> Path:
        """The latest data-quality run's breaches (what the gate and the e-mails used)."""
        return self.dq / "last_breaches.json"

    @property
    def dq_failure_records(self) -> Path:
        """The latest data-quality run's failing records with the sources' caseworker ids: what the
        owners' attachments list (restricted: the caseworker id is in no mart)."""
        return self.dq / "last_failure_records.parquet"

    @property
    def dq_mail_log(self) -> Path:
        """Which breaches were mailed when (the daily digest)."""
        return self.dq / "mail_log.json"

    @property
    def kpi_totals_history(self) -> Path:
        """Each run's SOF KPI totals (DQ13 compares with the previous run's)."""
        return self.dq / "kpi_totals_history.parquet"

    @property
    def warehouse(self) -> Path:
        return self.root / "warehouse"

    def default_warehouse_url(self) -> str:
        """The embedded SQLite warehouse (`mart.db` and `public.db` are attached beside it)."""
        return f"sqlite:///{self.warehouse / 'warehouse.db'}"

    @property
    def mail(self) -> Path:
        """Where the demo's in-process SMTP server stores the alert e-mails it receives."""
        return self.root / "mail"

    @property
    def reports(self) -> Path:
        return self.root / "reports"

    def report_dir(self, quarter: str, version: int) -> Path:
        return self.reports / quarter / f"v{version}"

    def report_versions(self, quarter: str) -> list[Path]:
        """The rendered versions of a quarter's report, oldest first."""
        return sorted((p for p in (self.reports / quarter).glob("v*") if p.name[1:].isdigit()),
                      key=lambda p: int(p.name[1:]))

    @property
    def airflow_home(self) -> Path:
        """AIRFLOW_HOME of the embedded Airflow (its files are Airflow's own)."""
        return self.root / "airflow"

    # stored paths
    def stored(self, path: str | Path) -> str:
        return stored_path(path, self.root)

    def resolve(self, text: str | Path) -> Path:
        return resolve_stored(text, self.root)

    def portable(self, record: dict[str, Any]) -> dict[str, Any]:
        return portable(record, self.root)

    # pointers
    def pointer(self, source: str) -> dict[str, Any] | None:
        return read_pointer(self.staged, source)

    def pointers(self, sources) -> dict[str, dict[str, Any] | None]:
        return read_pointers(self.staged, sources)

    # the demo marker
    @property
    def demo_marker(self) -> Path:
        return self.root / DEMO_MARKER

    def is_demo(self) -> bool:
        """True when `sofli demo` created this folder (its marker is there)."""
        return self.demo_marker.is_file()

    def mark_demo(self, info: dict[str, Any]) -> None:
        """Record that `sofli demo` created this folder (no paths in it: the folder may move)."""
        atomic_write_json(self.demo_marker, {"created_by": "sofli demo", **info})

    def is_empty(self) -> bool:
        return not self.root.exists() or not any(self.root.iterdir())
