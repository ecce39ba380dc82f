"""The data-quality rule catalogue: one function per rule, registered by its catalogue id.

A rule reads the canonical model and returns, per source table, the rows it checked
(the population), which of them fail, breakdown labels and a short reason per row. The
runner turns findings into `mart.dq_result` and `mart.dq_failure`; thresholds, severity
and owners live in `config/dq_rules.yaml`, so nothing here decides what a breach is.

Soft-deleted and quarantined rows are not in the model, so they are in no population.
Record ids are the source's own ids as the model holds them, never a CPR or citizen key.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from etl.core.arrays import is_in
from etl.core.privacy import cpr_cells
from etl.core.roles import FACILITY, ROLE_BY_KEY, ROLES, codes, facility_group
from etl.core.vocabulary import UNKNOWN
from etl.kpi.catalog import CATALOG, THEMES
from etl.model import Model
from etl.model.registry import feeding, split_by_source_table
from etl.model.tables import MODEL_TABLES
from etl.sources import SOURCES

if TYPE_CHECKING:
    from etl.quality.facts import RunFacts

#: DQ12: a self-referred stay open longer than this is almost always a forgotten check-out.
MAX_OPEN_SHELTER_DAYS = 730

#: Stands in for the end of an open stay: it occupies every night from check-in on.
_OPEN_END = pd.Timestamp("9999-12-31")


@dataclass(frozen=True)
class RuleFinding:
    """One source table's population for a rule, aligned row by row.

    `failing` is a boolean mask over `record_ids`; each breakdown series labels the same
    rows (e.g. `decision_month`); `detail` says why a row fails (NULL on passing rows).
    `identifiers` are what the owner finds the record by beside its id, taken from the model
    rows where they have them (`case_key`, `unit_code`; see `IDENTIFIER_COLUMNS`).
    """

    source: str
    source_table: str
    record_ids: pd.Series
    failing: pd.Series
    detail: pd.Series
    breakdowns: dict[str, pd.Series] = field(default_factory=dict)
    identifiers: dict[str, pd.Series] = field(default_factory=dict)


#: Model columns a finding carries to the failing records when its rows have them: the case
#: (resolved to the source's case number and caseworker id by the runner) and the unit.
IDENTIFIER_COLUMNS = ("case_key", "unit_code")


@dataclass(frozen=True)
class Rule:
    """A registered rule: its id, the sources it can report on, and its check.

    A rule with `needs_facts` reads the run's facts beyond the model (freshness, row
    counts, KPI totals: `etl.quality.facts.RunFacts`) and is called
    `check(model, facts, params)`; the runner skips it when the run has no facts.
    `params` are the rule's own settings with their defaults; `config/dq_rules.yaml`
    may override them under the rule's id (e.g. DQ13 `max_swing`).
    """

    rule_id: str
    sources: tuple[str, ...]
    check: Callable[..., list[RuleFinding]]
    needs_facts: bool = False
    params: Mapping[str, Any] = field(default_factory=dict)
    #: Owners the code knows per source beyond the configuration's (DQ21: each theme's KPI
    #: owner from the catalogue, so the addresses are written once).
    source_owners: Callable[[str], tuple[str, ...]] | None = None
    #: The model tables the check reads: the stage loads only those of the enabled rules (a
    #: table left out raises when read; tested against what each check reads).
    tables: frozenset[str] = frozenset()


RULES: dict[str, Rule] = {}


def rule(rule_id: str, sources: tuple[str, ...], needs_facts: bool = False,
         params: Mapping[str, Any] | None = None,
         source_owners: Callable[[str], tuple[str, ...]] | None = None, tables: Iterable[str] = ()) -> Callable:
    """Register a check under its catalogue id; the one registry the runner and config read."""

    def register(check: Callable[..., list[RuleFinding]]) -> Callable[..., list[RuleFinding]]:
        if rule_id in RULES:
            raise ValueError(f"data-quality rule {rule_id} registered twice")
        unknown = set(tables) - set(MODEL_TABLES)
        if unknown:
            raise ValueError(f"data-quality rule {rule_id} reads unknown model tables {sorted(unknown)}")
        RULES[rule_id] = Rule(rule_id, sources, check, needs_facts, MappingProxyType(dict(params or {})),
                              source_owners, frozenset(tables))
        return check

    return register


def _finding(source: str, source_table: str, rows: pd.DataFrame, id_column: str, failing: pd.Series,
             detail: str | Callable[[pd.DataFrame], pd.Series], **breakdowns: pd.Series | str) -> RuleFinding:
    """Build a finding; scalar values apply to every row.

    A callable `detail` gets the failing rows only, so a large, mostly clean table never
    pays for formatting messages nobody reads.
    """

    def aligned(values: pd.Series | str) -> pd.Series:
        if isinstance(values, str):
            return pd.Series(values, index=rows.index, dtype="str")
        return values.astype("str")

    failing = failing.fillna(False).astype(bool)
    if callable(detail):
        explained = detail(rows[failing]).astype("str").reindex(rows.index)
    else:
        explained = aligned(detail).where(failing)
    return RuleFinding(
        source=source,
        source_table=source_table,
        record_ids=rows[id_column].astype("str"),
        failing=failing,
        detail=explained,
        breakdowns={name: aligned(values) for name, values in breakdowns.items()},
        identifiers={name: rows[name].astype("str") for name in IDENTIFIER_COLUMNS if name in rows.columns},
    )


def _by_source(model: Model, model_table: str) -> Iterator[tuple[str, str, pd.DataFrame]]:
    """A model table's rows per source table behind them (the model registry), so a
    finding names the source's own table for the owner who fixes the record."""
    yield from split_by_source_table(model_table, getattr(model, model_table))


def _source_table(model_table: str) -> tuple[str, str]:
    """The one source table behind a model table fed by a single table (e.g. stays)."""
    (only,) = feeding(model_table)
    return only.source, only.table


