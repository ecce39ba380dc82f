"""A scan of a warehouse schema for caseworker-level output (issue 21): caseworker rows and
caseworker pseudonyms belong in the schema `restricted` only, so the BI role that reads `mart`
cannot see them. Used on SQLite and PostgreSQL after a demo publication."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import sqlalchemy as sa

#: A pseudonym as the model writes it: 128 bits of HMAC in lower-case hex.
_PSEUDONYM = re.compile(r"[0-9a-f]{32}")


def model_caseworker_keys(model_dir: Path) -> set[str]:
    """Every `caseworker_key` of every model table (the live model and any backfill)."""
    keys: set[str] = set()
    for path in sorted(Path(model_dir).rglob("*.parquet")):
        if "caseworker_key" in pq.read_schema(path).names:
            keys |= {k for k in pq.read_table(path, columns=["caseworker_key"])["caseworker_key"].to_pylist() if k}
    return keys


def caseworker_leaks(engine: sa.Engine, schema: str, keys: set[str]) -> dict[str, list[str]]:
    """Per table or view of `schema`: rows with `org_level = 'caseworker'`, and text cells that
    are, or contain, one of `keys` (e.g. `caseworker:<pseudonym>`). Empty: nothing leaked."""
    inspector = sa.inspect(engine)
    relations = sorted(inspector.get_table_names(schema=schema) + inspector.get_view_names(schema=schema))
    leaks: dict[str, list[str]] = {}
    for name in relations:
        with engine.connect() as conn:
            frame = pd.read_sql(sa.text(f'SELECT * FROM {schema}."{name}"'), conn)
        found = []
        if "org_level" in frame.columns and frame["org_level"].eq("caseworker").any():
            found.append(f"org_level: {int(frame['org_level'].eq('caseworker').sum())} caseworker row(s)")
        for column in frame.columns:
            values = frame[column].dropna()
            if values.empty or not (pd.api.types.is_object_dtype(values) or pd.api.types.is_string_dtype(values)):
                continue
            text = values.astype(str)
            equal = int(text.isin(keys).sum())
            tokens = {t for cell in text[text.str.contains(_PSEUDONYM)] for t in _PSEUDONYM.findall(cell)}
            inside = len(tokens & keys)
            if equal or inside:
                found.append(f"{column}: {equal} cell(s) equal to a caseworker pseudonym, {inside} pseudonym(s) inside")
        if found:
            leaks[f"{schema}.{name}"] = found
    return leaks
