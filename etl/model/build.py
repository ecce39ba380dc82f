"""Build the canonical model from each source's current validated extract.

Reads staged (typed, CPR-bearing) tables, links persons through `etl.model.link`, and writes
only pseudonymous frames. Soft-deleted rows, and rows hanging off a soft-deleted case,
are left out here once, so no KPI or rule has to remember them.
"""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path

import pandas as pd

from etl.core.reference import read_accounts, read_refusion
from etl.core.storage import read_json
from etl.model import Model
from etl.model.link import KIND_CPR, KIND_INVALID, KIND_MISSING, KIND_REPLACEMENT, Pseudonymiser, link_persons, normalise_cpr
from etl.sources import SOURCES

log = logging.getLogger(__name__)

AREA_CHILDREN, AREA_ADULTS, UNKNOWN = "Børn og Unge", "Voksne", "Ukendt"
#: Facilities where an anonymous stay is legitimate (DQ05 resolved reading).
ANONYMOUS_ALLOWED = ("Krisecenter §109", "Natcafé")


# --- reading -------------------------------------------------------------------------

def _partition_pointer(staged_root: Path, source, as_of: dt.date) -> dict | None:
    """A pointer to the source's newest fully validated extract on or before `as_of`."""
    dates = sorted({p.name.split("=", 1)[1] for t in source.tables
                    for p in (staged_root / source.name / t.name).glob("extract_date=*")}, reverse=True)
    for day in (d for d in dates if d <= as_of.isoformat()):
        folders = {t.name: staged_root / source.name / t.name / f"extract_date={day}" for t in source.tables}
        if all((f / "validation.json").exists() for f in folders.values()):
            return {"source": source.name, "extract_date": day,
                    "tables": {name: {**read_json(f / "validation.json"), "staged_path": str(f / "data.parquet")}
                               for name, f in folders.items()}}
    return None


def load_current_staged(staged_root: Path, as_of: dt.date | None = None
                        ) -> tuple[dict[tuple[str, str], pd.DataFrame], dict[str, dict]]:
    """Every source's current good extract (`CURRENT.json`); an absent source is empty.

    With `as_of` earlier than a source's current extract (a backfill), the source's newest
    validated extract on or before that date is used instead, so a model rebuilt for a
    past date sees that date's data.
    """
    frames, pointers = {}, {}
    for source in SOURCES.values():
        pointer_path = staged_root / source.name / "CURRENT.json"
        pointer = read_json(pointer_path) if pointer_path.exists() else None
        if pointer and as_of and pointer["extract_date"] > as_of.isoformat():
            pointer = _partition_pointer(staged_root, source, as_of)
        if pointer:
            pointers[source.name] = pointer
        else:
            log.warning("source %s has no validated extract yet: its tables are empty in the model", source.name)
        for table in source.tables:
            if pointer:
                frames[(source.name, table.name)] = pd.read_parquet(pointer["tables"][table.name]["staged_path"])
            else:
                from schemas import PANDAS_DTYPES  # noqa: PLC0415
                # as a staged file reads back: Parquet keeps timestamps in milliseconds
                dtypes = {**PANDAS_DTYPES, "date": "datetime64[ms]", "datetime": "datetime64[ms]"}
                frames[(source.name, table.name)] = pd.DataFrame(
                    {c.name: pd.Series(dtype=dtypes[c.type]) for c in table.columns})
    return frames, pointers


def load_reference(reference_dir: Path) -> dict[str, pd.DataFrame]:
    """The municipality's own organisation, paragraph, deadline and finance files (the
    account plan's functions and the refund thresholds, shape-checked on load)."""
    org = pd.read_csv(reference_dir / "organisation.csv", dtype=str, keep_default_na=False)
    for c in ("valid_from", "valid_to"):
        org[c] = pd.to_datetime(org[c].replace("", None), format="%Y-%m-%d")
    paragraphs = pd.read_csv(reference_dir / "paragraphs.csv", dtype=str, keep_default_na=False)
    deadlines = pd.read_csv(reference_dir / "deadlines.csv", dtype={"service_code": str, "basis": str})
    return {"dim_org": org, "dim_paragraph": paragraphs, "ref_deadline": deadlines,
            "ref_account": read_accounts(reference_dir / "accounts.csv"),
            "ref_refusion": read_refusion(reference_dir / "refusion.csv")}


