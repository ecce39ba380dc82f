"""Circuit breakers: nothing half-bad becomes "last good" (issue 19).

Each case runs real nights through the extract tasks (land, validate, publish) on real files
and SQLite, with a real SMTP server, and asserts the exact outcome: which extract is current,
the message the task failed with, who got which e-mail, what DQ10 says about the source, and
that an operator's acceptance is recorded. Person numbers are made up at run time.
"""

from __future__ import annotations

import datetime as dt
import json
import sqlite3

import pandas as pd
import pytest

from etl.core.settings import REPO_ROOT, ConfigurationError, Settings
from etl.core.vocabulary import BYDELE
from etl.ops.mailsink import MailSink
from etl.quality.facts import load_run_facts
from etl.quality.rules import RULES
from etl.tasks import extract as extract_tasks
from etl.validate.breakers import CircuitBreakerTripped, Limits, check_table, load_breakers

NIGHT1, NIGHT2, NIGHT3 = dt.date(2025, 11, 14), dt.date(2025, 11, 15), dt.date(2025, 11, 16)
CPR_HEADER = "PNR;FOED_DATO;KOEN;KOMKOD;BYDEL;STATUS;STATUS_DATO"


def pnr(i: int) -> str:
    return f"{i % 28 + 1:02d}0190{1000 + i:04d}"


def cpr_file(drop, day: dt.date, encoding: str = "cp1252", rows: int = 200) -> None:
    lines = [CPR_HEADER] + [f"{pnr(i)};19900101;{'MK'[i % 2]};0101;{BYDELE[i % len(BYDELE)]};01;19900101"
                            for i in range(rows)]
    (drop / f"cpr_{day:%Y%m%d}.csv").write_bytes(("\r\n".join(lines) + "\r\n").encode(encoding))


@pytest.fixture
def setup(tmp_path):
    drop = tmp_path / "sources" / "drop"
    drop.mkdir(parents=True)
    settings = Settings(tmp_path, REPO_ROOT / "reference", "demo", operations_email="drift@sofli.example")
    with MailSink(tmp_path / "mailsink") as sink:
        yield settings, drop, sink


def pointer(settings: Settings, source: str) -> dict:
    return json.loads((settings.staged_dir / source / "CURRENT.json").read_text())


def night(settings, sink, source: str, day: dt.date, **kw) -> dict:
    return extract_tasks.extract_source(source, day, f"run-{day}", settings,
                                        smtp={"host": "127.0.0.1", "port": sink.port}, **kw)


def test_cpr_file_in_utf8_trips_keeps_last_good_mails_owner_and_stales_dq10(setup):
    settings, drop, sink = setup
    cpr_file(drop, NIGHT1)
    assert night(settings, sink, "cpr", NIGHT1)["current"]
    cpr_file(drop, NIGHT2, encoding="utf-8")  # 5 of the 10 bydele have æ/ø/å: 100 of 200 rows mis-read
    with pytest.raises(CircuitBreakerTripped) as tripped:
        night(settings, sink, "cpr", NIGHT2)
    text = str(tripped.value)
    assert "cpr.cpr unknown_share:BYDEL = 0.5 > limit 0.02 (100 of 200 values outside the contract list)" in text
    assert "the current extract stays 2025-11-14" in text and "accept_breakers" in text
    assert pointer(settings, "cpr")["extract_date"] == "2025-11-14"  # the degraded extract never became current
    # the tripped partition is marked, so no later extract merges into it
    assert (settings.staged_dir / "cpr" / "cpr" / f"extract_date={NIGHT2}" / "breaker.json").exists()
    [mail] = sink.messages()
    assert mail["To"] == "drift@sofli.example, dq-data@sofli.example"
    assert "Udtræk holdt tilbage: cpr 2025-11-15" in mail["Subject"]
    assert "unknown_share:BYDEL" in mail.get_content() and pnr(0) not in mail.get_content()
    # DQ10 reports the source, so every KPI on it is flagged stale
    facts = load_run_facts(settings, None, "dq-run", checked_at=dt.datetime(2025, 11, 15, 6, 0), record_history=False)
    assert facts.breakers == {"cpr": "breaker tripped: cpr unknown_share:BYDEL (udtræk 2025-11-15 holdt tilbage)"}
    [finding] = [f for f in RULES["DQ10"].check(None, facts, {}) if f.source == "cpr"]
    assert finding.failing.tolist() == [True]
    assert "breaker tripped: cpr unknown_share:BYDEL" in finding.detail.iloc[0]
    assert finding.breakdowns["freshness"].tolist() == ["breaker_tripped"]
    # the next night fails outright (no file): the last good extract is still night 1's
    with pytest.raises(Exception, match="expected file missing"):
        night(settings, sink, "cpr", NIGHT3)
    assert pointer(settings, "cpr")["extract_date"] == "2025-11-14"
    # a good delivery for night 3 becomes current and clears the trip
    cpr_file(drop, NIGHT3)
    assert night(settings, sink, "cpr", NIGHT3)["current"]
    assert pointer(settings, "cpr")["extract_date"] == "2025-11-16"
    assert not (settings.staged_dir / "cpr" / "BREAKER.json").exists()


