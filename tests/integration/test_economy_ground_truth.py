"""The economy's data-quality rules (DQ08 on the finance codes, DQ15-DQ19) against the
generator's ground truth: `oekonomi.expected_findings` lists the exact records each rule
must flag, correct with every default defect planted, soft deletes included. The chain's
failing records must be those sets exactly, no more and no fewer."""

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
def night(tmp_path_factory):
    data = tmp_path_factory.mktemp("economy-truth")
    report = generate(data / "sources", "demo", seed=11, extraction_date=DAY)
    settings = Settings(data, REPO_ROOT / "reference", "demo")
    extract_all(DAY, "truth", settings)
    model_tasks.build_model(DAY, settings)
    result = run_rules(Model.load(settings.model_dir), load_rules_config(), "truth", dt.datetime(2025, 11, 15, 3))
    return report, result


def failing(result, rule_id: str, source_table: str) -> list[str]:
    rows = result.dq_failure[(result.dq_failure["rule_id"] == rule_id)
                             & (result.dq_failure["source_table"] == source_table)]
    return sorted(rows["record_id"])


def ids(values) -> list[str]:
    return sorted(str(v) for v in values)


def test_soft_deletes_were_planted(night):
    report, _ = night
    assert report["planted"]["soft_deleted"]["count"] > 0


@pytest.mark.parametrize("rule_id", ["DQ15", "DQ18"])
def test_posting_rules_flag_exactly_the_expected_postings(night, rule_id):
    report, result = night
    expected = report["oekonomi"]["expected_findings"][rule_id]["postering_id"]
    assert expected, rule_id
    assert failing(result, rule_id, "postering") == ids(expected)


def test_dq08_flags_exactly_the_postings_on_unknown_functions(night):
    report, result = night
    expected = report["oekonomi"]["expected_findings"]["DQ08"]["postering_id"]
    assert expected and failing(result, "DQ08", "postering") == ids(expected)
    assert failing(result, "DQ08", "budget") == []


def test_dq16_flags_exactly_the_measures_without_economy_per_case_system(night):
    report, result = night
    expected = report["oekonomi"]["expected_findings"]["DQ16"]
    assert expected["boern"] or expected["voksen"]
    assert failing(result, "DQ16", "Foranstaltning") == ids(expected["boern"])
    assert failing(result, "DQ16", "ydelse") == ids(expected["voksen"])


def test_dq17_flags_exactly_the_commitments_left_open(night):
    report, result = night
    expected = report["oekonomi"]["expected_findings"]["DQ17"]["disponering_id"]
    assert expected and failing(result, "DQ17", "disponering") == ids(expected)


def test_dq19_flags_exactly_the_unbudgeted_pairs_of_the_year(night):
    report, result = night
    expected = report["oekonomi"]["expected_findings"]["DQ19"]
    assert expected["aar"] == DAY.year and expected["pairs"]
    assert failing(result, "DQ19", "budget") == sorted(f"{f}/{u}" for f, u in expected["pairs"])


def test_economy_rules_report_to_their_owners(night):
    _, result = night
    owners = result.dq_rule.set_index("rule_id")["owners"]
    for rule_id in ("DQ15", "DQ18", "DQ19"):
        assert owners[rule_id] == "dq-oekonomi@sofli.example"
    for rule_id in ("DQ16", "DQ17"):
        assert owners[rule_id].split(",") == ["dq-oekonomi@sofli.example", "dq-boern@sofli.example",
                                              "dq-voksen@sofli.example"]
