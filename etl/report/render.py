"""Load a frozen version from the warehouse, build the pages, render HTML (Jinja2) and PDF."""

from __future__ import annotations

import datetime as dt
import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd
import sqlalchemy as sa
from jinja2 import Environment, StrictUndefined, select_autoescape

from etl.core.periods import local_today, parse_quarter, quarter_bounds
from etl.core.settings import Settings
from etl.publish.warehouse import make_engine
from etl.report import fmt
from etl.report.charts import Chart, bar_chart, hbar_chart
from etl.report.pages import DQ_TILES, DQ_TREND_RULE, HEADLINE_MEASURE, PAGES, TILE_DETAIL, Cell, Detail, Page
from etl.report.template import TEMPLATE

log = logging.getLogger(__name__)
STALE_NOTE = ("† Tallet bygger på data fra en kilde, hvis seneste gode udtræk var ældre end natten, "
              "da tallene blev låst (forældet kilde, DQ10): {sources}. Tallet mangler kildens registreringer "
              "siden da.")
SUPPRESSION_NOTE = ("– betyder, at tallet ikke offentliggøres: færre end 5 borgere eller hændelser "
                    "(diskretionering, også af tal, som det ellers kunne regnes ud fra), eller at tallet ikke kan opgøres.")


class ReportError(RuntimeError):
    """No such frozen version."""


@dataclass
class Tile:
    kpi_id: str
    title: str
    figure: str
    caption: str
    last_year: str
    last_year_label: str
    suppressed: bool
    stale: str = ""  # the stale sources behind the figure (DQ10), shown as a mark and a note
    beside: list[tuple[str, str]] = field(default_factory=list)  # (label, figure) set against the headline


@dataclass
class Guide:
    kpi_id: str
    title: str
    text: str


@dataclass
class RenderedPage:
    code: str
    title: str
    tiles: list[Tile]
    extra: list[dict] = field(default_factory=list)
    chart: Chart | None = None
    charts: list[Chart] = field(default_factory=list)
    chart_guide: str = ""
    guides: list[Guide] = field(default_factory=list)
    note: str = ""
    table: list[dict] = field(default_factory=list)
    stale_note: str = ""


def report_dir(settings: Settings, quarter: str, version: int) -> Path:
    return settings.zones.report_dir(quarter, version)


def _read(conn: sa.Connection, sql: str, **params) -> pd.DataFrame:
    return pd.read_sql(sa.text(sql), conn, params=params)


def _version_row(conn: sa.Connection, quarter: str, version: int | None) -> dict:
    where = "version = :v" if version is not None else "is_current"
    rows = _read(conn, f"SELECT * FROM public.kpi_version WHERE quarter = :q AND {where}", q=quarter, v=version)
    if rows.empty:
        what = f"version {version}" if version is not None else "a current frozen version"
        raise ReportError(f"{quarter} has no {what} (close the quarter first: DAG close_quarter or etl.publish.freeze)")
    return rows.iloc[-1].to_dict()


def _tile(kpi: dict, tiles: pd.DataFrame) -> Tile:
    kpi_id = kpi["kpi_id"]
    measure = HEADLINE_MEASURE.get(kpi_id, kpi["measures"].split(",")[0].strip())
    rows = tiles[(tiles["kpi_id"] == kpi_id) & (tiles["measure"] == measure)]
    ytd = rows[rows["period_type"] == "ytd"]
    row = (ytd if kpi["kpi_type"] == "flow" and not ytd.empty else rows[rows["period_type"] == "quarter"])
    if row.empty:
        return Tile(kpi_id, kpi["title"], fmt.SUPPRESSED, kpi["unit"], fmt.SUPPRESSED, "Sidste år", True)
    r = row.iloc[0]
    value, last = r["value"], r["last_year_value"]
    label = "Sidste år (ÅTD)" if r["period_type"] == "ytd" else "Sidste år (samme dag)"
    caption = kpi["unit"] + (" i år (ÅTD)" if r["period_type"] == "ytd" else f" pr. {fmt.date(r['period_end'])}")
    return Tile(kpi_id, kpi["title"], fmt.figure(value, r["unit"]), caption, fmt.figure(last, r["unit"]), label,
                fmt.is_missing(value) or fmt.is_missing(last))


