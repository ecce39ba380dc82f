"""The `publish_kpis` DAG's tasks: compute, audit and publish the KPI catalogue (write-audit-publish)."""

from __future__ import annotations

import logging
import time

import numpy as np
import pandas as pd
import sqlalchemy as sa

from etl.core import zones
from etl.core.locks import stage_lock
from etl.core.periods import local_now, reporting_periods
from etl.core.settings import Settings
from etl.core.storage import write_frame_atomic
from etl.model import Model
from etl.model.org import current_structure
from etl.publish.marts import (CASE_COST, CASEWORKER, DATA_FRESHNESS, DIM_CASEWORKER, DIM_DIMENSION, DIM_KPI,
                               DIM_MEASURE, DIM_ORG, DIM_ORG_CODE, DIM_PERIOD, KPI_CATALOG, KPI_VALUE,
                               KPI_VALUE_CASEWORKER)
from etl.publish.suppression import ROW, row_hashes, suppress_for_public, unchanged_blanks
from etl.publish.warehouse import Publication, ensure_schema, make_engine, publish_together, read_table
from etl.sources import SOURCES

log = logging.getLogger(__name__)


def _settings(settings: Settings | None) -> Settings:
    """The task's settings: the ones handed in, else resolved here, once, for this task."""
    return settings if settings is not None else Settings.resolve()


def compute_kpis(run_id: str, settings: Settings | None = None, history_quarters: int = 4) -> dict:
    """Compute every implemented KPI for the nightly periods into a staged Parquet file."""
    settings = _settings(settings)
    with stage_lock(settings.data_dir, "publish_kpis", run_id):
        return _compute_kpis(run_id=run_id, settings=settings, history_quarters=history_quarters)


def _compute_kpis(run_id: str, settings: Settings | None = None, history_quarters: int = 4) -> dict:
    from etl.kpi import compute_kpis as compute  # noqa: PLC0415 - the KPIs (~160 ms): not at DAG parse
    from etl.kpi import reads_postings, stage_tables, theme6  # noqa: PLC0415 - as above
    from etl.publish.dims import dim_caseworker, with_bi_keys  # noqa: PLC0415 - the KPI catalogue: not at DAG parse

    settings = _settings(settings)
    started = time.monotonic()
    # not the link tables (0.6 GiB at national); the postings coded column by column from disk (2.3 GiB)
    model = Model.load(settings.model_dir, only=stage_tables(), by_column={"fact_posting"})
    if settings.org_structure == "current":  # restate history on today's organisation
        model.replace_table("dim_org", current_structure(model.dim_org))
    if reads_postings():  # the postings coded once; the raw table let go before the workers fork
        theme6.prepare_shared(model, release=True)
    periods = reporting_periods(model.extraction_date, history_quarters)
    values = compute(model, periods, workers=settings.kpi_workers, params=settings.kpi_params())
    values["provisional"] = _provisional(values, periods)
    values["version"] = 0
    values["run_id"] = run_id
    values["computed_at"] = pd.Timestamp(local_now())
    values = with_bi_keys(values)
    path = settings.zones.kpi_values
    write_frame_atomic(path, values)
    log.info("computed %d KPI rows for %d periods in %.1fs", len(values), len(periods), time.monotonic() - started)
    cost_path = _compute_case_cost(model, run_id, values["computed_at"].iloc[0] if len(values) else None,
                                   settings.zones.case_cost)
    caseworkers = values.loc[values["org_level"] == "caseworker", "org_key"]
    write_frame_atomic(settings.zones.dim_caseworker,
                       dim_caseworker(model.fact_case, model.dim_org, model.extraction_date, caseworkers))
    freshness = kpi_freshness(settings, run_id, values["computed_at"].iloc[0] if len(values) else local_now())
    return settings.zones.portable({"path": path, "rows": len(values), "periods": len(periods),
                                    "extraction_date": model.extraction_date.isoformat(), "case_cost_path": cost_path,
                                    "caseworker_path": settings.zones.dim_caseworker, "freshness": freshness})


def kpi_freshness(settings: Settings, run_id: str, computed_at) -> list[dict]:
    """`data_freshness`'s rows for KPI values computed now from the live model: per source the
    extract the model was built from (`model.json`), when it became current and whether a night
    or a daytime refresh made it so (its pointer, while the pointer still names that extract).
    Plain text values: they travel through XCom to `publish_kpis`."""
    built_from = (zones.read_model_meta(settings.model_dir) or {}).get("built_from") or {}
    pointers = settings.zones.pointers(SOURCES)
    rows = []
    for name in SOURCES:
        used, pointer = built_from.get(name) or {}, pointers.get(name) or {}
        same = bool(used) and (pointer.get("run_id"), pointer.get("extract_date")) == (used.get("run_id"),
                                                                                      used.get("extract_date"))
        rows.append({"source": name, "extract_date": used.get("extract_date"),
                     "refreshed_at": pointer.get("completed_at") if same else None,
                     "kind": pointer.get("refresh", "night") if same else "night",
                     "kpi_run_id": run_id, "published_at": pd.Timestamp(computed_at).isoformat(sep=" ")})
    return rows


