"""Build the canonical model from each source's current validated extract.

Reads staged (typed, CPR-bearing) tables, links every person in one pass through
`etl.model.link`, then runs the builder of each model-registry entry
(`etl.model.registry`) in its order, and returns only pseudonymous frames. Soft-deleted
rows (the contract's `soft_delete` column), and rows hanging off a soft-deleted case, are
left out here once, so no KPI or rule has to remember them.

A builder is a small function per source table, attached to its registry entry with
`@builds(source, table)`; its parameters name its inputs (`rows`, `case`, `citizen`,
`pseudonymiser`, or a model table built before it, e.g. `fact_case`, `dim_paragraph`).
"""

from __future__ import annotations

import datetime as dt
import inspect
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl.core import zones
from etl.core.roles import facility_group
from etl.core.vocabulary import AREA_ADULTS, AREA_CHILDREN, MEASURE_TYPES, PANDAS_DTYPES, UNKNOWN
from etl.model import Model
from etl.model.guard import guard_free_text
from etl.model.link import KIND_CPR, KIND_INVALID, KIND_MISSING, KIND_REPLACEMENT, Pseudonymiser, link_persons, normalise_cpr
from etl.model.registry import (
    CASE_TABLE,
    CPR_REGISTER,
    DERIVED_TABLES,
    MEASURE_LINK,
    MODEL_SOURCES,
    ModelSource,
    builds,
    case_entry,
    feeding,
    person_entries,
)
from etl.sources import SOURCES

log = logging.getLogger(__name__)


# --- reading -------------------------------------------------------------------------

def _partition_pointer(staged_root: Path, source, as_of: dt.date) -> dict | None:
    """A pointer to the source's newest fully validated extract on or before `as_of`."""
    dates = sorted({day for t in source.tables for day, _ in zones.table_partitions(staged_root, source.name, t.name)},
                   reverse=True)
    for day in (d for d in dates if d <= as_of.isoformat()):
        folders = {t.name: zones.partition_dir(staged_root, source.name, t.name, day) for t in source.tables}
        if all(zones.is_validated(f) for f in folders.values()):
            return {"source": source.name, "extract_date": day,
                    "tables": {name: {**zones.read_validation(f), "staged_path": str(f / zones.DATA_FILE)}
                               for name, f in folders.items()}}
    return None


def load_current_staged(staged_root: Path, as_of: dt.date | None = None
                        ) -> tuple[dict[tuple[str, str], pd.DataFrame], dict[str, dict]]:
    """Every source's current good extract (`CURRENT.json`); an absent source is empty.

    With `as_of` earlier than a source's current extract (a backfill), the source's newest
    validated extract on or before that date is used instead, so a model rebuilt for a
    past date sees that date's data.
    """
    frames, pointers = {}, {}
    for source in SOURCES.values():
        pointer = zones.read_pointer(staged_root, source.name)
        if pointer and as_of and pointer["extract_date"] > as_of.isoformat():
            pointer = _partition_pointer(staged_root, source, as_of)
        if pointer:
            pointers[source.name] = pointer
        else:
            log.warning("source %s has no validated extract yet: its tables are empty in the model", source.name)
        for table in source.tables:
            if pointer:
                frames[(source.name, table.name)] = pd.read_parquet(pointer["tables"][table.name]["staged_path"])
            else:
                # as a staged file reads back: Parquet keeps timestamps in milliseconds
                dtypes = {**PANDAS_DTYPES, "date": "datetime64[ms]", "datetime": "datetime64[ms]"}
                frames[(source.name, table.name)] = pd.DataFrame(
                    {c.name: pd.Series(dtype=dtypes[c.type]) for c in table.columns})
    return frames, pointers


# --- helpers -----------------------------------------------------------------------

def _key(source: str, ids: pd.Series) -> pd.Series:
    """`"<source>:<id>"`, so ids of different systems never collide (integers without `.0`)."""
    return (source + ":" + _id(ids)).astype("str")


def _id(ids: pd.Series) -> pd.Series:
    """A source's own id as text (the record id a data owner looks up)."""
    return (ids.astype("Int64").astype(str) if ids.dtype.kind in "iuf" or str(ids.dtype) == "Int64"
            else ids.astype(str)).astype("str")


def _service_codes(paragraph_text: pd.Series, paragraphs: pd.DataFrame) -> pd.Series:
    mapping = paragraphs.set_index("paragraph_text")["service_code"]
    return paragraph_text.astype(str).str.strip().map(mapping)


def _org_area(unit_codes: pd.Series, org: pd.DataFrame) -> pd.Series:
    latest = org.sort_values("valid_from").drop_duplicates("unit_code", keep="last").set_index("unit_code")["area"]
    return unit_codes.map(latest).fillna(UNKNOWN)


# --- the build: the link step, then one builder per registry entry ------------------

def build_model(frames: dict[tuple[str, str], pd.DataFrame], reference: dict[str, pd.DataFrame],
                pseudonymiser: Pseudonymiser, extraction_date: dt.date,
                extraction_time: dt.datetime | None = None) -> Model:
    """The model from staged frames and the reference, every table held at once (tests, the
    re-key's dry run); the model stage streams the same tables to disk (`build_tables`)."""
    return Model.from_frames(extraction_date, extraction_time, **dict(build_tables(frames, reference, pseudonymiser)))


