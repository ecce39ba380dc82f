"""What the publisher's suppression audit costs and buys: one KPI set suppressed for `public`
by the complement rule alone and with the audit (the default), each attacked by
`etl.publish.audit`.

    python benchmarks/suppression_audit.py <data-dir>/kpi/kpi_value.parquet [--reference reference/]
        [--levels sof,area]

Prints per variant the suppression's seconds, the blanked `public` rows, the non-zero figures
the attacker recovers and how many of them are small cells (what suppression protects), and
the peak memory. The KPI set comes from any run (`benchmarks/run_chain.py --profile copenhagen
--data-dir /tmp/bench-cph` leaves `/tmp/bench-cph/kpi/kpi_value.parquet`; the demo's is
`<data>/kpi/kpi_value.parquet`).
"""

from __future__ import annotations

import argparse
import resource
import time
from pathlib import Path

import pandas as pd

from etl.core.reference import load_reference
from etl.core.settings import DEFAULT_PUBLIC_BREAKDOWN_LEVELS, REPO_ROOT
from etl.publish.audit import attack
from etl.publish.suppression import CELL, primary_mask, suppress_for_public

QUANTITIES = ["value", "numerator", "denominator"]


def _cells(frame: pd.DataFrame) -> set[tuple]:
    keys = frame[CELL].astype(str).copy()
    for column in ("period_start", "period_end"):
        keys[column] = pd.to_datetime(frame[column]).dt.strftime("%Y-%m-%d")
    return set(keys.itertuples(index=False, name=None))


def compare(values: pd.DataFrame, dim_org: pd.DataFrame, levels: tuple[str, ...]) -> pd.DataFrame:
    """One row per variant (complement rule alone, with the audit)."""
    truth = values[(values["org_level"] != "caseworker")
                   & (values["dimension"].isna() | values["org_level"].isin(levels))].reset_index(drop=True)
    small = _cells(truth[primary_mask(truth).to_numpy()])
    rows = []
    for audit in (False, True):
        started = time.monotonic()
        public = suppress_for_public(values, dim_org, breakdown_levels=levels, audit=audit)
        seconds = time.monotonic() - started
        result = attack(public.assign(version=0), truth.assign(version=0), dim_org)
        recovered = result.determined[result.determined["true"].abs() > 1e-9]
        rows.append({"variant": "with the audit" if audit else "complement rule alone",
                     "suppression_s": round(seconds, 1), "public_rows": len(public),
                     "blanked_rows": int(public[QUANTITIES].isna().all(axis=1).sum()),
                     "blanked_figures": result.unknowns, "recovered_non_zero": len(recovered),
                     "recovered_small_cells": len(_cells(recovered) & small), "attack_s": round(result.seconds, 1)})
    return pd.DataFrame(rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("kpi_values", type=Path)
    parser.add_argument("--reference", type=Path, default=REPO_ROOT / "reference")
    parser.add_argument("--levels", default=",".join(DEFAULT_PUBLIC_BREAKDOWN_LEVELS))
    args = parser.parse_args()
    values = pd.read_parquet(args.kpi_values)
    dim_org = load_reference(args.reference)["dim_org"]
    table = compare(values, dim_org, tuple(args.levels.split(",")))
    print(f"{len(values):,} KPI rows, {values['kpi_id'].nunique()} KPIs, public breakdowns at {args.levels}")
    print(table.to_string(index=False))
    print(f"peak memory {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2:.2f} GiB")


if __name__ == "__main__":
    main()
