"""The model registry: one entry per source table that feeds the canonical model.

An entry says which model table a contract table's rows go to, whether they hang off a
case (rows of a soft-deleted case drop out with it) and where they name a person by CPR.
Its builder, a small function in `etl.model.build`, is attached with `@builds(source,
table)`. The soft-delete column is the contract's own (`TableSpec.soft_delete`), never
retyped here.

Everything that needs to know where source rows go derives from this one list: the model
build's loop, the row accounting behind DQ14 (`etl.model.accounting`), the data-quality
populations that split a model table by source table (`etl.quality.rules`) and the test
that a KPI's lineage (`etl.kpi.catalog`) names sources that really feed the model tables it
reads (`sources_feeding`). Adding a source table that feeds the model is its contract, one
entry here, its builder, and its generator (docs/architecture.md, "Adding things").
"""

from __future__ import annotations

import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pandas as pd

from etl.core.tables import TableSpec
from etl.model.tables import MODEL_TABLES
from etl.sources import SOURCES

#: Where the link step records how every person row was linked.
LINK_PERSON = "link_person"
#: Model tables the link step makes from every CPR-bearing row at once, not one builder each.
LINK_TABLES = ("dim_citizen", LINK_PERSON, "link_finding")
#: Model tables loaded from the municipality's reference folder, not from a source.
REFERENCE_TABLES = ("dim_org", "dim_paragraph", "ref_deadline", "ref_account", "ref_refusion", "ref_role",
                    "ref_service_type")
#: The model table every case-bearing source's case table feeds.
CASE_TABLE = "fact_case"

#: The population register: read whole by the link step, not placed row by row.
CPR_REGISTER = ("cpr", "cpr")
#: Contract tables the link step reads beside the registry, and what for.
READ_BY_LINK_STEP: dict[tuple[str, str], str] = {
    CPR_REGISTER: "the CPR register: demographics of dim_citizen (birth date, gender, municipality, "
                    "bydel, status) and its own rows in DQ05",
}
#: Contract tables nothing in the model reads, and why.
NOT_IN_MODEL: dict[tuple[str, str], str] = {
    ("boern", "Sagsbehandler"): "caseworkers are pseudonymised from the case's SagsbehandlerId; the table "
                                "itself (unit, active) is extracted and checked but read by no KPI",
}

#: The model table the build derives once the measure and case tables are complete: every
#: measure and service with its case, soft-deleted ones included, because money spent on a
#: measure deleted since still reaches it (economy.md). Not fed row by row by one entry.
MEASURE_LINK = "dim_measure_link"
#: Derived model tables -> the model tables (with every entry feeding them) complete before it.
DERIVED_TABLES: dict[str, tuple[str, ...]] = {MEASURE_LINK: (CASE_TABLE, "fact_service")}

#: What a builder may ask for by parameter name, besides the model tables built before it.
BUILDER_INPUTS = {
    "rows": "the source table's rows, without soft-deleted rows and rows of a soft-deleted case",
    "case": "for rows that hang off a case: case_key, citizen_key, unit_code, target_group, aligned with rows",
    "citizen": "citizen(source, person_table, ids) -> the citizen keys of a person register's ids",
    "pseudonymiser": "the keyed pseudonymiser (etl.model.link.Pseudonymiser)",
}

Builder = Callable[..., pd.DataFrame]


@dataclass(frozen=True)
class PersonColumns:
    """How a source table names a person: the row's own id and its CPR column, and the
    source's birth date and gender where it has them (used when the CPR register does
    not know the person).

    `register`: one row per person (`Barn`, `borger`, `medarbejder`), so one CPR under two
    ids is a duplicate (DQ09); otherwise each row is an event carrying a CPR (a stay).
    `citizen`: linked into the citizen model; employees are checked (DQ05, DQ09), never linked.
    """

    id_column: str
    cpr_column: str
    birth_column: str | None = None
    gender_column: str | None = None
    register: bool = False
    citizen: bool = True


@dataclass(frozen=True)
class ModelSource:
    """One contract table and the model table its rows go to.

    `case_column`: the rows hang off a case of the same source (that id column), so rows of
    a soft-deleted case drop out with it and the builder gets the case's attributes.
    `keyed_by_cpr`: the rows are placed on the person's normalised CPR plus the rest of the
    contract's primary key (no source person id), so a row without a usable CPR, or
    repeating a placed key, cannot be placed (counted as `dropped_unplaceable`).
    An entry whose model table is `link_person` is a person register placed by the link
    step alone; it has no builder.
    """

    source: str
    table: str
    model_table: str
    case_column: str | None = None
    persons: PersonColumns | None = None
    keyed_by_cpr: bool = False

    @property
    def key(self) -> tuple[str, str]:
        return (self.source, self.table)

    @property
    def label(self) -> str:
        return f"{self.source}.{self.table}"

    @property
    def spec(self) -> TableSpec:
        """The contract of the table (`etl/sources/<source>.py`)."""
        return SOURCES[self.source].table(self.table)

    @property
    def soft_delete(self) -> str | None:
        """The contract's soft-delete column: rows flagged there count nowhere."""
        return self.spec.soft_delete

    @property
    def linked_only(self) -> bool:
        """A person register: its rows become `link_person` rows in the link step, no builder."""
        return self.model_table == LINK_PERSON

    @property
    def builder(self) -> Builder | None:
        return _BUILDERS.get(self.key)

    @property
    def reads(self) -> tuple[str, ...]:
        """The model tables the builder reads: its parameters that name one, and the case
        table when it asks for its rows' `case`."""
        parameters = _parameters(self.builder) if self.builder else ()
        return tuple(dict.fromkeys([*(CASE_TABLE for p in parameters if p == "case"),
                                    *(p for p in parameters if p in MODEL_TABLES)]))


