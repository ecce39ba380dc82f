"""The synthetic fagsystemer: one call builds every source the pipeline reads.

Order of work: one population and the clean data of every system (children first, then
facilities, adults, complaints, HR), then the planted quirks, then the economy (priced from
the measures as they really were, its commitments as the case systems now show them), then
the CPR columns as each system formats them, then the two register files, then writing
(the economy's postings generated month by month as they are written) and the report.
Same (profile, seed, extraction date, quirk rates) gives byte-identical output.
"""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from etl.core.tables import TableSpec
from etl.sources import SOURCES
from etl.synth.boern import BoernData, build_boern
from etl.synth.context import Context
from etl.synth.draw import stream
from etl.synth.hr import build_hr
from etl.synth.klage import build_klage
from etl.synth.oekonomi import Oekonomi, plan_oekonomi, snapshot_measures
from etl.synth.population import PersonRegistry, unparseable_numbers, with_separator
from etl.synth.profiles import DEFAULT_EXTRACTION_DATE, PROFILES
from etl.synth.quirks import QuirkPlanter, Tables, plant_quirks
from etl.synth.reference import Reference
from etl.synth.registers import cpr_register, employment_statuses, write_cpr_file, write_employment_files
from etl.synth.tilbud import TilbudData, build_tilbud
from etl.synth.timeline import Window, add_years, to_day
from etl.synth.voksen import VoksenData, build_voksen
from etl.synth.writer import write_source

DATABASE_SOURCES = ("boern", "voksen", "tilbud", "klage", "hr", "oekonomi")
#: Generated whole in memory; `oekonomi`'s postings are generated as they are written.
IN_MEMORY_SOURCES = DATABASE_SOURCES[:-1]
REPORT_FILE = "generation_report.json"
DROP_FOLDER = "drop"
#: How each system writes a CPR number: separator -> share of rows.
CPR_STYLES = {
    ("boern", "Barn", "CPR"): {"-": 1.0},
    ("voksen", "borger", "cpr"): {"": 0.89, "-": 0.10, " ": 0.01},
    ("tilbud", "ophold", "cpr"): {"": 0.5, "-": 0.5},
    ("tilbud", "magtanvendelse", "cpr"): {"": 0.5, "-": 0.5},
}


def generate(out_dir: Path, profile: str = "demo", seed: int = 42,
             extraction_date: date = DEFAULT_EXTRACTION_DATE, db_urls: dict[str, str] | None = None,
             quirk_rates: dict[str, float] | None = None) -> dict:
    """Generate all eight sources into `out_dir` and return the generation report.

    Database sources become `out_dir/<source>.db` (SQLite) unless `db_urls` maps the
    source to a SQLAlchemy URL; file sources go to `out_dir/drop/`. `quirk_rates`
    overrides the profile's defect rates by name (0 plants none;
    `cpr_file_truncated_last_line` is an on/off switch, 0 or 1). The report, also written
    to `out_dir/generation_report.json`, has the rows per table and, for every quirk, its
    rate and the exact number of records planted (in total and per table).
    """
    if profile not in PROFILES:
        raise ValueError(f"unknown profile {profile!r}; known: {', '.join(PROFILES)}")
    unknown_sources = set(db_urls or {}) - set(DATABASE_SOURCES)
    if unknown_sources:
        raise ValueError(f"db_urls for non-database sources {sorted(unknown_sources)}")
    chosen = PROFILES[profile]
    rates = chosen.rates(quirk_rates)
    window = Window.of(chosen.first_day(extraction_date), extraction_date)
    ctx = Context(chosen, window, Reference.load(), PersonRegistry(stream(seed, "persons")), seed)

    boern = build_boern(ctx)
    tilbud = build_tilbud(ctx)
    voksen = build_voksen(ctx, boern, tilbud)
    tables: Tables = {"boern": boern.tables, "voksen": voksen.tables, "tilbud": tilbud.tables,
                      "klage": build_klage(ctx, boern.tables, voksen.tables), "hr": build_hr(ctx, tilbud)}
    measures = snapshot_measures(tables)
    planter = QuirkPlanter(rates, seed)
    persons = plant_quirks(ctx, planter, tables, ctx.persons.frame())
    economy = plan_oekonomi(ctx, planter, measures, tables, tilbud.facilities)
    del measures
    _render_cpr(ctx, planter, tables, persons)
    for name in IN_MEMORY_SOURCES:  # in place, so the working frames can be freed
        for spec in SOURCES[name].tables:
            tables[name][spec.name] = to_contract(tables[name][spec.name], spec)
    activity = _activity(boern, voksen, tilbud)
    cpr_rows = to_contract(cpr_register(ctx, persons, activity), SOURCES["cpr"].table("cpr"))
    employment = employment_statuses(ctx, persons, activity)

    out_dir = Path(out_dir)
    drop = out_dir / DROP_FOLDER
    drop.mkdir(parents=True, exist_ok=True)
    databases, written = _write_databases(out_dir, tables, economy, db_urls or {})
    for stale in [*drop.glob("cpr_*.csv"), *drop.glob("beskaeftigelse_*.csv")]:
        stale.unlink()  # an earlier run's files would otherwise look like more history
    truncate = rates["cpr_file_truncated_last_line"] > 0
    planter.record("cpr_file_truncated_last_line", "cpr.cpr", int(truncate and len(cpr_rows) > 0))
    cpr_path = write_cpr_file(cpr_rows, drop, extraction_date, truncate)
    employment_paths = write_employment_files(employment, drop, window)

    report = {
        "profile": profile,
        "seed": seed,
        "extraction_date": extraction_date.isoformat(),
        "history_start": str(window.start),
        "rows": {
            **written,
            "cpr": {"cpr": len(cpr_rows)},
            "beskaeftigelse": {"beskaeftigelse": len(employment)},
        },
        "databases": databases,
        "files": {
            "cpr": [str(cpr_path.relative_to(out_dir))],
            "beskaeftigelse": [str(p.relative_to(out_dir)) for p in employment_paths],
        },
        "planted": planter.report(),
        # The records each economy data-quality rule must find (etl/synth/oekonomi.py).
        "oekonomi": {"expected_findings": economy.expected},
    }
    (out_dir / REPORT_FILE).write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return report


