"""
### build_model: the cross-system citizen model, once a night

Runs **as soon as every source has published tonight**, or **at the cut-off** (05:00
Europe/Copenhagen, `SOFLI_NIGHT_CUTOFF`) with whatever sources succeeded. Every extract's
`publish` starts a run; its first task **check_sources** compares each source's current extract
with tonight's date: while a source has not published tonight the run is *skipped* (log:
"waiting for tonight's sources: …; the cut-off run builds"); the run started by the last source
builds. The cut-off run builds with the sources that succeeded: a failed source keeps its last
good extract, DQ10 flags it stale (e-mail to operations and its owner) and the KPIs built on it
carry the stale flag. A run finding the model already built from exactly the current extracts
skips (a complete night leaves nothing for the cut-off); a source that recovers later, even the
same day, starts a rebuild by itself.

**link_and_model** reads each source's current staged extract, normalises CPR numbers,
links persons across systems, replaces CPR by the keyed HMAC pseudonym (key from the
Airflow connection `sofli_pseudonym_key`), and writes the pseudonymous model to
`model/` (facts and dimensions, no CPR, and in `model.json` which extract of each source it
was built from). Updates the model Asset, which schedules `publish_kpis` and `data_quality`.

Trigger by hand to build now (`extract_date` for another night; a date before the live model's
is a backfill into `model/backfill/<date>/`); `force` rebuilds even when nothing changed.

**When it fails**: a missing pseudonymisation key stops the run before anything is
written (set the connection); anything else names the table. Runbook: `docs/operations.md`,
"A night with a failed source".
"""

from __future__ import annotations

from airflow.sdk import Param, dag, get_current_context, task

from etl.tasks import model as model_tasks
from etl.tasks.orchestration import MODEL_ASSET, dag_settings, model_schedule, plan_model_run


@dag(
    dag_id="build_model",
    description="Link persons across fagsystemer and build the pseudonymous citizen model",
    doc_md=__doc__,
    schedule=model_schedule(),
    **dag_settings("team-data", night_stage="build_model"),
    tags=["sofli", "model"],
    params={"extract_date": Param(None, type=["null", "string"], format="date",
                                  description="Model as of this extraction date; default: tonight's"),
            "force": Param(False, type="boolean",
                           description="Rebuild even when the model is already built from the current extracts")},
)
def build_model():
    @task
    def check_sources() -> dict:
        return plan_model_run(get_current_context())

    @task(outlets=[MODEL_ASSET])
    def link_and_model(plan: dict) -> dict:
        return model_tasks.build_planned(plan)

    link_and_model(check_sources())


build_model()