def freshness_frame(rows: list[dict]) -> pd.DataFrame:
    """`kpi_freshness`'s rows as `data_freshness` (dates and times typed again after XCom)."""
    frame = pd.DataFrame(rows, columns=DATA_FRESHNESS.column_names)
    frame["extract_date"] = pd.to_datetime(frame["extract_date"]).dt.date
    for column in ("refreshed_at", "published_at"):
        frame[column] = pd.to_datetime(frame[column])
    return frame


def _compute_case_cost(model, run_id: str, computed_at, path):
    """`mart.case_cost` (theme 6's caseworker overview per case and year), staged beside the KPIs."""
    from etl.kpi.theme6 import case_cost  # noqa: PLC0415 - the KPIs (~160 ms): not at DAG parse

    started = time.monotonic()
    rows = case_cost(model).assign(run_id=run_id,
                                   computed_at=computed_at or pd.Timestamp(local_now()))
    write_frame_atomic(path, rows)
    log.info("computed %d case_cost rows in %.1fs", len(rows), time.monotonic() - started)
    return path


def _provisional(values: pd.DataFrame, periods) -> np.ndarray:
    """Each KPI row's period's `provisional` flag: the rows whose (kind, start, end) is a
    provisional period's, compared column-wise (row by row it was a second a night)."""
    starts = pd.to_datetime(values["period_start"]).to_numpy("datetime64[D]")
    ends = pd.to_datetime(values["period_end"]).to_numpy("datetime64[D]")
    kinds = values["period_type"].to_numpy(dtype=object)
    flags = np.zeros(len(values), dtype=bool)
    for period in periods:
        if period.provisional:
            flags |= ((kinds == period.kind) & (starts == np.datetime64(period.start, "D"))
                      & (ends == np.datetime64(period.end, "D")))
    return flags


def _dimensions(engine, values: pd.DataFrame, dim_org: pd.DataFrame, audited: dict,
                settings: Settings) -> list[Publication]:
    """The star schema's dimensions (etl.publish.dims), whole, for mart and public (and the
    caseworker dimension for restricted): every period and organisation of tonight's rows and of
    the frozen versions already published."""
    from etl.publish import dims  # noqa: PLC0415 - the KPI catalogue (~160 ms): not at DAG parse

    period_columns = ["period_type", "period", "period_start", "period_end", "provisional", "comparison", "period_key"]
    with engine.connect() as conn:
        frozen = pd.read_sql(sa.text(f"SELECT DISTINCT {', '.join(period_columns)} FROM mart.kpi_value "
                                     "WHERE version <> 0"), conn)
        frozen_orgs = pd.read_sql(sa.text("SELECT DISTINCT org_level, org_key FROM mart.kpi_value WHERE version <> 0 "
                                          "UNION SELECT DISTINCT org_level, org_key FROM restricted.kpi_value_caseworker "
                                          "WHERE version <> 0"), conn)
        quarters = set(pd.read_sql(sa.text("SELECT quarter FROM mart.kpi_version WHERE is_current"), conn)["quarter"])
    periods = pd.concat([values[period_columns].drop_duplicates("period_key"), frozen], ignore_index=True)
    periods = periods.drop_duplicates("period_key")
    orgs = pd.concat([values[["org_level", "org_key"]].drop_duplicates(), frozen_orgs], ignore_index=True)
    dim_period = dims.dim_period(periods, quarters)
    org, org_code = dims.dim_org(dim_org, orgs)
    staged = (pd.read_parquet(settings.zones.resolve(audited["caseworker_path"])) if audited.get("caseworker_path")
              else None)
    caseworkers = dims.with_unknown_caseworkers(staged, orgs.loc[orgs["org_level"] == CASEWORKER, "org_key"])
    shared = [(DIM_PERIOD, dim_period), (DIM_ORG, org), (DIM_ORG_CODE, org_code), (DIM_KPI, dims.dim_kpi()),
              (DIM_MEASURE, dims.dim_measure()), (DIM_DIMENSION, dims.dim_dimension())]
    return ([Publication(schema, spec, frame) for schema in ("mart", "public") for spec, frame in shared]
            + [Publication("restricted", DIM_CASEWORKER, caseworkers)])