# --- helpers -----------------------------------------------------------------------

def _key(source: str, ids: pd.Series) -> pd.Series:
    """`"<source>:<id>"`, so ids of different systems never collide (integers without `.0`)."""
    return (source + ":" + _id(ids)).astype("str")


def _id(ids: pd.Series) -> pd.Series:
    """A source's own id as text (the record id a data owner looks up)."""
    return (ids.astype("Int64").astype(str) if ids.dtype.kind in "iuf" or str(ids.dtype) == "Int64"
            else ids.astype(str)).astype("str")


def _live(frame: pd.DataFrame, deleted_column: str | None) -> pd.DataFrame:
    if deleted_column is None:
        return frame
    return frame[~frame[deleted_column].fillna(False).astype(bool)]


def _service_codes(paragraph_text: pd.Series, paragraphs: pd.DataFrame) -> pd.Series:
    mapping = paragraphs.set_index("paragraph_text")["service_code"]
    return paragraph_text.astype(str).str.strip().map(mapping)


def _org_area(unit_codes: pd.Series, org: pd.DataFrame) -> pd.Series:
    latest = org.sort_values("valid_from").drop_duplicates("unit_code", keep="last").set_index("unit_code")["area"]
    return unit_codes.map(latest).fillna(UNKNOWN)


# --- the build ---------------------------------------------------------------------

