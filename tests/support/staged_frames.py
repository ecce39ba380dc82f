"""Hand-built staged tables, as `etl.model.build.load_current_staged` hands them to the
model build: every contract table present, typed by the contract, empty unless given."""

from __future__ import annotations

import pandas as pd

from etl.core.vocabulary import PANDAS_DTYPES
from etl.sources import SOURCES


def staged(**tables: list[dict]) -> dict[tuple[str, str], pd.DataFrame]:
    """Every contract table, empty unless given as `source__table=[rows]`."""
    frames = {}
    for source in SOURCES.values():
        for table in source.tables:
            rows = tables.get(f"{source.name}__{table.name}", [])
            frame = pd.DataFrame(rows, columns=table.column_names)
            frames[(source.name, table.name)] = frame.astype({c.name: PANDAS_DTYPES[c.type] for c in table.columns})
    return frames