def _cell_row(cells: pd.DataFrame, kpi_id: str, cell: Cell, period: str, period_type: str) -> pd.Series | None:
    """The SOF row of one cell (measure, and breakdown value if any) in a period, or None."""
    rows = cells[(cells["kpi_id"] == kpi_id) & (cells["measure"] == cell.measure) & (cells["period"] == period)
                 & (cells["period_type"] == period_type)]
    if cell.dimension is None:
        rows = rows[rows["dimension"].isna()]
    else:
        rows = rows[(rows["dimension"] == cell.dimension) & (rows["dimension_value"] == cell.value)]
    return rows.iloc[0] if len(rows) else None


def _detail_tile(kpi: dict, detail: Detail, cells: pd.DataFrame, quarter: str) -> Tile:
    """A tile built from `public.kpi_value` cells (TILE_DETAIL): the headline cell ÅTD for a
    flow (else on the quarter's last day), last year's twin, and the cells set beside it."""
    kpi_id = kpi["kpi_id"]
    year, q = parse_quarter(quarter)
    last_quarter = f"{year - 1}-Q{q}"

    def kind_of(cell: Cell) -> str:
        has_ytd = _cell_row(cells, kpi_id, cell, quarter, "ytd") is not None
        return "ytd" if kpi["kpi_type"] == "flow" and has_ytd else "quarter"

    kind = kind_of(detail.headline)
    row = _cell_row(cells, kpi_id, detail.headline, quarter, kind)
    twin = _cell_row(cells, kpi_id, detail.headline, last_quarter, kind)
    if row is None:
        return Tile(kpi_id, kpi["title"], fmt.SUPPRESSED, detail.caption, fmt.SUPPRESSED, "Sidste år", True)
    value = row["value"]
    last = twin["value"] if twin is not None else None
    label = "Sidste år (ÅTD)" if kind == "ytd" else "Sidste år (samme dag)"
    caption = detail.caption + ("" if kind == "ytd" else f" pr. {fmt.date(row['period_end'])}")
    beside = []
    for name, cell in detail.beside:
        other = _cell_row(cells, kpi_id, cell, quarter, kind_of(cell))
        beside.append((name, fmt.SUPPRESSED if other is None else fmt.figure(other["value"], other["unit"])))
    return Tile(kpi_id, kpi["title"], fmt.figure(value, row["unit"]), caption, fmt.figure(last, row["unit"]), label,
                fmt.is_missing(value) or fmt.is_missing(last), beside=beside)


def _trend(page: Page, history: pd.DataFrame, quarter: str) -> Chart:
    trend = page.trend
    rows = history[(history["kpi_id"] == trend.kpi_id) & (history["period"] <= quarter)]
    quarters = sorted(rows["period"].unique())
    series = []
    unit = "count"
    for measure, label in trend.measures:
        m = rows[rows["measure"] == measure].set_index("period")
        if not m.empty:
            unit = m["unit"].iloc[0]
        series.append((label, [m["value"].get(q) if q in m.index else None for q in quarters]))
    return bar_chart(trend.title, [fmt.quarter_short(q) for q in quarters], series, unit)


def _theme_page(page: Page, catalog: dict, tiles: pd.DataFrame, history: pd.DataFrame, quarter: str,
                stale: dict[str, str] | None = None, cells: pd.DataFrame | None = None) -> RenderedPage:
    """A theme's page; `stale` maps a KPI id to the stale sources it was built on (marked with †);
    `cells` holds the `kpi_value` rows of the TILE_DETAIL KPIs."""
    stale = stale or {}
    out = RenderedPage(page.code, page.title, [], note=page.note)
    for kpi_id in page.tiles:
        if kpi_id in catalog:
            t = (_detail_tile(catalog[kpi_id], TILE_DETAIL[kpi_id], cells, quarter)
                 if kpi_id in TILE_DETAIL and cells is not None else _tile(catalog[kpi_id], tiles))
            t.stale = stale.get(kpi_id, "")
            out.tiles.append(t)
    for kpi_id in page.extra:
        if kpi_id in catalog:
            t = _tile(catalog[kpi_id], tiles)
            out.extra.append({"title": t.title, "caption": t.caption, "figure": t.figure, "last_year": t.last_year,
                              "stale": stale.get(kpi_id, "")})
    sources = sorted({s for k in (*page.tiles, *page.extra) for s in stale.get(k, "").split(",") if s})
    if sources:
        out.stale_note = STALE_NOTE.format(sources=", ".join(sources))
    if page.trend:
        out.chart = _trend(page, history, quarter)
        out.chart_guide = page.trend.guide
    out.guides = [Guide(k, catalog[k]["title"], catalog[k]["description"]) for k in page.tiles + page.extra if k in catalog]
    return out