def build_tables(frames: dict[tuple[str, str], pd.DataFrame], reference: dict[str, pd.DataFrame],
                 pseudonymiser: Pseudonymiser, *, release: bool = False) -> Iterator[tuple[str, pd.DataFrame]]:
    """Each model table as soon as it is complete: persons are linked in one pass, then every
    entry of the model registry is built in its order (`etl.model.registry`). Before
    anything, CPRs typed into the sources' text columns are masked (`etl.model.guard`).

    A table is held only while a later builder reads it. With `release`, `frames` is emptied
    and each staged frame dropped once its builder (and the derived tables) used it, so the
    stage never holds the whole model beside every source (the national postings alone are
    15.9 M rows, docs/performance.md "Round 5")."""
    entries = [entry for entry in MODEL_SOURCES if not entry.linked_only]
    for entry in entries:
        if entry.builder is None:
            raise LookupError(f'{entry.label} has no builder: add an @builds("{entry.source}", "{entry.table}") '
                              "function to etl/model/build.py")
    guarded, cpr_in_text = guard_free_text(frames, pseudonymiser)
    if release:
        frames.clear()
    frames = guarded
    live = {entry.key: _live_rows(frames, entry) for entry in MODEL_SOURCES}
    person_rows = _person_rows(live)
    links = link_persons(person_rows, pseudonymiser)  # the one pass over every citizen's CPR
    links["src_birth"], links["src_gender"] = person_rows["src_birth"].to_numpy(), person_rows["src_gender"].to_numpy()
    del person_rows
    register = frames.pop(CPR_REGISTER) if release else frames[CPR_REGISTER]
    register_cpr = normalise_cpr(register[_personal_column(CPR_REGISTER)])[["cpr", "kind"]]  # for citizens and DQ05
    yield "dim_citizen", _citizens(links, register, register_cpr)
    del register
    yield "link_person", links[["source", "source_table", "source_person_id", "citizen_key", "match_method",
                                "match_confidence"]]
    yield "link_finding", pd.concat([_link_findings(links, live, register_cpr, reference["ref_role"]), cpr_in_text],
                                    ignore_index=True)
    inputs = {"citizen": _citizen_keys(links, pseudonymiser), "pseudonymiser": pseudonymiser}
    del links, register_cpr, cpr_in_text
    yield from reference.items()
    held: dict[str, pd.DataFrame] = dict(reference)
    done: set[str] = set()  # tables built (held or already dropped)
    if release:  # person registers only linked: their rows are in link_person now
        for entry in MODEL_SOURCES:
            if entry.linked_only:
                frames.pop(entry.key, None)
                live.pop(entry.key, None)
    parts: dict[str, list[pd.DataFrame]] = {}
    for i, entry in enumerate(entries):
        frame = _build_rows(entry, live[entry.key], {**inputs, **held}, pseudonymiser)
        parts.setdefault(entry.model_table, []).append(frame)
        del frame
        if release:
            live.pop(entry.key)
            if not any(entry in feeding(t) for d, needs in DERIVED_TABLES.items() if d not in done for t in needs):
                frames.pop(entry.key)
        if entry == feeding(entry.model_table)[-1]:
            tables = parts.pop(entry.model_table)
            held[entry.model_table] = tables[0] if len(tables) == 1 else pd.concat(tables, ignore_index=True)
            del tables
            done.add(entry.model_table)
            yield entry.model_table, held[entry.model_table]
            for derived, needs in DERIVED_TABLES.items():
                if derived not in done and all(t in done for t in needs):
                    held[derived] = _DERIVED[derived](frames, {**inputs, **held}, pseudonymiser)
                    done.add(derived)
                    yield derived, held[derived]
                    if release:
                        for key in {e.key for t in needs for e in feeding(t)}:
                            frames.pop(key, None)
        for name in [t for t in held if t not in reference and not _read_after(t, entries[i + 1:], done)]:
            del held[name]


def _read_after(table: str, entries: list[ModelSource], done: set[str]) -> bool:
    """Whether a builder still to run, or a derived table not built yet, reads `table`."""
    if any(table in needs for derived, needs in DERIVED_TABLES.items() if derived not in done):
        return True
    return any(table in inspect.signature(e.builder).parameters or (table == CASE_TABLE and e.case_column)
               for e in entries)


def _build_rows(entry: ModelSource, rows: pd.DataFrame, available: dict, pseudonymiser: Pseudonymiser,
                cases: pd.DataFrame | None = None) -> pd.DataFrame:
    """Call an entry's builder on `rows`, its inputs by parameter name; `cases` (default the
    built case table) gives the rows' `case` attributes."""
    available = {**available, "rows": rows}
    if entry.case_column:
        available["case"] = _case_attributes(entry, rows, available[CASE_TABLE] if cases is None else cases,
                                             pseudonymiser)
    return entry.builder(**{name: available[name] for name in inspect.signature(entry.builder).parameters})


def build_measure_links(frames: dict[tuple[str, str], pd.DataFrame], available: dict,
                        pseudonymiser: Pseudonymiser) -> pd.DataFrame:
    """`dim_measure_link`: every measure and service, the ones the model left out too (soft-
    deleted, or on a soft-deleted case), with the case behind it.

    Money spent on a measure deleted since still reaches it (economy.md), so the economy
    needs what the rest of the model drops. The live rows are taken from fact_service and
    fact_case as built; only the left-out rows (a few) go through the same builders again,
    their cases built from the case table's deleted rows, so nothing is described twice."""
    all_cases, deleted_cases = [available[CASE_TABLE]], set()
    for entry in feeding(CASE_TABLE):
        rows = frames[entry.key]
        if entry.soft_delete:
            gone = rows[_flagged(rows, entry.soft_delete)]
            if len(gone):
                left_out = _build_rows(entry, gone, available, pseudonymiser)
                all_cases.append(left_out)
                deleted_cases |= set(left_out["case_key"])
    cases = pd.concat(all_cases, ignore_index=True) if len(all_cases) > 1 else all_cases[0]
    services = [available["fact_service"].assign(deleted=False)]
    for entry in feeding("fact_service"):
        rows = frames[entry.key]
        kept = _live_rows(frames, entry)
        gone = rows.loc[~rows.index.isin(kept.index)]
        if len(gone):
            services.append(_build_rows(entry, gone, available, pseudonymiser, cases).assign(deleted=True))
    services = pd.concat(services, ignore_index=True)
    case = cases.set_index("case_key").reindex(services["case_key"])
    return pd.DataFrame({
        "service_key": services["service_key"], "source": services["source"], "service_id": services["service_id"],
        "case_key": services["case_key"],
        "case_pseudonym": pseudonymiser.many("case", services["case_key"]).to_numpy(),
        "citizen_key": services["citizen_key"], "caseworker_key": case["caseworker_key"].to_numpy(),
        "unit_code": services["unit_code"], "area": services["area"], "category": services["category"],
        "service_type": services["service_type"], "start_date": services["start_date"],
        "end_date": services["end_date"], "case_closed_date": case["closed_date"].to_numpy(),
        "deleted": services["deleted"] | services["case_key"].isin(deleted_cases)})


