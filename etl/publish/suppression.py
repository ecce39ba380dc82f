"""Small-cell suppression for `public` output (what may be published on the website).

Primary: a count from 1 to `threshold - 1`, any rate or average resting on fewer than
`threshold` events (its denominator), any share whose numerator (given, or implied by
value x denominator) is 1 to `threshold - 1`, and any sum of days or money over persons
whose persons count (`PERSONS_BEHIND`) is 1 to `threshold - 1`; a sum over persons with no
declared persons count is never published.

What is blanked is a *cell*: a KPI's figures for one period span, org node and breakdown
value, every measure and both period types with that span together (Q1 quarter and Q1
ÅTD are one figure). Blanking cells whole means no measure of a cell gives another away
(a count and a share's numerator, `per_fte`'s numerator and the days measures); blanked
rows have value, numerator and denominator NULL.

Complementary: the published cells form linear equations an attacker can subtract in, and
they are written down for the cells, not the rows:
- breakdown: an org cell's total and its values of one dimension;
- organisation: a parent and its children, with the structure valid on the period's end
  (a unit that moved center on 1 January adds up to its old center in last year's figures);
- time: ÅTD(Qn) = ÅTD(Qn-1) + Qn, for every chain of quarters.
Every equation is taken as exact (where the figures do not add up, e.g. distinct persons
over units, the attacker's relation is only a bound, so this errs on the safe side). The
attacker's chained subtraction is replayed (a lone unknown in an equation is given away;
unknowns that are all zero on one side of an equation are pinned at 0; what is learned is
used in the other equations), and wherever it would recover a non-zero cell one more member
of that equation is blanked, the smallest (zeros first: blanking a zero hides nothing),
until nothing non-zero falls. Zeros may be blanked, so an attacker cannot assume a blanked
cell is at least 1 (k blanked cells summing to k are then not all ones); a blanked zero
that the equations give away is no secret, but it counts as known for the cells beside it.

Complements go to the latest period of an equation (ÅTD(Qn) or Qn, never ÅTD(Qn-1)), and
periods clipped to the extraction date (the running quarter, its last-year twin) come
after whole quarters. So a closed quarter's pattern depends only on its own and earlier
quarters' figures: the frozen version and a later night's copy of an unchanged quarter are
blanked identically, and comparing the two versions gives nothing away.

The complement rule stops subtraction, not everything: bounds that meet (distinct counts,
whose part <= total and total <= sum of parts), zeros pinned in another figure. So the
publisher then attacks its own output (`etl.publish.audit`: linear programming over every
relation an analyst can know) and blanks more wherever a non-zero figure falls, period by
period so the frozen-version guarantee holds (`_audit_and_repair`; docs/security.md gives
the numbers and the limits). Caseworker rows never reach `public`.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from etl.core.forking import map_forked
from etl.core.settings import PUBLIC_ORG_LEVELS
from etl.core.settings import DEFAULT_SUPPRESSION_THRESHOLD as DEFAULT_THRESHOLD
from etl.core.settings import MINIMUM_SUPPRESSION_THRESHOLD as MINIMUM_THRESHOLD
from etl.core.vocabulary import UNKNOWN

if TYPE_CHECKING:  # scipy: only when publishing
    from etl.publish.audit_memo import AuditMemo

log = logging.getLogger(__name__)

# Counts below the threshold are blanked: the setting `SOFLI_SUPPRESSION_THRESHOLD`
# (Settings.suppression_threshold, default 5), never below 3 (Danmarks Statistik's minimum).
#: Units whose numerator counts persons or events (value = numerator / denominator).
SHARE_UNITS = ("share",)
#: Units of sums over persons (days of absence, money): such a figure without a
#: denominator needs a persons count in `PERSONS_BEHIND`, or it is never published.
SUM_UNITS = ("days", "kr", "dkk", "amount")
#: (KPI, measure) -> the count measures (same KPI cell) of the persons behind its figure.
#: A figure is blanked when any of them is 1 to threshold - 1. Theme 6's money by person
#: plugs in here with its own persons count.
PERSONS_BEHIND: dict[tuple[str, str], tuple[str, ...]] = {
    ("T5.01", "short_days"): ("short_persons",),
    ("T5.01", "long_days"): ("long_persons",),
    ("T5.01", "per_fte"): ("short_persons", "long_persons"),
}
#: Theme 6's money carries its persons count on the row itself: the KPI rows' internal column
#: of distinct citizens behind a cell (`etl.kpi.aggregate.PERSONS_BEHIND`); 0 where an amount
#: rests on no citizen (a budget). A sum with a value here counts as declared.
PERSONS_COLUMN = "persons_behind"
#: The columns naming a cell: every measure and period type of one span blank together.
CELL = ["kpi_id", "period_start", "period_end", "org_level", "org_key", "dimension", "dimension_value"]
#: A published row's key (in one version), and its figures.
ROW = ["kpi_id", "measure", "period_type", "period_start", "period_end", "org_level", "org_key", "dimension",
       "dimension_value"]
QUANTITIES = ["value", "numerator", "denominator"]
_NA = "\x00NA"


def _check(threshold: int) -> None:
    if threshold < MINIMUM_THRESHOLD:
        raise ValueError(f"suppression threshold {threshold} is below the minimum {MINIMUM_THRESHOLD}")


def _floats(frame: pd.DataFrame, column: str) -> pd.Series:
    return pd.to_numeric(frame[column], errors="coerce").astype(float)


def _cell_size(frame: pd.DataFrame) -> pd.Series:
    """The number of events a row rests on: the count itself, or a rate's denominator."""
    is_count = frame["unit"].eq("count") & frame["denominator"].isna()
    return _floats(frame, "value").where(is_count, _floats(frame, "denominator"))


def _share_numerator(frame: pd.DataFrame) -> pd.Series:
    """The count of persons/events behind a share: the numerator, else value x denominator."""
    implied = (_floats(frame, "value") * _floats(frame, "denominator")).round()
    return _floats(frame, "numerator").fillna(implied).where(frame["unit"].isin(SHARE_UNITS))


