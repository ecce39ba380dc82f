"""The main job end to end: `sofli demo` in a fresh folder, as a newcomer runs it.

Runs the real CLI in a subprocess (its own Airflow home and SQLite metadata DB, the night run
by Airflow's scheduler, alert e-mails through a real SMTP server on loopback; the session's
`demo_night` fixture, shared with the browser test), then inspects the warehouse, the e-mails,
the task logs and every log for what the issue promises.
"""

from __future__ import annotations

import json
import re
import sqlite3
from email import message_from_bytes, policy

import pandas as pd
import pytest
import sqlalchemy as sa
from caseworker_scan import caseworker_leaks, model_caseworker_keys
from cpr_scan import find_case_numbers_in_frame, find_cpr_in_frame, source_case_numbers
from cpr_scan import find_cpr_like as cpr_like

from etl.core.settings import REPO_ROOT, Settings
from etl.kpi import CATALOG
from etl.publish.warehouse import make_engine
from etl.sources import SOURCES
from etl.tasks import quality as dq_tasks

pytestmark = pytest.mark.integration
EXTRACTION_DATE = "2025-11-15"
IMPLEMENTED = ("T1.01", "T2.01", "T2.06", "T3.02", "T5.01")


@pytest.fixture(scope="module")
def demo(demo_night):
    engine = make_engine(f"sqlite:///{demo_night['dir']}/warehouse/warehouse.db")
    yield {**demo_night, "engine": engine}
    engine.dispose()


def query(demo, sql: str) -> pd.DataFrame:
    with demo["engine"].connect() as conn:
        return pd.read_sql(sa.text(sql), conn)


def test_the_demo_runs_every_dag_and_publishes(demo):
    result = demo["result"]
    assert result.returncode == 0, demo["output"][-5000:]
    out = result.stdout
    for dag_id in [f"extract_{s}" for s in SOURCES] + ["build_model", "publish_kpis"]:
        assert f"ok   {dag_id}" in out, out
    assert "RED  data_quality" in out  # the planted defects breach error rules, loudly
    assert "!! DATA QUALITY" in out and "Everything was published" in out


def test_the_demo_is_quiet_and_speaks_danish(demo):
    """Issue 24: under 150 lines by default (Airflow's own logging is in <data>/airflow), a
    progress line per DAG, headline KPIs with Danish measure labels, breaches first and the
    passes counted."""
    lines = demo["output"].splitlines()
    assert len(lines) < 150, "\n".join(lines)
    out = demo["result"].stdout
    for dag_id in [f"extract_{s}" for s in SOURCES] + ["build_model", "publish_kpis", "data_quality"]:
        assert re.search(rf"^ +{dag_id} +(success|failed)", out, re.MULTILINE), dag_id  # the progress line
    assert "Nøgletal, " in out and "Pr. fuldtidsansat" in out
    assert not re.search(r"\b(per_fte|long_days|short_days)\b", out)
    dq = out[out.index("Datakvalitet: "):]
    assert re.search(r"^   [0-9.]+ bestået \(alle: --verbose", dq, re.MULTILINE)
    assert "!! BRUD  " in dq and "Traceback" not in demo["output"]


def test_every_demo_run_has_task_logs_and_starts_when_it_ran(demo):
    """Run by the scheduler: every task has the log file the UI reads, and the runs are dated the
    moment they ran (not 01:00 UTC of the extraction date), none of them still running."""
    logs = demo["dir"] / "airflow" / "logs"
    with sqlite3.connect(demo["dir"] / "airflow" / "airflow.db") as db:
        runs = db.execute("SELECT dag_id, run_id, state, start_date, end_date FROM dag_run").fetchall()
        tasks = db.execute("SELECT dag_id, run_id, task_id, try_number, state FROM task_instance").fetchall()
    assert {r[0] for r in runs} >= {f"extract_{s}" for s in SOURCES} | {"build_model", "publish_kpis", "data_quality",
                                                                          "close_quarter"}
    assert all(r[2] in ("success", "failed") for r in runs)
    now = pd.Timestamp.now(tz="UTC")
    for dag_id, run_id, start, end in ((r[0], r[1], r[3], r[4]) for r in runs):
        began, ended = (pd.Timestamp(t) if pd.Timestamp(t).tzinfo else pd.Timestamp(t, tz="UTC") for t in (start, end))
        assert now - pd.Timedelta(hours=3) < began < ended < now, (dag_id, run_id, start, end)  # when it ran
        assert ended - began < pd.Timedelta(hours=1), (dag_id, run_id, start, end)
    ran = [t for t in tasks if t[4] in ("success", "failed")]
    assert len(ran) > 60
    for dag_id, run_id, task_id, try_number, _state in ran:
        log = logs / f"dag_id={dag_id}" / f"run_id={run_id}" / f"task_id={task_id}" / f"attempt={try_number}.log"
        assert log.exists() and log.stat().st_size > 0, log
    gate = next(t for t in ran if t[0] == "data_quality" and t[2] == "gate")
    text = (logs / "dag_id=data_quality" / f"run_id={gate[1]}" / "task_id=gate" / "attempt=1.log").read_text()
    assert gate[4] == "failed" and "DATA QUALITY BREACH DQ01" in text and "gate fails" in text