MODEL_SOURCES: tuple[ModelSource, ...] = (
    # Person registers: linked to citizens in one pass before anything else is built.
    ModelSource("boern", "Barn", LINK_PERSON,
                persons=PersonColumns("BarnId", "CPR", "Foedselsdato", "Koen", register=True)),
    ModelSource("voksen", "borger", LINK_PERSON,
                persons=PersonColumns("borger_id", "cpr", "foedselsdato", "koen", register=True)),
    # Cases come first: decisions, services, investigations and plans hang off them.
    ModelSource("boern", "Sag", "fact_case"),
    ModelSource("voksen", "sag", "fact_case"),
    ModelSource("boern", "Afgoerelse", "fact_decision", case_column="SagId"),
    ModelSource("voksen", "afgoerelse", "fact_decision", case_column="sag_id"),
    ModelSource("boern", "Foranstaltning", "fact_service", case_column="SagId"),
    ModelSource("voksen", "ydelse", "fact_service", case_column="sag_id"),
    ModelSource("boern", "Undersoegelse", "fact_investigation", case_column="SagId"),
    ModelSource("boern", "Handleplan", "fact_plan", case_column="SagId"),
    ModelSource("boern", "Underretning", "fact_notification"),
    ModelSource("tilbud", "tilbud", "dim_facility"),
    ModelSource("tilbud", "ophold", "fact_stay", persons=PersonColumns("ophold_id", "cpr")),
    ModelSource("tilbud", "magtanvendelse", "fact_use_of_force", persons=PersonColumns("magt_id", "cpr")),
    ModelSource("klage", "klage", "fact_complaint"),
    ModelSource("voksen", "venteliste", "fact_waiting_list"),
    ModelSource("voksen", "funktionsvurdering", "fact_assessment"),
    ModelSource("hr", "medarbejder", "dim_employee",
                persons=PersonColumns("medarbejder_nr", "cpr", register=True, citizen=False)),
    ModelSource("hr", "fravaer", "fact_absence"),
    ModelSource("hr", "rekruttering", "fact_recruitment"),
    ModelSource("hr", "arbejdsmiljoe_haendelse", "fact_incident"),
    ModelSource("beskaeftigelse", "beskaeftigelse", "fact_employment_status", keyed_by_cpr=True),
    # The economy (theme 6): money reaches measures through their reference, so it comes
    # after the measures (dim_measure_link is derived from them, deleted ones included).
    ModelSource("oekonomi", "postering", "fact_posting"),
    ModelSource("oekonomi", "budget", "fact_budget"),
    ModelSource("oekonomi", "disponering", "fact_commitment"),
)

_BUILDERS: dict[tuple[str, str], Builder] = {}


def entry(source: str, table: str) -> ModelSource:
    for candidate in MODEL_SOURCES:
        if candidate.key == (source, table):
            return candidate
    raise KeyError(f"{source}.{table} is not in the model registry (etl/model/registry.py)")


def feeding(model_table: str) -> tuple[ModelSource, ...]:
    """The entries whose rows go to `model_table`, in build order."""
    return tuple(e for e in MODEL_SOURCES if e.model_table == model_table)


def case_entry(source: str) -> ModelSource:
    """The source's case table (the one feeding `fact_case`)."""
    for candidate in feeding(CASE_TABLE):
        if candidate.source == source:
            return candidate
    raise KeyError(f"source {source} has no case table in the model registry")


def person_entries(citizen: bool | None = None) -> tuple[ModelSource, ...]:
    """Entries naming a person by CPR: registers first, then rows carrying a CPR (the order
    the link step reads them in); `citizen` narrows to linked (True) or checked-only (False)."""
    named = [e for e in MODEL_SOURCES if e.persons and (citizen is None or e.persons.citizen == citizen)]
    return tuple(sorted(named, key=lambda e: not e.persons.register))


def sources_feeding(model_table: str) -> tuple[str, ...]:
    """The sources whose rows reach `model_table` (lineage), in registry order.

    A link-step table is fed by every source naming its persons (and, for the citizen
    dimension and the findings, the CPR register); a reference table by no source."""
    if model_table in REFERENCE_TABLES:
        return ()
    if model_table in DERIVED_TABLES:
        return tuple(dict.fromkeys(s for t in DERIVED_TABLES[model_table] for s in sources_feeding(t)))
    if model_table in (LINK_PERSON, "dim_citizen"):
        entries = person_entries(citizen=True)
    elif model_table == "link_finding":
        entries = person_entries()
    else:
        entries = feeding(model_table)
    sources = [e.source for e in MODEL_SOURCES if e in entries]
    if model_table in ("dim_citizen", "link_finding"):
        sources += [source for source, _table in READ_BY_LINK_STEP]
    return tuple(dict.fromkeys(sources))