def audit_kpis(staged: dict, *, settings: Settings | None = None) -> dict:
    """Refuse to publish a KPI set that is empty, duplicated or missing an implemented KPI."""
    from etl.kpi import CATALOG  # noqa: PLC0415 - the KPIs (~160 ms): not at DAG parse
    settings = _settings(settings)
    values = pd.read_parquet(settings.zones.resolve(staged["path"]))
    key = [c for c in KPI_VALUE.primary_key if c != "version"]
    duplicated = values.duplicated(key).sum()
    implemented = {k for k, d in CATALOG.items() if d.compute is not None}
    missing = sorted(implemented - set(values.loc[values["org_level"] == "sof", "kpi_id"]))
    problems = []
    if values.empty:
        problems.append("no KPI rows")
    if duplicated:
        problems.append(f"{duplicated} duplicated KPI rows")
    if missing:
        problems.append(f"no SOF total for implemented KPI(s) {missing}")
    if staged.get("case_cost_path"):
        cost = pd.read_parquet(settings.zones.resolve(staged["case_cost_path"]), columns=["year", "case_key"])
        if cost.duplicated().any():
            problems.append(f"{int(cost.duplicated().sum())} duplicated case_cost rows (year, case)")
    if problems:
        raise RuntimeError("KPI audit failed, nothing published: " + "; ".join(problems))
    return {**staged, "audited": True}


def publish_kpis(audited: dict, settings: Settings | None = None) -> dict:
    """Swap the nightly version (0) of `mart.kpi_value`, `public.kpi_value` and
    `restricted.kpi_value_caseworker` (the caseworker rows), and the catalogue."""
    settings = _settings(settings)
    with stage_lock(settings.data_dir, "publish_kpis", f"publish {audited.get('path', '')}"):
        return _publish_kpis(audited=audited, settings=settings)


def _published_blanks(engine: sa.Engine, audited: dict) -> pd.DataFrame | None:
    """public's blanks of the version a daytime refresh replaces (`published_path`: the staged
    set it was made from); None on a night, which starts afresh and writes its version whole."""
    from etl.publish.dims import SUPPRESSED  # noqa: PLC0415 - the KPI catalogue: not at DAG parse

    if not audited.get("published_path"):
        return None
    return read_table(engine, "public.kpi_value", "WHERE version = 0 AND value_status = :status",
                      {"status": SUPPRESSED}, columns=[*ROW, "period_key"])


def _blanks_kept(blanks: pd.DataFrame | None, values: pd.DataFrame, audited: dict,
                 settings: Settings) -> pd.DataFrame | None:
    """The published blanks whose figures a daytime refresh publishes unchanged: every row of
    the periods it keeps, and the running quarter's rows the day did not change. The refresh's
    suppression starts from them: it does not repair its way there again, and a figure the
    night blanked is not published by a refresh of the same figure (the two versions together
    would show it)."""
    if blanks is None:
        return None
    kept = unchanged_blanks(blanks, values, pd.read_parquet(settings.zones.resolve(audited["published_path"])))
    log.info("the suppression starts from the %d blanks (of %d) the published version has where the figures are "
             "unchanged", len(kept), len(blanks))
    return kept


def _version_0(engine: sa.Engine, values: pd.DataFrame, public_values: pd.DataFrame, audited: dict,
               blanks: pd.DataFrame | None) -> list[Publication]:
    """Version 0 of mart.kpi_value, public.kpi_value and restricted.kpi_value_caseworker. A night
    writes them whole. A daytime refresh writes only the periods it recomputed
    (`refreshed_periods`; their rows in the warehouse are replaced), and every kept period whose
    rows number differently from the published ones, or in public whose blanks differ (a repair
    reached back into it, or the public settings changed); the kept rows elsewhere are the
    published ones (the staged set was checked against them) and only take the refresh's run
    id, in the same transaction."""
    is_caseworker = values["org_level"].eq(CASEWORKER)
    tables = {"mart": (KPI_VALUE, values[~is_caseworker]), "public": (KPI_VALUE, public_values),
              "restricted": (KPI_VALUE_CASEWORKER, values[is_caseworker])}
    refreshed = audited.get("refreshed_periods")
    if blanks is None or not refreshed:
        return [Publication(schema, spec, frame, {"version": 0}) for schema, (spec, frame) in tables.items()]
    from etl.publish.dims import SUPPRESSED  # noqa: PLC0415 - the KPI catalogue: not at DAG parse

    (run_id,) = set(values["run_id"])
    blank_now = public_values[public_values["value_status"].eq(SUPPRESSED)]
    differ = set(blanks["period_key"].iloc[~np.isin(row_hashes(blanks), row_hashes(blank_now))]) | set(
        blank_now["period_key"].iloc[~np.isin(row_hashes(blank_now), row_hashes(blanks))])
    publications = []
    for schema, (spec, frame) in tables.items():
        with engine.connect() as conn:
            then = dict(conn.execute(sa.text(f"SELECT period_key, COUNT(*) FROM {schema}.{spec.name} "
                                             "WHERE version = 0 GROUP BY period_key")).all())
        now = frame.groupby("period_key").size().to_dict()
        periods = set(refreshed) | {k for k in now.keys() | then.keys() if now.get(k) != then.get(k)}
        if schema == "public":
            periods |= differ
        publications.append(Publication(schema, spec, frame[frame["period_key"].isin(periods)],
                                        {"version": 0, "period_key": sorted(periods)}, {"run_id": run_id}))
        log.info("%s.%s: writing version 0's %d periods (%d refreshed), the other rows restamped with run %s",
                 schema, spec.name, len(periods), len(refreshed), run_id)
    return publications


