"""When the nightly extract reads incrementally, from where, and how changes merge."""

import datetime as dt
import json

import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from etl.core.settings import ConfigurationError, Settings
from etl.extract.incremental import ExtractPolicy, high_watermark, merge_into_base, plan_extract, vanished_keys
from etl.sources import SOURCES

SAG = SOURCES["voksen"].table("sag")
DAY = dt.date(2025, 11, 16)
POLICY = ExtractPolicy()


def base(tmp_path, day="2025-11-15", **fields):
    folder = tmp_path / "voksen" / "sag" / f"extract_date={day}"
    folder.mkdir(parents=True)
    info = {"schema_hash": SAG.schema_hash(), "watermark": "2025-11-15 22:30:00",
            "last_full_extract_date": "2025-11-13", **fields}
    (folder / "validation.json").write_text(json.dumps(info))
    return folder


def test_first_night_file_sources_and_tables_without_timestamp_read_whole(tmp_path):
    assert plan_extract("voksen", "database", SAG, tmp_path, DAY, POLICY).reason == "no earlier validated extract"
    cpr = SOURCES["cpr"].tables[0]
    assert plan_extract("cpr", "file", cpr, tmp_path, DAY, POLICY).mode == "full"


def test_with_a_base_the_window_is_its_watermark_minus_the_overlap_to_midnight_after(tmp_path):
    base(tmp_path)
    base(tmp_path, "2025-11-16", watermark="2025-11-16 23:00:00")  # the date itself is never its own base
    plan = plan_extract("voksen", "database", SAG, tmp_path, DAY, POLICY)
    assert (plan.mode, plan.base_extract_date) == ("incremental", "2025-11-15")
    assert plan.window == {"since": dt.datetime(2025, 11, 13, 22, 30), "until": dt.datetime(2025, 11, 17)}
    assert plan.last_full_extract_date == "2025-11-13"


@pytest.mark.parametrize(("fields", "policy", "force", "reason"), [
    ({"schema_hash": "other"}, POLICY, False, "the contract changed since 2025-11-15"),
    ({"last_full_extract_date": "2025-11-09"}, POLICY, False, "the last full extract (2025-11-09) is 7+ days old"),
    ({"last_full_extract_date": "2025-11-14"}, ExtractPolicy(full_every_days=2), False,
     "the last full extract (2025-11-14) is 2+ days old"),
    ({"watermark": None}, POLICY, False, "the extract of 2025-11-15 has no watermark"),
    ({}, ExtractPolicy(mode="full"), False, "full extract asked for"),
    ({}, POLICY, True, "full extract asked for"),
])
def test_a_full_extract_when_the_base_cannot_be_trusted_or_is_due(tmp_path, fields, policy, force, reason):
    base(tmp_path, **fields)
    plan = plan_extract("voksen", "database", SAG, tmp_path, DAY, policy, force_full=force)
    assert (plan.mode, plan.reason, plan.last_full_extract_date) == ("full", reason, DAY.isoformat())


BESK = SOURCES["beskaeftigelse"].table("beskaeftigelse")
FILES = {"beskaeftigelse_202510.csv": "a" * 64, "beskaeftigelse_202511.csv": "b" * 64}


def file_base(tmp_path, **fields):
    folder = tmp_path / "beskaeftigelse" / "beskaeftigelse" / "extract_date=2025-11-15"
    folder.mkdir(parents=True)
    info = {"schema_hash": BESK.schema_hash(), "watermark": None, "last_full_extract_date": "2025-11-13",
            "source_files": FILES, **fields}
    (folder / "validation.json").write_text(json.dumps(info))


def test_a_file_table_whose_drop_files_are_the_bases_reads_nothing(tmp_path):
    file_base(tmp_path)
    plan = plan_extract("beskaeftigelse", "file", BESK, tmp_path, DAY, POLICY, drop_files=dict(FILES))
    assert (plan.mode, plan.base_extract_date, plan.since, plan.last_full_extract_date, plan.files) == (
        "incremental", "2025-11-15", None, "2025-11-13", FILES)
    assert plan.reason == "the drop file(s) are those of 2025-11-15 (same names and SHA-256): nothing to read"


@pytest.mark.parametrize(("files", "fields", "policy", "reason"), [
    ({**FILES, "beskaeftigelse_202512.csv": "c" * 64}, {}, POLICY,
     "drop file(s) new beskaeftigelse_202512.csv since 2025-11-15"),
    ({**FILES, "beskaeftigelse_202511.csv": "d" * 64}, {}, POLICY,
     "drop file(s) replaced beskaeftigelse_202511.csv since 2025-11-15"),
    ({"beskaeftigelse_202511.csv": "b" * 64, "beskaeftigelse_202512.csv": "c" * 64}, {}, POLICY,
     "drop file(s) new beskaeftigelse_202512.csv; gone beskaeftigelse_202510.csv since 2025-11-15"),
    (FILES, {"source_files": None}, POLICY, "no file fingerprints in the extract since 2025-11-15"),
    (FILES, {"last_full_extract_date": "2025-11-09"}, POLICY, "the last full extract (2025-11-09) is 7+ days old"),
    (FILES, {"schema_hash": "other"}, POLICY, "the contract changed since 2025-11-15"),
    (FILES, {}, ExtractPolicy(mode="full"), "full extract asked for"),
])
def test_a_file_table_is_read_whole_when_its_files_changed_or_a_full_read_is_due(tmp_path, files, fields, policy,
                                                                               reason):
    file_base(tmp_path, **fields)
    plan = plan_extract("beskaeftigelse", "file", BESK, tmp_path, DAY, policy, drop_files=files)
    assert (plan.mode, plan.reason, plan.last_full_extract_date, plan.files) == ("full", reason, DAY.isoformat(), files)