def test_every_implemented_kpi_has_quarter_and_ytd_this_year_and_last(demo):
    totals = query(demo, "SELECT kpi_id, period_type, period, period_end, value FROM mart.kpi_value "
                         "WHERE org_level = 'sof' AND dimension IS NULL AND version = 0")
    for kpi in IMPLEMENTED:
        rows = totals[totals["kpi_id"] == kpi]
        for period in ("2025-Q3", "2024-Q3"):
            kinds = set(rows.loc[rows["period"] == period, "period_type"])
            assert "quarter" in kinds, (kpi, period)
        assert rows["value"].notna().any(), kpi
    flows = totals[totals["kpi_id"].isin(["T2.01", "T3.02", "T5.01"]) & (totals["period"] == "2025-Q3")]
    assert set(flows["period_type"]) == {"quarter", "ytd"}
    stock_ytd = totals[totals["kpi_id"].isin(["T1.01", "T2.06"]) & (totals["period_type"] == "ytd")]
    assert stock_ytd.empty  # stocks have no year-to-date figure
    running = totals[(totals["period"] == "2025-Q4")]
    assert set(running["period_end"].astype(str).str[:10]) == {EXTRACTION_DATE}


def test_every_catalogue_kpi_has_rows_for_the_last_closed_quarter_this_year_and_last(demo):
    rows = query(demo, "SELECT DISTINCT kpi_id, period_type, period FROM mart.kpi_value "
                       "WHERE org_level = 'sof' AND dimension IS NULL AND version = 0")
    have = set(zip(rows["kpi_id"], rows["period_type"], rows["period"]))
    for kpi_id, definition in CATALOG.items():
        kinds = ("quarter",) if definition.kpi_type == "stock" else ("quarter", "ytd")
        for period in ("2025-Q3", "2024-Q3"):
            for kind in kinds:
                assert (kpi_id, kind, period) in have, (kpi_id, kind, period)


def test_tiles_show_last_year_beside_this_year(demo):
    tiles = query(demo, "SELECT * FROM mart.kpi_tile WHERE org_level = 'sof' AND period = '2025-Q3' "
                        "AND period_type = 'quarter' AND measure = 'count' AND kpi_id = 'T2.01' AND version = 0")
    assert len(tiles) == 1 and tiles["last_year_value"].notna().all()
    last_year = query(demo, "SELECT value FROM mart.kpi_value WHERE kpi_id = 'T2.01' AND org_level = 'sof' AND "
                            "dimension IS NULL AND period = '2024-Q3' AND period_type = 'quarter' AND measure = 'count' "
                            "AND period_end = '2024-09-30' AND version = 0")
    assert tiles["last_year_value"].iloc[0] == last_year["value"].iloc[0]


def test_the_demo_closes_the_last_complete_quarter_and_writes_its_report(demo):
    assert "ok   close_quarter" in demo["result"].stdout
    frozen = query(demo, "SELECT quarter, version, is_current FROM mart.kpi_version")
    assert frozen.values.tolist() == [["2025-Q3", 1, 1]]
    report = demo["dir"] / "reports" / "2025-Q3" / "v1"
    assert str(report / "rapport.pdf") in demo["result"].stdout
    assert (report / "rapport.pdf").read_bytes()[:5] == b"%PDF-" and (report / "rapport.html").exists()


def test_catalog_and_public_output(demo):
    catalog = query(demo, "SELECT * FROM mart.kpi_catalog")
    assert set(catalog["kpi_id"]) == set(CATALOG) and set(IMPLEMENTED) <= set(catalog.loc[catalog["implemented"] == 1, "kpi_id"])
    public = query(demo, "SELECT * FROM public.kpi_value")
    assert len(public) and "caseworker" not in set(public["org_level"])
    counts = public[(public["unit"] == "count") & public["denominator"].isna()]["value"].dropna()
    assert not counts.between(1, 4).any()