def _formatted(dates: pd.Series, pattern: str) -> pd.Series:
    """`dates.dt.strftime(pattern)`, each distinct date formatted once (1.6 M postings at
    Copenhagen fall on a few hundred booking days); a missing date stays missing."""
    codes, distinct = pd.factorize(dates)
    labels = np.append(pd.DatetimeIndex(distinct).strftime(pattern).to_numpy(dtype=object), None)
    return pd.Series(labels[codes], index=dates.index, dtype="str")  # code -1 (missing) takes the None


def _month(dates: pd.Series) -> pd.Series:
    return _formatted(dates, "%Y-%m").fillna(UNKNOWN)


def _day(dates: pd.Series) -> pd.Series:
    return _formatted(dates, "%Y-%m-%d")


def _service_area(rows: pd.DataFrame, dim_paragraph: pd.DataFrame) -> pd.Series:
    """The case type of each row: the paragraph's service area, via its text, else its code."""
    by_text = dim_paragraph.drop_duplicates("paragraph_text").set_index("paragraph_text")["service_area"]
    by_code = dim_paragraph.drop_duplicates("service_code").set_index("service_code")["service_area"]
    return rows["paragraph_text"].map(by_text).fillna(rows["service_code"].map(by_code)).fillna(UNKNOWN)


def _visible(text: str) -> str:
    """Control and invisible formatting characters (ANSI escapes, right-to-left overrides,
    zero-width marks) as `\\uXXXX`, so an e-mail shows the code and cannot be garbled by it."""
    return "".join(c if c.isprintable() and unicodedata.category(c) != "Cf" else f"\\u{ord(c):04x}" for c in text)


def _quoted_code(codes: pd.Series) -> pd.Series:
    """A code as it can be shown to the owner; a CPR-shaped value is never repeated."""
    quoted = "'" + codes.astype("str").map(_visible) + "'"
    return quoted.where(~cpr_cells(codes),
                        "(CPR-lignende værdi udeladt)")


@rule("DQ01", sources=("boern", "voksen"), tables=("dim_paragraph", "fact_decision"))
def decisions_without_deadline(model: Model) -> list[RuleFinding]:
    """A decision without its own deadline (FristDato) cannot be followed up by the caseworker.

    Population: every decision of both systems. Fails when the deadline (`FristDato` /
    `frist_dato`) is missing. Breakdowns: decision month and case type.
    """
    return [
        _finding(source, table, rows, "decision_id", rows["deadline_date"].isna(),
                 "frist (FristDato/frist_dato) mangler",
                 decision_month=_month(rows["decision_date"]),
                 case_type=_service_area(rows, model.dim_paragraph))
        for source, table, rows in _by_source(model, "fact_decision")
    ]


@rule("DQ02", sources=("boern", "voksen"), tables=("fact_decision",))
def decisions_in_future(model: Model) -> list[RuleFinding]:
    """A decision dated after the extraction is a typing error that skews every flow KPI.

    Population: every decision of both systems. Fails when the decision date is after the
    extraction date. Breakdown: decision month.
    """
    extraction_date = pd.Timestamp(model.extraction_date)
    return [
        _finding(source, table, rows, "decision_id", rows["decision_date"] > extraction_date,
                 lambda bad: "afgørelsesdato " + _day(bad["decision_date"])
                 + f" er efter udtræksdatoen {extraction_date:%Y-%m-%d}",
                 decision_month=_month(rows["decision_date"]))
        for source, table, rows in _by_source(model, "fact_decision")
    ]


@rule("DQ03", sources=("klage",), tables=("fact_complaint",))
def complaints_without_case(model: Model) -> list[RuleFinding]:
    """A complaint that matches no case in its named system cannot be tied to the decision appealed.

    Population: every complaint. Fails when `kilde_system` or the case reference is
    missing, or the reference matches no case in that system after normalisation (spaces
    and case ignored; a voksen reference without leading zeros). Breakdown: complaint type.
    """
    def problem(bad: pd.DataFrame) -> pd.Series:
        # the reference itself is never quoted: it is free text and may hold anything
        return (pd.Series("sagsreferencen matcher ingen sag i det angivne fagsystem", index=bad.index)
                .mask(bad["case_reference"].isna(), "sagsreference mangler")
                .mask(bad["source_system"].isna(), "kilde_system mangler"))

    return [_finding(source, table, complaints, "complaint_id",
                     complaints["case_key"].isna() | complaints["source_system"].isna(), problem,
                     complaint_type=complaints["complaint_type"].fillna(UNKNOWN))
            for source, table, complaints in _by_source(model, "fact_complaint")]


@rule("DQ04", sources=("boern", "voksen"), tables=("dim_paragraph", "fact_service"))
def services_without_start(model: Model) -> list[RuleFinding]:
    """A granted service or measure without a start date is never active in any stock KPI.

    Population: every adult service and child's measure. Fails when the start date is
    missing. Breakdown: case type.
    """
    return [
        _finding(source, table, rows, "service_id", rows["start_date"].isna(),
                 "startdato mangler", case_type=_service_area(rows, model.dim_paragraph))
        for source, table, rows in _by_source(model, "fact_service")
    ]


@rule("DQ06", sources=("boern", "voksen", "tilbud", "hr"), tables=("fact_absence", "fact_service", "fact_stay"))
def end_before_start(model: Model) -> list[RuleFinding]:
    """End before start: the row still counts as an event but is left out of every duration.

    Population: services, measures, stays and absences. Fails when the end (check-out,
    to-date) is before the start (check-in, from-date).
    """
    findings = [
        _finding(source, table, rows, "service_id", rows["end_date"] < rows["start_date"],
                 lambda bad: "slutdato " + _day(bad["end_date"]) + " før startdato " + _day(bad["start_date"]))
        for source, table, rows in _by_source(model, "fact_service")
    ]
    findings += [
        _finding(source, table, stays, "stay_id", stays["check_out"] < stays["check_in"],
                 lambda bad: "udskrevet " + _day(bad["check_out"]) + " før indskrevet " + _day(bad["check_in"]))
        for source, table, stays in _by_source(model, "fact_stay")
    ]
    findings += [
        _finding(source, table, absences, "absence_id", absences["to_date"] < absences["from_date"],
                 lambda bad: "til-dato " + _day(bad["to_date"]) + " før fra-dato " + _day(bad["from_date"]))
        for source, table, absences in _by_source(model, "fact_absence")
    ]
    return findings


