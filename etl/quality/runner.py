"""Run the configured data-quality rules and shape their results for the marts.

The runner owns the arithmetic the catalogue asks of every rule (population, failing,
rate, threshold, status, trend against the previous run, breakdowns, failing ids) so a
rule only has to say which rows it checked and which failed. It decides nothing about
the run's fate: the caller logs `format_breach_log`, mails the owners and fails the
task when `error_breaches` is not empty.

Rules registered with `needs_facts` (DQ10 source freshness, DQ13 large swings) also
read `facts` (`etl.quality.facts.RunFacts`, built by `load_run_facts`); without facts
they are skipped: listed in `mart.dq_rule`, no result rows, never a breach.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import pyarrow as pa

from etl.core.tables import TableSpec
from etl.model import Model, conform
from etl.publish.marts import DQ_FAILURE, DQ_RESULT, DQ_RULE
from etl.quality.config import RuleConfig
from etl.quality.rules import IDENTIFIER_COLUMNS, RULES, RuleFinding

if TYPE_CHECKING:
    from etl.quality.facts import RunFacts

log = logging.getLogger(__name__)

_ROW_COLUMNS = ["source", "source_table", "record_id", "failing", "detail"]
#: The failing records as the owners' attachment lists them: `mart.dq_failure`'s columns and the
#: source's caseworker id (restricted: the attachment only, never a mart).
FAILURE_RECORD_COLUMNS = ["run_id", "rule_id", "source", "source_table", "record_id", "case_number", "unit_code",
                          "caseworker_id", "detail"]
#: The breakdown every finding with a unit code gets (the data-quality page's per-unit view).
UNIT_DIMENSION = "unit"


@dataclass(frozen=True)
class Breach:
    """A rule × source total over its threshold: what the log and the owners' e-mail show."""

    rule_id: str
    title: str
    description: str
    source: str
    failing: int
    population: int
    rate: float | None
    threshold_kind: str
    threshold: float
    severity: str
    owners: tuple[str, ...]
    previous_failing: int | None
    blocking: bool = False  # flags the KPIs built on `source` (see etl.quality.flags)
    notify: str = "immediate"  # or "daily_digest" (see alerts.select_breaches_to_mail)


@dataclass(frozen=True)
class DqOutcome:
    """One run's data-quality tables (in the BI contract's columns) and its breaches;
    `failure_records` are the failing records with the caseworker id, for the owners' mail."""

    dq_rule: pd.DataFrame
    dq_result: pd.DataFrame
    dq_failure: pd.DataFrame
    breaches: list[Breach]
    failure_records: pd.DataFrame = dataclasses.field(
        default_factory=lambda: pd.DataFrame(columns=FAILURE_RECORD_COLUMNS))

    @property
    def error_breaches(self) -> list[Breach]:
        """Breaches that must turn the run red (warnings are reported, not fatal)."""
        return [b for b in self.breaches if b.severity == "error"]


#: The model tables the runner itself reads (the failures' case numbers and caseworker ids).
RUNNER_TABLES = frozenset({"fact_case"})


def model_tables(rules_config: Mapping[str, RuleConfig]) -> frozenset[str]:
    """The model tables a run of the enabled rules reads: the data-quality stage loads only
    these (at national, ten tables no rule reads, 1.5 GiB, stay on disk)."""
    tables = set(RUNNER_TABLES)
    for config in rules_config.values():
        if config.enabled:
            tables |= RULES[config.rule_id].tables
    return frozenset(tables)


