"""The synthetic fagsystemer: contract shape, determinism, exact planted defects, CPR facts.

Everything runs on the `demo` profile. Planted counts are recomputed from the written
databases and files with the checks a data-quality rule would use, so the report can be
trusted as the expected answer for the pipeline's own checks.
"""

from __future__ import annotations

import hashlib
import re
import sqlite3
from datetime import date, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import MetaData, create_engine

from etl.core import vocabulary
from etl.core.reference import load_reference
from etl.core.settings import REPO_ROOT
from etl.core.vocabulary import ANBRINGELSE, PLACEMENT_TYPES, PREVENTIVE_TYPES
from etl.sources import SOURCES
from etl.synth import DEFAULT_EXTRACTION_DATE, PROFILES, generate
from etl.synth import boern as synth_boern
from etl.synth import hr as synth_hr
from etl.synth import klage as synth_klage
from etl.synth import oekonomi as synth_oekonomi
from etl.synth import registers as synth_registers
from etl.synth import tilbud as synth_tilbud
from etl.synth import voksen as synth_voksen
from etl.synth.generator import to_contract
from etl.synth.profiles import DEFAULT_QUIRK_RATES
from etl.synth.reference import Reference
from etl.synth.writer import insert_portable, table_for

DATABASES = [name for name, source in SOURCES.items() if source.kind == "database"]
NO_QUIRKS = {name: 0.0 for name in DEFAULT_QUIRK_RATES}
SHELTERS = ("Herberg §110", "Forsorgshjem §110", "Natcafé")
# The `demo` and `clean` (every rate 0) generations are fixtures in conftest.py.


def read(out: Path, source: str, table: str) -> pd.DataFrame:
    with sqlite3.connect(out / f"{source}.db") as conn:
        return pd.read_sql(f"SELECT * FROM {table}", conn)


def normalised(references: pd.Series) -> pd.Series:
    return references.str.replace(r"\s+", "", regex=True).str.upper()


def parse_cpr(text: str) -> tuple[date, bool] | None:
    """Birth date and is-male from a CPR (replacement numbers included), None if unparseable."""
    digits = re.sub(r"[-\s]", "", text)
    if not re.fullmatch(r"\d{7}[0-9A-Z]{2}\d", digits):
        return None
    day, month, yy, seventh = int(digits[:2]), int(digits[2:4]), int(digits[4:6]), int(digits[6])
    day = day - 60 if day > 60 else day
    if seventh <= 3:
        century = 1900
    elif seventh in (4, 9):
        century = 2000 if yy <= 36 else 1900
    else:
        century = 2000 if yy <= 57 else 1800
    try:
        return date(century + yy, month, day), int(digits[-1]) % 2 == 1
    except ValueError:
        return None


def unparseable(values: pd.Series) -> int:
    return int(sum(parse_cpr(v) is None for v in values.dropna()))


def overlapping_stays(stays: pd.DataFrame, as_of: datetime) -> int:
    """Stays of one person that start before an earlier stay of the same type has ended."""
    named = stays[stays["cpr"].notna()].copy()
    named["person"] = named["cpr"].str.replace("-", "", regex=False)
    named["start"] = pd.to_datetime(named["indskrevet"])
    named["end"] = pd.to_datetime(named["udskrevet"]).fillna(pd.Timestamp(as_of) + timedelta(days=36500))
    named = named.sort_values(["person", "tilbudstype", "start", "ophold_id"])
    earlier_end = named.groupby(["person", "tilbudstype"])["end"].transform(lambda e: e.cummax().shift())
    return int((named["start"] < earlier_end).sum())


