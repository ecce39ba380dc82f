"""The committee report of a frozen version, rendered by `sofli report`: a page per theme and
for data quality (PNG via pdftoppm), each tile's figure as Danish text computed here from
`public.kpi_value`, charts with text alternatives, and the planted small cell never shown."""

from __future__ import annotations

import contextlib
import datetime as dt
import io
import re
import shutil
import subprocess

import pandas as pd
import pytest
import sqlalchemy as sa

from etl.cli.main import main
from etl.core.settings import REPO_ROOT
from etl.kpi import CATALOG
from etl.publish.marts import DQ_KPI_FLAG
from etl.publish.warehouse import make_engine, publish, read_table
from etl.quality.config import load_rules_config
from etl.report import render_report
from etl.report.render import signer
from etl.report.pages import PAGES, TILE_DETAIL

pytestmark = [pytest.mark.integration,
              pytest.mark.skipif(not shutil.which("pdftoppm"), reason="poppler-utils (pdftoppm, pdftotext) missing")]
QUARTER = "2025-Q3"
CPR_SHAPED = re.compile(r"(?<!\d)[0-3]\d[01]\d\d\d-?\d{4}(?!\d)")


def danish(value: float | None, unit: str) -> str:
    """Independent of etl.report.fmt: 4383 -> 4.383, 14.94 -> 14,9, 0.1204 -> 12,0 %."""
    if value is None or pd.isna(value):
        return "–"
    if unit == "share":
        return f"{value * 100:.1f}".replace(".", ",") + " %"
    if float(value) == int(value):
        return f"{int(value):,}".replace(",", ".")
    whole, decimal = f"{value:.1f}".split(".")
    return f"{int(whole):,}".replace(",", ".") + "," + decimal


def danish_money(value: float | None) -> str:
    """Independent of etl.report.fmt: 119006600 -> '119,0 mio. kr.', 845312.4 -> '845.312 kr.'."""
    if value is None or pd.isna(value):
        return "–"
    assert abs(value) < 1e9  # the demo's figures; milliards are formatted apart
    if abs(round(value)) >= 1_000_000:
        return f"{value / 1e6:.1f}".replace(".", ",") + " mio. kr."
    return f"{round(value):,}".replace(",", ".") + " kr."


def shown(value: float | None, unit: str) -> str:
    return danish_money(value) if unit.startswith("dkk") else danish(value, unit)


@pytest.fixture(scope="module")
def report(report_settings, first_version, tmp_path_factory, capsys):
    out = tmp_path_factory.mktemp("report")
    code = main(["--data-dir", str(report_settings.data_dir), "report", "--quarter", QUARTER,
                 "--version", str(first_version.version), "--out", str(out)])
    assert code == 0
    assert "rapport.pdf" in capsys.readouterr().out
    pdf = out / "rapport.pdf"
    count = int(re.search(r"Pages:\s+(\d+)", subprocess.run(["pdfinfo", str(pdf)], check=True, capture_output=True,
                                                             text=True).stdout).group(1))
    pages = [subprocess.run(["pdftotext", "-f", str(n), "-l", str(n), str(pdf), "-"], check=True, capture_output=True,
                            text=True).stdout for n in range(1, count + 1)]
    return {"dir": out, "pdf": pdf, "html": (out / "rapport.html").read_text(encoding="utf-8"), "pages": pages}


@pytest.fixture(scope="module")
def capsys(request):  # module-scoped stand-in: the CLI's print is checked through capfd-free stdout capture
    buffer = io.StringIO()

    class _Capture:
        def readouterr(self):
            return type("Out", (), {"out": buffer.getvalue()})()

    with contextlib.redirect_stdout(buffer):
        yield _Capture()


def public_tiles(settings, version: int, period: str) -> pd.DataFrame:
    engine = make_engine(settings.warehouse_url())
    with engine.connect() as conn:
        frame = pd.read_sql(sa.text("SELECT * FROM public.kpi_value WHERE version = :v AND org_level = 'sof' "
                                    "AND dimension IS NULL AND period = :q"), conn, params={"v": version, "q": period})
    engine.dispose()
    return frame