def run_rules(model: Model, rules_config: Mapping[str, RuleConfig], run_id: str,
              computed_at: dt.datetime, previous: pd.DataFrame | None = None,
              facts: RunFacts | None = None) -> DqOutcome:
    """Run every enabled rule over `model`.

    `previous` is the previous run's `mart.dq_result` (its total rows give the trend;
    breakdown rows are ignored); without it `previous_failing` is NULL. A naive
    `computed_at` is stored as given, an aware one in UTC. `facts` feed the rules that
    need them (DQ10, DQ13); None skips those rules.
    """
    computed_at = pd.Timestamp(computed_at)
    if computed_at.tzinfo is not None:
        computed_at = computed_at.tz_convert(None)
    previous_failing = _previous_failing(previous)
    rule_rows, results, failures, breaches = [], [], [], []
    for config in sorted(rules_config.values(), key=lambda c: c.rule_id):
        if not config.enabled:
            continue
        registered = RULES[config.rule_id]
        rule_rows.append(_rule_row(config))
        if registered.needs_facts and facts is None:
            log.warning("data-quality rule %s skipped: it needs the run's facts and none were given",
                        config.rule_id)
            continue
        findings = (registered.check(model, facts, config.rule_params) if registered.needs_facts
                    else registered.check(model))
        rows = _population(findings, config.sources_in_scope)
        totals = _totals(rows, config, previous_failing)
        results.append(pd.concat([totals, _breakdowns(rows)], ignore_index=True).assign(
            rule_id=config.rule_id, threshold_kind=config.threshold_kind,
            threshold=config.threshold, severity=config.severity))
        failures.append(rows.loc[rows["failing"], [*_ROW_COLUMNS, *IDENTIFIER_COLUMNS]]
                        .astype({"source": "str", "source_table": "str"}).assign(rule_id=config.rule_id))
        breaches += [_breach(config, total) for total in totals[totals["status"] == "breach"].itertuples()]
        del findings, rows
        pa.default_memory_pool().release_unused()  # the rule's population back to the system before the next

    result = pd.concat([_empty(DQ_RESULT), *results], ignore_index=True).assign(
        run_id=run_id, run_date=pd.Timestamp(model.extraction_date), computed_at=computed_at)
    result = result.sort_values(["rule_id", "source", "dimension", "dimension_value"],
                                na_position="first", kind="stable")
    failure = _with_case_identifiers(
        pd.concat([_empty(DQ_FAILURE), *failures], ignore_index=True).assign(run_id=run_id), model)
    return DqOutcome(
        dq_rule=conform(pd.DataFrame(rule_rows, columns=DQ_RULE.column_names), DQ_RULE),
        dq_result=conform(result[DQ_RESULT.column_names], DQ_RESULT),
        dq_failure=conform(failure[DQ_FAILURE.column_names], DQ_FAILURE),
        breaches=breaches,
        failure_records=failure[FAILURE_RECORD_COLUMNS].reset_index(drop=True),
    )


def _with_case_identifiers(failure: pd.DataFrame, model: Model) -> pd.DataFrame:
    """The case number and caseworker id of each failing record's case (the source's own ids)."""
    cases = model.fact_case.drop_duplicates("case_key").set_index("case_key")
    keys = failure["case_key"] if "case_key" in failure.columns else pd.Series(pd.NA, index=failure.index)
    return failure.assign(case_number=keys.map(cases["case_number"]).astype("str"),
                          caseworker_id=keys.map(cases["caseworker_id"]).astype("str"))


def format_breach_log(outcome: DqOutcome) -> str:
    """Lines for the task log: what breached, where, by how much, and how bad."""
    if not outcome.breaches:
        return "Data quality: no rule breached its threshold."
    lines = [f"Data quality: {len(outcome.breaches)} breach(es), "
             f"{len(outcome.error_breaches)} of severity error:"]
    for b in outcome.breaches:
        rate = "n/a" if b.rate is None else f"{b.rate:.2%}"
        if b.threshold_kind == "rate":
            versus = f"rate {rate} > threshold {b.threshold:.2%}"
        else:
            versus = f"count {b.failing} > threshold {b.threshold:g} (rate {rate})"
        lines.append(f"  {b.severity.upper()} {b.rule_id} {b.title} [{b.source}]: "
                     f"{b.failing}/{b.population} failing, {versus}")
    return "\n".join(lines)


def _empty(spec: TableSpec) -> pd.DataFrame:
    return pd.DataFrame(columns=spec.column_names)


def _previous_failing(previous: pd.DataFrame | None) -> dict[tuple[str, str], int]:
    if previous is None:
        return {}
    totals = previous[previous["dimension"].isna()]
    return {(r, s): int(f) for r, s, f in zip(totals["rule_id"], totals["source"], totals["failing"])}


