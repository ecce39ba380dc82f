"""The catalogue: every KPI defined once, its computation registered, its table shape."""

from __future__ import annotations

import datetime as dt
import os
import shutil
from dataclasses import replace

import pandas as pd
import pytest
from recording_model import RecordingModel

from etl.core.reference import load_reference
from etl.core.roles import FACILITY_GROUPS, facility_types
from etl.core.settings import REPO_ROOT
from etl.core.periods import reporting_periods
from etl.kpi import CATALOG, catalog_frame, compute_kpi, compute_kpis, stage_tables, theme6
from etl.kpi.aggregate import KPI_ROW_COLUMNS, MEASURE_COLUMNS
from etl.kpi.catalog import KpiDefinition, kpi
from etl.model import Model
from etl.model.registry import sources_feeding
from etl.publish.marts import KPI_CATALOG

#: The ids of shared/spec/kpi-catalogue.md, in its order, then theme 6 of economy.md.
ALL_IDS = ([f"T1.{i:02}" for i in range(1, 5)] + [f"T2.{i:02}" for i in range(1, 14)]
           + [f"T3.{i:02}" for i in range(1, 10)] + [f"T4.{i:02}" for i in range(1, 7)]
           + [f"T5.{i:02}" for i in range(1, 6)] + [f"T6.{i:02}" for i in range(1, 8)])
#: The resolved readings' list of stock KPIs (economy.md: T6.02 and T6.04 are stocks on E).
STOCKS = {"T1.01", "T1.02", "T1.03", "T1.04", "T2.02", "T2.06", "T2.09", "T2.10", "T2.13", "T3.06",
          "T6.02", "T6.04"}
#: economy.md "Flows and stocks": a flow KPI's measures that are stocks on E (quarter rows only).
STOCK_MEASURES = {"T6.03": ("prognosis", "share_prognosis"), "T6.06": ("prognosis",)}
IMPLEMENTED = set(ALL_IDS)

#: The roles of the shipped reference folder.
SHIPPED_ROLES = load_reference(REPO_ROOT / "reference")["ref_role"]


def test_every_catalogue_id_is_defined_once_in_order():
    assert list(CATALOG) == ALL_IDS


def test_entries_are_complete():
    for d in CATALOG.values():
        assert d.theme == int(d.kpi_id[1]) and d.theme_title
        assert d.title and d.description and d.definition and d.unit and d.owner and d.measures, d.kpi_id
        assert d.kpi_type == ("stock" if d.kpi_id in STOCKS else "flow"), d.kpi_id
        assert d.stock_measures == STOCK_MEASURES.get(d.kpi_id, ()), d.kpi_id
        assert "center" not in d.breakdowns and "unit" not in d.breakdowns, "org levels are not dimensions"


def test_implemented_kpis():
    assert {d.kpi_id for d in CATALOG.values() if d.implemented} == IMPLEMENTED


def test_catalog_frame_has_the_mart_shape():
    frame = catalog_frame()
    assert list(frame.columns) == KPI_CATALOG.column_names
    assert frame["kpi_id"].tolist() == ALL_IDS
    row = frame.set_index("kpi_id").loc["T5.01"]
    assert row["measures"] == "per_fte,short_days,long_days,short_persons,long_persons" and row["breakdowns"] == "job_category"
    assert bool(row["implemented"])


def test_an_entry_without_lineage_or_with_unknown_names_is_refused():
    entry = CATALOG["T2.01"]
    fields = dict(kpi_id="T9.01", theme=9, theme_title="x", title="x", description="x", definition="x",
                  kpi_type="flow", unit="x", measures=("count",), breakdowns=(), owner="x")
    with pytest.raises(ValueError, match="lineage"):
        KpiDefinition(**fields)
    with pytest.raises(ValueError, match="lineage"):
        KpiDefinition(**fields, sources=frozenset({"boern"}))
    with pytest.raises(ValueError, match=r"unknown sources or model tables \['ledger'\]"):
        KpiDefinition(**fields, sources=frozenset({"ledger"}), model_tables=entry.model_tables)
    with pytest.raises(ValueError, match=r"\['fact_ledger'\]"):
        replace(entry, model_tables=entry.model_tables | {"fact_ledger"})
    assert replace(entry, kpi_id="T9.01").sources == {"boern", "voksen"}


