"""The canonical model: a set of pseudonymous frames, saved as Parquet, read by KPIs and DQ."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable
from typing import BinaryIO
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from etl.core.storage import make_private, private_dir
from etl.core.tables import TableSpec
from etl.core.vocabulary import PANDAS_DTYPES
from etl.model.tables import MODEL_TABLES


def empty_frame(spec: TableSpec) -> pd.DataFrame:
    return pd.DataFrame({c.name: pd.Series(dtype=PANDAS_DTYPES[c.type]) for c in spec.columns})


def conform(frame: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """Columns in contract order with the contract's dtypes (hand-built test frames too)."""
    missing = [c for c in spec.column_names if c not in frame.columns]
    if missing:
        raise ValueError(f"{spec.name}: missing columns {missing}")
    out = pd.DataFrame(index=range(len(frame)))
    for c in spec.columns:
        out[c.name] = _conform_column(frame[c.name], c)
    return out


def _conform_column(values: pd.Series, column) -> pd.Series:
    """One column with its contract dtype (dates as datetime64[s])."""
    values = values.reset_index(drop=True)
    if column.type in ("date", "datetime"):
        return pd.to_datetime(values).astype("datetime64[s]")
    return values.astype(PANDAS_DTYPES[column.type])


@dataclass
class Model:
    """All model tables plus the extraction date they describe."""

    extraction_date: dt.date
    extraction_time: dt.datetime
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
    #: Tables of the model folder not in memory (left out by `load(only=...)`, or `release`d),
    #: with why: reading one raises instead of giving an empty table (a silent zero).
    absent: dict[str, str] = field(default_factory=dict, repr=False, compare=False)
    #: Tables left on disk to be read one column at a time (`column`): the KPI stage's postings,
    #: never whole in memory (15.9 M rows, 2.3 GiB at national). Each file is opened by `load`,
    #: so a model rebuilt meanwhile (its files renamed into place) is not mixed into this one.
    on_disk: dict[str, BinaryIO] = field(default_factory=dict, repr=False, compare=False)
    _derived: dict = field(default_factory=dict, repr=False, compare=False)
    _slots: dict = field(default_factory=dict, repr=False, compare=False)

    def derived(self, key: tuple, compute, slot: str | None = None):
        """A frame derived from the model, computed once per key (e.g. the active
        interventions on a date, which four KPIs of a period start from). Callers share
        the result and must not modify it in place. Keys given a `slot` keep only the
        latest frame of that slot, so per-date frames do not pile up over 20 periods."""
        if key not in self._derived:
            if slot is not None:
                for old in [k for k, s in self._slots.items() if s == slot]:
                    del self._derived[old], self._slots[old]
                self._slots[key] = slot
            self._derived[key] = compute()
        return self._derived[key]

    def replace_table(self, name: str, frame: pd.DataFrame) -> None:
        """Swap one table (e.g. the organisation restated on today's structure); what was
        derived from the old one is forgotten."""
        if name not in MODEL_TABLES:
            raise ValueError(f"unknown model table: {name}")
        self.tables[name] = frame
        self.absent.pop(name, None)
        self._derived.clear()
        self._slots.clear()

    def release(self, name: str, why: str) -> None:
        """Let go of a table whose every reader now works from something derived from it (the
        KPI stage's postings, once coded: 2.3 GiB at national); what was derived is kept."""
        self.tables.pop(name, None)
        opened = self.on_disk.pop(name, None)
        if opened is not None:
            opened.close()
        self.absent[name] = why

    def column(self, name: str, column: str) -> pd.Series:
        """One column of a table: from memory, or read alone from the model folder for a table
        loaded `by_column` (with its contract dtype, as `load` gives it)."""
        opened = self.on_disk.get(name)
        if opened is None:
            return getattr(self, name)[column]
        spec = next((c for c in MODEL_TABLES[name].columns if c.name == column), None)
        if spec is None:
            raise KeyError(f"{name} has no column {column}")
        opened.seek(0)
        return _conform_column(pd.read_parquet(opened, columns=[column])[column], spec)

    def __getattr__(self, name: str) -> pd.DataFrame:
        if name in MODEL_TABLES:
            why = self.__dict__.get("absent", {}).get(name)
            if why is not None:
                raise LookupError(f"model table {name} is not in memory: {why}")
            frame = self.__dict__.get("tables", {}).get(name)
            return frame if frame is not None else empty_frame(MODEL_TABLES[name])
        raise AttributeError(name)

    @classmethod
    def from_frames(cls, extraction_date: dt.date, extraction_time: dt.datetime | None = None,
                    **frames: pd.DataFrame) -> Model:
        """Build a model from (possibly hand-built) frames; absent tables are empty."""
        unknown = set(frames) - set(MODEL_TABLES)
        if unknown:
            raise ValueError(f"unknown model tables: {sorted(unknown)}")
        extraction_time = extraction_time or dt.datetime.combine(extraction_date, dt.time(2, 0))
        return cls(extraction_date, extraction_time,
                   {name: conform(f, MODEL_TABLES[name]) for name, f in frames.items()})

    @classmethod
    def load(cls, model_dir: Path, only: Iterable[str] | None = None, by_column: Iterable[str] = ()) -> Model:
        """The model as built; with `only`, just those tables (a stage that reads a declared set:
        the others raise when read, never look empty). Tables named in `by_column` stay on disk,
        read one column at a time through `column` (reading one whole raises)."""
        meta = json.loads((model_dir / "model.json").read_text())
        wanted = set(MODEL_TABLES) if only is None else set(only)
        by_column = set(by_column)
        unknown = (wanted | by_column) - set(MODEL_TABLES)
        if unknown:
            raise ValueError(f"unknown model tables: {sorted(unknown)}")
        if not by_column <= wanted:
            raise ValueError(f"tables read by column but not loaded: {sorted(by_column - wanted)}")
        opened = {name: (model_dir / f"{name}.parquet").open("rb") for name in sorted(by_column)}
        tables = {name: conform(pd.read_parquet(model_dir / f"{name}.parquet"), spec)
                  for name, spec in MODEL_TABLES.items() if name in wanted - by_column}
        absent = {name: "not loaded by this stage (declare it in the lineage of what reads it)"
                  for name in MODEL_TABLES if name not in wanted}
        absent |= {name: "left on disk, read column by column (Model.column)" for name in by_column}
        return cls(dt.date.fromisoformat(meta["extraction_date"]),
                   dt.datetime.fromisoformat(meta["extraction_time"]), tables, absent,
                   on_disk=opened)