def _flagged(frame: pd.DataFrame, column: str) -> pd.Series:
    return frame[column].fillna(False).astype(bool)


def _live_rows(frames: dict[tuple[str, str], pd.DataFrame], entry: ModelSource) -> pd.DataFrame:
    """A source table's rows that count: without the rows its contract marks soft-deleted,
    and without the rows hanging off a case that is soft-deleted."""
    rows = frames[entry.key]
    if entry.soft_delete:
        rows = rows[~_flagged(rows, entry.soft_delete)]
    if entry.case_column:
        case = case_entry(entry.source)
        if case.soft_delete:
            cases = frames[case.key]
            deleted = set(_key(case.source, cases.loc[_flagged(cases, case.soft_delete), case.spec.primary_key[0]]))
            rows = rows[~_key(entry.source, rows[entry.case_column]).isin(deleted)]
    return rows


def _personal_column(table: tuple[str, str]) -> str:
    """The contract's CPR column of a table read for its persons alone (the CPR register)."""
    source, name = table
    (column,) = [c.name for c in SOURCES[source].table(name).columns if c.personal]
    return column


def _cpr_text(values: pd.Series) -> pd.Series:
    """CPR values as text; a number column (HR's) without a `.0`."""
    if values.dtype.kind in "iuf" or str(values.dtype) == "Int64":
        return values.astype("Int64").astype(str).where(values.notna())
    return values


def _named_rows(entry: ModelSource, rows: pd.DataFrame) -> pd.DataFrame:
    """The rows that name a person: every row of a register, the rows of events that carry a CPR."""
    return rows if entry.persons.register else rows[rows[entry.persons.cpr_column].notna()]


def _person_rows(live: dict[tuple[str, str], pd.DataFrame]) -> pd.DataFrame:
    """Every row naming a citizen by CPR, registers first, with the source's own birth date and gender."""
    parts = []
    for entry in person_entries(citizen=True):
        person, rows = entry.persons, _named_rows(entry, live[entry.key])
        ids = rows[person.id_column]
        birth = rows[person.birth_column] if person.birth_column else pd.Series(pd.NaT, index=ids.index)
        gender = rows[person.gender_column] if person.gender_column else pd.Series(None, index=ids.index, dtype="str")
        parts.append(pd.DataFrame({
            "source": entry.source, "source_table": entry.table, "source_person_id": _id(ids).to_numpy(),
            "cpr": _cpr_text(rows[person.cpr_column]).to_numpy(), "src_birth": birth.to_numpy(),
            "src_gender": gender.to_numpy()}))
    return pd.concat(parts, ignore_index=True)


def _citizen_keys(links: pd.DataFrame, pseudonymiser: Pseudonymiser):
    """`citizen(source, person_table, ids)`: the citizen key of each person id."""
    key_of = {(s, t): grp.set_index("source_person_id")["citizen_key"]
              for (s, t), grp in links.groupby(["source", "source_table"])}

    def citizen(source: str, table: str, ids: pd.Series) -> pd.Series:
        """Citizen key of a person id; an id unknown to the person table is its own citizen."""
        text = ids.astype("Int64").astype(str) if str(ids.dtype) != "str" else ids.astype(str)
        known = text.map(key_of.get((source, table), pd.Series(dtype="str"))).astype("str")  # str when none is known
        unknown = known.isna() & ids.notna()  # hash only the ids that need a key of their own
        fallback = pseudonymiser.many("source-person", (source + ":" + table + ":" + text).where(unknown))
        return known.fillna(fallback).where(ids.notna()).astype("str")

    return citizen


def _case_attributes(entry: ModelSource, rows: pd.DataFrame, cases: pd.DataFrame,
                     pseudonymiser: Pseudonymiser) -> pd.DataFrame:
    """Case key, citizen, unit and target group of rows hanging off a case, aligned with the
    rows; a row whose case is unknown is a citizen of its own (keyed on the case id)."""
    keys = _key(entry.source, rows[entry.case_column])
    attrs = cases.set_index("case_key")[["citizen_key", "unit_code", "target_group"]].reindex(keys)
    orphaned = attrs["citizen_key"].isna().to_numpy()  # hash only rows without a case's citizen
    orphan_key = pseudonymiser.many("source-person", (entry.source + ":case:" + keys).where(orphaned))
    return pd.DataFrame({"case_key": keys.to_numpy(),
                         "citizen_key": attrs["citizen_key"].fillna(pd.Series(orphan_key.to_numpy(), index=attrs.index)).to_numpy(),
                         "unit_code": attrs["unit_code"].to_numpy(), "target_group": attrs["target_group"].to_numpy()},
                        index=rows.index)


# --- the link step's own tables ---------------------------------------------------

