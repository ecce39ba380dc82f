"""The end-of-run summary `sofli demo` prints: rows per stage, headline KPIs with Danish
measure labels and units, theme 6's economy on the extraction date, data quality (breaches
first, the passes counted in one line), and where every output is. Short by default (the
demo's whole output stays under 150 lines, tested); `--verbose` adds every rule × source
result and the night's task logs. Decides the exit code."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from etl.core import zones
from etl.core.periods import last_closed_quarter
from etl.core.settings import Settings
from etl.kpi.catalog import measure_label
from etl.publish.warehouse import make_engine, read_table
from etl.report import fmt

HEADLINE_KPIS = ("T1.01", "T2.01", "T2.06", "T3.02", "T5.01")
#: Theme 6's headlines, on the newest period (the running quarter, to the extraction date):
#: (KPI, period type, label, headline measure, (measure, label) set beside it).
ECONOMY_HEADLINES = (
    ("T6.01", "ytd", "Net spending ÅTD", "net", (("budget", "budget ÅTD"), ("share_of_budget", "spent"))),
    ("T6.02", "quarter", "Prognosis for the year", "prognosis", (("budget_year", "budget"), ("deviation", "deviation"))),
    ("T6.04", "quarter", "Dyre enkeltsager (citizens)", "count",
     (("cost", "cost"), ("share_of_total", "of all cost"), ("estimated_refund", "refund"))),
)
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


#: What a figure of `kpi_value.unit` is counted in, after the number (shares and kroner: `fmt.figure`).
UNIT_SUFFIX = {"days": "dage", "per_fte": "dage pr. fuldtidsansat", "per_caseworker": "pr. sagsbehandler"}


def figure(value: float | None, unit: str) -> str:
    """A figure with its unit, Danish: `12,5 %`, `1.234`, `14,2 dage`, `119,0 mio. kr.`."""
    text = fmt.figure(None if value is None or pd.isna(value) else float(value), unit)
    suffix = UNIT_SUFFIX.get(unit)
    return f"{text} {suffix}" if suffix and text != fmt.SUPPRESSED else text


def _fmt(value: float | None, unit: str) -> str:
    if value is None or pd.isna(value):
        return "–"
    if unit == "share":
        return f"{100 * value:.1f} %".replace(".", ",")
    if float(value).is_integer():
        return f"{int(value):,}".replace(",", ".")
    return f"{value:,.1f}".replace(",", "X").replace(".", ",").replace("X", ".")


def economy_lines(tiles: pd.DataFrame) -> list[str]:
    """Theme 6's headline figures from `kpi_tile` totals (SOF, version 0) of the newest period:
    net spending ÅTD against the budget, the year's prognosis against the year's budget, the
    number of særligt dyre enkeltsager; last year's figure in brackets. Empty without theme 6."""
    economy = tiles[tiles["kpi_id"].str.startswith("T6.")] if len(tiles) else tiles
    if economy.empty:
        return []
    newest = economy.loc[pd.to_datetime(economy["period_end"]).idxmax()]
    lines = [f"\nEconomy (tema 6) on {str(newest['period_end'])[:10]}, SOF total{' (provisional)' if _true(newest['provisional']) else ''}; "
             "last year in brackets:"]
    now = economy[economy["period"] == newest["period"]]
    for kpi, period_type, label, measure, beside in ECONOMY_HEADLINES:
        rows = now[(now["kpi_id"] == kpi) & (now["period_type"] == period_type)].set_index("measure")
        if measure not in rows.index:
            continue
        head = rows.loc[measure]
        extra = ", ".join(f"{name} {fmt.figure(rows.loc[m, 'value'], rows.loc[m, 'unit'])}"
                          for m, name in beside if m in rows.index)
        lines.append(f"  {kpi} {label:<28} {fmt.figure(head['value'], head['unit']):>15}   "
                     f"({fmt.figure(head['last_year_value'], head['unit'])})   {extra}")
    return lines


def _true(value: object) -> bool:
    return str(value).lower() in ("1", "true")


