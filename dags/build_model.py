"""
### build_model: the cross-system citizen model

Scheduled on the source Assets: runs when every fagsystem has published a new good
extract (a source that failed tonight keeps its last good extract, flagged stale).
**link_and_model** reads each source's current staged extract, normalises CPR numbers,
links persons across systems, replaces CPR by the keyed HMAC pseudonym (key from the
Airflow connection `sofli_pseudonym_key`), and writes the pseudonymous model to
`model/` (facts and dimensions, no CPR). Updates the model Asset, which schedules
`publish_kpis` and `data_quality`.

**When it fails**: a missing pseudonymisation key stops the run before anything is
written (set the connection); anything else names the table. Runbook: `docs/operations.md`.
"""

from __future__ import annotations

from airflow.sdk import Param, dag, get_current_context, task

from etl.sources import SOURCES
from etl.tasks import model as model_tasks
from etl.tasks.orchestration import MODEL_ASSET, dag_settings, run_date, source_asset


@dag(
    dag_id="build_model",
    description="Link persons across fagsystemer and build the pseudonymous citizen model",
    doc_md=__doc__,
    schedule=[source_asset(name) for name in SOURCES],
    **dag_settings("team-data", night_stage="build_model"),
    tags=["sofli", "model"],
    params={"extract_date": Param(None, type=["null", "string"], format="date",
                                  description="Model as of this extraction date; default: the logical date")},
)
def build_model():
    @task(outlets=[MODEL_ASSET])
    def link_and_model() -> dict:
        return model_tasks.build_model(run_date(get_current_context()))

    link_and_model()


build_model()