def _publish_kpis(audited: dict, settings: Settings | None = None) -> dict:
    from etl.kpi import catalog_frame  # noqa: PLC0415 - the KPIs (~160 ms): not at DAG parse
    from etl.publish.dims import SUPPRESSED, mark_suppressed  # noqa: PLC0415 - the KPI catalogue: not at DAG parse
    from etl.core.reference import load_reference  # noqa: PLC0415 - pandas: not at DAG parse
    from etl.publish.freeze import frozen_public_rows  # noqa: PLC0415 - pandas: not at DAG parse
    from etl.publish.audit_memo import AuditMemo  # noqa: PLC0415 - scipy: not at DAG parse

    settings = _settings(settings)
    started = time.monotonic()
    if not audited.get("audited"):
        raise RuntimeError("refusing to publish KPIs that were not audited")
    values = pd.read_parquet(settings.zones.resolve(audited["path"]))
    engine = make_engine(settings.warehouse_url())
    ensure_schema(engine, sql_dir=settings.sql_dir)
    catalog = catalog_frame()
    dim_org = load_reference(settings.reference_dir)["dim_org"]
    if settings.org_structure == "current":  # the structure the KPIs were computed on
        dim_org = current_structure(dim_org)
    suppress_started = time.monotonic()
    blanks = _published_blanks(engine, audited)
    memo = AuditMemo.load(settings.zones.audit_memo)
    # audited together with every frozen version in public: a re-published quarter keeps most figures
    public_values = mark_suppressed(suppress_for_public(values, dim_org, settings.suppression_threshold,
                                                         settings.public_breakdown_levels,
                                                         earlier_versions=frozen_public_rows(engine),
                                                         workers=settings.kpi_workers,
                                                         blank_before=_blanks_kept(blanks, values, audited, settings),
                                                         audit_memo=memo))
    memo.save(settings.zones.audit_memo)  # a cache of answers true whatever is published: saved at once
    suppress_seconds = time.monotonic() - suppress_started
    is_caseworker = values["org_level"].eq(CASEWORKER)
    publications = [*_version_0(engine, values, public_values, audited, blanks),
                    Publication("mart", KPI_CATALOG, catalog), Publication("public", KPI_CATALOG, catalog)]
    publications += _dimensions(engine, values, dim_org, audited, settings)
    if audited.get("freshness"):  # which extracts these figures come from: mart and public, nothing personal
        freshness = freshness_frame(audited["freshness"])
        publications += [Publication(schema, DATA_FRESHNESS, freshness) for schema in ("mart", "public")]
    if audited.get("case_cost_path"):  # caseworker-level: restricted only
        publications.append(Publication("restricted", CASE_COST,
                                        pd.read_parquet(settings.zones.resolve(audited["case_cost_path"]))))
    publish_together(engine, publications)  # mart, public and restricted: one transaction
    published, restricted = int((~is_caseworker).sum()), int(is_caseworker.sum())
    # (public has fewer rows than mart: no breakdowns below SOFLI_PUBLIC_BREAKDOWN_LEVELS)
    suppressed = int(public_values["value_status"].eq(SUPPRESSED).sum())
    engine.dispose()
    log.info("SUMMARY publish_kpis: published %d KPI rows (public: %d, %d cells suppressed in %.1fs; restricted: %d "
             "caseworker rows) in %.1fs", published, len(public_values), suppressed, suppress_seconds, restricted,
             time.monotonic() - started)
    return {"mart_rows": published, "public_rows": len(public_values), "public_suppressed": suppressed,
            "restricted_rows": restricted}
