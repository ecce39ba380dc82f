"""Closing a quarter: freeze its KPI values and data-quality results as a numbered version.

The nightly run publishes version 0 of `mart.kpi_value` and `public.kpi_value` and replaces
only version 0 (`etl.tasks.kpis.publish_kpis`), so a frozen version, once written, is never
changed by a later night. Freezing copies, in one transaction:

- the version-0 rows of every *closed* period up to the quarter's end (the quarter and its
  ÅTD, their last-year twins, and the earlier quarters the report's trends show) to
  `mart.kpi_value` and `public.kpi_value` with the new version number, and their caseworker
  rows in `restricted.kpi_value_caseworker` likewise;
- the latest data-quality run's `mart.dq_result` rows to `mart.dq_result_frozen`;
- a row in `mart.kpi_version` and `public.kpi_version` (who, when, why, which runs), which
  becomes the quarter's current version (`is_current`; the previous one loses it).

Version numbers are publication numbers, unique across quarters (1, 2, ... in the order
they were frozen), so a version alone identifies a publication and its context rows (the
last-year twins a later quarter also carries) never collide. A re-publication of a quarter
(`force`, with its reason) creates the next number; the earlier version stays, not current.

When is a quarter due? `close_quarter` runs daily and closes the last complete quarter once
`SOFLI_CLOSE_AFTER_DAYS` (default 20) days have passed since its end, so late registrations
of the quarter's last weeks are in; a missed day is caught up the next day.
"""

from __future__ import annotations

import datetime as dt
import getpass
import logging
from dataclasses import dataclass

import pandas as pd
import sqlalchemy as sa

from etl.core.periods import last_closed_quarter, local_now, parse_quarter, quarter_bounds
from etl.core.settings import Settings
from etl.publish.marts import DQ_RESULT, KPI_VALUE, KPI_VERSION
from etl.publish.warehouse import _lock, ensure_schema, make_engine, read_table

log = logging.getLogger(__name__)
CLOSE_REASON = "Kvartalsafslutning"
#: (schema, table) of the KPI rows a version freezes: the caseworker rows live in `restricted`.
FROZEN_TABLES = (("mart", "kpi_value"), ("public", "kpi_value"), ("restricted", "kpi_value_caseworker"))


class FreezeError(RuntimeError):
    """The quarter cannot be frozen (not closed in the nightly version, or no data)."""


def due_quarter(today: dt.date, after_days: int) -> str | None:
    """The last complete quarter when `after_days` (Settings.close_after_days) have passed
    since its end, else None."""
    quarter = last_closed_quarter(today)
    _, end = quarter_bounds(*parse_quarter(quarter))
    return quarter if today >= end + dt.timedelta(days=after_days) else None


@dataclass(frozen=True)
class Frozen:
    quarter: str
    version: int
    created: bool
    kpi_rows: int
    public_rows: int
    dq_rows: int
    restricted_rows: int = 0

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def _bool(value: object) -> bool:
    return bool(int(value)) if isinstance(value, (int, str)) else bool(value)


def _frozen_periods(conn: sa.Connection, quarter_end: dt.date) -> list[tuple[str, str, object, object]]:
    """(period, period_type, period_start, period_end) of the closed, whole-quarter periods of
    version 0 that end on or before `quarter_end` (a running quarter's clipped last-year twin is
    not a whole quarter and is left out)."""
    rows = conn.execute(sa.text(
        "SELECT DISTINCT period, period_type, period_start, period_end FROM mart.kpi_value "
        "WHERE version = 0")).all()
    keep = []
    for period, kind, start, end in rows:
        end_date = end if isinstance(end, dt.date) else dt.date.fromisoformat(str(end)[:10])
        if end_date == quarter_bounds(*parse_quarter(period))[1] and end_date <= quarter_end:
            keep.append((period, kind, start, end))
    return keep


