"""Fingerprint a data folder's published output, to show a change left it identical.

    python scripts/output_fingerprint.py DATA_DIR [--out FILE]

Reads the SQLite warehouse under DATA_DIR (as `sofli demo` writes it) and prints, per
published table, its row count and a SHA-256 of its rows in a canonical order, leaving
out what differs between two runs of the same data by construction (run ids, clock
times). Two folders with the same fingerprints published the same KPI and data-quality
output. Used to check that a restructuring changed no behaviour (docs/architecture.md).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sqlite3
import sys
from pathlib import Path

#: Columns that identify a run or a wall-clock time, never a figure.
VOLATILE = {"run_id", "computed_at", "checked_at", "flagged_at", "frozen_at", "last_success_at", "age_hours",
            "source_run_id", "dq_run_id", "frozen_by", "extracted_at"}
TABLES = ("mart.kpi_value", "public.kpi_value", "mart.kpi_catalog", "mart.dq_rule", "mart.dq_result",
          "mart.dq_failure", "mart.dq_kpi_flag", "mart.source_freshness", "mart.kpi_version",
          "public.kpi_version", "mart.dq_result_frozen", "restricted.kpi_value_caseworker",
          "restricted.dim_caseworker", "restricted.case_cost")


def fingerprint(data_dir: Path) -> dict[str, dict]:
    warehouse = data_dir / "warehouse"
    conn = sqlite3.connect(warehouse / "warehouse.db")
    for schema in ("mart", "public", "restricted"):  # a folder from before issue 21 has no restricted.db: empty
        conn.execute(f"ATTACH DATABASE ? AS {schema}", (str(warehouse / f"{schema}.db"),))
    out = {}
    for table in TABLES:
        schema, name = table.split(".")
        try:
            columns = [r[1] for r in conn.execute(f"PRAGMA {schema}.table_info({name})")]
        except sqlite3.DatabaseError:
            continue
        if not columns:
            continue
        kept = [c for c in columns if c not in VOLATILE]
        rows = sorted(repr(r) for r in conn.execute(f"SELECT {', '.join(kept)} FROM {table}"))
        digest = hashlib.sha256("\n".join(rows).encode()).hexdigest()
        out[table] = {"rows": len(rows), "columns": kept, "sha256": digest}
    conn.close()
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--out", type=Path, help="also write the fingerprints as JSON")
    args = parser.parse_args(argv)
    prints = fingerprint(args.data_dir)
    for table, info in prints.items():
        print(f"{table:28} {info['rows']:>8} rows  {info['sha256'][:16]}")
    if args.out:
        args.out.write_text(json.dumps(prints, indent=2, sort_keys=True))
    return 0


if __name__ == "__main__":
    sys.exit(main())
