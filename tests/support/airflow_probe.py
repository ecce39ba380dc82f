"""What the scheduler tests read from a running Airflow besides what `sofli` itself needs:
a task's log and XCom as the UI shows them, and restarting one component with another
environment (as an operator does after a configuration change)."""

from __future__ import annotations

import json

from etl.ops.local_airflow import AirflowApi, LocalAirflow, _stop_tree


def task_log(api: AirflowApi, dag_id: str, run_id: str, task_id: str, try_number: int = 1) -> str:
    """A task's log as the UI reads it (the structured events' text, one per line)."""
    data = api.get(api.run_path(dag_id, run_id) + f"/taskInstances/{task_id}/logs/{try_number}?full_content=true")
    content = data.get("content") or []
    if isinstance(content, str):
        return content
    lines = []
    for line in content:
        if not isinstance(line, dict):
            lines.append(str(line))
            continue
        lines.append(str(line.get("event", "")))
        for error in line.get("error_detail") or []:  # a task's exception, as the UI unfolds it
            lines.append(f"{error.get('exc_type', '')}: {error.get('exc_value', '')}")
    return "\n".join(lines)


def xcom(api: AirflowApi, dag_id: str, run_id: str, task_id: str, key: str = "return_value"):
    """What a task returned (its XCom), as JSON."""
    value = api.get(api.run_path(dag_id, run_id) + f"/taskInstances/{task_id}/xcomEntries/{key}")["value"]
    return json.loads(value) if isinstance(value, str) else value


def restart(airflow: LocalAirflow, component: str, env: dict[str, str] | None = None) -> None:
    """Stop one component (its whole process tree) and start it again with `env` on top:
    e.g. the dag-processor with another clock, as an operator restarts it after a config change."""
    process = airflow.processes.pop(component)
    _stop_tree([process])
    airflow.start(component, env=env)
