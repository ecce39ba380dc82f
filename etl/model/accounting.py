"""Row accounting from staged extracts to the model: every staged row is either in its
model table or dropped for a stated reason (soft-deleted, hanging off a deleted case,
no usable CPR to place it). Published nightly through data quality (DQ14), so a row that
vanishes without a reason turns a result red instead of going unnoticed.

Where each source table's rows go, and which drops are documented, is read off the model
registry (`etl.model.registry`): the soft-delete column is the contract's, the case a row
hangs off is the registry's `case_column`. The counts here are made independently of the
build, from the staged rows alone, so a build that loses rows cannot hide it.
"""

from __future__ import annotations

import pandas as pd

from etl.model.link import KIND_CPR, KIND_REPLACEMENT, normalise_cpr
from etl.model.registry import MODEL_SOURCES, ModelSource, case_entry


def _flag(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame[column].fillna(False).astype(bool)


def unplaceable_rows(staged: pd.DataFrame, source: ModelSource) -> int:
    """Rows of a table keyed on CPR that the model cannot place, counted independently of
    the build: no usable CPR, or repeating a key (the normalised CPR and the rest of the
    contract's primary key) of an earlier row."""
    spec = source.spec
    (cpr_column,) = [c for c in spec.primary_key if spec.column(c).personal]
    norm = normalise_cpr(staged[cpr_column])
    usable = norm["kind"].isin([KIND_CPR, KIND_REPLACEMENT])
    keys = pd.DataFrame({cpr_column: norm.loc[usable, "cpr"],
                         **{c: staged.loc[usable, c] for c in spec.primary_key if c != cpr_column}})
    return int((~usable).sum() + keys.duplicated().sum())


def _on_deleted_case(staged: pd.DataFrame, source: ModelSource,
                     frames: dict[tuple[str, str], pd.DataFrame]) -> int:
    """Rows (not themselves soft-deleted) whose case is soft-deleted."""
    case = case_entry(source.source)
    if not case.soft_delete:
        return 0
    cases = frames[case.key]
    deleted_ids = set(cases.loc[_flag(cases, case.soft_delete), case.spec.primary_key[0]].dropna())
    on_deleted_case = staged[source.case_column].isin(deleted_ids)
    if source.soft_delete:
        on_deleted_case &= ~_flag(staged, source.soft_delete)
    return int(on_deleted_case.sum())


def model_rows(name: str, frame: pd.DataFrame) -> dict[tuple[str, str], int]:
    """The rows of model table `name` that came from each registry table feeding it: a table
    several source tables feed is told apart by its `source` (and `source_table`) columns."""
    counts = {}
    for source in MODEL_SOURCES:
        if source.model_table != name:
            continue
        rows = frame
        if "source" in rows.columns:
            rows = rows[rows["source"] == source.source]
        if "source_table" in rows.columns:
            rows = rows[rows["source_table"] == source.table]
        counts[source.key] = len(rows)
    return counts


def staged_rows(frames: dict[tuple[str, str], pd.DataFrame]) -> pd.DataFrame:
    """One row per registry table: staged rows and dropped rows by reason. Tables the
    builders place come first, then the person registers the link step places
    (`link_person`, one staged row, one link). Counted before the build, which may release
    the staged frames as it goes (`etl.model.build.build_tables`)."""
    rows = []
    for source in [*(e for e in MODEL_SOURCES if not e.linked_only), *(e for e in MODEL_SOURCES if e.linked_only)]:
        staged = frames[source.key]
        rows.append({
            "source": source.source, "source_table": source.table, "model_table": source.model_table,
            "staged": len(staged),
            "dropped_soft_deleted": int(_flag(staged, source.soft_delete).sum()) if source.soft_delete else 0,
            "dropped_deleted_case": _on_deleted_case(staged, source, frames) if source.case_column else 0,
            "dropped_unplaceable": unplaceable_rows(staged, source) if source.keyed_by_cpr else 0})
    return pd.DataFrame(rows)


def with_model_rows(staged: pd.DataFrame, counts: dict[tuple[str, str], int]) -> pd.DataFrame:
    """`staged_rows` with the model rows counted (`model_rows`) and the rows expected there."""
    out = staged.copy()
    out["model"] = [counts.get((s, t), 0) for s, t in zip(out["source"], out["source_table"], strict=True)]
    out["expected"] = out["staged"] - out["dropped_soft_deleted"] - out["dropped_deleted_case"] - out["dropped_unplaceable"]
    return out