@rule("DQ07", sources=("tilbud",), tables=("fact_stay",))
def overlapping_stays(model: Model) -> list[RuleFinding]:
    """One person cannot sleep at two facilities of the same type on the same night.

    A stay occupies the nights from its check-in date to its check-out date (exclusive),
    open stays to the end of time. Sorted by person, type and check-in, a stay overlaps an
    earlier one when it starts before the latest end seen so far in its group, and a later
    one when the next stay starts before it ends; both ways flag every stay involved, in
    one pass. Anonymous stays cannot be attributed to a person and are not checked; stays
    whose dates are contradictory or equal occupy no night (DQ06 reports the former).
    """
    stays = model.fact_stay[model.fact_stay["citizen_key"].notna()]
    nights = pd.DataFrame({
        "person": stays["citizen_key"],
        "facility_type": stays["facility_type"],
        "start": stays["check_in"].dt.normalize(),
        "end": stays["check_out"].dt.normalize().fillna(_OPEN_END),
    })
    nights = nights[nights["start"] < nights["end"]].sort_values(["person", "facility_type", "start", "end"])
    group = nights.groupby(["person", "facility_type"], sort=False).ngroup()
    latest_earlier_end = nights["end"].groupby(group).cummax().groupby(group).shift()
    next_start = nights["start"].groupby(group).shift(-1)
    overlaps = (nights["start"] < latest_earlier_end) | (next_start < nights["end"])
    failing = overlaps.reindex(stays.index, fill_value=False)
    return [_finding(*_source_table("fact_stay"), stays, "stay_id", failing,
                     lambda bad: "overlapper et andet ophold for samme borger på et " + bad["facility_type"],
                     facility_type=stays["facility_type"])]


#: DQ08's populations: per model table, the id the owner looks up and the codes its rows
#: carry themselves, as the source registered them. Codes a row inherits (a decision's,
#: service's or investigation's unit from its case, a stay's from its facility, a
#: notification's from a case) are checked on the row that carries them (the case, the
#: facility), never again on the rows that inherit them.
_OWN_CODES: dict[str, tuple[str, tuple[str, ...]]] = {
    "fact_case": ("case_id", ("unit",)), "fact_decision": ("decision_id", ("paragraph",)),
    "fact_service": ("service_id", ("paragraph",)), "fact_investigation": ("investigation_id", ("paragraph",)),
    "dim_facility": ("facility_id", ("unit",)), "fact_complaint": ("complaint_id", ("unit",)),
    "dim_employee": ("employee_id", ("unit",)), "fact_recruitment": ("recruitment_id", ("unit",)),
    "fact_incident": ("incident_id", ("unit",)),
    # finance rows: a function of the account plan and a finance unit
    "fact_posting": ("posting_id", ("function", "unit")), "fact_budget": ("budget_id", ("function", "unit")),
}
#: code kind -> (model column, the label an owner reads)
_CODE_KINDS = {"unit": ("unit_code", "enhedskode"), "paragraph": ("paragraph_text", "paragraf"),
               "function": ("funktion", "funktion")}


@rule("DQ08", sources=("boern", "voksen", "tilbud", "klage", "hr", "oekonomi"),
      tables=(*_OWN_CODES, "dim_org", "dim_paragraph", "ref_account"))
def unknown_codes(model: Model) -> list[RuleFinding]:
    """An unknown unit, paragraph or finance function puts the row under `Ukendt` in every KPI breakdown.

    Catalogue: "every row with a unit or paragraph code" is a row that carries the code
    itself. A row is in its table's population when it carries at least one of its own
    codes, counts once there and fails once, however many of its codes are unknown
    (breakdown `code_kind`: the first unknown kind, else the first it carries). A unit a
    decision, service or investigation inherits from its case is checked on the case row
    only. A code is known when it appears in the reference at any validity, exact match
    (a unit that has since closed is still a real unit). Unknown money stays in every
    total as `Ukendt`.
    """
    known = {"unit": set(model.dim_org["unit_code"].dropna()),
             "paragraph": set(model.dim_paragraph["paragraph_text"].dropna()),
             "function": set(model.ref_account["funktion"].dropna())}
    findings = []
    for model_table, (id_column, kinds) in _OWN_CODES.items():
        for source, table, rows in _by_source(model, model_table):
            carried = {k: rows[_CODE_KINDS[k][0]].notna() for k in kinds}
            unknown = {k: carried[k] & ~rows[_CODE_KINDS[k][0]].isin(known[k]) for k in kinds}
            coded = rows[pd.concat(carried.values(), axis=1).any(axis=1)]
            failing = pd.concat(unknown.values(), axis=1).any(axis=1)[coded.index]
            kind = pd.Series(None, index=coded.index, dtype="str")
            for k in reversed(kinds):  # the first kind wins: first unknown, else first carried
                kind = kind.mask(carried[k][coded.index], k)
            for k in reversed(kinds):
                kind = kind.mask(unknown[k][coded.index], k)

            def problem(bad: pd.DataFrame, kinds=kinds, unknown=unknown) -> pd.Series:
                parts = [(_CODE_KINDS[k][1] + " " + _quoted_code(bad[_CODE_KINDS[k][0]])).where(unknown[k][bad.index])
                         for k in kinds]
                text = parts[0]
                for part in parts[1:]:
                    text = (text + " og " + part).fillna(text).fillna(part)
                return text + " findes ikke i referencedata"

            findings.append(_finding(source, table, coded, id_column, failing, problem, code_kind=kind))
    return findings


