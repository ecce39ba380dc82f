"""Small-cell suppression on tables solved by hand (the property tests attack random ones)."""

import multiprocessing

import numpy as np
import pandas as pd
import pytest

from etl.publish.suppression import (PERSONS_BEHIND, SuppressionAuditError, _repair_targets, suppress_for_public,
                                     unchanged_blanks)

ORG = pd.DataFrame({"unit": ["U1", "U2", "U3"], "center": ["C1", "C1", "C1"], "area": ["A", "A", "A"]})
Q3 = {"period_type": "quarter", "period": "2025-Q3", "period_start": "2025-07-01", "period_end": "2025-09-30"}


def cell(org_level, org_key, value, dimension=None, dimension_value=None, denominator=None, unit="count",
         numerator=None, kpi_id="T2.06", measure="count", **period):
    return {"kpi_id": kpi_id, "measure": measure, **(period or Q3), "org_level": org_level, "org_key": org_key,
            "dimension": dimension, "dimension_value": dimension_value, "value": value,
            "numerator": numerator, "denominator": denominator, "unit": unit}


def published(frame):
    return {(r.org_level, r.org_key, None if pd.isna(r.dimension_value) else r.dimension_value): r.value
            for r in frame.itertuples()}


def test_a_small_count_and_its_complement_within_a_breakdown_with_a_zero_beside_it():
    rows = pd.DataFrame([cell("sof", "SOF", 30),
                         cell("sof", "SOF", 3, "age_group", "0-5"), cell("sof", "SOF", 12, "age_group", "6-11"),
                         cell("sof", "SOF", 15, "age_group", "12-17"), cell("sof", "SOF", 0, "age_group", "18-22")])
    out = published(suppress_for_public(rows, ORG))
    assert out[("sof", "SOF", None)] == 30
    assert pd.isna(out[("sof", "SOF", "0-5")])     # primary: 3 < 5
    assert pd.isna(out[("sof", "SOF", "6-11")])    # complement: the smallest non-zero member
    assert pd.isna(out[("sof", "SOF", "18-22")])   # and a zero, so no blanked cell is provably >= 1
    assert out[("sof", "SOF", "12-17")] == 15


def test_units_of_one_center_protect_each_other_and_caseworkers_never_reach_public():
    rows = pd.DataFrame([cell("center", "C1", 24), cell("unit", "U1", 2), cell("unit", "U2", 10),
                         cell("unit", "U3", 12), cell("caseworker", "cw1", 2)])
    out = published(suppress_for_public(rows, ORG))
    assert pd.isna(out[("unit", "U1", None)]) and pd.isna(out[("unit", "U2", None)])
    assert out[("unit", "U3", None)] == 12 and out[("center", "C1", None)] == 24
    assert not any(level == "caseworker" for level, _, _ in out)


def test_breakdowns_below_the_configured_levels_are_left_out_and_their_totals_kept():
    """With breakdowns at sof and area only (the default setting), a unit's and a center's age
    groups are not in `public`; their totals are, and the unit's small total is still blanked
    with a complement, as without breakdowns."""
    rows = pd.DataFrame([cell("sof", "SOF", 30), cell("area", "A", 30), cell("center", "C1", 30),
                         cell("unit", "U1", 3), cell("unit", "U2", 12), cell("unit", "U3", 15),
                         cell("sof", "SOF", 3, "age_group", "0-5"), cell("sof", "SOF", 27, "age_group", "6-11"),
                         cell("area", "A", 3, "age_group", "0-5"), cell("area", "A", 27, "age_group", "6-11"),
                         cell("center", "C1", 3, "age_group", "0-5"), cell("center", "C1", 27, "age_group", "6-11"),
                         cell("unit", "U1", 3, "age_group", "0-5"), cell("unit", "U2", 12, "age_group", "6-11"),
                         cell("caseworker", "cw1", 3)])
    out = published(suppress_for_public(rows, ORG, breakdown_levels=("sof", "area")))
    assert set(out) == {("sof", "SOF", None), ("area", "A", None), ("center", "C1", None), ("unit", "U1", None),
                        ("unit", "U2", None), ("unit", "U3", None), ("sof", "SOF", "0-5"), ("sof", "SOF", "6-11"),
                        ("area", "A", "0-5"), ("area", "A", "6-11")}
    assert (out[("sof", "SOF", None)], out[("area", "A", None)], out[("center", "C1", None)]) == (30, 30, 30)
    assert pd.isna(out[("unit", "U1", None)]) and pd.isna(out[("unit", "U2", None)])  # 3 < 5, and its complement
    assert out[("unit", "U3", None)] == 15
    # SOF = A in every figure here, so the age groups blank alike at both levels
    assert all(pd.isna(out[(level, key, group)]) for level, key in (("sof", "SOF"), ("area", "A"))
               for group in ("0-5", "6-11"))
    # every level named: the center's and units' age groups come back
    everything = published(suppress_for_public(rows, ORG))
    assert ("center", "C1", "0-5") in everything and ("unit", "U2", "6-11") in everything