def test_one_page_per_theme_and_for_data_quality_as_png(report):
    info = subprocess.run(["pdfinfo", str(report["pdf"])], check=True, capture_output=True, text=True).stdout
    # cover + themes + data quality + its appendix of the engineering rules
    assert re.search(r"Pages:\s+(\d+)", info).group(1) == str(len(PAGES) + 3)
    subprocess.run(["pdftoppm", "-r", "40", "-png", str(report["pdf"]), str(report["dir"] / "side")], check=True)
    pngs = sorted(report["dir"].glob("side-*.png"))
    assert len(pngs) == len(PAGES) + 3 and all(p.stat().st_size > 2000 for p in pngs)
    assert [p.title for p in PAGES] == [text.splitlines()[0] for text in report["pages"][1:-2]]
    assert report["pages"][-2].splitlines()[0] == "Datakvalitet i SOF"
    assert report["pages"][-1].splitlines()[0] == "Bilag: Driftens datakontroller"
    assert "30. september 2025" in report["pages"][0] and "Kvartalsafslutning" in report["pages"][0]


def test_every_tile_shows_the_quarter_and_a_flow_its_year_to_date_beside_last_year(report, report_settings,
                                                                                   first_version):
    """Each tile's headline is the quarter's figure (a stock: on its last day) beside the same
    quarter last year; a flow tile adds the year to date beside last year's; a share or median
    names the count behind it. Figures from public.kpi_value, formatted here."""
    values = public_tiles(report_settings, first_version.version, QUARTER)
    last_year = public_tiles(report_settings, first_version.version, "2024-Q3")
    for page, text in zip(PAGES, report["pages"][1:-2]):
        if set(page.tiles) & set(TILE_DETAIL):
            continue  # theme 6's tiles set figures against each other: test_theme6_page
        flat = " ".join(text.split())
        figures = []
        for kpi_id in page.tiles:
            kpi = CATALOG[kpi_id]
            assert kpi.title in flat, kpi_id
            rows = values[(values["kpi_id"] == kpi_id) & (values["measure"] == kpi.headline)]
            twins = last_year[(last_year["kpi_id"] == kpi_id) & (last_year["measure"] == kpi.headline)]
            row = rows[rows["period_type"] == "quarter"].iloc[0]
            twin = twins[twins["period_type"] == "quarter"].iloc[0]
            figures.append(danish(row["value"], row["unit"]))
            label = "Sidste år (samme kvartal)" if kpi.kpi_type == "flow" else "Sidste år (samme dag)"
            assert f"{label}: {danish(twin['value'], twin['unit'])}" in flat, kpi_id
            if kpi.kpi_type == "flow":
                ytd = rows[rows["period_type"] == "ytd"].iloc[0]
                ytd_twin = twins[twins["period_type"] == "ytd"].iloc[0]
                assert (f"År til dato (ÅTD): {danish(ytd['value'], ytd['unit'])} · sidste år (ÅTD): "
                        f"{danish(ytd_twin['value'], ytd_twin['unit'])}") in flat, kpi_id
            if row["unit"] in ("share", "days") and kpi.headline != "count":
                assert f"Grundlag: {danish(row['denominator'], 'count')}" in flat, kpi_id
            assert kpi.description.split(".")[0][:60] in flat, kpi_id  # the reading guide
        # the tiles stand side by side: pdftotext reads their figures after the titles, in tile order
        start = flat.index(CATALOG[page.tiles[0]].title)
        titles_end = flat.index(CATALOG[page.tiles[-1]].title, start) + len(CATALOG[page.tiles[-1]].title)
        chart = flat.find(page.trend.title, titles_end)
        row = flat[start:min(chart if chart > 0 else len(flat), flat.index("Læsevejledning", start))]
        position = 0
        for figure in figures:
            found = re.compile(rf"(?<![\d,.]){re.escape(figure)}(?![\d,])").search(row, position)
            assert found, (page.code, figures, row)
            position = found.end()