@rule("DQ11", sources=("boern",), tables=("fact_notification",))
def notifications_assessed_before_received(model: Model) -> list[RuleFinding]:
    """Assessed before received: the notification counts, but not in the 24-hour share.

    Population: every notification. Fails when `VurderetTid` is before `ModtagetTid`.
    """
    stamp = "%Y-%m-%d %H:%M"
    return [_finding(source, table, notifications, "notification_id",
                     notifications["assessed_at"] < notifications["received_at"],
                     lambda bad: "vurderet " + bad["assessed_at"].dt.strftime(stamp)
                     + " før modtaget " + bad["received_at"].dt.strftime(stamp))
            for source, table, notifications in _by_source(model, "fact_notification")]


@rule("DQ12", sources=("tilbud",), tables=("fact_stay", "ref_role"))
def long_open_shelter_stays(model: Model) -> list[RuleFinding]:
    """A §110 or natcafé stay open for over two years is almost always a forgotten check-out.

    Population: stays at a herberg, forsorgshjem or natcafé. Fails when the stay is open
    and was checked in more than 730 days before the extraction date. Breakdown: facility type.
    """
    stays = model.fact_stay[model.fact_stay["facility_type"].isin(facility_group(model.ref_role, "self_referred"))]
    days_open = (pd.Timestamp(model.extraction_date) - stays["check_in"].dt.normalize()).dt.days
    failing = stays["check_out"].isna() & (days_open > MAX_OPEN_SHELTER_DAYS)
    return [_finding(*_source_table("fact_stay"), stays, "stay_id", failing,
                     lambda bad: "åbent siden " + _day(bad["check_in"])
                     + " (" + days_open[bad.index].astype("str") + " dage)",
                     facility_type=stays["facility_type"])]


def _link_findings(model: Model, rule_id: str) -> list[RuleFinding]:
    """Findings the link step made (only it sees CPR), one per source table, ids only."""
    found = model.link_finding[model.link_finding["rule_id"] == rule_id]
    return [
        _finding(source, table, rows, "record_id", rows["failing"],
                 lambda bad: bad["detail"].map(_LINK_DETAIL).fillna(bad["detail"]),
                 id_kind=rows["detail"].fillna("cpr"))
        for (source, table), rows in found.groupby(["source", "source_table"], sort=True)
    ]


_LINK_DETAIL = {"missing": "CPR mangler", "invalid": "CPR er ikke et gyldigt personnummer efter normalisering",
                "duplicate": "samme CPR er registreret under flere person-id'er i systemet"}


@rule("DQ05", sources=("boern", "voksen", "tilbud", "hr", "cpr"), tables=("link_finding",))
def invalid_or_missing_cpr(model: Model) -> list[RuleFinding]:
    """A person without a usable CPR cannot be linked across systems: counted once per source id.

    Population: every row of each person register (children, adults, employees), the CPR
    register's own rows, stays and uses of force that name a person, and stays without a
    CPR where registration is required. Fails when the CPR is missing or not a valid
    date-based number after normalisation. Computed by the link step, ids only. Replacement
    numbers are valid identities (breakdown `id_kind` = replacement, not failing);
    anonymous stays at §109 facilities and natcaféer are legitimate and not in the population.
    """
    return _link_findings(model, "DQ05")


@rule("DQ09", sources=("boern", "voksen", "hr"), tables=("link_finding",))
def duplicate_persons(model: Model) -> list[RuleFinding]:
    """One CPR under two or more source person ids in the same system: every such row fails.

    Population: the rows of each person register (`Barn`, `borger`, `medarbejder`) with a
    usable CPR, computed by the link step (the only step that sees CPR), ids only.
    """
    return _link_findings(model, "DQ09")


# --- the economy (theme 6): DQ15-DQ19 ---------------------------------------------------

#: Days a granted measure may run before it must have economy (DQ16).
ECONOMY_GRACE_DAYS = 60


def _finance_table(model_table: str) -> tuple[str, str]:
    return _source_table(model_table)


@rule("DQ15", sources=("oekonomi",), tables=("fact_posting", "ref_account"))
def postings_without_measure(model: Model) -> list[RuleFinding]:
    """An expense posting on a case function that reaches no measure cannot be followed to its case.

    Population: postings on expense arts (4.*) of functions with `kraever_foranstaltning = 1`
    in `accounts.csv`, DQ18's duplicate copies left out. Fails when it has no
    `foranstaltning_ref`, no `kilde_system`, or the reference, normalised (trimmed, a letter
    prefix with `-` and leading zeros removed), matches no measure or service of the named
    system (a soft-deleted one matches). Breakdown: function.
    """
    # the columns judged and reported, not all 14 (the copy of every posting was 2.7 GiB at national)
    postings = model.fact_posting
    accounts = model.ref_account
    case_functions = set(accounts.loc[accounts["kraever_foranstaltning"] == 1, "funktion"])
    judged = ((postings["money_class"] == "expense") & postings["funktion"].isin(case_functions)
              & ~postings["duplicate"].astype(bool))
    rows = postings.loc[judged, ["posting_id", "funktion", "source_system", "has_reference", "service_key", "unit_code"]]

    def problem(bad: pd.DataFrame) -> pd.Series:
        return (("foranstaltningsreferencen matcher ingen foranstaltning i " + bad["source_system"].astype("str"))
                .mask(bad["source_system"].isna(), "kilde_system mangler")
                .mask(~bad["has_reference"].astype(bool), "foranstaltningsreference mangler"))

    return [_finding(*_finance_table("fact_posting"), rows, "posting_id", rows["service_key"].isna(), problem,
                     function=rows["funktion"])]


