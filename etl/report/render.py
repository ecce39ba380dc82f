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
from etl.quality.config import load_rules_config
from etl.report import fmt
from etl.report.charts import DIRECTION_COLOURS, Chart, bar_chart, hbar_chart
from etl.report.pages import DQ_TILES, DQ_TREND_RULE, PAGES, TILE_DETAIL, Cell, Detail, Page
from etl.report.template import TEMPLATE

log = logging.getLogger(__name__)
FLAG_MARK = "†"
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
    beside: list[tuple[str, str]] = field(default_factory=list)  # (label, figure) set against the headline
    ytd: str = ""  # a flow's year to date beside the quarter, and last year's
    quarter_figure: str = ""  # a TILE_DETAIL flow (headline ÅTD): the quarter's own figure, and last year's
    quarter_last_year: str = ""
    ytd_last_year: str = ""
    basis: str = ""  # the count behind a share, median or mean
    flag: str = ""  # why the figure is marked: a breached blocking rule or a stale source (dq_kpi_flag)
    direction: str = ""  # better | worse | same against last year, by the KPI's `better`


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
    flag_notes: list[str] = field(default_factory=list)
    appendix: list[dict] = field(default_factory=list)


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


#: Units whose figure rests on a number of events or persons the tile names ("Grundlag").
BASIS_UNITS = {"share", "days", "per_caseworker"}


def _direction(value: object, last: object, better: str) -> str:
    """better | worse | same against last year by the KPI's direction; "" when neutral or not comparable."""
    if better not in ("higher", "lower") or fmt.is_missing(value) or fmt.is_missing(last):
        return ""
    if round(float(value), 9) == round(float(last), 9):
        return "same"
    return "better" if (float(value) > float(last)) == (better == "higher") else "worse"