def test_a_flow_tile_prints_the_quarter_figure_the_warehouse_holds(report, report_settings, first_version):
    """T3.02 (a flow share): the PDF's headline is the quarter's value of public.kpi_tile, and its
    year to date stands beside it as ÅTD; the two differ, so neither can pass for the other."""
    engine = make_engine(report_settings.warehouse_url())
    with engine.connect() as conn:
        rows = dict(conn.execute(sa.text(
            "SELECT period_type, value FROM public.kpi_tile WHERE kpi_id = 'T3.02' AND measure = 'share' "
            "AND org_level = 'sof' AND period = :q AND version = :v"), {"q": QUARTER, "v": first_version.version}).all())
    engine.dispose()
    quarter, ytd = danish(float(rows["quarter"]), "share"), danish(float(rows["ytd"]), "share")
    assert quarter != ytd
    page = " ".join(report["pages"][[p.code for p in PAGES].index("3.2") + 1].split())
    tile = page[page.index(CATALOG["T3.02"].title):]
    assert re.match(rf"{re.escape(CATALOG['T3.02'].title)}\s.*?{re.escape(quarter)}", tile), tile[:300]
    assert f"År til dato (ÅTD): {ytd}" in page


def test_a_suppressed_cell_is_a_dash_and_its_true_value_never_appears(report, report_settings, first_version):
    engine = make_engine(report_settings.warehouse_url())
    with engine.connect() as conn:
        sql = ("SELECT value FROM {s}.kpi_value WHERE version = 1 AND kpi_id = 'T5.04' AND measure = 'count' "
               "AND period = :q AND period_type = 'ytd' AND org_level = 'sof' AND dimension IS NULL")
        true_value = conn.execute(sa.text(sql.format(s="mart")), {"q": QUARTER}).scalar_one()
        published = conn.execute(sa.text(sql.format(s="public")), {"q": QUARTER}).scalar_one()
    engine.dispose()
    assert (true_value, published) == (3.0, None)  # planted in mart, suppressed in public
    title = CATALOG["T5.04"].title
    theme5 = " ".join(report["pages"][[p.code for p in PAGES].index("5") + 1].split())
    assert title in theme5 and "færre end 5" in theme5
    # the planted cell is T5.04's year to date: its ÅTD line reads a dash, never 3
    html_tile = report["html"][report["html"].index(f'<div class="name">{title}'):]
    html_tile = re.split(r'<div class="tile">|<div class="cols">', html_tile)[0]
    assert "År til dato (ÅTD): <b>–</b>" in html_tile and "(ÅTD): <b>3</b>" not in html_tile


def test_charts_have_text_alternatives_and_nothing_is_cpr_shaped(report):
    html = report["html"]
    assert html.count("<svg") == html.count('role="img" aria-label="') == html.count("<figcaption>") >= len(PAGES) + 2
    assert "Kort sygefravær" in html and "Langt sygefravær" in html
    assert "Afgørelser uden frist efter afgørelsesmåned" in html and "efter sagstype" in html
    text = "\n".join(report["pages"])
    assert not CPR_SHAPED.search(html) and not CPR_SHAPED.search(text)