@rule("DQ16", sources=("boern", "voksen"), tables=("fact_commitment", "fact_posting", "fact_service"))
def measures_without_economy(model: Model) -> list[RuleFinding]:
    """A granted measure without any economy is either unpaid or paid without reference to it.

    Population, per case system: measures and services active on the extraction date that
    started on or before the extraction date minus 60 days (soft-deleted ones are never
    active). Fails when neither a posting (any, by its normalised reference in the named
    system) nor a commitment that is not cancelled refers to it. Breakdown: type.
    """
    day = pd.Timestamp(model.extraction_date)
    commitments = model.fact_commitment
    # one vectorised unique, not a Python set of 1.6 M postings' keys (1.2 s at Copenhagen), looked up
    # by `is_in` (pandas' isin of text converts each candidate in Python: 1.0 s -> 0.1 s)
    referred = pd.concat([model.fact_posting["service_key"],
                          commitments.loc[~commitments["cancelled"].astype(bool), "service_key"]]).dropna().unique()
    findings = []
    for source, table, rows in _by_source(model, "fact_service"):
        active = rows[(rows["start_date"].dt.normalize() <= day - pd.Timedelta(days=ECONOMY_GRACE_DAYS))
                      & (rows["end_date"].isna() | (rows["end_date"].dt.normalize() >= day))]
        findings.append(_finding(
            source, table, active, "service_id", pd.Series(~is_in(active["service_key"], referred), index=active.index),
            lambda bad: "aktiv siden " + _day(bad["start_date"]) + " uden postering eller disponering",
            service_type=active["service_type"].fillna(UNKNOWN)))
    return findings


@rule("DQ17", sources=("oekonomi",), tables=("dim_measure_link", "fact_commitment"))
def open_commitments_on_ended_measures(model: Model) -> list[RuleFinding]:
    """A commitment left open on a measure that has ended inflates the year's prognosis.

    Population: commitments not cancelled whose measure has ended before the extraction
    date ("ended": the earlier of the measure's end and its case's close date) or is
    soft-deleted. Fails when `til_dato` is missing or after that end (a soft-deleted
    measure without an earlier end: after the extraction date). Commitments that reach no
    measure are not in the population (their reference is DQ15's kind of problem).
    Breakdown: the case system.
    """
    day = pd.Timestamp(model.extraction_date)
    commitments = model.fact_commitment
    commitments = commitments[~commitments["cancelled"].astype(bool) & commitments["service_key"].notna()]
    link = model.dim_measure_link.set_index("service_key").reindex(commitments["service_key"])
    ended = pd.concat([link["end_date"], link["case_closed_date"]], axis=1).min(axis=1).set_axis(commitments.index)
    deleted = link["deleted"].astype(bool).set_axis(commitments.index)
    in_population = (ended < day) | deleted
    rows = commitments[in_population]
    limit = ended[in_population].where(ended[in_population] < day, day)  # deleted, not ended: today
    failing = rows["to_date"].isna() | (rows["to_date"] > limit)

    def problem(bad: pd.DataFrame) -> pd.Series:
        end = _day(limit[bad.index])
        text = ("til-dato " + _day(bad["to_date"]) + " efter indsatsens ophør " + end).where(
            bad["to_date"].notna(), "åben disponering (ingen til-dato) på indsats ophørt " + end)
        return text.mask(deleted[bad.index], text + " (indsatsen er slettet)")

    return [_finding(*_finance_table("fact_commitment"), rows, "commitment_id", failing, problem,
                     source_system=rows["source_system"].fillna(UNKNOWN))]


@rule("DQ18", sources=("oekonomi",), tables=("fact_posting",))
def duplicate_postings(model: Model) -> list[RuleFinding]:
    """The same voucher delivered twice would count twice: every copy after the first is left out of every figure.

    Population: every posting. Fails when an earlier posting (lower `postering_id`) has the
    same `bilag`, amount, function, `kilde_system` and normalised reference (marked once in
    the model build). Breakdown: booking year.
    """
    postings = model.fact_posting
    return [_finding(*_finance_table("fact_posting"), postings, "posting_id", postings["duplicate"].astype(bool),
                     "kopi af en tidligere postering (samme bilag, beløb, funktion og reference)",
                     booking_year=_formatted(postings["booked_date"], "%Y").fillna(UNKNOWN))]


@rule("DQ19", sources=("oekonomi",), tables=("fact_budget", "fact_posting"))
def spending_without_budget(model: Model) -> list[RuleFinding]:
    """Spending on a function and unit without any budget line makes T6.01's deviation meaningless there.

    Population: function x finance unit pairs whose expense (expense arts, DQ18's copies left
    out) booked from 1 January of the extraction date's year to the extraction date is
    above 0. Fails when the budget has no line (either version, any month) for that
    function and unit in that year. Record id: `funktion/enhed_kode`.
    """
    day = pd.Timestamp(model.extraction_date)
    year_start = pd.Timestamp(day.year, 1, 1)
    postings = model.fact_posting[["money_class", "duplicate", "booked_date", "amount", "funktion", "unit_code"]]
    spent = postings[(postings["money_class"] == "expense") & ~postings["duplicate"].astype(bool)
                     & (postings["booked_date"] >= year_start) & (postings["booked_date"].dt.normalize() <= day)]
    expense = (spent["amount"].astype(float) * 100).round().groupby(
        [spent["funktion"], spent["unit_code"].fillna(UNKNOWN)]).sum()
    pairs = expense[expense > 0].rename("cents").reset_index()
    budget = model.fact_budget
    budgeted = set(zip(budget.loc[budget["year"] == day.year, "funktion"],
                       budget.loc[budget["year"] == day.year, "unit_code"].fillna(UNKNOWN)))
    pairs["record_id"] = pairs["funktion"] + "/" + pairs["unit_code"]
    failing = pd.Series([pair not in budgeted for pair in zip(pairs["funktion"], pairs["unit_code"])],
                        index=pairs.index, dtype=bool)
    def problem(bad: pd.DataFrame) -> pd.Series:
        amounts = [f"{cents / 100:,.2f}".replace(",", " ").replace(".", ",").replace(" ", ".") for cents in bad["cents"]]
        return pd.Series([f"{a} kr. udgift i {day.year} uden budget" for a in amounts], index=bad.index, dtype="str")

    return [_finding(*_finance_table("fact_budget"), pairs, "record_id", failing, problem, function=pairs["funktion"])]