class ModelWriter:
    """Writes a model table by table as it is built, so the model stage need not hold them
    all (`etl.model.stage`). Each table goes to a hidden temporary file; `commit` moves them
    all into place and writes `model.json` last, so a build that fails half-way leaves the
    live model as it was; `discard` removes the temporary files."""

    def __init__(self, model_dir: Path):
        self.model_dir = private_dir(model_dir)  # restricted zone: 0700, files 0600 whatever the umask
        self.counts: dict[str, int] = {}

    def _tmp(self, name: str) -> Path:
        return self.model_dir / f".{name}.parquet.tmp"

    def add(self, name: str, frame: pd.DataFrame) -> None:
        """Conform one table to its contract and write it aside."""
        if name not in MODEL_TABLES:
            raise ValueError(f"unknown model table: {name}")
        conform(frame, MODEL_TABLES[name]).to_parquet(self._tmp(name), index=False)
        make_private(self._tmp(name))
        self.counts[name] = len(frame)

    def commit(self, extraction_date: dt.date, extraction_time: dt.datetime | None = None,
               built_from: dict | None = None) -> dict[str, int]:
        """Every table into place (absent ones empty), then `model.json`; returns the row counts."""
        for name, spec in MODEL_TABLES.items():
            if name not in self.counts:
                self.add(name, empty_frame(spec))
        for name in MODEL_TABLES:
            self._tmp(name).replace(self.model_dir / f"{name}.parquet")
        extraction_time = extraction_time or dt.datetime.combine(extraction_date, dt.time(2, 0))
        counts = {name: self.counts[name] for name in MODEL_TABLES}
        meta = {"extraction_date": extraction_date.isoformat(),
                "extraction_time": extraction_time.isoformat(), "rows": counts}
        if built_from is not None:
            meta["built_from"] = built_from
        tmp = self.model_dir / ".model.json.tmp"
        tmp.write_text(json.dumps(meta, indent=2))
        make_private(tmp).replace(self.model_dir / "model.json")
        return counts

    def discard(self) -> None:
        for name in MODEL_TABLES:
            self._tmp(name).unlink(missing_ok=True)
