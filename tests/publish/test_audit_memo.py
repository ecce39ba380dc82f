"""The suppression audit's memo: an answer is reused for the same question only, and a publish
with it is the publish without it (`etl.publish.audit_memo`)."""

import json
import stat

import numpy as np
import pandas as pd
import pytest

from etl.publish import audit_memo
from etl.publish.audit_memo import AuditMemo
from etl.publish.suppression import suppress_for_public

from tests.publish.test_suppression import ORG, cell


def _breakdown(total, a, b, c=30.0):
    """A SOF total and four age groups (the re-publication example of test_suppression.py)."""
    return pd.DataFrame([cell("sof", "SOF", float(total)), cell("sof", "SOF", float(a), "age", "a"),
                         cell("sof", "SOF", float(b), "age", "b"), cell("sof", "SOF", float(c), "age", "c"),
                         cell("sof", "SOF", 30.0, "age", "d")]).assign(
        value=lambda f: np.where(f["dimension"].isna(), f["value"] + 30.0 + c, f["value"]))


@pytest.fixture
def republication():
    """Version 1 blanked a = 2 and b = 10; tonight a = 5 and b = 10: only the audit (with the
    version relation) sees that publishing b gives version 1's a away, and blanks b."""
    before, tonight = _breakdown(12, 2, 10), _breakdown(15, 5, 10)
    frozen = suppress_for_public(before, ORG).assign(version=1)
    earlier = frozen.assign(**{f"{q}_true": before[q].to_numpy() for q in ("value", "numerator", "denominator")})
    return tonight, earlier


def _shown(frame):
    return {r.dimension_value: r.value for r in frame.itertuples() if pd.notna(r.value)}