# --- rules on the run's facts (freshness, row counts, KPI totals) ---------------------

#: Every registered source; DQ13 also reports the key KPIs under the pseudo-source `kpi`.
def _source_names() -> tuple[str, ...]:
    return tuple(SOURCES)


KPI_SOURCE = "kpi"
#: DQ13's default key KPIs: at least one built on each source (a test checks), so a source
#: whose delivery moves a published figure is watched whatever it is.
KEY_KPIS = ["T1.01", "T1.03", "T1.04", "T2.01", "T2.06", "T3.05", "T5.01", "T6.01"]
KPI_TABLE = "mart.kpi_value"


@rule("DQ10", sources=_source_names(), needs_facts=True)
def stale_sources(model: Model, facts: RunFacts | None, params: Mapping[str, Any]) -> list[RuleFinding]:
    """A source whose current extract is behind the night's extraction date, or whose file did not arrive.

    One row per source (record id = the source name), from `etl.quality.facts.source_freshness`
    (the definition `mart.source_freshness` publishes too): stale when the source has no
    good extract, or its current extract's date is more days behind the night's than its
    allowance (default 0: one day behind is stale, however recently it completed). A file
    source also fails when the drop folder lacks the file it expects for the extraction
    date (e.g. `cpr_20251120.csv`; a monthly file: any month's). A source whose newest
    extract a circuit breaker holds back fails too ("breaker tripped: <table> <measure>").
    """
    if facts is None or facts.freshness is None or facts.freshness.empty:
        return []
    fresh = facts.freshness.reset_index(drop=True)
    stale = fresh["stale"].astype(bool)
    file_missing = fresh["file_present"].eq(False)  # NULL: not a file source
    findings = []
    for index, row in fresh.iterrows():
        reasons = []
        if stale[index]:
            reasons.append(_stale_reason(row))
        if file_missing[index]:
            reasons.append(f"forventet fil {row['expected_file']} mangler i drop-mappen")
        reason = "stale" if stale[index] else "fresh"
        if file_missing[index]:
            reason = "stale_and_missing_file" if stale[index] else "missing_file"
        tripped = (facts.breakers or {}).get(str(row["source"]))
        if tripped:  # the newest extract is held back: the KPIs on this source are on an older one
            reasons.append(tripped)
            reason = "breaker_tripped"
        one = pd.DataFrame({"record_id": [str(row["source"])]})
        findings.append(_finding(str(row["source"]), "extract", one, "record_id",
                                 pd.Series([bool(reasons)]), "; ".join(reasons) or "ok", freshness=reason))
    return findings


def _days(n: int) -> str:
    return f"{n} dag" if n == 1 else f"{n} dage"


def _stale_reason(row: pd.Series) -> str:
    """Why a source is stale, in the owners' words."""
    if pd.isna(row["extract_date"]) or pd.isna(row["days_behind"]):
        return "intet gennemført udtræk"
    return (f"seneste gode udtræk er fra {pd.Timestamp(row['extract_date']).date().isoformat()}, "
            f"{_days(int(row['days_behind']))} bag nattens udtræksdato (tilladt: {_days(int(row['stale_after_days']))})")


def swing_share(previous: float, current: float) -> float | None:
    """|current − previous| / |previous|; None without a previous value; inf from 0 to non-zero,
    and inf when a value that was there is gone (NULL now: a KPI that lost its source)."""
    if previous is None or pd.isna(previous):
        return None
    if current is None or pd.isna(current):
        return float("inf")
    if previous == 0:
        return 0.0 if current == 0 else float("inf")
    # rounded so a swing exactly at the configured share is not lost to binary fractions
    return round(abs(current - previous) / abs(previous), 12)


def _swing_detail(previous: float, current: float, share: float | None) -> str | None:
    if share is None:
        return None

    def number(value: float) -> str:
        return f"{value:g}".replace(".", ",")

    if current is None or pd.isna(current):
        return f"forrige {number(previous)} → nu tom (ingen værdi)"

    if previous == 0:
        change = "fra 0" if current != 0 else "uændret"
    else:
        change = f"{(current - previous) / abs(previous) * 100:+.1f} %".replace(".", ",")
    return f"forrige {number(previous)} → nu {number(current)} ({change})"


def _swing_finding(source: str, table: str, ids: list[str], previous: list, current: list,
                   max_swing: float, kind: str, periods: list[str] | None = None) -> RuleFinding:
    shares = [swing_share(p, c) for p, c in zip(previous, current)]
    failing = pd.Series([s is not None and s > max_swing for s in shares], dtype=bool)
    details = [_swing_detail(p, c, s) for p, c, s in zip(previous, current, shares)]
    if periods is not None:
        details = [None if d is None else f"{period}: {d}" for d, period in zip(details, periods)]
    rows = pd.DataFrame({"record_id": ids})
    detail = pd.Series(details, dtype="str").where(failing)
    return RuleFinding(source, table, rows["record_id"].astype("str"), failing, detail,
                       {"measure_kind": pd.Series(kind, index=rows.index, dtype="str")})


def _kpi_comparison(current: pd.DataFrame, previous: pd.DataFrame | None, key_kpis: list[str]) -> pd.DataFrame:
    """Per key KPI × measure, the quarter compared: the latest closed quarter of this run,
    preferring one the previous run also has; its value now and then (NULL: no previous)."""
    now = current[(current["kpi_id"].isin(key_kpis)) & (current["period_type"] == "quarter")]
    if "provisional" in now:
        now = now[~now["provisional"].fillna(False).astype(bool)]
    key = ["kpi_id", "measure", "period_type", "period"]
    if previous is not None and not previous.empty:
        then = previous[key + ["value"]].drop_duplicates(key).rename(columns={"value": "previous"})
        now = now.merge(then, on=key, how="left")
    else:
        now = now.assign(previous=float("nan"))
    now = now.assign(has_previous=now["previous"].notna())
    now = now.sort_values(["kpi_id", "measure", "has_previous", "period"])
    return now.drop_duplicates(["kpi_id", "measure"], keep="last").reset_index(drop=True)