def test_rates_on_fewer_than_five_events_are_blanked_whole_with_a_complement():
    rows = pd.DataFrame([cell("sof", "SOF", 8 / 14, numerator=8, denominator=14, unit="share", measure="share"),
                         cell("sof", "SOF", 0.5, "acute", "true", numerator=5, denominator=10, unit="share", measure="share"),
                         cell("sof", "SOF", 0.75, "acute", "false", numerator=3, denominator=4, unit="share", measure="share")])
    out = suppress_for_public(rows, ORG)
    assert out.loc[1:, ["value", "numerator", "denominator"]].isna().all().all()  # 4 < 5, and 14 - 10 = 4
    assert out.loc[0, "denominator"] == 14


def test_every_measure_and_both_period_types_of_a_cell_go_together():
    """Q1 quarter and Q1 ÅTD are the same figure; a count and a share of one cell are blanked together."""
    q1 = {"period": "2025-Q1", "period_start": "2025-01-01", "period_end": "2025-03-31"}
    rows = []
    for kind in ("quarter", "ytd"):
        p = {**q1, "period_type": kind}
        rows += [cell("center", "C1", 20, **p), cell("unit", "U1", 3, **p), cell("unit", "U2", 9, **p),
                 cell("unit", "U3", 8, **p)]
        rows += [cell(level, key, n / d, numerator=n, denominator=d, unit="share", measure="share", **p)
                 for level, key, n, d in (("center", "C1", 16, 20), ("unit", "U1", 3, 3), ("unit", "U2", 7, 9),
                                          ("unit", "U3", 6, 8))]
    out = suppress_for_public(pd.DataFrame(rows), ORG)
    blank = out["value"].isna().to_numpy()
    # U1 (count 3, share 3/3) and its complement U3 (8 < 9), both measures, quarter and ÅTD twin
    assert blank.tolist() == [False, True, False, True] * 4


def test_the_complement_of_an_earlier_atd_goes_to_the_later_period():
    """ÅTD(Q2) = ÅTD(Q1) + Q2: a small ÅTD(Q1) cell is protected in Q2, never the other way."""
    rows = []
    for kind, start, end, label, values in (("quarter", "2025-01-01", "2025-03-31", "2025-Q1", (12, 3, 9)),
                                            ("quarter", "2025-04-01", "2025-06-30", "2025-Q2", (20, 10, 10)),
                                            ("ytd", "2025-01-01", "2025-06-30", "2025-Q2", (32, 13, 19))):
        p = {"period_type": kind, "period": label, "period_start": start, "period_end": end}
        rows += [cell("center", "C1", values[0], **p), cell("unit", "U1", values[1], **p),
                 cell("unit", "U2", values[2], **p)]
    out = suppress_for_public(pd.DataFrame(rows), pd.DataFrame({"unit": ["U1", "U2"], "center": ["C1", "C1"],
                                                                "area": ["A", "A"]}))
    q1 = out["value"].isna().to_numpy()[:3]
    assert q1.tolist() == [False, True, True]  # U1 (3) and its complement U2 in Q1
    later = out["value"].isna().to_numpy()[3:]
    # Q1's blanked units would fall out of ÅTD(Q2) - Q2: Q2's units are blanked (10 <= 13 and 19)
    assert later.tolist() == [False, True, True, False, False, False]