def _population(findings: list[RuleFinding], sources: tuple[str, ...]) -> pd.DataFrame:
    """All checked rows of the sources in scope, one frame: ids, failing flag, detail, breakdowns."""
    kept = [f for f in findings if f.source in sources]
    if not kept:
        return pd.DataFrame({c: pd.Series(dtype=bool if c == "failing" else "str")
                             for c in (*_ROW_COLUMNS, *IDENTIFIER_COLUMNS)})
    rows = pd.concat([
        pd.DataFrame({"record_id": f.record_ids, "failing": f.failing, "detail": f.detail,
                      **{name: f.identifiers.get(name, pd.Series(pd.NA, index=f.record_ids.index, dtype="str"))
                         for name in IDENTIFIER_COLUMNS},
                      **_with_unit(f)})
        for f in kept], ignore_index=True)
    # each finding's source and table once, as categoricals: a string per row was 0.8 GiB for
    # DQ08 at national (every row carrying a code)
    lengths = [len(f.record_ids) for f in kept]
    for position, (column, labels) in enumerate((("source", [f.source for f in kept]),
                                                 ("source_table", [f.source_table for f in kept]))):
        categories = pd.Index(sorted(set(labels)), dtype="str")
        codes = np.repeat(categories.get_indexer(labels), lengths)
        rows.insert(position, column, pd.Categorical.from_codes(codes, dtype=pd.CategoricalDtype(categories)))
    return rows


def _with_unit(finding: RuleFinding) -> dict[str, pd.Series]:
    """The finding's breakdowns, plus one by unit where its rows have a unit code."""
    if "unit_code" not in finding.identifiers or UNIT_DIMENSION in finding.breakdowns:
        return dict(finding.breakdowns)
    return {**finding.breakdowns, UNIT_DIMENSION: finding.identifiers["unit_code"]}


def _totals(rows: pd.DataFrame, config: RuleConfig,
            previous_failing: dict[tuple[str, str], int]) -> pd.DataFrame:
    """One total per source in scope, present (as 0 / 0) even when the source has no rows."""
    sources = list(config.sources_in_scope)
    counted = rows.groupby("source")["failing"].agg(population="size", failing="sum")
    counted.index = counted.index.astype("str")  # a categorical's labels: the sources in scope are plain text
    totals = counted.reindex(sources, fill_value=0).rename_axis("source").reset_index()
    totals["rate"] = (totals["failing"] / totals["population"]).where(totals["population"] > 0)
    measured = totals["rate"] if config.threshold_kind == "rate" else totals["failing"]
    totals["status"] = (measured.fillna(0) > config.threshold).map({True: "breach", False: "pass"})
    totals["previous_failing"] = pd.array([previous_failing.get((config.rule_id, s)) for s in sources],
                                          dtype="Int64")
    return totals.assign(dimension=None, dimension_value=None)


def _breakdowns(rows: pd.DataFrame) -> pd.DataFrame:
    """Population and failing per source × breakdown label; status and trend are for totals only."""
    dimensions = [c for c in rows.columns if c not in (*_ROW_COLUMNS, *IDENTIFIER_COLUMNS)]
    # one dimension at a time: a long frame of every row once per dimension was 2.8 GiB for
    # DQ08 at national (15.9 M postings carry a function and a unit)
    # unsorted groups: every (source, dimension, value) is one row, sorted once below
    parts = [rows.groupby(["source", dimension], sort=False)["failing"].agg(population="size", failing="sum")
             .reset_index()
             .rename(columns={dimension: "dimension_value"}).assign(dimension=dimension)
             for dimension in dimensions]
    columns = ["source", "dimension", "dimension_value", "population", "failing"]
    grouped = (pd.concat(parts, ignore_index=True)[columns] if parts else
               pd.DataFrame({c: pd.Series(dtype="int64" if c in ("population", "failing") else object)
                             for c in columns}))
    grouped["source"] = grouped["source"].astype("str")
    grouped = grouped.sort_values(["source", "dimension", "dimension_value"], kind="stable", ignore_index=True)
    grouped["rate"] = grouped["failing"] / grouped["population"]
    return grouped


def _rule_row(config: RuleConfig) -> dict:
    return {"rule_id": config.rule_id, "title": config.title, "description": config.description,
            "severity": config.severity, "threshold_kind": config.threshold_kind,
            "threshold": config.threshold, "owners": ",".join(config.all_owners),
            "sources": ",".join(config.sources_in_scope)}


def _breach(config: RuleConfig, total) -> Breach:
    return Breach(
        rule_id=config.rule_id, title=config.title, description=config.description, source=total.source,
        failing=int(total.failing), population=int(total.population),
        rate=None if pd.isna(total.rate) else float(total.rate),
        threshold_kind=config.threshold_kind, threshold=config.threshold, severity=config.severity,
        owners=config.owners_for(str(total.source)),
        previous_failing=None if pd.isna(total.previous_failing) else int(total.previous_failing),
        blocking=config.is_blocking, notify=config.notify,
    )
