"""The committee report of a frozen quarter: HTML and PDF in Danish, from `public` only.

`render_report("2025-Q3", settings=settings)` reads the quarter's current frozen version (or `version=N`) of
`public.kpi_value` / `public.kpi_tile` (suppressed: a small cell is NULL there and reads
"–" here, so its true value cannot reach the report), the catalogue's reading guides and
the data-quality results frozen with the version, and writes
`<data>/reports/<quarter>/v<N>/rapport.html` and `rapport.pdf` (WeasyPrint). One page per
theme front page of the seeds' mock-ups and one for data quality.
"""

from __future__ import annotations

from etl.report.render import ReportError, render_report, report_dir

__all__ = ["ReportError", "render_report", "report_dir"]