def test_each_period_adds_up_in_the_organisation_of_its_end():
    """U2 moved from C1 to C2 on 2025-01-01. In 2024-Q4, C1 = U1 + U2 and U2 (3) needs a
    complement among C1's units; on today's structure it would look for one under C2."""
    org = pd.DataFrame({"unit": ["U1", "U2", "U2", "U3"], "center": ["C1", "C1", "C2", "C2"], "area": ["A"] * 4,
                        "valid_from": pd.to_datetime(["2019-01-01", "2019-01-01", "2025-01-01", "2019-01-01"]),
                        "valid_to": pd.to_datetime([None, "2024-12-31", None, None])})
    q4 = {"period_type": "quarter", "period": "2024-Q4", "period_start": "2024-10-01", "period_end": "2024-12-31"}
    rows = pd.DataFrame([cell("center", "C1", 13, **q4), cell("unit", "U1", 10, **q4), cell("unit", "U2", 3, **q4),
                         cell("center", "C2", 7, **q4), cell("unit", "U3", 7, **q4)])
    out = published(suppress_for_public(rows, org))
    assert pd.isna(out[("unit", "U2", None)]) and pd.isna(out[("unit", "U1", None)])  # 13 - 10 would give 3
    assert out[("unit", "U3", None)] == 7 and out[("center", "C2", None)] == 7


def test_sickness_days_are_blanked_by_the_persons_behind_them():
    """T5.01: 40 short days from 3 employees are one person's business more than a count of 40."""
    def t501(measure, value, unit="days", numerator=None, denominator=None, org_key="U1", level="unit"):
        return cell(level, org_key, value, unit=unit, numerator=numerator, denominator=denominator,
                    kpi_id="T5.01", measure=measure)
    rows = []
    for key, short, persons, fte in (("U1", 40.0, 3.0, 20.0), ("U2", 35.0, 6.0, 30.0), ("U3", 30.0, 7.0, 20.0)):
        rows += [t501("short_days", short, org_key=key), t501("short_persons", persons, "count", org_key=key),
                 t501("long_days", 0.0, org_key=key), t501("long_persons", 0.0, "count", org_key=key),
                 t501("per_fte", short * 365 / 92 / fte, "per_fte", numerator=short, denominator=fte, org_key=key)]
    rows += [t501("short_days", 105.0, org_key="C1", level="center"),
             t501("short_persons", 16.0, "count", org_key="C1", level="center"),
             t501("per_fte", 105 * 365 / 92 / 70, "per_fte", numerator=105.0, denominator=70.0, org_key="C1", level="center")]
    out = suppress_for_public(pd.DataFrame(rows), ORG)
    u1 = out[out["org_key"] == "U1"]
    assert u1[["value", "numerator", "denominator"]].isna().all().all()   # every measure of U1's cell
    # the complement: U3, the smaller cell (20 FTE against 30)
    assert out[out["org_key"] == "U3"][["value", "numerator", "denominator"]].isna().all().all()
    assert (out[(out["org_key"] == "U2") & (out["measure"] == "short_days")]["value"] == 35).all()
    assert set(PERSONS_BEHIND[("T5.01", "per_fte")]) == {"short_persons", "long_persons"}


def test_a_sum_over_persons_without_a_persons_count_is_never_published(caplog):
    rows = pd.DataFrame([cell("sof", "SOF", 1_250_000.0, unit="kr", kpi_id="T6.99", measure="net"),
                         cell("sof", "SOF", 40.0, kpi_id="T6.99", measure="cases")])
    out = suppress_for_public(rows, ORG)
    assert np.isnan(out.loc[0, "value"]) and out.loc[1, "value"] == 40
    assert "T6.99/net" in caplog.text


def test_threshold_never_below_three():
    with pytest.raises(ValueError, match="below the minimum"):
        suppress_for_public(pd.DataFrame([cell("sof", "SOF", 1)]), ORG, threshold=2)


def money(org_level, org_key, value, persons, dimension=None, dimension_value=None):
    return {**cell(org_level, org_key, value, dimension, dimension_value, unit="dkk"),
            "kpi_id": "T6.01", "measure": "net", "persons_behind": persons}