def recount(out: Path, extraction: date) -> dict[str, int]:
    """Every checkable quirk, counted from the written data alone."""
    reference = Reference.load()
    tables = {(s, t.name): read(out, s, t.name) for s in DATABASES for t in SOURCES[s].tables}
    barn, sag, afg = tables["boern", "Barn"], tables["boern", "Sag"], tables["boern", "Afgoerelse"]
    tiltak, underretning = tables["boern", "Foranstaltning"], tables["boern", "Underretning"]
    borger, vsag, vafg, ydelse = (tables["voksen", t] for t in ("borger", "sag", "afgoerelse", "ydelse"))
    klage, fravaer = tables["klage", "klage"], tables["hr", "fravaer"]
    stays = tables["tilbud", "ophold"].merge(tables["tilbud", "tilbud"][["tilbud_id", "tilbudstype"]], on="tilbud_id")
    as_of = datetime.combine(extraction, datetime.min.time())
    day = extraction.isoformat()
    references = klage["sagsreference"].dropna()
    existing = set(sag["Sagsnummer"]) | set(vsag["sag_id"].astype(str))
    units = reference.known_units
    paragraphs = reference.known_paragraphs
    return {
        "decision_missing_deadline": int(afg["FristDato"].isna().sum() + vafg["frist_dato"].isna().sum()),
        "decision_future_dated": int((afg["AfgoerelseDato"] >= day).sum() + (vafg["afgoerelse_dato"] >= day).sum()),
        "complaint_missing_reference": int(klage["sagsreference"].isna().sum()),
        "complaint_dangling_reference": int((~normalised(references).isin(existing)).sum()),
        "complaint_reference_formatting": int((references != normalised(references)).sum()),
        "complaint_missing_system": int(klage["kilde_system"].isna().sum()),
        "service_missing_start": int(tiltak["StartDato"].isna().sum() + ydelse["start_dato"].isna().sum()),
        "cpr_missing": int(barn["CPR"].isna().sum()),
        "cpr_invalid": sum(unparseable(t["cpr"] if "cpr" in t else t["CPR"])
                           for t in (barn, borger, tables["tilbud", "ophold"], tables["tilbud", "magtanvendelse"])),
        "duplicate_person": int(len(borger) - borger["cpr"].str.replace(r"[-\s]", "", regex=True).nunique()),
        "end_before_start": int((tiltak["SlutDato"] < tiltak["StartDato"]).sum()
                                + (ydelse["slut_dato"] < ydelse["start_dato"]).sum()
                                + (stays["udskrevet"] < stays["indskrevet"]).sum()
                                + (fravaer["til_dato"] < fravaer["fra_dato"]).sum()),
        "notification_assessed_before_received": int((underretning["VurderetTid"] < underretning["ModtagetTid"]).sum()),
        "overlapping_stays": overlapping_stays(stays, as_of),
        "stay_forgotten_checkout": int((stays["udskrevet"].isna() & stays["tilbudstype"].isin(SHELTERS)
                                        & (pd.to_datetime(stays["indskrevet"]) < as_of - timedelta(days=730))).sum()),
        "stay_future_start": int((stays["indskrevet"] >= day).sum()),
        "unknown_unit_code": int(sum((~tables[s, t][c].isin(units)).sum() for s, t, c in (
            ("boern", "Sag", "EnhedKode"), ("voksen", "sag", "enhed_kode"), ("tilbud", "tilbud", "enhed_kode"),
            ("klage", "klage", "enhed_kode"), ("hr", "medarbejder", "enhed_kode"), ("hr", "rekruttering", "enhed_kode"),
            ("hr", "arbejdsmiljoe_haendelse", "enhed_kode"), ("boern", "Sagsbehandler", "EnhedKode")))),
        "unknown_paragraph": int(sum((~tables[s, t][c].isin(paragraphs)).sum() for s, t, c in (
            ("boern", "Undersoegelse", "Paragraf"), ("boern", "Foranstaltning", "Paragraf"),
            ("boern", "Afgoerelse", "Paragraf"), ("voksen", "afgoerelse", "paragraf"), ("voksen", "ydelse", "paragraf")))),
        "soft_deleted": int(sag["Slettet"].sum() + tiltak["Slettet"].sum() + vsag["slettet"].sum()
                            + ydelse["slettet"].sum()),
    }


