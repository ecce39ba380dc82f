"""The attack on real public output: a small demo chain's `public.kpi_value` (nightly and a
frozen version), and the same chain on a reorganised organisation (units moving center
between the running quarter and the one before), attacked with every relation of
etl/publish/audit.py, the attacker the publisher also runs on itself before it publishes.

No small cell is recoverable. What the attacker still recovers are complements whose value
earlier periods' published figures pin (between two equal published figures): no secret, and
hidden only by blanking those periods, which a frozen version already published
(docs/security.md). CI attacks a representative set of KPIs (`ATTACKED`: additive counts with
several breakdowns, distinct persons, durations, HR days with their persons, the planted cell).

Each chain is this module's own warehouse: the session's shared quarter-close warehouse is
re-published and re-frozen by other tests with made-up figures (every value doubled, its
numerator not), so what an attack on it finds depended on which tests ran before it."""

from __future__ import annotations

import datetime as dt
import shutil

import pandas as pd
import pytest
from extracts import extract_all
from quarter_close import DAY, QUARTER, plant_small_cell
from small_cells import attack_public, cell_keys, leaks, public_and_truth, recovered_small_cells, small_cells

from etl.core.settings import REPO_ROOT, Settings
from etl.core.reference import load_reference
from etl.publish.freeze import freeze_quarter
from etl.publish.audit import attack
from etl.publish.suppression import suppress_for_public, unchanged_blanks
from etl.publish.warehouse import make_engine, read_table
from etl.synth import generate
from etl.tasks import kpis as kpi_tasks
from etl.tasks import model as model_tasks

pytestmark = pytest.mark.integration

#: On the first day of the running quarter two units change center (and the HR codes with them).
MOVES = {"CSU-NORD": "Center for Handicap og Rehabilitering", "4020103": "Center for Handicap og Rehabilitering",
         "BFC-UNG": "Center for Børn og Familier Syd", "4010302": "Center for Børn og Familier Syd"}
MOVED_ON = "2025-10-01"
ATTACKED = ("T1.01", "T2.01", "T2.08", "T3.01", "T5.01", "T5.04")
#: Recovered non-zero figures (complements pinned by earlier periods only) per blanked figure, at
#: most. Before the publisher's audit: 3 of 6,892 on the demo and 7 of 7,060 on the
#: reorganisation, small cells among them (T5.04's `Ukendt` facility, 2-3 incidents).
CEILING = 0.001


def _assert_no_small_cell_recovered(truth: pd.DataFrame, result) -> None:
    found = leaks(result)
    recovered_small = set(cell_keys(found)) & small_cells(truth)
    assert not recovered_small, f"small cells recovered: {sorted(recovered_small)[:10]}; {result.summary()}"
    assert len(found) <= CEILING * result.unknowns, f"{len(found)} non-zero figures recovered; {result.summary()}\n{found.head(20).to_string()}"


def _closed_chain(data, *, moves: dict[str, str] | None = None, plant: bool = False) -> Settings:
    """The quarter-close demo chain in its own folder: one night on `DAY` (with the planted
    small cell if asked), 2025-Q3 frozen once. `moves` moves those units (unit or HR code ->
    new center) on `MOVED_ON` in a copy of the organisation file."""
    reference = data / "reference"
    shutil.copytree(REPO_ROOT / "reference", reference)
    if moves:
        org = pd.read_csv(reference / "organisation.csv", dtype=str, keep_default_na=False)
        moving = org["unit_code"].isin(moves) & (org["valid_to"] == "")
        before = org[moving].assign(valid_to=str(dt.date.fromisoformat(MOVED_ON) - dt.timedelta(days=1)))
        after = org[moving].assign(valid_from=MOVED_ON, center=org.loc[moving, "unit_code"].map(moves))
        pd.concat([org[~moving], before, after]).to_csv(reference / "organisation.csv", index=False)
    generate(data / "sources", "demo", seed=5 if plant else 11, extraction_date=DAY)
    settings = Settings(data, reference, "demo")
    extract_all(DAY, "night-1", settings)
    model_tasks.build_model(DAY, settings)
    staged = kpi_tasks.compute_kpis("night-1", settings, history_quarters=1)
    if plant:
        plant_small_cell(settings.zones.resolve(staged["path"]))
    kpi_tasks.publish_kpis(kpi_tasks.audit_kpis(staged, settings=settings), settings)
    freeze_quarter(QUARTER, settings=settings, run_id="close-1", frozen_by="test", now=dt.datetime(2025, 10, 21, 6))
    return settings