def _small(values: pd.Series, threshold: int) -> pd.Series:
    return ((values > 0) & (values < threshold)).fillna(False).astype(bool)


def _cell_keys(frame: pd.DataFrame) -> np.ndarray:
    """One integer per row naming its cell (period type and measure left out)."""
    key = frame[CELL].copy()
    for column in ("period_start", "period_end"):
        key[column] = pd.to_datetime(key[column]).dt.normalize()
    return key.groupby(CELL, dropna=False, sort=False).ngroup().to_numpy()


def _persons_small(frame: pd.DataFrame, threshold: int, cell: np.ndarray) -> pd.Series:
    """Sums over persons whose persons count (`PERSONS_BEHIND`) is 1..threshold-1."""
    small = np.zeros(len(frame), dtype=bool)
    for (kpi, measure), persons in PERSONS_BEHIND.items():
        rows = ((frame["kpi_id"] == kpi) & (frame["measure"] == measure)).to_numpy()
        if not rows.any():
            continue
        counts = ((frame["kpi_id"] == kpi) & frame["measure"].isin(persons)).to_numpy()
        few = counts & _small(_floats(frame, "value"), threshold).to_numpy()
        small |= rows & np.isin(cell, cell[few])
    if PERSONS_COLUMN in frame.columns:
        small |= _small(_floats(frame, PERSONS_COLUMN), threshold).to_numpy()
    return pd.Series(small, index=frame.index)


def undeclared_sums(frame: pd.DataFrame) -> pd.Series:
    """Sums of days or money without a denominator whose persons count is not declared in
    `PERSONS_BEHIND`: never published (fail closed), and a warning names them."""
    is_sum = frame["unit"].isin(SUM_UNITS) & frame["denominator"].isna()
    undeclared = is_sum.copy()
    if PERSONS_COLUMN in frame.columns:
        undeclared &= frame[PERSONS_COLUMN].isna()
    for kpi, measure in PERSONS_BEHIND:
        undeclared &= ~((frame["kpi_id"] == kpi) & (frame["measure"] == measure))
    if undeclared.any():
        names = sorted({f"{k}/{m}" for k, m in zip(frame.loc[undeclared, "kpi_id"], frame.loc[undeclared, "measure"])})
        log.warning("sums over persons without a persons count in PERSONS_BEHIND are not published: %s",
                    ", ".join(names))
    return undeclared


def primary_mask(frame: pd.DataFrame, threshold: int = DEFAULT_THRESHOLD, cells: np.ndarray | None = None) -> pd.Series:
    """Rows that are themselves small: count, denominator or share numerator in 1..threshold-1,
    or a sum over persons resting on 1..threshold-1 persons (`cells`: `_cell_keys(frame)`)."""
    small = _small(_cell_size(frame), threshold) | _small(_share_numerator(frame), threshold)
    return small | _persons_small(frame, threshold, _cell_keys(frame) if cells is None else cells)