def test_dq01_to_dq04_breach_on_the_planted_defects(demo):
    results = query(demo, "SELECT rule_id, source, failing, population, status FROM mart.dq_result "
                          "WHERE dimension IS NULL")
    for rule in ("DQ01", "DQ02", "DQ03", "DQ04"):
        assert (results.loc[results["rule_id"] == rule, "status"] == "breach").any(), rule
    failures = query(demo, "SELECT rule_id, COUNT(*) AS n FROM mart.dq_failure GROUP BY rule_id")
    totals = results.groupby("rule_id")["failing"].sum()
    for rule, n in zip(failures["rule_id"], failures["n"]):
        assert n >= totals[rule], rule  # every failing row has its id (DQ08 may list a row per code)
    breakdown = query(demo, "SELECT DISTINCT dimension FROM mart.dq_result WHERE rule_id = 'DQ01' AND dimension IS NOT NULL")
    assert set(breakdown["dimension"]) == {"decision_month", "case_type", "unit"}  # unit: every rule with unit codes


def test_alert_emails_reached_the_smtp_server_one_per_owner(demo):
    mails = [message_from_bytes(p.read_bytes(), policy=policy.default) for p in sorted((demo["dir"] / "mail").glob("*.eml"))]
    dq_mails = [m for m in mails if "datakvalitetsregl" in m["Subject"]]
    assert dq_mails, [m["Subject"] for m in mails]
    recipients = [m["To"] for m in dq_mails]
    assert len(recipients) == len(set(recipients))  # one e-mail per owner
    bodies = {m["To"]: m.get_body(("plain",)).get_content() for m in dq_mails}
    assert any("DQ01" in body for body in bodies.values())
    for message in dq_mails:
        assert message.get_body(("html",)) is not None
        assert message["Auto-Submitted"] == "auto-generated" and message["Message-ID"]
        (attachment,) = list(message.iter_attachments())  # the failing records, the sources' own ids
        header, *rows = attachment.get_content().lstrip("\ufeff").splitlines()
        assert header == "regel;kilde;kildetabel;record_id;sagsnummer;enhed;sagsbehandler_id;begrundelse"
        assert rows, message["To"]


def test_no_cpr_anywhere_outside_the_restricted_zone(demo):
    leaks = {}
    for schema in ("mart", "public", "restricted"):
        tables = query(demo, f"SELECT name FROM {schema}.sqlite_master WHERE type IN ('table', 'view')")["name"]
        for table in tables:
            if found := find_cpr_in_frame(query(demo, f"SELECT * FROM {schema}.{table}")):
                leaks[f"{schema}.{table}"] = found[:3]
    for mail in (demo["dir"] / "mail").glob("*.eml"):
        if found := cpr_like(mail.read_text(errors="replace")):
            leaks[mail.name] = found[:3]
    for log in (demo["dir"] / "airflow").rglob("*.log"):
        if found := cpr_like(log.read_text(errors="replace")):
            leaks[str(log)] = found[:3]
    if found := cpr_like(demo["output"]):
        leaks["task output"] = found[:3]
    for parquet in (demo["dir"] / "model").glob("*.parquet"):
        if found := find_cpr_in_frame(pd.read_parquet(parquet)):
            leaks[parquet.name] = found[:3]
    assert leaks == {}