def build_model(frames: dict[tuple[str, str], pd.DataFrame], reference: dict[str, pd.DataFrame],
                pseudonymiser: Pseudonymiser, extraction_date: dt.date,
                extraction_time: dt.datetime | None = None) -> Model:
    f = frames
    org, paragraphs = reference["dim_org"], reference["dim_paragraph"]
    barn, borger = f[("boern", "Barn")], f[("voksen", "borger")]
    ophold, magt = f[("tilbud", "ophold")], f[("tilbud", "magtanvendelse")]
    tilbud, besk, cpr_file = f[("tilbud", "tilbud")], f[("beskaeftigelse", "beskaeftigelse")], f[("cpr", "cpr")]

    # Persons: every CPR-bearing row of the fagsystemer, linked in one pass.
    def persons(source, table, ids, cpr, birth=None, gender=None):
        return pd.DataFrame({"source": source, "source_table": table, "source_person_id": ids.astype(str).to_numpy(),
                             "cpr": cpr.to_numpy(),
                             "src_birth": (birth if birth is not None else pd.Series(pd.NaT, index=ids.index)).to_numpy(),
                             "src_gender": (gender if gender is not None else pd.Series(None, index=ids.index, dtype="str")).to_numpy()})

    named_stays = ophold[ophold["cpr"].notna()]
    named_force = magt[magt["cpr"].notna()]
    person_rows = pd.concat([
        persons("boern", "Barn", barn["BarnId"].astype("Int64"), barn["CPR"], barn["Foedselsdato"], barn["Koen"]),
        persons("voksen", "borger", borger["borger_id"], borger["cpr"], borger["foedselsdato"], borger["koen"]),
        persons("tilbud", "ophold", named_stays["ophold_id"].astype("Int64"), named_stays["cpr"]),
        persons("tilbud", "magtanvendelse", named_force["magt_id"].astype("Int64"), named_force["cpr"]),
    ], ignore_index=True)
    links = link_persons(person_rows, pseudonymiser)
    links["src_birth"], links["src_gender"] = person_rows["src_birth"].to_numpy(), person_rows["src_gender"].to_numpy()
    key_of = {(s, t): grp.set_index("source_person_id")["citizen_key"] for (s, t), grp in links.groupby(["source", "source_table"])}

    def citizen(source: str, table: str, ids: pd.Series) -> pd.Series:
        """Citizen key of a person id; an id unknown to the person table is its own citizen."""
        text = ids.astype("Int64").astype(str) if str(ids.dtype) != "str" else ids.astype(str)
        known = text.map(key_of.get((source, table), pd.Series(dtype="str")))
        unknown = known.isna() & ids.notna()  # hash only the ids that need a key of their own
        fallback = pseudonymiser.many("source-person", (source + ":" + table + ":" + text).where(unknown))
        return known.fillna(fallback).where(ids.notna()).astype("str")

    # Employment status links on CPR alone; a row without a usable number cannot be placed.
    # The register is the largest table, so it is keyed directly rather than as persons.
    besk_cpr = normalise_cpr(besk["cpr"])
    besk_usable = besk_cpr["kind"].isin([KIND_CPR, KIND_REPLACEMENT])
    fact_employment_status = pd.DataFrame({  # aligned on the register's index, no Python objects
        "citizen_key": pseudonymiser.many("person", besk_cpr["cpr"]), "month": besk["maaned"],
        "status": besk["status"], "completed_education": besk["afsluttet_uddannelse"],
    })[besk_usable].drop_duplicates(["citizen_key", "month"], keep="last")

    register_cpr = normalise_cpr(cpr_file["PNR"])[["cpr", "kind"]]  # once, for citizens and DQ05
    dim_citizen = _citizens(links, cpr_file, register_cpr)

    # Cases.
    sag = _live(f[("boern", "Sag")], "Slettet")
    vsag = _live(f[("voksen", "sag")], "slettet")
    cases = pd.concat([
        pd.DataFrame({"case_key": _key("boern", sag["SagId"]), "source": "boern", "case_id": sag["SagId"].astype(str),
                      "case_number": sag["Sagsnummer"], "citizen_key": citizen("boern", "Barn", sag["BarnId"]),
                      "opened_date": sag["OprettetDato"], "closed_date": sag["LukketDato"], "unit_code": sag["EnhedKode"],
                      "caseworker_key": pseudonymiser.many("caseworker", "boern:" + sag["SagsbehandlerId"].astype("Int64").astype(str).where(sag["SagsbehandlerId"].notna())),
                      "target_group": sag["Maalgruppe"], "area": AREA_CHILDREN}),
        pd.DataFrame({"case_key": _key("voksen", vsag["sag_id"]), "source": "voksen", "case_id": vsag["sag_id"].astype(str),
                      "case_number": vsag["sag_id"].astype(str), "citizen_key": citizen("voksen", "borger", vsag["borger_id"]),
                      "opened_date": vsag["oprettet"], "closed_date": vsag["lukket"], "unit_code": vsag["enhed_kode"],
                      "caseworker_key": pseudonymiser.many("caseworker", "voksen:" + vsag["sagsbehandler_id"].astype("Int64").astype(str).where(vsag["sagsbehandler_id"].notna())),
                      "target_group": vsag["maalgruppe"], "area": AREA_ADULTS}),
    ], ignore_index=True)
    deleted_cases = set(_key("boern", f[("boern", "Sag")].loc[f[("boern", "Sag")]["Slettet"].fillna(False).astype(bool), "SagId"])) | \
        set(_key("voksen", f[("voksen", "sag")].loc[f[("voksen", "sag")]["slettet"].fillna(False).astype(bool), "sag_id"]))
    case_attrs = cases.set_index("case_key")[["citizen_key", "unit_code", "target_group"]]

    def on_case(frame: pd.DataFrame, source: str, case_col: str) -> pd.DataFrame:
        """Case key and attributes for rows hanging off a case; rows of deleted cases drop out."""
        keys = _key(source, frame[case_col])
        keep = ~keys.isin(deleted_cases)
        frame, keys = frame[keep], keys[keep]
        attrs = case_attrs.reindex(keys)
        orphaned = attrs["citizen_key"].isna().to_numpy()  # hash only rows without a case's citizen
        orphan_key = pseudonymiser.many("source-person", (source + ":case:" + keys).where(orphaned))
        return pd.DataFrame({"case_key": keys.to_numpy(),
                             "citizen_key": attrs["citizen_key"].fillna(pd.Series(orphan_key.to_numpy(), index=attrs.index)).to_numpy(),
                             "unit_code": attrs["unit_code"].to_numpy(), "target_group": attrs["target_group"].to_numpy()},
                            index=frame.index), frame

    # Decisions.
    parts = []
    for source, table, cols, area in (
        ("boern", "Afgoerelse", ("AfgoerelseId", "SagId", "Paragraf", "AnsoegningDato", "AfgoerelseDato", "FristDato", "Udfald"), AREA_CHILDREN),
        ("voksen", "afgoerelse", ("afgoerelse_id", "sag_id", "paragraf", "ansoegt_dato", "afgoerelse_dato", "frist_dato", "udfald"), AREA_ADULTS),
    ):
        case, rows = on_case(f[(source, table)], source, cols[1])
        parts.append(pd.DataFrame({
            "decision_key": _key(source, rows[cols[0]]), "source": source, "decision_id": rows[cols[0]].astype(str),
            "case_key": case["case_key"], "citizen_key": case["citizen_key"], "paragraph_text": rows[cols[2]],
            "service_code": _service_codes(rows[cols[2]], paragraphs), "application_date": rows[cols[3]],
            "decision_date": rows[cols[4]], "deadline_date": rows[cols[5]], "outcome": rows[cols[6]],
            "unit_code": case["unit_code"], "target_group": case["target_group"], "area": area}))
    fact_decision = pd.concat(parts, ignore_index=True)

    # Services and measures.
    foran = _live(f[("boern", "Foranstaltning")], "Slettet")
    case_b, foran = on_case(foran, "boern", "SagId")
    ydelse = _live(f[("voksen", "ydelse")], "slettet")
    case_v, ydelse = on_case(ydelse, "voksen", "sag_id")
    fact_service = pd.concat([
        pd.DataFrame({"service_key": _key("boern", foran["ForanstaltningId"]), "source": "boern",
                      "service_id": foran["ForanstaltningId"].astype(str), "case_key": case_b["case_key"],
                      "citizen_key": case_b["citizen_key"], "decision_key": None, "paragraph_text": foran["Paragraf"],
                      "service_code": _service_codes(foran["Paragraf"], paragraphs), "category": foran["Kategori"],
                      "service_type": foran["Type"], "start_date": foran["StartDato"], "end_date": foran["SlutDato"],
                      "supplier": foran["Leverandoer"], "facility_id": None, "unit_code": case_b["unit_code"],
                      "target_group": case_b["target_group"], "area": AREA_CHILDREN}),
        pd.DataFrame({"service_key": _key("voksen", ydelse["ydelse_id"]), "source": "voksen",
                      "service_id": ydelse["ydelse_id"].astype(str), "case_key": case_v["case_key"],
                      "citizen_key": case_v["citizen_key"],
                      "decision_key": _key("voksen", ydelse["afgoerelse_id"]).where(ydelse["afgoerelse_id"].notna()),
                      "paragraph_text": ydelse["paragraf"], "service_code": _service_codes(ydelse["paragraf"], paragraphs),
                      "category": None, "service_type": ydelse["ydelsestype"], "start_date": ydelse["start_dato"],
                      "end_date": ydelse["slut_dato"], "supplier": None,
                      "facility_id": _id(ydelse["tilbud_id"]).where(ydelse["tilbud_id"].notna()),
                      "unit_code": case_v["unit_code"], "target_group": case_v["target_group"], "area": AREA_ADULTS}),
    ], ignore_index=True)

    # Facilities, stays, use of force.
    dim_facility = pd.DataFrame({"facility_id": _id(tilbud["tilbud_id"]), "facility_type": tilbud["tilbudstype"],
                                 "unit_code": tilbud["enhed_kode"], "places": tilbud["pladser"],
                                 "active_from": tilbud["aktiv_fra"], "active_to": tilbud["aktiv_til"]})
    facility = dim_facility.set_index("facility_id")
    stay_facility = _id(ophold["tilbud_id"])
    stay_unit = stay_facility.map(facility["unit_code"])
    fact_stay = pd.DataFrame({
        "stay_key": _key("tilbud", ophold["ophold_id"]), "stay_id": ophold["ophold_id"].astype(str),
        "facility_id": stay_facility, "facility_type": stay_facility.map(facility["facility_type"]).fillna(UNKNOWN),
        "citizen_key": citizen("tilbud", "ophold", ophold["ophold_id"].astype("Int64").where(ophold["cpr"].notna())),
        "has_cpr": ophold["cpr"].notna(), "check_in": ophold["indskrevet"], "check_out": ophold["udskrevet"],
        "discharged_to": ophold["udskrevet_til"], "unit_code": stay_unit, "area": _org_area(stay_unit, org)})
    fact_use_of_force = pd.DataFrame({
        "force_id": _id(magt["magt_id"]), "facility_id": _id(magt["tilbud_id"]),
        "citizen_key": citizen("tilbud", "magtanvendelse", magt["magt_id"].astype("Int64").where(magt["cpr"].notna())),
        "occurred_at": magt["tidspunkt"], "force_type": magt["type"]})

    # Children: notifications, investigations, plans.
    fact_notification = _notifications(f[("boern", "Underretning")], cases[cases["source"] == "boern"], citizen)
    inv = f[("boern", "Undersoegelse")]
    case_i, inv = on_case(inv, "boern", "SagId")
    fact_investigation = pd.DataFrame({
        "investigation_id": _id(inv["UndersoegelseId"]), "case_key": case_i["case_key"],
        "citizen_key": case_i["citizen_key"], "paragraph_text": inv["Paragraf"],
        "service_code": _service_codes(inv["Paragraf"], paragraphs), "start_date": inv["StartDato"],
        "deadline_date": inv["FristDato"], "completed_date": inv["AfsluttetDato"], "unit_code": case_i["unit_code"]})
    plan = f[("boern", "Handleplan")]
    case_p, plan = on_case(plan, "boern", "SagId")
    fact_plan = pd.DataFrame({
        "plan_id": _id(plan["HandleplanId"]), "case_key": case_p["case_key"],
        "decision_key": _key("boern", plan["AfgoerelseId"]).where(plan["AfgoerelseId"].notna()),
        "plan_date": plan["Dato"], "next_followup_date": plan["NaesteOpfoelgning"]})

    fact_complaint = _complaints(f[("klage", "klage")], cases)

    # Adults: waiting lists and assessments.
    vl, fv = f[("voksen", "venteliste")], f[("voksen", "funktionsvurdering")]
    fact_waiting_list = pd.DataFrame({
        "waiting_id": _id(vl["venteliste_id"]), "citizen_key": citizen("voksen", "borger", vl["borger_id"]),
        "offer_type": vl["tilbudstype"], "listed_date": vl["opskrevet_dato"], "left_date": vl["afgang_dato"],
        "left_reason": vl["afgang_aarsag"]})
    fact_assessment = pd.DataFrame({
        "assessment_id": _id(fv["vurdering_id"]), "citizen_key": citizen("voksen", "borger", fv["borger_id"]),
        "assessment_date": fv["dato"], "level": fv["niveau"]})

    # The workplace (employees are not citizens: their CPR is only checked, never kept).
    med, fra = f[("hr", "medarbejder")], f[("hr", "fravaer")]
    rek, hae = f[("hr", "rekruttering")], f[("hr", "arbejdsmiljoe_haendelse")]
    dim_employee = pd.DataFrame({
        "employee_key": _key("hr", med["medarbejder_nr"]), "unit_code": med["enhed_kode"],
        "job_category": med["stillingskategori"], "hired_date": med["ansat_dato"], "left_date": med["fratraadt_dato"],
        "leave_reason": med["fratraedelsesaarsag"], "fte": med["beskaeftigelsesgrad"]})
    fact_absence = pd.DataFrame({
        "absence_id": _id(fra["fravaer_id"]), "employee_key": _key("hr", fra["medarbejder_nr"]),
        "absence_type": fra["fravaerstype"], "from_date": fra["fra_dato"], "to_date": fra["til_dato"]})
    fact_recruitment = pd.DataFrame({
        "recruitment_id": _id(rek["rekruttering_id"]), "unit_code": rek["enhed_kode"],
        "job_category": rek["stillingskategori"], "posted_date": rek["opslaaet_dato"],
        "closed_date": rek["afsluttet_dato"], "result": rek["resultat"]})
    fact_incident = pd.DataFrame({
        "incident_id": _id(hae["haendelse_id"]),
        "employee_key": _key("hr", hae["medarbejder_nr"]).where(hae["medarbejder_nr"].notna()),
        "unit_code": hae["enhed_kode"], "facility_id": _id(hae["tilbud_id"]).where(hae["tilbud_id"].notna()),
        "incident_date": hae["dato"], "category": hae["kategori"]})

    link_finding = _link_findings(links, ophold, tilbud, f[("hr", "medarbejder")], cpr_file, register_cpr)
    link_person = links[["source", "source_table", "source_person_id", "citizen_key", "match_method", "match_confidence"]]

    return Model.from_frames(
        extraction_date, extraction_time,
        dim_citizen=dim_citizen, link_person=link_person, link_finding=link_finding,
        dim_org=reference["dim_org"], dim_paragraph=paragraphs, ref_deadline=reference["ref_deadline"],
        fact_case=cases, fact_decision=fact_decision, fact_service=fact_service, dim_facility=dim_facility,
        fact_stay=fact_stay, fact_notification=fact_notification, fact_investigation=fact_investigation,
        fact_plan=fact_plan, fact_complaint=fact_complaint, fact_use_of_force=fact_use_of_force,
        fact_waiting_list=fact_waiting_list, fact_assessment=fact_assessment,
        fact_employment_status=fact_employment_status, dim_employee=dim_employee, fact_absence=fact_absence,
        fact_recruitment=fact_recruitment, fact_incident=fact_incident)