def test_money_resting_on_few_citizens_is_blanked_with_a_complement():
    """Theme 6: an amount is blanked by the citizens behind it (persons_behind), and a second
    member of the center's equation protects it from subtraction; a budget rests on no
    citizen (persons 0) and is published, except in a cell blanked whole."""
    rows = pd.DataFrame([money("center", "C1", 1_000_000.0, 40), money("unit", "U1", 250_000.0, 2),
                         money("unit", "U2", 300_000.0, 18), money("unit", "U3", 450_000.0, 20),
                         {**money("unit", "U1", 900_000.0, 0), "measure": "budget"},
                         {**money("center", "C1", 2_000_000.0, 0), "measure": "budget"}])
    out = suppress_for_public(rows, ORG)
    net = published(out[out["measure"] == "net"])
    assert pd.isna(net[("unit", "U1", None)])  # primary: two citizens behind 250,000
    # C1 = U1 + U2 + U3 must not have U1 as its only unknown
    assert sum(pd.isna(net[("center", "C1", None)]) + pd.isna(net[(u, k, None)])
               for u, k in (("unit", "U2"), ("unit", "U3"))) >= 1
    budget = published(out[out["measure"] == "budget"])
    assert pd.isna(budget[("unit", "U1", None)])  # U1's cell is blanked whole
    blanked_c1 = pd.isna(net[("center", "C1", None)])
    assert pd.isna(budget[("center", "C1", None)]) == blanked_c1  # the center's budget follows its cell


def test_money_on_no_citizen_is_not_small_and_money_without_a_count_is_never_published():
    rows = pd.DataFrame([money("sof", "SOF", 5_000.0, 0), money("sof", "SOF", 7_000.0, float("nan"))])
    out = suppress_for_public(rows, ORG)["value"].tolist()
    assert out[0] == 5_000.0 and pd.isna(out[1])  # fail closed: nobody counted its citizens

def _graph(equations: list[list[int]]) -> tuple[pd.Series, pd.Series]:
    members = pd.DataFrame([(c, e) for e, cells in enumerate(equations) for c in cells], columns=["_cell", "_eq"])
    return (members.groupby("_cell")["_eq"].apply(np.asarray), members.groupby("_eq")["_cell"].apply(np.asarray))


def test_a_repair_blanks_the_smallest_nearest_published_cell_of_the_latest_period():
    # cell 0 (recovered) shares equation 0 with 1 (blanked) and 2 (an earlier period); 1 shares
    # equation 1 with 3 (size 9) and 4 (size 6, zero in every figure) and 5 (size 7)
    cell_eqs, eq_cells = _graph([[0, 1, 2], [1, 3, 4, 5]])
    stage = np.array([2, 2, 1, 2, 2, 2])
    blank = np.array([True, True, False, False, False, False])
    anything = np.array([True, True, True, True, False, True])
    size = np.array([3, 2, 1, 9, 6, 7], dtype=float)
    targets, stuck = _repair_targets(np.array([0]), 2, cell_eqs, eq_cells, stage, blank, anything, size)
    # not 2 (an earlier period), not 4 (a zero hides nothing): the smallest non-zero of the next ring
    assert targets.tolist() == [5] and stuck.tolist() == []
    # with every cell of the latest period blanked, the cell is stuck there ...
    blank[[3, 4, 5]] = True
    targets, stuck = _repair_targets(np.array([0]), 2, cell_eqs, eq_cells, stage, blank, anything, size)
    assert targets.tolist() == [] and stuck.tolist() == [0]
    # ... and any period may yield for a small cell (the latest that has a published cell)
    targets, stuck = _repair_targets(np.array([0]), None, cell_eqs, eq_cells, stage, blank, anything, size)
    assert targets.tolist() == [2] and stuck.tolist() == []


def test_a_re_publication_is_audited_together_with_the_version_it_replaces():
    """Version 1 blanked a = 2 and its complement b = 10 (total 12). Late registrations make
    a = 5 tonight, nothing is small, and b = 10 is published: with the version relation (b kept
    its figure) an attacker reads a = 12 - 10 = 2 off version 1. Audited together with version 1,
    tonight blanks b (and a complement), and nothing falls."""
    from etl.publish.audit import attack  # noqa: PLC0415 - scipy

    def breakdown(total, a, b):
        return pd.DataFrame([cell("sof", "SOF", float(total)), cell("sof", "SOF", float(a), "age", "a"),
                             cell("sof", "SOF", float(b), "age", "b"), cell("sof", "SOF", 30.0, "age", "c"),
                             cell("sof", "SOF", 30.0, "age", "d")]).assign(
            value=lambda f: np.where(f["dimension"].isna(), f["value"] + 60.0, f["value"]))

    before, tonight = breakdown(12, 2, 10), breakdown(15, 5, 10)
    frozen = suppress_for_public(before, ORG).assign(version=1)
    assert np.isnan(published(frozen)[("sof", "SOF", "a")]) and np.isnan(published(frozen)[("sof", "SOF", "b")])
    earlier = frozen.assign(**{f"{q}_true": before[q].to_numpy() for q in ("value", "numerator", "denominator")})
    truth = pd.concat([tonight.assign(version=0), before.assign(version=1)], ignore_index=True)
    found = {}
    for context in (None, earlier):
        nightly = suppress_for_public(tonight, ORG, earlier_versions=context).assign(version=0)
        result = attack(pd.concat([nightly, frozen], ignore_index=True), truth, ORG)
        found[context is not None] = sorted(zip(result.determined["dimension_value"], result.determined["version"],
                                                result.determined["true"]))
    assert ("a", 1, 2.0) in found[False]  # the complement rule alone, tonight on its own figures
    assert found[True] == []


