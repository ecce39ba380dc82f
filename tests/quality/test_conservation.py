"""DQ14: rows reconcile from landing through validation to the model."""

import datetime as dt

import pandas as pd

from etl.model import Model
from etl.quality.facts import RunFacts
from etl.quality.rules import RULES

CHECKED = dt.datetime(2025, 11, 15, 3)


def chain(*rows):
    return pd.DataFrame(rows, columns=["source", "source_table", "landed", "rows_in", "staged", "quarantined",
                                       "expected", "model"])


def failing(conservation):
    facts = RunFacts(CHECKED, pd.DataFrame(), pd.DataFrame(), conservation=conservation)
    findings = RULES["DQ14"].check(Model.from_frames(dt.date(2025, 11, 15)), facts, {})
    return {(f.source, r): d for f in findings for r, x, d in zip(f.record_ids, f.failing, f.detail) if x}


def test_a_reconciled_chain_passes_and_every_kind_of_gap_fails():
    ok = ("boern", "Sag", 10, 10, 8, 2, 7, 7)
    assert failing(chain(ok)) == {}
    gaps = failing(chain(ok,
                         ("boern", "Afgoerelse", 11, 10, 8, 2, 8, 8),      # a landed row never validated
                         ("voksen", "sag", 10, 10, 8, 1, 8, 8),            # staged + quarantined ≠ rows in
                         ("voksen", "ydelse", 10, 10, 10, 0, 9, 8),        # a row lost between staged and model
                         ("cpr", "cpr", 5, 5, 5, 0, None, None)))          # no model table: checked to staging
    assert set(gaps) == {("boern", "Afgoerelse"), ("voksen", "sag"), ("voksen", "ydelse")}
    assert gaps[("voksen", "ydelse")] == "landet 10 → indlæst 10 = gyldige 10 + karantæne 0 → model 8 (forventet 9)"


def test_without_facts_the_rule_reports_nothing():
    assert RULES["DQ14"].check(Model.from_frames(dt.date(2025, 11, 15)), None, {}) == []