def all_bytes(out: Path) -> dict[str, str]:
    return {str(p.relative_to(out)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(out.rglob("*")) if p.is_file()}


def table_hashes(out: Path) -> dict[str, str]:
    hashes = {}
    for source in DATABASES:
        for spec in SOURCES[source].tables:
            with sqlite3.connect(out / f"{source}.db") as conn:
                rows = conn.execute(f"SELECT * FROM {spec.name} ORDER BY {spec.primary_key[0]}").fetchall()
            hashes[f"{source}.{spec.name}"] = hashlib.sha256(repr(rows).encode()).hexdigest()
    return hashes


def test_every_table_has_exactly_the_contract_columns(demo):
    out, report = demo
    for source in DATABASES:
        with sqlite3.connect(out / f"{source}.db") as conn:
            names = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            assert names == {t.name for t in SOURCES[source].tables}
            for spec in SOURCES[source].tables:
                columns = [r[1] for r in conn.execute(f"PRAGMA table_info({spec.name})")]
                assert columns == spec.column_names
                assert report["rows"][source][spec.name] == conn.execute(f"SELECT COUNT(*) FROM {spec.name}").fetchone()[0]
                assert report["rows"][source][spec.name] > 0
    cpr_file = out / "drop" / f"cpr_{DEFAULT_EXTRACTION_DATE:%Y%m%d}.csv"
    assert cpr_file.read_bytes().split(b"\n")[0].decode("cp1252") == ";".join(SOURCES["cpr"].table("cpr").column_names)
    for path in (out / "drop").glob("beskaeftigelse_*.csv"):
        header = path.read_bytes().split(b"\n")[0].decode("utf-8-sig")
        assert header == ",".join(SOURCES["beskaeftigelse"].table("beskaeftigelse").column_names)


def test_same_seed_gives_identical_bytes_and_another_seed_does_not(demo, tmp_path):
    out, _ = demo
    generate(tmp_path / "again", profile="demo", seed=42)
    assert table_hashes(tmp_path / "again") == table_hashes(out)
    assert all_bytes(tmp_path / "again") == all_bytes(out)
    generate(tmp_path / "other", profile="demo", seed=7)
    other = table_hashes(tmp_path / "other")
    assert all(other[name] != digest for name, digest in table_hashes(out).items())


def test_planted_counts_equal_what_the_data_shows(demo):
    out, report = demo
    found = recount(out, DEFAULT_EXTRACTION_DATE)
    planted = {name: report["planted"][name]["count"] for name in found}
    assert found == planted
    assert report["planted"]["decision_missing_deadline"]["count"] / report["rows"]["boern"]["Afgoerelse"] > 0.05
    assert report["planted"]["decision_future_dated"]["count"] >= 2
    assert report["planted"]["cpr_replacement"]["count"] > 0
    assert set(report["planted"]) == set(DEFAULT_QUIRK_RATES)


def test_rate_zero_plants_nothing_and_nothing_is_found(clean):
    out, report = clean
    assert {name: entry["count"] for name, entry in report["planted"].items()} == NO_QUIRKS
    found = recount(out, DEFAULT_EXTRACTION_DATE)
    assert found == dict.fromkeys(found, 0)


def test_clean_data_links_up(clean):
    """Without quirks every reference resolves: the links the pipeline follows are real."""
    out, _ = clean
    sag, afgoerelse = read(out, "boern", "Sag"), read(out, "boern", "Afgoerelse")
    assert set(sag["SagsbehandlerId"].dropna()) <= set(read(out, "boern", "Sagsbehandler")["SagsbehandlerId"])
    assert set(read(out, "boern", "Handleplan")["AfgoerelseId"].dropna()) <= set(afgoerelse["AfgoerelseId"])
    ydelse, tilbud = read(out, "voksen", "ydelse"), read(out, "tilbud", "tilbud")
    assert set(ydelse["tilbud_id"].dropna()) <= set(tilbud["tilbud_id"])
    residential = ydelse["ydelsestype"].isin(["Midlertidigt botilbud", "Længerevarende botilbud", "Almen bolig med støtte"])
    assert ydelse.loc[residential, "tilbud_id"].notna().all()
    assert set(read(out, "voksen", "sag")["borger_id"]) <= set(read(out, "voksen", "borger")["borger_id"])
    klage = read(out, "klage", "klage")
    assert set(klage["sagsreference"]) <= set(sag["Sagsnummer"]) | set(read(out, "voksen", "sag")["sag_id"].astype(str))
    applied = pd.to_datetime(afgoerelse["AnsoegningDato"])
    waited = (pd.to_datetime(afgoerelse["AfgoerelseDato"]) - applied).dt.days
    assert waited.between(1, 120).all()


def test_every_generated_measure_type_is_on_its_list(demo):
    """The demo's types are the contract's (boern) and the shipped reference's (voksen), so
    none is read as Ukendt and DQ20 has no type finding on the demo."""
    out, _ = demo
    foranstaltning = read(out, "boern", "Foranstaltning")
    placements = foranstaltning["Kategori"] == ANBRINGELSE
    assert set(foranstaltning.loc[placements, "Type"]) == set(PLACEMENT_TYPES)
    assert set(foranstaltning.loc[~placements, "Type"]) == set(PREVENTIVE_TYPES)
    listed = load_reference(REPO_ROOT / "reference")["ref_service_type"]
    assert set(read(out, "voksen", "ydelse")["ydelsestype"]) == set(listed["service_type"])


def test_rows_are_never_written_after_the_extraction(demo):
    out, _ = demo
    extraction = f"{DEFAULT_EXTRACTION_DATE:%Y-%m-%d} 00:00:00"
    for source in DATABASES:
        for spec in SOURCES[source].tables:
            with sqlite3.connect(out / f"{source}.db") as conn:
                latest = conn.execute(f"SELECT MAX({spec.watermark}) FROM {spec.name}").fetchone()[0]
            assert latest < extraction, f"{source}.{spec.name}"


def test_cpr_numbers_agree_with_birth_date_and_gender(demo):
    out, report = demo
    invalid = report["planted"]["cpr_invalid"]["tables"]
    for source, table, cpr, birth, gender in (("boern", "Barn", "CPR", "Foedselsdato", "Koen"),
                                              ("voksen", "borger", "cpr", "foedselsdato", "koen")):
        rows = read(out, source, table).dropna(subset=[cpr])
        parsed = rows[cpr].map(parse_cpr)
        valid = parsed.notna()
        assert int((~valid).sum()) == invalid[f"{source}.{table}"]
        assert (parsed[valid].map(lambda p: p[0].isoformat()) == rows.loc[valid, birth]).all()
        assert (parsed[valid].map(lambda p: "M" if p[1] else "K") == rows.loc[valid, gender]).all()
    register = pd.read_csv(out / "drop" / f"cpr_{DEFAULT_EXTRACTION_DATE:%Y%m%d}.csv", sep=";", encoding="cp1252",
                           dtype=str, keep_default_na=False)
    parsed = register["PNR"].map(parse_cpr)
    assert register["PNR"].str.fullmatch(r"\d{10}").all()
    assert (parsed.map(lambda p: p[0].strftime("%Y%m%d")) == register["FOED_DATO"]).all()
    assert (parsed.map(lambda p: "M" if p[1] else "K") == register["KOEN"]).all()


def test_cpr_file_covers_every_real_number_the_systems_use(demo):
    out, _ = demo
    register = set(pd.read_csv(out / "drop" / f"cpr_{DEFAULT_EXTRACTION_DATE:%Y%m%d}.csv", sep=";",
                               encoding="cp1252", dtype=str)["PNR"])
    used = pd.concat([read(out, "boern", "Barn")["CPR"], read(out, "voksen", "borger")["cpr"],
                      read(out, "tilbud", "ophold")["cpr"]]).dropna().str.replace(r"[-\s]", "", regex=True)
    real = used[used.map(lambda v: parse_cpr(v) is not None) & used.str.fullmatch(r"[0-3]\d{9}")]
    assert set(real) <= register
    replacement = used[used.str.fullmatch(r"[6-9]\d{9}|\d{7}[A-Z]{2}\d")]
    assert len(replacement) > 0 and not set(replacement) & register


def test_cpr_file_is_cp1252_with_danish_letters(demo, tmp_path):
    out, _ = demo
    raw = (out / "drop" / f"cpr_{DEFAULT_EXTRACTION_DATE:%Y%m%d}.csv").read_bytes()
    text = raw.decode("cp1252")
    assert "Østerbro" in text and "Nørrebro" in text
    assert "ø".encode("cp1252") in raw and "ø".encode() not in raw
    assert text.endswith("\n")
    generate(tmp_path, profile="demo", seed=42, quirk_rates={"cpr_file_truncated_last_line": 1})
    truncated = (tmp_path / "drop" / f"cpr_{DEFAULT_EXTRACTION_DATE:%Y%m%d}.csv").read_bytes().decode("cp1252")
    assert not truncated.endswith("\n")
    assert truncated.count(";", truncated.rindex("\n")) < 6


def test_employment_files_have_a_bom_and_cover_every_month(demo):
    out, report = demo
    paths = sorted((out / "drop").glob("beskaeftigelse_*.csv"))
    first = date.fromisoformat(report["history_start"])
    expected = pd.period_range(first, DEFAULT_EXTRACTION_DATE, freq="M").strftime("%Y%m").tolist()
    assert [p.name for p in paths] == [f"beskaeftigelse_{m}.csv" for m in expected]
    rows = 0
    for path in paths:
        raw = path.read_bytes()
        assert raw.startswith(b"\xef\xbb\xbfcpr,maaned,status,afsluttet_uddannelse\n")
        frame = pd.read_csv(path, encoding="utf-8-sig", dtype=str)
        assert (frame["maaned"] == f"{path.stem[-6:-2]}-{path.stem[-2:]}").all()
        assert frame["cpr"].str.fullmatch(r"\d{6}-\d{4}").all()
        assert set(frame["afsluttet_uddannelse"]) <= {"0", "1"}
        assert set(frame["status"]) <= set(SOURCES["beskaeftigelse"].table("beskaeftigelse").column("status").allowed)
        rows += len(frame)
    assert rows == report["rows"]["beskaeftigelse"]["beskaeftigelse"]


def test_hr_cpr_is_an_integer_column(demo):
    out, _ = demo
    with sqlite3.connect(out / "hr.db") as conn:
        declared = {r[1]: r[2] for r in conn.execute("PRAGMA table_info(medarbejder)")}
        stored = {r[0] for r in conn.execute("SELECT DISTINCT typeof(cpr) FROM medarbejder")}
        shortest = conn.execute("SELECT MIN(LENGTH(CAST(cpr AS TEXT))) FROM medarbejder").fetchone()[0]
    assert declared["cpr"] == "BIGINT"
    assert stored == {"integer"}
    assert shortest == 9  # born on days 01-09: the leading zero is gone


def test_a_source_can_go_to_another_sqlalchemy_url(tmp_path):
    url = f"sqlite:///{tmp_path / 'x.db'}"
    report = generate(tmp_path / "out", profile="demo", seed=42, db_urls={"klage": url})
    assert report["databases"]["klage"] == "db_urls"
    assert not (tmp_path / "out" / "klage.db").exists()
    with sqlite3.connect(tmp_path / "x.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM klage").fetchone()[0] == report["rows"]["klage"]["klage"]


def test_portable_inserts_store_what_the_sqlite_fast_path_stores(demo, tmp_path):
    """The Core path other dialects use writes the same values as the SQLite fast path."""
    out, _ = demo
    source = SOURCES["hr"]
    fast = create_engine(f"sqlite:///{out / 'hr.db'}")
    portable = create_engine(f"sqlite:///{tmp_path / 'portable.db'}")
    metadata = MetaData()
    tables = {spec.name: table_for(spec, metadata) for spec in source.tables}
    metadata.create_all(portable)
    for spec in source.tables:
        frame = to_contract(pd.read_sql_table(spec.name, fast), spec)
        insert_portable(portable, tables[spec.name], spec, frame)
    fast.dispose()
    portable.dispose()
    for spec in source.tables:
        query = f"SELECT * FROM {spec.name} ORDER BY {spec.primary_key[0]}"
        with sqlite3.connect(out / "hr.db") as a, sqlite3.connect(tmp_path / "portable.db") as b:
            assert a.execute(query).fetchall() == b.execute(query).fetchall()


def test_profiles_scale_the_same_shape():
    assert list(PROFILES) == ["demo", "copenhagen", "national"]
    copenhagen, national = PROFILES["copenhagen"], PROFILES["national"]
    assert national.adult_citizens == 10 * copenhagen.adult_citizens
    assert national.employees == 10 * copenhagen.employees
    with pytest.raises(ValueError, match="unknown quirk"):
        PROFILES["demo"].rates({"no_such_quirk": 0.1})


def test_the_generator_draws_only_values_of_the_vocabulary():
    """Every value a distribution of the generator can draw is one the contract allows, and
    the lists it walks in order (status mixes, absence lengths) have the vocabulary's length."""
    drawn = {
        "SUPPLIERS": [*synth_boern.SUPPLIERS_PLACEMENT, *synth_boern.SUPPLIERS_PREVENTIVE],
        "NOTIFICATION_SOURCES": [s for mix in synth_boern.SOURCES_BY_AGE.values() for s in mix],
        "FACILITY_TYPES": [k.tilbudstype for k in synth_tilbud.KINDS] + list(synth_voksen.TARGET_GROUP_BY_FACILITY)
        + list(synth_voksen.SERVICE_CODE_BY_FACILITY) + [t for types in synth_hr.FACILITY_UNITS.values() for t in types],
        "STAY_EXITS": [e for k in synth_tilbud.KINDS for e in k.exits],
        "FORCE_TYPES": list(synth_tilbud.FORCE_TYPES),
        "ADULT_TARGET_GROUPS": [g for mix in synth_voksen.TARGET_GROUP_BY_FACILITY.values() for g in mix]
        + [*synth_voksen.TARGET_GROUP_AFTER_PLACEMENT, *synth_voksen.TARGET_GROUP_CASE_ONLY,
           *synth_voksen.AGES_CASE_ONLY, *synth_voksen.UNITS_BY_TARGET_GROUP],
        "WAITING_LIST_OFFER_TYPES": list(synth_voksen.WAITING_LIST_TYPE.values()),
        "WAITING_LIST_LEAVE_REASONS": list(synth_voksen.WAITING_LIST_EXITS_WITHOUT_PLACE),
        "COMPLAINT_TYPES": list(synth_klage.REASONS),
        "RECONSIDERATION_OUTCOMES": list(synth_klage.RECONSIDERATION),
        "APPEALS_OUTCOMES": list(synth_klage.APPEAL_OUTCOMES),
        "DECISION_OUTCOMES": list(synth_klage.COMPLAINT_RATE_BY_OUTCOME),
        "JOB_CATEGORIES": [*synth_hr.JOBS, *synth_hr.MALE_SHARE, *synth_hr.UNITS_BY_JOB],
        "LEAVE_REASONS": list(synth_hr.LEAVING_REASONS),
        "INCIDENT_CATEGORIES": list(synth_hr.INCIDENTS),
        "BYDELE": list(synth_registers.BYDEL_WEIGHTS),
        "TARIFF_UNITS": [unit for unit, _low, _high in synth_oekonomi.TARIFFS.values()],
        "CASE_SYSTEMS": [system for system, _type in synth_oekonomi.TARIFFS] + list(synth_oekonomi.SYSTEM_TABLES),
    }
    drawn["SUPPLIERS"] += [s for mix in synth_oekonomi.ADULT_SUPPLIERS.values() for s in mix]
    drawn["SUPPLIERS"] += list(synth_oekonomi.ART_BY_SUPPLIER)
    drawn["FACILITY_TYPES"] += list(synth_oekonomi.SOLD_PLACES)
    for name, values in drawn.items():
        assert set(values) <= set(getattr(vocabulary, name)), name
    assert {k.tilbudstype for k in synth_tilbud.KINDS} == set(vocabulary.FACILITY_TYPES)
    assert set(synth_klage.REASONS) == set(vocabulary.COMPLAINT_TYPES)
    assert len(synth_hr.ABSENCE_DAYS) == len(vocabulary.ABSENCE_TYPES)
    assert {len(mix) for mix in synth_registers.STATUS_MIX.values()} == {len(vocabulary.EMPLOYMENT_STATUSES)}