def suppress_for_public(values: pd.DataFrame, dim_org: pd.DataFrame, threshold: int = DEFAULT_THRESHOLD,
                        breakdown_levels: tuple[str, ...] = PUBLIC_ORG_LEVELS, *, audit: bool = True,
                        earlier_versions: pd.DataFrame | None = None, workers: int | None = None,
                        blank_before: pd.DataFrame | None = None, audit_memo: AuditMemo | None = None) -> pd.DataFrame:
    """The `public` copy of KPI rows: caseworker rows dropped, breakdowns kept only at
    `breakdown_levels` (below them the org totals; the pipeline passes the setting
    `SOFLI_PUBLIC_BREAKDOWN_LEVELS`, default sof and area), small cells and their
    complements blanked (value, numerator and denominator NULL).

    Why the breakdowns stop at a level: every published breakdown of a center or unit is a
    further set of equations, and with sparse breakdowns (23 measure types by unit, money
    that only some units spend) the complements climb the hierarchy until the SOF totals
    are blanked (Copenhagen: 82 % of T6.01's figures and 119 of its 140 SOF totals). Without
    them the same output blanks 0 % of T6.01 (docs/security.md, "Breakdowns in public").

    `dim_org` is the organisation the KPIs were computed on (the reference file, or its
    current structure when history is restated): each period's parents are read from the
    structure valid on its end.

    `earlier_versions`: the frozen versions already in `public` (`version` >= 1) as published, with
    their true figures beside them (`value_true`, `numerator_true`, `denominator_true`); the
    audit attacks tonight's rows together with them (a re-published quarter keeps most
    figures, and where a cell kept its figure the versions' equations combine) and repairs
    in tonight's rows only.

    `workers`: processes the audit spreads the KPIs over (the pipeline passes the setting
    `SOFLI_KPI_WORKERS`; default one per usable core); the output does not depend on it.

    `blank_before`: rows (the `ROW` columns) that the version being replaced published blank
    and whose figures are unchanged (`unchanged_blanks`; a daytime refresh passes the night's):
    their cells start blanked, held like a repair's, and the complements and the audit go on
    from there.
    Blanking more never tells an attacker more, and the audit's end is the same test, so this
    is as safe as a fresh start; it only spares the repairs the night already made (and keeps
    what the night blanked for its running quarter's sake, until the next night starts afresh).

    `audit_memo`: an `etl.publish.audit_memo.AuditMemo` holding the last publish's answers of
    the audit; the answers this publish used are left in it (`used`) for the caller to save.
    The output is the same with or without it: an answer is reused only for the same question.
    """
    _check(threshold)
    published = values["dimension"].isna() | values["org_level"].isin(breakdown_levels)
    out = values[(values["org_level"] != "caseworker") & published].copy().reset_index(drop=True)
    if out.empty:
        return out
    cell_of_row = _cell_keys(out)
    n_cells = int(cell_of_row.max()) + 1
    cells = out[CELL].iloc[np.unique(cell_of_row, return_index=True)[1]].reset_index(drop=True)
    cells["period_start"] = pd.to_datetime(cells["period_start"]).dt.normalize()
    cells["period_end"] = pd.to_datetime(cells["period_end"]).dt.normalize()

    primary = np.bincount(cell_of_row, weights=primary_mask(out, threshold, cell_of_row).to_numpy(dtype=float),
                          minlength=n_cells) > 0
    size = pd.Series(np.nan_to_num(_cell_size(out).to_numpy(), nan=0.0)).groupby(cell_of_row).max().to_numpy()
    # each figure (measure x value, numerator, denominator) is its own system of equations:
    # per figure, which cells are non-zero (a figure of one KPI: KPIs share no equation)
    figures = []
    figure_kpi = []
    measure_codes, _ = pd.factorize(out["kpi_id"].astype(str) + "|" + out["measure"].astype(str))
    kpi_of_cell, kpi_names = pd.factorize(cells["kpi_id"])
    # (a rate's, mean's or median's value adds up nowhere: its numerator and denominator do)
    additive_value = (out["denominator"].isna() & out["numerator"].isna()).to_numpy()
    for column in ("value", "numerator", "denominator"):
        figure = _floats(out, column).fillna(0.0).abs().to_numpy() > 0
        if column == "value":
            figure &= additive_value
        for code in np.unique(measure_codes[figure]):
            rows = figure & (measure_codes == code)
            figures.append(np.bincount(cell_of_row[rows], minlength=n_cells) > 0)
            figure_kpi.append(kpi_of_cell[cell_of_row[np.flatnonzero(rows)[0]]])

    members = equation_members(cells, dim_org)
    stage = _stage(cells)
    member_kpi = kpi_of_cell[members["_cell"].to_numpy()]
    local_members = []
    for k in range(len(kpi_names)):
        local = np.flatnonzero(kpi_of_cell == k)
        index = np.full(n_cells, -1)
        index[local] = np.arange(len(local))
        sub = members[member_kpi == k]
        local_members.append((local, sub.assign(_cell=index[sub["_cell"].to_numpy()], _eq=pd.factorize(sub["_eq"])[0]),
                              [f[local] for f, fk in zip(figures, figure_kpi) if fk == k]))

    def complements(primary: np.ndarray, blank: np.ndarray, kpis) -> None:
        for k in kpis:
            local, sub, mine = local_members[k]
            blank[local] = _complements(primary[local], mine, size[local], stage[local], sub)

    # sums whose persons nobody counted are never published; they take part in no equation
    # (blanked everywhere, they give nothing away and protect nothing)
    undeclared = undeclared_sums(out).to_numpy()
    # (a row blank before because it has no figure, or is such a sum, blanks no cell)
    kept = _cells_of(blank_before, out, cell_of_row, n_cells,
                     out[QUANTITIES].notna().any(axis=1).to_numpy() & ~undeclared)
    blank = primary | kept
    complements(primary | kept, blank, range(len(kpi_names)))
    if audit:
        anything = np.zeros(n_cells, dtype=bool)
        for figure in figures:
            anything |= figure
        earlier = _earlier_versions(earlier_versions, out, cell_of_row, kpi_names, breakdown_levels)
        blank = _audit_and_repair(out, cell_of_row, kpi_of_cell, stage, size, anything, members, primary, blank,
                                  undeclared, dim_org, complements, earlier,
                                  len(os.sched_getaffinity(0)) if workers is None else workers, kept, audit_memo)
    out.loc[blank[cell_of_row] | undeclared, QUANTITIES] = None
    return out


def _row_keys(frame: pd.DataFrame) -> pd.DataFrame:
    """The `ROW` columns as a merge matches them: dates normalised, no value as None."""
    key = frame[ROW].copy()
    for column in ("period_start", "period_end"):
        key[column] = pd.to_datetime(key[column]).dt.normalize()
    return key.astype(object).where(key.notna(), None)


def row_hashes(frame: pd.DataFrame) -> np.ndarray:
    """One 64-bit hash per row of its `ROW` key, however it was read (dates as text, dates or
    timestamps; no value as None, NaN or NA): a lookup over 300,000 rows in a fraction of a
    second where a merge on the object columns took seconds."""
    key = pd.DataFrame({c: (pd.to_datetime(frame[c]).dt.normalize().astype("datetime64[ns]")
                            if c in ("period_start", "period_end")
                            else frame[c].astype("string")) for c in ROW})
    return pd.util.hash_pandas_object(key, index=False).to_numpy()


def unchanged_blanks(blanks: pd.DataFrame, values: pd.DataFrame, before: pd.DataFrame) -> pd.DataFrame:
    """The rows of `blanks` whose figures in `values` are those of the same key in `before`
    (value, numerator, denominator and the persons behind; no figure = no figure): what
    `blank_before` may hold when `before` was published with those blanks."""
    figures = [c for c in (*QUANTITIES, PERSONS_COLUMN) if c in values.columns and c in before.columns]
    now = row_hashes(values)
    then = pd.Index(row_hashes(before))
    if not then.is_unique:
        raise ValueError("unchanged_blanks: the earlier rows repeat a key")
    at = then.get_indexer(now)
    same = at >= 0
    for c in figures:
        same &= np.isclose(_floats(values, c).to_numpy(), _floats(before, c).to_numpy()[at], rtol=0.0, atol=0.0,
                           equal_nan=True)
    return blanks[np.isin(row_hashes(blanks), now[same])]


def _cells_of(rows: pd.DataFrame | None, out: pd.DataFrame, cell_of_row: np.ndarray, n_cells: int,
              eligible: np.ndarray) -> np.ndarray:
    """Per cell of `out`: is one of `rows` (by `ROW` key) an `eligible` row of it."""
    cells = np.zeros(n_cells, dtype=bool)
    if rows is not None and len(rows):
        cells[cell_of_row[eligible & np.isin(row_hashes(out), row_hashes(rows))]] = True
    return cells


