"""A model that notes every table a computation reads: how the KPIs' lineage and the
data-quality rules' declared tables are checked against what their code reads."""

from __future__ import annotations

from etl.model import Model
from etl.model.tables import MODEL_TABLES


class RecordingModel(Model):
    """A model that notes every table a computation reads (attribute access) in `read`."""

    def __getattr__(self, name: str):
        if name in MODEL_TABLES:
            self.__dict__.setdefault("read", set()).add(name)
        return super().__getattr__(name)
