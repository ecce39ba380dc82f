"""`sofli`: the command line.

    sofli demo       generate the synthetic fagsystemer and run one night under Airflow's
                     scheduler (every DAG a real run, with task logs) into the SQLite warehouse
    sofli generate   only write the synthetic fagsystemer
    sofli run        one night (or --from/--to a range) on the configured sources, through
                     Airflow's scheduler; --check validates the configuration, writes nothing
    sofli airflow    start Airflow (standalone: UI on http://localhost:8080, --port) on these DAGs
    sofli warehouse-init   as an administrator: the PostgreSQL warehouse's database,
                     schemas, roles, logins and tables (etl/ops/warehouse_admin.py)
    sofli rekey      rotate the pseudonymisation key (docs/security.md): old key as the
                     pipeline resolves it, new key from SOFLI_NEW_PSEUDONYM_KEY
    sofli report     render the committee report (HTML and PDF) of a frozen quarter:
                     --quarter 2025-Q3 [--version N] [--out DIR]
    sofli check-reference [DIR]   check a reference folder against its contract (files,
                     columns, keys, dates, areas, roles); prints file:line, problem and fix

Airflow reads its configuration when first imported, so this module sets the
environment first and imports Airflow only inside the commands. It is, with the settings
owner (`etl.core.settings`), the only code that touches the environment: it sets up
Airflow's, and names the mode. A run is in **production** mode unless it is the demo's:
`sofli demo` marks its data folder (`.sofli-demo.json`) and runs in demo mode, and
`sofli run`, `airflow`, `report` and `rekey` run in demo mode on a folder so marked, in
production mode on any other.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from etl.cli.night import nightly_dag_ids, run_nights, run_once
from etl.cli.summary import print_summary
from etl.core.periods import last_closed_quarter, local_now, local_today
from etl.core.privacy import install_log_guard
from etl.core.reference import check_reference
from etl.core.settings import REPO_ROOT, ConfigurationError, Settings, resolve_new_pseudonym_key
from etl.core.zones import DataFolder
from etl.ops import warehouse_admin
from etl.ops.check import check_configuration, format_findings
from etl.ops.local_airflow import LocalAirflow, airflow_environment, migrate_metadata_db, smtp_connection
from etl.ops.mailsink import MailSink
from etl.ops.rekey import rekey_command
from etl.report import ReportError, render_report
from etl.synth import generate


def folder_mode(data_dir: Path) -> str:
    """`demo` for a folder `sofli demo` created, `production` for any other."""
    return "demo" if DataFolder(data_dir).is_demo() else "production"


def configure_environment(data_dir: Path, mode: str, smtp_port: int | None = None) -> dict[str, str]:
    """Environment for the embedded Airflow in this process: everything under one data folder,
    every path Airflow knows set here (not read from `airflow.cfg`), so the folder can move."""
    env = {k: v for k, v in airflow_environment(data_dir, smtp_port=smtp_port, mode=mode).items()
           if not k.startswith("AIRFLOW__API") and "EXECUTION_API" not in k}
    os.environ.update(env)
    DataFolder(data_dir).airflow_home.mkdir(parents=True, exist_ok=True)
    return env


def cmd_generate(args: argparse.Namespace) -> int:
    sources = DataFolder(Path(args.data_dir)).sources
    report = generate(sources, profile=args.profile, seed=args.seed, extraction_date=args.date)
    rows = sum(sum(t.values()) if isinstance(t, dict) else t for t in report["rows"].values())
    print(f"wrote {args.profile} sources ({rows:,} rows) to {sources}")
    return 0


def mark_demo_folder(folder: DataFolder, args: argparse.Namespace) -> None:
    """Make `folder` the demo's, refusing a folder that holds anything else (production data
    must never be written over with synthetic sources and the demo key)."""
    if folder.is_demo():
        return
    if not folder.is_empty():
        raise ConfigurationError(
            f"{folder.root} is not empty and was not created by `sofli demo` (no {folder.demo_marker.name}): "
            "refusing to write the demo into it; choose an empty --data-dir or delete the folder")
    folder.mark_demo({"profile": args.profile, "seed": args.seed, "extraction_date": args.date.isoformat(),
                      "created_at": local_now().isoformat(timespec="seconds")})


def _airflow(data_dir: Path, env: dict[str, str], port: int | None = None):
    """Airflow's components on this data folder for the length of a command, the night DAGs parsed."""
    airflow = LocalAirflow(data_dir, {"SOFLI_SCHEDULES": "off", **env}, port=port).__enter__()
    try:
        print(f"    Airflow is up on {airflow.base} (logs: {airflow.home})", flush=True)
        airflow.wait_for_dags([*nightly_dag_ids(), "close_quarter"])
    except BaseException:
        airflow.stop()
        raise
    return airflow


