"""Loading and validating `config/dq_rules.yaml`."""

from __future__ import annotations

import copy
import datetime as dt

import pandas as pd
import pytest
import yaml

from etl.core.settings import Settings
from etl.model import Model
from etl.quality.config import DEFAULT_PATH, DqConfigError, load_rules_config, parse_rules_config
from etl.quality.facts import FRESHNESS_COLUMNS, RunFacts
from etl.quality.rules import RULES
from etl.quality.runner import run_rules


@pytest.fixture
def raw():
    """The repository's configuration as parsed YAML, to break one thing at a time."""
    return yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))


def problems(data) -> str:
    with pytest.raises(DqConfigError) as error:
        parse_rules_config(data, origin="test.yaml")
    return str(error.value)


def test_repository_configuration_has_the_agreed_defaults():
    config = load_rules_config()
    assert list(config) == sorted(RULES)  # every registered rule, in id order
    defaults = {rule_id: (c.severity, c.threshold_kind, c.threshold) for rule_id, c in config.items()}
    assert defaults["DQ01"] == ("error", "rate", 0.05)
    assert defaults["DQ02"] == ("error", "count", 0)
    assert defaults["DQ03"] == ("error", "rate", 0.05)
    assert defaults["DQ04"] == ("error", "rate", 0.02)
    assert {defaults[r][0] for r in ("DQ06", "DQ07", "DQ08", "DQ11", "DQ12", "DQ13")} == {"warning"}
    assert defaults["DQ10"] == ("error", "count", 0) and defaults["DQ13"] == ("warning", "count", 0)
    assert config["DQ13"].rule_params == {"max_swing": 0.25, "key_kpis": ["T1.01", "T1.03", "T1.04", "T2.01", "T2.06", "T3.05", "T5.01", "T6.01"]}
    assert config["DQ10"].is_blocking and not config["DQ13"].is_blocking
    assert {c.notify for c in config.values()} == {"immediate", "daily_digest"}
    assert config["DQ01"].title == "Afgørelser uden frist"
    assert all(c.enabled and c.owners and c.sources is None for c in config.values())
    # owners per rule × source: the source's own owner unless the rule says otherwise
    assert config["DQ01"].owners_for("boern") == ("dq-boern@sofli.example",)
    assert config["DQ01"].owners_for("voksen") == ("dq-voksen@sofli.example",)
    assert config["DQ05"].owners_for("cpr") == ("dq-data@sofli.example",)
    assert config["DQ16"].owners_for("voksen") == ("dq-oekonomi@sofli.example", "dq-voksen@sofli.example")
    assert config["DQ13"].owners_for("kpi") == ("dq-data@sofli.example",)
    assert config["DQ06"].sources_in_scope == ("boern", "voksen", "tilbud", "hr")


def test_the_setting_names_another_file_and_the_shipped_one_is_the_default(tmp_path, raw):
    raw["rules"]["DQ01"]["threshold"]["value"] = 0.2
    from_env = tmp_path / "env.yaml"
    from_env.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    settings = Settings.resolve({"SOFLI_DATA_DIR": str(tmp_path), "SOFLI_DQ_RULES": str(from_env)})
    assert settings.dq_rules_path == from_env
    assert load_rules_config(settings.dq_rules_path)["DQ01"].threshold == 0.2
    assert load_rules_config()["DQ01"].threshold == 0.05 and DEFAULT_PATH == Settings(tmp_path).dq_rules_path


def test_sources_scope_is_kept_in_the_rules_order(raw):
    raw["rules"]["DQ06"]["sources"] = ["hr", "boern"]
    assert parse_rules_config(raw)["DQ06"].sources == ("boern", "hr")


def test_unknown_key_names_the_rule_and_the_key(raw):
    raw["rules"]["DQ03"]["treshold"] = 3
    message = problems(raw)
    assert "rule DQ03" in message and "treshold" in message