def _citizens(links: pd.DataFrame, cpr_file: pd.DataFrame, register_cpr: pd.DataFrame) -> pd.DataFrame:
    """One row per citizen; demographics from the CPR extract, else the source, else the digits."""
    register = cpr_file.assign(cpr=register_cpr["cpr"]).dropna(subset=["cpr"])
    register = register.drop_duplicates("cpr", keep="last").set_index("cpr")
    ordered = links.assign(rank=links["kind"].map({"cpr": 0, "replacement": 1}).fillna(2)).sort_values(["citizen_key", "rank"])
    first = ordered.groupby("citizen_key", sort=True).agg(
        kind=("kind", "first"), cpr=("cpr", "first"), src_birth=("src_birth", "first"),
        src_gender=("src_gender", "first"), digit_birth=("birth_date", "first"), digit_gender=("gender", "first"))
    reg = register.reindex(first["cpr"])
    reg.index = first.index
    return pd.DataFrame({
        "citizen_key": first.index,
        "id_kind": first["kind"].map({"cpr": "cpr", "replacement": "replacement"}).fillna("source_id").to_numpy(),
        "birth_date": reg["FOED_DATO"].fillna(first["src_birth"]).fillna(first["digit_birth"]).to_numpy(),
        "gender": reg["KOEN"].fillna(first["src_gender"]).fillna(first["digit_gender"]).to_numpy(),
        "municipality_code": reg["KOMKOD"].to_numpy(), "bydel": reg["BYDEL"].to_numpy(),
        "cpr_status": reg["STATUS"].to_numpy()}).reset_index(drop=True)


def _checked_persons(live: dict[tuple[str, str], pd.DataFrame]) -> list[pd.DataFrame]:
    """Persons whose CPR is checked (DQ05, DQ09) but never linked (employees), normalised."""
    parts = []
    for entry in person_entries(citizen=False):
        rows = _named_rows(entry, live[entry.key])
        persons = pd.DataFrame({"source": entry.source, "source_table": entry.table,
                                "source_person_id": _id(rows[entry.persons.id_column]),
                                "cpr": _cpr_text(rows[entry.persons.cpr_column])})
        normalised = normalise_cpr(persons["cpr"])
        parts.append(persons.assign(kind=normalised["kind"], cpr=normalised["cpr"]))
    return parts


def _link_findings(links: pd.DataFrame, live: dict[tuple[str, str], pd.DataFrame],
                   register_cpr: pd.DataFrame, ref_role: pd.DataFrame) -> pd.DataFrame:
    """DQ05 (unusable CPR) and DQ09 (one CPR under several ids): only this step sees CPR."""
    source, table = CPR_REGISTER
    register = pd.DataFrame({  # record id = the file line (header is line 1)
        "source": source, "source_table": table, "source_person_id": (register_cpr.index.to_series() + 2).astype(str).to_numpy(),
        "kind": register_cpr["kind"].to_numpy(), "cpr": register_cpr["cpr"].to_numpy()})
    people = pd.concat([links[["source", "source_table", "source_person_id", "kind", "cpr"]], *_checked_persons(live),
                        register], ignore_index=True)

    # DQ05 population (catalogue, resolved reading): person tables, the rows naming a person
    # (above), and stays and uses of force without a CPR at facilities where registration is
    # required: every facility except those whose type is in an anonymous-allowed role (§109,
    # natcaféer); a facility the extract does not know requires registration.
    facility_type = live[("tilbud", "tilbud")].set_index("tilbud_id")["tilbudstype"]
    anonymous_allowed = facility_group(ref_role, "anonymous_allowed")
    unnamed = []
    for table, id_column in (("ophold", "ophold_id"), ("magtanvendelse", "magt_id")):
        rows = live[("tilbud", table)]
        required = ~rows["tilbud_id"].map(facility_type).isin(anonymous_allowed)
        missing = rows[rows["cpr"].isna() & required]
        unnamed.append(pd.DataFrame({"source": "tilbud", "source_table": table,
                                     "source_person_id": missing[id_column].astype("Int64").astype(str),
                                     "kind": KIND_MISSING, "cpr": None}))
    dq05 = pd.concat([people, *unnamed], ignore_index=True)
    dq05 = pd.DataFrame({"rule_id": "DQ05", "source": dq05["source"], "source_table": dq05["source_table"],
                         "record_id": dq05["source_person_id"], "failing": dq05["kind"].isin([KIND_MISSING, KIND_INVALID]),
                         "detail": dq05["kind"]})

    # DQ09: per person register, every row of a CPR seen under two or more source ids.
    registers = {e.label for e in person_entries() if e.persons.register}
    in_register = (people["source"] + "." + people["source_table"]).isin(registers)
    person_tables = people[in_register & people["cpr"].notna()]
    ids_per_cpr = person_tables.groupby(["source", "source_table", "cpr"])["source_person_id"].transform("nunique")
    dq09 = pd.DataFrame({"rule_id": "DQ09", "source": person_tables["source"], "source_table": person_tables["source_table"],
                         "record_id": person_tables["source_person_id"], "failing": ids_per_cpr >= 2,
                         "detail": (ids_per_cpr >= 2).map({True: "duplicate", False: None})})
    return pd.concat([dq05, dq09], ignore_index=True)


# --- builders: one per registry entry, inputs by parameter name ------------------

def _caseworker_key(pseudonymiser: Pseudonymiser, source: str, ids: pd.Series) -> pd.Series:
    """Pseudonym of (system, caseworker id): a caseworker id is only unique within its system."""
    return pseudonymiser.many("caseworker", source + ":" + ids.astype("Int64").astype(str).where(ids.notna()))


def _caseworker_id(ids: pd.Series) -> pd.Series:
    """The source's own caseworker id as text: what a data owner looks the caseworker up by."""
    return ids.astype("Int64").astype(str).where(ids.notna())