def freeze_quarter(quarter: str, reason: str | None = None, *, force: bool = False, frozen_by: str | None = None,
                   run_id: str | None = None, settings: Settings, now: dt.datetime | None = None) -> Frozen:
    """Freeze `quarter` as the next version, or return its current version unchanged.

    Without `force`, a quarter that already has a current version is left alone (the daily
    check and a retried task are no-ops). With `force`, a re-publication: the next version,
    which becomes current; `reason` is then required. A retry of the same `run_id` returns
    the version that run already froze instead of freezing twice.
    """
    year, q = parse_quarter(quarter)
    quarter = f"{year}-Q{q}"
    _, quarter_end = quarter_bounds(year, q)
    if force and not (reason or "").strip():
        raise FreezeError("a re-publication needs a reason")
    reason = (reason or "").strip() or CLOSE_REASON
    frozen_by = frozen_by or getpass.getuser()
    now = (now or local_now()).replace(microsecond=0)
    run_id = run_id or f"manual__{now.isoformat(timespec='seconds')}"
    engine = make_engine(settings.warehouse_url())
    ensure_schema(engine, sql_dir=settings.sql_dir)
    try:
        with engine.begin() as conn:
            for name in ("mart.kpi_value", "public.kpi_value", "mart.kpi_version", "restricted.kpi_value_caseworker"):
                _lock(conn, name)
            existing = conn.execute(sa.text("SELECT version, is_current, run_id FROM mart.kpi_version "
                                            "WHERE quarter = :q ORDER BY version"), {"q": quarter}).all()
            same_run = [v for v, _, r in existing if r == run_id]
            current = [v for v, c, _ in existing if _bool(c)]
            if same_run or (current and not force):
                version = (same_run or current)[-1]
                log.info("%s: version %d stands (%s)", quarter, version, "this run froze it" if same_run else "not forced")
                return Frozen(quarter, version, False, *_counts(conn, version))
            closed = conn.execute(sa.text(
                "SELECT COUNT(*), MAX(run_id) FROM mart.kpi_value WHERE version = 0 AND period = :q "
                "AND period_type = 'quarter' AND period_end = :end AND dimension IS NULL"),
                {"q": quarter, "end": quarter_end}).one()
            if not closed[0]:
                raise FreezeError(f"{quarter} is not a closed quarter in the nightly version of mart.kpi_value "
                                  f"(run publish_kpis after {quarter_end}, with enough history_quarters)")
            source_run_id = closed[1]
            version = int(conn.execute(sa.text("SELECT COALESCE(MAX(version), 0) FROM mart.kpi_version")).scalar_one()) + 1
            periods = _frozen_periods(conn, quarter_end)
            columns = list(KPI_VERSION.column_names)
            rows = {}
            for schema, table in FROZEN_TABLES:
                rows[schema] = 0
                kv_columns = _kpi_columns()
                select = ", ".join(":version" if c == "version" else (":prov" if c == "provisional" else c) for c in kv_columns)
                for period, kind, start, end in periods:
                    result = conn.execute(sa.text(
                        f"INSERT INTO {schema}.{table} ({', '.join(kv_columns)}) SELECT {select} "
                        f"FROM {schema}.{table} WHERE version = 0 AND period = :p AND period_type = :k "
                        "AND period_start = :s AND period_end = :e"),
                        {"version": version, "prov": False, "p": period, "k": kind, "s": start, "e": end})
                    rows[schema] += result.rowcount
            dq_run = conn.execute(sa.text("SELECT run_id FROM mart.dq_result ORDER BY computed_at DESC, run_id DESC "
                                          "LIMIT 1")).scalar()
            dq_rows = 0
            if dq_run is not None:
                names = ", ".join(DQ_RESULT.column_names)
                dq_rows = conn.execute(sa.text(
                    f"INSERT INTO mart.dq_result_frozen (version, quarter, {names}) "
                    f"SELECT :version, :q, {names} FROM mart.dq_result WHERE run_id = :r"),
                    {"version": version, "q": quarter, "r": dq_run}).rowcount
            record = {"version": version, "quarter": quarter, "frozen_at": now, "frozen_by": frozen_by,
                      "reason": reason, "run_id": run_id, "source_run_id": source_run_id, "dq_run_id": dq_run,
                      "kpi_rows": rows["mart"], "public_rows": rows["public"], "is_current": True}
            for schema in ("mart", "public"):
                conn.execute(sa.text(f"UPDATE {schema}.kpi_version SET is_current = :f WHERE quarter = :q"),
                             {"f": False, "q": quarter})
                conn.execute(sa.text(f"INSERT INTO {schema}.kpi_version ({', '.join(columns)}) "
                                     f"VALUES ({', '.join(':' + c for c in columns)})"), record)
                # BI's period dimension: the quarter's whole periods are frozen now
                conn.execute(sa.text(f"UPDATE {schema}.dim_period SET status = 'frozen' WHERE period = :q "
                                     "AND comparison = 'current' AND period_end = :end"), {"q": quarter, "end": quarter_end})
        log.info("froze %s as version %d (%d mart rows, %d public rows, %d restricted rows, %d DQ rows) by %s: %s",
                 quarter, version, rows["mart"], rows["public"], rows["restricted"], dq_rows, frozen_by, reason)
        return Frozen(quarter, version, True, rows["mart"], rows["public"], dq_rows, rows["restricted"])
    finally:
        engine.dispose()


def _kpi_columns() -> list[str]:
    return KPI_VALUE.column_names


def _counts(conn: sa.Connection, version: int) -> tuple[int, int, int, int]:
    return tuple(int(conn.execute(sa.text(f"SELECT COUNT(*) FROM {t} WHERE version = :v"), {"v": version}).scalar_one())
                 for t in ("mart.kpi_value", "public.kpi_value", "mart.dq_result_frozen",
                           "restricted.kpi_value_caseworker"))


def close_quarter_task(today: dt.date, quarter: str | None, reason: str | None, force: bool, run_id: str,
                       frozen_by: str, settings: Settings) -> dict:
    """The `freeze` task: an explicit `quarter` is closed now; otherwise the last complete
    quarter once it is due (`SOFLI_CLOSE_AFTER_DAYS`). Returns what the report task needs."""
    target = quarter or due_quarter(today, settings.close_after_days)
    if target is None:
        log.info("no quarter is due on %s (closing %d days after a quarter ends)", today, settings.close_after_days)
        return {"quarter": None, "version": None, "created": False}
    return freeze_quarter(target, reason, force=force, frozen_by=frozen_by, run_id=run_id, settings=settings).as_dict()


def frozen_public_rows(engine: sa.Engine) -> pd.DataFrame:
    """Every frozen version's `public.kpi_value` rows as published, with their true figures from
    `mart.kpi_value` beside them (`value_true`, ...): what the suppression audit attacks
    tonight's rows together with (an attacker holds every version ever published)."""
    key = ["kpi_id", "measure", "period_type", "period_start", "period_end", "org_level", "org_key", "dimension",
           "dimension_value", "version"]
    public = read_table(engine, "public.kpi_value", "WHERE version > 0")
    if public.empty:
        return public
    mart = read_table(engine, "mart.kpi_value", "WHERE version > 0")[[*key, "value", "numerator", "denominator"]]
    for frame in (public, mart):
        for column in ("period_start", "period_end"):
            frame[column] = pd.to_datetime(frame[column]).dt.normalize()
        for column in ("dimension", "dimension_value"):
            frame[column] = frame[column].astype(object).where(frame[column].notna(), None)
    return public.merge(mart, on=key, how="inner", suffixes=("", "_true"), validate="one_to_one")