def cmd_demo(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir).resolve()
    folder = DataFolder(data_dir)
    mark_demo_folder(folder, args)
    started = time.monotonic()
    quarter = last_closed_quarter(args.date)
    with MailSink(folder.mail) as sink:
        configure_environment(data_dir, "demo", sink.port)
        print(f"[1/3] generating the '{args.profile}' fagsystemer for {args.date} ...", flush=True)
        cmd_generate(args)
        print("[2/3] starting Airflow (api-server, scheduler, dag-processor, triggerer) on this folder ...", flush=True)

        airflow = _airflow(data_dir, {"SOFLI_MODE": "demo", "AIRFLOW_CONN_SMTP_DEFAULT": smtp_connection(sink.port)})
        try:
            print("[3/3] running the night's DAGs under Airflow's scheduler ...", flush=True)
            states = run_nights(airflow.api, [args.date])[args.date]
            print(f"[+] closing {quarter} and rendering its report (DAG close_quarter) ...", flush=True)
            states["close_quarter"] = run_once(airflow.api, "close_quarter",
                                               {"quarter": quarter, "reason": "Demo: kvartalsafslutning",
                                                "extract_date": args.date.isoformat()})
        finally:
            airflow.stop()
    code = print_summary(Settings.resolve(data_dir=data_dir, mode="demo"), states, strict=args.strict,
                         seconds=time.monotonic() - started, verbose=args.verbose)
    reports = [v / "rapport.pdf" for v in folder.report_versions(quarter) if (v / "rapport.pdf").exists()]
    if reports:
        print(f"\nCommittee report of {quarter} (frozen version {reports[-1].parent.name[1:]}):\n"
              f"  {reports[-1]}\n  {reports[-1].with_suffix('.html')}")
    else:
        print(f"\nNo committee report of {quarter} was written: see the close_quarter run above.")
    print(f"\nEvery run, its task logs and the red gate's reason: `sofli --data-dir {data_dir} airflow`, then "
          "http://localhost:8080/dags/data_quality")
    return code


def _today() -> dt.date:
    return local_today()


def _dates(args: argparse.Namespace) -> list[dt.date]:
    if args.date_from or args.date_to:
        first, last = args.date_from or args.date_to, args.date_to or args.date_from
        if last < first:
            raise SystemExit("sofli run: --to is before --from")
        return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]
    return [args.date]


def cmd_run(args: argparse.Namespace) -> int:
    """One night, or a range of nights, on the configured sources through Airflow's scheduler."""
    data_dir = Path(args.data_dir).resolve()
    mode = folder_mode(data_dir)
    configure_environment(data_dir, mode)
    dates = _dates(args)
    settings = Settings.resolve(data_dir=data_dir, mode=mode)
    mail_dir = Path(args.mail_dir).resolve() if args.mail_dir else None
    findings = check_configuration(settings, dates[-1], mail_dir)
    problems = [f for f in findings if not f.ok]
    if args.check:
        print(f"sofli run --check, night of {dates[-1]} (mode {mode}, data folder {data_dir}); nothing is written:")
        print(format_findings(findings))
        print(f"\n{len(problems)} problem(s): sofli run would refuse to start." if problems
              else "\nThe configuration is complete: sofli run would read the above.")
        return 2 if problems else 0
    if problems:
        print("sofli run: the configuration is not complete (sofli run --check lists everything):", file=sys.stderr)
        print(format_findings(problems), file=sys.stderr)
        return 2
    started = time.monotonic()
    with contextlib.ExitStack() as stack:
        env = {"SOFLI_MODE": mode}
        if mail_dir is not None:

            sink = stack.enter_context(MailSink(mail_dir))
            env["AIRFLOW_CONN_SMTP_DEFAULT"] = smtp_connection(sink.port)
        print(f"sofli run: {len(dates)} night(s), {dates[0]} to {dates[-1]}, on the configured sources", flush=True)
        airflow = _airflow(data_dir, env)
        stack.callback(airflow.stop)

        nights = run_nights(airflow.api, dates, full_extract=args.full_extract)
    codes = []
    for date, states in nights.items():
        codes.append(print_summary(settings, states, strict=args.strict, seconds=time.monotonic() - started,
                                   title=f"sofli run, night of {date}", mail_dir=mail_dir, verbose=args.verbose))
    return max(codes)