def test_audience_sends_the_pipeline_s_own_checks_to_the_report_appendix(raw):
    """`audience` (the committee report's page or its engineering appendix) is read and checked."""
    config = parse_rules_config(raw, origin="test.yaml")
    assert config["DQ14"].audience == "engineering" and config["DQ01"].audience == "committee"
    raw["rules"]["DQ01"]["audience"] = "board"
    assert "audience must be 'committee' or 'engineering', got 'board'" in problems(raw)


def test_bad_severity(raw):
    raw["rules"]["DQ07"]["severity"] = "fatal"
    assert "rule DQ07: severity must be 'error' or 'warning', got 'fatal'" in problems(raw)


def test_without_owners_a_rule_mails_each_source_s_own_owner(raw):
    raw["rules"]["DQ06"].pop("owners", None)
    config = parse_rules_config(raw)
    assert {s: config["DQ06"].owners_for(s) for s in config["DQ06"].sources_in_scope} == {
        "boern": ("dq-boern@sofli.example",), "voksen": ("dq-voksen@sofli.example",),
        "tilbud": ("dq-tilbud@sofli.example",), "hr": ("dq-hr@sofli.example",)}
    # DQ13's pseudo-source `kpi` has no owner of its own: the file must name one
    raw["rules"]["DQ13"]["owners"] = None
    assert "rule DQ13: no owner for source(s) ['kpi']" in problems(raw)


def test_an_empty_owner_list_leaves_sources_without_owner(raw):
    raw["rules"]["DQ11"]["owners"] = []
    assert "rule DQ11: no owner for source(s) ['boern']" in problems(raw)


def test_owners_per_rule_and_source_override_the_source_s_owner(raw):
    raw["rules"]["DQ06"]["owners"] = {"default": ["source", "kvalitet@sofli.example"],
                                      "hr": ["loen@sofli.example"]}
    config = parse_rules_config(raw)["DQ06"]
    assert config.owners_for("boern") == ("dq-boern@sofli.example", "kvalitet@sofli.example")
    assert config.owners_for("hr") == ("loen@sofli.example",)
    assert config.all_owners == ("dq-boern@sofli.example", "kvalitet@sofli.example", "dq-voksen@sofli.example",
                                 "dq-tilbud@sofli.example", "loen@sofli.example")


def test_the_file_s_source_owners_replace_the_registry_s(raw):
    raw["source_owners"] = {"boern": ["born-kvalitet@sofli.example", "born-leder@sofli.example"]}
    config = parse_rules_config(raw)
    assert config["DQ01"].owners_for("boern") == ("born-kvalitet@sofli.example", "born-leder@sofli.example")
    assert config["DQ01"].owners_for("voksen") == ("dq-voksen@sofli.example",)
    assert config["DQ10"].owners_for("boern") == ("sofli-drift@sofli.example", "born-kvalitet@sofli.example",
                                                  "born-leder@sofli.example")


def test_owner_mappings_and_source_owners_are_validated_every_problem_at_once(raw):
    raw["source_owners"] = {"boern": ["not an address"], "nosuch": ["a@sofli.example"], "hr": []}
    raw["rules"]["DQ03"]["owners"] = {"boern": ["jura@sofli.example"], "klage": ["not an address"]}
    raw["rules"]["DQ07"]["owners"] = "dq-tilbud@sofli.example"
    message = problems(raw)
    assert "source_owners ['nosuch'] are not sources" in message
    assert "source_owners boern: owners must be e-mail addresses, got ['not an address']" in message
    assert "source_owners hr: owners must not be empty" in message
    assert "rule DQ03: owners ['boern'] are not covered by this rule; it covers: klage" in message
    assert "rule DQ03: owners klage: owners must be e-mail addresses or 'source', got ['not an address']" in message
    assert "rule DQ07: owners must be a list of e-mail addresses" in message


def test_owner_must_be_an_address(raw):
    raw["rules"]["DQ11"]["owners"] = ["boern-teamet"]
    assert "rule DQ11: owners must be e-mail addresses" in problems(raw)


