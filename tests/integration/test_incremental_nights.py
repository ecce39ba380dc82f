"""Incremental extraction against a real PostgreSQL source read through ODBC.

Night 1 reads the voksen system whole. Then, at the source: a case inserted, one updated,
one soft-deleted, one hard-deleted, and one updated "late" (its change timestamp before the
watermark, inside the safety overlap). Night 2 must read exactly the rows changed in its
window, merge them, honour the soft delete in the model, and cannot see the hard delete;
a later full extract sees it. A re-run of night 2 after further changes reproduces it.
"""

from __future__ import annotations

import datetime as dt
import json

import pandas as pd
import pytest
import sqlalchemy as sa

from etl.core.settings import REPO_ROOT, Connections, Settings
from etl.model import Model
from etl.synth import generate
from etl.tasks import extract as extract_tasks
from etl.tasks import model as model_tasks

pytestmark = [pytest.mark.postgres, pytest.mark.integration]
NIGHT1, NIGHT2, NIGHT3 = dt.date(2025, 11, 15), dt.date(2025, 11, 16), dt.date(2025, 11, 17)
SOURCE, TABLE = "voksen", "sag"


@pytest.fixture(scope="module")
def world(postgres, tmp_path_factory):
    root = tmp_path_factory.mktemp("incremental")
    url = postgres.new_database("incr_voksen")
    generate(root / "sources", "demo", seed=5, extraction_date=NIGHT1, db_urls={SOURCE: url})
    engine = sa.create_engine(url)
    conn = json.dumps({"conn_type": "odbc", "host": postgres.url.host, "port": postgres.url.port,
                       "schema": "incr_voksen", "login": postgres.url.username, "extra": {"driver": "PostgreSQL Unicode"}})
    # voksen through its Airflow connection of type odbc, the extract policy at its defaults
    settings = Settings(root, REPO_ROOT / "reference", "demo",
                        connections=Connections({"AIRFLOW_CONN_SOFLI_SRC_VOKSEN": conn}))
    yield {"settings": settings, "engine": engine}
    engine.dispose()


def staged(settings: Settings, day: dt.date) -> pd.DataFrame:
    return pd.read_parquet(settings.staged_dir / SOURCE / TABLE / f"extract_date={day}" / "data.parquet")


def info(settings: Settings, day: dt.date, kind: str = "staged") -> dict:
    if kind == "staged":
        return json.loads((settings.staged_dir / SOURCE / TABLE / f"extract_date={day}" / "validation.json").read_text())
    return json.loads((settings.landing_dir / SOURCE / TABLE / f"extract_date={day}" / "manifest.json").read_text())


def landed_keys(settings: Settings, day: dt.date) -> set[int]:
    landed = pd.read_parquet(settings.landing_dir / SOURCE / TABLE / f"extract_date={day}" / "data.parquet")
    return set(landed["sag_id"].astype(int))


def keys_changed_in(engine, since: str, until: str) -> set[int]:
    with engine.connect() as conn:
        rows = conn.execute(sa.text('SELECT sag_id FROM sag WHERE opdateret >= :s AND opdateret < :u'),
                            {"s": dt.datetime.fromisoformat(since), "u": dt.datetime.fromisoformat(until)})
        return {r[0] for r in rows}


