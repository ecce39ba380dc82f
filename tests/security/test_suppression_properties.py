"""Property-based attacks on `public` small-cell suppression.

Random, fully additive KPI tables (SOF = its areas = their centers = their units, and every
org cell's total = its breakdown values) with many zeros, ones and small values are
suppressed, then attacked: an attacker who knows the structure solves every equation
(total = sum of parts) that has exactly one unknown, feeds what it learned back in and
repeats until nothing more falls. No blanked cell may ever fall.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from etl.core.settings import ConfigurationError, Settings
from etl.publish.suppression import MINIMUM_THRESHOLD, equation_members, suppress_for_public

PROPERTY = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
CELL = {"kpi_id": "T9.99", "measure": "count", "period_type": "quarter", "period": "2025-Q3",
        "period_start": "2025-07-01", "period_end": "2025-09-30"}
small = st.one_of(st.just(0), st.just(1), st.integers(0, 4), st.integers(0, 9), st.integers(0, 40))


@st.composite
def org_trees(draw):
    """area -> centers -> units, and the breakdown values every unit is split by."""
    tree = {}
    for a in range(draw(st.integers(1, 2))):
        tree[f"A{a}"] = {f"A{a}C{c}": [f"A{a}C{c}U{u}" for u in range(draw(st.integers(1, 3)))]
                         for c in range(draw(st.integers(1, 3)))}
    breakdown = [f"v{i}" for i in range(draw(st.integers(1, 3)))]
    return tree, breakdown


def _dim_org(tree) -> pd.DataFrame:
    return pd.DataFrame([{"unit": u, "center": c, "area": a} for a, centers in tree.items()
                         for c, units in centers.items() for u in units])


def _nodes(tree):
    """(level, key, units under it) for every org node."""
    yield "sof", "SOF", [u for centers in tree.values() for units in centers.values() for u in units]
    for a, centers in tree.items():
        yield "area", a, [u for units in centers.values() for u in units]
        for c, units in centers.items():
            yield "center", c, list(units)
            for u in units:
                yield "unit", u, [u]


@st.composite
def count_tables(draw):
    tree, breakdown = draw(org_trees())
    leaf = {(u, v): draw(small) for u in _dim_org(tree)["unit"] for v in breakdown}
    rows = []
    for level, key, units in _nodes(tree):
        rows.append({**CELL, "org_level": level, "org_key": key, "dimension": None, "dimension_value": None,
                     "value": float(sum(leaf[u, v] for u in units for v in breakdown)),
                     "numerator": np.nan, "denominator": np.nan, "unit": "count"})
        for v in breakdown:
            rows.append({**CELL, "org_level": level, "org_key": key, "dimension": "age_group", "dimension_value": v,
                         "value": float(sum(leaf[u, v] for u in units)),
                         "numerator": np.nan, "denominator": np.nan, "unit": "count"})
    rows.append({**CELL, "org_level": "caseworker", "org_key": "cw-1", "dimension": None, "dimension_value": None,
                 "value": 1.0, "numerator": np.nan, "denominator": np.nan, "unit": "count"})
    return pd.DataFrame(rows), _dim_org(tree)


@st.composite
def share_tables(draw):
    """Shares whose numerators and denominators both add up (deadline compliance and the like)."""
    tree, breakdown = draw(org_trees())
    leaf = {}
    for u in _dim_org(tree)["unit"]:
        for v in breakdown:
            den = draw(small)
            leaf[u, v] = (draw(st.integers(0, den)), den)
    rows = []
    for level, key, units in _nodes(tree):
        for v in [None, *breakdown]:
            picked = [leaf[u, w] for u in units for w in (breakdown if v is None else [v])]
            num, den = sum(p[0] for p in picked), sum(p[1] for p in picked)
            rows.append({**CELL, "measure": "share", "org_level": level, "org_key": key,
                         "dimension": None if v is None else "age_group", "dimension_value": v,
                         "value": num / den if den else np.nan, "numerator": float(num),
                         "denominator": float(den), "unit": "share"})
    return pd.DataFrame(rows), _dim_org(tree)


def attack(truth: pd.DataFrame, public: pd.DataFrame, dim_org: pd.DataFrame, column: str) -> set[int]:
    """Rows whose `column` an attacker recovers by chained subtraction (parts add up to totals)."""
    members = equation_members(public, dim_org)
    true = truth[column].to_numpy(dtype=float)
    known = public[column].notna().to_numpy() | np.isnan(true)  # NaN in truth is nobody's secret
    recovered: set[int] = set()
    equations = [members.iloc[i] for i in members.groupby("_eq").indices.values()]
    equations = [(eq["_row"].to_numpy(), eq["_role"].to_numpy() == "total") for eq in equations]
    for rows, is_total in equations:
        assert is_total.sum() == 1
        assert true[rows[is_total]].sum() == true[rows[~is_total]].sum()  # the generator builds additive tables
    progress = True
    while progress:
        progress = False
        for rows, _ in equations:
            unknown = rows[~known[rows]]
            if len(unknown) == 1:
                known[unknown[0]] = True
                recovered.add(int(unknown[0]))
                progress = True
    return recovered


def _truth(values: pd.DataFrame) -> pd.DataFrame:
    return values[values["org_level"] != "caseworker"].reset_index(drop=True)


def _check_equations(truth, public, dim_org, column):
    """Every equation hides 0 or at least 2 non-zero cells of `column`."""
    members = equation_members(public, dim_org)
    rows, eq = members["_row"].to_numpy(), members["_eq"].to_numpy()
    hidden = (public[column].isna() & (truth[column] > 0)).to_numpy()[rows]
    per_equation = np.bincount(eq, weights=hidden.astype(float))
    assert not (per_equation == 1).any(), members[eq == np.flatnonzero(per_equation == 1)[0]]


@PROPERTY
@given(count_tables(), st.integers(MINIMUM_THRESHOLD, 7))
def test_no_small_count_is_published_nor_recoverable(table, threshold):
    values, dim_org = table
    public = suppress_for_public(values, dim_org, threshold)
    truth = _truth(values)
    assert (public["org_level"] != "caseworker").all()
    assert len(public) == len(truth)
    published = public["value"].dropna()
    assert not ((published >= 1) & (published < threshold)).any()
    assert (public["value"].isna() == (truth["value"] != public["value"])).all()  # blanked or exact
    _check_equations(truth, public, dim_org, "value")
    assert attack(truth, public, dim_org, "value") == set()


@PROPERTY
@given(share_tables(), st.integers(MINIMUM_THRESHOLD, 7))
def test_no_small_share_is_published_nor_recoverable(table, threshold):
    values, dim_org = table
    public = suppress_for_public(values, dim_org, threshold)
    truth = _truth(values)
    for column in ("numerator", "denominator"):
        published = public[column].dropna()
        assert not ((published >= 1) & (published < threshold)).any(), column
        _check_equations(truth, public, dim_org, column)
        assert attack(truth, public, dim_org, column) == set(), column
    # a blanked share is blanked whole
    blank = public["denominator"].isna()
    assert public.loc[blank, ["value", "numerator"]].isna().all().all()


def test_a_total_blanked_as_complement_is_not_the_sum_of_its_published_parts():
    """U1's total is blanked to protect U2 among the units; its breakdown must not give it away."""
    org = pd.DataFrame({"unit": ["U1", "U2"], "center": ["C", "C"], "area": ["A", "A"]})
    def row(level, key, value, dv=None):
        return {**CELL, "org_level": level, "org_key": key, "dimension": dv and "age_group", "dimension_value": dv,
                "value": float(value), "numerator": np.nan, "denominator": np.nan, "unit": "count"}
    values = pd.DataFrame([row("center", "C", 12), row("unit", "U1", 9), row("unit", "U2", 3),
                           row("unit", "U1", 5, "a"), row("unit", "U1", 4, "b"),
                           row("center", "C", 5, "a"), row("center", "C", 7, "b"),
                           row("unit", "U2", 0, "a"), row("unit", "U2", 3, "b")])
    public = suppress_for_public(values, org)
    assert attack(values, public, org, "value") == set()
    assert public["value"].isna().sum() >= 3


