"""The attacker itself (etl/publish/audit.py, also the publisher's audit): what it must find, on tables small enough
to solve by hand, and its determination against one LP per unknown (min == max)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import scipy.optimize
from etl.publish.audit import _determine, attack
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

ORG = pd.DataFrame({"unit": ["U1", "U2", "U3"], "center": ["C1", "C1", "C2"], "area": ["A", "A", "A"],
                    "valid_from": pd.to_datetime(["2019-01-01"] * 3), "valid_to": pd.NaT})


def row(value, org_level="sof", org_key="SOF", dimension=None, dimension_value=None, period_type="quarter",
        start="2025-07-01", end="2025-09-30", measure="count", numerator=np.nan, denominator=np.nan, unit="count",
        version=0):
    return {"kpi_id": "T9.99", "measure": measure, "period_type": period_type, "period": "2025-Q3",
            "period_start": start, "period_end": end, "org_level": org_level, "org_key": org_key,
            "dimension": dimension, "dimension_value": dimension_value, "value": float(value),
            "numerator": numerator, "denominator": denominator, "unit": unit, "version": version}


def blank(rows: list[dict], *which: int) -> pd.DataFrame:
    public = pd.DataFrame(rows)
    public.loc[list(which), ["value", "numerator", "denominator"]] = np.nan
    return public


def found(public, truth, **kwargs) -> set[int]:
    return set(attack(public, truth, ORG, **kwargs).determined["_row"])


def breakdown(total, *parts):
    return [row(total), *(row(v, dimension="age", dimension_value=f"v{i}") for i, v in enumerate(parts))]


def test_subtraction_recovers_a_lone_blanked_part():
    rows = breakdown(10, 3, 7) + breakdown(20, 8, 12)  # a second instance: the class adds up
    for r in rows[3:]:
        r["org_level"], r["org_key"] = "area", "A"
    assert found(blank(rows, 1), pd.DataFrame(rows)) == {1}


def test_two_blanked_parts_hide_each_other_unless_the_publisher_never_blanks_zeros():
    rows = breakdown(9, 1, 1, 7) + breakdown(20, 8, 12, 0)
    for r in rows[4:]:
        r["org_level"], r["org_key"] = "area", "A"
    public, truth = blank(rows, 1, 2), pd.DataFrame(rows)
    assert found(public, truth) == set()                         # 0 + 2 or 2 + 0 fit as well
    assert found(public, truth, zeros_blanked=False) == {1, 2}   # both >= 1 and summing to 2: both 1


def test_a_published_zero_total_pins_every_blanked_part_at_zero():
    rows = breakdown(0, 0, 0) + breakdown(20, 8, 12)
    for r in rows[3:]:
        r["org_level"], r["org_key"] = "area", "A"
    assert found(blank(rows, 1, 2), pd.DataFrame(rows)) == {1, 2}


def test_the_organisation_of_each_periods_end():
    """U2 moved from C1 to C2 on 2025-07-01: in 2025-Q2, C1 = U1 + U2; in 2025-Q3, C2 = U2 + U3."""
    org = pd.DataFrame({"unit": ["U1", "U2", "U2", "U3"], "center": ["C1", "C1", "C2", "C2"], "area": ["A"] * 4,
                        "valid_from": pd.to_datetime(["2019-01-01", "2019-01-01", "2025-07-01", "2019-01-01"]),
                        "valid_to": pd.to_datetime([None, "2025-06-30", None, None])})
    q2 = {"start": "2025-04-01", "end": "2025-06-30"}
    rows = [row(9, "center", "C1", **q2), row(4, "unit", "U1", **q2), row(5, "unit", "U2", **q2),
            row(7, "center", "C2", **q2), row(7, "unit", "U3", **q2),
            row(12, "center", "C1"), row(12, "unit", "U1"), row(11, "center", "C2"), row(6, "unit", "U2"),
            row(5, "unit", "U3")]
    truth = pd.DataFrame(rows)
    # Q2: U2 blanked beside C1 and U1 -> 9 - 4; Q3: U3 blanked beside C2 and U2 -> 11 - 6
    assert set(attack(blank(rows, 2, 9), truth, org).determined["_row"]) == {2, 9}
    # on today's structure (U2 always under C2) Q2's C2 would be U2 + U3 = 12, not 7: the
    # attacker reads off the truth that such a relation does not add up, and only bounds
    today = org[~((org["unit"] == "U2") & (org["center"] == "C1"))].assign(valid_from=pd.Timestamp("2019-01-01"))
    assert set(attack(blank(rows, 2, 9), truth, today).determined["_row"]) == set()


def test_quarter_against_year_to_date():
    """Q1 quarter = Q1 ÅTD (the same cell twice); ÅTD(Q2) = ÅTD(Q1) + Q2."""
    q1 = {"start": "2025-01-01", "end": "2025-03-31"}
    rows = []
    for org_key, (a, b) in {"SOF": (7, 9), "X": (3, 5)}.items():  # two lines: the class adds up
        level = "sof" if org_key == "SOF" else "area"
        rows += [row(a, level, org_key, **q1), row(a, level, org_key, period_type="ytd", **q1),
                 row(b, level, org_key, start="2025-04-01", end="2025-06-30"),
                 row(a + b, level, org_key, period_type="ytd", start="2025-01-01", end="2025-06-30")]
    truth = pd.DataFrame(rows)
    assert found(blank(rows, 0), truth) == {0}          # its ÅTD twin is published
    assert found(blank(rows, 0, 1), truth) == {0, 1}    # ÅTD(Q2) - Q2
    assert found(blank(rows, 0, 1, 2), truth) == set()  # Q1 + Q2 = 16: either could be 0


def test_measures_of_one_cell_and_frozen_versions():
    rows = breakdown(10, 4, 6) + breakdown(20, 8, 12)
    for r in rows[3:]:
        r["org_level"], r["org_key"] = "area", "A"
    frozen = [{**r, "version": 1} for r in rows]
    truth = pd.DataFrame(rows + frozen)
    public = blank(rows + frozen, 1, 2, 7, 8)                  # 4 and 6 blanked in both versions
    assert found(public, truth) == set()
    public = blank(rows + frozen, 1, 2, 7)                     # the frozen version publishes the 6
    assert found(public, truth) == {1, 2, 7}


def test_bounds_from_distinct_counts_that_do_not_add_up():
    """A unit with one target group: total <= sum(parts) and part <= total pin the part."""
    rows = []
    for level, key, total, parts in (("unit", "U1", 5, (5, 0)), ("unit", "U2", 6, (4, 3)), ("unit", "U3", 8, (8, 2))):
        rows += [row(total, level, key), *(row(v, level, key, "target_group", f"g{i}") for i, v in enumerate(parts))]
    truth = pd.DataFrame(rows)
    assert found(blank(rows, 1), truth) == {1}   # 5 <= x <= 5


@st.composite
def systems(draw):
    """A random small system sum(coef * x) (= | <=) rhs that a non-negative truth satisfies."""
    n = draw(st.integers(1, 6))
    truth = np.array([draw(st.integers(0, 4)) for _ in range(n)], dtype=float)
    rows = []
    for _ in range(draw(st.integers(1, 6))):
        members = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=min(n, 4), unique=True))
        coefs = np.array([draw(st.sampled_from([-1.0, 1.0])) for _ in members])
        eq = draw(st.booleans())
        lhs = float(coefs @ truth[members])
        rows.append((np.array(members), coefs, eq, lhs if eq else lhs + draw(st.integers(0, 2))))
    return n, truth, rows


def _as_frames(rows: list[tuple]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """A drawn system as `_determine` takes it: its terms and its constraints."""
    terms = pd.DataFrame([{"con": i, "entry": int(e), "coef": c} for i, (m, cs, _, _) in enumerate(rows)
                          for e, c in zip(m, cs)])
    return terms, pd.DataFrame({"eq": [r[2] for r in rows], "rhs": [r[3] for r in rows]})


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(systems())
def test_determination_is_lp_min_equals_lp_max(system):
    n, truth, rows = system
    terms, cons = _as_frames(rows)
    unknowns = np.unique(terms["entry"].to_numpy())
    got = _determine(unknowns, terms, cons, np.zeros(n), truth)
    a = np.zeros((len(rows), n))
    for i, (m, cs, _, _) in enumerate(rows):
        a[i, m] = cs
    eq = np.array([r[2] for r in rows])
    rhs = np.array([r[3] for r in rows])
    for k, j in enumerate(unknowns):
        c = np.zeros(n)
        c[j] = 1.0
        bounds = []
        for sign in (1.0, -1.0):
            result = scipy.optimize.linprog(sign * c, A_ub=a[~eq] if (~eq).any() else None,
                                            b_ub=rhs[~eq] if (~eq).any() else None,
                                            A_eq=a[eq] if eq.any() else None, b_eq=rhs[eq] if eq.any() else None,
                                            bounds=[(0, None)] * n, method="highs")
            bounds.append(sign * result.fun if result.status == 0 else np.inf)
        pinned = abs(bounds[0] - bounds[1]) < 1e-7
        assert got[k] == pinned, (j, bounds)


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(systems(), st.sampled_from([1e3, 1.6e8, 2.5e11]))
def test_money_in_the_same_component_does_not_drown_the_counts(system, money):
    """Theme 6 puts amounts in hundreds of millions and counts of one in one component (a
    learned `amount >= persons`). Two unknown amounts that only add up, each >= every count:
    loose rows that pin nothing, so the counts are pinned exactly as without them. In units
    of the largest figure the counts fell below the solver's tolerance (an infeasible LP on
    the relocation test's second night, or another answer with other tolerances)."""
    n, truth, rows = system
    terms, cons = _as_frames(rows)
    counts = np.unique(terms["entry"].to_numpy())
    alone = _determine(counts, terms, cons, np.zeros(n), truth)
    first, second = n, n + 1  # the amounts: money and 0.37 * money, known only as their sum
    wide_truth = np.concatenate([truth, [money, 0.37 * money + 0.25]])
    extra_terms = [{"con": len(rows), "entry": first, "coef": 1.0}, {"con": len(rows), "entry": second, "coef": 1.0}]
    extra_rhs = [float(wide_truth[first] + wide_truth[second])]
    for k, j in enumerate(counts):  # count - amount <= 0, for both amounts
        for amount in (first, second):
            con = len(rows) + 1 + 2 * k + (amount - first)
            extra_terms += [{"con": con, "entry": int(j), "coef": 1.0}, {"con": con, "entry": amount, "coef": -1.0}]
            extra_rhs.append(0.0)
    wide_terms = pd.concat([terms, pd.DataFrame(extra_terms)], ignore_index=True)
    wide_cons = pd.concat([cons, pd.DataFrame({"eq": [True] + [False] * (len(extra_rhs) - 1), "rhs": extra_rhs})],
                          ignore_index=True)
    unknowns = np.concatenate([counts, [first, second]])
    wide = _determine(unknowns, wide_terms, wide_cons, np.zeros(n + 2), wide_truth)
    assert wide[: len(counts)].tolist() == alone.tolist()
    assert not wide[len(counts):].any()
