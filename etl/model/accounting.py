"""Row accounting from staged extracts to the model: every staged row is either in its
model table or dropped for a stated reason (soft-deleted, hanging off a deleted case,
no usable CPR to place it). Published nightly through data quality (DQ14), so a row that
vanishes without a reason turns a result red instead of going unnoticed."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from etl.model import Model
from etl.model.link import normalise_cpr


@dataclass(frozen=True)
class TableMapping:
    """Where a source table's rows go in the model, and how to count its documented drops."""

    source: str
    table: str
    model_table: str
    model_source: str | None = None  # filter on the model table's `source` column
    deleted_column: str | None = None  # soft delete on the row itself
    case_column: str | None = None  # rows of a soft-deleted case drop out with it
    case_table: str | None = None


MAPPINGS = (
    TableMapping("boern", "Sag", "fact_case", "boern", deleted_column="Slettet"),
    TableMapping("voksen", "sag", "fact_case", "voksen", deleted_column="slettet"),
    TableMapping("boern", "Afgoerelse", "fact_decision", "boern", case_column="SagId", case_table="Sag"),
    TableMapping("voksen", "afgoerelse", "fact_decision", "voksen", case_column="sag_id", case_table="sag"),
    TableMapping("boern", "Foranstaltning", "fact_service", "boern", "Slettet", "SagId", "Sag"),
    TableMapping("voksen", "ydelse", "fact_service", "voksen", "slettet", "sag_id", "sag"),
    TableMapping("boern", "Undersoegelse", "fact_investigation", case_column="SagId", case_table="Sag"),
    TableMapping("boern", "Handleplan", "fact_plan", case_column="SagId", case_table="Sag"),
    TableMapping("boern", "Underretning", "fact_notification"),
    TableMapping("tilbud", "tilbud", "dim_facility"),
    TableMapping("tilbud", "ophold", "fact_stay"),
    TableMapping("tilbud", "magtanvendelse", "fact_use_of_force"),
    TableMapping("klage", "klage", "fact_complaint"),
    TableMapping("voksen", "venteliste", "fact_waiting_list"),
    TableMapping("voksen", "funktionsvurdering", "fact_assessment"),
    TableMapping("hr", "medarbejder", "dim_employee"),
    TableMapping("hr", "fravaer", "fact_absence"),
    TableMapping("hr", "rekruttering", "fact_recruitment"),
    TableMapping("hr", "arbejdsmiljoe_haendelse", "fact_incident"),
    TableMapping("beskaeftigelse", "beskaeftigelse", "fact_employment_status"),
)

#: Person tables feed the citizen model (`link_person`); one staged row, one link.
PERSON_TABLES = (("boern", "Barn"), ("voksen", "borger"))


def _flag(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame[column].fillna(False).astype(bool)


def unplaceable_employment_rows(employment: pd.DataFrame) -> int:
    """Employment-status rows the model cannot place, counted independently of the build:
    no usable CPR, or a second row for the same person and month."""
    norm = normalise_cpr(employment["cpr"])
    usable = norm["kind"].isin(["cpr", "replacement"])
    repeated = pd.DataFrame({"cpr": norm.loc[usable, "cpr"], "month": employment.loc[usable, "maaned"]}).duplicated()
    return int((~usable).sum() + repeated.sum())


def account_rows(frames: dict[tuple[str, str], pd.DataFrame], model: Model) -> pd.DataFrame:
    """One row per source table: staged, dropped by reason, expected and actual model rows."""
    unplaceable = unplaceable_employment_rows(frames[("beskaeftigelse", "beskaeftigelse")])
    rows = []
    for m in MAPPINGS:
        staged = frames[(m.source, m.table)]
        dropped_deleted = int(_flag(staged, m.deleted_column).sum()) if m.deleted_column else 0
        dropped_case = 0
        if m.case_column:
            cases = frames[(m.source, m.case_table)]
            deleted_ids = set(cases.loc[_flag(cases, "Slettet" if m.source == "boern" else "slettet"),
                                        cases.columns[0]].dropna())
            on_deleted_case = staged[m.case_column].isin(deleted_ids)
            if m.deleted_column:
                on_deleted_case &= ~_flag(staged, m.deleted_column)
            dropped_case = int(on_deleted_case.sum())
        dropped_unplaceable = unplaceable if m.model_table == "fact_employment_status" else 0
        model_frame = getattr(model, m.model_table)
        if m.model_source:
            model_frame = model_frame[model_frame["source"] == m.model_source]
        rows.append({"source": m.source, "source_table": m.table, "model_table": m.model_table,
                     "staged": len(staged), "dropped_soft_deleted": dropped_deleted,
                     "dropped_deleted_case": dropped_case, "dropped_unplaceable": dropped_unplaceable,
                     "model": len(model_frame)})
    for source, table in PERSON_TABLES:
        links = model.link_person
        rows.append({"source": source, "source_table": table, "model_table": "link_person",
                     "staged": len(frames[(source, table)]), "dropped_soft_deleted": 0, "dropped_deleted_case": 0,
                     "dropped_unplaceable": 0,
                     "model": int(((links["source"] == source) & (links["source_table"] == table)).sum())})
    out = pd.DataFrame(rows)
    out["expected"] = out["staged"] - out["dropped_soft_deleted"] - out["dropped_deleted_case"] - out["dropped_unplaceable"]
    return out
