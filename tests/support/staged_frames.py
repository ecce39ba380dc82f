"""Hand-built staged extracts: every contract table, typed as a staged file reads back."""

from __future__ import annotations

import pandas as pd

from etl.core.vocabulary import PANDAS_DTYPES
from etl.sources import SOURCES


def staged(**tables: list[dict]) -> dict[tuple[str, str], pd.DataFrame]:
    """Every contract table of `SOURCES`, empty unless given as `source__table=[rows]`;
    columns a row leaves out are NULL."""
    frames = {}
    for source in SOURCES.values():
        for table in source.tables:
            rows = tables.pop(f"{source.name}__{table.name}", [])
            frame = pd.DataFrame(rows, columns=table.column_names)
            frames[(source.name, table.name)] = frame.astype({c.name: PANDAS_DTYPES[c.type] for c in table.columns})
    if tables:
        raise KeyError(f"no such contract tables: {sorted(tables)}")
    return frames