def _earlier_versions(published: pd.DataFrame | None, out: pd.DataFrame, cell_of_row: np.ndarray,
                      kpi_names: pd.Index, breakdown_levels: tuple[str, ...]) -> pd.DataFrame | None:
    """The rows of earlier versions that share a period with tonight's, as the audit needs them:
    their true figures (`true`: the KPI rows' columns), whether each was published blank
    (`_blank`), their KPI code (`_kpi`), stage (`_stage`) and tonight's row and cell of the
    same key (`_row`, `_cell`, -1 where tonight has none)."""
    if published is None or published.empty:
        return None
    rows = published[(published["org_level"] != "caseworker")
                     & (published["dimension"].isna() | published["org_level"].isin(breakdown_levels))]
    rows = rows[rows["kpi_id"].isin(kpi_names)].copy()
    for column in ("period_start", "period_end"):
        rows[column] = pd.to_datetime(rows[column]).dt.normalize()
    tonight = out[ROW].copy()
    for column in ("period_start", "period_end"):
        tonight[column] = pd.to_datetime(tonight[column]).dt.normalize()
    spans = tonight[["period_type", "period_start", "period_end"]].drop_duplicates()
    rows = rows.merge(spans, on=["period_type", "period_start", "period_end"])
    if rows.empty:
        return None
    key = list(ROW)
    mapped = _row_keys(rows).merge(_row_keys(out).assign(_cell=cell_of_row, _row=np.arange(len(out))), on=key,
                                   how="left")
    rows = rows.reset_index(drop=True)
    rows["_cell"] = mapped["_cell"].fillna(-1).astype(np.int64).to_numpy()
    rows["_row"] = mapped["_row"].fillna(-1).astype(np.int64).to_numpy()
    rows["_blank"] = rows[QUANTITIES].isna().all(axis=1) & rows[[f"{q}_true" for q in QUANTITIES]].notna().any(axis=1)
    rows["_kpi"] = pd.Index(kpi_names).get_indexer(rows["kpi_id"])
    rows["_stage"] = _stage(rows[["period_end"]])
    true = rows.drop(columns=QUANTITIES).rename(columns={f"{q}_true": q for q in QUANTITIES})
    return true


class SuppressionAuditError(RuntimeError):
    """The audit still recovers a blanked figure after every repair: nothing is published."""


#: Repairs per KPI before the audit gives up (loudly): each adds at least one blanked cell.
MAX_REPAIRS = 200


def _audit_and_repair(out: pd.DataFrame, cell_of_row: np.ndarray, kpi_of_cell: np.ndarray, stage: np.ndarray,
                      size: np.ndarray, anything: np.ndarray, members: pd.DataFrame, primary: np.ndarray,
                      blank: np.ndarray, undeclared: np.ndarray, dim_org: pd.DataFrame, complements,
                      earlier: pd.DataFrame | None = None, workers: int = 1,
                      kept: np.ndarray | None = None, memo: AuditMemo | None = None) -> np.ndarray:
    """Run the attacker (`etl.publish.audit`) on the publication and blank more cells wherever
    it recovers a non-zero figure, until it recovers none.

    The complement rule stops subtraction; the audit stops the rest (bounds that meet, zeros
    pinned in another figure, distinct counts whose part <= total and total <= sum meet). A
    repair keeps the frozen-version guarantee: the cells found are judged on the periods up to
    a stage (the publication as it stood when that stage was the latest, as a frozen copy
    holds it), and only cells of that latest stage are blanked, so an earlier period's pattern
    never depends on a later period's figures. Per found cell, the repair blanks the smallest
    published cell of that stage linked to it by equations (`_repair_targets`), then the
    complements are chosen again with everything blanked so far kept.

    KPIs share no relation (every class the attacker learns is one KPI's, and so is every
    equation), so each KPI is audited and repaired on its own, in `workers` forked processes
    (the largest KPIs first); the blanked cells are the same whatever the number of workers.
    `kept`: cells blanked from the start (`blank_before`), held like a repair's. `memo`: the
    audit's answers kept between publishes (`etl.publish.audit_memo`), read and added to.
    """
    from etl.publish.audit_memo import AuditMemo  # noqa: PLC0415 - scipy: only when publishing

    memo = AuditMemo() if memo is None else memo
    row_kpi = kpi_of_cell[cell_of_row]
    context = _RepairContext(out, cell_of_row, kpi_of_cell, stage, size, anything, primary, blank, undeclared,
                             dim_org, complements, earlier, row_kpi, stage[cell_of_row],
                             members.groupby("_cell")["_eq"].apply(np.asarray),
                             members.groupby("_eq")["_cell"].apply(np.asarray),
                             np.zeros(len(blank), dtype=bool) if kept is None else kept,
                             memo.answers, AuditMemo.context(dim_org))
    rows_of = np.bincount(row_kpi)
    kpis = [int(k) for k in np.argsort(-rows_of, kind="stable") if rows_of[k]]  # the largest first
    results = map_forked(_repair_kpi, context, kpis, workers, log, "suppression audit",
                         f"auditing the {len(kpis)} KPIs")
    blank = blank.copy()
    lost = given = 0
    for k, (kpi_blank, notes, kpi_lost, kpi_given, asked) in zip(kpis, results):
        blank[kpi_of_cell == k] = kpi_blank
        memo.merge(*asked)
        for level, message in notes:
            log.log(level, "suppression audit: %s", message)
        lost += kpi_lost
        given += kpi_given
    if lost:
        log.warning("suppression audit: the frozen versions in public give %d figures away on their own "
                    "(complements pinned by their earlier periods, or frozen before the audit); tonight adds none",
                    lost)
    if given:
        log.info("suppression audit: %d complements follow from earlier periods' published figures (no small "
                 "cell among them)", given)
    log.info("suppression audit: %d attacks, %d answered by the last publish's (etl.publish.audit_memo), %d repeated "
             "from this one, %d solved", memo.hits + memo.repeats + memo.misses, memo.hits, memo.repeats, memo.misses)
    return blank