@builds("boern", "Sag")
def build_fact_case_boern(rows: pd.DataFrame, citizen, pseudonymiser: Pseudonymiser) -> pd.DataFrame:
    return pd.DataFrame({
        "case_key": _key("boern", rows["SagId"]), "source": "boern", "case_id": rows["SagId"].astype(str),
        "case_number": rows["Sagsnummer"], "citizen_key": citizen("boern", "Barn", rows["BarnId"]),
        "opened_date": rows["OprettetDato"], "closed_date": rows["LukketDato"], "unit_code": rows["EnhedKode"],
        "caseworker_key": _caseworker_key(pseudonymiser, "boern", rows["SagsbehandlerId"]),
        "caseworker_id": _caseworker_id(rows["SagsbehandlerId"]),
        "target_group": rows["Maalgruppe"], "area": AREA_CHILDREN})


@builds("voksen", "sag")
def build_fact_case_voksen(rows: pd.DataFrame, citizen, pseudonymiser: Pseudonymiser) -> pd.DataFrame:
    """An adult case has no case number of its own: its id is the number a complaint names."""
    return pd.DataFrame({
        "case_key": _key("voksen", rows["sag_id"]), "source": "voksen", "case_id": rows["sag_id"].astype(str),
        "case_number": rows["sag_id"].astype(str), "citizen_key": citizen("voksen", "borger", rows["borger_id"]),
        "opened_date": rows["oprettet"], "closed_date": rows["lukket"], "unit_code": rows["enhed_kode"],
        "caseworker_key": _caseworker_key(pseudonymiser, "voksen", rows["sagsbehandler_id"]),
        "caseworker_id": _caseworker_id(rows["sagsbehandler_id"]),
        "target_group": rows["maalgruppe"], "area": AREA_ADULTS})


def _decisions(source: str, rows: pd.DataFrame, case: pd.DataFrame, dim_paragraph: pd.DataFrame, area: str,
               *, decision_id: str, paragraph: str, applied: str, decided: str, deadline: str,
               outcome: str) -> pd.DataFrame:
    """Decisions of either system, named by the contract's columns."""
    return pd.DataFrame({
        "decision_key": _key(source, rows[decision_id]), "source": source, "decision_id": rows[decision_id].astype(str),
        "case_key": case["case_key"], "citizen_key": case["citizen_key"], "paragraph_text": rows[paragraph],
        "service_code": _service_codes(rows[paragraph], dim_paragraph), "application_date": rows[applied],
        "decision_date": rows[decided], "deadline_date": rows[deadline], "outcome": rows[outcome],
        "unit_code": case["unit_code"], "target_group": case["target_group"], "area": area})


@builds("boern", "Afgoerelse")
def build_fact_decision_boern(rows: pd.DataFrame, case: pd.DataFrame, dim_paragraph: pd.DataFrame) -> pd.DataFrame:
    return _decisions("boern", rows, case, dim_paragraph, AREA_CHILDREN, decision_id="AfgoerelseId",
                      paragraph="Paragraf", applied="AnsoegningDato", decided="AfgoerelseDato", deadline="FristDato",
                      outcome="Udfald")


@builds("voksen", "afgoerelse")
def build_fact_decision_voksen(rows: pd.DataFrame, case: pd.DataFrame, dim_paragraph: pd.DataFrame) -> pd.DataFrame:
    return _decisions("voksen", rows, case, dim_paragraph, AREA_ADULTS, decision_id="afgoerelse_id",
                      paragraph="paragraf", applied="ansoegt_dato", decided="afgoerelse_dato", deadline="frist_dato",
                      outcome="udfald")


def _listed_types(types: pd.Series, listed: pd.Series) -> tuple[pd.Series, pd.Series]:
    """A free-text type column as a breakdown may publish it: the value where it is on its
    list, else Ukendt (a caseworker's free text, a CPR typed into the field, never becomes a
    label in `public`). Returns the types and whether each was listed (DQ20 reports the rest)."""
    known = types.isin(set(listed)) | types.isna() | types.eq(UNKNOWN)
    return types.where(known, UNKNOWN), known


@builds("boern", "Foranstaltning")
def build_fact_service_boern(rows: pd.DataFrame, case: pd.DataFrame, dim_paragraph: pd.DataFrame) -> pd.DataFrame:
    """A child's measure: category and supplier are registered, no decision or facility is linked.
    `Type` is a closed contract column: validation reads an unlisted value as Ukendt; checked
    again here for partitions staged before the list was closed."""
    service_type, listed = _listed_types(rows["Type"], pd.Series(MEASURE_TYPES))
    return pd.DataFrame({
        "service_key": _key("boern", rows["ForanstaltningId"]), "source": "boern",
        "service_id": rows["ForanstaltningId"].astype(str), "case_key": case["case_key"],
        "citizen_key": case["citizen_key"], "decision_key": None, "paragraph_text": rows["Paragraf"],
        "service_code": _service_codes(rows["Paragraf"], dim_paragraph), "category": rows["Kategori"],
        "service_type": service_type, "service_type_listed": listed,
        "start_date": rows["StartDato"], "end_date": rows["SlutDato"],
        "supplier": rows["Leverandoer"], "facility_id": None, "unit_code": case["unit_code"],
        "target_group": case["target_group"], "area": AREA_CHILDREN})


