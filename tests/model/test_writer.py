"""The model writer the stage streams tables through: nothing is in place before `commit`."""

import datetime as dt

import pandas as pd
from model_files import save_model

from etl.model import Model, ModelWriter

DAY = dt.date(2025, 11, 15)


def _cases(*ids: int) -> pd.DataFrame:
    return pd.DataFrame({"case_key": [f"boern:{i}" for i in ids], "source": "boern", "case_id": [str(i) for i in ids],
                         "case_number": None, "citizen_key": "c", "opened_date": pd.Timestamp("2025-01-01"),
                         "closed_date": None, "unit_code": "U", "caseworker_key": None, "caseworker_id": None,
                         "target_group": None, "area": "Børn og unge"})


def test_a_build_that_fails_half_way_leaves_the_live_model(tmp_path):
    save_model(Model.from_frames(DAY, fact_case=_cases(1, 2)), tmp_path)
    before = sorted(p.name for p in tmp_path.iterdir())
    writer = ModelWriter(tmp_path)
    writer.add("fact_case", _cases(3))
    writer.discard()  # what the stage does when a builder raises
    assert sorted(p.name for p in tmp_path.iterdir()) == before
    assert Model.load(tmp_path).fact_case["case_id"].tolist() == ["1", "2"]


def test_commit_puts_every_table_in_place_and_model_json_last(tmp_path):
    save_model(Model.from_frames(DAY, fact_case=_cases(1, 2)), tmp_path)
    writer = ModelWriter(tmp_path)
    writer.add("fact_case", _cases(3))
    counts = writer.commit(DAY + dt.timedelta(days=1))
    model = Model.load(tmp_path)
    assert model.fact_case["case_id"].tolist() == ["3"]
    assert model.extraction_date == DAY + dt.timedelta(days=1)
    assert counts["fact_case"] == 1 and counts["fact_posting"] == 0  # absent tables are written empty
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]