def test_what_an_old_version_gives_away_on_its_own_is_not_tonights_to_mend():
    """A version frozen before the audit, with a lone blanked figure (12 - 10 = 2 by plain
    subtraction), neither fails tonight's publication nor makes it blank more."""
    rows = pd.DataFrame([cell("sof", "SOF", 72.0), cell("sof", "SOF", 2.0, "age", "a"),
                         cell("sof", "SOF", 10.0, "age", "b"), cell("sof", "SOF", 60.0, "age", "c")])
    old = rows.assign(version=1, **{f"{q}_true": rows[q].to_numpy() for q in ("value", "numerator", "denominator")})
    old.loc[1, "value"] = np.nan  # the small cell, without its complement
    tonight = suppress_for_public(rows, ORG)
    assert suppress_for_public(rows, ORG, earlier_versions=old).equals(tonight)


class _RelationNoEquationNames:
    """An attacker (in place of etl.publish.audit.Audit) that works out the 2025-Q3 SOF count
    from the 2025-Q2 one, a relation no suppression equation names (as T1.03's share of 1.0
    fell through a clipped period inside its whole twin on the relocation test's night);
    `always`: from nothing at all."""

    always = False

    def __init__(self, true: pd.DataFrame) -> None:
        self.true = true.reset_index(drop=True)

    @classmethod
    def of_publication(cls, true: pd.DataFrame, dim_org: pd.DataFrame):
        return cls(true)

    def recovered(self, blanked: np.ndarray) -> np.ndarray:
        end = pd.to_datetime(self.true["period_end"])
        secret = (end == pd.Timestamp("2025-09-30")).to_numpy()
        source = (end == pd.Timestamp("2025-06-30")).to_numpy() & ~blanked
        return np.flatnonzero(secret & blanked) if (self.always or source.any()) else np.array([], dtype=np.int64)


@pytest.mark.parametrize("workers", [1, 2])
def test_a_small_cell_no_equation_links_costs_its_kpi_the_cells_that_give_it_away(workers, monkeypatch, caplog):
    """Fail closed: no published cell shares an equation with the small cell, so the repair has
    nothing near it to blank; the KPI's cells of its period go, then (none left there) the KPI's
    other published cells. Only an attacker that needs no published cell fails the night. With
    two workers the KPIs are audited in forked processes: their warnings and the error reach the
    task's own log and the task."""
    from etl.publish import audit  # noqa: PLC0415 - scipy

    q2 = {"period_type": "quarter", "period": "2025-Q2", "period_start": "2025-04-01", "period_end": "2025-06-30"}
    rows = pd.DataFrame([cell("sof", "SOF", 40.0, **q2), cell("sof", "SOF", 3.0),
                         cell("sof", "SOF", 50.0, kpi_id="T2.01", **q2), cell("sof", "SOF", 60.0, kpi_id="T2.01")])
    assert suppress_for_public(rows, ORG, workers=workers)["value"].isna().tolist() == [False, True, False, False]
    monkeypatch.setattr(audit, "Audit", _RelationNoEquationNames)
    with caplog.at_level("WARNING", logger="etl.publish.suppression"):
        out = suppress_for_public(rows, ORG, workers=workers)
    assert out["value"].isna().tolist() == [True, True, False, False]  # T2.06's Q2 goes; T2.01 untouched
    assert "1 small cells of T2.06 fall to a relation no equation names; blanking 1 cells" in caplog.text
    assert "could not start" not in caplog.text
    monkeypatch.setattr(_RelationNoEquationNames, "always", True)
    with pytest.raises(SuppressionAuditError, match="1 small cells of T2.06 are recoverable with every cell"):
        suppress_for_public(rows, ORG, workers=workers)