def _citizens(links: pd.DataFrame, cpr_file: pd.DataFrame, register_cpr: pd.DataFrame) -> pd.DataFrame:
    """One row per citizen; demographics from the CPR extract, else the source, else the digits."""
    register = cpr_file.assign(cpr=register_cpr["cpr"]).dropna(subset=["cpr"])
    register = register.drop_duplicates("cpr", keep="last").set_index("cpr")
    ordered = links.assign(rank=links["kind"].map({"cpr": 0, "replacement": 1}).fillna(2)).sort_values(["citizen_key", "rank"])
    first = ordered.groupby("citizen_key", sort=True).agg(
        kind=("kind", "first"), cpr=("cpr", "first"), src_birth=("src_birth", "first"),
        src_gender=("src_gender", "first"), digit_birth=("birth_date", "first"), digit_gender=("gender", "first"))
    reg = register.reindex(first["cpr"])
    reg.index = first.index
    return pd.DataFrame({
        "citizen_key": first.index,
        "id_kind": first["kind"].map({"cpr": "cpr", "replacement": "replacement"}).fillna("source_id").to_numpy(),
        "birth_date": reg["FOED_DATO"].fillna(first["src_birth"]).fillna(first["digit_birth"]).to_numpy(),
        "gender": reg["KOEN"].fillna(first["src_gender"]).fillna(first["digit_gender"]).to_numpy(),
        "municipality_code": reg["KOMKOD"].to_numpy(), "bydel": reg["BYDEL"].to_numpy(),
        "cpr_status": reg["STATUS"].to_numpy()}).reset_index(drop=True)