@dataclass(frozen=True)
class _RepairContext:
    """What every KPI's audit and repair reads (a forked worker inherits it)."""

    out: pd.DataFrame
    cell_of_row: np.ndarray
    kpi_of_cell: np.ndarray
    stage: np.ndarray
    size: np.ndarray
    anything: np.ndarray
    primary: np.ndarray
    blank: np.ndarray
    undeclared: np.ndarray
    dim_org: pd.DataFrame
    complements: Callable
    earlier: pd.DataFrame | None
    row_kpi: np.ndarray
    row_stage: np.ndarray
    cell_eqs: pd.Series
    eq_cells: pd.Series
    kept: np.ndarray
    answers: dict
    memo_context: bytes


def _repair_kpi(c: _RepairContext, k: int) -> tuple[np.ndarray, list[tuple[int, str]], int, int, tuple]:
    """One KPI's audit and repair: its cells' blanked flags afterwards, what to log (level,
    message), how many of the frozen versions' figures were lost already, how many
    complements earlier periods give away, and what it asked the memo (`AuditMemo.merge`)."""
    from etl.publish.audit import Audit  # noqa: PLC0415 - scipy: only when publishing
    from etl.publish.audit_memo import AuditMemo  # noqa: PLC0415 - as above

    memo = AuditMemo()
    memo.answers = c.answers  # the last publish's, shared (read only)

    def recovered(true: pd.DataFrame, blanked: np.ndarray, built: list | None = None) -> np.ndarray:
        """`Audit.of_publication(true).recovered(blanked)`, from the memo when it was asked before;
        `built` holds the rows' digest and, once needed, their audit (kept for the next blanking)."""
        built = [None, None] if built is None else built
        if built[0] is None:
            built[0] = AuditMemo.rows_digest(c.memo_context, true)

        def compute() -> np.ndarray:
            if built[1] is None:
                built[1] = Audit.of_publication(true, dim_org=c.dim_org)
            return built[1].recovered(blanked)

        return memo.recovered(built[0], blanked, compute)

    out, cell_of_row, kpi_of_cell, stage, earlier = c.out, c.cell_of_row, c.kpi_of_cell, c.stage, c.earlier
    notes: list[tuple[int, str]] = []
    blank = c.blank.copy()
    forced = c.kept.copy()  # what stays blanked when the complements are chosen again
    mine = np.flatnonzero(c.row_kpi == k)
    name = str(out["kpi_id"].iloc[mine[0]])
    started = time.monotonic()
    audits: dict[tuple, tuple[pd.DataFrame, np.ndarray, np.ndarray, list]] = {}
    # tonight's rows whose figures an earlier version already shows: no secret tonight
    shown_before = np.zeros(len(out), dtype=bool)
    lost_count = 0
    earlier_blank = np.array([], dtype=bool)
    if earlier is not None:
        earlier_blank = earlier["_blank"].to_numpy().copy()
        theirs = np.flatnonzero(earlier["_kpi"].to_numpy() == k)
        if len(theirs):
            # what the earlier versions give away on their own (complements their earlier periods
            # pin, or what a version frozen before this audit shows) is lost already: tonight can
            # neither cause nor mend it, so it counts as shown
            lost = theirs[recovered(earlier.iloc[theirs], earlier_blank[theirs])]
            lost_count = len(lost)
            earlier_blank[lost] = False
            row = earlier["_row"].to_numpy()[theirs]
            same = ~earlier_blank[theirs] & (row >= 0)
            for q in QUANTITIES:
                a = pd.to_numeric(earlier[q].iloc[theirs], errors="coerce").to_numpy(dtype=float)
                b = np.full(len(theirs), np.nan)
                b[row >= 0] = pd.to_numeric(out[q], errors="coerce").to_numpy(dtype=float)[row[row >= 0]]
                same &= np.isclose(a, b, equal_nan=True)
            shown_before[row[same]] = True

    def found(rows: np.ndarray, *key) -> np.ndarray:
        """Cells (global) whose non-zero figure the attacker recovers from these rows and the
        earlier versions' rows of the same stages (the relations of one set of rows are written
        down once: `key`). A recovered earlier-version figure names tonight's cell of the same
        key: publishing it gave the figure away."""
        if not len(rows):
            return np.array([], dtype=np.int64)
        if key not in audits:
            old = np.array([], dtype=np.int64)
            if earlier is not None:
                old = np.flatnonzero((earlier["_kpi"].to_numpy() == k)
                                     & (earlier["_stage"].to_numpy() <= c.row_stage[rows].max()))
            true = out.iloc[rows].assign(version=0)
            if len(old):
                true = pd.concat([true, earlier.iloc[old][true.columns.intersection(earlier.columns)]],
                                 ignore_index=True)
            audits[key] = true, rows, old, [None, None]
        true, rows, old, built = audits[key]
        blanked = (blank[cell_of_row] | c.undeclared)[rows]
        if len(old):
            blanked = np.concatenate([blanked, earlier_blank[old]])
        hits = recovered(true, blanked, built)
        hit = rows[hits[hits < len(rows)]]
        tonight = cell_of_row[hit[~shown_before[hit]]]
        if len(old):
            old_hits = old[hits[hits >= len(rows)] - len(rows)]
            cells = earlier["_cell"].to_numpy()[old_hits]
            tonight = np.concatenate([tonight, cells[cells >= 0]])
        return np.unique(tonight)

    whole_row = c.row_stage < CLIPPED_STAGE

    def leaks(rows: np.ndarray, *key) -> np.ndarray:
        """Cells recovered from these rows as the night publishes them, or from their whole
        quarters alone, as the next frozen version will hold them: without the clipped periods
        (the running quarter and its last-year twin) blanked cells they protected can fall."""
        return np.union1d(found(rows, *key), found(rows[whole_row[rows]], *key, "whole"))

    kpi_cells = kpi_of_cell == k
    leaking = leaks(mine)
    given = np.array([], dtype=np.int64)  # recoverable, but no secret: see below
    if not len(leaking):
        notes.append((logging.DEBUG, f"{name}: nothing recovered ({time.monotonic() - started:.1f} s)"))
        return blank[kpi_cells], notes, lost_count, 0, memo.tally()
    before = int((blank & kpi_cells).sum())
    stages = np.unique(c.row_stage[mine])
    current = stage[leaking].min()
    repairs = 0
    while current is not None:
        prefix = mine[c.row_stage[mine] <= current]
        here = np.setdiff1d(found(prefix, current), given)
        while len(here):
            repairs += 1
            if repairs > MAX_REPAIRS:
                raise SuppressionAuditError(f"{len(here)} blanked cells of {name} stay recoverable after "
                                            f"{MAX_REPAIRS} repairs")
            # a cell published tonight that an earlier version blanked gives that version away
            shown = here[~blank[here]]
            here = here[blank[here]]
            targets, stuck = _repair_targets(here, current, c.cell_eqs, c.eq_cells, stage, blank, c.anything, c.size)
            targets = np.union1d(targets, shown)
            small = stuck[c.primary[stuck]]
            if len(small):
                # a small cell that earlier periods' published figures give away: those
                # periods must yield (the frozen-version guarantee gives way to the cell)
                yielded, still = _repair_targets(small, None, c.cell_eqs, c.eq_cells, stage, blank, c.anything,
                                                 c.size)
                if len(still):
                    # given away by a relation no equation names (a clipped period inside its
                    # whole twin, a regularity of the data): the KPI's cells of those periods
                    # go, then, if need be, the KPI's published cells (fail closed)
                    mine_open = kpi_cells & ~blank
                    wide = np.flatnonzero(mine_open & np.isin(stage, stage[still]))
                    wide = wide if len(wide) else np.flatnonzero(mine_open)
                    if not len(wide):
                        raise SuppressionAuditError(f"{len(still)} small cells of {name} are recoverable "
                                                    "with every cell of the KPI blanked")
                    notes.append((logging.WARNING, f"{len(still)} small cells of {name} fall to a relation no "
                                                   f"equation names; blanking {len(wide)} cells of their periods"))
                    yielded = np.union1d(yielded, wide)
                notes.append((logging.WARNING, f"{len(small)} small cells of {name} are given away by earlier "
                                               f"periods; blanking {len(yielded)} cells there"))
                targets = np.union1d(targets, yielded)
                stuck = stuck[~c.primary[stuck]]
            # a complement that earlier periods give away (between two equal published
            # figures): its value is no secret, and it can only be hidden in those periods
            given = np.union1d(given, stuck)
            if len(targets):
                # what is blanked stays blanked (the repairs only add): new complements for
                # the targets, none taken back
                forced |= blank
                forced[targets] = True
                c.complements(c.primary | forced, blank, [k])
            here = np.setdiff1d(found(prefix, current), given)
        later = stages[stages > current]
        if not len(later):
            break
        remaining = np.setdiff1d(leaks(mine), given)
        current = max(later[0], stage[remaining].min()) if len(remaining) else None
    notes.append((logging.INFO, f"{name} repaired by blanking {int((blank & kpi_cells).sum() - before)} more "
                                f"cells in {repairs} rounds ({time.monotonic() - started:.1f} s)"))
    return blank[kpi_cells], notes, lost_count, len(given), memo.tally()


