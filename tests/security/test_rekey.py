"""Key rotation: every stored pseudonym is re-keyed, links and history survive, KPIs do not move.

One demo night is built under the old key (extracts, model, a KPI set in `kpi/` and in
`mart.kpi_value` as the nightly version and a frozen version 1), then rotated.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import re
import sqlite3
from pathlib import Path

import pandas as pd
import pyarrow.parquet as pq
import pytest
from extracts import extract_all
from model_files import save_model

from etl.cli.main import main
from etl.core.periods import quarter_periods
from etl.core.settings import REPO_ROOT, ConfigurationError, Settings
from etl.kpi import compute_kpis
from etl.model import Model
from etl.core.reference import load_reference
from etl.model.build import build_model, load_current_staged
from etl.model.link import KeyMismatchError, Pseudonymiser, key_fingerprint
from etl.model.stage import run_model_stage
from etl.ops.rekey import MARKER, RekeyError, rekey
from etl.kpi.theme6 import case_cost
from etl.publish.dims import dim_caseworker, with_bi_keys
from etl.publish.marts import CASE_COST, DIM_CASEWORKER, KPI_VALUE, KPI_VALUE_CASEWORKER
from etl.publish.warehouse import Publication, ensure_schema, make_engine, publish, publish_together, read_table
from etl.synth import generate

DAY = dt.date(2025, 11, 15)
OLD = b"old-test-key-0123456789"
NEW = b"new-test-key-9876543210"
PSEUDONYM = re.compile(r"^[0-9a-f]{32}$")
#: A pseudonym alone, or inside a BI org id (`caseworker:<pseudonym>`).
STORED_PSEUDONYM = re.compile(r"^(?:caseworker:)?([0-9a-f]{32})$")


def kpis(model: Model) -> pd.DataFrame:
    values = compute_kpis(model, quarter_periods(2025, 4, DAY)[:1])
    return with_bi_keys(values.assign(provisional=True, version=0, run_id="r",
                                      computed_at=pd.Timestamp("2025-11-15 03:00")))


def caseworkers_of(model: Model, values: pd.DataFrame) -> pd.DataFrame:
    return dim_caseworker(model.fact_case, model.dim_org, DAY, values.loc[values["org_level"] == "caseworker", "org_key"])


def rekey_org_ids(frame: pd.DataFrame, caseworkers: dict) -> pd.DataFrame:
    """`org_key` and `org_id` of caseworker rows through the old -> new mapping (computed here)."""
    is_cw = frame["org_level"] == "caseworker"
    new_keys = frame["org_key"].where(~is_cw, frame["org_key"].map(caseworkers))
    return frame.assign(org_key=new_keys, org_id=frame["org_id"].where(~is_cw, "caseworker:" + new_keys))


def every_stored_string(data_dir: Path) -> set[str]:
    """Every pseudonym (alone or in a `caseworker:` org id) in every string value of every
    Parquet file and warehouse table outside the sources."""
    found: set[str] = set()
    for path in data_dir.rglob("*.parquet"):
        table = pq.read_table(path)
        for name in table.column_names:
            if str(table.schema.field(name).type) in ("string", "large_string"):
                found |= {v for v in table[name].to_pylist() if v}
    for db in (data_dir / "warehouse").glob("*.db"):
        conn = sqlite3.connect(db)
        for (name,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            for row in conn.execute(f'SELECT * FROM "{name}"'):
                found |= {v for v in row if isinstance(v, str)}
        conn.close()
    for path in data_dir.rglob("*.json"):
        found |= set(re.findall(r"(?<![0-9a-f])[0-9a-f]{32}(?![0-9a-f])", path.read_text()))
    return {m.group(1) for m in map(STORED_PSEUDONYM.match, found) if m}


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    data = tmp_path_factory.mktemp("rekey")
    generate(data / "sources", "demo", seed=5, extraction_date=DAY)
    settings = Settings(data, REPO_ROOT / "reference", "demo")
    extract_all(DAY, "r", settings)
    frames, _ = load_current_staged(settings.staged_dir, DAY)
    save_model(build_model(frames, load_reference(settings.reference_dir), Pseudonymiser(OLD), DAY), settings.model_dir)
    old_model = Model.load(settings.model_dir)
    old_kpis = kpis(old_model)
    (data / "kpi").mkdir()
    old_kpis.to_parquet(data / "kpi" / "kpi_value.parquet", index=False)
    old_caseworkers = caseworkers_of(old_model, old_kpis)
    old_caseworkers.to_parquet(data / "kpi" / "dim_caseworker.parquet", index=False)
    engine = make_engine(settings.warehouse_url())
    ensure_schema(engine)
    is_cw = old_kpis["org_level"] == "caseworker"  # issue 21: caseworker rows live in restricted
    for version in (0, 1):  # 1: a frozen publication
        publish_together(engine, [
            Publication("mart", KPI_VALUE, old_kpis[~is_cw].assign(version=version), {"version": version}),
            Publication("restricted", KPI_VALUE_CASEWORKER, old_kpis[is_cw].assign(version=version),
                        {"version": version})])
    old_cost = case_cost(old_model).assign(run_id="r", computed_at=pd.Timestamp("2025-11-15 03:00"))
    old_cost.to_parquet(data / "kpi" / "case_cost.parquet", index=False)
    publish(engine, "restricted", CASE_COST, old_cost)
    publish(engine, "restricted", DIM_CASEWORKER, old_caseworkers)
    old_mart = warehouse_kpis(engine)
    engine.dispose()
    old_strings = every_stored_string(data)
    report = rekey(settings, OLD, NEW)
    return {"settings": settings, "old_model": old_model, "new_model": Model.load(settings.model_dir),
            "old_kpis": old_kpis, "old_mart": old_mart, "old_strings": old_strings, "report": report,
            "frames": frames, "old_cost": old_cost, "old_caseworkers": old_caseworkers}


def warehouse_kpis(engine) -> pd.DataFrame:
    """Every KPI row of the warehouse: mart.kpi_value and the caseworker rows of restricted."""
    return pd.concat([read_table(engine, "mart.kpi_value"), read_table(engine, "restricted.kpi_value_caseworker")],
                     ignore_index=True)


def mapping_of(old: pd.Series, new: pd.Series) -> dict:
    pairs = pd.DataFrame({"old": old.to_numpy(), "new": new.to_numpy()}).dropna().drop_duplicates()
    assert pairs["old"].is_unique and pairs["new"].is_unique  # a bijection, row by row
    return dict(zip(pairs["old"], pairs["new"]))


def test_every_pseudonym_changed_and_the_old_key_reproduces_none(night):
    old, new = night["old_strings"], every_stored_string(night["settings"].data_dir)
    assert len(old) > 500 and len(new) == len(old)
    assert old.isdisjoint(new)
    old_model = night["old_model"]  # built under the old key from the same extracts
    old_key_values = set(old_model.dim_citizen["citizen_key"]) | set(old_model.fact_case["caseworker_key"].dropna())
    assert len(old_key_values) > 500 and old_key_values.isdisjoint(new)
    employees = set(old_model.dim_employee["employee_key"]) | set(old_model.fact_absence["employee_key"])
    assert len(employees) > 50 and employees.isdisjoint(new)  # issue 21: employees are pseudonyms too
    assert set(night["new_model"].fact_absence["employee_key"]) <= set(night["new_model"].dim_employee["employee_key"])
    assert night["report"]["unexplained"] == {} and night["report"]["rekeyed"] == len(old)
    assert not (night["settings"].model_dir / MARKER).exists()
    assert not list(night["settings"].data_dir.rglob(".*.tmp"))


def test_the_rekeyed_model_is_exactly_a_fresh_build_under_the_new_key(night):
    fresh = build_model(night["frames"], load_reference(night["settings"].reference_dir), Pseudonymiser(NEW), DAY)
    for name, frame in night["new_model"].tables.items():
        expected = fresh.tables[name]
        if name == "dim_citizen":  # ordered by pseudonym
            frame, expected = (f.sort_values("citizen_key").reset_index(drop=True) for f in (frame, expected))
        pd.testing.assert_frame_equal(frame, expected, obj=name)


def test_the_same_records_are_linked_to_the_same_citizens(night):
    old, new = night["old_model"].link_person, night["new_model"].link_person
    partition = {
        label: {frozenset(zip(g["source"], g["source_table"], g["source_person_id"]))
                for _, g in frame.groupby("citizen_key")}
        for label, frame in (("old", old), ("new", new))}
    assert partition["old"] == partition["new"]
    assert sum(len(p) > 1 for p in partition["new"]) > 10  # people really are linked across systems
    mapping = mapping_of(old["citizen_key"], new["citizen_key"])
    for name in ("fact_case", "fact_service", "fact_stay", "fact_employment_status", "dim_citizen"):
        before, after = night["old_model"].tables[name], night["new_model"].tables[name]
        if name == "dim_citizen":
            assert sorted(before["citizen_key"].map(mapping)) == sorted(after["citizen_key"])
            continue
        assert len(before) == len(after)
        row_map = mapping_of(before["citizen_key"], after["citizen_key"])
        assert all(mapping[k] == v for k, v in row_map.items() if k in mapping), name


def test_history_tables_map_through_the_same_mapping(night):
    key = ["version", "kpi_id", "measure", "period_type", "period_start", "org_level", "org_key", "dimension",
           "dimension_value"]
    old_model, new_model = night["old_model"], night["new_model"]
    caseworkers = mapping_of(old_model.fact_case["caseworker_key"], new_model.fact_case["caseworker_key"])
    engine = make_engine(night["settings"].warehouse_url())
    mart = warehouse_kpis(engine)
    engine.dispose()
    old_mart = night["old_mart"]
    is_cw = old_mart["org_level"] == "caseworker"
    assert is_cw.sum() > 20 and set(old_mart["version"]) == {0, 1}
    expected = rekey_org_ids(old_mart, caseworkers)
    assert mart.loc[mart["org_level"] == "caseworker", "org_id"].str.fullmatch("caseworker:[0-9a-f]{32}").all()
    pd.testing.assert_frame_equal(mart.sort_values(key).reset_index(drop=True),
                                  expected.sort_values(key).reset_index(drop=True))
    staged = pd.read_parquet(night["settings"].data_dir / "kpi" / "kpi_value.parquet")
    in_kpis = set(staged.loc[staged["org_level"] == "caseworker", "org_key"])
    assert len(in_kpis) > 20 and in_kpis <= set(caseworkers.values())
    assert in_kpis == set(mart.loc[mart["org_level"] == "caseworker", "org_key"])


def test_the_case_cost_overview_is_rekeyed_like_a_fresh_computation(night):
    """restricted.case_cost and its staged file hold case, citizen and caseworker pseudonyms: after the
    rotation they are what the re-keyed model gives, row for row."""
    fresh = case_cost(night["new_model"]).assign(run_id="r", computed_at=pd.Timestamp("2025-11-15 03:00"))
    assert len(fresh) > 100 and fresh["case_key"].str.fullmatch(PSEUDONYM.pattern).all()
    staged = pd.read_parquet(night["settings"].data_dir / "kpi" / "case_cost.parquet")
    dates = dict.fromkeys(["status_date", "next_deadline", "computed_at"], "datetime64[s]")
    pd.testing.assert_frame_equal(staged.astype(dates), fresh.astype(dates), check_dtype=False)
    engine = make_engine(night["settings"].warehouse_url())
    mart = read_table(engine, "restricted.case_cost")
    engine.dispose()
    key = ["year", "case_key"]
    assert mart.sort_values(key)[["case_key", "citizen_key", "caseworker_key"]].reset_index(drop=True).equals(
        fresh.sort_values(key)[["case_key", "citizen_key", "caseworker_key"]].reset_index(drop=True))
    assert set(night["old_cost"]["case_key"]).isdisjoint(mart["case_key"])


def test_the_bi_caseworker_dimension_is_rekeyed_like_a_fresh_computation(night):
    """restricted.dim_caseworker and its staged kpi/dim_caseworker.parquet (the BI star's caseworker ->
    unit) hold the pseudonym twice, as caseworker_key and in org_id: after the rotation they are
    what the re-keyed model and KPIs give, and every kpi_value caseworker row still resolves."""
    fresh = caseworkers_of(night["new_model"], kpis(night["new_model"]))
    assert len(fresh) > 20 and set(fresh["unit_org_id"]) - {"unit:Ukendt"}
    staged = pd.read_parquet(night["settings"].data_dir / "kpi" / "dim_caseworker.parquet")
    engine = make_engine(night["settings"].warehouse_url())
    mart = read_table(engine, "restricted.dim_caseworker")
    values = read_table(engine, "restricted.kpi_value_caseworker")
    engine.dispose()
    for frame in (staged, mart):
        pd.testing.assert_frame_equal(frame.sort_values("org_id").reset_index(drop=True),
                                      fresh.sort_values("org_id").reset_index(drop=True), check_dtype=False)
    assert set(values.loc[values["org_level"] == "caseworker", "org_id"]) == set(mart["org_id"])
    assert set(night["old_caseworkers"]["caseworker_key"]).isdisjoint(mart["caseworker_key"])


def test_kpis_on_the_rekeyed_model_are_identical(night):
    caseworkers = mapping_of(night["old_model"].fact_case["caseworker_key"],
                             night["new_model"].fact_case["caseworker_key"])
    old = rekey_org_ids(night["old_kpis"], caseworkers)
    key = ["kpi_id", "measure", "period_type", "period_start", "org_level", "org_key", "dimension", "dimension_value"]
    pd.testing.assert_frame_equal(kpis(night["new_model"]).sort_values(key).reset_index(drop=True),
                                  old.sort_values(key).reset_index(drop=True))


def test_rerunning_with_the_same_keys_changes_nothing(night):
    settings = night["settings"]
    before = {p: p.read_bytes() for p in settings.model_dir.rglob("*.parquet")}
    report = rekey(settings, OLD, NEW)
    assert report["rekeyed"] == 0 and report["already_new"] == report["pseudonyms"] > 500
    assert {p: p.read_bytes() for p in settings.model_dir.rglob("*.parquet")} == before


def test_an_unreproducible_pseudonym_refuses_the_rotation_and_changes_nothing(night, tmp_path, caplog):
    settings = night["settings"]
    stray = "0123456789abcdef0123456789abcdef"
    path = settings.data_dir / "kpi" / "kpi_value.parquet"
    original = path.read_bytes()
    frame = pd.read_parquet(path)
    planted = pd.concat([frame, frame[frame["org_level"] == "caseworker"].head(1).assign(org_key=stray)])
    planted.to_parquet(path, index=False)
    before = {p: p.read_bytes() for p in settings.data_dir.rglob("*") if p.is_file() and "sources" not in p.parts}
    try:
        with pytest.raises(RekeyError, match=r"kpi/kpi_value.parquet: 1 pseudonym\(s\) not reproducible"):
            rekey(settings, NEW, b"third-test-key-000000000")
        after = {p: p.read_bytes() for p in settings.data_dir.rglob("*") if p.is_file() and "sources" not in p.parts}
        assert after == before
        assert stray not in caplog.text
    finally:
        path.write_bytes(original)


def test_a_wrong_old_key_refuses_everything(night):
    with pytest.raises(RekeyError, match="not reproducible"):
        rekey(night["settings"], b"not-the-key-at-all-000", b"another-new-key-0000000", dry_run=True)


@pytest.mark.parametrize("new_key, message", [
    (b"", "no new pseudonymisation key"), (b"short", "at least 16"), (NEW, "is the current one"),
    (b"sofli-demo-key-not-for-production", "demo pseudonymisation key is refused")])
def test_unsafe_new_keys_are_refused(tmp_path, new_key, message):
    settings = Settings(tmp_path, REPO_ROOT / "reference", "production")
    with pytest.raises(ConfigurationError, match=message):
        rekey(settings, NEW, new_key)


def test_the_cli_rotates_with_keys_from_the_environment_only(night, monkeypatch, capsys):
    monkeypatch.setenv("SOFLI_MODE", "demo")  # ignored: the folder is not the demo's, so production
    monkeypatch.setenv("SOFLI_PSEUDONYM_KEY", NEW.decode())
    monkeypatch.setenv("SOFLI_NEW_PSEUDONYM_KEY", NEW.decode())
    assert main(["--data-dir", str(night["settings"].data_dir), "rekey", "--dry-run"]) == 2
    assert "sofli rekey: the new pseudonymisation key is the current one" in capsys.readouterr().err
    monkeypatch.setenv("SOFLI_NEW_PSEUDONYM_KEY", "yet-another-key-12345")
    assert main(["--data-dir", str(night["settings"].data_dir), "rekey", "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "dry run" in out and "yet-another-key" not in out and NEW.decode() not in out



def test_after_rotation_the_nightly_build_refuses_the_old_key_and_takes_the_new(night):
    """Between `sofli rekey` and the key change in the connection, a nightly build would write
    old-key pseudonyms into the re-keyed model: the fingerprint in model.json stops it."""

    settings = night["settings"]
    meta = json.loads((settings.model_dir / "model.json").read_text())
    assert meta["key_fingerprint"] == key_fingerprint(NEW)
    before = (settings.model_dir / "dim_citizen.parquet").read_bytes()
    with pytest.raises(KeyMismatchError, match="sofli rekey"):
        run_model_stage(dataclasses.replace(settings, pseudonym_key_text=OLD.decode()), DAY)
    assert (settings.model_dir / "dim_citizen.parquet").read_bytes() == before
    run_model_stage(dataclasses.replace(settings, pseudonym_key_text=NEW.decode()), DAY)
    rebuilt = Model.load(settings.model_dir).dim_citizen["citizen_key"]
    assert set(rebuilt) == set(night["new_model"].dim_citizen["citizen_key"])