def _notifications(und: pd.DataFrame, boern_cases: pd.DataFrame, citizen) -> pd.DataFrame:
    """A notification's unit is that of the child's case opened last on or before it
    arrived (else the child's first case; else unknown)."""
    notes = und.assign(child_key=citizen("boern", "Barn", und["BarnId"]))
    cases = boern_cases[["citizen_key", "opened_date", "unit_code"]].dropna(subset=["opened_date"]).sort_values("opened_date")
    left = notes.reset_index().sort_values("ModtagetTid")
    matched = pd.merge_asof(left, cases.rename(columns={"citizen_key": "child_key"}), left_on="ModtagetTid",
                            right_on="opened_date", by="child_key", direction="backward")
    first_unit = cases.drop_duplicates("citizen_key").set_index("citizen_key")["unit_code"]
    matched["unit_code"] = matched["unit_code"].fillna(matched["child_key"].map(first_unit))
    matched = matched.set_index("index").reindex(notes.index)
    return pd.DataFrame({
        "notification_id": _id(und["UnderretningId"]),
        "child_id": und["BarnId"].astype("Int64").astype(str).where(und["BarnId"].notna()),
        "citizen_key": notes["child_key"], "received_at": und["ModtagetTid"], "assessed_at": und["VurderetTid"],
        "notification_source": und["Kilde"], "acute": und["Akut"], "unit_code": matched["unit_code"],
        "area": AREA_CHILDREN})