def _repair_targets(found: np.ndarray, current: int | None, cell_eqs: pd.Series, eq_cells: pd.Series, stage: np.ndarray,
                    blank: np.ndarray, anything: np.ndarray, size: np.ndarray) -> np.ndarray:
    """Per recovered cell, the smallest published cell of stage `current` among the nearest
    cells linked to it by equations (its partners, else theirs, ...; non-zero cells first, ties
    by position); with `current` None, of any stage, the latest first. Also the cells that have
    none (every linked cell of that stage is blanked)."""
    targets, stuck = [], []
    for cell in found:
        seen = {int(cell)}
        ring = np.array([cell])
        while len(ring):
            eqs = [e for c in ring for e in cell_eqs.get(c, [])]
            linked = np.unique(np.concatenate([eq_cells[e] for e in eqs])) if eqs else np.array([], dtype=np.int64)
            linked = linked[((stage[linked] == current) if current is not None else True) & ~np.isin(linked, list(seen))]
            seen.update(int(c) for c in linked)
            open_ = linked[~blank[linked]]
            if len(open_):
                order = np.lexsort((open_, size[open_], ~anything[open_], -stage[open_]))
                targets.append(open_[order[0]])
                break
            ring = linked
        else:
            stuck.append(cell)
    return np.unique(np.asarray(targets, dtype=np.int64)), np.asarray(stuck, dtype=np.int64)


#: Added to a clipped period's stage: after every whole quarter (a frozen version holds none).
CLIPPED_STAGE = 10**6


def _stage(cells: pd.DataFrame) -> np.ndarray:
    """Each cell's place in time: whole quarters by their end, then clipped periods (the
    running quarter and its last-year twin) after every whole quarter."""
    end = cells["period_end"]
    whole = (end + pd.Timedelta(days=1)).dt.day.eq(1) & end.dt.month.isin([3, 6, 9, 12])
    days = (end - pd.Timestamp("1970-01-01")).dt.days.to_numpy()
    return np.where(whole.to_numpy(), days, days + CLIPPED_STAGE)