@pytest.fixture(scope="module")
def demo_settings(tmp_path_factory) -> Settings:
    """The quarter-close demo (seed 5, the planted T5.04 cell), nightly and version 1."""
    return _closed_chain(tmp_path_factory.mktemp("attacked-demo"), plant=True)


@pytest.fixture(scope="module")
def reorganised_settings(tmp_path_factory) -> Settings:
    """The quarter-close demo chain on an organisation file in which two units move center on
    the running quarter's first day, frozen once."""
    return _closed_chain(tmp_path_factory.mktemp("reorganised"), moves=MOVES)


def test_the_demo_public_output_gives_no_blanked_figure_away(demo_settings):
    public, truth, result = attack_public(demo_settings, kpis=ATTACKED)
    # the nightly rows and the frozen version are attacked together
    assert set(public["version"]) == {0, 1}
    assert result.blanked_rows > 1000 and result.relations.keys() >= {"breakdown", "org", "time", "measure", "version"}
    _assert_no_small_cell_recovered(truth, result)
    found = leaks(result)
    # the planted small cell (T5.04 SOF ÅTD = 3) is blanked and stays hidden, in both versions
    def cell(frame):
        return frame[(frame["kpi_id"] == "T5.04") & (frame["period_type"] == "ytd") & (frame["org_level"] == "sof")
                     & frame["dimension"].isna() & (frame["period"] == QUARTER)
                     & (frame["comparison"] == "current")].set_index("version")["value"]
    engine = make_engine(demo_settings.warehouse_url())
    try:
        truth = cell(read_table(engine, "mart.kpi_value"))
    finally:
        engine.dispose()
    planted = cell(public)
    small = truth[(truth > 0) & (truth < 5)].index
    assert sorted(small) == [0, 1] and planted.loc[small].isna().all(), (truth.to_dict(), planted.to_dict())
    assert not ((found["kpi_id"] == "T5.04") & (found["org_level"] == "sof") & (found["period_type"] == "ytd")).any()


def test_a_reorganisation_between_quarters_gives_no_blanked_figure_away(reorganised_settings):
    public, truth, result = attack_public(reorganised_settings, kpis=ATTACKED)
    moved = public[(public["org_level"] == "unit") & (public["org_key"] == "Socialcenter Nord")]
    # the moved unit's figures add up to its old center in 2025-Q3 and to its new one after
    assert {"2025-09-30", "2025-10-25"} <= set(pd.to_datetime(moved["period_end"]).dt.strftime("%Y-%m-%d"))
    _assert_no_small_cell_recovered(truth, result)


def test_the_publishers_audit_is_what_hides_the_last_small_cells(reorganised_settings):
    """The same nightly figures suppressed by the complement rule alone give small cells away
    (T5.04's `Ukendt` facility of area Voksne); with the audit (the default), none."""
    _, truth = public_and_truth(reorganised_settings, kpis=ATTACKED)
    nightly = truth[truth["version"] == 0].drop(columns="version")
    org = load_reference(reorganised_settings.reference_dir)["dim_org"]
    small = small_cells(truth)
    found = {}
    for audit in (False, True):
        public = suppress_for_public(nightly, org, breakdown_levels=("sof", "area"), audit=audit)
        recovered = leaks(attack(public.assign(version=0), nightly.assign(version=0), org))
        found[audit] = set(cell_keys(recovered.assign(version="0"))) & small
    assert found[False] and not found[True], found


