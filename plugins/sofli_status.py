"""The data-quality page in the Airflow 3 UI: a FastAPI app in the api-server plus a nav link.

Thin on purpose: the page is `etl.ops.status_page` (testable without Airflow), reading the
warehouse the pipeline writes (`Settings.resolve().warehouse_url()`, so
`SOFLI_WAREHOUSE_URL` or the `sofli_warehouse` connection). Served at `/sofli-dq/` for
logged-in users only (the UI's session cookie, or a bearer token), and shown inside the
UI under Browse → "Data quality" (`/plugin/sofli-dq`). Filters are query parameters
(`?status=breach&owner=dq-boern@…&source=boern`, what the owners' e-mail links); owners per
rule × source come from the data-quality configuration in force (`SOFLI_DQ_RULES`).
`/sofli-dq/failures?run_id=…&rule=…&source=…` lists a row's failing records, for users
allowed to read the `data_quality` DAG (Airflow's own DAG permission: who may read its task
logs may read its failing records).
"""

from __future__ import annotations

import asyncio

from airflow.api_fastapi.core_api.security import requires_access_dag, requires_authenticated
from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI, Query
from fastapi.responses import HTMLResponse

from etl.core.settings import Settings

URL_PREFIX = "/sofli-dq"


def _page(status: str | None, owner: str | None, source: str | None) -> str:
    """The page for this request, on the warehouse the settings name now (connection changes apply)."""
    from etl.ops.status_page import status_page  # noqa: PLC0415 - pandas: only the api-server, on a request
    from etl.quality.config import DqConfigError, load_rules_config  # noqa: PLC0415 - as above

    settings = Settings.resolve()
    try:
        rules = load_rules_config(settings.dq_rules_path)
    except DqConfigError:  # the page still shows; owners then from mart.dq_rule
        rules = {}

    def owners_of(rule_id: str, source_name: str) -> tuple[str, ...]:
        return rules[rule_id].owners_for(source_name) if rule_id in rules else ()

    return status_page(settings.warehouse_url(), status_filter=status, owner=owner, source=source,
                       owners_of=owners_of if rules else None)


def _failures(run_id: str, rule: str, source: str) -> str:
    from etl.ops.status_page import failures_page  # noqa: PLC0415 - pandas: only the api-server, on a request

    return failures_page(Settings.resolve().warehouse_url(), run_id, rule, source)


def _create_app() -> FastAPI:
    app = FastAPI(title="sofli data quality", description="Data-quality status, trend and source freshness")

    @app.get("/", response_class=HTMLResponse, dependencies=[Depends(requires_authenticated())])
    async def data_quality_page(status: str | None = None, owner: str | None = None,
                                source: str | None = None) -> HTMLResponse:
        return HTMLResponse(await asyncio.to_thread(_page, status, owner, source))  # SQLAlchemy is blocking

    @app.get("/failures", response_class=HTMLResponse,
             dependencies=[Depends(requires_access_dag("GET", param_dag_id="data_quality"))])
    async def failing_records(run_id: str = Query(...), rule: str = Query(...),
                              source: str = Query(...)) -> HTMLResponse:
        return HTMLResponse(await asyncio.to_thread(_failures, run_id, rule, source))

    return app


class SofliStatusPlugin(AirflowPlugin):
    name = "sofli_status"
    fastapi_apps = [{"app": _create_app(), "url_prefix": URL_PREFIX, "name": "sofli data quality"}]
    external_views = [{"name": "Data quality", "href": "sofli-dq/", "destination": "nav", "category": "browse",
                       "url_route": "sofli-dq"}]
