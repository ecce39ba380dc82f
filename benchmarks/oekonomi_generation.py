"""Benchmark the generator's economy (source 8) on its own: seconds and peak memory.

    python benchmarks/oekonomi_generation.py [--profile national] [--date 2025-10-01] [--seed 42]

The economy is priced from the case systems' measures, so they are built first, in a
process of their own (the part of `etl.synth.generate` before the economy: the case
systems and their planted defects); the few frames the economy reads are handed over in a
Parquet folder. A second, fresh process then plans the economy and writes
`oekonomi.db` (SQLite) — postings generated a calendar year at a time as they are
written — and its peak resident memory is the economy's own. The output is the same as
`sofli generate` writes for the same profile, seed and date (the economy draws from
streams of its own), which `--check` verifies against a full generation (small profiles).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import pickle
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

from etl.sources import SOURCES
from etl.synth import generate
from etl.synth.boern import build_boern
from etl.synth.context import Context
from etl.synth.draw import stream
from etl.synth.generator import _economy_frames
from etl.synth.hr import build_hr
from etl.synth.klage import build_klage
from etl.synth.oekonomi import plan_oekonomi, snapshot_measures
from etl.synth.population import PersonRegistry
from etl.synth.profiles import PROFILES
from etl.synth.quirks import QuirkPlanter, plant_quirks
from etl.synth.reference import Reference
from etl.synth.tilbud import build_tilbud
from etl.synth.timeline import Window
from etl.synth.voksen import build_voksen
from etl.synth.writer import write_source

FRAMES = {("boern", "Foranstaltning"): ["ForanstaltningId", "SagId", "StartDato", "SlutDato", "Slettet"],
          ("boern", "Sag"): ["SagId", "Slettet"],
          ("voksen", "ydelse"): ["ydelse_id", "sag_id", "start_dato", "slut_dato", "slettet"],
          ("voksen", "sag"): ["sag_id", "slettet"]}


def _peak_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu_seconds() -> float:
    """CPU seconds of this process so far: steadier than wall time on a shared machine."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def build_inputs(profile: str, seed: int, date: dt.date, folder: Path) -> dict:
    """The generator up to the economy; saves what the economy reads."""

    started = time.monotonic()
    chosen = PROFILES[profile]
    ctx = Context(chosen, Window.of(chosen.first_day(date), date), Reference.load(),
                  PersonRegistry(stream(seed, "persons")), seed)
    boern, tilbud = build_boern(ctx), build_tilbud(ctx)
    voksen = build_voksen(ctx, boern, tilbud)
    tables = {"boern": boern.tables, "voksen": voksen.tables, "tilbud": tilbud.tables,
              "klage": build_klage(ctx, boern.tables, voksen.tables), "hr": build_hr(ctx, tilbud)}
    measures = snapshot_measures(tables)
    plant_quirks(ctx, QuirkPlanter(chosen.rates(), seed), tables, ctx.persons.frame())
    measures.to_pickle(folder / "measures.pkl")
    tilbud.facilities.to_pickle(folder / "facilities.pkl")
    for (source, table), columns in FRAMES.items():
        tables[source][table][columns].to_pickle(folder / f"{source}.{table}.pkl")
    (folder / "window.pkl").write_bytes(pickle.dumps((profile, seed, ctx.window)))
    return {"seconds": round(time.monotonic() - started, 1), "cpu_seconds": round(_cpu_seconds(), 1),
            "peak_mib": round(_peak_mib())}


def write_economy(folder: Path, out: Path) -> dict:
    """Plan the economy and write it, as `etl.synth.generate` does; returns rows, seconds, peak."""

    profile, seed, window = pickle.loads((folder / "window.pkl").read_bytes())
    chosen = PROFILES[profile]
    ctx = Context(chosen, window, Reference.load(), PersonRegistry(stream(seed, "persons")), seed)
    tables: dict = {"boern": {}, "voksen": {}}
    for (source, table) in FRAMES:
        tables[source][table] = pd.read_pickle(folder / f"{source}.{table}.pkl")
    started, cpu = time.monotonic(), _cpu_seconds()
    planter = QuirkPlanter(chosen.rates(), seed)
    economy = plan_oekonomi(ctx, planter, pd.read_pickle(folder / "measures.pkl"), tables,
                            pd.read_pickle(folder / "facilities.pkl"))
    planned = time.monotonic() - started
    out.unlink(missing_ok=True)
    rows = write_source(f"sqlite:///{out}", SOURCES["oekonomi"], _economy_frames(economy))
    return {"rows": rows, "plan_seconds": round(planned, 1), "seconds": round(time.monotonic() - started, 1),
            "cpu_seconds": round(_cpu_seconds() - cpu, 1), "peak_mib": round(_peak_mib()),
            "planted": {q: v["count"] for q, v in planter.report().items() if v["count"]}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--profile", default="national")
    parser.add_argument("--date", type=dt.date.fromisoformat, default=dt.date(2025, 10, 1))
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--check", action="store_true", help="compare with a full `generate` (small profiles)")
    parser.add_argument("--step", choices=["inputs", "economy"], help=argparse.SUPPRESS)
    parser.add_argument("--folder", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.step == "inputs":
        print(json.dumps(build_inputs(args.profile, args.seed, args.date, args.folder)))
        return
    if args.step == "economy":
        print(json.dumps(write_economy(args.folder, args.folder / "oekonomi.db")))
        return
    with tempfile.TemporaryDirectory(prefix="oekonomi-bench-") as tmp:
        folder = Path(tmp)
        figures = {}
        for step in ("inputs", "economy"):
            done = subprocess.run([sys.executable, __file__, "--step", step, "--folder", str(folder), "--profile",
                                   args.profile, "--date", args.date.isoformat(), "--seed", str(args.seed)],
                                  check=True, capture_output=True, text=True)
            figures[step] = json.loads(done.stdout.strip().splitlines()[-1])
        inputs, economy = figures["inputs"], figures["economy"]
        print(f"{args.profile}, extraction {args.date}: case systems {inputs['seconds']} s "
              f"({inputs['cpu_seconds']} CPU s), peak {inputs['peak_mib']} MiB (not the economy's)")
        print(f"economy: {economy['rows']} rows in {economy['seconds']} s ({economy['cpu_seconds']} CPU s; "
              f"planning {economy['plan_seconds']} s), peak {economy['peak_mib']} MiB, "
              f"{(folder / 'oekonomi.db').stat().st_size / 2**20:.0f} MiB on disk")
        print(json.dumps(figures))
        if args.check:
            generate(folder / "full", args.profile, args.seed, args.date)
            same = (folder / "full" / "oekonomi.db").read_bytes() == (folder / "oekonomi.db").read_bytes()
            print(f"identical to a full generation: {same}")
            if not same:
                sys.exit(1)


if __name__ == "__main__":
    main()