@rule("DQ13", sources=(*_source_names(), KPI_SOURCE), needs_facts=True,
      params={"max_swing": 0.25, "key_kpis": KEY_KPIS})
def large_swings(model: Model, facts: RunFacts | None, params: Mapping[str, Any]) -> list[RuleFinding]:
    """FLIS' "large swings": a table's row count, or a key KPI's SOF total, moving more than
    `max_swing` (a share) against the previous run.

    Population: every source × table of this run's extract (record id = the table) and
    every key KPI × measure (source `kpi`, record id `kpi_id/measure`), compared on the
    latest closed quarter (the running quarter grows day by day and would always swing).
    A swing exactly at the share passes; without a previous value a row is in the
    population but cannot fail (the first run, a new table, a new quarter).
    """
    if facts is None:
        return []
    max_swing = float(params["max_swing"])
    findings = []
    counts = facts.row_counts
    if counts is not None and not counts.empty:
        previous = facts.previous_row_counts
        if previous is not None and not previous.empty:
            counts = counts.merge(previous[["source", "table", "rows"]].rename(columns={"rows": "previous"}),
                                  on=["source", "table"], how="left")
        else:
            counts = counts.assign(previous=float("nan"))
        for source, rows in counts.groupby("source", sort=True):
            for table, table_rows in rows.groupby("table", sort=True):
                findings.append(_swing_finding(str(source), str(table), [str(table)] * len(table_rows),
                                               list(table_rows["previous"]), list(table_rows["rows"]),
                                               max_swing, "row_count"))
    totals = facts.kpi_totals
    if totals is not None and not totals.empty:
        compared = _kpi_comparison(totals, facts.previous_kpi_totals, list(params["key_kpis"]))
        if not compared.empty:
            findings.append(_swing_finding(
                KPI_SOURCE, KPI_TABLE, list(compared["kpi_id"] + "/" + compared["measure"]),
                list(compared["previous"]), list(compared["value"]), max_swing, "kpi_total",
                periods=list(compared["period_type"] + " " + compared["period"])))
    return findings


#: The free-text type column behind `fact_service.service_type`, per source (DQ20 names it).
SERVICE_TYPE_COLUMN = {"boern": "Type", "voksen": "ydelsestype"}


@rule("DQ20", sources=_source_names(), needs_facts=True, tables=("fact_service",))
def outside_contract(model: Model, facts: RunFacts | None, params: Mapping[str, Any]) -> list[RuleFinding]:
    """A delivery outside its contract: a categorical value not on the contract's list (the row
    is kept, the value read as `Ukendt`), or a column the contract does not have (ignored).

    One row per finding (record id: the row's key, or drop file and line; an extra column's
    id is `kolonne <name>`); every row fails. The value itself is never shown: it may be
    free text, even a CPR. Population: the findings only, so the threshold is a count.
    """
    findings = []
    if facts is not None and facts.outside_contract is not None and not facts.outside_contract.empty:
        found = facts.outside_contract.reset_index(drop=True)
        for (source, table), rows in found.groupby(["source", "table"], sort=True):
            text = pd.Series([(f"værdi uden for kontraktens liste i {c} (læst som Ukendt)" if k == "value" else
                               f"kolonne {c} findes ikke i kontrakten (ignoreret)")
                              for k, c in zip(rows["kind"], rows["column"])], index=rows.index, dtype="str")
            findings.append(_finding(str(source), str(table), rows, "record_id", pd.Series(True, index=rows.index),
                                     text, column=rows["column"]))
    for source, table, rows in _by_source(model, "fact_service"):  # a free-text type not on its list
        unlisted = rows[~rows["service_type_listed"].astype(bool)]
        if len(unlisted):
            column = SERVICE_TYPE_COLUMN[source]
            findings.append(_finding(source, table, unlisted, "service_id", pd.Series(True, index=unlisted.index),
                                     f"type i {column} står ikke på listen (læst som Ukendt)", column=column))
    return findings


@rule("DQ14", sources=_source_names(), needs_facts=True)
def rows_not_conserved(model: Model, facts: RunFacts | None, params: Mapping[str, Any]) -> list[RuleFinding]:
    """Rows must reconcile along the chain: landed = validated = staged + quarantined, and
    staged − documented drops (soft-deleted, on a deleted case, unplaceable) = model rows.

    Beyond the catalogue: the reliability requirement that no row disappears. One row per
    source table (record id = the table); a difference fails it. Where each table's rows go
    and which drops are documented come from the model registry (`model/accounting.parquet`);
    tables with no model counterpart (the CPR register, caseworkers) are checked up to staging.
    """
    if facts is None or facts.conservation is None or facts.conservation.empty:
        return []
    chain = facts.conservation.reset_index(drop=True)
    landed_gap = (pd.to_numeric(chain["landed"], errors="coerce") - chain["rows_in"]).fillna(0).abs()
    validated_gap = (chain["rows_in"] - chain["staged"] - chain["quarantined"]).abs()
    model_gap = (pd.to_numeric(chain["expected"], errors="coerce")
                 - pd.to_numeric(chain["model"], errors="coerce")).fillna(0).abs()
    failing = (landed_gap + validated_gap + model_gap) > 0
    def count(column: str) -> pd.Series:
        return pd.to_numeric(chain[column], errors="coerce").astype("Int64").astype("str").replace("<NA>", "–")

    detail = ("landet " + count("landed") + " → indlæst " + count("rows_in") + " = gyldige " + count("staged")
              + " + karantæne " + count("quarantined") + " → model " + count("model")
              + " (forventet " + count("expected") + ")")
    findings = []
    for source, rows in chain.groupby("source", sort=True):
        findings.append(_finding(source, "chain", rows, "source_table", failing[rows.index],
                                 lambda bad, detail=detail: detail[bad.index]))
    return findings


