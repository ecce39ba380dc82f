"""KPIs select by the roles the reference folder declares, never by literal codes (issue 20).

Another municipality's reference folder has the same format but its own service codes.
Renaming every service code of the shipped folder (paragraph texts unchanged, the roles
declared under the new names) must give exactly the same KPI values on the same extracts;
the same folder with the roles left on the old codes must stop loudly, not give zeros.
"""

from __future__ import annotations

import shutil

import pandas as pd
import pytest

from etl.core.periods import reporting_periods
from etl.core.reference import ReferenceDataError, load_reference
from etl.core.settings import REPO_ROOT
from etl.kpi import compute_kpis
from etl.model import Model
from etl.model.build import build_model, load_current_staged
from etl.model.link import Pseudonymiser
from etl.quality.rules import RULES, _role_rows

#: Every service code of the shipped folder, renamed the way another municipality might code them.
RENAMED = {"BL20": "UNDERS", "BL32": "STOT", "BL46": "ANBS", "BL47": "ANBU", "SEL85": "BOSTOT", "SEL101": "RUS",
           "SEL107": "MIDBO", "SEL108": "LANGBO", "SEL109": "KRISE", "SEL110": "HERB", "ABL105": "ALMBO"}
CODE_FILES = {"paragraphs.csv": "service_code", "deadlines.csv": "service_code", "service_roles.csv": "service_code"}
#: The KPIs whose population a service-code role selects: the test must see them non-empty.
SELECTED_BY_SERVICE_ROLES = ("T3.08", "T3.09", "T4.01", "T4.03")


def _copy_with(tmp_path, files: dict[str, str]):
    folder = tmp_path / "reference"
    shutil.copytree(REPO_ROOT / "reference", folder)
    for name, column in files.items():
        frame = pd.read_csv(folder / name, dtype=str, keep_default_na=False)
        assert set(frame[column]) <= set(RENAMED), f"{name} has a code the test does not rename"
        frame[column] = frame[column].map(RENAMED)
        frame.to_csv(folder / name, index=False)
    return folder


@pytest.fixture(scope="module")
def demo_frames(demo_model_dir):
    model = Model.load(demo_model_dir)
    frames, _ = load_current_staged(demo_model_dir.parent / "staged", model.extraction_date)
    return frames, model.extraction_date


def _kpis(frames, reference, day) -> pd.DataFrame:
    model = build_model(frames, reference, Pseudonymiser(b"test-key-0123456789"), day)
    rows = compute_kpis(model, reporting_periods(day, history_quarters=3), workers=1)
    return rows.drop(columns=["persons_behind"], errors="ignore")


def test_other_service_codes_declared_in_their_roles_give_the_same_kpis(demo_frames, tmp_path):
    frames, day = demo_frames
    shipped = _kpis(frames, load_reference(REPO_ROOT / "reference"), day)
    renamed = _kpis(frames, load_reference(_copy_with(tmp_path, CODE_FILES)), day)
    back = {new: old for old, new in RENAMED.items()}
    coded = renamed["dimension"].eq("service_code").fillna(False)  # labels that show a service code
    renamed.loc[coded, "dimension_value"] = renamed.loc[coded, "dimension_value"].replace(back)
    key = ["kpi_id", "measure", "period_type", "period", "org_level", "org_key", "dimension", "dimension_value"]
    pd.testing.assert_frame_equal(shipped.sort_values(key).reset_index(drop=True),
                                  renamed.sort_values(key).reset_index(drop=True))
    totals = shipped[(shipped["org_level"] == "sof") & shipped["dimension"].isna()
                     & shipped["kpi_id"].isin(SELECTED_BY_SERVICE_ROLES) & (shipped["denominator"] > 0)]
    assert set(totals["kpi_id"]) == set(SELECTED_BY_SERVICE_ROLES)  # the comparison could fail


def test_codes_renamed_but_roles_left_on_the_old_codes_stop_the_load(tmp_path):
    folder = _copy_with(tmp_path, {"paragraphs.csv": "service_code", "deadlines.csv": "service_code"})
    with pytest.raises(ReferenceDataError) as caught:
        load_reference(folder)
    message = str(caught.value)
    assert "service_roles.csv:2: service code 'SEL101' is not a service code of paragraphs.csv" in message
    assert len([p for p in caught.value.problems if p.file == "service_roles.csv"]) == 5


def test_which_facility_types_play_a_role_is_the_reference_folders_choice(make_model, ref_role, q3_2025, pick):
    """A municipality that runs its natcafé as a crisis centre declares it so: T2.13 then counts it."""
    stays = [{"stay_key": "tilbud:1", "stay_id": "1", "facility_type": "Natcafé", "citizen_key": "c1",
              "check_in": "2025-09-29 22:00", "unit_code": "TIL-NAT"},
             {"stay_key": "tilbud:2", "stay_id": "2", "facility_type": "Herberg §110", "citizen_key": "c2",
              "check_in": "2025-09-01", "unit_code": "TIL-HERB"}]
    shipped = compute_kpis(make_model(fact_stay=stays), [q3_2025], workers=1, kpi_ids=["T2.13"])
    assert pick(shipped)["value"] == 1
    moved = ref_role.copy()
    moved.loc[(moved["kind"] == "facility") & (moved["code"] == "Natcafé"), "role"] = "crisis_centre"
    declared = compute_kpis(make_model(fact_stay=stays, ref_role=moved), [q3_2025], workers=1, kpi_ids=["T2.13"])
    assert pick(declared)["value"] == 2


def test_every_role_selects_rows_in_the_demo_so_dq21_stays_quiet(demo_model_dir):
    """The shipped reference on the generated demo: no KPI's role selects nothing (DQ21 is an
    error rule, so a role the generator never fills would turn every demo night red)."""
    model = Model.load(demo_model_dir)
    assert all(n > 0 for n in _role_rows(model).values()), _role_rows(model)
    assert not any(f.failing.any() for f in RULES["DQ21"].check(model, None, {}))