def _write_databases(out_dir: Path, tables: Tables, economy: Oekonomi,
                     db_urls: dict[str, str]) -> tuple[dict[str, str], dict[str, dict[str, int]]]:
    """Each database source to its URL or to a fresh SQLite file; returns where each went and
    the rows written per table."""
    where, written = {}, {}
    for name in DATABASE_SOURCES:
        source = SOURCES[name]
        frames = tables[name] if name in tables else _economy_frames(economy)
        if name in db_urls:
            written[name] = write_source(db_urls[name], source, frames)
            where[name] = "db_urls"  # never the URL itself: it may hold a password
        else:
            path = out_dir / f"{name}.db"
            path.unlink(missing_ok=True)  # a fresh file, so its bytes depend on the content only
            written[name] = write_source(f"sqlite:///{path}", source, frames)
            where[name] = path.name
    return where, written


def _economy_frames(economy: Oekonomi) -> dict:
    """The economy's tables for the writer: the postings and the budget as chunks generated on
    demand (the budget after the postings), the commitments whole."""
    source = SOURCES["oekonomi"]
    return {
        "postering": (to_contract(chunk, source.table("postering")) for chunk in economy.postings()),
        "budget": (to_contract(chunk, source.table("budget")) for chunk in economy.budgets()),
        "disponering": to_contract(economy.commitments, source.table("disponering")),
    }


def to_contract(frame: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """Exactly the contract's columns, in order, with its logical types, sorted by key;
    a null in a non-nullable column is a generator bug and stops the run."""
    columns = {}
    for column in spec.columns:
        values = frame[column.name]
        if column.type == "int":
            values = pd.array(values, dtype="Int64") if column.nullable else values.astype("int64")
        elif column.type == "str":
            values = values.astype(object).where(values.notna(), None)
        elif column.type == "date":
            values = pd.Series(values.to_numpy().astype("datetime64[D]").astype("datetime64[s]"))
        elif column.type == "datetime":
            values = pd.Series(values.to_numpy().astype("datetime64[s]"))
        elif column.type == "bool":
            values = values.astype(bool)
        else:
            values = values.astype(float)
        columns[column.name] = pd.Series(values).reset_index(drop=True)
        if not column.nullable and columns[column.name].isna().any():
            raise AssertionError(f"{spec.name}.{column.name} has nulls but the contract says it cannot")
    result = pd.DataFrame(columns).sort_values(list(spec.primary_key), kind="stable")
    return result.reset_index(drop=True)


def _render_cpr(ctx: Context, planter: QuirkPlanter, tables: Tables, persons: pd.DataFrame) -> None:
    """Write each person's CPR the way each system does, then plant unparseable ones."""
    text = persons["cpr"].to_numpy(dtype=object)
    for (source, table, column), styles in CPR_STYLES.items():
        frame = tables[source][table]
        name = f"{source}.{table}"
        person = frame["_person_id"].to_numpy()
        has_cpr = person >= 0
        if "_cpr_missing" in frame:
            has_cpr &= ~frame["_cpr_missing"].to_numpy()
        # Defects do not stack, so each is counted once: no typo in a row that already
        # carries another person-level defect (a duplicate registration, a planted stay).
        could_be_mistyped = has_cpr & ~_has_person_defect(frame, table)
        rng = ctx.rng(f"cpr-format/{name}")
        separator = np.array(list(styles), dtype=object)[
            rng.choice(len(styles), len(frame), p=np.array(list(styles.values())))]
        rendered = with_separator(pd.Series(text[np.where(has_cpr, person, 0)]), pd.Series(separator))
        rendered = rendered.astype(object).where(has_cpr, None)
        invalid = planter.pick("cpr_invalid", name, could_be_mistyped)
        rendered.iloc[invalid] = unparseable_numbers(planter.rng("cpr_invalid", name), rendered.iloc[invalid]).to_numpy()
        frame[column] = rendered.to_numpy()


def _has_person_defect(frame: pd.DataFrame, table: str) -> np.ndarray:
    if "_planted" in frame:
        return frame["_planted"].to_numpy()
    if table == "borger":
        return frame["_person_id"].duplicated(keep=False).to_numpy()
    return np.zeros(len(frame), dtype=bool)


def _activity(boern: BoernData, voksen: VoksenData, tilbud: TilbudData) -> pd.DataFrame:
    """When each person is known to a fagsystem (NaT end = still open), and as what."""
    named = tilbud.stays[tilbud.stays["person_id"] >= 0]
    formerly_placed = boern.formerly_placed["birth"].to_numpy().astype("datetime64[D]")
    return pd.concat([
        boern.activity.assign(group="child"),
        pd.DataFrame({"person_id": boern.formerly_placed["person_id"].to_numpy(),
                      "start": add_years(formerly_placed, 18), "end": add_years(formerly_placed, 25),
                      "group": "formerly placed"}),
        voksen.activity,
        pd.DataFrame({"person_id": named["person_id"].to_numpy(), "start": to_day(named["start"].to_numpy()),
                      "end": to_day(named["end"].to_numpy()), "group": named["tilbudstype"].to_numpy()}),
    ], ignore_index=True)
