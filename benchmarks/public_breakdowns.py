"""What `SOFLI_PUBLIC_BREAKDOWN_LEVELS` costs and saves: one KPI set suppressed for `public`
with breakdowns at every org level and at the given levels, per theme.

    python benchmarks/public_breakdowns.py <data-dir>/kpi/kpi_value.parquet [--levels sof,area]
        [--reference reference/]

Prints per theme the published figures (non-NULL in `mart`, rows of `public`), the share of
them blanked, the share of org totals (no breakdown) blanked and the SOF totals blanked, and
the suppression's seconds. The KPI set comes from any run (`benchmarks/run_chain.py
--profile copenhagen --data-dir /tmp/bench-cph` leaves `/tmp/bench-cph/kpi/kpi_value.parquet`).
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import pandas as pd

from etl.core.reference import load_reference
from etl.core.settings import DEFAULT_PUBLIC_BREAKDOWN_LEVELS, PUBLIC_ORG_LEVELS, REPO_ROOT
from etl.publish.suppression import suppress_for_public

ROW_KEY = ["kpi_id", "measure", "period_type", "period_start", "period_end", "org_level", "org_key", "dimension",
           "dimension_value"]


def compare(values: pd.DataFrame, dim_org: pd.DataFrame, levels: tuple[str, ...]) -> pd.DataFrame:
    """One row per (setting, theme): figures, blanked shares and SOF totals blanked."""
    values = values[values["org_level"] != "caseworker"].reset_index(drop=True)
    rows = []
    for name, chosen in (("every level", PUBLIC_ORG_LEVELS), (",".join(levels), levels)):
        started = time.monotonic()
        public = suppress_for_public(values, dim_org, breakdown_levels=chosen)
        seconds = time.monotonic() - started
        both = values.merge(public[[*ROW_KEY, "value"]], on=ROW_KEY, suffixes=("", "_public"))
        both = both[both["value"].notna()].assign(theme=lambda f: f["kpi_id"].str[:2],
                                                  blank=lambda f: f["value_public"].isna())
        for theme, group in both.groupby("theme"):
            totals = group[group["dimension"].isna()]
            sof = totals[totals["org_level"] == "sof"]
            rows.append({"levels": name, "theme": theme, "figures": len(group),
                         "blanked": f"{group['blank'].mean():.0%}", "org totals blanked": f"{totals['blank'].mean():.0%}",
                         "SOF totals blanked": f"{int(sof['blank'].sum())}/{len(sof)}"})
        print(f"{name}: {len(public):,} public rows, suppression {seconds:.1f} s")
    return pd.DataFrame(rows).pivot(index="theme", columns="levels")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("kpi_values", type=Path)
    parser.add_argument("--levels", default=",".join(DEFAULT_PUBLIC_BREAKDOWN_LEVELS))
    parser.add_argument("--reference", type=Path, default=REPO_ROOT / "reference")
    args = parser.parse_args()
    levels = tuple(level.strip() for level in args.levels.split(",") if level.strip())
    table = compare(pd.read_parquet(args.kpi_values), load_reference(args.reference)["dim_org"], levels)
    print(table.to_string())


if __name__ == "__main__":
    main()