def _tile(kpi: dict, tiles: pd.DataFrame) -> Tile:
    """A KPI's tile: its headline measure (`dim_kpi.headline_measure`) for the quarter beside the
    same quarter last year, for a flow also the year to date beside last year's, and the count
    behind a share, median or mean (its denominator)."""
    kpi_id = kpi["kpi_id"]
    rows = tiles[(tiles["kpi_id"] == kpi_id) & (tiles["measure"] == kpi["headline_measure"])]
    quarter_rows, ytd_rows = rows[rows["period_type"] == "quarter"], rows[rows["period_type"] == "ytd"]
    if quarter_rows.empty and ytd_rows.empty:
        return Tile(kpi_id, kpi["title"], fmt.SUPPRESSED, kpi["unit"], fmt.SUPPRESSED, "Sidste år", True)
    r = (quarter_rows if not quarter_rows.empty else ytd_rows).iloc[0]
    y = ytd_rows.iloc[0] if kpi["kpi_type"] == "flow" and not ytd_rows.empty and not quarter_rows.empty else None
    value, last, unit = r["value"], r["last_year_value"], r["unit"]
    if kpi["kpi_type"] == "flow":
        label, caption = "Sidste år (samme kvartal)", f"{kpi['unit']} i {fmt.quarter(r['period'])}"
    else:
        label, caption = "Sidste år (samme dag)", f"{kpi['unit']} pr. {fmt.date(r['period_end'])}"
    tile = Tile(kpi_id, kpi["title"], fmt.figure(value, unit), caption, fmt.figure(last, unit), label,
                fmt.is_missing(value) or fmt.is_missing(last),
                direction=_direction(value, last, kpi.get("better", "neutral")))
    if y is not None:
        tile.ytd, tile.ytd_last_year = fmt.figure(y["value"], unit), fmt.figure(y["last_year_value"], unit)
    if unit in BASIS_UNITS and kpi["headline_measure"] != "count":
        tile.basis = f"Grundlag: {fmt.number(r['denominator'])}" + (
            f" (ÅTD: {fmt.number(y['denominator'])})" if y is not None else "")
    return tile


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
    flow (else on the quarter's last day), last year's twin, the cells set beside it, and a
    flow's quarter figure beside last year's."""
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
    tile = Tile(kpi_id, kpi["title"], fmt.figure(value, row["unit"]), caption, fmt.figure(last, row["unit"]), label,
                fmt.is_missing(value) or fmt.is_missing(last), beside=beside)
    if kind == "ytd":  # a flow's money stands ÅTD beside its budget; the quarter's own figure below it
        in_quarter = _cell_row(cells, kpi_id, detail.headline, quarter, "quarter")
        twin_quarter = _cell_row(cells, kpi_id, detail.headline, last_quarter, "quarter")
        if in_quarter is not None:
            tile.quarter_figure = fmt.figure(in_quarter["value"], in_quarter["unit"])
            tile.quarter_last_year = (fmt.SUPPRESSED if twin_quarter is None
                                      else fmt.figure(twin_quarter["value"], twin_quarter["unit"]))
    return tile


def _trend(page: Page, history: pd.DataFrame, quarter: str, directions: dict[str, str]) -> Chart:
    """The page's trend chart; `directions` (dim_measure.better) colour the series green, grey and
    red when a chart holds a better-higher and a better-lower series (T4.05: Forbedret, Forværret)."""
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
    ways = [directions.get(measure, "neutral") for measure, _ in trend.measures]
    colours = [DIRECTION_COLOURS[w] for w in ways] if {"higher", "lower"} <= set(ways) else None
    return bar_chart(trend.title, [fmt.quarter_short(q) for q in quarters], series, unit, colours=colours)


def _theme_page(page: Page, catalog: dict, tiles: pd.DataFrame, history: pd.DataFrame, quarter: str,
                flags: dict[str, str] | None = None, cells: pd.DataFrame | None = None,
                directions: dict[str, str] | None = None) -> RenderedPage:
    """A theme's page; `flags` maps a flagged KPI id (dq_kpi_flag of the version's data-quality
    run) to why, marked † with a footnote; `cells` holds the `kpi_value` rows of the TILE_DETAIL KPIs."""
    flags = flags or {}
    out = RenderedPage(page.code, page.title, [], note=page.note)
    for kpi_id in page.tiles:
        if kpi_id in catalog:
            t = (_detail_tile(catalog[kpi_id], TILE_DETAIL[kpi_id], cells, quarter)
                 if kpi_id in TILE_DETAIL and cells is not None else _tile(catalog[kpi_id], tiles))
            t.flag = flags.get(kpi_id, "")
            out.tiles.append(t)
    for kpi_id in page.extra:
        if kpi_id in catalog:
            t = _tile(catalog[kpi_id], tiles)
            out.extra.append({"title": t.title, "caption": t.caption, "figure": t.figure, "last_year": t.last_year,
                              "ytd": t.ytd, "basis": t.basis, "flag": flags.get(kpi_id, "")})
    marked: dict[str, list[str]] = {}  # one footnote per reason, naming every KPI it marks
    for k in (*page.tiles, *page.extra):
        if k in flags and k in catalog:
            marked.setdefault(flags[k], []).append(catalog[k]["title"])
    out.flag_notes = [f"{FLAG_MARK} {', '.join(titles)}: {reason}" for reason, titles in marked.items()]
    if page.trend:
        out.chart = _trend(page, history, quarter, directions or {})
        out.chart_guide = page.trend.guide
    out.guides = [Guide(k, catalog[k]["title"], catalog[k]["description"]) for k in page.tiles + page.extra if k in catalog]
    return out


def flag_reasons(flags: pd.DataFrame, rule_titles: dict[str, str]) -> dict[str, str]:
    """Why each flagged KPI is marked, in Danish: the breached blocking rules (rule@source of
    `dq_kpi_flag.blocked_by`) and its stale sources (DQ10)."""
    reasons = {}
    for r in flags.itertuples(index=False):
        parts = []
        blocked: dict[str, list[str]] = {}  # rule -> its breached sources
        for b in str(r.blocked_by or "").split(","):
            if b and not b.startswith("DQ10@"):
                rule, _, source = b.partition("@")
                blocked.setdefault(rule, []).append(source)
        if blocked:
            parts.append("tallet bygger på data med brud på en blokerende datakvalitetsregel: " + ", ".join(
                f"{rule_titles.get(rule, rule)} ({rule}: {', '.join(sources)})" for rule, sources in sorted(blocked.items())))
        stale = "" if fmt.is_missing(r.stale_sources) else str(r.stale_sources or "")
        if stale:
            parts.append(f"forældet kilde (DQ10): {stale.replace(',', ', ')}; tallet mangler kildens registreringer "
                         "siden dens seneste gode udtræk")
        if parts:
            reasons[r.kpi_id] = "; ".join(parts) + "."
    return reasons


def suppress_counts(counts: list, threshold: int) -> list:
    """Counts as the committee may see them: 1 to threshold-1 blanked (None), and when exactly one
    is blanked the next smallest non-zero count too, so the total cannot give it back (the
    complement rule of `etl.publish.suppression`, on one list that adds up)."""
    out = [None if not fmt.is_missing(c) and 0 < float(c) < threshold else c for c in counts]
    blanked = [i for i, (c, o) in enumerate(zip(counts, out)) if o is None and not fmt.is_missing(c)]
    if len(blanked) == 1:
        rest = [i for i, o in enumerate(out) if not fmt.is_missing(o) and float(o) > 0]
        if rest:
            out[min(rest, key=lambda i: float(out[i]))] = None
    return out


def _shown(count: object, threshold: int) -> object:
    """One count alone (a rule's total): blanked when 1 to threshold-1."""
    return None if not fmt.is_missing(count) and 0 < float(count) < threshold else count


def _dq_page(dq: pd.DataFrame, rules: pd.DataFrame, quarter_end: dt.date, audiences: dict[str, str],
             threshold: int) -> RenderedPage:
    """The data-quality page: suppressed like the figures (counts below `threshold` and what gives
    them away blanked), the committee's rules on the page, the engineering ones in its appendix."""
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
        failing, population = _shown(r["failing"], threshold), _shown(r["population"], threshold)
        page.tiles.append(Tile(rule_id, titles.get(rule_id, rule_id), fmt.number(failing),
                               f"af {fmt.number(population)} registreringer", "", "", fmt.is_missing(failing)))
    for r in per_rule.sort_values("rule_id").itertuples():
        failing, population = _shown(r.failing, threshold), _shown(r.population, threshold)
        rate = (r.failing / r.population if r.population and not fmt.is_missing(failing)
                and not fmt.is_missing(population) else None)
        row = {"rule_id": r.rule_id, "title": titles.get(r.rule_id, r.rule_id),
               "failing": fmt.number(failing), "population": fmt.number(population),
               "rate": fmt.figure(rate, "share"), "status": "brud" if r.breach else "ok",
               "severity": "fejl" if r.severity == "error" else "advarsel", "owners": owners.get(r.rule_id, "")}
        (page.appendix if audiences.get(r.rule_id) == "engineering" else page.table).append(row)
    rule = dq[dq["rule_id"] == DQ_TREND_RULE]
    months = rule[rule["dimension"] == "decision_month"].groupby("dimension_value")["failing"].sum()
    first = (pd.Timestamp(quarter_end) - pd.DateOffset(months=11)).strftime("%Y-%m")
    months = months[(months.index >= first) & (months.index <= quarter_end.strftime("%Y-%m"))].sort_index()
    name = titles.get(DQ_TREND_RULE, DQ_TREND_RULE)
    page.charts.append(bar_chart(f"{name} efter afgørelsesmåned",
                                 [_month(m) for m in months.index],
                                 [("Afgørelser", suppress_counts(list(months.values), threshold))], "count",
                                 height=125))
    types = rule[rule["dimension"] == "case_type"].groupby("dimension_value")["failing"].sum().sort_values(ascending=False)
    shown_types = suppress_counts(list(types.values), threshold)
    page.charts.append(hbar_chart(f"{name} efter sagstype", [str(t) for t in types.index[:8]],
                                  shown_types[:8], "count"))
    page.chart_guide = ("Graferne viser afgørelser registreret uden frist, fordelt på afgørelsesmåned (de seneste "
                        "12 måneder) og på sagstype, som de stod ved kvartalets afslutning. Tabellen viser reglerne for "
                        "de registreringer, tallene bygger på: antal fejlregistreringer, af hvor mange, andelen, om "
                        "reglens tærskel er overskredet (brud), og hvem der ejer rettelsen (datakvalitetsansvarlig pr. "
                        "kildesystem). Tal under 5 vises som –. Driftens egne kontroller står i bilaget.")
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


#: `kpi_version.frozen_by` of a close no person triggered (the schedule, `dag.test`, the CLI's service user).
MACHINE_SIGNERS = {"", "airflow", "dag_test", "scheduler", "root", "sofli"}


def signer(frozen_by: object, configured: str) -> str:
    """Who the report says locked the version: the person who triggered a manual close, else the
    configured signer (`SOFLI_REPORT_SIGNER`): never a machine account."""
    name = "" if fmt.is_missing(frozen_by) else str(frozen_by).strip()
    return configured if name.lower() in MACHINE_SIGNERS else name


def report_pages(quarter: str, version: int | None = None, *, settings: Settings) -> tuple[dict, list[RenderedPage]]:
    """The `kpi_version` row and the built pages of a frozen version, read from the warehouse's
    `public` schema (and the frozen data-quality results)."""
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
            catalog = {r["kpi_id"]: r for r in _read(conn, "SELECT * FROM public.dim_kpi").to_dict("records")}
            directions = dict(_read(conn, "SELECT measure, better FROM public.dim_measure").itertuples(index=False))
            dq = _read(conn, "SELECT * FROM mart.dq_result_frozen WHERE version = :v", v=version)
            rules = _read(conn, "SELECT rule_id, title, description, owners FROM mart.dq_rule")
            flags = _read(conn, "SELECT kpi_id, blocked_by, stale_sources FROM public.dq_kpi_flag WHERE run_id = :r",
                          r=meta.get("dq_run_id"))
    finally:
        engine.dispose()
    for frame in (tiles, history, cells):
        frame["value"] = pd.to_numeric(frame["value"], errors="coerce")
    if "last_year_value" in tiles:
        tiles["last_year_value"] = pd.to_numeric(tiles["last_year_value"], errors="coerce")
    reasons = flag_reasons(flags, dict(zip(rules["rule_id"], rules["title"])))
    pages = [_theme_page(p, catalog, tiles, history, quarter, reasons, cells, directions) for p in PAGES]
    audiences = {rule_id: config.audience for rule_id, config in load_rules_config(settings.dq_rules_path).items()}
    pages.append(_dq_page(dq, rules, quarter_end, audiences, settings.suppression_threshold))
    return meta, pages


def render_report(quarter: str, version: int | None = None, out_dir: Path | str | None = None, *,
                  settings: Settings, pdf: bool = True) -> dict:
    """Render the report of a frozen version; returns the paths, quarter and version."""
    year, q = parse_quarter(quarter)
    quarter = f"{year}-Q{q}"
    _, quarter_end = quarter_bounds(year, q)
    meta, pages = report_pages(quarter, version, settings=settings)
    version = int(meta["version"])
    is_current = str(meta["is_current"]).lower() in ("1", "true")
    html = Environment(autoescape=select_autoescape(default=True), undefined=StrictUndefined).from_string(TEMPLATE).render(
        quarter=fmt.quarter(quarter), quarter_end=fmt.date(quarter_end), version=version, meta=meta,
        frozen_at=fmt.datetime(pd.Timestamp(meta["frozen_at"]).to_pydatetime()), is_current=is_current,
        signer=signer(meta.get("frozen_by"), settings.report_signer),
        pages=pages, suppression_note=SUPPRESSION_NOTE, generated=fmt.date(local_today()))
    target = Path(out_dir) if out_dir else report_dir(settings, quarter, version)
    target.mkdir(parents=True, exist_ok=True)
    html_path = target / "rapport.html"
    html_path.write_text(html, encoding="utf-8")
    printed = len(pages) + 1 + sum(1 for p in pages if p.appendix)  # the cover, the pages, the appendix
    result = {"quarter": quarter, "version": version, "html": str(html_path), "pages": printed}
    if pdf:
        from weasyprint import HTML  # noqa: PLC0415 - heavy import only when a PDF is wanted
        pdf_path = target / "rapport.pdf"
        tmp = pdf_path.with_suffix(".pdf.tmp")
        HTML(string=html, base_url=str(target)).write_pdf(tmp)
        tmp.replace(pdf_path)
        result["pdf"] = str(pdf_path)
    log.info("report %s version %d: %s", quarter, version, result)
    return result
