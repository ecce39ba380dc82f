"""The rules section of docs/data-quality.md: rendered from the rule registry and the configuration."""

from __future__ import annotations

import dataclasses

import pytest

from etl.ops.docs_gen import DOCS
from etl.quality.config import DqConfigError, load_rules_config
from etl.quality.docs import BEGIN, END, render_rules_markdown, rule_doc, splice, threshold_text
from etl.quality.rules import RULES, Rule


def test_every_rule_has_a_table_row_and_a_section_in_the_committed_page():
    page = (DOCS / "data-quality.md").read_text(encoding="utf-8")
    block = page[page.index(BEGIN):page.index(END)]
    configs = load_rules_config()
    for rule_id in RULES:
        assert f"| [{rule_id}](#{rule_id.lower()}) | {configs[rule_id].title} |" in block, rule_id
        assert f"\n### {rule_id}\n" in block, rule_id
        assert rule_doc(rule_id).splitlines()[0] in block, rule_id


def test_the_table_shows_the_configuration_in_force():
    configs = load_rules_config()
    assert [threshold_text(configs[r]) for r in ("DQ01", "DQ02", "DQ06")] == ["rate > 5 %", "count > 0", "rate > 0,5 %"]
    changed = {**configs, "DQ01": dataclasses.replace(configs["DQ01"], threshold=0.1, severity="warning",
                                                      owners=("x@sofli.example",), enabled=False)}
    row = next(line for line in render_rules_markdown(changed).splitlines() if line.startswith("| [DQ01]"))
    assert row == ("| [DQ01](#dq01) | Afgørelser uden frist (switched off) | `boern`, `voksen` | warning | "
                   "rate > 10 % | x | immediate | no |")
    assert "Parameters: `max_swing` = 0.25; `key_kpis` = T1.01, T1.03, T1.04, T2.01, T2.06, T3.05, T5.01, T6.01." in render_rules_markdown(configs)


def test_a_rule_without_configuration_or_docstring_cannot_be_documented(monkeypatch):
    def undocumented(model):
        return []

    configs = load_rules_config()
    monkeypatch.setitem(RULES, "DQ99", Rule("DQ99", ("boern",), undocumented))
    with pytest.raises(DqConfigError, match="rule DQ99: implemented but not configured"):
        render_rules_markdown()  # reads the repository's configuration, which lacks it
    with pytest.raises(ValueError, match=r"DQ99 \(undocumented\) has no docstring"):
        rule_doc("DQ99")
    with pytest.raises(ValueError, match="no docstring"):
        render_rules_markdown({**configs, "DQ99": dataclasses.replace(configs["DQ01"], rule_id="DQ99")})


def test_splice_replaces_only_the_generated_block():
    page = f"# Title\nhand text\n{BEGIN}\nold table\n{END}\nmore hand text\n"
    assert splice(page, f"{BEGIN}\nnew\n{END}\n") == f"# Title\nhand text\n{BEGIN}\nnew\n{END}\nmore hand text\n"
    for broken in ("# no markers\n", f"{END}\n{BEGIN}\n", f"{BEGIN}\n{BEGIN}\n{END}\n"):
        with pytest.raises(ValueError, match="markers"):
            splice(broken, f"{BEGIN}\n{END}\n")