def test_the_privacy_scan_reaches_theme6_and_no_case_number_reaches_public(demo):
    """Theme 6 (issue 23): the CPR scan above covers restricted.case_cost (the caseworker drill-down,
    never in mart or public) and every theme 6 row of public.kpi_value, which are there to be scanned; no
    case number or measure reference of the generated sources (boern Sagsnummer, voksen
    sag_id, klage sagsreference, oekonomi foranstaltning_ref, raw and trimmed) stands in any
    text cell of any public table, and no public column is named like an identifier."""
    public = set(query(demo, "SELECT name FROM public.sqlite_master WHERE type IN ('table', 'view')")["name"])
    assert "case_cost" not in public
    case_cost = query(demo, "SELECT * FROM restricted.case_cost")
    assert len(case_cost) > 100 and find_cpr_in_frame(case_cost) == []
    theme6 = query(demo, "SELECT * FROM public.kpi_value WHERE kpi_id LIKE 'T6.%'")
    assert set(theme6["kpi_id"]) == {f"T6.0{n}" for n in range(1, 8)} and find_cpr_in_frame(theme6) == []
    assert (theme6["org_level"] != "caseworker").all()  # T6.06's caseworker rows are restricted only
    case_numbers = source_case_numbers(demo["dir"] / "sources")
    kinds = {"Sagsnummer": r"BS-\d{4}-\d{6}", "prefixed reference": r"[A-Za-z]+-0*\d+", "sag_id": r"1\d{5}"}
    for kind, shape in kinds.items():  # every kind of identifier is searched for, not an empty set
        assert any(re.fullmatch(shape, n.strip()) for n in case_numbers), kind
    leaks = {}
    for table in sorted(public):
        if found := find_case_numbers_in_frame(query(demo, f"SELECT * FROM public.{table}"), case_numbers):
            leaks[table] = found[:3]
    assert leaks == {}
    # the scan finds what it looks for: a case number planted in a copy of a public table's text
    sample = sorted(n for n in case_numbers if n.startswith("BS-"))[0]
    planted = theme6.head(3).assign(dimension_value=["Ukendt", f"sag {sample}", None])
    assert find_case_numbers_in_frame(planted, case_numbers) == [f"dimension_value: {sample}"]
    assert find_case_numbers_in_frame(case_cost.head(1), case_numbers)[:2] == ["column case_key", "column citizen_key"]


def test_no_caseworker_row_or_pseudonym_outside_the_restricted_schema(demo):
    """Issue 21: after the demo's publication (nightly and a frozen version) neither `mart` nor
    `public` holds a caseworker row or any caseworker pseudonym of the model in any text cell of
    any table or view; `restricted` holds them, every version of them."""
    keys = model_caseworker_keys(demo["dir"] / "model")
    assert len(keys) > 20
    for schema in ("mart", "public"):
        assert caseworker_leaks(demo["engine"], schema, keys) == {}, schema
    restricted = caseworker_leaks(demo["engine"], "restricted", keys)  # the scan finds them where they are
    assert set(restricted) == {"restricted.kpi_value_caseworker", "restricted.dim_caseworker", "restricted.case_cost"}
    versions = query(demo, "SELECT DISTINCT version FROM restricted.kpi_value_caseworker")["version"]
    assert set(versions) == set(query(demo, "SELECT DISTINCT version FROM mart.kpi_value")["version"])
    assert set(versions) > {0}  # the demo froze a quarter: its caseworker rows were frozen in restricted


def test_rows_are_conserved_from_landing_to_staged_and_quarantine(demo):
    for pointer in (demo["dir"] / "staged").glob("*/CURRENT.json"):
        for table, counts in json.loads(pointer.read_text())["tables"].items():
            assert counts["rows_in"] == counts["rows_staged"] + counts["rows_quarantined"], table
    landed = sum(json.loads(p.read_text())["rows"] for p in (demo["dir"] / "landing").rglob("manifest.json"))
    staged_in = sum(t["rows_in"] for p in (demo["dir"] / "staged").glob("*/CURRENT.json")
                    for t in json.loads(p.read_text())["tables"].values())
    assert landed == staged_in > 0


def test_all_rules_publish_and_a_second_run_has_the_trend(demo):
    rules = query(demo, "SELECT rule_id FROM mart.dq_rule")["rule_id"]
    assert sorted(rules) == [f"DQ{i:02d}" for i in range(1, 23)]
    first = query(demo, "SELECT rule_id, source, failing, run_id FROM mart.dq_result WHERE dimension IS NULL")
    assert sorted(first["rule_id"].unique()) == [f"DQ{i:02d}" for i in range(1, 23)]
    conservation = first[first["rule_id"] == "DQ14"]
    # every row of the night accounted for, source by source (oekonomi has no model tables yet: checked to staging)
    assert sorted(conservation["source"]) == sorted(SOURCES) and (conservation["failing"] == 0).all()

    settings = Settings(demo["dir"], REPO_ROOT / "reference", "demo")
    dq_tasks.run_data_quality("second-run", settings)
    second = query(demo, "SELECT rule_id, source, failing, previous_failing FROM mart.dq_result "
                         "WHERE dimension IS NULL AND run_id = 'second-run'")
    trend = second.merge(first, on=["rule_id", "source"], suffixes=("", "_first"))
    assert len(trend) == len(first)
    assert (trend["previous_failing"] == trend["failing_first"]).all()
    runs = query(demo, "SELECT COUNT(DISTINCT run_id) AS n FROM mart.dq_result")["n"].iloc[0]
    assert runs == 2  # history is kept per run for the BI page's progression chart
