"""The domain's value lists are written once: the contracts use them, nobody re-types them.

The expected memberships below are typed out by hand from the KPI catalogue and the
contracts on purpose: a grouping that changes must change here too, visibly.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pandas as pd
import pytest

from etl.core import vocabulary as v
from etl.core.settings import REPO_ROOT
from etl.core.tables import LOGICAL_TYPES, TableSpec, col
from etl.model import conform, empty_frame
from etl.sources import SOURCES
from schemas import schema_for

#: Every list of the vocabulary, by name (the module's tuples of text).
LISTS = {name: value for name, value in vars(v).items()
         if name.isupper() and isinstance(value, tuple) and all(isinstance(x, str) for x in value)}
#: The lists no module may copy. CASE_SYSTEMS holds source names, which the source
#: registry owns (a rule's `sources=("boern", "voksen")` is no copy of the vocabulary).
NOT_TO_COPY = {name: values for name, values in LISTS.items() if name != "CASE_SYSTEMS"}


def test_each_facility_grouping_keeps_exactly_its_members():
    assert v.FACILITY_TYPES == ("Herberg §110", "Forsorgshjem §110", "Natcafé", "Krisecenter §109",
                                "Midlertidigt botilbud §107", "Længerevarende botilbud §108", "Almen bolig ABL §105")
    assert v.SELF_REFERRED_FACILITY_TYPES == ("Herberg §110", "Forsorgshjem §110", "Natcafé")
    assert v.BOTILBUD_107_108 == ("Midlertidigt botilbud §107", "Længerevarende botilbud §108")
    assert v.HOUSING_FACILITY_TYPES == ("Midlertidigt botilbud §107", "Længerevarende botilbud §108",
                                        "Almen bolig ABL §105")
    assert v.SHELTERS_AND_NATCAFE == ("Herberg §110", "Forsorgshjem §110", "Natcafé", "Krisecenter §109")


def test_the_other_groupings_keep_exactly_their_members():
    assert v.IN_WORK_OR_EDUCATION == ("Beskæftiget", "Uddannelse", "Erhvervspraktik")
    assert v.GRANTED == ("Bevilget", "Delvis bevilget")
    assert v.SICKNESS_ABSENCE_TYPES == ("Egen sygdom", "Arbejdsskade")
    assert v.LEAVE_REASONS_NOT_TURNOVER == ("Død",)
    assert v.LEAVE_REASONS_NOT_VOLUNTARY == ("Død", "Pension")
    assert (v.UNKNOWN, v.OWN_HOME, v.ANBRINGELSE, v.FOREBYGGENDE) == ("Ukendt", "Egen bolig", "Anbringelse", "Forebyggende")
    assert v.AREAS == ("Børn og Unge", "Voksne", "Tværgående")


def test_a_grouping_with_a_value_outside_its_list_is_refused_at_import():
    with pytest.raises(ValueError, match=r"\['Herberg §111'\] are not among"):
        v._within(("Herberg §110", "Herberg §111"), v.FACILITY_TYPES)


def test_every_closed_contract_column_uses_a_vocabulary_list():
    """The very tuple, not an equal copy: a list re-typed in a contract fails here."""
    closed = [(s.name, t.name, c) for s in SOURCES.values() for t in s.tables for c in t.columns if c.allowed]
    assert len(closed) == 35  # klage.aarsag (T3.05's cause) and boern's Foranstaltning.Type since issue 19
    for source, table, column in closed:
        assert any(column.allowed is values for values in LISTS.values()), (source, table, column.name)
    tilbud = SOURCES["tilbud"].table("tilbud").column("tilbudstype")
    assert tilbud.allowed is v.FACILITY_TYPES


def test_the_areas_are_those_of_the_organisation_reference():
    organisation = pd.read_csv(REPO_ROOT / "reference" / "organisation.csv", dtype=str)
    assert set(organisation["area"]) == set(v.AREAS)


def test_one_dtype_map_for_schemas_and_model_frames():
    assert LOGICAL_TYPES == tuple(v.PANDAS_DTYPES) == ("int", "str", "date", "datetime", "bool", "decimal", "float")
    spec = TableSpec("every_type", tuple(col(f"a_{logical}", logical, nullable=True) for logical in LOGICAL_TYPES))
    frame = empty_frame(spec)
    assert [str(frame[c.name].dtype) for c in spec.columns] == [
        "Int64", "str", "datetime64[s]", "datetime64[s]", "boolean", "Float64", "Float64"]
    schema_for(spec).validate(frame)  # the pandera schema checks exactly these dtypes
    typed = conform(pd.DataFrame({c.name: [None] for c in spec.columns}), spec)
    assert list(typed.dtypes) == list(frame.dtypes)


# --- nobody re-types a value the vocabulary owns -------------------------------------

#: Values distinctive enough that a literal copy is certainly a re-typed vocabulary value.
OWNED = {v.UNKNOWN, *v.FACILITY_TYPES, *v.AREAS, *v.MEASURE_CATEGORIES}


def _code_strings(path: Path):
    """String constants of a module that are code, not docstrings."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                  if isinstance(node, (ast.Module, ast.FunctionDef, ast.ClassDef)) and node.body
                  and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings:
            yield node


def _production_modules():
    vocabulary = REPO_ROOT / "etl" / "core" / "vocabulary.py"
    for folder in ("etl", "schemas", "dags", "plugins"):
        yield from (p for p in sorted((REPO_ROOT / folder).rglob("*.py")) if p != vocabulary)


def test_no_production_module_retypes_an_owned_value():
    retyped = [f"{path.relative_to(REPO_ROOT)}:{node.lineno} {node.value!r}"
               for path in _production_modules() for node in _code_strings(path) if node.value in OWNED]
    assert retyped == []


def test_no_production_module_retypes_a_list_of_vocabulary_values():
    """A tuple or list literal of two or more values all from one vocabulary list is a copy
    of that list or of a grouping of it: it belongs in the vocabulary, named."""
    copies = []
    for path in _production_modules():
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if not isinstance(node, (ast.Tuple, ast.List)) or len(node.elts) < 2:
                continue
            if not all(isinstance(e, ast.Constant) and isinstance(e.value, str) for e in node.elts):
                continue
            values = {e.value for e in node.elts}
            if any(values <= set(listed) for listed in NOT_TO_COPY.values()):
                copies.append(f"{path.relative_to(REPO_ROOT)}:{node.lineno} {sorted(values)}")
    assert copies == []