def _complements(blank: np.ndarray, nonzero: list[np.ndarray], size: np.ndarray, stage: np.ndarray,
                 members: pd.DataFrame) -> np.ndarray:
    """Blank more cells until no equation has exactly one blanked non-zero member, per
    figure (`nonzero`: per figure, the cells where it is not 0). A blanked zero counts as
    known. An exposed equation gets the smallest member that is non-zero in that figure, and
    a zero member beside it; complements come from the equation's latest stage only (so
    earlier periods never get complements because of later ones); ties by cell order.
    """
    blank = blank.copy()
    if members.empty:
        return blank
    cell = members["_cell"].to_numpy()
    eq = members["_eq"].to_numpy()
    is_part = (members["_role"] == "part").to_numpy()
    n_eq = int(eq.max()) + 1
    latest = np.full(n_eq, np.iinfo(np.int64).min)
    np.maximum.at(latest, eq, stage[cell])
    eligible = stage[cell] == latest[eq]
    order = np.lexsort((cell, size[cell], eq))  # within an equation: smallest, then first
    anything = np.zeros(len(blank), dtype=bool)
    for figure in nonzero:
        anything |= figure
    # per figure, blanked cells an attacker can work out anyway (see below): known
    learned = [np.zeros(len(blank), dtype=bool) for _ in nonzero]
    while True:
        added = np.zeros(len(blank), dtype=bool)
        progress = False
        for figure, known in zip(nonzero, learned):
            exposed = _exposed(blank | added, figure & ~known, cell, eq, is_part, n_eq)
            if not exposed.any():
                continue
            hidden = blank | added
            open_ = exposed[eq] & ~hidden[cell] & eligible
            need = exposed.copy()
            # A candidate is wasted where blanking it would leave it the lone unknown of an
            # equation with nothing else to blank in its latest period (ÅTD(Qn) when Qn is 0 in
            # this figure and ÅTD(Qn-1) published): an attacker would work it out.
            unknown = (hidden & figure & ~known)[cell]
            spare = eligible & ~hidden[cell] & figure[cell]
            n_unknown = np.bincount(eq, weights=unknown.astype(float), minlength=n_eq)
            n_spare = np.bincount(eq, weights=spare.astype(float), minlength=n_eq)
            wasted_here = spare & (n_unknown[eq] == 0) & (n_spare[eq] == 1)
            wasted = np.bincount(cell, weights=wasted_here.astype(float), minlength=len(blank)) > 0
            # the smallest member that is non-zero in this figure and not wasted (else the smallest)
            for candidate in (open_ & figure[cell] & ~wasted[cell], open_ & figure[cell], open_):
                first = _first(order, candidate & need[eq], eq)
                added[cell[first]] = True
                need[eq[first]] = False
            # and a zero member beside it, where the equation has one and no blanked zero yet,
            # so that an attacker can never take a blanked cell to be at least 1
            zero = ~anything[cell]
            has_zero = np.bincount(eq, weights=((blank | added)[cell] & zero).astype(float), minlength=n_eq) > 0
            added[cell[_first(order, open_ & zero & ~added[cell] & ~has_zero[eq], eq)]] = True
            # an exposed equation with no member left to blank in its latest period (ÅTD(Qn) =
            # ÅTD(Qn-1) + Qn with Qn blanked and 0): its lone unknown is known to an attacker,
            # so it protects nothing in the other equations either
            stuck = need & exposed
            if stuck.any():
                # (only a cell of the equation's latest period: an earlier period's pattern
                # never depends on a later one)
                lone = stuck[eq] & (blank & figure & ~known)[cell] & eligible
                if lone.any():
                    known[cell[lone]] = True
                    progress = True
        if not added.any() and not progress:
            return blank
        blank |= added


def _first(order: np.ndarray, candidate: np.ndarray, eq: np.ndarray) -> np.ndarray:
    """Per equation, the first candidate member in `order` (positions into the members)."""
    picked = order[candidate[order]]
    return picked[np.unique(eq[picked], return_index=True)[1]]


def _exposed(blank: np.ndarray, nonzero: np.ndarray, cell: np.ndarray, eq: np.ndarray, is_part: np.ndarray,
             n_eq: int) -> np.ndarray:
    """Equations in which subtraction would recover a blanked non-zero figure: those with
    exactly one blanked non-zero member. A blanked zero counts as known (an attacker may
    pin it: a sum of zeros is 0, and bounds at 0 combine across equations), so it protects
    nothing, and a figure is only hidden behind another non-zero one."""
    unknown = (blank & nonzero)[cell]
    return np.bincount(eq, weights=unknown.astype(float), minlength=n_eq) == 1