def dq_lines(results: pd.DataFrame, severity: dict[str, str], verbose: bool = False) -> list[str]:
    """The data-quality block: every breach (errors first), then the passes as one count;
    `verbose` lists the passes too."""
    breaches = results[results["status"] == "breach"]
    passes = results[results["status"] != "breach"]
    lines = [f"\nDatakvalitet: {fmt.number(len(results))} regel × kilde-resultater: "
             f"{fmt.number(len(breaches))} brud, {fmt.number(len(passes))} bestået"]
    order = breaches.assign(_error=breaches["rule_id"].map(severity).ne("error")).sort_values(
        ["_error", "rule_id", "source"])
    for _, r in order.iterrows():
        lines.append(_dq_line("!! BRUD  ", r, severity))
    if verbose:
        lines += [_dq_line("   bestået", r, severity) for _, r in passes.sort_values(["rule_id", "source"]).iterrows()]
    elif len(passes):
        lines.append(f"   {fmt.number(len(passes))} bestået (alle: --verbose, eller datakvalitetssiden i Airflow)")
    return lines


def _dq_line(flag: str, r: pd.Series, severity: dict[str, str]) -> str:
    kind = {"error": "fejl", "warning": "advarsel"}.get(severity.get(r["rule_id"], ""), "")
    return (f"  {flag} {r['rule_id']} {r['source']:<15} {fmt.number(int(r['failing'])):>7} af "
            f"{fmt.number(int(r['population'])):>9}  ({_fmt(r['rate'], 'share')}, {kind})")


def print_summary(settings: Settings, states: dict[str, dict], strict: bool, seconds: float, title: str = "sofli demo",
                  mail_dir: Path | None = None, verbose: bool = False) -> int:
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
        print(f"\nNøgletal, {fmt.quarter(quarter)} (SOF i alt; sidste år i parentes):")
        catalog = read_catalog_titles(settings)
        titles = dict(zip(catalog["kpi_id"], catalog["title"]))
        for kpi in HEADLINE_KPIS:
            rows = tiles[(tiles["kpi_id"] == kpi) & (tiles["period"] == quarter) & (tiles["period_type"] == "quarter")]
            for _, r in rows.sort_values("measure").iterrows():
                print(f"  {kpi} {titles.get(kpi, ''):<34.34} {measure_label(r['measure']):<28.28} "
                      f"{figure(r['value'], r['unit']):>28}   ({figure(r['last_year_value'], r['unit'])})")
        for line in economy_lines(tiles):
            print(line)

    if len(results):
        for line in dq_lines(results, dict(zip(rules["rule_id"], rules["severity"])), verbose):
            print(line)

    mail_dir = mail_dir or folder.mail
    mails = sorted(mail_dir.glob("*.eml"))
    print("\nOutputs:")
    print(f"  warehouse (BI reads mart.* and public.*): {folder.warehouse}/warehouse.db (+ mart.db, public.db)")
    print(f"  landing / quarantine (restricted, CPR):    {folder.landing} , {folder.quarantine}")
    print(f"  citizen model (pseudonymous Parquet):      {folder.model}")
    if settings.mode == "demo" or mails:
        print(f"  alert e-mails received by the SMTP server: {mail_dir} ({len(mails)} message(s))")
    print(f"  Airflow home (logs, metadata DB):          {folder.airflow_home}")
    if verbose:
        print_task_logs(folder.airflow_home / "logs", states)

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


def print_task_logs(logs: Path, states: dict[str, dict]) -> None:
    """`--verbose`: every task log of the night's runs, as the Airflow UI shows them."""
    for dag, s in states.items():
        for path in sorted((logs / f"dag_id={dag}" / f"run_id={s.get('run_id', '')}").glob("task_id=*/*.log")):
            print(f"\n----- {path.relative_to(logs)} -----")
            print(path.read_text(encoding="utf-8", errors="replace").rstrip("\n"))


def read_catalog_titles(settings: Settings) -> pd.DataFrame:
    engine = make_engine(settings.warehouse_url())
    try:
        return read_table(engine, "mart.kpi_catalog")
    finally:
        engine.dispose()