@builds("voksen", "ydelse")
def build_fact_service_voksen(rows: pd.DataFrame, case: pd.DataFrame, dim_paragraph: pd.DataFrame,
                              ref_service_type: pd.DataFrame) -> pd.DataFrame:
    """An adult service: linked to its decision and, when delivered at one, its facility; its
    free-text `ydelsestype` published only when `reference/service_types.csv` lists it."""
    service_type, listed = _listed_types(
        rows["ydelsestype"], ref_service_type.loc[ref_service_type["source"] == "voksen", "service_type"])
    return pd.DataFrame({
        "service_key": _key("voksen", rows["ydelse_id"]), "source": "voksen",
        "service_id": rows["ydelse_id"].astype(str), "case_key": case["case_key"],
        "citizen_key": case["citizen_key"],
        "decision_key": _key("voksen", rows["afgoerelse_id"]).where(rows["afgoerelse_id"].notna()),
        "paragraph_text": rows["paragraf"], "service_code": _service_codes(rows["paragraf"], dim_paragraph),
        "category": None, "service_type": service_type, "service_type_listed": listed,
        "start_date": rows["start_dato"],
        "end_date": rows["slut_dato"], "supplier": None,
        "facility_id": _id(rows["tilbud_id"]).where(rows["tilbud_id"].notna()),
        "unit_code": case["unit_code"], "target_group": case["target_group"], "area": AREA_ADULTS})


@builds("boern", "Undersoegelse")
def build_fact_investigation(rows: pd.DataFrame, case: pd.DataFrame, dim_paragraph: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "investigation_id": _id(rows["UndersoegelseId"]), "case_key": case["case_key"],
        "citizen_key": case["citizen_key"], "paragraph_text": rows["Paragraf"],
        "service_code": _service_codes(rows["Paragraf"], dim_paragraph), "start_date": rows["StartDato"],
        "deadline_date": rows["FristDato"], "completed_date": rows["AfsluttetDato"], "unit_code": case["unit_code"]})


@builds("boern", "Handleplan")
def build_fact_plan(rows: pd.DataFrame, case: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "plan_id": _id(rows["HandleplanId"]), "case_key": case["case_key"],
        "decision_key": _key("boern", rows["AfgoerelseId"]).where(rows["AfgoerelseId"].notna()),
        "plan_date": rows["Dato"], "next_followup_date": rows["NaesteOpfoelgning"]})


@builds("boern", "Underretning")
def build_fact_notification(rows: pd.DataFrame, citizen, fact_case: pd.DataFrame) -> pd.DataFrame:
    """A notification's unit is that of the child's case opened last on or before it
    arrived (else the child's first case; else unknown)."""
    notes = rows.assign(child_key=citizen("boern", "Barn", rows["BarnId"]))
    boern_cases = fact_case[fact_case["source"] == "boern"]
    cases = boern_cases[["citizen_key", "opened_date", "unit_code"]].dropna(subset=["opened_date"]).sort_values("opened_date")
    left = notes.reset_index().sort_values("ModtagetTid")
    matched = pd.merge_asof(left, cases.rename(columns={"citizen_key": "child_key"}), left_on="ModtagetTid",
                            right_on="opened_date", by="child_key", direction="backward")
    first_unit = cases.drop_duplicates("citizen_key").set_index("citizen_key")["unit_code"]
    matched["unit_code"] = matched["unit_code"].fillna(matched["child_key"].map(first_unit))
    matched = matched.set_index("index").reindex(notes.index)
    return pd.DataFrame({
        "notification_id": _id(rows["UnderretningId"]),
        "child_id": rows["BarnId"].astype("Int64").astype(str).where(rows["BarnId"].notna()),
        "citizen_key": notes["child_key"], "received_at": rows["ModtagetTid"], "assessed_at": rows["VurderetTid"],
        "notification_source": rows["Kilde"], "acute": rows["Akut"], "unit_code": matched["unit_code"],
        "area": AREA_CHILDREN})