def split_by_source_table(model_table: str, frame: pd.DataFrame) -> Iterator[tuple[str, str, pd.DataFrame]]:
    """A model frame as the source tables it came from: `(source, table, rows)` per entry.

    A table fed by several systems is split on its `source` column; one fed by a single
    source table is that table's whole."""
    entries = feeding(model_table)
    if not entries:
        raise KeyError(f"no source table feeds {model_table}")
    if "source" not in MODEL_TABLES[model_table].column_names:
        (only,) = entries
        yield only.source, only.table, frame
        return
    for e in entries:
        yield e.source, e.table, frame[frame["source"] == e.source]


def builds(source: str, table: str) -> Callable[[Builder], Builder]:
    """Attach the decorated function as the builder of registry entry `source.table`.

    Its parameters name its inputs (`BUILDER_INPUTS`, or a model table built before it);
    it returns the entry's model rows in any column order (the model conforms them)."""
    target = entry(source, table)

    def register(builder: Builder) -> Builder:
        if target.linked_only:
            raise ValueError(f"{target.label} is placed by the link step; it takes no builder")
        if target.key in _BUILDERS:
            raise ValueError(f"{target.label} already has a builder ({_BUILDERS[target.key].__name__})")
        _check_inputs(target, _parameters(builder))
        _BUILDERS[target.key] = builder
        return builder

    return register


def _parameters(builder: Builder) -> tuple[str, ...]:
    return tuple(inspect.signature(builder).parameters)


def _check_inputs(target: ModelSource, parameters: tuple[str, ...]) -> None:
    """A builder reads only what exists when it runs: the fixed inputs, reference and
    link-step tables, and model tables every feeding entry of which comes earlier."""
    position = MODEL_SOURCES.index(target)
    for name in parameters:
        if name == "case" and not target.case_column:
            raise ValueError(f"{target.label}: asks for `case` but has no case_column")
        if name in BUILDER_INPUTS or name in REFERENCE_TABLES or name in LINK_TABLES:
            continue
        if name in DERIVED_TABLES:
            later = [e.label for t in DERIVED_TABLES[name] for e in feeding(t) if MODEL_SOURCES.index(e) >= position]
            if later:
                raise ValueError(f"{target.label} reads {name}, derived from tables not complete before it "
                                 f"(built by {', '.join(later)})")
            continue
        if name not in MODEL_TABLES:
            raise ValueError(f"{target.label}: unknown builder input {name!r}; known: "
                             f"{', '.join(BUILDER_INPUTS)} or a model table")
        later = [e.label for e in feeding(name) if MODEL_SOURCES.index(e) >= position]
        if later or not feeding(name):
            raise ValueError(f"{target.label} reads {name}, which is not complete before it "
                             f"(built by {', '.join(later) or 'nothing'})")


def _check_registry(entries: tuple[ModelSource, ...]) -> None:
    """Every entry names a contract table and contract columns; cases come before the
    rows that hang off them. Run at import, so a wrong entry fails before any build."""
    seen: set[tuple[str, str]] = set()
    for e in entries:
        if e.key in seen:
            raise ValueError(f"{e.label} is in the model registry twice")
        seen.add(e.key)
        if e.model_table not in MODEL_TABLES:
            raise ValueError(f"{e.label}: unknown model table {e.model_table!r}")
        if (e.model_table in REFERENCE_TABLES or e.model_table in DERIVED_TABLES
                or e.model_table in ("dim_citizen", "link_finding")):
            raise ValueError(f"{e.label}: {e.model_table} is not built from source rows")
        spec = e.spec  # KeyError for a table no contract has
        if e.case_column:
            spec.column(e.case_column)
            case = case_entry(e.source)
            if entries.index(case) > entries.index(e):
                raise ValueError(f"{e.label} hangs off {case.label}, which comes after it")
            if len(case.spec.primary_key) != 1:
                raise ValueError(f"{case.label}: a case table needs a one-column primary key")
        if e.persons:
            for column in (e.persons.id_column, e.persons.cpr_column, e.persons.birth_column,
                           e.persons.gender_column):
                if column:
                    spec.column(column)
            if not spec.column(e.persons.cpr_column).personal:
                raise ValueError(f"{e.label}: {e.persons.cpr_column} is not a personal column in the contract")
        if e.linked_only and not (e.persons and e.persons.register and e.persons.citizen):
            raise ValueError(f"{e.label}: only a person register linked to citizens goes to {LINK_PERSON}")
        if e.keyed_by_cpr and not any(spec.column(c).personal for c in spec.primary_key):
            raise ValueError(f"{e.label}: keyed_by_cpr needs a personal column in the primary key")


_check_registry(MODEL_SOURCES)
