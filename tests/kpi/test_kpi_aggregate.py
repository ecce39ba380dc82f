"""The shared helpers: org levels, distinct counts, shares, period membership, row shape."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from etl.kpi.aggregate import (
    KPI_ROW_COLUMNS, active_on, count_rows, flag_label, in_period, kpi_value_rows, ratio,
    share_rows, summarise, with_org,
)
from etl.periods import Period

Q3 = Period("quarter", "2025-Q3", dt.date(2025, 7, 1), dt.date(2025, 9, 30))


def members(*rows: tuple) -> pd.DataFrame:
    """(citizen, area, center, unit, gender) rows as a members frame with org columns."""
    return pd.DataFrame(rows, columns=["citizen_key", "org_area", "org_center", "org_unit", "gender"])


def value(rows, org_level="sof", org_key="SOF", dimension=None, dimension_value=None, column="value"):
    match = (rows["org_level"] == org_level) & (rows["org_key"] == org_key) & (
        rows["dimension"].isna() if dimension is None else rows["dimension"] == dimension) & (
        rows["dimension_value"].isna() if dimension_value is None else rows["dimension_value"] == dimension_value)
    assert match.sum() == 1
    return rows.loc[match, column].iloc[0]


def test_distinct_counts_are_recomputed_at_every_level():
    # c1 is active in unit A (area X, center P) and unit B (area Y, center Q); c2 in unit A twice.
    rows = count_rows(members(("c1", "X", "P", "A", "K"), ("c1", "Y", "Q", "B", "K"),
                              ("c2", "X", "P", "A", "M"), ("c2", "X", "P", "A", "M")),
                      "citizen_key", ("gender",))
    assert value(rows) == 2                       # not 3 (the sum of the areas)
    assert value(rows, "area", "X") == 2
    assert value(rows, "area", "Y") == 1
    assert value(rows, "center", "P") == 2
    assert value(rows, "unit", "B") == 1
    assert value(rows, dimension="gender", dimension_value="K") == 1
    assert value(rows, "area", "Y", "gender", "K") == 1
    assert set(rows["org_level"]) == {"sof", "area", "center", "unit"}
    assert (rows["measure"] == "count").all() and rows["numerator"].isna().all()


def test_missing_breakdown_value_is_ukendt_and_missing_groups_are_omitted():
    rows = count_rows(members(("c1", "X", "P", "A", None)), "citizen_key", ("gender",))
    assert value(rows, dimension="gender", dimension_value="Ukendt") == 1
    assert not (rows["dimension_value"] == "M").any()


def test_no_members_gives_only_a_zero_sof_total():
    rows = count_rows(members(), "citizen_key", ("gender",))
    assert len(rows) == 1
    assert value(rows) == 0


def test_share_keeps_numerator_and_denominator_and_never_divides_by_zero():
    frame = members(("n1", "X", "P", "A", "K"), ("n2", "X", "P", "A", "K"), ("n3", "Y", "Q", "B", "K")).assign(
        in_time=[True, False, False], eligible=[True, True, False])
    rows = share_rows(frame, "citizen_key", "in_time", "eligible", ())
    assert (value(rows, column="numerator"), value(rows, column="denominator"), value(rows)) == (1, 2, 0.5)
    # Area Y has a member, but none in the denominator: 0 / 0 and no value.
    assert (value(rows, "area", "Y", column="numerator"), value(rows, "area", "Y", column="denominator")) == (0, 0)
    assert pd.isna(value(rows, "area", "Y"))


def test_share_of_no_members_is_a_zero_over_zero_total():
    rows = share_rows(members().assign(in_time=[], eligible=[]), "citizen_key", "in_time", "eligible", ())
    assert len(rows) == 1
    assert (value(rows, column="numerator"), value(rows, column="denominator")) == (0, 0)
    assert pd.isna(value(rows))


def test_summarise_sums_add_across_members():
    frame = members(("e1", "X", "P", "A", "K"), ("e2", "X", "Q", "B", "K")).assign(days=[3, 4])
    summary = summarise(frame, (), days=("days", "sum"))
    assert value(summary, column="days") == 7
    assert value(summary, "center", "Q", column="days") == 4


def test_ratio_is_null_for_zero_denominator():
    result = ratio(pd.Series([1, 0, 3]), pd.Series([2, 0, 0]))
    assert result[0] == 0.5 and pd.isna(result[1]) and pd.isna(result[2])


def test_flag_labels():
    flags = pd.Series([True, False, None], dtype="boolean")
    assert flag_label(flags).tolist() == ["true", "false", "Ukendt"]


def test_with_org_keeps_the_fact_area_for_unknown_units(dim_org):
    facts = pd.DataFrame({"unit_code": ["BFC-NORD", "NOPE"], "area": ["Børn og Unge", "Voksne"]})
    org = with_org(facts, dim_org, dt.date(2025, 9, 30))
    assert org["org_area"].tolist() == ["Børn og Unge", "Voksne"]
    assert org["org_center"].tolist() == ["Center for Børn og Familier Nord", "Ukendt"]
    assert org["org_unit"].tolist() == ["Familierådgivning Nord", "Ukendt"]


def test_with_org_without_fact_area_uses_the_organisation_on_the_date(dim_org):
    # HR code 4010202 (Familierådgivning Vest) moves from center Syd to Nord on 2025-01-01.
    employees = pd.DataFrame({"unit_code": ["4010202", "0000000"]})
    before = with_org(employees, dim_org, dt.date(2024, 12, 31), area_column=None)
    after = with_org(employees, dim_org, dt.date(2025, 1, 1), area_column=None)
    assert before["org_center"].tolist() == ["Center for Børn og Familier Syd", "Ukendt"]
    assert after["org_center"].tolist() == ["Center for Børn og Familier Nord", "Ukendt"]
    assert after["org_area"].tolist() == ["Børn og Unge", "Ukendt"]


def test_in_period_includes_both_end_days_at_any_time_of_day():
    stamps = pd.Series(pd.to_datetime(["2025-06-30 23:59", "2025-07-01 00:00", "2025-09-30 23:59",
                                       "2025-10-01 00:00", None])).astype("datetime64[s]")
    assert in_period(stamps, Q3).tolist() == [False, True, True, False, False]


def test_active_on_boundaries_and_missing_start():
    starts = pd.Series(pd.to_datetime(["2025-09-30", "2025-10-01", None, "2025-01-01", "2025-01-01"]))
    ends = pd.Series(pd.to_datetime([None, None, None, "2025-09-30", "2025-09-29"]))
    assert active_on(starts, ends, dt.date(2025, 9, 30)).tolist() == [True, False, False, True, False]


def test_kpi_value_rows_have_the_contract_columns_and_period():
    rows = kpi_value_rows(count_rows(members(("c1", "X", "P", "A", "K")), "citizen_key", ()), "T9.99", Q3)
    assert list(rows.columns) == KPI_ROW_COLUMNS == [
        "kpi_id", "measure", "period_type", "period", "period_start", "period_end", "org_level", "org_key",
        "dimension", "dimension_value", "value", "numerator", "denominator", "unit"]
    assert set(rows["kpi_id"]) == {"T9.99"} and set(rows["period_type"]) == {"quarter"}
    assert rows["period_start"].iloc[0] == pd.Timestamp("2025-07-01")
    assert rows["period_end"].iloc[0] == pd.Timestamp("2025-09-30")
    assert str(rows["value"].dtype) == "Float64" and str(rows["period_end"].dtype) == "datetime64[s]"


@pytest.mark.parametrize("level", ["area", "center", "unit"])
def test_every_org_key_total_is_present_where_members_are(level):
    rows = count_rows(members(("c1", "X", "P", "A", "K"), ("c2", "Y", "Q", "B", "M")), "citizen_key", ("gender",))
    totals = rows[(rows["org_level"] == level) & rows["dimension"].isna()]
    assert len(totals) == 2 and (totals["value"] == 1).all()


@pytest.mark.parametrize("dtype", ["str", "object"])
@pytest.mark.parametrize("values", [
    ["b", None, "a", "Ukendt", "Æ", "z", None], ["b", "a"], [None, None], [], ["Ukendt", None], ["å", "Z", "a", None],
])
def test_group_codes_are_those_of_labelling_missing_as_ukendt_first(values, dtype):
    """`_codes` slots Ukendt in after factorising; the codes and labels must be what
    labelling the missing values Ukendt and then factorising sorted would give."""
    import numpy as np

    from etl.kpi.aggregate import _codes

    series = pd.Series(values, dtype=dtype)
    labelled = series.astype(object).where(series.notna(), "Ukendt").astype(str)
    expected_codes, expected_labels = pd.factorize(labelled, sort=True)
    codes, labels = _codes(series)
    assert codes.tolist() == expected_codes.tolist()
    assert list(labels) == list(np.asarray(expected_labels, dtype=object))
