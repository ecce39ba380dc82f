"""`klage`: complaints about decisions, processing time, staff and facilities.

Every complaint is about a real case in `boern` or `voksen`, so its `sagsreference` is a
`Sagsnummer` or a `sag_id` that exists; the quirks later blank, break or reformat some.
Decision complaints are first reconsidered by the municipality (genvurdering); those it
upholds go to Ankestyrelsen.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from etl.core.vocabulary import COMPLAINT_REASONS_BY_TYPE
from etl.synth.context import Context
from etl.synth.draw import choose, choose_from, ids_in_order
from etl.synth.timeline import DAY, NAT_DAY, Window, change_timestamps, days, uniform_dates

COMPLAINT_UNIT = "SOF-ADM"
#: Chance that a decision is complained about, by outcome.
COMPLAINT_RATE_BY_OUTCOME = {"Afslag": 0.25, "Delvis bevilget": 0.2, "Bevilget": 0.01}
LATE_DECISION_COMPLAINT_RATE = 0.08
STAFF_COMPLAINT_RATE = 0.005  # per case
OTHER_COMPLAINT_RATE = 0.003  # per case
FACILITY_COMPLAINT_RATE = 0.01  # per service at a facility
REASONS = COMPLAINT_REASONS_BY_TYPE  # the contract's closed list (etl/core/vocabulary.py)
RECONSIDERATION = {"Medhold": 20, "Fastholdt": 80}
APPEAL_OUTCOMES = {"Stadfæstet": 60, "Ændret": 10, "Ophævet": 8, "Hjemvist": 15, "Afvist": 7}


def build_klage(ctx: Context, boern: dict[str, pd.DataFrame], voksen: dict[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    rng = ctx.rng("klage")
    w = ctx.window
    ctx.reference.units("klage", COMPLAINT_UNIT)
    case_numbers = boern["Sag"].set_index("SagId")["Sagsnummer"]
    decisions = pd.concat([
        pd.DataFrame({"system": "boern", "reference": case_numbers[boern["Afgoerelse"]["SagId"]].to_numpy(),
                      "decided": boern["Afgoerelse"]["AfgoerelseDato"].to_numpy(),
                      "deadline": boern["Afgoerelse"]["FristDato"].to_numpy(),
                      "udfald": boern["Afgoerelse"]["Udfald"].to_numpy()}),
        pd.DataFrame({"system": "voksen", "reference": voksen["afgoerelse"]["sag_id"].astype(str).to_numpy(),
                      "decided": voksen["afgoerelse"]["afgoerelse_dato"].to_numpy(),
                      "deadline": voksen["afgoerelse"]["frist_dato"].to_numpy(),
                      "udfald": voksen["afgoerelse"]["udfald"].to_numpy()}),
    ], ignore_index=True)
    cases = pd.concat([
        pd.DataFrame({"system": "boern", "reference": boern["Sag"]["Sagsnummer"].to_numpy(),
                      "opened": boern["Sag"]["OprettetDato"].to_numpy(), "closed": boern["Sag"]["LukketDato"].to_numpy()}),
        pd.DataFrame({"system": "voksen", "reference": voksen["sag"]["sag_id"].astype(str).to_numpy(),
                      "opened": voksen["sag"]["oprettet"].to_numpy(), "closed": voksen["sag"]["lukket"].to_numpy()}),
    ], ignore_index=True)
    at_facility = voksen["ydelse"][voksen["ydelse"]["tilbud_id"].notna()]

    about_decision = decisions[rng.random(len(decisions)) < decisions["udfald"].map(COMPLAINT_RATE_BY_OUTCOME)]
    late = decisions[(decisions["decided"] > decisions["deadline"]).to_numpy()
                     & (rng.random(len(decisions)) < LATE_DECISION_COMPLAINT_RATE)]
    staff = cases[rng.random(len(cases)) < STAFF_COMPLAINT_RATE]
    other = cases[rng.random(len(cases)) < OTHER_COMPLAINT_RATE]
    facility = at_facility[rng.random(len(at_facility)) < FACILITY_COMPLAINT_RATE]
    complaints = pd.concat([
        pd.DataFrame({"klagetype": "Afgørelse", "system": about_decision["system"].to_numpy(),
                      "reference": about_decision["reference"].to_numpy(),
                      "received": about_decision["decided"].to_numpy() + days(1 + rng.random(len(about_decision)) * 27)}),
        pd.DataFrame({"klagetype": "Sagsbehandlingstid", "system": late["system"].to_numpy(),
                      "reference": late["reference"].to_numpy(),
                      "received": uniform_dates(rng, late["deadline"].to_numpy() + DAY, late["decided"].to_numpy())}),
        _during_case(rng, w, staff, "Personale"),
        _during_case(rng, w, other, "Andet"),
        pd.DataFrame({"klagetype": "Tilbud", "system": "voksen",
                      "reference": facility["sag_id"].astype(str).to_numpy(),
                      "received": uniform_dates(rng, np.maximum(facility["start_dato"].to_numpy(), w.start),
                                                np.where(facility["slut_dato"].isna(), w.end, facility["slut_dato"]))}),
    ], ignore_index=True)
    complaints = complaints[(complaints["received"] >= w.start) & (complaints["received"] < w.end)]
    complaints = complaints.reset_index(drop=True)
    return {"klage": _outcomes(ctx, rng, complaints)}


def _during_case(rng: np.random.Generator, w: Window, cases: pd.DataFrame, klagetype: str) -> pd.DataFrame:
    end = np.where(cases["closed"].isna(), w.end, cases["closed"].to_numpy())
    return pd.DataFrame({"klagetype": klagetype, "system": cases["system"].to_numpy(),
                         "reference": cases["reference"].to_numpy(),
                         "received": uniform_dates(rng, np.maximum(cases["opened"].to_numpy(), w.start), end)})


def _outcomes(ctx: Context, rng: np.random.Generator, complaints: pd.DataFrame) -> pd.DataFrame:
    """Reconsideration within four weeks, Ankestyrelsen within months; pending ones are open."""
    w = ctx.window
    n = len(complaints)
    received = complaints["received"].to_numpy()
    about_decision = (complaints["klagetype"] == "Afgørelse").to_numpy()
    reconsidered_on = received + days(7 + rng.random(n) * 21)
    reconsidered = about_decision & (reconsidered_on < w.end)
    reconsideration = choose(rng, RECONSIDERATION, n)
    appealed_on = reconsidered_on + days(60 + rng.random(n) * 180)
    appealed = reconsidered & (reconsideration == "Fastholdt") & (appealed_on < w.end)
    handled_on = received + days(10 + rng.random(n) * 50)
    settled = np.where(
        about_decision,
        np.where(reconsidered & (reconsideration == "Medhold"), reconsidered_on,
                 np.where(appealed, appealed_on, NAT_DAY)),
        np.where(handled_on < w.end, handled_on, NAT_DAY),
    )
    last_event = np.fmax(np.fmax(received, np.where(reconsidered, reconsidered_on, NAT_DAY)), settled)
    return pd.DataFrame({
        "klage_id": ids_in_order(received, complaints["reference"].to_numpy()),
        "modtaget_dato": received,
        "klagetype": complaints["klagetype"].to_numpy(),
        "aarsag": _reasons(rng, complaints["klagetype"].to_numpy()),
        "enhed_kode": COMPLAINT_UNIT,
        "kilde_system": complaints["system"].to_numpy(),
        "sagsreference": complaints["reference"].to_numpy(),
        "genvurdering": np.where(reconsidered, reconsideration, None),
        "ankestyrelse_udfald": np.where(appealed, choose(rng, APPEAL_OUTCOMES, n), None),
        "afgjort_dato": settled,
        "opdateret": change_timestamps(rng, last_event, w),
    })


def _reasons(rng: np.random.Generator, klagetype: np.ndarray) -> np.ndarray:
    reasons = np.empty(len(klagetype), dtype=object)
    for kind, options in REASONS.items():
        here = klagetype == kind
        reasons[here] = choose_from(rng, options, here.sum())
    return reasons