def normalise_case_reference(values: pd.Series) -> pd.Series:
    """Case references as registered by hand: spaces and case do not matter."""
    return values.astype("str").str.upper().str.replace(r"\s+", "", regex=True)


def _complaints(klage: pd.DataFrame, cases: pd.DataFrame) -> pd.DataFrame:
    """Resolve each complaint's reference within its named system only (DQ03)."""
    ref = normalise_case_reference(klage["sagsreference"])
    boern = cases[cases["source"] == "boern"]
    voksen = cases[cases["source"] == "voksen"]
    by_number = pd.Series(boern["case_key"].to_numpy(), index=normalise_case_reference(boern["case_number"])).groupby(level=0).first()
    by_id = pd.Series(voksen["case_key"].to_numpy(), index=voksen["case_id"].astype(str)).groupby(level=0).first()
    voksen_ref = ref.str.lstrip("0")
    case_key = pd.Series(None, index=klage.index, dtype="str")
    case_key = case_key.mask(klage["kilde_system"] == "boern", ref.map(by_number))
    case_key = case_key.mask(klage["kilde_system"] == "voksen", voksen_ref.map(by_id))
    return pd.DataFrame({
        "complaint_id": _id(klage["klage_id"]), "received_date": klage["modtaget_dato"],
        "complaint_type": klage["klagetype"], "cause": klage["aarsag"], "unit_code": klage["enhed_kode"],
        "source_system": klage["kilde_system"], "case_reference": klage["sagsreference"], "case_key": case_key,
        "reconsideration": klage["genvurdering"], "appeals_outcome": klage["ankestyrelse_udfald"],
        "decided_date": klage["afgjort_dato"]})


