"""`sofli`: the command line.

    sofli demo       generate the synthetic fagsystemer and run every DAG, in dependency
                     order, as real Airflow DAG runs into the SQLite warehouse
    sofli generate   only write the synthetic fagsystemer
    sofli airflow    start Airflow (standalone: UI on http://localhost:8080) on these DAGs
    sofli warehouse-init   as an administrator: the PostgreSQL warehouse's database,
                     schemas, roles, logins and tables (etl/ops/warehouse_admin.py)
    sofli rekey      rotate the pseudonymisation key (docs/security.md): old key as the
                     pipeline resolves it, new key from SOFLI_NEW_PSEUDONYM_KEY
    sofli report     render the committee report (HTML and PDF) of a frozen quarter:
                     --quarter 2025-Q3 [--version N] [--out DIR]

Airflow reads its configuration when first imported, so this module sets the
environment first and imports Airflow only inside the commands (nothing it imports at
the top imports Airflow; `tests/cli` checks it).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pendulum

from etl.cli.summary import print_summary
from etl.core.periods import last_closed_quarter
from etl.core.settings import REPO_ROOT, Settings
from etl.ops import warehouse_admin
from etl.ops.mailsink import MailSink
from etl.ops.rekey import rekey_from_env
from etl.report import ReportError, render_report
from etl.sources import SOURCES
from etl.synth import generate


#: The DAGs of one night, in dependency order (the Assets encode the same order).
def nightly_dag_ids() -> list[str]:
    return [f"extract_{name}" for name in SOURCES] + ["build_model", "publish_kpis", "data_quality"]


def configure_environment(data_dir: Path, mode: str = "demo", smtp_port: int | None = None) -> dict[str, str]:
    """Environment for the embedded default: everything under one data folder."""
    env = {
        "SOFLI_DATA_DIR": str(data_dir),
        "SOFLI_MODE": mode,
        "AIRFLOW_HOME": str(data_dir / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Europe/Copenhagen",
        "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
    }
    if smtp_port:
        env["AIRFLOW_CONN_SMTP_DEFAULT"] = json.dumps({
            "conn_type": "smtp", "host": "127.0.0.1", "port": smtp_port,
            "extra": {"disable_ssl": True, "disable_tls": True, "from_email": "sofli@sofli.example"}})
    os.environ.update(env)
    (data_dir / "airflow").mkdir(parents=True, exist_ok=True)
    return env


def migrate_airflow_db() -> None:
    """Create/upgrade Airflow's SQLite metadata DB under AIRFLOW_HOME (idempotent)."""
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    subprocess.run([os.path.join(bin_dir, "airflow"), "db", "migrate"], check=True, env=env,
                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def run_dags(dag_ids: list[str], extraction_date: dt.date, run_conf: dict | None = None) -> dict[str, dict]:
    """Run each DAG once as a real Airflow DAG run (`dag.test`), in order; return states."""
    from airflow.dag_processing.dagbag import DagBag  # noqa: PLC0415 - Airflow reads its config on import: env first

    bag = DagBag(dag_folder=str(REPO_ROOT / "dags"))
    if bag.import_errors:
        raise SystemExit("DAG import errors:\n" + "\n".join(f"{k}: {v}" for k, v in bag.import_errors.items()))
    logical = pendulum.datetime(extraction_date.year, extraction_date.month, extraction_date.day, 2, tz="Europe/Copenhagen")
    states: dict[str, dict] = {}
    for dag_id in dag_ids:
        dag = bag.dags[dag_id]
        started = time.monotonic()
        conf = dict(run_conf or {})
        if "extract_date" in dag.params:
            conf.setdefault("extract_date", extraction_date.isoformat())
        # Airflow 3.3.2's dag.test() cannot finish a run of a DAG with a deadline alert (DagRun.update_state
        # looks the alerts up by the ids only the dag-processor assigns: AttributeError 'dict' ... 'hex').
        # One run here is never late: run without them; scheduled runs keep them (tests/browser/).
        dag.deadline = None
        run = dag.test(logical_date=logical, run_conf=conf)
        tasks = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
        states[dag_id] = {"state": str(run.state), "tasks": tasks, "seconds": round(time.monotonic() - started, 1)}
    return states


def cmd_generate(args: argparse.Namespace) -> int:
    report = generate(Path(args.data_dir) / "sources", profile=args.profile, seed=args.seed,
                      extraction_date=args.date)
    rows = sum(sum(t.values()) if isinstance(t, dict) else t for t in report["rows"].values())
    print(f"wrote {args.profile} sources ({rows:,} rows) to {Path(args.data_dir) / 'sources'}")
    return 0


def cmd_demo(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir).resolve()
    started = time.monotonic()
    with MailSink(data_dir / "mail") as sink:
        configure_environment(data_dir, "demo", sink.port)
        print(f"[1/3] generating the '{args.profile}' fagsystemer for {args.date} ...", flush=True)
        cmd_generate(args)
        print("[2/3] preparing Airflow's metadata DB ...", flush=True)
        migrate_airflow_db()
        print("[3/3] running the nightly DAGs as Airflow DAG runs ...", flush=True)
        states = run_dags(nightly_dag_ids(), args.date, {"fail_on_breach": True})
        quarter = last_closed_quarter(args.date)
        print(f"[+] closing {quarter} and rendering its report (DAG close_quarter) ...", flush=True)
        states.update(run_dags(["close_quarter"], args.date,
                               {"quarter": quarter, "reason": "Demo: kvartalsafslutning"}))
    code = print_summary(data_dir, states, strict=args.strict, seconds=time.monotonic() - started)
    reports = sorted((data_dir / "reports" / quarter).glob("v*/rapport.pdf"), key=lambda p: int(p.parent.name[1:]))
    if reports:
        print(f"\nCommittee report of {quarter} (frozen version {reports[-1].parent.name[1:]}):\n"
              f"  {reports[-1]}\n  {reports[-1].with_suffix('.html')}")
    else:
        print(f"\nNo committee report of {quarter} was written: see the close_quarter run above.")
    return code


def cmd_airflow(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir).resolve()
    configure_environment(data_dir, os.environ.get("SOFLI_MODE", "demo"))
    bin_dir = str(Path(sys.executable).parent)
    os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    print(f"Airflow on http://localhost:8080 (AIRFLOW_HOME={data_dir / 'airflow'}); the admin password is in "
          f"{data_dir / 'airflow' / 'simple_auth_manager_passwords.json.generated'}; the data-quality page is "
          "Browse -> Data quality (http://localhost:8080/plugin/sofli-dq)", flush=True)
    os.execv(os.path.join(bin_dir, "airflow"), ["airflow", "standalone"])
    return 0  # not reached


def cmd_rekey(args: argparse.Namespace) -> int:
    report = rekey_from_env(Path(args.data_dir), dry_run=args.dry_run)
    print(("re-key dry run: " if args.dry_run else "re-keyed: ") + json.dumps(report, sort_keys=True))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir).resolve()
    settings = Settings(data_dir, Settings.from_env().reference_dir, os.environ.get("SOFLI_MODE", "demo"))
    try:
        result = render_report(args.quarter, args.version, args.out, settings=settings)
    except ReportError as exc:
        print(f"sofli report: {exc}", file=sys.stderr)
        return 2
    print(f"report {result['quarter']} version {result['version']}: {result['html']} and {result['pdf']}")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sofli", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=os.environ.get("SOFLI_DATA_DIR", str(REPO_ROOT / "data")),
                        help="where sources, landing, model, warehouse and mail go (default: ./data)")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, helptext in (("demo", "generate sources and run the whole chain"), ("generate", "write synthetic sources")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--profile", default="demo", choices=["demo", "copenhagen", "national"])
        p.add_argument("--seed", type=int, default=42)
        p.add_argument("--date", type=dt.date.fromisoformat, default=dt.date.today(),
                       help="extraction date (default: today)")
        if name == "demo":
            p.add_argument("--strict", action="store_true",
                           help="exit non-zero when a data-quality error rule breaches (the scheduled DAGs' behaviour)")
    sub.add_parser("airflow", help="start Airflow standalone on these DAGs (UI on :8080)")
    report = sub.add_parser("report", help="render the committee report of a frozen quarter (HTML and PDF)")
    report.add_argument("--quarter", required=True, help="e.g. 2025-Q3")
    report.add_argument("--version", type=int, default=None, help="a frozen version (default: the quarter's current one)")
    report.add_argument("--out", default=None, help="folder (default: <data>/reports/<quarter>/v<N>)")
    rekey = sub.add_parser("rekey", help="rotate the pseudonymisation key, keeping longitudinal links")
    rekey.add_argument("--dry-run", action="store_true", help="check and count only; change nothing")
    warehouse_admin.add_arguments(sub.add_parser(
        "warehouse-init", help="set up the PostgreSQL warehouse: schemas, roles, logins, tables (idempotent)"))
    args = parser.parse_args(argv)
    handler = {"demo": cmd_demo, "generate": cmd_generate, "airflow": cmd_airflow, "rekey": cmd_rekey,
               "warehouse-init": warehouse_admin.run, "report": cmd_report}[args.command]
    return handler(args)


if __name__ == "__main__":
    sys.exit(main())
