"""DQ05 as the catalogue's resolved reading states it (issue 20): stays and uses of force at
facilities where registration is required are in the population, and one without a CPR
fails; only anonymous rows at §109 facilities and natcaféer (the reference's
`anonymous_allowed` roles) are outside it; such a row that carries a CPR is checked."""

import datetime as dt

import pandas as pd
from staged_frames import staged

from etl.core.reference import load_reference
from etl.core.settings import REPO_ROOT
from etl.model.build import build_model
from etl.model.link import Pseudonymiser
from etl.quality.rules import RULES

DAY = dt.date(2025, 11, 15)
T = pd.Timestamp
VALID, INVALID = "020390-1234", "12345"


def _facility(tilbud_id: int, kind: str) -> dict:
    return {"tilbud_id": tilbud_id, "tilbudstype": kind, "enhed_kode": "TIL-HERB", "pladser": 10,
            "aktiv_fra": T("2019-01-01"), "aktiv_til": None, "opdateret": T("2025-01-01")}


def _stay(ophold_id: int, tilbud_id: int, cpr: str | None) -> dict:
    return {"ophold_id": ophold_id, "tilbud_id": tilbud_id, "cpr": cpr, "indskrevet": T("2025-01-01 20:00"),
            "udskrevet": None, "udskrevet_til": None, "opdateret": T("2025-01-01")}


def _force(magt_id: int, tilbud_id: int, cpr: str | None) -> dict:
    return {"magt_id": magt_id, "tilbud_id": tilbud_id, "cpr": cpr, "tidspunkt": T("2025-03-01 12:00"),
            "type": "Fastholdelse", "opdateret": T("2025-03-01")}


def test_dq05_population_and_failures_on_planted_stays_and_uses_of_force():
    frames = staged(
        tilbud__tilbud=[_facility(1, "Herberg §110"), _facility(2, "Natcafé"), _facility(3, "Krisecenter §109"),
                        _facility(4, "Længerevarende botilbud §108")],
        tilbud__ophold=[_stay(1, 1, None),      # §110 without CPR: in, fails
                        _stay(2, 2, None),      # anonymous natcafé: out
                        _stay(3, 3, None),      # anonymous §109: out
                        _stay(4, 3, INVALID),   # §109 with an invalid CPR: in, fails
                        _stay(5, 4, VALID),     # §108 with a CPR: in, passes
                        _stay(6, 99, None)],    # unknown facility: registration required, fails
        tilbud__magtanvendelse=[_force(1, 4, None),     # §108 without CPR: in, fails
                                _force(2, 1, None),     # §110 without CPR: in, fails
                                _force(3, 2, None),     # natcafé, anonymous: out
                                _force(4, 3, None),     # §109, anonymous: out
                                _force(5, 4, VALID),    # with CPR: in, passes
                                _force(6, 3, INVALID)],  # §109 with an invalid CPR: in, fails
    )
    model = build_model(frames, load_reference(REPO_ROOT / "reference"), Pseudonymiser(b"test-key-0123456789"), DAY)
    found = {(f.source_table, r): bool(x) for f in RULES["DQ05"].check(model) for r, x in zip(f.record_ids, f.failing)
             if f.source == "tilbud"}
    assert found == {("ophold", "1"): True, ("ophold", "4"): True, ("ophold", "5"): False, ("ophold", "6"): True,
                     ("magtanvendelse", "1"): True, ("magtanvendelse", "2"): True, ("magtanvendelse", "5"): False,
                     ("magtanvendelse", "6"): True}