def test_a_kpi_built_on_a_stale_source_is_marked_on_its_tile_with_a_note(report_settings, first_version, tmp_path):
    """The data-quality run frozen with the version found `hr` stale: the theme-5 tiles (all built
    on hr) carry the mark and the page names the source; a KPI of another page carries nothing."""

    engine = make_engine(report_settings.warehouse_url())
    dq_run = read_table(engine, "public.kpi_version", "WHERE version = :v", {"v": first_version.version}
                        )["dq_run_id"].iloc[0]
    previous = read_table(engine, "public.dq_kpi_flag", "WHERE run_id = :r", {"r": dq_run})
    flags = pd.DataFrame([{"kpi_id": kpi, "run_id": dq_run, "blocked_by": "DQ10@hr", "stale": True,
                           "stale_sources": "hr", "kpi_run_id": "night-1", "flagged_at": dt.datetime(2025, 10, 21, 5)}
                          for kpi in ("T5.01", "T5.02")])
    try:
        publish(engine, "public", DQ_KPI_FLAG, flags, {"run_id": dq_run})
        html = render_report(QUARTER, first_version.version, tmp_path, settings=report_settings, pdf=False)["html"]
    finally:
        publish(engine, "public", DQ_KPI_FLAG, previous, {"run_id": dq_run})
        engine.dispose()
    text = open(html, encoding="utf-8").read()
    theme5 = text[text.index("<h1>Tema 5"):]
    reason = "forældet kilde (DQ10): hr; tallet mangler kildens registreringer siden dens seneste gode udtræk."
    assert theme5.count(f'<span class="flag" title="{reason}">†</span>') == 2
    assert f"† {CATALOG['T5.01'].title}, {CATALOG['T5.02'].title}: {reason}" in theme5  # one note for both
    assert text[:text.index("<h1>Tema 5")].count('class="flag"') == 0  # no other page is marked


def public_cell(frame: pd.DataFrame, kpi_id: str, measure: str, period: str, period_type: str,
                kategori: str | None = None) -> pd.Series:
    rows = frame[(frame["kpi_id"] == kpi_id) & (frame["measure"] == measure) & (frame["period"] == period)
                 & (frame["period_type"] == period_type)]
    rows = rows[rows["dimension"].isna()] if kategori is None else rows[
        (rows["dimension"] == "kategori") & (rows["dimension_value"] == kategori)]
    assert len(rows) == 1, (kpi_id, measure, period, period_type, kategori)
    return rows.iloc[0]