def _link_findings(links: pd.DataFrame, ophold: pd.DataFrame, tilbud: pd.DataFrame, medarbejder: pd.DataFrame,
                   cpr_file: pd.DataFrame, register_cpr: pd.DataFrame) -> pd.DataFrame:
    """DQ05 (unusable CPR) and DQ09 (one CPR under several ids): only this step sees CPR."""
    staff = pd.DataFrame({"source": "hr", "source_table": "medarbejder",
                          "source_person_id": medarbejder["medarbejder_nr"].astype("Int64").astype(str),
                          "cpr": medarbejder["cpr"].astype("Int64").astype(str).where(medarbejder["cpr"].notna())})
    staff_norm = normalise_cpr(staff["cpr"])
    staff = staff.assign(kind=staff_norm["kind"], cpr=staff_norm["cpr"])
    register = pd.DataFrame({  # record id = the file line (header is line 1)
        "source": "cpr", "source_table": "cpr", "source_person_id": (cpr_file.index.to_series() + 2).astype(str).to_numpy(),
        "kind": register_cpr["kind"].to_numpy(), "cpr": register_cpr["cpr"].to_numpy()})
    people = pd.concat([links[["source", "source_table", "source_person_id", "kind", "cpr"]], staff, register], ignore_index=True)

    # DQ05 population: person tables, plus stays/use of force where registration is required.
    facility_type = ophold["tilbud_id"].map(tilbud.set_index("tilbud_id")["tilbudstype"])
    anonymous_ok = ophold.loc[facility_type.isin(ANONYMOUS_ALLOWED) & ophold["cpr"].isna(), "ophold_id"]
    unnamed_stays = ophold[ophold["cpr"].isna() & ~ophold["ophold_id"].isin(anonymous_ok)]
    missing_stays = pd.DataFrame({"source": "tilbud", "source_table": "ophold",
                                  "source_person_id": unnamed_stays["ophold_id"].astype("Int64").astype(str),
                                  "kind": KIND_MISSING, "cpr": None})
    dq05 = pd.concat([people, missing_stays], ignore_index=True)
    dq05 = pd.DataFrame({"rule_id": "DQ05", "source": dq05["source"], "source_table": dq05["source_table"],
                         "record_id": dq05["source_person_id"], "failing": dq05["kind"].isin([KIND_MISSING, KIND_INVALID]),
                         "detail": dq05["kind"]})

    # DQ09: per person table, every row of a CPR seen under two or more source ids.
    person_tables = people[people["source_table"].isin(["Barn", "borger", "medarbejder"]) & people["cpr"].notna()]
    ids_per_cpr = person_tables.groupby(["source_table", "cpr"])["source_person_id"].transform("nunique")
    dq09 = pd.DataFrame({"rule_id": "DQ09", "source": person_tables["source"], "source_table": person_tables["source_table"],
                         "record_id": person_tables["source_person_id"], "failing": ids_per_cpr >= 2,
                         "detail": (ids_per_cpr >= 2).map({True: "duplicate", False: None})})
    return pd.concat([dq05, dq09], ignore_index=True)