@rule("DQ22", sources=_source_names(), needs_facts=True, tables=("link_finding",))
def cpr_in_free_text(model: Model, facts: RunFacts | None, params: Mapping[str, Any]) -> list[RuleFinding]:
    """A CPR typed into a text field that is not the contract's CPR column (issue 21).

    The model build masks it (`etl.model.guard`: the row is kept, the number never reaches
    the model) and records the record id and column; a CPR in a categorical column is read as
    `Ukendt` at validation (DQ20) and recorded here too. One row per record and column; the
    value is never shown. Population: the findings only, so the threshold is a count (0).
    """
    guard = model.link_finding[model.link_finding["rule_id"] == "DQ22"]
    found = [guard.rename(columns={"source_table": "table", "detail": "column"})[["source", "table", "record_id", "column"]]
             .assign(where="modellen (maskeret)")]
    outside = facts.outside_contract if facts is not None and facts.outside_contract is not None else None
    if outside is not None and not outside.empty and "cpr" in outside:
        found.append(outside[outside["cpr"].astype(bool)][["source", "table", "record_id", "column"]]
                     .assign(where="valideringen (læst som Ukendt)"))
    rows = pd.concat(found, ignore_index=True).astype("str")
    findings = []
    for (source, table), group in rows.groupby(["source", "table"], sort=True):
        text = ("CPR-nummer i fritekstfeltet " + group["column"] + "; fjernet i " + group["where"]
                + " – ret feltet i fagsystemet")
        findings.append(_finding(str(source), str(table), group, "record_id", pd.Series(True, index=group.index),
                                 text, column=group["column"]))
    return findings


# --- DQ21: a KPI whose population is structurally empty (issue 20) -----------------------

#: DQ21 reports per theme, under the pseudo-source `kpi-tema<N>`, so a breach goes to the
#: theme's KPI owner (catalogue) and only to them.
THEME_SOURCES = {f"kpi-tema{number}": number for number in THEMES}


def _theme_owner(source: str) -> tuple[str, ...]:
    """The catalogue's owner of the theme behind a DQ21 source, as an address."""
    if source not in THEME_SOURCES:
        return ()
    owner = THEMES[THEME_SOURCES[source]][1]
    return (owner.rsplit("<", 1)[1].rstrip(">") if "<" in owner else owner,)


def _role_rows(model: Model) -> dict[tuple[str, str], int]:
    """Per role the model rows it selects: services and decisions by service code, stays by facility type."""
    counts = {}
    for role in ROLES:
        declared = codes(model.ref_role, role.kind, role.name)
        if role.kind == FACILITY:
            counts[(role.kind, role.name)] = int(model.fact_stay["facility_type"].isin(declared).sum())
        else:
            counts[(role.kind, role.name)] = int(model.fact_service["service_code"].isin(declared).sum()
                                                 + model.fact_decision["service_code"].isin(declared).sum())
    return counts


def _size(totals: pd.DataFrame) -> pd.Series:
    """A total's population: its denominator, else (a count) its value; NaN when not yet available."""
    denominator = pd.to_numeric(totals.get("denominator", pd.Series(float("nan"), index=totals.index)),
                                errors="coerce")
    return denominator.fillna(pd.to_numeric(totals["value"], errors="coerce"))


def _vanished(totals: pd.DataFrame | None, previous: pd.DataFrame | None) -> dict[str, int]:
    """KPI id -> the number of totals (measure × period) the previous run had a population in,
    for KPIs whose population is 0 now in every one of them (compared where both are known)."""
    if totals is None or totals.empty or previous is None or previous.empty:
        return {}
    key = ["kpi_id", "measure", "period_type", "period"]
    then = previous.assign(before=_size(previous))[key + ["before"]].drop_duplicates(key)
    now = totals.assign(now=_size(totals))[key + ["now"]].drop_duplicates(key)
    both = then[then["before"] > 0].merge(now, on=key).dropna(subset=["now"])
    out = {}
    for kpi_id, rows in both.groupby("kpi_id", sort=True):
        if (rows["now"] == 0).all():
            out[str(kpi_id)] = len(rows)
    return out


@rule("DQ21", sources=tuple(THEME_SOURCES), needs_facts=True, source_owners=_theme_owner,
      tables=("fact_decision", "fact_service", "fact_stay", "ref_role"))
def structurally_empty_kpis(model: Model, facts: RunFacts | None, params: Mapping[str, Any]) -> list[RuleFinding]:
    """A KPI whose population is structurally empty is a finding, not a quiet 0 or NULL.

    Population: every computed KPI, per theme (source `kpi-tema<N>`, record id the KPI id).
    Fails when a role the KPI selects by (`reference/service_roles.csv`,
    `facility_roles.csv`) selects no model rows at all (services and decisions by service
    code, stays by facility type), or when its population (denominator; a count's value)
    is 0 in every measure and period where the previous run's SOF totals had one (compared
    where both runs have a figure; a not-yet-available share is no figure). The owners
    are the theme's KPI owner from the catalogue.
    """
    selected = _role_rows(model)
    vanished = _vanished(facts.kpi_totals if facts else None, facts.previous_kpi_totals if facts else None)
    findings = []
    for source, theme in THEME_SOURCES.items():
        kpis = [d.kpi_id for d in CATALOG.values() if d.theme == theme and d.implemented]
        details = []
        for kpi_id in kpis:
            reasons = [f"rollen {kind}/{name} udvælger ingen rækker i modellen" for (kind, name), n in selected.items()
                       if n == 0 and kpi_id in ROLE_BY_KEY[(kind, name)].readers]
            if kpi_id in vanished:
                reasons.append(f"populationen er 0 i alle {vanished[kpi_id]} totaler, hvor forrige kørsel havde en")
            details.append("; ".join(reasons) or None)
        rows = pd.DataFrame({"kpi_id": kpis, "detail": pd.Series(details, dtype="str")})
        findings.append(_finding(source, KPI_TABLE, rows, "kpi_id", rows["detail"].notna(),
                                 lambda bad: bad["detail"]))
    return findings
