"""`benchmarks/run_chain.py`, the one command behind docs/performance.md, runs end to end
on the demo profile (a full night, a quarter frozen, an incremental night, a daytime refresh)
and reports every stage; `benchmarks/refresh_publish.py` and `benchmarks/refresh_extract.py` then
time the refresh's publish and its extract alone on what it left."""

from __future__ import annotations

import json
import re
import subprocess
import sys

from etl.core.settings import REPO_ROOT

STAGES = ["extract+validate", "link+model", "kpis (compute+audit)", "publish", "data quality"]


def test_the_benchmark_runs_both_nights_and_reports_each_stage(tmp_path):
    out = tmp_path / "figures.json"
    done = subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks" / "run_chain.py"), "--profile", "demo",
                           "--data-dir", str(tmp_path / "data"), "--history-quarters", "1",
                           "--daytime-refresh", "--incremental-night", "--freeze", "2025-Q3", "--json", str(out)],
                          capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]
    figures = json.loads(out.read_text())
    full, night, refresh = figures["nights"]
    assert [s[0] for s in full["stages"]] == ["generate", *STAGES]
    assert [s[0] for s in night["stages"]] == ["freeze 2025-Q3 (setup)", "change rows (setup)", *STAGES]
    assert night["stages"][0][3] > 1000  # the frozen version's public rows, which tonight's audit attacks beside its own
    assert [s[0] for s in refresh["stages"]] == ["change rows (setup)", *STAGES[:2], "kpis (running quarter)",
                                                 *STAGES[3:]]
    for name, seconds, _rows_in, rows_out, cpu, peak in full["stages"][1:] + refresh["stages"][1:] + night["stages"][2:]:
        assert seconds > 0 and cpu > 0 and rows_out > 0, name
        assert 0.05 < peak < 4, (name, peak)  # GiB, this process and its KPI workers
    generated = full["stages"][0][3]
    assert full["stages"][1][2] == generated  # every generated row goes into extraction
    # the incremental night reads the changed rows of the database tables, not all of them
    assert 0 < night["rows_read"]["incremental"] < generated / 50
    # the refresh reads the morning's changes of the database tables only, recomputes the running
    # quarter's periods and keeps the others
    assert refresh["date"] == night["date"] and refresh["tables"]["full"] == 0, refresh["tables"]
    assert 0 < refresh["rows_read"]["incremental"] < generated / 50
    kpis = refresh["stages"][3]
    assert 0 < kpis[3] < full["stages"][3][3] / 2, kpis
    assert figures["peak_gib"] == max(full["peak_gib"], refresh["peak_gib"], night["peak_gib"])
    assert "total (without generate)" in done.stdout and "total (without setup)" in done.stdout
    assert "KPI rows recomputed" in done.stdout
    # the refresh's publish alone, on a copy of what the run left (the A/B of docs/performance.md)
    timed = subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks" / "refresh_publish.py"),
                            str(tmp_path / "data")], capture_output=True, text=True, timeout=900, check=False)
    assert timed.returncode == 0, timed.stderr[-3000:]
    assert re.fullmatch(rf"refresh publish, code {re.escape(str(REPO_ROOT))}, run 1: \d+\.\d s\n", timed.stdout)
    # and the refresh's extract alone, on another copy (the merge's A/B in docs/performance.md)
    timed = subprocess.run([sys.executable, str(REPO_ROOT / "benchmarks" / "refresh_extract.py"),
                            str(tmp_path / "data")], capture_output=True, text=True, timeout=900, check=False)
    assert timed.returncode == 0, timed.stderr[-3000:]
    assert re.fullmatch(rf"refresh extract, code {re.escape(str(REPO_ROOT))}, run 1: \d+\.\d s \(cpu \d+\.\d s; "
                        r"[1-9][\d,]* rows changed; boern \d+\.\d\d, voksen \d+\.\d\d, tilbud \d+\.\d\d, klage "
                        r"\d+\.\d\d, hr \d+\.\d\d, oekonomi \d+\.\d\d\)\n", timed.stdout), timed.stdout