def _dq_page(dq: pd.DataFrame, rules: pd.DataFrame, quarter_end: dt.date) -> RenderedPage:
    titles = dict(zip(rules["rule_id"], rules["title"])) if not rules.empty else {}
    owners = dict(zip(rules["rule_id"], rules["owners"].map(_owners))) if not rules.empty else {}
    totals = dq[dq["dimension"].isna()]
    per_rule = totals.groupby("rule_id").agg(failing=("failing", "sum"), population=("population", "sum"),
                                              breach=("status", lambda s: (s == "breach").any()),
                                              severity=("severity", "first")).reset_index()
    page = RenderedPage("DQ", "Datakvalitet i SOF", [])
    for rule_id in DQ_TILES:
        r = per_rule[per_rule["rule_id"] == rule_id]
        if r.empty:
            continue
        r = r.iloc[0]
        page.tiles.append(Tile(rule_id, titles.get(rule_id, rule_id), fmt.number(r["failing"]),
                               f"af {fmt.number(r['population'])} registreringer", "", "", False))
    for r in per_rule.sort_values("rule_id").itertuples():
        rate = r.failing / r.population if r.population else None
        page.table.append({"rule_id": r.rule_id, "title": titles.get(r.rule_id, r.rule_id),
                           "failing": fmt.number(r.failing), "population": fmt.number(r.population),
                           "rate": fmt.figure(rate, "share"), "status": "brud" if r.breach else "ok",
                           "severity": "fejl" if r.severity == "error" else "advarsel",
                           "owners": owners.get(r.rule_id, "")})
    rule = dq[dq["rule_id"] == DQ_TREND_RULE]
    months = rule[rule["dimension"] == "decision_month"].groupby("dimension_value")["failing"].sum()
    first = (pd.Timestamp(quarter_end) - pd.DateOffset(months=11)).strftime("%Y-%m")
    months = months[(months.index >= first) & (months.index <= quarter_end.strftime("%Y-%m"))].sort_index()
    name = titles.get(DQ_TREND_RULE, DQ_TREND_RULE)
    page.charts.append(bar_chart(f"{name} efter afgørelsesmåned",
                                 [_month(m) for m in months.index], [("Afgørelser", list(months.values))], "count",
                                 height=125))
    types = rule[rule["dimension"] == "case_type"].groupby("dimension_value")["failing"].sum().sort_values(ascending=False)
    page.charts.append(hbar_chart(f"{name} efter sagstype", [str(t) for t in types.index[:8]],
                                  list(types.values[:8]), "count"))
    page.chart_guide = ("Graferne viser afgørelser registreret uden frist, fordelt på afgørelsesmåned (de seneste "
                        "12 måneder) og på sagstype, som de stod ved kvartalets afslutning. Tabellen viser alle regler: antal fejlregistreringer, "
                        "af hvor mange, andelen, om reglens tærskel er overskredet (brud), og hvem der ejer rettelsen "
                        "(datakvalitetsansvarlig pr. kildesystem).")
    return page


def _owners(addresses: object) -> str:
    """The rule's owners as their mailboxes' names ('dq-oekonomi, dq-boern'): who fixes it. A rule
    routed to every source's own owner lists many; past three the cell names two and how many more, so the
    table keeps its one page (the full routing is docs/data-quality.md and `mart.dq_rule`)."""
    if not isinstance(addresses, str):
        return ""
    names = [a.strip().split("@")[0] for a in addresses.split(",") if a.strip()]
    return ", ".join(names) if len(names) <= 3 else ", ".join(names[:2]) + f" +{len(names) - 2}"