def test_an_operator_accepts_a_tripped_extract_only_with_a_reason_which_is_recorded(setup):
    settings, drop, sink = setup
    cpr_file(drop, NIGHT1)
    night(settings, sink, "cpr", NIGHT1)
    cpr_file(drop, NIGHT2, rows=120)  # 40 % fewer people
    with pytest.raises(CircuitBreakerTripped, match=r"cpr.cpr row_drop = 0.4 > limit 0.2 \(200 -> 120 rows"):
        night(settings, sink, "cpr", NIGHT2)
    with pytest.raises(CircuitBreakerTripped):  # a blank reason is no acceptance
        night(settings, sink, "cpr", NIGHT2, accept_reason="   ")
    published = night(settings, sink, "cpr", NIGHT2, accept_reason="CPR-kontoret bekræfter flytning af 80 borgere")
    assert published["current"] and published["accepted_breakers"]
    accepted = pointer(settings, "cpr")["accepted_breakers"]
    assert accepted["reason"] == "CPR-kontoret bekræfter flytning af 80 borgere"
    assert [(t["table"], t["measure"]) for t in accepted["trips"]] == [("cpr", "row_drop")]
    log = [json.loads(line) for line in (settings.staged_dir / "cpr" / "breaker_log.jsonl").read_text().splitlines()]
    assert [entry["event"] for entry in log] == ["tripped", "tripped", "accepted"]
    assert not (settings.staged_dir / "cpr" / "BREAKER.json").exists()
    assert len(sink.messages()) == 2  # one per trip; the acceptance mails nobody


def employment_file(drop, month: str, rows: int) -> None:
    lines = ["cpr,maaned,status,afsluttet_uddannelse"] + [
        f"{pnr(i)[:6]}-{pnr(i)[6:]},{month},{'Beskæftiget' if i % 3 else 'Ledig'},0" for i in range(rows)]
    (drop / f"beskaeftigelse_{month.replace('-', '')}.csv").write_bytes(("\n".join(lines) + "\n").encode("utf-8"))


def test_header_only_monthly_employment_file_trips_against_the_previous_month(setup):
    settings, drop, sink = setup
    employment_file(drop, "2025-09", 100)
    employment_file(drop, "2025-10", 104)
    assert night(settings, sink, "beskaeftigelse", NIGHT1)["current"]
    employment_file(drop, "2025-11", 0)  # header only: the union of months still has 204 rows
    with pytest.raises(CircuitBreakerTripped) as tripped:
        night(settings, sink, "beskaeftigelse", NIGHT2)
    assert ("beskaeftigelse.beskaeftigelse row_drop = 1 > limit 0.2 "
            "(104 -> 0 rows, beskaeftigelse_202511.csv against beskaeftigelse_202510.csv)") in str(tripped.value)
    assert pointer(settings, "beskaeftigelse")["extract_date"] == "2025-11-14"
    [mail] = sink.messages()
    assert mail["To"] == "drift@sofli.example, dq-data@sofli.example"
    # the month delivered properly the next night: current again
    employment_file(drop, "2025-11", 101)
    assert night(settings, sink, "beskaeftigelse", NIGHT3)["current"]


def klage_db(path, rows: list[tuple]) -> None:
    with sqlite3.connect(path) as db:
        db.execute('CREATE TABLE IF NOT EXISTS "klage" (klage_id, modtaget_dato, klagetype, aarsag, enhed_kode, '
                   'kilde_system, sagsreference, genvurdering, ankestyrelse_udfald, afgjort_dato, opdateret)')
        db.executemany('INSERT INTO "klage" VALUES (?,?,?,?,?,?,?,?,?,?,?)', rows)