def test_a_file_table_without_fingerprints_is_read_whole(tmp_path):
    file_base(tmp_path)
    plan = plan_extract("beskaeftigelse", "file", BESK, tmp_path, DAY, POLICY)
    assert (plan.mode, plan.reason) == ("full", "a file without fingerprints is read whole")


def test_policy_from_the_settings(tmp_path):
    policy = Settings.resolve({"SOFLI_DATA_DIR": str(tmp_path), "SOFLI_EXTRACT_MODE": "full",
                               "SOFLI_FULL_EXTRACT_EVERY_DAYS": "1", "SOFLI_EXTRACT_OVERLAP_HOURS": "6"}).extract
    assert policy == ExtractPolicy("full", 1, dt.timedelta(hours=6))
    assert Settings.resolve({"SOFLI_DATA_DIR": str(tmp_path)}).extract == POLICY
    with pytest.raises(ConfigurationError, match="SOFLI_EXTRACT_MODE must be incremental or full"):
        Settings.resolve({"SOFLI_DATA_DIR": str(tmp_path), "SOFLI_EXTRACT_MODE": "sometimes"})


def frame(keys, values, stamps):
    return pd.DataFrame({"sag_id": pd.array(keys, "Int64"), "maalgruppe": values,
                         "opdateret": pd.to_datetime(stamps, format="ISO8601")})


def test_changes_replace_their_key_and_the_rest_is_carried():
    old = frame([1, 2, 3], ["a", "b", "c"], ["2025-11-10", "2025-11-11", "2025-11-12"])
    changed = frame([2, 4], ["B", "d"], ["2025-11-16 10:00", "2025-11-16 11:00"])
    merged, carried = merge_into_base(old, changed, SAG)
    assert carried == 2
    assert merged["sag_id"].tolist() == [1, 2, 3, 4] and merged["maalgruppe"].tolist() == ["a", "B", "c", "d"]
    assert merge_into_base(old, changed.iloc[0:0], SAG)[0].equals(old)
    assert vanished_keys(old, frame([1, 3], ["a", "c"], ["2025-11-10", "2025-11-12"]), SAG) == 1


def test_a_future_change_timestamp_never_becomes_the_watermark():
    stamps = frame([1, 2, 3], ["a", "b", "c"], ["2025-11-16 23:59", "2052-01-01", None])
    assert high_watermark(stamps, SAG, DAY) == "2025-11-16 23:59:00"
    assert high_watermark(stamps.iloc[0:0], SAG, DAY) is None


def sorted_merge(base: pd.DataFrame, changed: pd.DataFrame, key: str) -> pd.DataFrame:
    """The merge by its definition: the base without the changed keys, the changes after
    it, everything stably sorted on the key."""
    carried = base[~base[key].isin(changed[key])]
    merged = pd.concat([carried, changed.astype(base.dtypes.to_dict())], ignore_index=True)
    return merged.sort_values(key, kind="stable").reset_index(drop=True)


@settings(max_examples=300, deadline=None)
@given(base_keys=st.lists(st.integers(-3, 40), max_size=25), changed_keys=st.lists(st.integers(-3, 45), max_size=8),
       in_order=st.booleans(), dtype=st.sampled_from(["Int64", "int64"]))
def test_slotting_changes_into_an_ordered_base_is_the_stable_sort(base_keys, changed_keys, in_order, dtype):
    """The fast path (an integer key, the base in key order) against the sort: the same rows in
    the same order, ties and repeated keys included; a base out of order takes the sort."""
    base_keys = sorted(base_keys) if in_order else base_keys
    old = pd.DataFrame({"sag_id": pd.array(base_keys, dtype), "maalgruppe": pd.array([f"b{i}" for i in range(len(base_keys))], "str"),
                        "opdateret": pd.Timestamp("2025-11-10")})
    changed = pd.DataFrame({"sag_id": pd.array(changed_keys, "Int64"),
                            "maalgruppe": pd.array([f"c{i}" for i in range(len(changed_keys))], "str"),
                            "opdateret": pd.Timestamp("2025-11-16 10:00")})
    merged, carried = merge_into_base(old, changed, SAG)
    expected = sorted_merge(old, changed, "sag_id") if changed_keys else old  # a quiet night: the base as it is
    pd.testing.assert_frame_equal(merged, expected)
    assert carried == int((~old["sag_id"].isin(changed_keys)).sum())


def test_a_text_key_and_a_base_out_of_order_are_sorted_as_before():
    borger = SOURCES["voksen"].table("borger")
    old = pd.DataFrame({"borger_id": pd.array(["b", "a", "c"], "str"), "navn": ["B", "A", "C"]})
    changed = pd.DataFrame({"borger_id": pd.array(["a", "aa"], "str"), "navn": ["A2", "AA"]})
    merged, carried = merge_into_base(old, changed, borger)
    assert (merged["borger_id"].tolist(), merged["navn"].tolist(), carried) == (["a", "aa", "b", "c"],
                                                                                ["A2", "AA", "B", "C"], 2)