def _month(label: str) -> str:
    year, month = str(label)[:7].split("-")
    return f"{fmt.MONTHS[int(month) - 1][:3]}. {year[2:]}"


def render_report(quarter: str, version: int | None = None, out_dir: Path | str | None = None, *,
                  settings: Settings, pdf: bool = True) -> dict:
    """Render the report of a frozen version; returns the paths, quarter and version."""
    year, q = parse_quarter(quarter)
    quarter = f"{year}-Q{q}"
    _, quarter_end = quarter_bounds(year, q)
    engine = make_engine(settings.warehouse_url())
    try:
        with engine.connect() as conn:
            meta = _version_row(conn, quarter, version)
            version = int(meta["version"])
            tiles = _read(conn, "SELECT * FROM public.kpi_tile WHERE version = :v AND org_level = 'sof' AND period = :q",
                          v=version, q=quarter)
            history = _read(conn, "SELECT kpi_id, measure, period, unit, value FROM public.kpi_value WHERE version = :v "
                            "AND org_level = 'sof' AND dimension IS NULL AND period_type = 'quarter'", v=version)
            detail_ids = ", ".join(f"'{k}'" for k in sorted(TILE_DETAIL))  # ids from code, never from input
            cells = _read(conn, "SELECT kpi_id, measure, period, period_type, period_end, dimension, dimension_value, "
                          f"unit, value FROM public.kpi_value WHERE version = :v AND org_level = 'sof' AND kpi_id IN "
                          f"({detail_ids}) AND period IN (:q, :ly)", v=version, q=quarter, ly=f"{year - 1}-Q{q}")
            catalog = {r["kpi_id"]: r for r in _read(conn, "SELECT * FROM public.kpi_catalog").to_dict("records")}
            dq = _read(conn, "SELECT * FROM mart.dq_result_frozen WHERE version = :v", v=version)
            rules = _read(conn, "SELECT rule_id, title, description, owners FROM mart.dq_rule")
            flags = _read(conn, "SELECT kpi_id, stale_sources FROM public.dq_kpi_flag WHERE run_id = :r AND stale",
                          r=meta.get("dq_run_id"))
    finally:
        engine.dispose()
    for frame in (tiles, history, cells):
        frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    if "last_year_value" in tiles:
        tiles["last_year_value"] = pd.to_numeric(tiles["last_year_value"], errors="coerce")
    stale = dict(zip(flags["kpi_id"], flags["stale_sources"].fillna("")))
    pages = [_theme_page(p, catalog, tiles, history, quarter, stale, cells) for p in PAGES]
    pages.append(_dq_page(dq, rules, quarter_end))
    is_current = str(meta["is_current"]).lower() in ("1", "true")
    html = Environment(autoescape=select_autoescape(default=True), undefined=StrictUndefined).from_string(TEMPLATE).render(
        quarter=fmt.quarter(quarter), quarter_end=fmt.date(quarter_end), version=version, meta=meta,
        frozen_at=fmt.datetime(pd.Timestamp(meta["frozen_at"]).to_pydatetime()), is_current=is_current,
        pages=pages, suppression_note=SUPPRESSION_NOTE, generated=fmt.date(local_today()))
    target = Path(out_dir) if out_dir else report_dir(settings, quarter, version)
    target.mkdir(parents=True, exist_ok=True)
    html_path = target / "rapport.html"
    html_path.write_text(html, encoding="utf-8")
    result = {"quarter": quarter, "version": version, "html": str(html_path), "pages": len(pages) + 1}
    if pdf:
        from weasyprint import HTML  # noqa: PLC0415 - heavy import only when a PDF is wanted
        pdf_path = target / "rapport.pdf"
        tmp = pdf_path.with_suffix(".pdf.tmp")
        HTML(string=html, base_url=str(target)).write_pdf(tmp)
        tmp.replace(pdf_path)
        result["pdf"] = str(pdf_path)
    log.info("report %s version %d: %s", quarter, version, result)
    return result
