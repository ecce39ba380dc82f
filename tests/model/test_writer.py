"""The model writer the stage streams tables through: nothing is in place before `commit`."""

import datetime as dt

import pandas as pd
import pytest
from model_files import save_model

from etl.core.settings import REPO_ROOT, Settings
from etl.model import Model, ModelWriter, registry
from etl.model.stage import run_model_stage

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


def _stage(tmp_path, day):
    settings = Settings(tmp_path / "data", REPO_ROOT / "reference", "demo")
    return settings, run_model_stage(settings, day)


@pytest.mark.parametrize("where", ["a builder", "a table's write on the writer thread"])
def test_the_stage_failing_while_a_table_is_written_leaves_the_live_model(tmp_path, monkeypatch, where):
    """The stage writes each table on a thread while it builds the next: a builder raising, or a
    write raising there, fails the stage with that error, and the live model and its folder
    are as they were (no table of the failed build, no temporary file)."""
    settings, _ = _stage(tmp_path, DAY)  # no extracts yet: every table empty, the live model of DAY
    model_dir = settings.zones.model
    before = {p.name: p.read_bytes() for p in model_dir.iterdir()}
    if where == "a builder":
        def broken(rows):
            raise RuntimeError("builder broke")
        monkeypatch.setitem(registry._BUILDERS, ("oekonomi", "postering"), broken)
    else:
        add = ModelWriter.add

        def broken(self, name, frame):
            if name == "fact_decision":
                raise RuntimeError("write broke")
            add(self, name, frame)
        monkeypatch.setattr(ModelWriter, "add", broken)
    with pytest.raises(RuntimeError, match="builder broke" if where == "a builder" else "write broke"):
        _stage(tmp_path, DAY + dt.timedelta(days=1))
    assert {p.name: p.read_bytes() for p in model_dir.iterdir()} == before
    assert Model.load(model_dir).extraction_date == DAY