#: Sources a KPI is flagged by beyond the tables its computation reads: T1.02 counts T1.01's
#: citizens and is flagged with them when the CPR register is blocked, though it reads no
#: demographics (kept as it was; docs/architecture.md, "KPI lineage").
FLAGGED_WITH_ITS_POPULATION = {"T1.02": {"cpr"}}


def test_every_declared_source_feeds_a_model_table_the_kpi_reads():
    for d in CATALOG.values():
        fed = {source for table in d.model_tables for source in sources_feeding(table)}
        assert d.sources - fed == FLAGGED_WITH_ITS_POPULATION.get(d.kpi_id, set()), d.kpi_id


def test_lineage_names_exactly_the_model_tables_each_computation_reads(demo_model_dir):
    demo = Model.load(demo_model_dir)
    periods = reporting_periods(demo.extraction_date, history_quarters=0)
    for d in CATALOG.values():
        read = set()
        for period in periods:
            if d.kpi_type == "flow" or period.kind == "quarter":
                model = RecordingModel(demo.extraction_date, demo.extraction_time, dict(demo.tables))
                compute_kpi(d.kpi_id, model, period)
                read |= model.__dict__.get("read", set())
        assert read == d.model_tables, (d.kpi_id, sorted(read ^ d.model_tables))


def test_the_kpi_stage_loads_only_what_its_readers_declare_and_an_absent_table_is_loud(demo_model_dir):
    """The KPI stage loads the tables of its KPIs' lineage, case_cost's and the caseworker
    dimension's, codes the postings column by column from disk and then lets go of them
    (memory at national): what it computes is what the whole model gives, and a table it did
    not load raises when read, never reads as empty (a KPI gone silently to zero)."""
    whole = Model.load(demo_model_dir)
    lean = Model.load(demo_model_dir, only=stage_tables(), by_column={"fact_posting"})
    assert set(lean.absent) == {"link_person", "link_finding", "dim_paragraph", "ref_service_type", "fact_posting"}
    assert "fact_posting" not in lean.tables
    with pytest.raises(LookupError, match="fact_posting is not in memory: left on disk, read column by column"):
        _ = lean.fact_posting
    for column in whole.fact_posting.columns:  # each column alone as the whole load gives it, dtype included
        pd.testing.assert_series_equal(lean.column("fact_posting", column), whole.fact_posting[column])
    with pytest.raises(KeyError, match="no column"):
        lean.column("fact_posting", "cpr")
    theme6.prepare_shared(lean, release=True)
    assert "fact_posting" not in lean.tables and "fact_posting" in lean.absent
    with pytest.raises(LookupError, match="fact_posting is not in memory: coded once"):
        _ = lean.fact_posting
    with pytest.raises(LookupError, match="link_person is not in memory: not loaded by this stage"):
        _ = lean.link_person
    periods = reporting_periods(whole.extraction_date, history_quarters=0)
    pd.testing.assert_frame_equal(compute_kpis(lean, periods, workers=2), compute_kpis(whole, periods, workers=1))
    pd.testing.assert_frame_equal(theme6.case_cost(lean), theme6.case_cost(whole))
    with pytest.raises(ValueError, match="unknown model tables"):
        Model.load(demo_model_dir, only={"fact_ledger"})
    with pytest.raises(ValueError, match="read by column but not loaded"):
        Model.load(demo_model_dir, only={"dim_org"}, by_column={"fact_posting"})