def test_theme6_page_sets_money_against_budget_in_danish_as_published(report, report_settings, first_version):
    """Tema 6: each tile's figures read back from the frozen public.kpi_value and formatted here
    (money as 'mio. kr.'), in tile order; the chart of net against budget per quarter with its
    text alternative; the further KPIs in the table; nothing CPR- or case-number-shaped."""
    engine = make_engine(report_settings.warehouse_url())
    with engine.connect() as conn:
        values = pd.read_sql(sa.text("SELECT * FROM public.kpi_value WHERE version = :v AND org_level = 'sof' "
                                     "AND kpi_id LIKE 'T6.%'"), conn, params={"v": first_version.version})
    engine.dispose()
    values["value"] = pd.to_numeric(values["value"], errors="coerce")
    code = [p.code for p in PAGES].index("6")
    text = " ".join(report["pages"][code + 1].split())
    assert text.startswith("Tema 6: Økonomi og styring")

    def fig(kpi, measure, kind, period=QUARTER, kategori=None):
        row = public_cell(values, kpi, measure, period, kind, kategori)
        return shown(row["value"], row["unit"])

    net = public_cell(values, "T6.01", "net", QUARTER, "ytd")["value"]
    assert net > 1e6 and fig("T6.01", "net", "ytd").endswith(" mio. kr.")  # a real money figure, not a dash
    expected = [  # (tile title, headline, [beside lines], last-year line), in tile order
        ("T6.01", fig("T6.01", "net", "ytd"), [f"Budget (ÅTD): {fig('T6.01', 'budget', 'ytd')}",
                                               f"Forbrug af budget: {fig('T6.01', 'share_of_budget', 'ytd')}"],
         f"Sidste år (ÅTD): {fig('T6.01', 'net', 'ytd', '2024-Q3')}"),
        ("T6.02", fig("T6.02", "prognosis", "quarter"), [f"Årets budget: {fig('T6.02', 'budget_year', 'quarter')}",
                                                         f"Afvigelse: {fig('T6.02', 'deviation', 'quarter')}"],
         f"Sidste år (samme dag): {fig('T6.02', 'prognosis', 'quarter', '2024-Q3')}"),
        ("T6.03", fig("T6.03", "share_net", "ytd", kategori="Anbringelse"),
         [f"Forebyggende: {fig('T6.03', 'share_net', 'ytd', kategori='Forebyggende')}"],
         f"Sidste år (ÅTD): {fig('T6.03', 'share_net', 'ytd', '2024-Q3', 'Anbringelse')}"),
        ("T6.04", fig("T6.04", "count", "quarter"), [f"Udgift: {fig('T6.04', 'cost', 'quarter')}",
                                                     f"Andel af alle udgifter: {fig('T6.04', 'share_of_total', 'quarter')}",
                                                     f"Forventet refusion: {fig('T6.04', 'estimated_refund', 'quarter')}"],
         f"Sidste år (samme dag): {fig('T6.04', 'count', 'quarter', '2024-Q3')}"),
    ]
    # the T6.03 tile shows the placements' share of the children's net, not the total's 100 %
    share = public_cell(values, "T6.03", "share_net", QUARTER, "ytd", "Anbringelse")["value"]
    assert 0 < share < 1
    html = report["html"]
    theme6 = html[html.index("<h1>Tema 6: Økonomi og styring</h1>"):]
    theme6 = theme6[:theme6.index("</section>")]
    for kpi_id, headline, beside, last_year in expected:
        title = CATALOG[kpi_id].title
        assert title in text, kpi_id
        tile = theme6[theme6.index(f'<div class="name">{title}'):]
        tile = tile[:tile.index('<div class="tile">') if '<div class="tile">' in tile else tile.index("</div>\n  </div>")]
        assert f'<div class="fig">{headline}</div>' in tile, (kpi_id, headline, tile)
        for line in beside:
            label, figure = line.split(": ")
            assert f'<div class="vs">{label}: <b>{figure}</b></div>' in tile, (kpi_id, line)
        label, figure = last_year.split(": ")
        assert f"{label}: <b>{figure}</b>" in tile, (kpi_id, last_year)
        if kpi_id in ("T6.01", "T6.03"):  # flows: the quarter's own figure beside last year's too
            cell = ("net", None) if kpi_id == "T6.01" else ("share_net", "Anbringelse")
            assert (f"Kvartalet: <b>{fig(kpi_id, cell[0], 'quarter', kategori=cell[1])}</b> · sidste år: "
                    f"<b>{fig(kpi_id, cell[0], 'quarter', '2024-Q3', cell[1])}</b>") in tile, kpi_id
        for line in [*beside, last_year]:
            assert line in text, (kpi_id, line)  # the PDF prints it too
    # the chart: SOF quarter rows of T6.01, net and budget side by side, with its text alternative
    quarters = sorted(values.loc[(values["kpi_id"] == "T6.01") & (values["period_type"] == "quarter")
                                 & values["dimension"].isna(), "period"].unique())
    assert quarters == ["2024-Q3", QUARTER]
    parts = [f"{q[6]}. kv. {q[:4]}: Nettoforbrug {fig('T6.01', 'net', 'quarter', q)}, "
             f"Budget {fig('T6.01', 'budget', 'quarter', q)}" for q in quarters]
    alt = "Nettoforbrug mod budget pr. kvartal: " + "; ".join(parts)
    alt += "" if alt.endswith(".") else "."  # one full stop, also after 'kr.'
    assert f"<figcaption>{alt}</figcaption>" in theme6 and f'aria-label="{alt}"' in theme6
    assert theme6.count("<rect") >= 2 * len(quarters)  # bars drawn (legend swatches beside)
    # the further KPIs in the small table, ÅTD with last year
    for kpi_id in ("T6.05", "T6.06", "T6.07"):
        kpi = CATALOG[kpi_id]
        measure = kpi.measures[0]
        row = (f"</td><td>{kpi.unit} i 3. kvartal 2025</td><td class=\"num\">"
               f"{fig(kpi_id, measure, 'quarter')}</td><td class=\"num\">{fig(kpi_id, measure, 'quarter', '2024-Q3')}"
               f"</td><td class=\"num\">{fig(kpi_id, measure, 'ytd')}</td>")
        assert row in theme6[theme6.index(f"<td>{kpi.title}"):], (kpi_id, row)
    # no CPR-shaped text, no case number: the generated boern Sagsnummer (BS-yyyy-nnnnnn) never
    assert not CPR_SHAPED.search(theme6) and not CPR_SHAPED.search(text)
    assert not re.search(r"BS-\d{4}-\d{6}", theme6 + text)