def complaint(i: int, aarsag: str = "Andet", stamp: str = "2025-10-01 10:00:00") -> tuple:
    return (i, "2025-06-01", "Andet", aarsag, "SOF-ADM", None, None, None, None, None, stamp)


def test_a_key_arriving_twice_in_an_incremental_night_is_quarantined_with_both_versions(setup):
    settings, _, sink = setup
    db = settings.sources_dir / "klage.db"
    klage_db(db, [complaint(i) for i in range(1, 40)] + [complaint(40, stamp="2025-11-10 10:00:00")])
    night(settings, sink, "klage", NIGHT1)
    # the source now holds key 7 twice (a broken unique index); only the new copy is in the window
    klage_db(db, [complaint(7, "Aktindsigt", "2025-11-15 09:00:00"), complaint(41, stamp="2025-11-15 09:30:00")])
    assert night(settings, sink, "klage", NIGHT2)["current"]
    result = json.loads((settings.staged_dir / "klage" / "klage" / f"extract_date={NIGHT2}" / "validation.json")
                        .read_text())
    assert result["mode"] == "incremental"
    # read: both rows of key 7, the new key 41, and key 40 again (within the 48 h overlap)
    assert (result["rows_in"], result["rows_staged"], result["rows_quarantined"]) == (4, 2, 2)
    assert result["quarantine_by_rule"] == {"duplicate_key": 2}
    assert (result["rows_withdrawn"], result["rows_carried"], result["rows_total"]) == (1, 38, 40)
    staged = pd.read_parquet(settings.staged_dir / "klage" / "klage" / f"extract_date={NIGHT2}" / "data.parquet")
    assert 7 not in set(staged["klage_id"]) and 41 in set(staged["klage_id"])  # neither version is trusted
    quarantine = settings.quarantine_dir / "klage" / "klage" / f"extract_date={NIGHT2}"
    both = pd.read_parquet(quarantine / "quarantine.parquet")
    assert sorted(both["aarsag"]) == ["Aktindsigt", "Andet"]  # both source copies, for the owner
    base = pd.read_parquet(quarantine / "withdrawn.parquet")
    assert base["klage_id"].tolist() == [7] and base["aarsag"].tolist() == ["Andet"]  # the version it replaced


def test_limits_checked_exactly_at_the_edges():
    before = {"rows": 100, "rows_in": 100, "rows_quarantined": 0, "null_share": {"a": 0.1}, "distinct": {"c": 10}}
    limits = Limits()

    def trips(**now):
        return [t.measure for t in check_table("t", {**before, "unknown": {}, "file_rows": {}, **now}, before, limits)]

    assert trips() == []
    assert trips(rows=80, rows_in=80) == []  # exactly 20 % fewer: within
    assert trips(rows=79, rows_in=79) == ["row_drop"]
    assert trips(rows=150, rows_in=150) == [] and trips(rows=151, rows_in=151) == ["row_growth"]
    assert trips(rows_quarantined=5) == [] and trips(rows_quarantined=6) == ["quarantine_share"]
    assert trips(null_share={"a": 0.2}) == [] and trips(null_share={"a": 0.21}) == ["null_rise:a"]
    assert trips(distinct={"c": 15}) == [] and trips(distinct={"c": 4}) == ["distinct_change:c"]
    assert trips(unknown={"c": 2}) == [] and trips(unknown={"c": 3}) == ["unknown_share:c"]
    small = {**before, "rows": 10, "rows_in": 10}
    assert check_table("t", {**small, "rows_quarantined": 9, "unknown": {}, "file_rows": {}}, None, limits) == []


def test_breaker_configuration_is_validated_with_every_problem_at_once(tmp_path):
    assert load_breakers(REPO_ROOT / "config" / "breakers.yaml").limits("oekonomi", "budget").max_row_growth == 1.5
    bad = tmp_path / "breakers.yaml"
    bad.write_text("defaults: {max_row_drop: -1, max_quarantine_share: 2, oops: 1}\n"
                   "tables: {cpr.nope: {}}\nowners: {cpr: [not-an-address]}\n")
    with pytest.raises(ConfigurationError) as error:
        load_breakers(bad)
    for problem in ("defaults.max_row_drop: must be a number >= 0", "defaults.max_quarantine_share: a share is at most 1",
                    "unknown limit(s) ['oops']", "tables.cpr.nope: no such source table",
                    "owners.cpr: a list of e-mail addresses", "owners: no owner for source(s)"):
        assert problem in str(error.value)
