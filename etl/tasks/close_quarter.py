"""The `close_quarter` DAG's tasks: freeze a closed quarter as a numbered version, render its report."""

from __future__ import annotations

import datetime as dt

from etl.core.settings import Settings


def freeze(extract_date: dt.date, quarter: str | None, reason: str | None, force: bool, run_id: str,
           triggered_by: str, *, settings: Settings | None = None) -> dict:
    """Freeze the quarter that is due (or `quarter`) and return its quarter and version (or none)."""
    from etl.publish.freeze import close_quarter_task  # noqa: PLC0415 - pandas, SQLAlchemy (~1.4 s): not at DAG parse

    settings = settings if settings is not None else Settings.resolve()
    return close_quarter_task(extract_date, quarter, reason, force, run_id, triggered_by, settings)


def report(frozen: dict, *, settings: Settings | None = None) -> dict:
    """Render the committee report of what `freeze` froze; nothing when nothing was frozen."""
    from etl.report import render_report  # noqa: PLC0415 - the report renderer (~1.6 s): not at DAG parse

    if not frozen.get("quarter"):
        return {"rendered": False}
    settings = settings if settings is not None else Settings.resolve()
    return settings.zones.portable(render_report(frozen["quarter"], frozen["version"], settings=settings))
