"""The shared helpers: org levels, distinct counts, shares, period membership, row shape."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd
import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from etl.core.periods import Period
from etl.kpi.aggregate import (
    KPI_ROW_COLUMNS,
    ORG_LEVELS,
    _codes,
    active_on,
    count_rows,
    duration_rows,
    flag_label,
    in_period,
    kpi_value_rows,
    measure_rows,
    ratio,
    share_rows,
    summarise,
    with_org,
)
from etl.model.org import resolve_org

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
        "dimension", "dimension_value", "value", "numerator", "denominator", "unit", "persons_behind"]
    assert set(rows["kpi_id"]) == {"T9.99"} and set(rows["period_type"]) == {"quarter"}
    assert rows["period_start"].iloc[0] == pd.Timestamp("2025-07-01")
    assert rows["period_end"].iloc[0] == pd.Timestamp("2025-09-30")
    assert str(rows["value"].dtype) == "Float64" and str(rows["period_end"].dtype) == "datetime64[s]"


@pytest.mark.parametrize("level", ["area", "center", "unit"])
def test_every_org_key_total_is_present_where_members_are(level):
    rows = count_rows(members(("c1", "X", "P", "A", "K"), ("c2", "Y", "Q", "B", "M")), "citizen_key", ("gender",))
    totals = rows[(rows["org_level"] == level) & rows["dimension"].isna()]
    assert len(totals) == 2 and (totals["value"] == 1).all()


@pytest.mark.parametrize("dtype", ["str", "object", "category"])
@pytest.mark.parametrize("values", [
    ["b", None, "a", "Ukendt", "Æ", "z", None], ["b", "a"], [None, None], [], ["Ukendt", None], ["å", "Z", "a", None],
])
def test_group_codes_are_those_of_labelling_missing_as_ukendt_first(values, dtype):
    """`_codes` slots Ukendt in after factorising; the codes and labels must be what
    labelling the missing values Ukendt and then factorising sorted would give. A categorical
    (theme 6's member labels) gives the same, whatever its unused categories."""

    series = pd.Series(values, dtype="str" if dtype == "category" else dtype)
    if dtype == "category":
        unused = ["Ukendt", "0 unused", "ø unused"]
        series = series.astype(pd.CategoricalDtype(sorted({*series.dropna(), *unused}, reverse=True)))
    labelled = series.astype(object).where(series.notna(), "Ukendt").astype(str)
    expected_codes, expected_labels = pd.factorize(labelled, sort=True)
    codes, labels = _codes(series)
    assert codes.tolist() == expected_codes.tolist()
    assert list(labels) == list(np.asarray(expected_labels, dtype=object))


def _random_members(seed: int, n: int) -> pd.DataFrame:
    """Members with repeated and missing citizens, breakdown values and days."""

    rng = np.random.default_rng(seed)

    def pick(values, missing_share=0.0):
        chosen = pd.Series(rng.choice(values, n), dtype=object)
        return chosen.where(rng.random(n) >= missing_share, None)

    return pd.DataFrame({
        "citizen_key": pick([f"c{i}" for i in range(max(n // 3, 1))], 0.05),
        "org_area": pick(["Voksne", "Børn og Unge"]).astype("str"),
        "org_center": pick(["C1", "C2", "Ukendt"]).astype("str"),
        "org_unit": pick(["U1", "U2", "U3", "U4"]).astype("str"),
        "gender": pick(["K", "M"], 0.1).astype("str"),
        "age_group": pick(["0-17", "18-64", "65+"], 0.1),
        "days": pd.Series(rng.integers(0, 400, n), dtype="float").where(rng.random(n) >= 0.2),
    })


def _groupby_reference(members: pd.DataFrame, breakdowns: tuple[str, ...], aggregate) -> pd.DataFrame:
    """What `summarise` and `duration_rows` compute, with pandas groupby per (org level,
    dimension): an independent check of their numpy grouping."""

    labelled = members.copy()
    labelled["sof"] = "SOF"
    for column in [c for _, c in ORG_LEVELS if c] + list(breakdowns):
        labelled[column] = labelled[column].astype(object).where(labelled[column].notna(), "Ukendt").astype(str)
    pieces = []
    for level, key_column in ORG_LEVELS:
        key = key_column or "sof"
        for dimension in (None, *breakdowns):
            groups = labelled.groupby([key] if dimension is None else [key, dimension], sort=True)
            stats = aggregate(groups).reset_index().rename(columns={key: "org_key", dimension: "dimension_value"})
            if dimension is None:
                stats["dimension_value"] = None
            pieces.append(stats.assign(org_level=level, dimension=dimension))
    return pd.concat(pieces, ignore_index=True)


def _group_labels(frame: pd.DataFrame) -> list[list]:
    labels = frame[["org_level", "org_key", "dimension", "dimension_value"]].astype(object)
    return labels.where(labels.notna(), None).values.tolist()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_summarise_equals_a_pandas_groupby(seed):
    data = _random_members(seed, 500)
    got = summarise(data, ("gender", "age_group"), persons=("citizen_key", "nunique"), days=("days", "sum"))
    expected = _groupby_reference(data, ("gender", "age_group"), lambda groups: pd.DataFrame({
        "persons": groups["citizen_key"].nunique(), "days": groups["days"].sum()}))
    assert _group_labels(got) == _group_labels(expected)
    assert got["persons"].tolist() == expected["persons"].tolist()
    assert got["days"].tolist() == expected["days"].tolist()


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_summarise_gives_the_same_rows_for_categorical_labels(seed):
    """Theme 6 hands `summarise` its labels as categoricals (memory at national): every row, in
    the same order, is what the same labels as text give."""
    data = _random_members(seed, 500)
    categorical = data.assign(**{c: data[c].astype("category") for c in ("org_area", "org_center", "org_unit",
                                                                          "gender", "age_group")})
    aggregations = {"persons": ("citizen_key", "nunique"), "days": ("days", "sum")}
    pd.testing.assert_frame_equal(summarise(categorical, ("gender", "age_group"), **aggregations),
                                  summarise(data, ("gender", "age_group"), **aggregations))


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_duration_statistics_equal_a_pandas_groupby(seed):
    """Count of distinct entities, usable days, mean, lower median, min and max per group."""

    data = _random_members(seed, 400)
    rows = duration_rows(data, "citizen_key", "days", ("gender",))
    expected = _groupby_reference(data, ("gender",), lambda groups: pd.DataFrame({
        "count": groups["citizen_key"].nunique(), "usable": groups["days"].count(),
        "total": groups["days"].sum(), "min_days": groups["days"].min(), "max_days": groups["days"].max(),
        "median_days": groups["days"].quantile(0.5, interpolation="lower")}))
    usable = expected["usable"].astype(float)

    def measure(name):
        return rows[rows["measure"] == name].reset_index(drop=True)

    np.testing.assert_array_equal(measure("count")["value"], expected["count"])
    np.testing.assert_allclose(measure("mean_days")["value"], expected["total"] / usable.where(usable > 0))
    np.testing.assert_array_equal(measure("mean_days")["denominator"], usable)
    for name in ("median_days", "min_days", "max_days"):
        np.testing.assert_array_equal(measure(name)["value"], expected[name].where(usable > 0))
        np.testing.assert_array_equal(measure(name)["denominator"], usable)
    for name in ("count", "median_days"):
        assert _group_labels(measure(name)) == _group_labels(expected)


def test_duration_of_no_members_is_a_zero_sof_total():
    rows = duration_rows(_random_members(1, 10).iloc[:0], "citizen_key", "days", ("gender",))
    assert rows[["measure", "org_level", "org_key"]].values.tolist() == [
        [m, "sof", "SOF"] for m in ("count", "mean_days", "median_days", "min_days", "max_days")]
    assert rows["value"].iloc[0] == 0 and rows["value"].iloc[1:].isna().all()
    assert (rows["denominator"].iloc[1:] == 0).all()


def test_measure_rows_refuses_values_of_another_length():
    summary = summarise(members(("c1", "X", "P", "A", "K")), (), value=("citizen_key", "nunique"))
    with pytest.raises(ValueError, match="count: 2 values for 4 summary rows"):
        measure_rows(summary, "count", "count", [1, 2])


def test_resolve_org_takes_the_later_of_two_valid_rows_and_labels_gaps_ukendt(dim_org):
    doubled = pd.concat([dim_org, dim_org[dim_org["unit_code"] == "BFC-NORD"].assign(center="Nyt center")],
                        ignore_index=True)
    doubled.loc[doubled["unit_code"] == "4010202", "unit"] = None  # a reference row without a unit name
    codes = pd.Series(["BFC-NORD", None, "NOPE", "4010202", "BFC-NORD"], index=[5, 6, 7, 8, 9], dtype="str")
    org = resolve_org(codes, doubled, dt.date(2025, 9, 30))
    assert org.index.tolist() == [5, 6, 7, 8, 9]
    assert org["center"].tolist() == ["Nyt center", "Ukendt", "Ukendt", "Center for Børn og Familier Nord",
                                      "Nyt center"]
    assert org["unit"].tolist() == ["Familierådgivning Nord", "Ukendt", "Ukendt", "Ukendt", "Familierådgivning Nord"]
    assert all(str(org[c].dtype) == "str" for c in org)
    assert resolve_org(codes.iloc[:0], doubled, dt.date(2025, 9, 30)).shape == (0, 3)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.sampled_from(["U1", "U2", None]), st.sampled_from(["a", "b", None]),
                          st.one_of(st.none(), st.integers(0, 5)),
                          st.sampled_from([0.0, 0.1, 0.2, -0.3, 1e6, -1e6, 12.34, -12.34])), max_size=40))
@example([("U1", "a", 1, 0.1), ("U1", "a", 1, 0.2), ("U1", "a", 1, -0.3), ("U2", None, 2, 12.34)])  # a float residue
def test_entities_with_money_are_counted_per_group_as_read_plainly(rows):
    """`positive` / `nonzero` against their reading: per group, the distinct entities whose
    amounts there sum (in whole cents, in row order) above / away from zero."""
    members = pd.DataFrame(rows, columns=["org_unit", "kind", "case", "net"]).astype(
        {"org_unit": "str", "kind": "str", "case": "float", "net": "float"})
    members = members.assign(org_area="A", org_center="C")
    summary = summarise(members, ("kind",), positive=("case", "positive", "net"), nonzero=("case", "nonzero", "net"))
    for row in summary.itertuples():
        if row.org_level == "sof":
            inside = members
        else:
            key = members[{"area": "org_area", "center": "org_center", "unit": "org_unit"}[row.org_level]]
            inside = members[key.fillna("Ukendt") == row.org_key]
        if not pd.isna(row.dimension):
            inside = inside[inside[row.dimension].fillna("Ukendt") == row.dimension_value]
        cents = {case: round(sum(g["net"].tolist()) * 100) for case, g in inside.dropna(subset=["case"]).groupby("case")}
        assert (row.positive, row.nonzero) == (sum(c > 0 for c in cents.values()), sum(c != 0 for c in cents.values()))