def test_a_share_with_a_small_numerator_is_blanked_whole():
    org = pd.DataFrame({"unit": ["U1"], "center": ["C"], "area": ["A"]})
    values = pd.DataFrame([{**CELL, "measure": "share", "org_level": "sof", "org_key": "SOF", "dimension": None,
                            "dimension_value": None, "value": 0.05, "numerator": 2.0, "denominator": 40.0,
                            "unit": "share"}])
    assert suppress_for_public(values, org)[["value", "numerator", "denominator"]].isna().all().all()


def test_threshold_from_the_settings(tmp_path):
    def threshold(**env):
        return Settings.resolve({"SOFLI_DATA_DIR": str(tmp_path), **env}).suppression_threshold

    assert threshold() == 5
    assert threshold(SOFLI_SUPPRESSION_THRESHOLD="10") == 10
    assert threshold(SOFLI_SUPPRESSION_THRESHOLD="3") == 3
    with pytest.raises(ConfigurationError, match="at least 3"):
        threshold(SOFLI_SUPPRESSION_THRESHOLD="2")
    with pytest.raises(ConfigurationError, match="whole number"):
        threshold(SOFLI_SUPPRESSION_THRESHOLD="five")
    with pytest.raises(ValueError, match="below the minimum"):  # and the function refuses it too
        suppress_for_public(pd.DataFrame(), pd.DataFrame(), threshold=2)
