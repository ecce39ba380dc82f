"""The suppression audit: which blanked cells of `public.kpi_value` can a hostile analyst recover?

The publisher runs it on every publication (`etl.publish.suppression`: a cell it finds is
repaired by blanking more, until nothing is found), and the security tests run it as the
attacker on the warehouse's published versions (`tests/security/`). It is checked against one
LP per unknown (`tests/security/test_attack.py`).

The attacker holds every published version of `public.kpi_value` and the organisation file,
and knows how the KPIs are defined. It writes down every linear relation it can know
between published figures, treats the blanked quantities (a row's value, numerator and
denominator) as unknowns, and asks for each unknown whether its exact value follows.

Relations (`FAMILIES`):
- `breakdown`: an org cell's total against its values of one dimension;
- `org`: a parent against its children, with the structure valid on the period's end (the
  organisation file's `valid_from`/`valid_to`); a `Ukendt` center lies in no known area, so
  an area with one in its slice is only bounded by its centers;
- `time`: cells of two period types with the same start and end are the same figure (Q1
  quarter and Q1 ÅTD); ÅTD(Qn) = ÅTD(Qn-1) + Qn over every quarter (the running quarter,
  clipped to the extraction date, too); a clipped period lies inside its whole twin;
- `measure`: quantities of one KPI cell against each other (a count and a share's
  numerator, `per_fte`'s numerator = `short_days` + `long_days`, a mean's denominator and the
  count, numerator <= denominator), found by trying every pair and every a = b + c;
- `version`: a frozen version's cell and the nightly cell of the same period: equal where
  both hold the same figure, else the inequality their figures keep (the attacker is told
  which, cell by cell: more than it could guess).

Whether a kind of relation is an equation or only an inequality (distinct citizens do not add
up over units; a citizen in two target groups counts in both) is read off the true figures
(`truth`: the unsuppressed `mart.kpi_value`) per class (family, KPI, measure, quantity,
dimension or level): equal on every instance -> an equation; always total >= sum(parts), or
<= -> that inequality; always part <= total -> that bound. So the attacker knows every
regularity the definitions give, and any the data merely happen to show: never weaker than a
real analyst.

Determination: unknowns are non-negative (at least 1 where the publisher never blanks zeros:
`zeros_blanked=False`), except where the figures of a class (KPI, measure, quantity) can be
negative (money: revenue, corrections), which are free. Per connected component of unknowns,
linear programs (HiGHS) find the bounds and inequalities that are tight on every solution (a
blanked cell pinned at 0, an upper bound meeting a lower one); with those as equations, an
unknown is determined iff its unit vector lies in the row space (no null-space direction moves
it). That is "LP min == LP max" for every unknown, with a few LPs per component instead of two
per unknown.

Every relation is checked against the true figures, so a wrong relation fails loudly (an
AssertionError: in the publisher a red publish task, nothing written) instead of inventing or
hiding a leak.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.optimize
import scipy.sparse as sp
import scipy.sparse.linalg
from scipy.sparse.csgraph import connected_components

from etl.core.vocabulary import UNKNOWN
from etl.publish.audit_memo import AUDIT_COLUMNS
from etl.publish.suppression import org_parents

KEY = ["kpi_id", "measure", "period_type", "period_start", "period_end", "org_level", "org_key",
       "dimension", "dimension_value", "version"]
QUANTITIES = ("value", "numerator", "denominator")
FAMILIES = ("breakdown", "org", "time", "measure", "version")

_CHILD_LEVEL = {"center": "unit", "area": "center", "sof": "area"}
_TOL = 1e-6
#: Equal within this share of the figures' size: money is summed in floats, in any order.
_RTOL = 1e-9


def _tolerance(scale) -> np.ndarray:
    """The tolerance of a comparison of figures of `scale` (the sum of their sizes)."""
    return np.maximum(_TOL, _RTOL * np.abs(scale))


@dataclass
class AttackResult:
    """What the attacker learned. `determined` holds one row per recovered (row, quantity)."""

    blanked_rows: int
    unknowns: int
    determined: pd.DataFrame
    relations: dict[str, int]
    components: int
    largest_component: int
    seconds: float
    notes: list[str] = field(default_factory=list)

    @property
    def determined_rows(self) -> int:
        return int(self.determined["_row"].nunique()) if len(self.determined) else 0

    def summary(self) -> str:
        return (f"{self.determined_rows} of {self.blanked_rows} blanked rows determined "
                f"({len(self.determined)} of {self.unknowns} blanked quantities); {self.components} components, "
                f"largest {self.largest_component}; relations used {self.relations}; {self.seconds:.1f}s")


# --- input ---------------------------------------------------------------------------

def _normalise(frame: pd.DataFrame) -> pd.DataFrame:
    out = frame[frame["org_level"] != "caseworker"].copy()
    for c in ("period_start", "period_end"):
        out[c] = pd.to_datetime(out[c]).dt.normalize()
    for c in ("dimension", "dimension_value"):
        out[c] = out[c].astype(object).where(out[c].notna(), None)
    out["version"] = out["version"].astype(int) if "version" in out else 0
    for c in QUANTITIES:
        out[c] = pd.to_numeric(out[c], errors="coerce").astype(float)
    return out.reset_index(drop=True)


def _align(public: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """The public rows with the true quantities beside them (`value_true`, ...)."""
    public, truth = _normalise(public), _normalise(truth)
    merged = public.merge(truth[KEY + list(QUANTITIES)], on=KEY, how="left", suffixes=("", "_true"),
                          indicator=True, validate="one_to_one")
    missing = merged["_merge"] != "both"
    if missing.any():
        raise AssertionError(f"{missing.sum()} public rows have no true row: {merged.loc[missing, KEY].iloc[0].to_dict()}")
    merged = merged.drop(columns="_merge")
    for c in QUANTITIES:
        wrong = merged[c].notna() & ~np.isclose(merged[c], merged[f"{c}_true"], rtol=1e-9, atol=1e-9)
        if wrong.any():
            raise AssertionError(f"{wrong.sum()} published {c} differ from the truth")
    return merged


def _entries(rows: pd.DataFrame, zeros_blanked: bool) -> pd.DataFrame:
    """One entry per (row, quantity) with a true figure: known (published) or unknown."""
    parts = []
    for q in QUANTITIES:
        has = rows[f"{q}_true"].notna().to_numpy()
        parts.append(pd.DataFrame({"_row": np.flatnonzero(has), "q": q, "true": rows[f"{q}_true"].to_numpy()[has],
                                   "shown": rows[q].to_numpy()[has]}))
    entries = pd.concat(parts, ignore_index=True)
    entries["known"] = entries["shown"].notna()
    row = entries["_row"].to_numpy()
    plain = (rows["numerator_true"].isna() & rows["denominator_true"].isna()).to_numpy()[row]
    entries["additive_value"] = (entries["q"] == "value").to_numpy() & plain  # a count or days, not a ratio
    lower = np.zeros(len(entries))
    if not zeros_blanked:
        # a publisher that never blanks zeros: a blanked count and a blanked rate's
        # denominator are at least 1
        count_value = entries["additive_value"].to_numpy() & (rows["unit"].to_numpy()[row] == "count")
        lower[count_value | (entries["q"].to_numpy() == "denominator")] = 1.0
    # money can be negative (revenue, corrections): a class that has a negative figure is free
    mq = rows["kpi_id"].astype(str).to_numpy(dtype=object)[row] + "|" + rows["measure"].astype(str).to_numpy(dtype=object)[row] \
        + "|" + entries["q"].to_numpy(dtype=object)
    negative = pd.Series(entries["true"].to_numpy() < -_TOL).groupby(mq).transform("any").to_numpy()
    entries["lower"] = np.where(negative, -np.inf, lower)
    return entries


# --- relations: instances of total - sum(parts) ----------------------------------------

class _Relations:
    def __init__(self) -> None:
        self.members: list[pd.DataFrame] = []   # inst, entry, coef (+1 total, -1 part)
        self.instances: list[pd.DataFrame] = []  # inst, family, cls, unclean
        self.count = 0

    def add(self, family: str, inst: np.ndarray, entry: np.ndarray, coef: np.ndarray, cls: np.ndarray,
            unclean: np.ndarray) -> None:
        if len(cls) == 0:
            return
        self.members.append(pd.DataFrame({"inst": inst + self.count, "entry": entry, "coef": coef}))
        self.instances.append(pd.DataFrame({"inst": np.arange(len(cls)) + self.count, "family": family,
                                            "cls": cls, "unclean": unclean}))
        self.count += len(cls)


def _sums(rel: _Relations, family: str, entries: pd.DataFrame, total_key: pd.Series, part_key: pd.Series,
          cls: pd.Series, unclean_keys: set | None = None) -> None:
    """Instances total(key) = sum(parts(key)) per quantity; keys are Series aligned with the rows
    (None where a row is no total / no part). A key with two totals is dropped."""
    row = entries["_row"].to_numpy()
    quantity = entries["q"].to_numpy(dtype=object)
    tot = total_key.to_numpy(dtype=object)[row]
    par = part_key.to_numpy(dtype=object)[row]
    t = pd.DataFrame({"k": tot, "q": quantity, "entry": np.arange(len(entries))})[pd.notna(tot)]
    p = pd.DataFrame({"k": par, "q": quantity, "entry": np.arange(len(entries))})[pd.notna(par)]
    t = t.drop_duplicates(["k", "q"], keep=False)
    t = t[t.set_index(["k", "q"]).index.isin(p.set_index(["k", "q"]).index)].reset_index(drop=True)
    if t.empty:
        return
    t["inst"] = np.arange(len(t))
    p = p.merge(t[["k", "q", "inst"]], on=["k", "q"])
    inst = np.concatenate([t["inst"].to_numpy(), p["inst"].to_numpy()])
    entry = np.concatenate([t["entry"].to_numpy(), p["entry"].to_numpy()])
    coef = np.concatenate([np.ones(len(t)), -np.ones(len(p))])
    classes = cls.to_numpy(dtype=object)[row[t["entry"].to_numpy()]] + "|" + t["q"].to_numpy(dtype=object)
    unclean = t["k"].isin(unclean_keys).to_numpy() if unclean_keys else np.zeros(len(t), dtype=bool)
    rel.add(family, inst, entry, coef, classes, unclean)


def _text(rows: pd.DataFrame) -> dict[str, pd.Series]:
    s = {c: rows[c].astype(object).where(rows[c].notna(), "~").astype(str) for c in KEY}
    for c in ("period_start", "period_end"):
        s[c] = rows[c].dt.strftime("%Y-%m-%d")
    return s


def _build(entries: pd.DataFrame, rows: pd.DataFrame, dim_org: pd.DataFrame, families: tuple[str, ...]) -> _Relations:
    rel = _Relations()
    k = _text(rows)
    org = k["org_level"] + ":" + k["org_key"]
    slot = k["dimension"] + "=" + k["dimension_value"]
    period = k["period_type"] + "|" + k["period_start"] + "|" + k["period_end"]
    cell = k["kpi_id"] + "|" + k["measure"] + "|" + period + "|" + k["version"]
    is_total = rows["dimension"].isna()

    if "breakdown" in families:
        for dimension in sorted(rows["dimension"].dropna().unique()):
            here = rows["dimension"] == dimension
            total_key = (cell + "|" + org + "|" + dimension).where(is_total)
            part_key = (cell + "|" + org + "|" + dimension).where(here)
            _sums(rel, "breakdown", entries, total_key, part_key,
                  "B|" + k["kpi_id"] + "|" + k["measure"] + "|" + dimension)

    if "org" in families:
        parent = org_parents(rows, dim_org)
        slice_key = cell + "|" + slot + "|"
        unknown_center = set(slice_key[rows["org_level"].eq("center") & rows["org_key"].eq(UNKNOWN)])
        unclean = set((slice_key + org)[rows["org_level"].eq("area") & slice_key.isin(unknown_center)])
        _sums(rel, "org", entries, slice_key + org, (slice_key + parent.astype(str)).where(parent.notna()),
              "O|" + k["kpi_id"] + "|" + k["measure"] + "|" + rows["org_level"].map(_CHILD_LEVEL).fillna("-"), unclean)

    if "time" in families:
        base = k["kpi_id"] + "|" + k["measure"] + "|" + org + "|" + slot + "|" + k["version"]
        frame = pd.DataFrame({"base": base, "type": rows["period_type"], "start": rows["period_start"],
                              "end": rows["period_end"], "row": np.arange(len(rows))})
        time_cls = k["kpi_id"] + "|" + k["measure"]
        # the same figure under two period types (Q1 quarter and Q1 ÅTD)
        same = base + "|" + k["period_start"] + "|" + k["period_end"]
        _sums(rel, "time", entries, same.where(rows["period_type"] == "ytd"), same.where(rows["period_type"] == "quarter"),
              "T=|" + time_cls)
        # ÅTD(Qn) = ÅTD(Qn-1) + Qn
        ytd, quarter = frame[frame["type"] == "ytd"], frame[frame["type"] == "quarter"]
        chain = ytd.merge(quarter, on=["base", "end"], suffixes=("", "_q"))
        chain = chain[chain["start_q"] > chain["start"]].assign(prev_end=lambda f: f["start_q"] - pd.Timedelta(days=1))
        chain = chain.merge(ytd.rename(columns={"end": "prev_end", "row": "row_prev"})[["base", "start", "prev_end", "row_prev"]],
                            on=["base", "start", "prev_end"])
        name = "chain|" + chain["base"] + "|" + chain["end"].dt.strftime("%Y-%m-%d")
        total_key = pd.Series(None, index=rows.index, dtype=object)
        part_key = pd.Series(None, index=rows.index, dtype=object)
        total_key.iloc[chain["row"].to_numpy()] = name.to_numpy()
        part_key.iloc[chain["row_q"].to_numpy()] = name.to_numpy()
        part_key.iloc[chain["row_prev"].to_numpy()] = name.to_numpy()
        _sums(rel, "time", entries, total_key, part_key, "T+|" + time_cls)
        # a clipped period (the running quarter's last-year twin) inside its whole twin
        quarter_end = (rows["period_end"] + pd.Timedelta(days=1)).dt.day.eq(1) & rows["period_end"].dt.month.isin([3, 6, 9, 12])
        small = frame[~quarter_end.to_numpy()]
        pairs = small.merge(frame, on=["base", "type", "start"], suffixes=("", "_big"))
        pairs = pairs[pairs["end"] < pairs["end_big"]].drop_duplicates("row")
        name = "in|" + pairs["base"] + "|" + pairs["type"] + "|" + pairs["end"].dt.strftime("%Y-%m-%d")
        total_key = pd.Series(None, index=rows.index, dtype=object)
        part_key = pd.Series(None, index=rows.index, dtype=object)
        total_key.iloc[pairs["row_big"].to_numpy()] = name.to_numpy()
        part_key.iloc[pairs["row"].to_numpy()] = name.to_numpy()
        _sums(rel, "time", entries, total_key, part_key, "T<|" + time_cls)

    if "measure" in families:
        _measures(rel, entries, rows, k)

    if "version" in families:
        same = k["kpi_id"] + "|" + k["measure"] + "|" + period + "|" + org + "|" + slot
        for older in sorted(v for v in rows["version"].unique() if v != 0):
            # one class per cell: the attacker is told which cells kept their figure (an equation
            # there), and which way the others moved (an inequality): more than it could know
            _sums(rel, "version", entries, same.where(rows["version"] == 0), same.where(rows["version"] == older),
                  "V|" + same + "|" + str(older))
    return rel


def _measures(rel: _Relations, entries: pd.DataFrame, rows: pd.DataFrame, k: dict) -> None:
    """Pairs (a = b, or a >= b) and sums (a = b + c) among the quantities of one KPI cell."""
    cell = (k["kpi_id"] + "|" + k["period_type"] + "|" + k["period_start"] + "|" + k["period_end"] + "|"
            + k["org_level"] + ":" + k["org_key"] + "|" + k["dimension"] + "=" + k["dimension_value"] + "|" + k["version"])
    row = entries["_row"].to_numpy()
    keep = (entries["q"] != "value").to_numpy() | entries["additive_value"].to_numpy()  # a ratio is no sum
    e = pd.DataFrame({"cell": cell.to_numpy()[row], "kpi": rows["kpi_id"].to_numpy()[row],
                      "mq": rows["measure"].to_numpy(dtype=object)[row] + "." + entries["q"].to_numpy(dtype=object),
                      "true": entries["true"].to_numpy(), "entry": np.arange(len(entries))})[keep]
    for kpi, block in e.groupby("kpi"):
        if block["mq"].nunique() < 2:
            continue
        true = block.pivot(index="cell", columns="mq", values="true")
        ids = block.pivot(index="cell", columns="mq", values="entry")
        cols = list(true.columns)
        for a in cols:
            for b in cols:
                both = (true[a].notna() & true[b].notna()).to_numpy()
                if a == b or both.sum() < 3:
                    continue
                diff = true[a].to_numpy()[both] - true[b].to_numpy()[both]
                tol = _tolerance(np.abs(true[a].to_numpy()[both]) + np.abs(true[b].to_numpy()[both]))
                equal = np.all(np.abs(diff) < tol)
                if (equal and a > b) or not np.all(diff > -tol):
                    continue  # one equation per pair; otherwise only a >= b is a relation
                _pair(rel, ids[a].to_numpy()[both], [ids[b].to_numpy()[both]], f"M|{kpi}|{a}>={b}")
        for a in cols:
            others = [c for c in cols if c != a]
            for i, b in enumerate(others):
                for c in others[i + 1:]:
                    both = (true[a].notna() & true[b].notna() & true[c].notna()).to_numpy()
                    if both.sum() < 3:
                        continue
                    diff = true[a].to_numpy()[both] - true[b].to_numpy()[both] - true[c].to_numpy()[both]
                    tol = _tolerance(np.abs(true[a].to_numpy()[both]) + np.abs(true[b].to_numpy()[both])
                                     + np.abs(true[c].to_numpy()[both]))
                    if np.all(np.abs(diff) < tol):
                        _pair(rel, ids[a].to_numpy()[both], [ids[b].to_numpy()[both], ids[c].to_numpy()[both]],
                              f"M|{kpi}|{a}={b}+{c}")


def _pair(rel: _Relations, total: np.ndarray, parts: list[np.ndarray], cls: str) -> None:
    n = len(total)
    inst = np.concatenate([np.arange(n)] * (1 + len(parts)))
    entry = np.concatenate([total, *parts]).astype(int)
    coef = np.concatenate([np.ones(n)] + [-np.ones(n)] * len(parts))
    rel.add("measure", inst, entry, coef, np.full(n, cls, dtype=object), np.zeros(n, dtype=bool))


# --- which relations are equations, which only bounds ---------------------------------

def _classify(rel: _Relations, entries: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Members and instances, each instance with its `kind`: eq, ge (total >= sum), le, or none,
    and `part_le` (every part <= the total), read off the true figures per class."""
    members = pd.concat(rel.members, ignore_index=True)
    inst = pd.concat(rel.instances, ignore_index=True).set_index("inst")
    true = entries["true"].to_numpy()[members["entry"].to_numpy()]
    inst["residual"] = pd.Series(members["coef"].to_numpy() * true).groupby(members["inst"].to_numpy()).sum()
    tol = _tolerance(pd.Series(np.abs(true)).groupby(members["inst"].to_numpy()).sum().reindex(inst.index).to_numpy())
    totals = pd.Series(true[members["coef"].to_numpy() > 0], index=members.loc[members["coef"] > 0, "inst"].to_numpy())
    totals = totals.groupby(level=0).first()
    part_max = pd.Series(true[members["coef"].to_numpy() < 0], index=members.loc[members["coef"] < 0, "inst"].to_numpy())
    part_max = part_max.groupby(level=0).max()
    part_tol = pd.Series(tol, index=inst.index).reindex(part_max.index).to_numpy()
    inst["part_le"] = (part_max <= totals.reindex(part_max.index) + part_tol).reindex(inst.index).fillna(True).astype(bool)
    r = inst["residual"]
    inst["r_eq"], inst["r_ge"], inst["r_le"] = r.abs() < tol, r > -tol, r < tol
    clean = inst[~inst["unclean"]]
    stats = clean.groupby("cls")[["r_eq", "r_ge", "r_le", "part_le"]].all().add_prefix("c_")
    inst = inst.join(stats, on="cls")
    known_class = inst["c_r_eq"].notna()
    c = {name: inst[f"c_{name}"].fillna(False).astype(bool) for name in ("r_eq", "r_ge", "r_le", "part_le")}
    # a class never seen clean (only beside a Ukendt center): an equation where it holds, else nothing
    kind = np.select([c["r_eq"] & inst["r_eq"], (c["r_eq"] | c["r_ge"]) & inst["r_ge"], c["r_le"] & inst["r_le"]],
                     ["eq", "ge", "le"], "none")
    inst["kind"] = np.where(known_class, kind, np.where(inst["r_eq"], "eq", "none"))
    inst["bound_parts"] = (inst["kind"].isin(["le", "none"]) & c["part_le"] & inst["part_le"]).to_numpy()
    return members, inst.reset_index()