def test_a_table_read_by_column_is_the_one_loaded_even_when_the_model_is_rebuilt_meanwhile(demo_model_dir, tmp_path):
    """The KPI stage codes the postings from disk after loading the rest: a model stage that
    renames a new model into place in between (a daytime refresh) must not mix its postings
    into the loaded model. `load` opens the file; its columns come from what it opened."""
    shutil.copytree(demo_model_dir, tmp_path / "model")
    model = Model.load(tmp_path / "model", only={"fact_posting", "dim_org"}, by_column={"fact_posting"})
    postings = pd.read_parquet(demo_model_dir / "fact_posting.parquet")
    rebuilt = tmp_path / "model" / ".fact_posting.parquet.tmp"
    postings.head(3).to_parquet(rebuilt, index=False)
    os.replace(rebuilt, tmp_path / "model" / "fact_posting.parquet")  # as ModelWriter.commit does
    assert len(postings) > 3
    assert model.column("fact_posting", "posting_id").tolist() == postings["posting_id"].tolist()
    assert Model.load(tmp_path / "model", only={"fact_posting"}).fact_posting["posting_id"].tolist() == \
        postings["posting_id"].head(3).tolist()
    model.release("fact_posting", "coded")
    with pytest.raises(LookupError, match="fact_posting is not in memory: coded"):
        model.column("fact_posting", "posting_id")


def test_registering_an_unknown_or_second_computation_fails(monkeypatch):
    with pytest.raises(KeyError):
        kpi("T9.99")(lambda model, period: None)
    monkeypatch.setitem(CATALOG, "T1.02", replace(CATALOG["T1.02"], compute=None))  # restored after the test
    kpi("T1.02")(lambda model, period: None)
    assert CATALOG["T1.02"].implemented
    with pytest.raises(ValueError, match="already"):
        kpi("T1.02")(lambda model, period: None)


def test_a_measure_missing_from_the_entry_is_refused(monkeypatch, make_model, q3_2025):
    def undeclared(model, period):
        return pd.DataFrame([["mean_days", "sof", "SOF", None, None, 1.0, None, None, "days", None]],
                            columns=MEASURE_COLUMNS)
    monkeypatch.setitem(CATALOG, "T5.04", replace(CATALOG["T5.04"], compute=None))
    kpi("T5.04")(undeclared)
    with pytest.raises(ValueError, match="mean_days"):
        compute_kpi("T5.04", make_model(), q3_2025)


def test_compute_kpis_runs_every_implemented_kpi_for_its_periods(make_model):
    periods = reporting_periods(dt.date(2025, 10, 15), history_quarters=0)
    rows = compute_kpis(make_model(), periods)
    assert list(rows.columns) == KPI_ROW_COLUMNS
    totals = rows[rows["org_level"].eq("sof") & rows["dimension"].isna()]
    per_kpi = totals.groupby("kpi_id")[["period_type", "period"]].apply(
        lambda t: set(map(tuple, t.to_numpy())))
    quarters = {(p.kind, p.label) for p in periods if p.kind == "quarter"}
    assert per_kpi["T1.01"] == quarters and per_kpi["T2.06"] == quarters
    assert per_kpi["T2.01"] == {(p.kind, p.label) for p in periods}
    # Empty model: every measure's total is present, counts 0, rates without a value.
    t501 = totals[totals["kpi_id"] == "T5.01"]
    assert set(t501["measure"]) == {"per_fte", "short_days", "long_days", "short_persons", "long_persons"}
    assert t501.loc[t501["measure"] == "per_fte", "value"].isna().all()
    assert (totals.loc[totals["measure"] == "count", "value"] == 0).all()