def cmd_airflow(args: argparse.Namespace) -> int:
    """Airflow standalone in the foreground on the data folder; a demo folder gets a mail sink."""
    data_dir = Path(args.data_dir).resolve()
    mode = folder_mode(data_dir)
    configure_environment(data_dir, mode)
    Settings.resolve(data_dir=data_dir, mode=mode)  # a bad setting stops here, not in the first task
    folder = DataFolder(data_dir)
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""),
           **airflow_environment(data_dir, port=args.port, host=args.host, mode=mode,
                                 metadata_url=os.environ.get("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")),
           "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p)}
    with contextlib.ExitStack() as stack:
        if mode == "demo" and "AIRFLOW_CONN_SMTP_DEFAULT" not in os.environ:
            sink = stack.enter_context(MailSink(folder.mail))
            env["AIRFLOW_CONN_SMTP_DEFAULT"] = smtp_connection(sink.port)
            mail = f"alert e-mails go to the demo's mail sink: {folder.mail}"
        else:
            mail = "alert e-mails go through the Airflow connection smtp_default"
        base = env["AIRFLOW__API__BASE_URL"]
        print(f"Airflow on {base} ({mode} mode, AIRFLOW_HOME={folder.airflow_home}); log in as admin with the "
              f"password in {folder.airflow_home / 'simple_auth_manager_passwords.json.generated'}; the data-quality page is "
              f"Browse -> Data quality ({base}/plugin/sofli-dq); {mail}. Times show in your browser's time zone "
              "(User -> Timezone). Ctrl-C stops it.", flush=True)
        migrate_metadata_db(env)  # idempotent; puts a SQLite metadata DB in WAL mode for the scheduler
        process = subprocess.Popen([os.path.join(bin_dir, "airflow"), "standalone"], env=env)
        try:
            return process.wait()
        except KeyboardInterrupt:
            process.send_signal(signal.SIGINT)
            return process.wait()


def cmd_rekey(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir).resolve()
    settings = Settings.resolve(data_dir=data_dir, mode=folder_mode(data_dir))
    report = rekey_command(settings, resolve_new_pseudonym_key(), dry_run=args.dry_run)
    print(("re-key dry run: " if args.dry_run else "re-keyed: ") + json.dumps(report, sort_keys=True))
    return 0


def cmd_report(args: argparse.Namespace) -> int:
    data_dir = Path(args.data_dir).resolve()
    settings = Settings.resolve(data_dir=data_dir, mode=folder_mode(data_dir))
    try:
        result = render_report(args.quarter, args.version, args.out, settings=settings)
    except ReportError as exc:
        print(f"sofli report: {exc}", file=sys.stderr)
        return 2
    print(f"report {result['quarter']} version {result['version']}: {result['html']} and {result['pdf']}")
    return 0


def cmd_check_reference(args: argparse.Namespace) -> int:
    """Every problem of a reference folder (file:line, what, the fix); exit 1 when there is any."""
    folder = Path(args.folder) if args.folder else Settings.from_env().reference_dir
    problems = check_reference(folder)
    for problem in problems:
        print(problem)
    if problems:
        print(f"sofli check-reference: {folder}: {len(problems)} problem(s); no stage will load it", file=sys.stderr)
        return 1
    print(f"{folder}: the reference data keeps its contract (every required role declared)")
    return 0