def _constraints(members: pd.DataFrame, inst: pd.DataFrame, entries: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Constraints over the unknowns, long form: `terms` (con, entry, coef) and `cons` (con, eq, rhs)
    meaning sum(coef * x) == rhs (eq) or <= rhs."""
    known = entries["known"].to_numpy()
    shown = np.nan_to_num(entries["shown"].to_numpy())
    m = members.merge(inst[["inst", "kind", "bound_parts"]], on="inst")
    m["known"] = known[m["entry"].to_numpy()]
    m["known_term"] = np.where(m["known"], m["coef"] * shown[m["entry"].to_numpy()], 0.0)
    terms, cons = [], []
    offset = 0
    main = m[m["kind"] != "none"]
    unknown_per_inst = (~main["known"]).groupby(main["inst"]).sum()
    main = main[main["inst"].map(unknown_per_inst).to_numpy() > 0]
    if len(main):
        const = main.groupby("inst")["known_term"].sum()
        kind = main.groupby("inst")["kind"].first()
        ids = pd.Series(np.arange(len(const)) + offset, index=const.index)
        unknown = main[~main["known"]]
        sign = unknown["kind"].map({"eq": 1.0, "le": 1.0, "ge": -1.0}).to_numpy()
        terms.append(pd.DataFrame({"con": ids.reindex(unknown["inst"]).to_numpy(), "entry": unknown["entry"].to_numpy(),
                                   "coef": unknown["coef"].to_numpy() * sign}))
        # total - sum(parts) = / <= / >= 0  ->  sum(coef x) = / <= / >= -const
        rhs = np.where(kind == "ge", const, -const)
        cons.append(pd.DataFrame({"con": ids.to_numpy(), "eq": (kind == "eq").to_numpy(), "rhs": rhs}))
        offset += len(const)
    bounded = m[m["bound_parts"]]
    if len(bounded):
        total = bounded[bounded["coef"] > 0].drop_duplicates("inst").set_index("inst")
        parts = bounded[bounded["coef"] < 0]
        t = total.reindex(parts["inst"])
        pair = pd.DataFrame({"p": parts["entry"].to_numpy(), "p_known": parts["known"].to_numpy(),
                             "t": t["entry"].to_numpy(), "t_known": t["known"].to_numpy()})
        pair = pair[~(pair["p_known"] & pair["t_known"])].reset_index(drop=True)
        ids = np.arange(len(pair)) + offset
        # part - total <= 0
        rhs = np.where(pair["t_known"], shown[pair["t"].to_numpy()], 0.0) - np.where(pair["p_known"], shown[pair["p"].to_numpy()], 0.0)
        cons.append(pd.DataFrame({"con": ids, "eq": False, "rhs": rhs}))
        for column, coef, known_column in (("p", 1.0, "p_known"), ("t", -1.0, "t_known")):
            keep = ~pair[known_column].to_numpy()
            terms.append(pd.DataFrame({"con": ids[keep], "entry": pair[column].to_numpy()[keep], "coef": coef}))
    if not cons:
        return pd.DataFrame(columns=["con", "entry", "coef"]), pd.DataFrame(columns=["con", "eq", "rhs"])
    return pd.concat(terms, ignore_index=True), pd.concat(cons, ignore_index=True).set_index("con")


# --- determination -------------------------------------------------------------------

def _determine(unknowns: np.ndarray, terms: pd.DataFrame, cons: pd.DataFrame, lower: np.ndarray,
               true: np.ndarray) -> np.ndarray:
    """Which unknowns of one component are pinned on every solution (boolean per unknown)."""
    n = len(unknowns)
    local = pd.Series(np.arange(n), index=unknowns)
    cons = cons.sort_values("eq", ascending=False)  # equations first, then <= rows
    row_of = pd.Series(np.arange(len(cons)), index=cons.index)
    m_eq = int(cons["eq"].sum())
    m_ub = len(cons) - m_eq
    r = row_of.reindex(terms["con"]).to_numpy()
    c = local.reindex(terms["entry"]).to_numpy()
    coef = terms["coef"].to_numpy(dtype=float)
    # z = [w = x - lower, slacks of the <= rows] >= 0, A z = b; a free unknown (money that
    # can be negative) is not shifted and has no bound
    bounded = np.isfinite(lower[unknowns])
    lower = np.where(np.isfinite(lower), lower, 0.0)
    shift = np.bincount(r, weights=coef * lower[terms["entry"].to_numpy()], minlength=len(cons))
    b = cons["rhs"].to_numpy(dtype=float) - shift
    rows = np.concatenate([r, m_eq + np.arange(m_ub)])
    cols = np.concatenate([c, n + np.arange(m_ub)])
    vals = np.concatenate([coef, np.ones(m_ub)])
    nz = n + m_ub
    a = sp.csr_matrix((vals, (rows, cols)), shape=(len(cons), nz))
    w_true = true[unknowns] - lower[unknowns]
    z_true = np.concatenate([w_true, b[m_eq:] - a[m_eq:, :n] @ w_true])
    scale = max(1.0, float(np.max(np.abs(b))) if len(b) else 1.0)
    has_bound = np.concatenate([bounded, np.ones(m_ub, dtype=bool)])
    if np.any(has_bound & (z_true < -1e-6 * scale)) or np.max(np.abs(a @ z_true - b)) > 1e-6 * scale:
        raise AssertionError("the true figures break the attacker's relations")
    # Each coordinate in units of its own size (a zero in those of its rows), each row in units
    # of its largest coefficient: one component can hold money in hundreds of millions beside
    # counts of one, and in units of the largest figure a count sank below the solver's
    # tolerance (an infeasible LP, or another answer with other tolerances: the relocation
    # test's second night). The right-hand side is the one the true figures meet exactly
    # (published figures add up only within rounding); which coordinates are pinned is the same.
    z_true = np.where(has_bound, np.maximum(z_true, 0.0), z_true)
    size = np.abs(a.multiply(z_true.reshape(1, -1))).tocsr().max(axis=1).toarray().ravel()
    of_rows = np.asarray(abs(a).T.multiply(size.reshape(1, -1)).tocsr().max(axis=1).todense()).ravel()
    # a slack within rounding of its row is none (a figure is 0 only where it is 0: a count of
    # one beside money in hundreds of millions is no rounding)
    rounding = np.abs(z_true) <= 1e-9 * of_rows
    rounding[:n] = False
    z_true = np.where(rounding, 0.0, z_true)
    # (a zero in units of its smallest row, at least 1: the solver drops coefficients below 1e-9,
    # and a zero count beside money must keep its count rows)
    coo = a.tocoo()
    smallest = np.full(nz, np.inf)
    np.minimum.at(smallest, coo.col, np.maximum(size[coo.row], 1.0))
    col = np.where(np.abs(z_true) > 0, np.abs(z_true), np.where(np.isfinite(smallest), smallest, 1.0))
    unscaled = a  # (step 2 asks only which coordinates the rows pin: the same unscaled, and coefficients of 1)
    a = (a @ sp.diags(col)).tocsr()
    a = (sp.diags(1.0 / np.maximum(abs(a).max(axis=1).toarray().ravel(), 1e-300)) @ a).tocsr()
    z_true = z_true / col
    b = np.asarray(a @ z_true).ravel()
    # 1. coordinates of z that are 0 on every solution: only those at 0 in the truth can be
    candidates = np.flatnonzero(has_bound & (z_true == 0))
    z_bounds = [(0, None) if b_ else (None, None) for b_ in has_bound]
    fixed = np.zeros(nz, dtype=bool)
    # One LP finds every loose coordinate at once (the cone trick): with A z = tau b, tau >= 1,
    # any solutions scale and average, so every coordinate that is positive on some solution
    # reaches t = 1 together; a second LP only where the solver's vertex left some out.
    # Where the solver finds the cone infeasible (figures that add up only within rounding), the
    # plain LP (tau = 1), one round per vertex.
    rhs = b.reshape(-1, 1)
    cone = True
    while len(candidates):
        k = len(candidates)
        objective = np.concatenate([np.zeros(nz + 1), -np.ones(k)])
        a_eq = sp.hstack([a, sp.csr_matrix(-rhs), sp.csr_matrix((a.shape[0], k))]).tocsr()
        a_ub = sp.hstack([-sp.csr_matrix((np.ones(k), (np.arange(k), candidates)), shape=(k, nz)),
                          sp.csr_matrix((k, 1)), sp.identity(k)]).tocsr()
        result = _linprog(objective, A_ub=a_ub, b_ub=np.zeros(k), A_eq=a_eq, b_eq=np.zeros(a.shape[0]),
                          bounds=z_bounds + [(1, None) if cone else (1, 1)] + [(0, 1)] * k)
        if result.status != 0 and cone:
            cone = False
            continue
        if result.status != 0:
            raise AssertionError(f"LP failed: {result.message}")
        loose = result.x[nz + 1:] > (1e-6 if cone else 1e-7)
        if not loose.any():
            fixed[candidates] = True
            break
        candidates = candidates[~loose]
    # 2. with those as equations, x_j is determined iff no null-space direction moves it. A <=
    # row whose slack can move constrains no direction: only equations and tight rows count.
    free = np.flatnonzero(~fixed[:n])
    determined = fixed[:n].copy()
    if len(free):
        binding = np.concatenate([np.arange(m_eq), m_eq + np.flatnonzero(fixed[n:])]).astype(int)
        determined[free] = ~_moves(unscaled[binding][:, free].tocsr())
    return determined


def _linprog(objective: np.ndarray, **problem) -> scipy.optimize.OptimizeResult:
    """HiGHS on the LP, and again without presolve where it reports a solve error or an unknown
    status on a feasible LP (Copenhagen's T6.07, money beside counts in one component: presolve's
    reductions leave it 'infeasible'). Same tolerances both times, so no answer gets looser."""
    result = scipy.optimize.linprog(objective, method="highs", **problem)
    if result.status == 4:  # numerical difficulties (HiGHS: solve error, model status unknown)
        result = scipy.optimize.linprog(objective, method="highs", options={"presolve": False}, **problem)
    return result


#: Unknowns per block of components solved together.
BATCH_UNKNOWNS = 2000


def _batches(sizes: np.ndarray, limit: int, kind: np.ndarray) -> np.ndarray:
    """Consecutive groups of components of one `kind` and at most `limit` unknowns (a larger
    component alone)."""
    out = np.zeros(len(sizes), dtype=np.int64)
    batch, filled = 0, 0
    for i, size in enumerate(sizes):
        if filled and (filled + size > limit or kind[i] != kind[i - 1]):
            batch, filled = batch + 1, 0
        out[i] = batch
        filled += size
    return out


def _moves(dense_rows: sp.csr_matrix) -> np.ndarray:
    """Per column: can some solution of `rows @ z = 0` move it? I.e. is the column's unit
    vector outside the row space. The null-space projection of three random vectors
    (sparse least squares, LSMR) is 0 exactly where no direction moves the column; tens of
    milliseconds where a dense SVD of a 3000 x 2000 system takes a minute. Where the answer
    is not clear-cut the dense SVD decides."""
    n = dense_rows.shape[1]
    if dense_rows.shape[0] == 0:
        return np.ones(n, dtype=bool)
    rng = np.random.default_rng(20251)
    transposed = dense_rows.T.tocsr()
    z = np.zeros(n)
    for _ in range(3):
        r = rng.standard_normal(n)
        y = scipy.sparse.linalg.lsmr(transposed, r, atol=1e-14, btol=1e-14, maxiter=50 * n + 1000)[0]
        z = np.maximum(z, np.abs(r - transposed @ y))
    if np.any((z > 1e-9) & (z < 1e-5)):
        return _null_space_moves(dense_rows.toarray())
    return z > 1e-7


def _null_space_moves(dense: np.ndarray) -> np.ndarray:
    """`_moves` by SVD: QR first (R is n x n however many rows), then the SVD of R."""
    n = dense.shape[1]
    if dense.shape[0] > n:
        dense = scipy.linalg.qr(dense, mode="r", check_finite=False)[0][:n]
    _, s, vh = scipy.linalg.svd(dense, full_matrices=True, check_finite=False)
    rank = int(np.sum(s > 1e-9 * max(1.0, s[0] if len(s) else 1.0)))
    return np.linalg.norm(vh[rank:], axis=0) > 1e-8


def attack(public: pd.DataFrame, truth: pd.DataFrame, dim_org: pd.DataFrame, *, zeros_blanked: bool = True,
           families: tuple[str, ...] = FAMILIES) -> AttackResult:
    """Every (row, quantity) of `public` whose blanked figure follows from the published ones.

    `truth`: the unsuppressed KPI rows of the same keys (all versions in `public`); `dim_org`:
    the organisation file as `etl.core.reference.load_reference` reads it.
    """
    return Audit(_align(public, truth), dim_org, zeros_blanked=zeros_blanked, families=families).run()


class Audit:
    """The attacker's relations over a fixed set of KPI rows, written down once: which relations
    exist and whether each is an equation or a bound depends on the true figures only, so the
    publisher's repair rounds ask `recovered` again for each new blanking without rebuilding them.

    `rows`: normalised rows (`_normalise`) with the published quantities and the true ones
    beside them (`value_true`, ...)."""

    def __init__(self, rows: pd.DataFrame, dim_org: pd.DataFrame, *, zeros_blanked: bool = True,
                 families: tuple[str, ...] = FAMILIES) -> None:
        self.rows = rows
        self.entries = _entries(rows, zeros_blanked)
        rel = _build(self.entries, rows, dim_org, families)
        self.members, self.inst = _classify(rel, self.entries) if rel.members else (None, None)
        self._last: tuple[np.ndarray, np.ndarray] | None = None  # (known, determined) of the last run

    @classmethod
    def of_publication(cls, true: pd.DataFrame, dim_org: pd.DataFrame) -> Audit:
        """The publisher's audit of KPI rows `true` (unsuppressed; no caseworker rows). Only the
        columns the memo's fingerprint covers are read (`etl.publish.audit_memo.AUDIT_COLUMNS`)."""
        rows = _normalise(true[[c for c in AUDIT_COLUMNS if c in true.columns]].reset_index(drop=True))
        if len(rows) != len(true):
            raise ValueError("the audit takes no caseworker rows")
        for c in QUANTITIES:
            rows[f"{c}_true"] = rows[c]
        return cls(rows, dim_org)

    def recovered(self, blanked: np.ndarray) -> np.ndarray:
        """Positions of the rows with a non-zero figure the attacker recovers when the rows
        `blanked` (a boolean per row) are published blank and the rest as they are."""
        known = ~np.asarray(blanked, dtype=bool)[self.entries["_row"].to_numpy()]
        found = self.run(known).determined
        return np.unique(found.loc[found["true"].abs() > _TOL, "_row"].to_numpy(dtype=np.int64))

    def run(self, known: np.ndarray | None = None) -> AttackResult:
        """The attack with the entries `known` published (default: as the rows show them)."""
        started = time.monotonic()
        rows, entries = self.rows, self.entries.copy()
        if known is not None:
            entries["known"] = known
            entries["shown"] = np.where(known, entries["true"].to_numpy(), np.nan)
        notes = []
        broken = ~entries["known"] & (entries["true"] < entries["lower"] - _TOL)
        if broken.any():  # the publisher does blank zeros after all: no such bound for those
            notes.append(f"{int(broken.sum())} blanked quantities are below the assumed lower bound")
            entries.loc[broken, "lower"] = 0.0
        unknown = ~entries["known"].to_numpy()
        blanked_rows = int(entries.loc[unknown, "_row"].nunique())
        empty = pd.DataFrame(columns=[*KEY, "_row", "q", "true"])
        if self.members is None or not unknown.any():
            return AttackResult(blanked_rows, int(unknown.sum()), empty, {}, 0, 0, time.monotonic() - started, notes)
        members, inst = self.members, self.inst
        terms, cons = _constraints(members, inst, entries)
        used = inst[inst["kind"].ne("none") | inst["bound_parts"]]
        relations = used.groupby("family").size().to_dict()
        determined = np.zeros(len(entries), dtype=bool)
        components, largest = 0, 0
        if len(terms):
            # components: unknowns linked by sharing a constraint
            graph = sp.csr_matrix((np.ones(len(terms)), (terms["entry"].to_numpy(), terms["con"].to_numpy() + len(entries))),
                                  shape=(len(entries) + len(cons), len(entries) + len(cons)))
            _, label = connected_components(graph, directed=False)
            terms = terms.assign(comp=label[terms["entry"].to_numpy()])
            cons = cons.assign(comp=label[cons.index.to_numpy() + len(entries)])
            lower, true = entries["lower"].to_numpy(), entries["true"].to_numpy()
            sizes = terms.drop_duplicates("entry").groupby("comp").size()
            components, largest = len(sizes), int(sizes.max())
            known_now = entries["known"].to_numpy()
            if self._last is not None and not (known_now & ~self._last[0]).any():
                # only more is blanked than last time: a component without a newly blanked
                # entry has the same constraints as then, and the same answer
                changed = np.unique(label[np.flatnonzero(self._last[0] & ~known_now)])
                determined = self._last[1] & ~known_now
                sizes = sizes[sizes.index.isin(changed)]
                determined[np.isin(label[: len(entries)], changed)] = False
            # small components are solved together, block-diagonally (what is pinned in one block
            # is pinned in the whole): a few LPs instead of one per component
            # (of one order of magnitude: the LP is solved in units of its largest figure)
            magnitude = np.ceil(np.log10(1.0 + cons.groupby("comp")["rhs"].apply(lambda r: np.abs(r).max())))
            sizes = sizes.to_frame("n").assign(m=magnitude.reindex(sizes.index).fillna(0.0)).sort_values(["m"], kind="stable")
            batch = pd.Series(_batches(sizes["n"].to_numpy(), BATCH_UNKNOWNS, sizes["m"].to_numpy()), index=sizes.index)
            cons = cons[cons["comp"].isin(batch.index)]  # (a constraint on no unknown is in no component)
            con_groups = dict(list(cons.groupby(batch.reindex(cons["comp"]).to_numpy(dtype=np.int64))))
            terms = terms[terms["comp"].isin(batch.index)]
            for b, batch_terms in terms.groupby(batch.reindex(terms["comp"]).to_numpy(dtype=np.int64)):
                unknowns = np.unique(batch_terms["entry"].to_numpy())
                determined[unknowns] = _determine(unknowns, batch_terms, con_groups[b], lower, true)
        self._last = entries["known"].to_numpy().copy(), determined.copy()
        found = entries[determined]
        out = pd.concat([rows.iloc[found["_row"].to_numpy()][KEY].reset_index(drop=True),
                         found[["_row", "q", "true"]].reset_index(drop=True)], axis=1)
        return AttackResult(blanked_rows, int(unknown.sum()), out, relations, components, largest,
                            time.monotonic() - started, notes)
