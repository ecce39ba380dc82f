"""When `build_model` builds: every source published tonight, or the cut-off with whatever
succeeded, a late source picked up by itself, nothing rebuilt for nothing.

Each case states the data folder (which extract of each source is current, what the live model
was built from) and the run (started by a source, the cut-off clock, or by hand), and the
decision expected by reading the rule, not the code.
"""

from __future__ import annotations

import datetime as dt
from types import SimpleNamespace

import pytest
from model_files import save_model

from etl.core.settings import REPO_ROOT, Settings
from etl.model import Model
from etl.sources import SOURCES
from etl.tasks.model import NotTonight, live_model_built_from, plan_model_build
from etl.tasks.orchestration import run_date, run_kind, source_asset
from etl.validate.table import publish_source

NIGHT = dt.date(2026, 3, 10)
YESTERDAY = NIGHT - dt.timedelta(days=1)


@pytest.fixture
def folder(tmp_path):
    return Settings(tmp_path, REPO_ROOT / "reference", "demo")


def publish(settings: Settings, source: str, day: dt.date) -> None:
    """Make `day`'s extract of `source` current, as its extract DAG's publish task does."""
    results = [{"table": t.name, "rows_in": 0, "rows_staged": 0, "rows_quarantined": 0}
               for t in SOURCES[source].tables]
    publish_source(SOURCES[source], settings.staged_dir, day, f"run-{source}-{day}", results)


def publish_all(settings: Settings, day: dt.date, except_: tuple[str, ...] = ()) -> None:
    for name in SOURCES:
        if name not in except_:
            publish(settings, name, day)


def build_live_model(settings: Settings, day: dt.date, sources: dict[str, dt.date | None]) -> None:
    built_from = {name: ({"extract_date": d.isoformat(), "run_id": f"run-{name}-{d}"} if d else None)
                  for name, d in sources.items()}
    save_model(Model.from_frames(day), settings.model_dir, built_from)


def test_a_source_that_publishes_before_the_others_waits_and_the_last_one_builds(folder):
    publish_all(folder, YESTERDAY)
    build_live_model(folder, YESTERDAY, dict.fromkeys(SOURCES, YESTERDAY))
    publish(folder, "boern", NIGHT)
    others = ", ".join(sorted(set(SOURCES) - {"boern"}))  # every other source of the registry, by name
    with pytest.raises(NotTonight) as waiting:
        plan_model_build("sources", NIGHT, folder)
    assert str(waiting.value) == (f"waiting for tonight's sources: {others} not extracted for 2026-03-10 yet; "
                                  "the cut-off run builds with whatever succeeded")
    publish_all(folder, NIGHT)
    plan = plan_model_build("sources", NIGHT, folder)
    assert plan["extract_date"] == "2026-03-10" and plan["stale_sources"] == []
    assert plan["reason"] == "every source published"


def test_the_cut_off_builds_with_whatever_succeeded_and_names_the_stale_source(folder):
    publish_all(folder, YESTERDAY)
    publish_all(folder, NIGHT, except_=("klage",))
    plan = plan_model_build("cutoff", NIGHT, folder)
    assert plan["stale_sources"] == ["klage"]
    assert plan["sources"]["klage"] == "2026-03-09" and plan["sources"]["boern"] == "2026-03-10"
    assert plan["reason"] == "cutoff: built without klage"


def test_a_source_never_extracted_is_behind_too(folder):
    publish_all(folder, NIGHT, except_=("cpr",))
    with pytest.raises(NotTonight, match="waiting for tonight's sources: cpr not extracted"):
        plan_model_build("sources", NIGHT, folder)
    assert plan_model_build("cutoff", NIGHT, folder)["stale_sources"] == ["cpr"]


def test_after_a_complete_night_the_cut_off_has_nothing_to_add(folder):
    publish_all(folder, NIGHT)
    build_live_model(folder, NIGHT, dict.fromkeys(SOURCES, NIGHT))
    with pytest.raises(NotTonight, match="the model of 2026-03-10 already has every source that has published"):
        plan_model_build("cutoff", NIGHT, folder)
    assert plan_model_build("cutoff", NIGHT, folder, force=True)["reason"] == "forced"


