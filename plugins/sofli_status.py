"""The data-quality page in the Airflow 3 UI: a FastAPI app in the api-server plus a nav link.

Thin on purpose: the page is `etl.ops.status_page` (testable without Airflow), reading the
warehouse the pipeline writes (`Settings.resolve().warehouse_url()`, so
`SOFLI_WAREHOUSE_URL` or the `sofli_warehouse` connection). Served at `/sofli-dq/` for
logged-in users only (the UI's session cookie, or a bearer token), and shown inside the
UI under Browse → "Data quality" (`/plugin/sofli-dq`).
"""

from __future__ import annotations

import asyncio

from airflow.api_fastapi.core_api.security import requires_authenticated
from airflow.plugins_manager import AirflowPlugin
from fastapi import Depends, FastAPI
from fastapi.responses import HTMLResponse

from etl.core.settings import Settings

URL_PREFIX = "/sofli-dq"


def _page() -> str:
    """The page for this request, on the warehouse the settings name now (connection changes apply)."""
    from etl.ops.status_page import status_page  # noqa: PLC0415 - pandas: only the api-server, on a request

    return status_page(Settings.resolve().warehouse_url())


def _create_app() -> FastAPI:
    app = FastAPI(title="sofli data quality", description="Data-quality status, trend and source freshness")

    @app.get("/", response_class=HTMLResponse, dependencies=[Depends(requires_authenticated())])
    async def data_quality_page() -> HTMLResponse:
        return HTMLResponse(await asyncio.to_thread(_page))  # SQLAlchemy is blocking

    return app


class SofliStatusPlugin(AirflowPlugin):
    name = "sofli_status"
    fastapi_apps = [{"app": _create_app(), "url_prefix": URL_PREFIX, "name": "sofli data quality"}]
    external_views = [{"name": "Data quality", "href": "sofli-dq/", "destination": "nav", "category": "browse",
                       "url_route": "sofli-dq"}]