def main(argv: list[str] | None = None) -> int:
    install_log_guard()  # no CPR in anything the CLI logs, whatever a source held
    parser = argparse.ArgumentParser(prog="sofli", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data-dir", default=os.environ.get("SOFLI_DATA_DIR", str(REPO_ROOT / "data")),
                        help="where sources, landing, model, warehouse and mail go (default: ./data)")
    sub = parser.add_subparsers(dest="command", required=True)
    for name, helptext in (("demo", "generate sources and run the whole chain"), ("generate", "write synthetic sources")):
        p = sub.add_parser(name, help=helptext)
        p.add_argument("--profile", default="demo", choices=["demo", "copenhagen", "national"])
        p.add_argument("--seed", type=int, default=42)
        p.add_argument("--date", type=dt.date.fromisoformat, default=_today(),
                       help="extraction date (default: today)")
        if name == "demo":
            p.add_argument("--strict", action="store_true",
                           help="exit non-zero when a data-quality error rule breaches (the scheduled DAGs' behaviour)")
            p.add_argument("--verbose", action="store_true",
                           help="also print every data-quality result and the night's task logs (Airflow's own "
                                "logs are always in <data>/airflow)")
    run = sub.add_parser("run", help="one night (or --from/--to nights) on the configured sources, through "
                                     "Airflow's scheduler, without the generator")
    run.add_argument("--date", type=dt.date.fromisoformat, default=_today(),
                     help="the night's extraction date (default: today)")
    run.add_argument("--from", dest="date_from", type=dt.date.fromisoformat, default=None,
                     help="backfill: the first night of a range (oldest first)")
    run.add_argument("--to", dest="date_to", type=dt.date.fromisoformat, default=None,
                     help="backfill: the last night of a range")
    run.add_argument("--check", action="store_true",
                     help="check the configuration (sources, tables, columns, reference data, key, warehouse, "
                          "SMTP) and print what a night would read; write nothing")
    run.add_argument("--full-extract", action="store_true", help="read every table whole")
    run.add_argument("--mail-dir", default=None,
                     help="keep the alert e-mails in this folder (an SMTP server in this process) instead of "
                          "sending them through smtp_default")
    run.add_argument("--strict", action="store_true",
                     help="exit 3 when a data-quality error rule breaches (the scheduled DAGs' behaviour)")
    run.add_argument("--verbose", action="store_true",
                     help="also print every data-quality result and the nights' task logs")
    airflow = sub.add_parser("airflow", help="start Airflow standalone on these DAGs (UI on :8080)")
    airflow.add_argument("--port", type=int, default=8080, help="the UI's and API's port (default 8080)")
    airflow.add_argument("--host", default="127.0.0.1", help="the address to listen on (default: this machine only)")
    report = sub.add_parser("report", help="render the committee report of a frozen quarter (HTML and PDF)")
    report.add_argument("--quarter", required=True, help="e.g. 2025-Q3")
    report.add_argument("--version", type=int, default=None, help="a frozen version (default: the quarter's current one)")
    report.add_argument("--out", default=None, help="folder (default: <data>/reports/<quarter>/v<N>)")
    rekey = sub.add_parser("rekey", help="rotate the pseudonymisation key, keeping longitudinal links")
    rekey.add_argument("--dry-run", action="store_true", help="check and count only; change nothing")
    warehouse_admin.add_arguments(sub.add_parser(
        "warehouse-init", help="set up the PostgreSQL warehouse: schemas, roles, logins, tables (idempotent)"))
    check_ref = sub.add_parser("check-reference", help="check a reference folder against its contract (files, "
                                                       "columns, keys, dates, areas, roles); exit 1 on any problem")
    check_ref.add_argument("folder", nargs="?", default=None,
                           help="the reference folder (default: SOFLI_REFERENCE_DIR, else ./reference)")
    args = parser.parse_args(argv)
    handler = {"demo": cmd_demo, "generate": cmd_generate, "run": cmd_run, "airflow": cmd_airflow, "rekey": cmd_rekey,
               "warehouse-init": warehouse_admin.run, "report": cmd_report,
               "check-reference": cmd_check_reference}[args.command]
    try:
        return handler(args)
    except ConfigurationError as exc:  # a setting to fix, not a bug: the message says which and how
        print(f"sofli {args.command}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
