"""Nights run by the real scheduler, for `sofli demo` and `sofli run`.

The CLI is the night's clock: with the DAGs' own clocks off (`SOFLI_SCHEDULES=off`) it triggers
every extract DAG for the extraction date, then `build_model` as the cut-off would (build with
whatever published, unless a source's publish already built tonight's model), and follows the
chain the Assets start (`publish_kpis`, `data_quality`) to its end. Every run is the scheduler's:
task logs the UI shows, start and end times of the moment, the failure and deadline e-mails.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable, Iterable

from etl.ops.local_airflow import FINISHED, AirflowApi, parse_time, wait_for, wait_run
from etl.sources import SOURCES

#: Longest a single DAG run of a night may take before the CLI gives up waiting (seconds).
RUN_TIMEOUT = 4 * 3600


def extract_dag_ids() -> list[str]:
    return [f"extract_{name}" for name in SOURCES]


def nightly_dag_ids() -> list[str]:
    """The DAGs of one night, in dependency order (the Assets encode the same order)."""
    return extract_dag_ids() + ["build_model", "publish_kpis", "data_quality"]


def run_state(api: AirflowApi, dag_id: str, run: dict) -> dict:
    """What the summary prints of one run: its state, its tasks' states, seconds, run id."""
    started, ended = parse_time(run.get("start_date")), parse_time(run.get("end_date"))
    seconds = round((ended - started).total_seconds(), 1) if started and ended else 0.0
    return {"state": run["state"], "tasks": api.task_states(dag_id, run["dag_run_id"]), "seconds": seconds,
            "run_id": run["dag_run_id"]}


def _first_after(api: AirflowApi, dag_id: str, moment: dt.datetime, timeout: float) -> dict:
    """The first run of `dag_id` due at or after `moment`, once finished."""
    def check():
        runs = [r for r in api.runs(dag_id) if parse_time(r["run_after"]) >= moment]
        return runs[0] if runs and runs[0]["state"] in FINISHED else None
    return wait_for(f"a {dag_id} run after {moment:%H:%M:%S}", check, timeout, interval=2)


def _idle(api: AirflowApi, dag_id: str) -> bool:
    return not [r for r in api.runs(dag_id) if r["state"] not in FINISHED]


def run_night(api: AirflowApi, extraction_date: dt.date, full_extract: bool = False,
              progress: Callable[[str], None] = print) -> dict[str, dict]:
    """One night for `extraction_date`: every extract DAG, the model, KPIs and data quality."""
    started = dt.datetime.now(dt.UTC)
    conf = {"extract_date": extraction_date.isoformat()}
    extracts = {dag_id: api.trigger(dag_id, {**conf, "full_extract": full_extract}, note="sofli run")
                for dag_id in extract_dag_ids()}
    states = {}
    for dag_id, run in extracts.items():
        states[dag_id] = run_state(api, dag_id, wait_run(api, dag_id, run["dag_run_id"], RUN_TIMEOUT))
        progress(f"      {dag_id:<24} {states[dag_id]['state']}")
    # The cut-off, now: builds with whatever published, or skips when a source's publish has
    # already built tonight's model (the runs those publishes started are waited for too).
    cutoff = api.trigger("build_model", conf, note="sofli run: the cut-off")
    wait_run(api, "build_model", cutoff["dag_run_id"], RUN_TIMEOUT)
    wait_for("build_model runs to finish", lambda: _idle(api, "build_model"), RUN_TIMEOUT, interval=2)
    builds = [r for r in api.runs("build_model") if parse_time(r["run_after"]) >= started]
    built = [r for r in builds if api.task_states("build_model", r["dag_run_id"]).get("link_and_model") == "success"]
    builder = built[-1] if built else next(r for r in builds if r["dag_run_id"] == cutoff["dag_run_id"])
    states["build_model"] = run_state(api, "build_model", builder)
    progress(f"      {'build_model':<24} {builder['state']}" + ("" if built else " (no model built)"))
    if not built:
        return states
    kpis = _first_after(api, "publish_kpis", parse_time(builder["start_date"]), RUN_TIMEOUT)
    states["publish_kpis"] = run_state(api, "publish_kpis", kpis)
    progress(f"      {'publish_kpis':<24} {kpis['state']}")
    if kpis["state"] != "success":
        return states
    quality = _first_after(api, "data_quality", parse_time(kpis["start_date"]), RUN_TIMEOUT)
    states["data_quality"] = run_state(api, "data_quality", quality)
    progress(f"      {'data_quality':<24} {quality['state']}"
             + (" (red: see the gate's log)" if states["data_quality"]["tasks"].get("gate") == "failed" else ""))
    return states


def run_nights(api: AirflowApi, dates: Iterable[dt.date], full_extract: bool = False,
               progress: Callable[[str], None] = print) -> dict[dt.date, dict[str, dict]]:
    """Nights in date order (a backfill replays them oldest first), the night DAGs unpaused only
    while they run, so a later `sofli airflow` on the folder starts nothing by itself."""
    api.unpause(nightly_dag_ids())
    try:
        nights = {}
        for date in sorted(dates):
            progress(f"    night of {date}:")
            began = time.monotonic()
            nights[date] = run_night(api, date, full_extract, progress)
            progress(f"    night of {date} done in {time.monotonic() - began:.0f} s")
        return nights
    finally:
        api.pause(nightly_dag_ids())


def run_once(api: AirflowApi, dag_id: str, conf: dict) -> dict:
    """A single manual run of `dag_id` (e.g. `close_quarter`), unpaused only while it runs."""
    api.unpause([dag_id])
    try:
        run = api.trigger(dag_id, conf, note="sofli")
        return run_state(api, dag_id, wait_run(api, dag_id, run["dag_run_id"], RUN_TIMEOUT))
    finally:
        api.pause([dag_id])
