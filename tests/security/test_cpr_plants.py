"""Issue 21, attacked: CPR numbers typed into every text field of every source.

The demo's sources are generated, then every text column of every source table that is not
the contract's CPR column gets synthetic CPRs in every form caseworkers type (`PLANT_FORMS`:
plain, dashed, spaced, dotted, prefixed, glued to letters, nine digits, full-width and
Arabic-Indic digits, replacement numbers with letters), two records per column, each plant
in a record of its own. The chain runs as the DAGs run it (extract, validate, model, KPIs,
publish, data quality, owners' e-mails through a real SMTP server) with the task module
every DAG imports (`etl.tasks.orchestration`, which installs the log guard). Then every
table of the model Parquet, `mart` and `public`, every log record, every e-mail and every
task return value (the XComs) is scanned with the one pattern: zero hits. And DQ22 has
exactly one failing record per plant, to the source's owner.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import random
import stat
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy.engine import make_url
from cpr_scan import find_cpr_in_frame, find_cpr_like

import etl.tasks.orchestration  # noqa: F401 - what every DAG imports: it installs the log guard
from etl.core.settings import REPO_ROOT, Settings
from etl.ops.mailsink import MailSink
from etl.publish.warehouse import make_engine, read_table
from etl.sources import SOURCES
from etl.synth import generate
from etl.tasks import kpis as kpi_tasks
from etl.tasks import model as model_tasks
from etl.tasks import quality as dq_tasks
from etl.tasks.extract import extract_source
from etl.validate.breakers import CircuitBreakerTripped

DAY = dt.date(2025, 11, 15)
PER_COLUMN = 2
FULL_WIDTH = str.maketrans("0123456789", "０１２３４５６７８９")
ARABIC_INDIC = str.maketrans("0123456789", "٠١٢٣٤٥٦٧٨٩")
#: Each form from the ten digits `d` (DDMMYYSSSS); the first ones also fit a cp1252 file.
PLANT_FORMS = (
    lambda d: d,
    lambda d: f"{d[:6]}-{d[6:]}",
    lambda d: f"Plejefamilie {d[:6]} {d[6:]}",
    lambda d: f"nr.{d[:6]}-{d[6:]}",
    lambda d: f"CPR{d}",
    lambda d: f"cpr-nr: {d[:6]}.{d[6:]}",
    lambda d: f"Barn{d}x",
    lambda d: f"{d[:6]}-{d[6]}PJ{d[9]}",  # a replacement number with letters
    lambda d: d[1:],  # nine digits: a number column lost the leading zero (day 01-09, drawn below)
    lambda d: d.translate(FULL_WIDTH),
    lambda d: f"{d[:6]}-{d[6:]}".translate(ARABIC_INDIC),
)
ASCII_FORMS = 9


def synthetic_cpr(rng: random.Random, leading_zero: bool = False) -> str:
    day = rng.randint(1, 9) if leading_zero else rng.randint(10, 28)
    return f"{day:02d}{rng.randint(1, 12):02d}{rng.randint(40, 99):02d}{rng.randint(0, 9999):04d}"


def planted_value(rng: random.Random, n: int, ascii_only: bool) -> str:
    forms = PLANT_FORMS[:ASCII_FORMS] if ascii_only else PLANT_FORMS
    index = n % len(forms)
    if index == 8:  # a number column lost the leading zero: nine digits
        return synthetic_cpr(rng, leading_zero=True)[1:]
    return forms[index](synthetic_cpr(rng))


def text_columns(spec) -> list[str]:
    return [c.name for c in spec.columns if c.type == "str" and not c.personal]


def plant_database(db_path: Path, spec, rng: random.Random, counter: list[int]) -> list[dict]:
    plants = []
    db = sqlite3.connect(db_path)
    key = spec.primary_key[0]
    ids = [r[0] for r in db.execute(f'SELECT "{key}" FROM "{spec.name}" ORDER BY rowid')]
    row = 0
    for column in text_columns(spec):
        for _ in range(PER_COLUMN):
            if row >= len(ids):
                break
            value = planted_value(rng, counter[0], ascii_only=False)
            counter[0] += 1
            db.execute(f'UPDATE "{spec.name}" SET "{column}" = ? WHERE "{key}" = ?', (value, ids[row]))
            plants.append({"source_table": spec.name, "column": column})
            row += 1
    db.commit()
    db.close()
    return plants


def plant_file(path: Path, spec, rng: random.Random, counter: list[int]) -> list[dict]:
    lines = path.read_text(encoding=spec.encoding).splitlines()
    header = lines[0].lstrip("\ufeff").split(spec.delimiter)
    plants, row = [], 1
    for column in text_columns(spec):
        for _ in range(PER_COLUMN):
            fields = lines[row].split(spec.delimiter)
            fields[header.index(column)] = planted_value(rng, counter[0], ascii_only=True)
            counter[0] += 1
            lines[row] = spec.delimiter.join(fields)
            plants.append({"source_table": spec.name, "column": column})
            row += 1
    path.write_text("\n".join(lines) + "\n", encoding=spec.encoding)
    return plants


class Captured(logging.Handler):
    """Every record as a handler writes it (message and exception text)."""

    def __init__(self):
        super().__init__(logging.DEBUG)
        self.setFormatter(logging.Formatter("%(name)s %(levelname)s %(message)s"))
        self.lines: list[str] = []

    def emit(self, record):
        self.lines.append(self.format(record))


@pytest.fixture(scope="module")
def attacked(tmp_path_factory):
    data = tmp_path_factory.mktemp("cpr-plants")
    sources = data / "sources"
    generate(sources, "demo", seed=5, extraction_date=DAY)
    rng, counter, plants = random.Random(21), [0], []
    for source in SOURCES.values():
        for spec in source.tables:
            if not text_columns(spec):
                continue
            if source.kind == "database":
                found = plant_database(sources / f"{source.name}.db", spec, rng, counter)
            else:  # the newest drop file of the table (the one extracted tonight)
                path = sorted((sources / "drop").glob(spec.file_pattern.split("{")[0] + "*"))[-1]
                found = plant_file(path, spec, rng, counter)
            plants += [{"source": source.name, **p} for p in found]

    captured = Captured()
    umask = os.umask(0)  # the most permissive umask: the restricted zones' modes must not follow it
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(captured)
    root.setLevel(logging.INFO)
    returned = []
    try:
        settings = Settings(data, REPO_ROOT / "reference", "demo")
        for name in SOURCES:  # a breaker that trips on the plants is accepted, as an operator would
            try:
                returned.append(extract_source(name, DAY, "r", settings))
            except CircuitBreakerTripped:
                returned.append(extract_source(name, DAY, "r", settings, accept_reason="CPR plants (issue 21)"))
        returned.append(model_tasks.build_model(DAY, settings))
        computed = kpi_tasks.compute_kpis("r", settings, history_quarters=1)
        audited = kpi_tasks.audit_kpis(computed, settings=settings)
        returned += [computed, audited, kpi_tasks.publish_kpis(audited, settings)]
        summary = dq_tasks.run_data_quality("r", settings)
        returned.append(summary)
        with MailSink(data / "mail") as sink:
            returned.append(dq_tasks.send_dq_alerts(summary, {"host": "127.0.0.1", "port": sink.port},
                                                    settings, today=DAY))
            mails = sink.messages()
    finally:
        os.umask(umask)
        root.removeHandler(captured)
        root.setLevel(old_level)
    engine = make_engine(settings.warehouse_url())
    warehouse = {}
    for schema in ("mart", "public", "restricted"):
        db = sqlite3.connect(settings.zones.warehouse / f"{schema}.db")
        names = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type IN ('table', 'view')")]
        warehouse |= {f"{schema}.{n}": pd.read_sql(f'SELECT * FROM "{n}"', db) for n in names}
        db.close()
    dq_result, dq_failure = read_table(engine, "mart.dq_result"), read_table(engine, "mart.dq_failure")
    engine.dispose()
    return {"settings": settings, "plants": pd.DataFrame(plants), "logs": captured.lines, "mails": mails,
            "returned": returned, "warehouse": warehouse, "dq_result": dq_result, "dq_failure": dq_failure}


def test_every_text_column_of_every_source_was_planted(attacked):
    plants = attacked["plants"]
    expected = {(s.name, t.name, c) for s in SOURCES.values() for t in s.tables for c in text_columns(t)}
    assert set(zip(plants["source"], plants["source_table"], plants["column"])) == expected
    assert len(plants) == PER_COLUMN * len(expected)
    assert len(expected) >= 50


def test_no_cpr_in_any_model_table(attacked):
    model_dir = attacked["settings"].model_dir
    files = sorted(model_dir.rglob("*.parquet"))
    assert len(files) >= 25
    leaks = {f.name: find_cpr_in_frame(pd.read_parquet(f)) for f in files}
    assert {name: found for name, found in leaks.items() if found} == {}


def test_no_cpr_in_any_mart_or_public_table(attacked):
    assert len(attacked["warehouse"]) >= 15
    leaks = {name: find_cpr_in_frame(frame) for name, frame in attacked["warehouse"].items()}
    assert {name: found for name, found in leaks.items() if found} == {}


def test_no_cpr_in_any_log_line(attacked):
    assert len(attacked["logs"]) > 50
    assert [line for line in attacked["logs"] if find_cpr_like(line)] == []


def test_no_cpr_in_any_email_and_dq22_reaches_the_owners(attacked):
    mails = attacked["mails"]
    assert mails
    assert [m["To"] for m in mails if find_cpr_like(m.as_string())] == []
    dq22_owners = {m["To"] for m in mails if "DQ22" in m.as_string()}
    assert {"dq-boern@sofli.example", "dq-voksen@sofli.example", "dq-oekonomi@sofli.example",
            "dq-jura@sofli.example", "dq-hr@sofli.example", "dq-tilbud@sofli.example"} <= dq22_owners


def test_no_cpr_in_any_task_return_value(attacked):
    assert [r for r in attacked["returned"] if find_cpr_like(json.dumps(r, default=str))] == []


def test_dq22_has_exactly_one_failing_record_per_plant(attacked):
    plants, failures = attacked["plants"], attacked["dq_failure"]
    dq22 = failures[failures["rule_id"] == "DQ22"]
    expected = plants.groupby(["source", "source_table"]).size().to_dict()
    assert dq22.groupby(["source", "source_table"]).size().to_dict() == expected
    assert len(dq22) == len(plants)
    assert not dq22["detail"].map(find_cpr_like).map(bool).any()
    assert not dq22["record_id"].map(find_cpr_like).map(bool).any()
    total = attacked["dq_result"]
    totals = total[(total["rule_id"] == "DQ22") & total["dimension"].isna()]
    assert int(totals["failing"].sum()) == len(plants)
    assert set(totals["status"]) == {"breach"} and set(totals["severity"]) == {"error"}


def test_restricted_zones_are_0700_and_their_files_0600_under_umask_0(attacked):
    """Issue 21 item 4: landing, staged, quarantine and model, whatever the umask; and the KPI
    zone (caseworker pseudonyms, theme 6's case costs with case and citizen pseudonyms, the
    audit's memo) and the data-quality zone (the failing records with the sources' caseworker
    ids), which the model's pseudonyms reach as well."""
    folder = attacked["settings"].zones
    modes = {}
    assert {p.name for p in folder.kpi_values.parent.iterdir()} >= {
        "kpi_value.parquet", "case_cost.parquet", "dim_caseworker.parquet", "audit_memo.json"}
    for zone in (folder.landing, folder.staged, folder.quarantine, folder.model, folder.kpi_values.parent,
                 folder.dq_breaches.parent, folder.root / "mail"):  # (the demo's mail: the owners' attachments)
        for path in [zone, *zone.rglob("*")]:
            modes[str(path.relative_to(folder.root))] = (path.is_dir(), stat.S_IMODE(path.stat().st_mode))
    assert len(modes) > 300
    # the embedded warehouse's caseworker level: its file mode is its only access control
    restricted = Path(make_url(attacked["settings"].warehouse_url()).database).with_name("restricted.db")
    modes["warehouse/restricted.db"] = (False, stat.S_IMODE(restricted.stat().st_mode))
    wrong = {p: oct(m) for p, (is_dir, m) in modes.items() if m != (0o700 if is_dir else 0o600)}
    assert wrong == {}


def test_employees_are_keyed_by_pseudonyms_and_their_owner_still_sees_the_hr_number(attacked):
    """Issue 21 item 3: sick days are health data; facts carry no HR number."""
    model_dir = attacked["settings"].model_dir
    employees = pd.read_parquet(model_dir / "dim_employee.parquet")
    keys = set(employees["employee_key"])
    assert len(keys) > 50 and all(len(k) == 32 and int(k, 16) >= 0 for k in keys)
    assert not set(employees["employee_id"]) & keys
    for name in ("fact_absence", "fact_incident"):
        used = set(pd.read_parquet(model_dir / f"{name}.parquet")["employee_key"].dropna())
        assert used and used <= keys | {k for k in used if len(k) == 32}, name
        assert not any(k.startswith("hr:") for k in used), name
