"""The end-of-run summary `sofli demo` prints: rows per stage, headline KPIs, data quality
(loudly), and where every output is. Decides the exit code."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from etl.core import zones
from etl.core.periods import last_closed_quarter
from etl.core.settings import Settings
from etl.publish.warehouse import make_engine, read_table

HEADLINE_KPIS = ("T1.01", "T2.01", "T2.06", "T3.02", "T5.01")
EXIT_OK, EXIT_PIPELINE_FAILED, EXIT_DQ_BREACH = 0, 1, 3


def _rows_per_stage(settings: Settings) -> list[tuple[str, int]]:
    landed = sum(manifest["rows"] for manifest in zones.landed_manifests(settings.landing_dir))
    staged = quarantined = 0
    for pointer in zones.current_extracts(settings.staged_dir).values():
        for table in pointer["tables"].values():
            staged += table["rows_staged"]
            quarantined += table["rows_quarantined"]
    model_meta = zones.read_model_meta(settings.model_dir)
    model_rows = sum(model_meta["rows"].values()) if model_meta else 0
    return [("landed", landed), ("staged (valid)", staged), ("quarantined", quarantined), ("model", model_rows)]


def _fmt(value: float | None, unit: str) -> str:
    if value is None or pd.isna(value):
        return "–"
    if unit == "share":
        return f"{100 * value:.1f} %".replace(".", ",")
    if float(value).is_integer():
        return f"{int(value):,}".replace(",", ".")
    return f"{value:,.1f}".replace(",", "X").replace(".", ",").replace("X", ".")


def print_summary(settings: Settings, states: dict[str, dict], strict: bool, seconds: float, title: str = "sofli demo",
                  mail_dir: Path | None = None) -> int:
    folder = settings.zones
    failed = {dag: s for dag, s in states.items() if s["state"] != "DagRunState.SUCCESS" and s["state"] != "success"}
    gate_only = {dag for dag, s in failed.items()
                 if dag == "data_quality" and [t for t, st in s["tasks"].items() if "success" not in st.lower()] == ["gate"]}
    broken = {dag: s for dag, s in failed.items() if dag not in gate_only}

    print("\n" + "=" * 78)
    print(f"{title}: {len(states)} DAG runs in {seconds:.0f} s")
    for dag, s in states.items():
        mark = "ok  " if dag not in failed else ("RED " if dag in gate_only else "FAIL")
        bad = [t for t, st in s["tasks"].items() if "success" not in st.lower()]
        print(f"  {mark} {dag:<24} {s['seconds']:>6.1f} s" + (f"   failed/not run: {', '.join(bad)}" if bad else ""))

    print("\nRows per stage:")
    for stage, rows in _rows_per_stage(settings):
        print(f"  {stage:<16} {rows:>12,}")

    engine = make_engine(settings.warehouse_url())
    try:
        tiles = read_table(engine, "mart.kpi_tile", "WHERE org_level = 'sof' AND version = 0")
        rules = read_table(engine, "mart.dq_rule")
        results = read_table(engine, "mart.dq_result", "WHERE dimension IS NULL AND run_id = "
                             "(SELECT run_id FROM mart.dq_result ORDER BY computed_at DESC LIMIT 1)")
    except Exception as exc:  # noqa: BLE001 - the summary must still say what happened
        print(f"\n(warehouse not readable: {exc})")
        tiles = rules = results = pd.DataFrame()
    finally:
        engine.dispose()

    if len(tiles):
        quarter = last_closed_quarter(pd.to_datetime(tiles["period_end"]).max().date())
        print(f"\nHeadline KPIs, {quarter} (SOF total; last year in brackets):")
        catalog = read_catalog_titles(settings)
        titles = dict(zip(catalog["kpi_id"], catalog["title"]))
        for kpi in HEADLINE_KPIS:
            rows = tiles[(tiles["kpi_id"] == kpi) & (tiles["period"] == quarter) & (tiles["period_type"] == "quarter")]
            for _, r in rows.sort_values("measure").iterrows():
                print(f"  {kpi} {titles.get(kpi, ''):<46.46} {r['measure']:<12} {_fmt(r['value'], r['unit']):>10}"
                      f"   ({_fmt(r['last_year_value'], r['unit'])})")

    breaches = results[results["status"] == "breach"] if len(results) else results
    if len(results):
        severity = dict(zip(rules["rule_id"], rules["severity"]))
        print(f"\nData quality: {len(results)} rule × source results, {len(breaches)} BREACHED")
        for _, r in results.sort_values(["rule_id", "source"]).iterrows():
            flag = "!! BREACH" if r["status"] == "breach" else "   pass  "
            rate = _fmt(r["rate"], "share")
            print(f"  {flag} {r['rule_id']} {r['source']:<15} {int(r['failing']):>6} of {int(r['population']):>7}"
                  f"  ({rate}, {severity.get(r['rule_id'], '')})")

    mail_dir = mail_dir or folder.mail
    mails = sorted(mail_dir.glob("*.eml"))
    print("\nOutputs:")
    print(f"  warehouse (BI reads mart.* and public.*): {folder.warehouse}/warehouse.db (+ mart.db, public.db)")
    print(f"  landing / quarantine (restricted, CPR):    {folder.landing} , {folder.quarantine}")
    print(f"  citizen model (pseudonymous Parquet):      {folder.model}")
    if settings.mode == "demo" or mails:
        print(f"  alert e-mails received by the SMTP server: {mail_dir} ({len(mails)} message(s))")
    print(f"  Airflow home (logs, metadata DB):          {folder.airflow_home}")

    if broken:
        print(f"\nPIPELINE FAILED: {', '.join(broken)} did not complete; see the log above"
              f" (or `sofli --data-dir {settings.data_dir} airflow` for each task's log).")
        failed_extracts = [dag for dag in broken if dag.startswith("extract_")]
        if failed_extracts and not set(broken) - set(failed_extracts) and "publish_kpis" in states:
            print("The rest of the night ran without them: their last good extract was used, DQ10 flags them "
                  "stale, and the KPIs built on them carry the stale flag (dq_kpi_flag).")
        return EXIT_PIPELINE_FAILED
    if gate_only:
        print("\n!! DATA QUALITY: error rules breached; the data_quality run is RED, as scheduled. "
              "Everything was published." + (" --strict: exiting non-zero." if strict else ""))
        return EXIT_DQ_BREACH if strict else EXIT_OK
    print("\nAll DAG runs succeeded and published.")
    return EXIT_OK


def read_catalog_titles(settings: Settings) -> pd.DataFrame:
    engine = make_engine(settings.warehouse_url())
    try:
        return read_table(engine, "mart.kpi_catalog")
    finally:
        engine.dispose()
