"""The canonical model: a set of pseudonymous frames, saved as Parquet, read by KPIs and DQ."""

from __future__ import annotations

import datetime as dt
import json
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
        values = frame[c.name].reset_index(drop=True)
        if c.type in ("date", "datetime"):
            out[c.name] = pd.to_datetime(values).astype("datetime64[s]")
        else:
            out[c.name] = values.astype(PANDAS_DTYPES[c.type])
    return out


@dataclass
class Model:
    """All model tables plus the extraction date they describe."""

    extraction_date: dt.date
    extraction_time: dt.datetime
    tables: dict[str, pd.DataFrame] = field(default_factory=dict)
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
        self._derived.clear()
        self._slots.clear()

    def __getattr__(self, name: str) -> pd.DataFrame:
        if name in MODEL_TABLES:
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

    def save(self, model_dir: Path, built_from: dict | None = None) -> dict[str, int]:
        """Write every table, then `model.json` last (rows, dates and, given `built_from`, which
        extract of each source it was built from: how `build_model` knows the night is done)."""
        private_dir(model_dir)  # restricted zone: 0700, files 0600 whatever the umask
        counts = {}
        for name in MODEL_TABLES:
            frame = getattr(self, name)
            tmp = model_dir / f".{name}.parquet.tmp"
            frame.to_parquet(tmp, index=False)
            make_private(tmp).replace(model_dir / f"{name}.parquet")
            counts[name] = len(frame)
        meta = {"extraction_date": self.extraction_date.isoformat(),
                "extraction_time": self.extraction_time.isoformat(), "rows": counts}
        if built_from is not None:
            meta["built_from"] = built_from
        tmp = model_dir / ".model.json.tmp"
        tmp.write_text(json.dumps(meta, indent=2))
        make_private(tmp).replace(model_dir / "model.json")
        return counts

    @classmethod
    def load(cls, model_dir: Path) -> Model:
        meta = json.loads((model_dir / "model.json").read_text())
        tables = {name: conform(pd.read_parquet(model_dir / f"{name}.parquet"), spec)
                  for name, spec in MODEL_TABLES.items()}
        return cls(dt.date.fromisoformat(meta["extraction_date"]),
                   dt.datetime.fromisoformat(meta["extraction_time"]), tables)
