import pandas as pd
import pytest

from etl.publish.suppression import suppress_for_public

ORG = pd.DataFrame({"unit": ["U1", "U2", "U3"], "center": ["C1", "C1", "C1"], "area": ["A", "A", "A"]})


def cell(org_level, org_key, value, dimension=None, dimension_value=None, denominator=None, unit="count"):
    return {"kpi_id": "T2.06", "measure": "count", "period_type": "quarter", "period": "2025-Q3",
            "period_start": "2025-07-01", "period_end": "2025-09-30", "org_level": org_level, "org_key": org_key,
            "dimension": dimension, "dimension_value": dimension_value, "value": value,
            "numerator": None, "denominator": denominator, "unit": unit}


def published(frame):
    return {(r.org_level, r.org_key, None if pd.isna(r.dimension_value) else r.dimension_value): r.value
            for r in frame.itertuples()}


def test_small_counts_and_their_complement_are_blanked_within_a_breakdown():
    rows = pd.DataFrame([cell("sof", "SOF", 30),
                         cell("sof", "SOF", 3, "age_group", "0-5"), cell("sof", "SOF", 12, "age_group", "6-11"),
                         cell("sof", "SOF", 15, "age_group", "12-17"), cell("sof", "SOF", 0, "age_group", "18-22")])
    out = published(suppress_for_public(rows, ORG))
    assert out[("sof", "SOF", None)] == 30
    assert pd.isna(out[("sof", "SOF", "0-5")])          # primary: 3 < 5
    assert pd.isna(out[("sof", "SOF", "6-11")])         # complementary: else 30 - 12 - 15 - 0 = 3
    assert out[("sof", "SOF", "12-17")] == 15 and out[("sof", "SOF", "18-22")] == 0  # zero is never a secret


def test_units_of_one_center_protect_each_other_and_caseworkers_never_reach_public():
    rows = pd.DataFrame([cell("center", "C1", 24), cell("unit", "U1", 2), cell("unit", "U2", 10),
                         cell("unit", "U3", 12), cell("caseworker", "cw1", 2)])
    out = published(suppress_for_public(rows, ORG))
    assert pd.isna(out[("unit", "U1", None)]) and pd.isna(out[("unit", "U2", None)])
    assert out[("unit", "U3", None)] == 12 and out[("center", "C1", None)] == 24
    assert not any(level == "caseworker" for level, _, _ in out)


def test_rates_on_fewer_than_five_events_are_blanked_whole():
    rows = pd.DataFrame([cell("sof", "SOF", 0.75, denominator=4, unit="share"),
                         cell("sof", "SOF", 0.5, denominator=10, unit="share", dimension="acute", dimension_value="true")])
    out = suppress_for_public(rows, ORG)
    assert out[["value", "denominator"]].iloc[0].isna().all()
    assert out["value"].iloc[1] == 0.5


def test_threshold_never_below_three():
    with pytest.raises(ValueError, match="below the minimum"):
        suppress_for_public(pd.DataFrame([cell("sof", "SOF", 1)]), ORG, threshold=2)


def money(org_level, org_key, value, persons, dimension=None, dimension_value=None):
    return {**cell(org_level, org_key, value, dimension, dimension_value, unit="dkk"),
            "kpi_id": "T6.01", "measure": "net", "persons_behind": persons}


def test_money_resting_on_few_citizens_is_blanked_with_a_complement():
    """Theme 6: an amount is blanked by the citizens behind it (persons_behind), and the
    center's other units protect it from subtraction; a budget (no persons) stays."""
    rows = pd.DataFrame([money("center", "C1", 1_000_000.0, 40), money("unit", "U1", 250_000.0, 2),
                         money("unit", "U2", 300_000.0, 18), money("unit", "U3", 450_000.0, 20),
                         {**money("unit", "U1", 900_000.0, None), "measure": "budget"}])
    out = suppress_for_public(rows, ORG)
    net = published(out[out["measure"] == "net"])
    assert pd.isna(net[("unit", "U1", None)])  # primary: two citizens behind 250,000
    assert pd.isna(net[("unit", "U2", None)])  # complementary: else 1,000,000 - 300,000 - 450,000
    assert net[("unit", "U3", None)] == 450_000.0 and net[("center", "C1", None)] == 1_000_000.0
    assert out.loc[out["measure"] == "budget", "value"].tolist() == [900_000.0]


def test_money_on_no_citizen_is_not_small():
    rows = pd.DataFrame([money("sof", "SOF", 5_000.0, 0), money("sof", "SOF", 7_000.0, float("nan"))])
    assert suppress_for_public(rows, ORG)["value"].tolist() == [5_000.0, 7_000.0]
