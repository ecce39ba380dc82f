"""What a fagsystem is to the pipeline: its tables, where it lives and who owns it."""

from __future__ import annotations

import re
from dataclasses import dataclass

from etl.core.tables import TableSpec

_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


@dataclass(frozen=True)
class Source:
    name: str  # short id: DAG ids, landing folders, connection ids
    title: str
    kind: str  # "database" (SQL through SQLAlchemy/ODBC) or "file" (drop folder)
    tables: tuple[TableSpec, ...]
    owner: str  # team that owns the extract (Airflow owner)
    schedule: str  # nightly cron, Europe/Copenhagen, staggered per source
    description: str = ""
    #: DQ10: days the current extract may be behind the night's extraction date before the
    #: source is stale (0: one day behind is stale; a source not extracted every night needs more)
    stale_after_days: int = 0
    #: Who fixes this source's registrations: the default recipients of its data-quality
    #: breaches (`config/dq_rules.yaml` may override per source and per rule × source).
    dq_owners: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.kind not in ("database", "file"):
            raise ValueError(f"source {self.name}: kind must be database or file")
        if self.stale_after_days < 0:
            raise ValueError(f"source {self.name}: stale_after_days must be at least 0")
        for ident in [self.name, *(t.name for t in self.tables)] + [
            c.name for t in self.tables for c in t.columns
        ]:
            if not _IDENTIFIER.match(ident):
                raise ValueError(f"source {self.name}: {ident!r} is not a safe SQL identifier")

    @property
    def conn_id(self) -> str:
        """The Airflow connection that points at this source in a real deployment."""
        return f"sofli_src_{self.name}"

    @property
    def env_var(self) -> str:
        """Environment variable overriding the location (a SQLAlchemy URL or a folder)."""
        return f"SOFLI_SOURCE_{self.name.upper()}"

    def table(self, name: str) -> TableSpec:
        for t in self.tables:
            if t.name == name:
                return t
        raise KeyError(f"source {self.name} has no table {name!r}")