@pytest.mark.parametrize(("threshold", "expected"), [
    ({"kind": "share", "value": 0.1}, "threshold kind must be 'rate' or 'count'"),
    ({"kind": "rate", "value": 5}, "a rate threshold is a share between 0 and 1"),
    ({"kind": "count", "value": 1.5}, "a count threshold must be a whole number"),
    ({"kind": "count", "value": -1}, "threshold value must be a number >= 0"),
    ({"kind": "count", "value": "ti"}, "threshold value must be a number >= 0"),
    (0.05, "threshold must be {kind: rate|count, value: <number>}"),
])
def test_bad_threshold(raw, threshold, expected):
    raw["rules"]["DQ04"]["threshold"] = threshold
    assert f"rule DQ04: {expected}" in problems(raw)


def test_sources_outside_the_rule(raw):
    raw["rules"]["DQ01"]["sources"] = ["boern", "tilbud"]
    assert "rule DQ01: sources ['tilbud'] are not covered by this rule" in problems(raw)


def test_unknown_and_unconfigured_rules(raw):
    raw["rules"]["DQ99"] = copy.deepcopy(raw["rules"]["DQ01"])
    del raw["rules"]["DQ12"]
    message = problems(raw)
    assert "rule DQ99: no such rule" in message
    assert "rule DQ12: implemented but not configured" in message


def test_every_problem_is_reported_at_once(raw):
    raw["rules"]["DQ01"]["severity"] = "high"
    raw["rules"]["DQ02"]["enabled"] = "yes"
    message = problems(raw)
    assert message.startswith("test.yaml: invalid data-quality configuration:")
    assert "rule DQ01: severity" in message and "rule DQ02: enabled must be true or false" in message


def test_top_level_must_be_rules(raw):
    assert "expected the top-level key 'rules'" in problems(raw["rules"])


def test_unreadable_files_name_the_file(tmp_path):
    broken = tmp_path / "broken.yaml"
    broken.write_text("rules: [unclosed", encoding="utf-8")
    with pytest.raises(DqConfigError, match="broken.yaml: not valid YAML"):
        load_rules_config(broken)
    with pytest.raises(DqConfigError, match="missing.yaml: cannot read"):
        load_rules_config(tmp_path / "missing.yaml")


def test_a_stale_source_mails_operations_and_that_source_s_owner(raw):
    config = parse_rules_config(raw)["DQ10"]
    assert config.owners == ("sofli-drift@sofli.example", "source")
    assert config.owners_for("klage") == ("sofli-drift@sofli.example", "dq-jura@sofli.example")
    assert config.owners_for("boern") == ("sofli-drift@sofli.example", "dq-boern@sofli.example")
    assert config.owners_for("a-source-without-owner") == ("sofli-drift@sofli.example",)
    assert parse_rules_config(raw)["DQ01"].owners_for("boern") == ("dq-boern@sofli.example",)


def test_a_breach_carries_the_source_owners_to_the_e_mail():


    config = load_rules_config()
    config = {"DQ10": config["DQ10"]}
    freshness = pd.DataFrame([{"source": "klage", "kind": "database", "last_success_at": None, "extract_date": None,
                               "rows": None, "age_hours": None, "days_behind": None, "stale_after_days": 0,
                               "stale": True, "expected_file": None, "file_present": None,
                               "checked_at": dt.datetime(2026, 3, 10, 5)}], columns=FRESHNESS_COLUMNS)
    facts = RunFacts(dt.datetime(2026, 3, 10, 5), freshness, pd.DataFrame(columns=["source", "table", "extract_date",
                                                                                   "rows"]))
    outcome = run_rules(Model.from_frames(dt.date(2026, 3, 10)), config, "night", dt.datetime(2026, 3, 10, 5),
                        facts=facts)
    assert [(b.rule_id, b.source, b.owners) for b in outcome.breaches] == [
        ("DQ10", "klage", ("sofli-drift@sofli.example", "dq-jura@sofli.example"))]
