"""The "Adding things" lists of docs/architecture.md stay true, and the registries agree.

Each kind of addition names the files to touch; the registries the code reads must live
in those files, and each registry must be complete against the others: every contract
table is in the model registry or listed as read elsewhere, every model table is built by
something, every KPI has lineage naming real sources and model tables, every rule has its
configuration and its generated documentation.
"""

from __future__ import annotations

import importlib
import inspect
import re

import pytest

import etl.model.build  # noqa: F401  (attaches the builders)
import etl.sources
from etl.core.settings import REPO_ROOT, Settings
from etl.core.zones import DataFolder
from etl.kpi import CATALOG
from etl.kpi.catalog import kpi
from etl.model import registry, tables
from etl.model.registry import (
    DERIVED_TABLES,
    LINK_TABLES,
    MODEL_SOURCES,
    NOT_IN_MODEL,
    READ_BY_LINK_STEP,
    REFERENCE_TABLES,
)
from etl.model.tables import MODEL_TABLES
from etl.quality.config import DEFAULT_PATH, load_rules_config
from etl.quality.docs import BEGIN, END
from etl.quality.rules import RULES, rule
from etl.sources import SOURCES

ARCHITECTURE = REPO_ROOT / "docs" / "architecture.md"


def adding_things() -> dict[str, str]:
    """Heading -> text of each subsection of "## Adding things"."""
    text = ARCHITECTURE.read_text(encoding="utf-8")
    section = text.split("\n## Adding things\n", 1)[1].split("\n## ", 1)[0]
    parts = re.split(r"^### (.+)$", section, flags=re.MULTILINE)
    return {heading.strip(): body for heading, body in zip(parts[1::2], parts[2::2])}


def named_paths(body: str) -> list[str]:
    """The repository paths a list names in backticks (`<placeholders>` allowed)."""
    return [p for p in re.findall(r"`([^`\s]+)`", body)
            if "/" in p and not p.startswith(("python", "@")) and "(" not in p]


def module_path(obj) -> str:
    return str(inspect.getsourcefile(obj)).removeprefix(str(REPO_ROOT) + "/")


def listed(body: str, path: str) -> bool:
    """`path` is named in the list, literally or through a `<placeholder>`."""
    patterns = [re.escape(p).replace(r"\<", "<").replace(r"\>", ">") for p in named_paths(body)]
    return any(re.fullmatch(re.sub(r"<[^>]+>", r"[^/]+", p), path) for p in patterns)


def test_every_kind_of_addition_has_its_list():
    assert set(adding_things()) == {"A fagsystem", "A source table that feeds the model", "A KPI",
                                    "A data-quality rule", "A setting", "A reference role"}


@pytest.mark.parametrize("heading", [h for h in adding_things() if "planned" not in h])
def test_every_file_named_exists(heading):
    paths = named_paths(adding_things()[heading])
    assert paths, heading
    for path in paths:
        found = list(REPO_ROOT.glob(re.sub(r"<[^>]+>", "*", path)))
        assert found, f"{heading}: {path} names no file in the repository"


def test_each_list_names_the_modules_its_registries_live_in():
    lists = adding_things()
    fagsystem, source_table = lists["A fagsystem"], lists["A source table that feeds the model"]
    assert listed(fagsystem, module_path(etl.sources))  # SOURCES
    for name, source in SOURCES.items():  # each contract is etl/sources/<source>.py
        contract = importlib.import_module(f"etl.sources.{name}")
        assert contract.SOURCE is source
        assert listed(fagsystem, module_path(contract)) and listed(source_table, module_path(contract))
    assert listed(source_table, module_path(registry))  # MODEL_SOURCES
    assert all(listed(source_table, module_path(e.builder)) for e in MODEL_SOURCES if e.builder)
    assert listed(source_table, module_path(tables))  # MODEL_TABLES
    kpis = lists["A KPI"]
    assert listed(kpis, module_path(kpi))  # CATALOG
    assert all(listed(kpis, module_path(d.compute)) for d in CATALOG.values() if d.implemented)
    rules = lists["A data-quality rule"]
    assert listed(rules, module_path(rule))  # RULES
    assert listed(rules, str(DEFAULT_PATH.relative_to(REPO_ROOT)))
    assert all(listed(rules, module_path(r.check)) for r in RULES.values())
    setting = lists["A setting"]
    assert listed(setting, module_path(Settings)) and listed(setting, module_path(DataFolder))  # OPTIONS, zones


def test_every_contract_table_is_in_the_model_registry_or_read_elsewhere():
    registered = {e.key for e in MODEL_SOURCES}
    contract = {(s.name, t.name) for s in SOURCES.values() for t in s.tables}
    for table in contract:
        homes = [table in registered, table in READ_BY_LINK_STEP, table in NOT_IN_MODEL]
        assert sum(homes) == 1, f"{table}: in the model registry, READ_BY_LINK_STEP or NOT_IN_MODEL (once)"
    assert registered | set(READ_BY_LINK_STEP) | set(NOT_IN_MODEL) == contract


def test_every_cpr_column_is_read_by_the_link_step():
    """A contract column holding a CPR is linked, checked or keyed by the link step; none
    reaches a builder unnoticed (the model keeps no CPR)."""
    handled = {(e.source, e.table, e.persons.cpr_column) for e in MODEL_SOURCES if e.persons}
    handled |= {(e.source, e.table, c) for e in MODEL_SOURCES if e.keyed_by_cpr for c in e.spec.primary_key
                if e.spec.column(c).personal}
    handled |= {(s, t, c.name) for (s, t) in READ_BY_LINK_STEP for c in SOURCES[s].table(t).columns if c.personal}
    handled |= {(s, t, c.name) for (s, t) in NOT_IN_MODEL for c in SOURCES[s].table(t).columns if c.personal}
    personal = {(s.name, t.name, c.name) for s in SOURCES.values() for t in s.tables for c in t.columns if c.personal}
    assert personal == handled


def test_every_model_table_is_built_and_every_entry_has_its_builder():
    fed = {e.model_table for e in MODEL_SOURCES}
    assert fed | set(LINK_TABLES) | set(REFERENCE_TABLES) | set(DERIVED_TABLES) == set(MODEL_TABLES)
    assert all(set(needs) <= fed for needs in DERIVED_TABLES.values())
    assert [e.label for e in MODEL_SOURCES if e.builder is None] == ["boern.Barn", "voksen.borger"]
    assert all(e.linked_only for e in MODEL_SOURCES if e.builder is None)


def test_every_kpi_has_lineage_naming_real_sources_and_model_tables():
    for d in CATALOG.values():
        assert d.implemented, d.kpi_id
        assert d.sources and d.sources <= set(SOURCES), d.kpi_id
        assert d.model_tables and d.model_tables <= set(MODEL_TABLES), d.kpi_id


def test_every_rule_has_its_configuration_and_its_generated_docs():
    configs = load_rules_config(DEFAULT_PATH)
    page = (REPO_ROOT / "docs" / "data-quality.md").read_text(encoding="utf-8")
    block = page[page.index(BEGIN):page.index(END)]
    for rule_id, registered in RULES.items():
        assert rule_id in configs, rule_id
        assert inspect.getdoc(registered.check), f"{rule_id} has no docstring"
        assert f"| [{rule_id}](#{rule_id.lower()}) |" in block and f"\n### {rule_id}\n" in block, rule_id
    assert sorted(re.findall(r"^### (DQ\d+)$", block, flags=re.MULTILINE)) == sorted(RULES)
