"""From KPI members to `mart.kpi_value` rows, at every organisation level and breakdown.

A KPI function selects its *members* (the citizens, decisions, notifications … that
count, one row per member and organisational placement) and hands them here. Every
figure is recomputed from the members at each level: distinct counts are `nunique` per
group, never sums of lower levels, because one citizen active in two units counts once
in the center and once in SOF.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np
import pandas as pd

from etl.core.periods import Period
from etl.core.vocabulary import UNKNOWN
from etl.model import empty_frame
from etl.model.org import resolve_org
from etl.publish.marts import KPI_VALUE

SOF_KEY = "SOF"

#: (org_level, column of the members frame holding its key); `sof` is one constant key.
ORG_LEVELS: tuple[tuple[str, str | None], ...] = (
    ("sof", None), ("area", "org_area"), ("center", "org_center"), ("unit", "org_unit"),
)

#: The number of distinct citizens behind a cell of money (theme 6), carried from the KPI
#: rows to the publisher for suppressing `public` by persons (NaN where the figure rests on
#: no persons or is not money). Internal: never a column of the published tables.
PERSONS_BEHIND = "persons_behind"
#: The columns a KPI computes; the pipeline adds provisional, version, run_id and computed_at,
#: and BI's keys (etl.publish.dims.with_bi_keys).
PIPELINE_COLUMNS = ("provisional", "version", "run_id", "computed_at", "period_key", "comparison", "org_id",
                    "value_status")
KPI_ROW_COLUMNS = [*(c for c in KPI_VALUE.column_names if c not in PIPELINE_COLUMNS), PERSONS_BEHIND]
KPI_ROW_DTYPES = pd.concat([empty_frame(KPI_VALUE).dtypes,
                            pd.Series({PERSONS_BEHIND: np.dtype("float64")})])[KPI_ROW_COLUMNS]

#: What a KPI function returns: its figures without the kpi id and period columns.
MEASURE_COLUMNS = ["measure", "org_level", "org_key", "dimension", "dimension_value",
                   "value", "numerator", "denominator", "unit", PERSONS_BEHIND]


def in_period(dates: pd.Series, period: Period) -> pd.Series:
    """Flow membership: the date (of a date or timestamp) lies in [S, E], both ends included."""
    days = dates.dt.normalize()
    return (days >= pd.Timestamp(period.start)) & (days <= pd.Timestamp(period.end))


def active_on(starts: pd.Series, ends: pd.Series, day: dt.date) -> pd.Series:
    """Stock membership: start <= day and (end is null or end >= day), on dates.

    A missing start compares False, so such rows are never active.
    """
    status_date = pd.Timestamp(day)
    return (starts.dt.normalize() <= status_date) & (ends.isna() | (ends.dt.normalize() >= status_date))


def flag_label(flags: pd.Series) -> pd.Series:
    """Booleans as the breakdown labels `true` / `false` (`Ukendt` when missing)."""
    labels = flags.astype("boolean").map({True: "true", False: "false"})
    return labels.where(flags.notna(), UNKNOWN).astype("str")


def with_org(frame: pd.DataFrame, dim_org: pd.DataFrame, on: dt.date,
             area_column: str | None = "area") -> pd.DataFrame:
    """Add `org_area`, `org_center`, `org_unit` from the frame's `unit_code` on date `on`.

    The area is the fact's own `area_column` (the system's area) where the fact has one,
    so a case with an unknown unit code keeps its area and only center and unit become
    `Ukendt`; without one (HR) it is the area of the resolved unit.
    """
    org = resolve_org(frame["unit_code"], dim_org, on)
    area = frame[area_column] if area_column else org["org_area"]
    return frame.assign(org_area=area.astype("str"), org_center=org["center"], org_unit=org["unit"])


def _as_codes(values: pd.Series) -> pd.Series:
    """Integer codes standing in for the values (NaN for missing), so that `nunique`
    over millions of string keys does not re-hash the strings for every group."""
    codes, _ = pd.factorize(values)
    return pd.Series(np.where(codes >= 0, codes, np.nan), index=values.index)


def _codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Sorted integer codes of the values and their labels (missing labelled `Ukendt`).

    Text is factorised as it is, and `Ukendt` slotted into the sorted labels afterwards:
    the same codes as labelling first, without turning every value into a Python object
    and back (that was most of `summarise` on the large frames). A categorical (theme 6's
    labels) gives the same codes and labels from its categories, without text per member."""
    if isinstance(values.dtype, pd.CategoricalDtype):
        return _category_codes(values)
    if values.dtype != "str":
        values = values.astype(object).where(values.notna(), UNKNOWN).astype(str)
    codes, uniques = pd.factorize(values, sort=True)
    uniques = np.asarray(uniques, dtype=object)
    missing = codes < 0
    if missing.any():
        labels = np.array(sorted({*uniques, UNKNOWN}), dtype=object)
        # each old code's new position, and code -1 (missing) at the end: Ukendt's
        moved = np.append(np.searchsorted(labels, uniques), np.searchsorted(labels, UNKNOWN))
        codes = moved[codes]
        uniques = labels
    return codes.astype(np.int64), uniques