def equation_members(cells: pd.DataFrame, dim_org: pd.DataFrame) -> pd.DataFrame:
    """Which cells take part in which linear equation (total = sum of parts).

    `cells` has the `CELL` columns (dates as timestamps), one row per cell. Returns one row
    per (cell, equation): `_cell` (position in `cells`), `_eq` (equation id) and `_role`
    ("total" or "part"); every equation has a total and at least one part.
    """
    n = len(cells)
    pos = np.arange(n)
    code = {c: pd.factorize(cells[c], use_na_sentinel=False)[0].astype(np.int64)
            for c in ("kpi_id", "period_start", "period_end", "dimension", "dimension_value")}
    org_label = (cells["org_level"].astype(str) + ":" + cells["org_key"].astype(str)).to_numpy(dtype=object)
    org_codes, org_names = pd.factorize(org_label)
    parent = org_parents(cells, dim_org).to_numpy(dtype=object)
    has_parent = pd.notna(parent)
    # a parent missing from the cells gets a code of its own (its equation has no total)
    org_index = {name: i for i, name in enumerate(org_names)}
    extra = {p: len(org_index) + i for i, p in enumerate(sorted(set(parent[has_parent]) - set(org_index)))}
    parent_code = np.array([org_index.get(p, extra.get(p, -1)) if isinstance(p, str) else -1 for p in parent],
                           dtype=np.int64)
    span = _combine(code["kpi_id"], code["period_start"], code["period_end"])
    slot = _combine(code["dimension"], code["dimension_value"])
    is_total = cells["dimension"].isna().to_numpy()
    keys, roles, members = [], [], []

    def add(kind: int, a: np.ndarray, b: np.ndarray, cell: np.ndarray, role: str) -> None:
        """Members of the equations named (kind, a, b); a and b are codes of one space per kind."""
        keys.append(np.column_stack([np.full(len(cell), kind), a, b]).astype(np.int64))
        roles.append(np.full(len(cell), role == "total"))
        members.append(cell)

    # breakdown: an org cell's total and its values of one dimension
    owner = _combine(span, org_codes.astype(np.int64))
    add(0, owner[~is_total], code["dimension"][~is_total], pos[~is_total], "part")
    dims = pd.DataFrame({"owner": owner[~is_total], "dim": code["dimension"][~is_total]}).drop_duplicates()
    totals = pd.DataFrame({"cell": pos[is_total], "owner": owner[is_total]}).merge(dims, on="owner")
    add(0, totals["owner"].to_numpy(), totals["dim"].to_numpy(), totals["cell"].to_numpy(), "total")

    # organisation: a parent and its children (structure on the period's end), same slot
    line = _combine(span, slot)
    add(1, line[has_parent], parent_code[has_parent], pos[has_parent], "part")
    add(1, line, org_codes.astype(np.int64), pos, "total")

    # time: ÅTD(Qn) = ÅTD(Qn-1) + Qn; a Q1 quarter and its ÅTD are the same cell already
    start, end = cells["period_start"], cells["period_end"]
    frame = pd.DataFrame({"cell": pos, "line": _combine(code["kpi_id"], org_codes.astype(np.int64), slot),
                          "start": start.to_numpy(), "end": end.to_numpy()})
    year_start = (start.dt.year.astype(str) + "-01-01").pipe(pd.to_datetime).to_numpy()
    is_ytd = frame["start"].to_numpy() == year_start
    ytd, quarter = frame[is_ytd], frame[~is_ytd]
    chain = ytd.merge(quarter, on=["line", "end"], suffixes=("", "_q"))
    chain = chain.assign(prev_end=chain["start_q"] - pd.Timedelta(days=1)).merge(
        ytd.rename(columns={"end": "prev_end", "cell": "cell_prev"})[["line", "start", "prev_end", "cell_prev"]],
        on=["line", "start", "prev_end"])
    name = chain["cell"].to_numpy()  # one equation per later ÅTD cell
    zero = np.zeros(len(chain), dtype=np.int64)
    add(2, name, zero, chain["cell"].to_numpy(), "total")
    add(2, name, zero, chain["cell_q"].to_numpy(), "part")
    add(2, name, zero, chain["cell_prev"].to_numpy(), "part")

    key = np.concatenate(keys)
    eq = _combine(key[:, 0], key[:, 1], key[:, 2])
    out = pd.DataFrame({"_cell": np.concatenate(members), "_eq": pd.factorize(eq)[0],
                        "_total": np.concatenate(roles)})
    has_total = np.bincount(out["_eq"], weights=out["_total"].to_numpy(dtype=float)) > 0
    has_part = np.bincount(out["_eq"], weights=(~out["_total"]).to_numpy(dtype=float)) > 0
    out = out[(has_total & has_part)[out["_eq"].to_numpy()]]
    return pd.DataFrame({"_cell": out["_cell"].to_numpy(), "_eq": pd.factorize(out["_eq"])[0],
                         "_role": np.where(out["_total"].to_numpy(), "total", "part")})


def _combine(*codes: np.ndarray) -> np.ndarray:
    """One int64 code per row for a tuple of non-negative integer codes (dense: factorised,
    so codes of two calls are not comparable: combine all rows in one call)."""
    combined = np.zeros(len(codes[0]), dtype=np.int64)
    for c in codes:
        c = np.asarray(c, dtype=np.int64)
        width = int(c.max()) + 2 if len(c) else 1
        combined = pd.factorize(combined * width + c + 1)[0].astype(np.int64)
    return combined


def org_parents(cells: pd.DataFrame, dim_org: pd.DataFrame) -> pd.Series:
    """Each cell's parent org (`level:key`) in the structure valid on its period's end:
    unit -> center -> area -> sof. A Ukendt unit lies in the Ukendt center; a Ukendt
    center in no known area (it has no parent)."""
    nodes = pd.DataFrame({"level": cells["org_level"].astype(str), "key": cells["org_key"].astype(str),
                          "end": cells["period_end"]})
    distinct = nodes.drop_duplicates().reset_index(drop=True)
    found = pd.Series(None, index=distinct.index, dtype=object)
    sof = distinct.loc[distinct["level"] == "sof", "key"]
    found[distinct["level"] == "area"] = "sof:" + (str(sof.iloc[0]) if len(sof) else "SOF")
    always = pd.Series(pd.NaT, index=dim_org.index)
    valid_from = pd.to_datetime(dim_org["valid_from"]) if "valid_from" in dim_org else always
    valid_to = pd.to_datetime(dim_org["valid_to"]) if "valid_to" in dim_org else always
    for end in distinct["end"].unique():
        day = pd.Timestamp(end)
        valid = dim_org[(valid_from.isna() | (valid_from <= day)) & (valid_to.isna() | (valid_to >= day))]
        unit_center = {**dict(zip(valid["unit"], valid["center"])), UNKNOWN: UNKNOWN}
        center_area = dict(zip(valid["center"], valid["area"]))
        at = distinct["end"] == end
        for level, mapping, parent_level in (("unit", unit_center, "center"), ("center", center_area, "area")):
            rows = at & (distinct["level"] == level)
            found[rows] = [f"{parent_level}:{mapping[k]}" if k in mapping else None for k in distinct.loc[rows, "key"]]
    return nodes.merge(distinct.assign(parent=found), on=["level", "key", "end"], how="left")["parent"].set_axis(
        cells.index)