@builds("tilbud", "tilbud")
def build_dim_facility(rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({"facility_id": _id(rows["tilbud_id"]), "facility_type": rows["tilbudstype"],
                         "unit_code": rows["enhed_kode"], "places": rows["pladser"],
                         "active_from": rows["aktiv_fra"], "active_to": rows["aktiv_til"]})


@builds("tilbud", "ophold")
def build_fact_stay(rows: pd.DataFrame, citizen, dim_facility: pd.DataFrame, dim_org: pd.DataFrame) -> pd.DataFrame:
    """A stay takes its type and unit from its facility, its area from that unit; a stay
    without a CPR is anonymous (no citizen)."""
    facility = dim_facility.set_index("facility_id")
    stay_facility = _id(rows["tilbud_id"])
    stay_unit = stay_facility.map(facility["unit_code"])
    return pd.DataFrame({
        "stay_key": _key("tilbud", rows["ophold_id"]), "stay_id": rows["ophold_id"].astype(str),
        "facility_id": stay_facility, "facility_type": stay_facility.map(facility["facility_type"]).fillna(UNKNOWN),
        "citizen_key": citizen("tilbud", "ophold", rows["ophold_id"].astype("Int64").where(rows["cpr"].notna())),
        "has_cpr": rows["cpr"].notna(), "check_in": rows["indskrevet"], "check_out": rows["udskrevet"],
        "discharged_to": rows["udskrevet_til"], "unit_code": stay_unit, "area": _org_area(stay_unit, dim_org)})


@builds("tilbud", "magtanvendelse")
def build_fact_use_of_force(rows: pd.DataFrame, citizen) -> pd.DataFrame:
    return pd.DataFrame({
        "force_id": _id(rows["magt_id"]), "facility_id": _id(rows["tilbud_id"]),
        "citizen_key": citizen("tilbud", "magtanvendelse", rows["magt_id"].astype("Int64").where(rows["cpr"].notna())),
        "occurred_at": rows["tidspunkt"], "force_type": rows["type"]})


def normalise_case_reference(values: pd.Series) -> pd.Series:
    """Case references as registered by hand: spaces and case do not matter."""
    return values.astype("str").str.upper().str.replace(r"\s+", "", regex=True)


@builds("klage", "klage")
def build_fact_complaint(rows: pd.DataFrame, fact_case: pd.DataFrame) -> pd.DataFrame:
    """Resolve each complaint's reference within its named system only (DQ03)."""
    ref = normalise_case_reference(rows["sagsreference"])
    boern = fact_case[fact_case["source"] == "boern"]
    voksen = fact_case[fact_case["source"] == "voksen"]
    by_number = pd.Series(boern["case_key"].to_numpy(), index=normalise_case_reference(boern["case_number"])).groupby(level=0).first()
    by_id = pd.Series(voksen["case_key"].to_numpy(), index=voksen["case_id"].astype(str)).groupby(level=0).first()
    voksen_ref = ref.str.lstrip("0")
    case_key = pd.Series(None, index=rows.index, dtype="str")
    case_key = case_key.mask(rows["kilde_system"] == "boern", ref.map(by_number))
    case_key = case_key.mask(rows["kilde_system"] == "voksen", voksen_ref.map(by_id))
    return pd.DataFrame({
        "complaint_id": _id(rows["klage_id"]), "received_date": rows["modtaget_dato"],
        "complaint_type": rows["klagetype"], "cause": rows["aarsag"], "unit_code": rows["enhed_kode"],
        "source_system": rows["kilde_system"], "case_reference": rows["sagsreference"], "case_key": case_key,
        "reconsideration": rows["genvurdering"], "appeals_outcome": rows["ankestyrelse_udfald"],
        "decided_date": rows["afgjort_dato"]})


@builds("voksen", "venteliste")
def build_fact_waiting_list(rows: pd.DataFrame, citizen) -> pd.DataFrame:
    return pd.DataFrame({
        "waiting_id": _id(rows["venteliste_id"]), "citizen_key": citizen("voksen", "borger", rows["borger_id"]),
        "offer_type": rows["tilbudstype"], "listed_date": rows["opskrevet_dato"], "left_date": rows["afgang_dato"],
        "left_reason": rows["afgang_aarsag"]})


@builds("voksen", "funktionsvurdering")
def build_fact_assessment(rows: pd.DataFrame, citizen) -> pd.DataFrame:
    return pd.DataFrame({
        "assessment_id": _id(rows["vurdering_id"]), "citizen_key": citizen("voksen", "borger", rows["borger_id"]),
        "assessment_date": rows["dato"], "level": rows["niveau"]})


def _employee_key(pseudonymiser: Pseudonymiser, ids: pd.Series) -> pd.Series:
    """Pseudonym of an employee (issue 21): sick days are health data, so facts carry no
    HR number; namespace `employee`, as caseworkers use `caseworker`."""
    return pseudonymiser.many("employee", _key("hr", ids).where(ids.notna()))


@builds("hr", "medarbejder")
def build_dim_employee(rows: pd.DataFrame, pseudonymiser: Pseudonymiser) -> pd.DataFrame:
    """Employees are not citizens: their CPR is only checked (DQ05, DQ09), never kept."""
    return pd.DataFrame({
        "employee_key": _employee_key(pseudonymiser, rows["medarbejder_nr"]),
        "employee_id": _id(rows["medarbejder_nr"]), "unit_code": rows["enhed_kode"],
        "job_category": rows["stillingskategori"], "hired_date": rows["ansat_dato"], "left_date": rows["fratraadt_dato"],
        "leave_reason": rows["fratraedelsesaarsag"], "fte": rows["beskaeftigelsesgrad"]})


@builds("hr", "fravaer")
def build_fact_absence(rows: pd.DataFrame, pseudonymiser: Pseudonymiser) -> pd.DataFrame:
    return pd.DataFrame({
        "absence_id": _id(rows["fravaer_id"]), "employee_key": _employee_key(pseudonymiser, rows["medarbejder_nr"]),
        "absence_type": rows["fravaerstype"], "from_date": rows["fra_dato"], "to_date": rows["til_dato"]})


@builds("hr", "rekruttering")
def build_fact_recruitment(rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "recruitment_id": _id(rows["rekruttering_id"]), "unit_code": rows["enhed_kode"],
        "job_category": rows["stillingskategori"], "posted_date": rows["opslaaet_dato"],
        "closed_date": rows["afsluttet_dato"], "result": rows["resultat"]})


@builds("hr", "arbejdsmiljoe_haendelse")
def build_fact_incident(rows: pd.DataFrame, pseudonymiser: Pseudonymiser) -> pd.DataFrame:
    return pd.DataFrame({
        "incident_id": _id(rows["haendelse_id"]),
        "employee_key": _employee_key(pseudonymiser, rows["medarbejder_nr"]),
        "unit_code": rows["enhed_kode"], "facility_id": _id(rows["tilbud_id"]).where(rows["tilbud_id"].notna()),
        "incident_date": rows["dato"], "category": rows["kategori"]})


@builds("beskaeftigelse", "beskaeftigelse")
def build_fact_employment_status(rows: pd.DataFrame, pseudonymiser: Pseudonymiser) -> pd.DataFrame:
    """Employment status links on CPR alone; a row without a usable number cannot be placed,
    nor a second row for the same person and month. The register is the largest table, so
    it is keyed directly rather than through the person links."""
    cpr = normalise_cpr(rows["cpr"])
    usable = cpr["kind"].isin([KIND_CPR, KIND_REPLACEMENT])
    return pd.DataFrame({  # aligned on the register's index, no Python objects
        "citizen_key": pseudonymiser.many("person", cpr["cpr"]), "month": rows["maaned"],
        "status": rows["status"], "completed_education": rows["afsluttet_uddannelse"],
    })[usable].drop_duplicates(["citizen_key", "month"], keep="last")


#: The builder of each derived model table (`DERIVED_TABLES`).
_DERIVED = {MEASURE_LINK: build_measure_links}


# --- the economy (theme 6): money linked to measures -----------------------------------

#: A measure reference as registered by hand: a letter prefix with `-` (`F-000123`).
_REFERENCE_PREFIX = r"^[^\W\d_]+-"