def test_a_publish_with_the_last_publish_s_answers_is_the_publish_without_them(republication, tmp_path):
    tonight, earlier = republication
    expected = suppress_for_public(tonight, ORG, earlier_versions=earlier)
    assert "b" not in _shown(expected)  # the audit's repair (the complement rule alone shows b)

    night = AuditMemo()
    pd.testing.assert_frame_equal(suppress_for_public(tonight, ORG, earlier_versions=earlier, audit_memo=night),
                                  expected)
    assert night.misses > 0 and len(night.used) == night.misses and night.hits == 0
    path = tmp_path / "kpi" / "audit_memo.json"
    night.save(path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert list(tmp_path.joinpath("kpi").iterdir()) == [path]  # the temporary file was moved into place

    again = AuditMemo.load(path)
    pd.testing.assert_frame_equal(suppress_for_public(tonight, ORG, earlier_versions=earlier, audit_memo=again),
                                  expected)
    assert (again.hits, again.repeats, again.misses) == (night.misses, night.repeats, 0)
    assert again.used == night.used


def test_an_answer_is_used_for_its_own_question_only(republication, tmp_path):
    """A memo whose every answer says "nothing recovered" (as if written by hand into the
    restricted zone) is trusted for the questions it answers: b is published. The same memo
    answers none of tonight's questions when one figure or the organisation file differs, and
    the publish is then the one without a memo."""
    tonight, earlier = republication
    night = AuditMemo()
    suppress_for_public(tonight, ORG, earlier_versions=earlier, audit_memo=night)
    poisoned = {key: [] for key in night.used}

    trusted = AuditMemo(poisoned)
    assert "b" in _shown(suppress_for_public(tonight, ORG, earlier_versions=earlier, audit_memo=trusted))
    assert trusted.misses == 0

    changed = tonight.copy()
    changed.loc[changed["dimension_value"].eq("d"), "value"] = 31.0
    changed.loc[changed["dimension"].isna(), "value"] += 1.0
    memo = AuditMemo(poisoned)
    pd.testing.assert_frame_equal(suppress_for_public(changed, ORG, earlier_versions=earlier, audit_memo=memo),
                                  suppress_for_public(changed, ORG, earlier_versions=earlier))
    # the one question answered is what version 1 gives away on its own: its rows did not change
    assert len(set(memo.used) & set(poisoned)) == 1 and memo.hits == 1

    moved = ORG.assign(area="B")
    memo = AuditMemo(poisoned)
    assert "b" not in _shown(suppress_for_public(tonight, moved, earlier_versions=earlier, audit_memo=memo))
    assert not set(memo.used) & set(poisoned) and memo.hits == 0


def test_a_changed_attacker_never_reads_the_old_attacker_s_answers(republication, monkeypatch):
    tonight, earlier = republication
    night = AuditMemo()
    suppress_for_public(tonight, ORG, earlier_versions=earlier, audit_memo=night)
    monkeypatch.setattr(audit_memo, "_attacker", lambda: b"the attacker after a change to etl/publish/audit.py")
    poisoned = {key: [] for key in night.used}
    memo = AuditMemo(poisoned)
    assert "b" not in _shown(suppress_for_public(tonight, ORG, earlier_versions=earlier, audit_memo=memo))
    assert not set(memo.used) & set(poisoned) and memo.hits == 0


@pytest.mark.parametrize("workers", [1, 2])
def test_forked_workers_hand_their_answers_back(workers):
    """Two KPIs audited in two forked processes: what each asked reaches the parent's memo."""
    q2 = {"period_type": "quarter", "period": "2025-Q2", "period_start": "2025-04-01", "period_end": "2025-06-30"}
    rows = pd.DataFrame([cell("sof", "SOF", 40.0, **q2), cell("sof", "SOF", 3.0),
                         cell("sof", "SOF", 50.0, kpi_id="T2.01", **q2), cell("sof", "SOF", 60.0, kpi_id="T2.01")])
    first = AuditMemo()
    expected = suppress_for_public(rows, ORG, workers=workers, audit_memo=first)
    assert first.misses >= 2 and len(first.used) >= 2
    second = AuditMemo(first.used)
    pd.testing.assert_frame_equal(suppress_for_public(rows, ORG, workers=workers, audit_memo=second), expected)
    assert second.misses == 0 and second.used == first.used


def test_the_rows_fingerprint_does_not_depend_on_how_they_were_read():
    """Dates as text or timestamps, no breakdown as None or NaN, a version as int or float,
    text as object or string: the same rows. A figure or the order is a different question."""
    context = AuditMemo.context(ORG)
    rows = _breakdown(15, 5, 10).assign(version=0)
    read_back = rows.assign(period_start=pd.to_datetime(rows["period_start"]),
                            period_end=pd.to_datetime(rows["period_end"]).astype("datetime64[ms]"),
                            dimension=rows["dimension"].astype("string"), version=rows["version"].astype(float),
                            kpi_id=rows["kpi_id"].astype("string"), other_column="not read by the attacker")
    assert AuditMemo.rows_digest(context, read_back) == AuditMemo.rows_digest(context, rows)
    assert AuditMemo.rows_digest(context, rows.iloc[::-1]) != AuditMemo.rows_digest(context, rows)
    figure = rows.assign(numerator=rows["numerator"].where(rows.index != 2, 1.0))
    assert AuditMemo.rows_digest(context, figure) != AuditMemo.rows_digest(context, rows)
    assert AuditMemo.rows_digest(AuditMemo.context(ORG.assign(center="C2")), rows) != \
        AuditMemo.rows_digest(context, rows)


@pytest.mark.parametrize("content", ["{not json", json.dumps({"answers": [1, 2]}), json.dumps({"other": {}}),
                                     json.dumps({"answers": {"k": [1, "2"]}}), json.dumps({"answers": {"k": [-1]}}),
                                     json.dumps({"answers": {"k": [True]}})])
def test_an_unreadable_memo_is_an_empty_one_with_a_warning(content, tmp_path, caplog):
    path = tmp_path / "audit_memo.json"
    path.write_text(content)
    with caplog.at_level("WARNING", logger="etl.publish.audit_memo"):
        memo = AuditMemo.load(path)
    assert memo.answers == {} and "is unreadable" in caplog.text and "audited in full" in caplog.text
    assert AuditMemo.load(tmp_path / "absent.json").answers == {}


def test_the_same_rows_with_other_cells_blanked_are_another_question():
    memo = AuditMemo()
    digest = AuditMemo.rows_digest(AuditMemo.context(ORG), _breakdown(15, 5, 10).assign(version=0))
    first = np.array([False, True, True, False, False])
    assert memo.recovered(digest, first, lambda: [1]).tolist() == [1]
    assert memo.recovered(digest, first[::-1].copy(), lambda: [3]).tolist() == [3]
    assert memo.recovered(digest, np.append(first, False), lambda: [4]).tolist() == [4]  # one row more
    assert memo.recovered(digest, first.copy(), lambda: pytest.fail("asked again")).tolist() == [1]
    assert (memo.hits, memo.repeats, memo.misses, len(memo.used)) == (0, 1, 3, 3)
    again = AuditMemo(memo.used)
    assert again.recovered(digest, first.copy(), lambda: pytest.fail("asked again")).tolist() == [1]
    assert (again.hits, again.repeats, again.misses) == (1, 0, 0)


def test_an_answer_naming_a_row_the_question_does_not_have_is_asked_again(caplog):
    memo = AuditMemo()
    digest = AuditMemo.rows_digest(AuditMemo.context(ORG), _breakdown(15, 5, 10).assign(version=0))
    blanked = np.array([False, True, True, False, False])
    memo.recovered(digest, blanked, lambda: [1])
    damaged = AuditMemo({key: [5] for key in memo.used})  # five rows: positions 0-4
    with caplog.at_level("WARNING", logger="etl.publish.audit_memo"):
        assert damaged.recovered(digest, blanked, lambda: [2]).tolist() == [2]
    assert (damaged.hits, damaged.misses) == (0, 1) and "asked again" in caplog.text
