"""Data-quality counts against the generator's ground truth.

The generator reports exactly how many rows it planted with each defect. With soft
deletes switched off (a deleted row would rightly vanish from a rule's population), the
chain's rule counts must equal those numbers exactly, per source table.
"""

from __future__ import annotations

import datetime as dt

import pytest
from extracts import extract_all

from etl.core.settings import REPO_ROOT, Settings
from etl.model import Model
from etl.quality.config import load_rules_config
from etl.quality.runner import run_rules
from etl.synth import generate
from etl.tasks import model as model_tasks

pytestmark = pytest.mark.integration
DAY = dt.date(2025, 11, 15)


@pytest.fixture(scope="module")
def outcome(tmp_path_factory):
    data = tmp_path_factory.mktemp("truth")
    report = generate(data / "sources", "demo", seed=7, extraction_date=DAY, quirk_rates={"soft_deleted": 0.0})
    settings = Settings(data, REPO_ROOT / "reference", "demo")
    extract_all(DAY, "truth", settings)
    model_tasks.build_model(DAY, settings)
    model = Model.load(settings.model_dir)
    result = run_rules(model, load_rules_config(), "truth", dt.datetime(2025, 11, 15, 3))
    failing = result.dq_failure.groupby(["rule_id", "source_table"]).size()
    return report["planted"], failing, result


def planted(truth, quirk, table):
    return truth[quirk]["tables"].get(table, 0)


def test_soft_deletes_were_off(outcome):
    truth, _, _ = outcome
    assert truth["soft_deleted"]["count"] == 0


@pytest.mark.parametrize("rule, quirk, tables", [
    ("DQ01", "decision_missing_deadline", {"Afgoerelse": "boern.Afgoerelse", "afgoerelse": "voksen.afgoerelse"}),
    ("DQ02", "decision_future_dated", {"Afgoerelse": "boern.Afgoerelse", "afgoerelse": "voksen.afgoerelse"}),
    ("DQ04", "service_missing_start", {"Foranstaltning": "boern.Foranstaltning", "ydelse": "voksen.ydelse"}),
    ("DQ11", "notification_assessed_before_received", {"Underretning": "boern.Underretning"}),
    ("DQ06", "end_before_start", {"Foranstaltning": "boern.Foranstaltning", "ydelse": "voksen.ydelse",
                                  "ophold": "tilbud.ophold", "fravaer": "hr.fravaer"}),
])
def test_rule_counts_equal_planted_defects(outcome, rule, quirk, tables):
    truth, failing, _ = outcome
    for source_table, planted_table in tables.items():
        assert failing.get((rule, source_table), 0) == planted(truth, quirk, planted_table), (rule, source_table)


def test_complaints_without_a_case_are_exactly_the_broken_references(outcome):
    truth, failing, _ = outcome
    broken = sum(truth[q]["count"] for q in
                 ("complaint_missing_reference", "complaint_dangling_reference", "complaint_missing_system"))
    assert failing.get(("DQ03", "klage"), 0) == broken
    assert truth["complaint_reference_formatting"]["count"] > 0  # written oddly, matched after normalisation


def test_person_rules_equal_planted_cpr_defects(outcome):
    truth, failing, _ = outcome
    assert failing.get(("DQ05", "Barn"), 0) == planted(truth, "cpr_missing", "boern.Barn") + planted(truth, "cpr_invalid", "boern.Barn")
    assert failing.get(("DQ05", "borger"), 0) == planted(truth, "cpr_invalid", "voksen.borger")
    assert failing.get(("DQ09", "borger"), 0) == 2 * planted(truth, "duplicate_person", "voksen.borger")


def test_unknown_codes_equal_planted(outcome):
    truth, _, result = outcome
    failures = result.dq_failure[result.dq_failure["rule_id"] == "DQ08"]
    units = failures[failures["detail"].str.startswith("enhedskode")].groupby("source_table").size()
    for table, planted_table in {"Sag": "boern.Sag", "sag": "voksen.sag", "medarbejder": "hr.medarbejder",
                                 "klage": "klage.klage"}.items():
        assert units.get(table, 0) == planted(truth, "unknown_unit_code", planted_table), table
    paragraphs = failures[failures["detail"].str.startswith("paragraf")].groupby("source_table").size()
    for table, planted_table in {"Afgoerelse": "boern.Afgoerelse", "afgoerelse": "voksen.afgoerelse",
                                 "Undersoegelse": "boern.Undersoegelse"}.items():
        assert paragraphs.get(table, 0) == planted(truth, "unknown_paragraph", planted_table), table
    # a unit inherited from the case is checked on the case only; each row fails once (issue 20)
    assert not {"Afgoerelse", "afgoerelse", "Foranstaltning", "ydelse", "Undersoegelse"} & set(units.index)
    assert not failures.duplicated(["source", "source_table", "record_id"]).any()