def normalise_measure_reference(values: pd.Series) -> pd.Series:
    """`foranstaltning_ref` as economy.md normalises it: trimmed, a leading prefix of one or
    more letters followed by `-` removed, leading zeros removed; empty becomes NULL."""
    text = values.astype("str").str.strip().str.replace(_REFERENCE_PREFIX, "", regex=True).str.lstrip("0")
    return text.where(text.notna() & (text != ""))


def money_class(art: pd.Series) -> pd.Series:
    """expense (art 4.*), revenue (7.*, 8.*) or other, by the art's main class (economy.md:
    told by art, never by sign)."""
    codes, arts = pd.factorize(art.astype("str"), use_na_sentinel=False)  # a few hundred arts, not a row each
    main = pd.Series(arts, dtype="str").str.strip().str.split(".", n=1).str[0]
    classes = pd.Series(np.select([main == "4", main.isin(["7", "8"])], ["expense", "revenue"], "other"), dtype="str")
    return pd.Series(classes.take(codes).array, index=art.index, dtype="str")


def _link_measures(systems: pd.Series, references: pd.Series, dim_measure_link: pd.DataFrame) -> pd.Series:
    """The service key each normalised reference names in its own system (NULL when none:
    no system, no reference, or no such measure there, deleted ones included)."""
    links = dim_measure_link[dim_measure_link["service_key"].notna()]
    keys = links["source"] + ":" + links["service_id"]
    first = ~keys.duplicated(keep="first").to_numpy()  # a key named twice: its first service key
    wanted = (systems.astype("str") + ":" + references).where(systems.notna() & references.notna())
    # looked up in Arrow's hash table: 1.58 M postings at Copenhagen, 0.6 s as a pandas map
    at = pc.index_in(pa.array(wanted, type=pa.large_string()), value_set=pa.array(keys[first], type=pa.large_string()))
    return pd.Series(pd.array(pa.array(links["service_key"][first], type=pa.large_string()).take(at), dtype="str"),
                     index=systems.index)


def _repeated_after_first(columns: list[pd.Series], order_by: pd.Series) -> pd.Series:
    """Whether each row repeats the values of `columns` (NULL equal to NULL) of a row with a
    lower `order_by`. Worked on integer codes of each column: the postings (15.9 M rows at
    national) never become Python objects, which took several GiB. Only rows whose first
    column's value is on another row too can repeat one (a voucher number is nearly unique),
    so the other columns are read for those rows alone."""
    first, _ = pd.factorize(columns[0], use_na_sentinel=False)  # NULL is a value of its own
    shared = np.flatnonzero(pd.Series(first).duplicated(keep=False).to_numpy())
    group = first[shared]
    for column in columns[1:]:
        codes, uniques = pd.factorize(column.iloc[shared], use_na_sentinel=False)
        group, _ = pd.factorize(group * (len(uniques) + 1) + codes)  # both < rows: no overflow
    order = np.argsort(order_by.iloc[shared].astype("Int64").to_numpy(dtype="int64", na_value=np.iinfo("int64").max),
                       kind="stable")
    repeated = np.zeros(len(order_by), dtype=bool)
    repeated[shared[order]] = pd.Series(group[order]).duplicated(keep="first").to_numpy()
    return pd.Series(repeated, index=order_by.index)


@builds("oekonomi", "postering")
def build_fact_posting(rows: pd.DataFrame, dim_measure_link: pd.DataFrame) -> pd.DataFrame:
    """Postings with their money class and the measure they reach. DQ18's copies are marked
    here once (every copy after the lowest postering_id of the same voucher, amount,
    function, system and normalised reference), so no KPI counts them."""
    reference = normalise_measure_reference(rows["foranstaltning_ref"])
    cents = (rows["beloeb"].astype("Float64") * 100).round().astype("Int64")
    duplicate = _repeated_after_first(
        [rows["bilag"], cents, rows["funktion"], rows["kilde_system"], reference], rows["postering_id"])
    return pd.DataFrame({
        "posting_id": _id(rows["postering_id"]), "booked_date": rows["bogfoert_dato"],
        "period_from": rows["periode_fra"], "period_to": rows["periode_til"], "amount": rows["beloeb"],
        "funktion": rows["funktion"], "art": rows["art"], "money_class": money_class(rows["art"]),
        "unit_code": rows["enhed_kode"], "creditor_type": rows["kreditor_type"],
        "source_system": rows["kilde_system"], "has_reference": reference.notna(),
        "service_key": _link_measures(rows["kilde_system"], reference, dim_measure_link),
        "duplicate": duplicate})


@builds("oekonomi", "budget")
def build_fact_budget(rows: pd.DataFrame) -> pd.DataFrame:
    return pd.DataFrame({
        "budget_id": _id(rows["budget_id"]), "year": rows["aar"], "month": rows["maaned"],
        "funktion": rows["funktion"], "unit_code": rows["enhed_kode"], "amount": rows["beloeb"],
        "version": rows["version"]})


@builds("oekonomi", "disponering")
def build_fact_commitment(rows: pd.DataFrame, dim_measure_link: pd.DataFrame) -> pd.DataFrame:
    """Commitments with the measure they commit (the reference normalised as a posting's)."""
    return pd.DataFrame({
        "commitment_id": _id(rows["disponering_id"]), "source_system": rows["kilde_system"],
        "from_date": rows["fra_dato"], "to_date": rows["til_dato"], "rate": rows["takst"],
        "rate_unit": rows["takst_enhed"], "funktion": rows["funktion"],
        "cancelled": rows["annulleret"].fillna(False).astype(bool),
        "service_key": _link_measures(rows["kilde_system"], normalise_measure_reference(rows["foranstaltning_ref"]),
                                      dim_measure_link)})
