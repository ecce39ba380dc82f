"""Computing the periods in worker processes changes nothing but the time it takes."""

from __future__ import annotations

import logging
import multiprocessing
import os
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace

import pandas as pd
import pytest

from etl import kpi
from etl.core.settings import ConfigurationError, Settings
from etl.core.periods import reporting_periods
from etl.kpi import CATALOG, compute_kpis, kpi_workers
from etl.kpi.theme1 import active_members
from etl.model import Model


@pytest.fixture(scope="module")
def demo(demo_model_dir):
    model = Model.load(demo_model_dir)
    return model, reporting_periods(model.extraction_date, history_quarters=1)[:4]  # two quarters, each also year-to-date


def test_workers_give_the_rows_of_one_process_in_the_same_order(demo):
    model, periods = demo
    alone = compute_kpis(model, periods, workers=1)
    assert len(alone) > 10_000 and alone["period"].nunique() == len({p.label for p in periods})
    pd.testing.assert_frame_equal(compute_kpis(model, periods, workers=3), alone)


def test_without_worker_processes_the_periods_are_computed_in_process(demo, monkeypatch, caplog):
    model, periods = demo

    expected = compute_kpis(model, periods[:2], workers=1)
    # a daemonic process (as some executors run tasks in): multiprocessing refuses it children
    monkeypatch.setitem(multiprocessing.current_process()._config, "daemon", True)
    with caplog.at_level(logging.WARNING, logger=kpi.__name__):
        got = compute_kpis(model, periods[:2], workers=2)
    pd.testing.assert_frame_equal(got, expected)
    assert "computing the 2 periods in one process" in caplog.text


def test_a_worker_that_dies_fails_the_stage_instead_of_hanging(demo, monkeypatch):
    """A worker killed mid-period (as the kernel kills one out of memory) must fail the
    KPI stage, so Airflow retries it, not leave it waiting for a result for ever."""

    model, periods = demo
    monkeypatch.setitem(CATALOG, "T5.04", replace(CATALOG["T5.04"], compute=lambda model, period: os._exit(9)))
    with pytest.raises(BrokenProcessPool):
        compute_kpis(model, periods[:2], workers=2, kpi_ids=["T5.04"])


def test_an_error_in_a_worker_is_raised_as_itself_and_not_retried_in_process(demo, monkeypatch, caplog):
    def broken(model, period):
        raise ZeroDivisionError("a KPI bug")

    model, periods = demo
    monkeypatch.setitem(CATALOG, "T5.04", replace(CATALOG["T5.04"], compute=broken))
    with caplog.at_level(logging.WARNING, logger=kpi.__name__), pytest.raises(ZeroDivisionError, match="a KPI bug"):
        compute_kpis(model, periods[:2], workers=2, kpi_ids=["T5.04"])
    assert "could not start" not in caplog.text


def test_worker_count_comes_from_the_settings_or_the_usable_cores(monkeypatch, tmp_path):
    monkeypatch.setattr("os.sched_getaffinity", lambda pid: {0, 1, 2})
    assert kpi_workers(20) == 3
    assert kpi_workers(2) == 2  # never more workers than periods
    configured = Settings.resolve({"SOFLI_DATA_DIR": str(tmp_path), "SOFLI_KPI_WORKERS": "1"}).kpi_workers
    assert kpi_workers(20, configured) == 1
    with pytest.raises(ConfigurationError, match="SOFLI_KPI_WORKERS must be at least 1"):
        Settings.resolve({"SOFLI_DATA_DIR": str(tmp_path), "SOFLI_KPI_WORKERS": "0"})
    with pytest.raises(ValueError, match="at least 1"):
        kpi_workers(20, 0)


def test_a_replaced_table_is_not_answered_from_what_was_derived_before(demo):
    """`active_members` is derived once per date; restating the organisation must reach it."""

    model, periods = demo
    model = Model(model.extraction_date, model.extraction_time, dict(model.tables))
    day = periods[0].end
    before = active_members(model, day)
    assert active_members(model, day) is before  # computed once
    renamed = model.dim_org.assign(center="Omdøbt center")
    model.replace_table("dim_org", renamed)
    after = active_members(model, day)
    assert set(after["org_center"]) - {"Ukendt"} == {"Omdøbt center"}


def test_per_date_frames_keep_only_the_latest_date(demo):
    """A worker computes many periods; only the last date's active members stay cached."""

    model, periods = demo
    model = Model(model.extraction_date, model.extraction_time, dict(model.tables))
    first, second = periods[0].end, periods[2].end
    kept = active_members(model, first)
    active_members(model, second)
    assert [key for key in model._derived if key[0] == "active_members"] == [("active_members", second)]
    again = active_members(model, first)
    assert again is not kept
    pd.testing.assert_frame_equal(again, kept)


def test_the_postings_are_prepared_once_before_the_workers_fork(demo_model_dir):
    """Workers share the parent's prepared postings (copy-on-write) instead of each building
    them from fact_posting (docs/performance.md "Round 5"); a run of KPIs that read no
    postings does not prepare them. Same rows either way."""
    periods = reporting_periods(Model.load(demo_model_dir).extraction_date, history_quarters=1)[:2]
    other = Model.load(demo_model_dir)
    compute_kpis(other, periods, workers=2, kpi_ids=["T5.04"])
    assert ("theme6", "economy") not in other._derived
    shared = Model.load(demo_model_dir)
    rows = compute_kpis(shared, periods, workers=2, kpi_ids=["T6.01", "T6.05"])
    assert ("theme6", "economy") in shared._derived
    pd.testing.assert_frame_equal(rows, compute_kpis(Model.load(demo_model_dir), periods, workers=1,
                                                     kpi_ids=["T6.01", "T6.05"]))
    assert set(rows["kpi_id"]) == {"T6.01", "T6.05"}