def test_compute_kpis_gives_one_row_per_key(make_model):
    # The publish audit refuses duplicated keys; a little of everything, over the nightly periods.
    model = make_model(
        fact_service=[dict(service_key="s1", source="boern", citizen_key="c1", category="Anbringelse",
                           service_type="Plejefamilie", start_date="2024-01-01", unit_code="BFC-VEST",
                           area="Børn og Unge")],
        fact_decision=[dict(decision_key="d1", decision_date="2025-05-01", unit_code="BFC-VEST",
                            outcome="Bevilget", area="Børn og Unge")],
        fact_notification=[dict(notification_id="n1", received_at="2025-05-01 10:00", acute=True,
                                unit_code="BFC-VEST", area="Børn og Unge")],
        dim_employee=[dict(employee_key="e1", unit_code="4010202", job_category="Leder",
                           hired_date="2020-01-01", fte=1.0)],
        fact_absence=[dict(absence_id="a1", employee_key="e1", absence_type="Egen sygdom",
                           from_date="2025-05-01", to_date="2025-05-20")])
    rows = compute_kpis(model, reporting_periods(dt.date(2025, 10, 15), history_quarters=0))
    key = ["kpi_id", "measure", "period_type", "period_start", "period_end", "org_level", "org_key",
           "dimension", "dimension_value"]
    assert not rows.duplicated(key).any()
    assert set(rows["kpi_id"]) == IMPLEMENTED


#: KPIs whose every measure has a total on an empty model: counts 0, rates and means 0/0.
EMPTY_TOTALS = ["T2.02", "T2.03", "T2.04", "T2.05", "T2.07", "T2.08", "T2.09", "T2.10", "T2.11", "T2.12",
                "T2.13", "T3.01", "T3.03", "T3.04", "T3.05", "T3.06", "T3.07", "T3.08", "T3.09"]


@pytest.mark.parametrize("kpi_id", EMPTY_TOTALS)
def test_empty_model_gives_every_measure_a_total(kpi_id, make_model, q3_2025):
    rows = compute_kpi(kpi_id, make_model(), q3_2025)
    assert set(rows["measure"]) == set(CATALOG[kpi_id].measures)
    assert (rows["org_level"] == "sof").all() and rows["dimension"].isna().all()
    assert len(rows) == len(CATALOG[kpi_id].measures)
    counts = rows[rows["unit"] == "count"]
    assert (counts["value"] == 0).all()
    rest = rows[rows["unit"] != "count"]
    assert rest["value"].isna().all() and (rest["denominator"] == 0).all()


@pytest.mark.parametrize(("kpi_id", "roles", "left_out"), [
    ("T1.01", FACILITY_GROUPS["residential"], ("Natcafé", "Almen bolig ABL §105")),
    ("T2.13", FACILITY_GROUPS["shelters_and_crisis_centres"], ("Natcaféer",)),
    ("T4.01", ("shelter",), ()),
    ("T4.02", ("shelter",), ()),
])
def test_the_definition_names_the_roles_and_shipped_types_its_computation_uses(kpi_id, roles, left_out):
    """The catalogue text readers see names the roles the code selects by and every facility
    type the shipped reference declares in them, and says which ones it leaves out, so the
    two cannot drift apart unseen."""
    grouping = facility_types(SHIPPED_ROLES, *roles)
    definition = CATALOG[kpi_id].definition
    assert [r for r in roles if r not in definition] == []
    assert [t for t in grouping if t not in definition] == []
    assert all(f"not {t}" in definition or f"{t} are not included" in definition for t in left_out)


def test_a_kpi_run_of_a_few_money_kpis_loads_and_prepares_only_their_tables(demo_model_dir):
    """`compute_kpis(kpi_ids=...)` on a model of just those KPIs' lineage: the shared economy is
    prepared before the fork without the commitments or the budget it was not given (reading
    one would raise), and the rows are the whole model's."""
    whole = Model.load(demo_model_dir)
    only = CATALOG["T6.05"].model_tables
    lean = Model.load(demo_model_dir, only=only, by_column={"fact_posting"})
    assert {"fact_commitment", "fact_budget"} <= set(lean.absent)
    periods = reporting_periods(whole.extraction_date, history_quarters=0)
    pd.testing.assert_frame_equal(compute_kpis(lean, periods, workers=2, kpi_ids={"T6.05"}),
                                  compute_kpis(whole, periods, workers=1, kpi_ids={"T6.05"}))