def test_a_source_recovering_after_the_cut_off_rebuilds_by_itself_once(folder):
    publish_all(folder, YESTERDAY)
    publish_all(folder, NIGHT, except_=("klage",))
    build_live_model(folder, NIGHT, {**dict.fromkeys(SOURCES, NIGHT), "klage": YESTERDAY})  # the cut-off's model
    with pytest.raises(NotTonight, match=r"already has every source .* \(klage still behind\)"):
        plan_model_build("sources", NIGHT, folder)  # e.g. hr re-extracted the same night: nothing new
    publish(folder, "klage", NIGHT)  # cleared and re-run after the fix
    plan = plan_model_build("sources", NIGHT, folder)
    assert plan["reason"] == "arrived late: klage" and plan["stale_sources"] == []
    build_live_model(folder, NIGHT, dict.fromkeys(SOURCES, NIGHT))
    with pytest.raises(NotTonight):  # later publishes of the same date (and the cut-off) add nothing
        plan_model_build("sources", NIGHT, folder)


def test_the_next_night_is_judged_on_its_own_date(folder):
    """Yesterday's model had every source; tonight each source must publish again."""
    publish_all(folder, YESTERDAY)
    build_live_model(folder, YESTERDAY, dict.fromkeys(SOURCES, YESTERDAY))
    publish_all(folder, NIGHT, except_=("hr",))
    with pytest.raises(NotTonight, match="waiting for tonight's sources: hr"):
        plan_model_build("sources", NIGHT, folder)


def test_a_backfill_date_builds_on_request(folder):
    publish_all(folder, NIGHT)
    build_live_model(folder, NIGHT, dict.fromkeys(SOURCES, NIGHT))
    plan = plan_model_build("manual", YESTERDAY, folder)
    assert plan["extract_date"] == "2026-03-09" and plan["stale_sources"] == []


def test_the_model_records_which_extract_of_each_source_it_was_built_from(folder):
    assert live_model_built_from(folder) is None
    build_live_model(folder, NIGHT, {**dict.fromkeys(SOURCES, NIGHT), "cpr": None})
    built = live_model_built_from(folder)
    assert built["extraction_date"] == "2026-03-10"
    assert built["sources"]["cpr"] is None
    assert built["sources"]["boern"] == {"extract_date": "2026-03-10", "run_id": "run-boern-2026-03-10"}


# --- the Airflow glue: which night a run belongs to -------------------------------------

def _event(extra: dict):
    return SimpleNamespace(extra=extra)


def test_the_night_of_a_run_started_by_sources_is_the_newest_current_extract_date():
    events = {source_asset("boern"): [_event({"extract_date": "2026-03-09", "current": True}),
                                      _event({"extract_date": "2026-03-10", "current": True})],
              source_asset("klage"): [_event({"extract_date": "2026-03-12", "current": False})]}  # a backfill
    context = {"dag_run": SimpleNamespace(run_type="asset_triggered", logical_date=None,
                                          run_after=dt.datetime(2026, 3, 11, 0, 30, tzinfo=dt.UTC)),
               "logical_date": None, "triggering_asset_events": events, "params": {}}
    assert run_kind(context) == "sources"
    assert run_date(context) == dt.date(2026, 3, 10)
    context["triggering_asset_events"] = {}  # events without our extra: when the run was due, in Copenhagen
    assert run_date(context) == dt.date(2026, 3, 11)
    context["params"] = {"extract_date": "2026-01-02"}
    assert run_date(context) == dt.date(2026, 1, 2)


def test_the_night_of_the_cut_off_is_its_date_in_copenhagen():
    cutoff = dt.datetime(2026, 3, 10, 4, 0, tzinfo=dt.UTC)  # 05:00 in Copenhagen
    context = {"dag_run": SimpleNamespace(run_type="scheduled", logical_date=cutoff), "logical_date": cutoff,
               "params": {}}
    assert (run_kind(context), run_date(context)) == ("cutoff", dt.date(2026, 3, 10))
    late = dt.datetime(2026, 3, 9, 23, 30, tzinfo=dt.UTC)  # 00:30 on the 10th in Copenhagen
    assert run_date({**context, "logical_date": late}) == dt.date(2026, 3, 10)
    assert run_kind({"dag_run": SimpleNamespace(run_type="manual")}) == "manual"