def _category_codes(values: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """`_codes` of a categorical of text: the categories present (and `Ukendt` where a value
    is missing), sorted, and each member's position among them."""
    raw = values.cat.codes.to_numpy().astype(np.int64)
    categories = np.asarray(values.cat.categories.astype(str), dtype=object)
    used = np.bincount(raw[raw >= 0], minlength=len(categories)) > 0
    labels = {*categories[used]} | ({UNKNOWN} if (raw < 0).any() else set())
    labels = np.array(sorted(labels), dtype=object)
    if not len(labels):
        return raw, labels
    # each category's position among the labels (unused ones unread), and -1 (missing) at the end: Ukendt's
    moved = np.append(np.searchsorted(labels, categories), np.searchsorted(labels, UNKNOWN))
    return moved[raw], labels


def _groupings(members: pd.DataFrame, breakdowns: tuple[str, ...]):
    """Every (org level, dimension) grouping of `summarise`, as integer group codes.

    Yields (level, dimension, group, size, labels): `group` holds each member's group as
    `key_code * width + value_code` (sorted codes, so ascending groups are ascending
    labels), `size` the number of possible groups, and `labels(groups)` gives the
    (org_key, dimension_value) labels of group codes. The dimension `None` is the total.
    """
    n = len(members)
    columns = {"sof": (np.zeros(n, dtype=np.int64), np.array([SOF_KEY], dtype=object))}
    for column in [key_column for _, key_column in ORG_LEVELS if key_column] + list(breakdowns):
        columns[column] = _codes(members[column])
    total = (np.zeros(n, dtype=np.int64), np.array([None], dtype=object))
    for level, key_column in ORG_LEVELS:
        key_codes, key_labels = columns[key_column or "sof"]
        for dimension in (None, *breakdowns):
            dim_codes, dim_labels = total if dimension is None else columns[dimension]
            width = max(len(dim_labels), 1)

            def labels(groups, key_labels=key_labels, dim_labels=dim_labels, width=width):
                return key_labels[groups // width], dim_labels[groups % width]

            yield level, dimension, key_codes * width + dim_codes, len(key_labels) * width, labels


def _distinct_per_group(group: np.ndarray, entities: np.ndarray, n_entities: int, size: int) -> np.ndarray:
    """Distinct entity codes (>= 0; -1 is missing) per group code, for all `size` groups:
    the distinct (group, entity) pairs by hashing (pd.unique), not sorting."""
    known = entities >= 0
    pairs = pd.unique(group[known] * max(n_entities, 1) + entities[known])
    return np.bincount(pairs // max(n_entities, 1), minlength=size)


#: `summarise` aggregations (entity, func, amount): the distinct entities whose amounts in the
#: group sum to more than zero / to anything but zero, in whole cents (a reversed posting
#: leaves no float residue behind).
_SIGNED = {"positive": lambda cents: cents > 0, "nonzero": lambda cents: cents != 0}


def _signed_per_group(group: np.ndarray, entities: np.ndarray, n_entities: int, size: int,
                      amounts: np.ndarray, keep) -> np.ndarray:
    """Per group, the distinct entities whose summed amount in the group passes `keep`."""
    known = entities >= 0
    # the distinct (group, entity) pairs by hashing, not sorting (as `_distinct_per_group`):
    # each pair's amounts are still summed in row order, so the sums are the same to the bit
    at, pairs = pd.factorize(group[known] * max(n_entities, 1) + entities[known])
    sums = np.round(np.bincount(at, weights=amounts[known], minlength=len(pairs)) * 100)
    return np.bincount(pairs[keep(sums)] // max(n_entities, 1), minlength=size)


def _summary_frame(parts: dict[str, list], names: Iterable[str]) -> pd.DataFrame:
    """The per-grouping arrays as one frame, with the SOF total present (0 for every
    aggregation when there are no members)."""
    summary = pd.DataFrame({k: np.concatenate(v) if v else np.array([], dtype=object) for k, v in parts.items()})
    if not ((summary["org_level"] == "sof") & summary["dimension"].isna()).any():
        zero_total = {"org_level": "sof", "org_key": SOF_KEY, "dimension": None,
                      "dimension_value": None, **dict.fromkeys(names, 0)}
        summary = pd.concat([summary, pd.DataFrame([zero_total])], ignore_index=True)
    return summary


def _label_parts(parts: dict[str, list], level: str, dimension: str | None, present: np.ndarray, labels) -> None:
    """Append the label columns of one grouping's present groups to `parts`."""
    org_keys, dimension_values = labels(present)
    parts["org_level"].append(np.full(len(present), level, dtype=object))
    parts["org_key"].append(org_keys)
    parts["dimension"].append(np.full(len(present), dimension, dtype=object))
    parts["dimension_value"].append(dimension_values)


def summarise(members: pd.DataFrame, breakdowns: tuple[str, ...],
              **aggregations: tuple[str, str]) -> pd.DataFrame:
    """Named aggregations per org level × org key × (total, then each breakdown's values).

    `aggregations` map an output name to (column, "nunique" | "sum"), e.g.
    `value=("citizen_key", "nunique")`, or to (entity, "positive" | "nonzero", amount): the
    distinct entities whose `amount` sums to > 0 / != 0 within the group (e.g. the cases with
    cost in a group). Missing breakdown values are labelled `Ukendt`.
    The SOF total is always present, with 0 for every aggregation when there are no
    members; other groups exist only where members do (an absent group reads as 0).

    Works on integer codes with numpy (factorised once per call): a group is
    `key_code * n_values + value_code`, a distinct count is the number of distinct
    (group, entity) pairs, a sum a weighted `bincount`. pandas' per-groupby overhead
    dominated the nightly run when this was ~20 groupbys per KPI and period.
    """
    n = len(members)
    values = {}
    for name, (column, func, *weight) in aggregations.items():
        if func in ("nunique", *_SIGNED):
            codes, _ = pd.factorize(members[column])
            values[name] = (func, codes.astype(np.int64), int(codes.max()) + 1 if n else 0)
            if func in _SIGNED:
                (weight_column,) = weight
                values[name] += (members[weight_column].to_numpy(dtype=float, na_value=0.0),)
        elif func == "sum":
            values[name] = ("sum", members[column].to_numpy(dtype=float, na_value=0.0), 0)
        else:
            raise ValueError(f"unknown aggregation {func!r}")

    parts: dict[str, list] = {"org_level": [], "org_key": [], "dimension": [], "dimension_value": []}
    parts.update({name: [] for name in aggregations})
    for level, dimension, group, size, labels in _groupings(members, breakdowns):
        present = np.flatnonzero(np.bincount(group, minlength=size))  # ascending, without a sort
        for name, (func, data, n_entities, *weights) in values.items():
            if func == "nunique":
                result = _distinct_per_group(group, data, n_entities, size)
            elif func in _SIGNED:
                result = _signed_per_group(group, data, n_entities, size, weights[0], _SIGNED[func])
            else:
                result = np.bincount(group, weights=data, minlength=size)
            parts[name].append(result[present])
        _label_parts(parts, level, dimension, present, labels)
    return _summary_frame(parts, aggregations)


def ratio(numerator: pd.Series, denominator: pd.Series) -> np.ndarray:
    """numerator / denominator as floats, NaN (NULL) where the denominator is 0."""
    num = numerator.to_numpy(dtype=float, na_value=np.nan)
    den = denominator.to_numpy(dtype=float, na_value=np.nan)
    return np.divide(num, den, out=np.full(len(num), np.nan), where=den != 0)


def measure_rows(summary: pd.DataFrame, measure: str, unit: str, value: pd.Series | np.ndarray,
                 numerator: pd.Series | None = None, denominator: pd.Series | None = None,
                 persons_behind: pd.Series | np.ndarray | None = None) -> pd.DataFrame:
    """One measure's rows from a `summarise` result: value, and for rates and means the
    numerator and denominator they came from; for money, the distinct citizens behind each
    cell (`persons_behind`, NaN when not given)."""
    n = len(summary)

    def floats(column) -> np.ndarray:  # a summary column, or an array computed from them
        if column is None:
            return np.full(n, np.nan)
        array = (column.to_numpy(dtype=float, na_value=np.nan) if isinstance(column, pd.Series)
                 else np.asarray(column, dtype=float))
        if len(array) != n:
            raise ValueError(f"{measure}: {len(array)} values for {n} summary rows")
        return array

    # Built from arrays in one go: assigning column by column and reordering took 5 ms
    # a call, over a thousand calls a night. The columns are in MEASURE_COLUMNS order.
    return pd.DataFrame({
        "measure": np.full(n, measure, dtype=object),
        **{column: summary[column].to_numpy(dtype=object)
           for column in ("org_level", "org_key", "dimension", "dimension_value")},
        "value": floats(value), "numerator": floats(numerator), "denominator": floats(denominator),
        "unit": np.full(n, unit, dtype=object), PERSONS_BEHIND: floats(persons_behind),
    }, index=summary.index)


def count_rows(members: pd.DataFrame, entity: str, breakdowns: tuple[str, ...],
               measure: str = "count") -> pd.DataFrame:
    """Distinct `entity` per group (an event key counts events, a citizen key counts citizens)."""
    summary = summarise(members, breakdowns, value=(entity, "nunique"))
    return measure_rows(summary, measure, "count", summary["value"])


def share_rows(members: pd.DataFrame, entity: str, numerator: str, denominator: str,
               breakdowns: tuple[str, ...], measure: str = "share") -> pd.DataFrame:
    """Share of distinct `entity` in the boolean column `numerator` among those in `denominator`.

    Groups come from all members, so a group whose members all fall outside the
    denominator still has its row, with numerator 0, denominator 0 and value NULL.
    """
    marked = members.assign(
        _in_numerator=members[entity].where(members[numerator] & members[denominator]),
        _in_denominator=members[entity].where(members[denominator]))
    summary = summarise(marked, breakdowns, numerator=("_in_numerator", "nunique"),
                        denominator=("_in_denominator", "nunique"))
    return measure_rows(summary, measure, "share", ratio(summary["numerator"], summary["denominator"]),
                        summary["numerator"], summary["denominator"])


def kpi_value_rows(rows: pd.DataFrame, kpi_id: str, period: Period) -> pd.DataFrame:
    """Stamp a KPI function's rows with its id and period: the `mart.kpi_value` columns
    the KPI layer owns, in contract order and dtypes."""
    stamped = rows.assign(kpi_id=kpi_id, period_type=period.kind, period=period.label,
                          period_start=pd.Timestamp(period.start), period_end=pd.Timestamp(period.end))
    return stamped[KPI_ROW_COLUMNS].astype(KPI_ROW_DTYPES).reset_index(drop=True)


# --- Helpers added for themes 2 and 3: month arithmetic, durations (lower medians), extra org levels.

def add_months_to(dates: pd.Series, months: int) -> pd.Series:
    """`etl.core.periods.add_months` on a whole column: the same day-of-month `months` later,
    clipped to the month's last day (2025-10-31 + 4 = 2026-02-28); NaT stays NaT."""
    return dates + pd.DateOffset(months=months)


def summarise_org_level(members: pd.DataFrame, level: str, key_column: str,
                        **aggregations: tuple[str, str]) -> pd.DataFrame:
    """`summarise` for one further organisation level (e.g. `caseworker`), totals only.

    The rows have the shape of a `summarise` result (dimension NULL), so they can be
    concatenated with one before `measure_rows`. Members without a key are left out.
    """
    keyed = members[members[key_column].notna()]
    columns = ["org_level", "org_key", "dimension", "dimension_value", *aggregations]
    if keyed.empty:
        return pd.DataFrame(columns=columns)
    prepared = pd.DataFrame({"org_key": keyed[key_column].astype("str")}, index=keyed.index)
    plain = {name: spec for name, spec in aggregations.items() if spec[1] not in _SIGNED}
    for name, (column, func) in plain.items():
        prepared[name] = _as_codes(keyed[column]) if func == "nunique" else keyed[column]
    groups = prepared.groupby("org_key", sort=True)
    grouped = pd.DataFrame({name: groups[name].agg(func) for name, (_, func) in plain.items()},
                           index=pd.Index(sorted(prepared["org_key"].unique()), name="org_key"))
    for name, (entity, func, weight) in ((n, a) for n, a in aggregations.items() if a[1] in _SIGNED):
        sums = (keyed[weight].astype(float).groupby([prepared["org_key"], _as_codes(keyed[entity])]).sum() * 100).round()
        passing = sums[_SIGNED[func](sums)]
        grouped[name] = passing.groupby(level=0).size().reindex(grouped.index, fill_value=0)
    return grouped.reset_index().assign(org_level=level, dimension=None, dimension_value=None)[columns]


#: The duration measures `duration_rows` can give.
DURATION_MEASURES = ("count", "mean_days", "median_days", "min_days", "max_days")


def duration_rows(members: pd.DataFrame, entity: str, days: str, breakdowns: tuple[str, ...],
                  measures: tuple[str, ...] = DURATION_MEASURES) -> pd.DataFrame:
    """Event count and duration statistics for the groups of `summarise`.

    `count` is distinct `entity` (the events, or the persons when `entity` is a citizen
    key); the other measures use only the members whose `days` is present (usable
    dates), so the two can differ. `mean_days` carries the summed days as numerator and
    the usable members as denominator; `median_days` (the lower median: with an even
    number of values the lower middle one, so always an observed value), `min_days` and
    `max_days` carry the usable members as denominator, so small cells are suppressed in
    public output. A group without usable dates has NULL values and denominator 0.
    """
    unknown = set(measures) - set(DURATION_MEASURES)
    if unknown:
        raise ValueError(f"not duration measures: {sorted(unknown)}")
    stats = ("count", "usable", "total", "min_days", "max_days", "median")
    parts: dict[str, list] = {"org_level": [], "org_key": [], "dimension": [], "dimension_value": []}
    parts.update({name: [] for name in stats})
    entities, _ = pd.factorize(members[entity])
    entities = entities.astype(np.int64)
    n_entities = int(entities.max()) + 1 if len(entities) else 0
    days_all = members[days].to_numpy(dtype=float, na_value=np.nan)
    has_days = ~np.isnan(days_all)
    known_days = days_all[has_days]
    for level, dimension, group, size, labels in _groupings(members, breakdowns):
        present = np.flatnonzero(np.bincount(group, minlength=size))
        # the usable days sorted by group, then value: each group's min, lower median and
        # max are positions in its run (numpy, as in `summarise`, instead of a groupby)
        known_group = group[has_days]
        sorted_days = known_days[np.lexsort((known_days, known_group))]
        usable = np.bincount(known_group, minlength=size)
        ends = np.cumsum(usable)
        starts = ends - usable
        some = usable > 0
        ranked = {name: np.full(size, np.nan) for name in ("min_days", "max_days", "median")}
        ranked["min_days"][some] = sorted_days[starts[some]]
        ranked["max_days"][some] = sorted_days[ends[some] - 1]
        ranked["median"][some] = sorted_days[starts[some] + (usable[some] - 1) // 2]  # the lower middle
        figures = {"count": _distinct_per_group(group, entities, n_entities, size), "usable": usable,
                   "total": np.bincount(known_group, weights=known_days, minlength=size), **ranked}
        for name in stats:
            parts[name].append(figures[name][present])
        _label_parts(parts, level, dimension, present, labels)
    # no members: only the SOF total, 0 events and nothing usable (min, max, median NULL)
    summary = _summary_frame(parts, ("count", "usable", "total"))
    usable = summary["usable"].astype(float)
    none = usable.eq(0)
    rows = {
        "count": lambda: measure_rows(summary, "count", "count", summary["count"]),
        "mean_days": lambda: measure_rows(summary, "mean_days", "days", ratio(summary["total"], usable),
                                          summary["total"].astype(float), usable),
        "median_days": lambda: measure_rows(summary, "median_days", "days",
                                            summary["median"].astype(float).where(~none), None, usable),
        "min_days": lambda: measure_rows(summary, "min_days", "days",
                                         summary["min_days"].astype(float).where(~none), None, usable),
        "max_days": lambda: measure_rows(summary, "max_days", "days",
                                         summary["max_days"].astype(float).where(~none), None, usable),
    }
    return pd.concat([rows[m]() for m in measures], ignore_index=True)


# --- Helpers added for themes 1, 4 and 5: ages on row dates, shares split by the
# numerator's attributes, and figures that are not yet available.

def age_at(birth_dates: pd.Series, dates: pd.Series) -> pd.Series:
    """Completed years on each row's own date, as `demographics.age_on` counts them (a
    29 February birthday is reached on 1 March in other years); <NA> when either is missing."""
    births, on = pd.to_datetime(birth_dates), pd.to_datetime(dates)
    not_reached = (births.dt.month * 100 + births.dt.day) > (on.dt.month * 100 + on.dt.day)
    years = on.dt.year - births.dt.year - not_reached.astype(int)
    return years.astype("Int64").where(births.notna() & on.notna())


def part_share_rows(members: pd.DataFrame, entity: str, numerator: str, parts: tuple[str, ...],
                    measure: str = "share") -> pd.DataFrame:
    """Share of each org group's distinct `entity` that are in the boolean column `numerator`,
    in total and split by `parts`: columns describing the numerator members only (the
    combination of systems, the next step taken, the reason for leaving).

    Unlike `share_rows`, a part's denominator is the whole org group, not the members with
    that part value, so the parts of a group add up to its total share when every entity
    has one value. Parts are given only where the group has numerator members.
    """
    in_numerator = members[numerator].fillna(False).astype(bool)
    marked = members.assign(_in_numerator=members[entity].where(in_numerator))
    totals = summarise(marked, (), numerator=("_in_numerator", "nunique"), denominator=(entity, "nunique"))
    summary = totals
    if parts:
        split = summarise(members[in_numerator], parts, numerator=(entity, "nunique"))
        split = split[split["dimension"].notna()]
        if not split.empty:
            split = split.merge(totals[["org_level", "org_key", "denominator"]],
                                on=["org_level", "org_key"], how="left")
            summary = pd.concat([totals, split], ignore_index=True)
    return measure_rows(summary, measure, "share", ratio(summary["numerator"], summary["denominator"]),
                        summary["numerator"], summary["denominator"])


def not_yet_available(rows: pd.DataFrame) -> pd.DataFrame:
    """A measure the data cannot support yet (its follow-up window has not passed by the
    extraction date): the total of every org group that has members, with value,
    numerator and denominator NULL, so it can never be read as 0; no breakdown rows."""
    totals = rows[rows["dimension"].isna()]
    return totals.assign(value=np.nan, numerator=np.nan, denominator=np.nan)