def test_incremental_nights_pick_up_exactly_the_changed_rows(world):
    settings, engine = world["settings"], world["engine"]
    extract_tasks.extract_source(SOURCE, NIGHT1, "night1", settings)
    first = staged(settings, NIGHT1)
    assert info(settings, NIGHT1, "landing")["mode"] == "full"
    watermark = dt.datetime.fromisoformat(info(settings, NIGHT1)["watermark"])

    live = first[~first["slettet"].astype(bool)].sort_values("sag_id")
    updated, soft, hard, late = (int(k) for k in live["sag_id"].iloc[[0, 1, 2, 3]])
    new_key = int(first["sag_id"].max()) + 1000
    at = dt.datetime.combine(NIGHT2, dt.time(10))
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO sag SELECT :new, borger_id, oprettet, lukket, enhed_kode, sagsbehandler_id,"
                             " maalgruppe, :at, false FROM sag WHERE sag_id = :src"),
                     {"new": new_key, "at": at, "src": updated})
        conn.execute(sa.text("UPDATE sag SET maalgruppe = 'Rusmiddel', opdateret = :at WHERE sag_id = :k"),
                     {"k": updated, "at": at})
        conn.execute(sa.text("UPDATE sag SET slettet = true, opdateret = :at WHERE sag_id = :k"), {"k": soft, "at": at})
        conn.execute(sa.text("DELETE FROM sag WHERE sag_id = :k"), {"k": hard})
        # committed late: its change timestamp lies an hour before night 1's watermark
        conn.execute(sa.text("UPDATE sag SET lukket = :d, opdateret = :ts WHERE sag_id = :k"),
                     {"k": late, "d": NIGHT1, "ts": watermark - dt.timedelta(hours=1)})

    extract_tasks.extract_source(SOURCE, NIGHT2, "night2", settings)
    manifest = info(settings, NIGHT2, "landing")
    plan = manifest["plan"]
    assert manifest["mode"] == "incremental" and plan["base_extract_date"] == NIGHT1.isoformat()
    assert dt.datetime.fromisoformat(plan["since"]) == watermark - dt.timedelta(hours=48)
    assert plan["until"] == f"{NIGHT3} 00:00:00"
    # exactly the rows in the window, which holds every change (the late one by the overlap)
    assert landed_keys(settings, NIGHT2) == keys_changed_in(engine, plan["since"], plan["until"])
    assert {new_key, updated, soft, late} <= landed_keys(settings, NIGHT2)
    assert len(landed_keys(settings, NIGHT2)) < len(first) / 2

    second = staged(settings, NIGHT2).set_index("sag_id")
    result = info(settings, NIGHT2)
    assert result["rows_in"] == manifest["rows"] == result["rows_staged"] + result["rows_quarantined"]
    assert result["rows_total"] == len(second) == result["rows_staged"] + result["rows_carried"]
    assert len(second) == len(first) + 1  # the insert; the hard delete is invisible to an incremental
    assert second.loc[new_key, "opdateret"] == pd.Timestamp(at)
    assert second.loc[updated, "maalgruppe"] == "Rusmiddel" and bool(second.loc[soft, "slettet"])
    assert second.loc[late, "lukket"] == pd.Timestamp(NIGHT1) and hard in second.index
    unchanged = first.set_index("sag_id").drop(index=[updated, soft, late])
    pd.testing.assert_frame_equal(second.loc[unchanged.index], unchanged, check_dtype=False)

    model_tasks.build_model(NIGHT2, settings)
    cases = Model.load(settings.model_dir).tables["fact_case"]
    voksen_cases = set(cases.loc[cases["source"] == "voksen", "case_id"].astype(str))
    assert str(soft) not in voksen_cases and str(new_key) in voksen_cases

    # after night 2, a new case arrives on the 17th: a re-run of the 16th reproduces the 16th
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO sag SELECT :new, borger_id, oprettet, lukket, enhed_kode, sagsbehandler_id,"
                             " maalgruppe, :at, false FROM sag WHERE sag_id = :src"),
                     {"new": new_key + 1, "at": dt.datetime.combine(NIGHT3, dt.time(9)), "src": updated})
    before = staged(settings, NIGHT2)
    extract_tasks.extract_source(SOURCE, NIGHT2, "night2-rerun", settings)
    pd.testing.assert_frame_equal(staged(settings, NIGHT2), before)

    # a full extract sees what incrementals cannot: the hard delete
    extract_tasks.extract_source(SOURCE, NIGHT3, "night3", settings, full=True)
    third = info(settings, NIGHT3)
    assert info(settings, NIGHT3, "landing")["mode"] == "full" and third["rows_vanished"] == 1
    assert set(staged(settings, NIGHT3)["sag_id"]) == (set(before["sag_id"]) - {hard}) | {new_key + 1}
