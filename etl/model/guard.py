"""The free-text guard: no CPR typed into a source's text field gets past the model build.

Caseworkers type CPR numbers where they do not belong (`Plejefamilie 010508 7883` as a
measure type, a CPR as a case number). Before any builder runs, every text column of every
source table that is not the contract's CPR column is scanned with the one pattern
(`etl.core.privacy`); a CPR is masked in place and the row kept, so no count changes, and
the record is reported to the source's owner (DQ22), by its record id and column only,
never the value.

A value that is nothing but a CPR (a case number, a person id, a measure reference) is
replaced by `[CPR fjernet <tag>]`, the tag a keyed pseudonym of the normalised number: two
rows that referred to each other by that value still do, and two different numbers never
collapse into one key. A CPR inside longer text is replaced by `[CPR fjernet]`.
"""

from __future__ import annotations

import pandas as pd
import pyarrow as pa

from etl.core.privacy import MASK, cpr_flags, cpr_spans, mask_cpr, normalise_text
from etl.model.link import Pseudonymiser
from etl.sources import SOURCES

#: The data-quality rule the guard reports under.
RULE_ID = "DQ22"
#: The pseudonym namespace of a whole-value CPR's tag.
TAG_NAMESPACE = "cpr-text"
TAG_LENGTH = 8
FINDING_COLUMNS = ["rule_id", "source", "source_table", "record_id", "failing", "detail"]


def guarded_columns(source: str, table: str) -> list[str]:
    """The contract's text columns that may hold free text (every `str` column but the CPR's)."""
    spec = SOURCES[source].table(table)
    return [c.name for c in spec.columns if c.type == "str" and not c.personal]


def _record_ids(source: str, table: str, rows: pd.DataFrame) -> pd.Series:
    """The source's own record id: a one-column primary key, else the file line (header is
    line 1), as the link step reports the CPR register's rows."""
    spec = SOURCES[source].table(table)
    key = spec.primary_key
    if len(key) == 1 and not spec.column(key[0]).personal:
        ids = rows[key[0]]
        if ids.dtype.kind in "iuf" or str(ids.dtype) == "Int64":
            return ids.astype("Int64").astype(str)
        return ids.astype(str)
    return (pd.Series(range(len(rows)), index=rows.index) + 2).astype(str)


def _masked(value: str, pseudonymiser: Pseudonymiser) -> str:
    spans, normal = cpr_spans(value), normalise_text(value)
    if len(spans) == 1 and normal[slice(*spans[0])] == normal.strip():  # the value is the number
        digits = "".join(ch for ch in normal if ch.isalnum()).upper()
        return f"[CPR fjernet {pseudonymiser.one(TAG_NAMESPACE, digits)[:TAG_LENGTH]}]"
    return mask_cpr(value, MASK)


def guard_free_text(frames: dict[tuple[str, str], pd.DataFrame], pseudonymiser: Pseudonymiser
                    ) -> tuple[dict[tuple[str, str], pd.DataFrame], pd.DataFrame]:
    """The frames with every CPR in a text column masked, and one DQ22 finding per record
    and column that held one (record id and column name; the value is never kept)."""
    out, findings = dict(frames), []
    for (source, table), rows in frames.items():
        if source not in SOURCES:
            continue
        columns = [c for c in guarded_columns(source, table) if c in rows.columns]
        if not columns or rows.empty:
            continue
        masked_rows = None
        hits = {}
        for column in columns:
            values = rows[column]
            # the distinct texts stay Arrow: 1.9 million at Copenhagen, never Python objects (but the flagged)
            uniques = pa.array(values.dropna().astype("str").unique(), type=pa.large_string())
            bad = set(uniques.filter(pa.array(cpr_flags(uniques))).to_pylist())
            if not bad:
                continue
            replacement = {u: _masked(u, pseudonymiser) for u in bad}
            hit = values.astype("str").isin(bad) & values.notna()
            hits[column] = hit
            if masked_rows is None:
                masked_rows = rows.copy(deep=False)  # copy-on-write: only the masked columns are new
            masked_rows[column] = values.where(~hit, values.astype("str").map(replacement)).astype(values.dtype)
        if masked_rows is None:
            continue
        ids = _record_ids(source, table, masked_rows)  # masked: a record id that was a CPR is its tag
        for column, hit in hits.items():
            findings.append(pd.DataFrame({
                "rule_id": RULE_ID, "source": source, "source_table": table, "record_id": ids[hit].to_numpy(),
                "failing": True, "detail": column}))
        out[(source, table)] = masked_rows
    found = (pd.concat(findings, ignore_index=True) if findings
             else pd.DataFrame({c: pd.Series(dtype="bool" if c == "failing" else "str") for c in FINDING_COLUMNS}))
    return out, found