def test_the_audit_blanks_the_same_cells_in_one_process_and_in_two(reorganised_settings):
    """KPIs share no relation, so the publisher audits them in forked workers (one per core): the
    output is the one process's, cell for cell, on a night where the audit repairs several KPIs
    (every KPI of the chain)."""
    _, truth = public_and_truth(reorganised_settings)
    nightly = truth[truth["version"] == 0].drop(columns="version")
    org = load_reference(reorganised_settings.reference_dir)["dim_org"]
    rule = suppress_for_public(nightly, org, breakdown_levels=("sof", "area"), audit=False)
    one, two = (suppress_for_public(nightly, org, breakdown_levels=("sof", "area"), workers=workers)
                for workers in (1, 2))
    pd.testing.assert_frame_equal(one, two)
    more = one["value"].isna() & rule["value"].notna()
    assert one["kpi_id"][more].nunique() >= 2, one["kpi_id"][more].value_counts()


def test_a_refresh_from_the_night_s_blanks_keeps_them_and_gives_nothing_away(reorganised_settings):
    """A daytime refresh starts the suppression from the night's blanks of every figure it
    publishes unchanged (`blank_before`: `unchanged_blanks`, as `publish_kpis` reads them). On
    the night's own figures that is the night's output, cell for cell: nothing is repaired
    again, and no cell the night blanked is shown beside it. With the running quarter's figures
    changed (twice every count, numerator and denominator: the relations still hold), every kept blank stays blank and the
    attacker recovers no small cell, on a chain where the night's audit repairs."""
    _, truth = public_and_truth(reorganised_settings)
    nightly = truth[truth["version"] == 0].drop(columns="version").reset_index(drop=True)
    org = load_reference(reorganised_settings.reference_dir)["dim_org"]
    levels = ("sof", "area")
    night = suppress_for_public(nightly, org, breakdown_levels=levels)
    blanked = night[night[["value", "numerator", "denominator"]].isna().all(axis=1)]
    same = unchanged_blanks(blanked, nightly, nightly)
    assert len(same) == len(blanked) > 1000
    pd.testing.assert_frame_equal(suppress_for_public(nightly, org, breakdown_levels=levels, blank_before=same),
                                  night)

    day = nightly.copy()
    running = (day["comparison"].eq("current") & day["provisional"].astype(bool)).to_numpy()
    counts = (day["numerator"].isna() & day["denominator"].isna() & day["unit"].eq("count")).to_numpy()
    for column in ("numerator", "denominator"):
        day.loc[running, column] *= 2
    day.loc[running & counts, "value"] *= 2
    kept = unchanged_blanks(blanked, day, nightly)
    # the running quarter's changed figures start afresh; its zeros and empty rows are unchanged
    assert len(kept) < len(blanked) and kept["period_end"].max() == night["period_end"].max()
    refreshed = suppress_for_public(day, org, breakdown_levels=levels, blank_before=kept)
    key = ["kpi_id", "measure", "period_type", "period_start", "period_end", "org_level", "org_key", "dimension",
           "dimension_value"]
    shown = refreshed.loc[refreshed["value"].notna(), key]
    assert shown.fillna("").merge(kept[key].fillna(""), on=key).empty
    result = attack(refreshed.assign(version=0), day.assign(version=0), org)
    _assert_no_small_cell_recovered(day.assign(version=0), result)


@pytest.mark.parametrize("chain", ["demo_settings", "reorganised_settings"])
def test_the_frozen_version_attacked_on_its_own_gives_no_small_cell_away(chain, request):
    """A frozen version holds the whole quarters without the running quarter's clipped periods,
    whose blanked cells can protect some of the nightly's: attacked as it stands, every KPI
    (tests/integration/test_relocation.py has the night where that happened)."""
    recovered, result = recovered_small_cells(request.getfixturevalue(chain), "WHERE version = 1")
    assert result.blanked_rows > 1000, result.summary()
    assert not recovered, f"small cells recovered: {sorted(recovered)[:10]}; {result.summary()}"
