"""The `build_model` DAG's tasks: decide whether tonight's model is due, then link persons across
systems and write the pseudonymous model."""

from __future__ import annotations

import datetime as dt
import logging

from etl.core import zones
from etl.core.settings import Settings
from etl.sources import SOURCES

log = logging.getLogger(__name__)


def _settings(settings: Settings | None) -> Settings:
    """The task's settings: the ones handed in, else resolved here, once, for this task."""
    return settings if settings is not None else Settings.resolve()


class NotTonight(Exception):  # noqa: N818 - a decision, not an error
    """This run of `build_model` has nothing to build (the reason is the message)."""


def current_extracts(settings: Settings) -> dict[str, dict | None]:
    """Each source's current extract as `{extract_date, run_id}` (None: never extracted)."""
    return {name: ({"extract_date": p["extract_date"], "run_id": p["run_id"]} if p else None)
            for name, p in settings.zones.pointers(SOURCES).items()}


def live_model_built_from(settings: Settings) -> dict | None:
    """The live model's extraction date and the extracts it was built from (`model/model.json`)."""
    meta = zones.read_model_meta(settings.model_dir)
    if meta is None:
        return None
    return {"extraction_date": meta["extraction_date"], "sources": meta.get("built_from")}


def plan_model_build(kind: str, night: dt.date, settings: Settings | None = None, force: bool = False) -> dict:
    """Whether this `build_model` run builds the model of `night`, or why not (`NotTonight`).

    Decided on extraction dates alone (each source's current extract, and what the live model
    was built from), never on Airflow's event queue:

    - no model of `night` yet: a run started by a source (`kind == "sources"`) builds only when
      every source's current extract is of `night` or later (the night is complete), else it
      waits for the others or the cut-off; the cut-off (`cutoff`) and a manual run build with
      whatever succeeded: a source behind `night` keeps its last good extract, DQ10 flags it;
    - the model of `night` exists: any run rebuilds when a source it was built without (behind
      `night` then) has since published `night` — a late or recovered source is picked up by
      itself; otherwise there is nothing to add (a complete night leaves nothing for the
      cut-off; re-extracting a date the model already has needs `force`).
    """
    settings = _settings(settings)
    tonight = night.isoformat()
    current = current_extracts(settings)
    lag = {name: zones.days_behind(extract, night) for name, extract in current.items()}
    behind = sorted(name for name, days in lag.items() if days is None or days > 0)  # not published tonight
    stale = sorted(name for name, days in lag.items() if zones.is_stale(days, SOURCES[name].stale_after_days))
    built = live_model_built_from(settings)
    plan = {"extract_date": tonight, "kind": kind, "stale_sources": stale,
            "sources": {name: extract["extract_date"] if extract else None for name, extract in current.items()}}
    if force:
        return {**plan, "reason": "forced"}
    if built and built["extraction_date"] == tonight:
        had = built.get("sources") or {}
        arrived = sorted(name for name, extract in current.items() if extract and extract["extract_date"] >= tonight
                         and ((had.get(name) or {}).get("extract_date") or "") < tonight)
        if not arrived:
            raise NotTonight(f"the model of {night} already has every source that has published for {night}"
                             + (f" ({', '.join(behind)} still behind)" if behind else "")
                             + "; trigger with force to rebuild anyway")
        log.info("%s published for %s after the model was built: rebuilding", ", ".join(arrived), night)
        return {**plan, "reason": f"arrived late: {', '.join(arrived)}"}
    if kind == "sources" and behind:
        raise NotTonight(f"waiting for tonight's sources: {', '.join(behind)} not extracted for {night} yet; "
                         "the cut-off run builds with whatever succeeded")
    if behind:
        log.warning("building the model of %s without tonight's extract of %s: their last good extract is used "
                    "and DQ10 flags them stale", night, ", ".join(behind))
    return {**plan, "reason": "every source published" if not behind else f"{kind}: built without {', '.join(behind)}"}


def build_model(extract_date: dt.date, settings: Settings | None = None) -> dict:
    """Build the model as of `extract_date` (settings resolved here unless handed in)."""
    from etl.model.stage import run_model_stage  # noqa: PLC0415 - pandas and the build (~1.8 s): not at DAG parse
    settings = _settings(settings)
    result = run_model_stage(settings, extract_date)
    log.info("SUMMARY build_model: %d staged rows -> %d model rows in %d tables (%s) in %.1fs", result["rows_in"],
             sum(result["rows"].values()), len(result["rows"]), result["model_dir"], result["seconds"])
    return settings.zones.portable(result)


def build_planned(plan: dict, settings: Settings | None = None) -> dict:
    """Build the model `plan_model_build` decided on (the date travels through XCom as text)."""
    return build_model(dt.date.fromisoformat(plan["extract_date"]), settings)