def test_the_data_quality_page_lists_the_economy_rules_with_their_owners(report):
    """DQ15-DQ19 (issue 23) in the rules table with the owners of config/dq_rules.yaml: the
    finance owner, and the case systems' owners for DQ16/DQ17."""
    rules = load_rules_config(REPO_ROOT / "config" / "dq_rules.yaml")  # owners per rule × source, resolved
    html = report["html"]
    dq = html[html.index("<h1>Datakvalitet i SOF</h1>"):]
    for rule_id in ("DQ15", "DQ16", "DQ17", "DQ18", "DQ19"):
        rule = rules[rule_id]
        owners = ", ".join(a.split("@")[0] for a in rule.all_owners)
        assert "dq-oekonomi" in owners
        row = dq[dq.index(f"<tr><td>{rule_id}</td>"):]
        row = row[:row.index("</tr>")]
        assert f"<td>{rule.title}</td>" in row and row.endswith(f"<td>{owners}</td>"), (rule_id, row)
    assert "dq-boern" in dq[dq.index("<tr><td>DQ16</td>"):].split("</tr>")[0]
    text = " ".join(report["pages"][-2].split())
    assert all(rule_id in text for rule_id in ("DQ15", "DQ16", "DQ17", "DQ18", "DQ19"))


def _pdf_text(path) -> str:
    return subprocess.run(["pdftotext", str(path), "-"], check=True, capture_output=True, text=True).stdout


def test_a_flagged_tile_and_a_suppressed_chart_category_read_as_such_in_the_pdf(report_settings, first_version,
                                                                               tmp_path):
    """The version's data-quality run flags T3.01 (DQ01 breached on boern) and public holds the
    T4.05 'Forværret' share of 2025-Q3 suppressed: the PDF marks the Fristoverholdelse tile † with
    the rule in a footnote, and the chart draws '–' for the category with the legend saying what
    it means (never a missing bar read as 0 %); 'Forværret' is red, 'Forbedret' green."""
    engine = make_engine(report_settings.warehouse_url())
    dq_run = read_table(engine, "public.kpi_version", "WHERE version = :v", {"v": first_version.version}
                        )["dq_run_id"].iloc[0]
    previous = read_table(engine, "public.dq_kpi_flag", "WHERE run_id = :r", {"r": dq_run})
    flags = pd.DataFrame([{"kpi_id": "T3.01", "run_id": dq_run, "blocked_by": "DQ01@boern", "stale": False,
                           "stale_sources": None, "kpi_run_id": "night-1", "flagged_at": dt.datetime(2025, 10, 21, 5)}])
    cell = ("FROM public.kpi_value WHERE version = :v AND kpi_id = 'T4.05' AND measure = 'share_worsened' "
            "AND org_level = 'sof' AND dimension IS NULL AND period = :q AND period_type = 'quarter'")
    params = {"v": first_version.version, "q": QUARTER}
    with engine.connect() as conn:
        true_value = conn.execute(sa.text(f"SELECT value {cell}"), params).scalar_one()
    assert true_value is not None and float(true_value) > 0
    try:
        publish(engine, "public", DQ_KPI_FLAG, flags, {"run_id": dq_run})
        with engine.begin() as conn:
            conn.execute(sa.text(f"UPDATE public.kpi_value SET value = NULL, value_status = 'suppressed' "
                                 f"WHERE rowid IN (SELECT rowid {cell})"), params)
        result = render_report(QUARTER, first_version.version, tmp_path, settings=report_settings)
    finally:
        publish(engine, "public", DQ_KPI_FLAG, previous, {"run_id": dq_run})
        with engine.begin() as conn:
            conn.execute(sa.text(f"UPDATE public.kpi_value SET value = :x, value_status = 'shown' "
                                 f"WHERE rowid IN (SELECT rowid {cell})"), {**params, "x": true_value})
        engine.dispose()
    pages = _pdf_text(result["pdf"]).split("\f")
    theme31 = " ".join(pages[[p.code for p in PAGES].index("3.1") + 1].split())
    title = CATALOG["T3.01"].title
    assert f"{title} †" in theme31
    assert (f"† {title}: tallet bygger på data med brud på en blokerende datakvalitetsregel: "
            "Afgørelser uden frist (DQ01: boern).") in theme31
    assert sum(" †" in " ".join(p.split()) for p in pages[1:len(PAGES) + 1]) == 1  # no other page is marked
    theme4 = " ".join(pages[[p.code for p in PAGES].index("4") + 1].split())
    assert "– ikke offentliggjort (færre end 5) eller ikke opgjort" in theme4  # the chart's legend
    assert "3. kv. 2025: Forbedret" in theme4 and "Forværret –" in theme4  # its text alternative
    html = open(result["html"], encoding="utf-8").read()
    chart = html[html.index("Udvikling på indsatstrappen (VUM)</h2>"):]
    chart = chart[:chart.index("</svg>")]
    assert re.search(r'<text [^>]*fill="#b3261e" font-weight="bold">–</text>', chart)  # the dash where the bar was
    assert re.search(r'fill="#2e7d32"/><text [^>]*>Forbedret</text>', chart)
    assert re.search(r'fill="#b3261e"/><text [^>]*>Forværret</text>', chart)