def test_the_audit_runs_in_the_task_where_workers_cannot_start(monkeypatch, caplog):
    """Some executors run a task in a daemonic process, which may not fork workers: the KPIs are
    audited one after the other, with the same result and a warning."""
    q2 = {"period_type": "quarter", "period": "2025-Q2", "period_start": "2025-04-01", "period_end": "2025-06-30"}
    rows = pd.DataFrame([cell("sof", "SOF", 40.0, **q2), cell("sof", "SOF", 3.0),
                         cell("sof", "SOF", 50.0, kpi_id="T2.01", **q2), cell("sof", "SOF", 60.0, kpi_id="T2.01")])
    expected = suppress_for_public(rows, ORG, workers=1)
    monkeypatch.setitem(multiprocessing.current_process()._config, "daemon", True)
    with caplog.at_level("WARNING", logger="etl.publish.suppression"):
        got = suppress_for_public(rows, ORG, workers=2)
    pd.testing.assert_frame_equal(got, expected)
    assert "suppression audit workers could not start" in caplog.text and "auditing the 2 KPIs in one process" in caplog.text


def test_a_refresh_keeps_the_blanks_of_the_figures_it_publishes_unchanged():
    """`blank_before` (a daytime refresh: the night's blanks where its figures are unchanged)
    starts those cells blanked, with complements for them; `unchanged_blanks` drops a blank
    whose figure changed (value, numerator, denominator or persons behind), keeps one whose
    row has no figure either time, and matches dates however they were read."""
    night = pd.DataFrame([cell("sof", "SOF", 30), cell("sof", "SOF", 3, "age_group", "0-5"),
                          cell("sof", "SOF", 12, "age_group", "6-11"), cell("sof", "SOF", 15, "age_group", "12-17")])
    out = published(suppress_for_public(night, ORG))
    assert pd.isna(out[("sof", "SOF", "0-5")]) and pd.isna(out[("sof", "SOF", "6-11")])
    # the day: 0-5 grows to 6 (no longer small), the rest as the night had them
    day = night.assign(value=[33, 6, 12, 15])
    assert published(suppress_for_public(day, ORG))[("sof", "SOF", "6-11")] == 12  # from scratch: all shown
    blanks = pd.DataFrame([cell("sof", "SOF", None, "age_group", v) for v in ("0-5", "6-11")])
    blanks[["period_start", "period_end"]] = blanks[["period_start", "period_end"]].apply(pd.to_datetime)
    kept = unchanged_blanks(blanks, day, night)
    assert kept["dimension_value"].tolist() == ["6-11"]  # 0-5 changed: it starts afresh
    refreshed = published(suppress_for_public(day, ORG, blank_before=kept))
    # 6-11 stays blanked, and a complement hides it (the smallest other member: 0-5)
    assert pd.isna(refreshed[("sof", "SOF", "6-11")]) and pd.isna(refreshed[("sof", "SOF", "0-5")])
    assert refreshed[("sof", "SOF", "12-17")] == 15 and refreshed[("sof", "SOF", None)] == 33

    with_persons = day.assign(persons_behind=[20.0, 6.0, 9.0, 11.0])
    fewer = with_persons.assign(persons_behind=[20.0, 6.0, 8.0, 11.0])  # 6-11's persons changed, not its count
    assert unchanged_blanks(blanks, with_persons, fewer)["dimension_value"].tolist() == ["0-5"]
    empty = day.assign(value=[33, 6, None, 15])  # no figure then, no figure now: unchanged
    assert unchanged_blanks(blanks, empty, empty)["dimension_value"].tolist() == ["0-5", "6-11"]
    assert unchanged_blanks(blanks, empty, day)["dimension_value"].tolist() == ["0-5"]
    # a row blank before because it has no figure blanks nothing
    nothing = published(suppress_for_public(empty, ORG, blank_before=blanks[blanks["dimension_value"] == "6-11"]))
    assert nothing[("sof", "SOF", "0-5")] == 6 and nothing[("sof", "SOF", "12-17")] == 15
    # an earlier set that repeats a key cannot say which figure was published: refused, not guessed
    with pytest.raises(ValueError, match="the earlier rows repeat a key"):
        unchanged_blanks(blanks, day, pd.concat([night, night.iloc[[1]].assign(value=4)], ignore_index=True))
