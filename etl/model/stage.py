"""The model stage as one call: current staged extracts + reference -> saved model."""

from __future__ import annotations

import datetime as dt
import logging
import time
from concurrent.futures import ThreadPoolExecutor, wait

from etl.core import zones
from etl.core.settings import Settings
from etl.core.storage import make_private
from etl.model import ModelWriter
from etl.model.accounting import model_rows, staged_rows, with_model_rows
from etl.core.reference import load_reference
from etl.model.build import build_tables, load_current_staged
from etl.model.link import Pseudonymiser, check_key_fingerprint, record_key_fingerprint
from etl.sources import SOURCES

log = logging.getLogger(__name__)


def run_model_stage(settings: Settings, extraction_date: dt.date,
                    extraction_time: dt.datetime | None = None) -> dict:
    """Build and save the model; returns row counts (never data) for XCom and the log.

    A date earlier than the live model's (a backfill) is built from that date's extracts
    into `model/backfill/<date>/`, so it never replaces the model the KPIs publish from.
    """
    started = time.monotonic()
    key = settings.pseudonym_key()
    check_key_fingerprint(settings.model_dir, key)
    frames, pointers = load_current_staged(settings.staged_dir, extraction_date)
    rows_in = {f"{s}.{t}": len(frame) for (s, t), frame in frames.items()}
    staged = staged_rows(frames)  # counted from the staged rows before the build releases them
    reference = load_reference(settings.reference_dir)
    model_dir = settings.zones.model
    live_date = zones.model_extraction_date(model_dir)
    if live_date and live_date > extraction_date.isoformat():
        model_dir = settings.zones.backfill_model(extraction_date)
        log.info("%s is earlier than the live model: built into %s", extraction_date, model_dir)
    built_from = {name: ({"extract_date": pointers[name]["extract_date"], "run_id": pointers[name].get("run_id")}
                         if name in pointers else None) for name in SOURCES}
    # each table written as it is built and dropped once no builder reads it: the stage never
    # holds the whole model beside every source (docs/performance.md, "Round 5"); the write runs
    # on a thread while the next table is built (Parquet's encoding and compression let go of
    # the GIL), one write in flight, so one table more is held at most ("Round 14")
    writer, model_counts = ModelWriter(model_dir), {}
    with ThreadPoolExecutor(1, thread_name_prefix="model-writer") as writing:
        in_flight = None
        try:
            for name, frame in build_tables(frames, reference, Pseudonymiser(key), release=True):
                model_counts.update(model_rows(name, frame))
                if in_flight is not None:
                    in_flight.result()
                in_flight = writing.submit(writer.add, name, frame)
                del frame
            if in_flight is not None:
                in_flight.result()
            counts = writer.commit(extraction_date, extraction_time, built_from)
        except BaseException:
            if in_flight is not None:
                wait([in_flight])
            writer.discard()
            raise
    record_key_fingerprint(model_dir, key)
    accounting = with_model_rows(staged, model_counts)
    accounting.to_parquet(model_dir / zones.ACCOUNTING, index=False)
    make_private(model_dir / zones.ACCOUNTING)
    unaccounted = accounting[accounting["expected"] != accounting["model"]]
    if len(unaccounted):  # reported by DQ14; logged here with the tables, never the rows
        log.warning("rows unaccounted for between staged and model: %s",
                    ", ".join(f"{r.source}.{r.source_table} expected {r.expected} got {r.model}"
                              for r in unaccounted.itertuples()))
    log.info("model built from %d staged rows in %.1fs: %s", sum(rows_in.values()), time.monotonic() - started,
             ", ".join(f"{k}={v}" for k, v in counts.items()))
    return {"model_dir": str(model_dir), "rows_in": sum(rows_in.values()), "rows": counts,
            "sources": {name: p["extract_date"] for name, p in pointers.items()},
            "seconds": round(time.monotonic() - started, 2)}