def test_the_data_quality_page_blanks_small_counts_and_moves_engineering_rules_to_the_appendix(report):
    """Counts 1-4 of a rule never print on the committee's page (nor its rate); DQ14 and the other
    engineering rules (config/dq_rules.yaml `audience: engineering`) stand in the appendix only."""
    config = load_rules_config(REPO_ROOT / "config" / "dq_rules.yaml")
    engineering = {r for r, c in config.items() if c.audience == "engineering"}
    assert {"DQ10", "DQ14"} <= engineering and "DQ01" not in engineering
    html = report["html"]
    dq = html[html.index("<h1>Datakvalitet i SOF</h1>"):html.index("<h1>Bilag: Driftens datakontroller</h1>")]
    appendix = html[html.index("<h1>Bilag: Driftens datakontroller</h1>"):]
    for rule_id in engineering:
        assert f"<tr><td>{rule_id}</td>" not in dq and f"<tr><td>{rule_id}</td>" in appendix, rule_id
    rows = re.findall(r'<tr><td>(DQ\d+)</td><td>[^<]*</td><td class="num">([^<]*)</td><td class="num">([^<]*)</td>'
                      r'<td class="num">([^<]*)</td>', html)
    assert len(rows) >= 15
    for rule_id, failing, population, rate in rows:
        for count in (failing, population):
            assert count == "–" or not 1 <= int(count.replace(".", "")) <= 4, (rule_id, count)
        if failing == "–":
            assert rate == "–", rule_id
    months = re.search(r"efter afgørelsesmåned: ([^<]*)</figcaption>", dq).group(1)
    assert not re.search(r"Afgørelser [1-4](?![\d.,])", months), months


def test_the_report_is_signed_by_a_person_never_a_machine_account(report):
    assert "af udvalgssekretariatet" in " ".join(report["pages"][0].split())
    assert signer("dag_test", "Socialforvaltningens ledelsesinformation") == "Socialforvaltningens ledelsesinformation"
    assert signer("airflow", "Kontoret for ledelsesinformation") == "Kontoret for ledelsesinformation"
    assert signer(None, "X") == "X" and signer("mette.jensen", "X") == "mette.jensen"
