"""The report's pages: one per theme front page of the seeds' mock-ups (Bilag 1: tema 1, 2.1,
2.2, 3.1, 3.2, 4, 5), theme 6 (economy, issue 23) and the data-quality page. Each names the KPIs shown as tiles (figure
beside "Sidste år"), further KPIs in a small table, and the trend chart."""

from __future__ import annotations

from dataclasses import dataclass, field

from etl.core.vocabulary import ANBRINGELSE, FOREBYGGENDE


@dataclass(frozen=True)
class Trend:
    """A chart of SOF quarter values over the quarters frozen with the version."""
    kpi_id: str
    measures: tuple[tuple[str, str], ...]  # (measure, legend label)
    title: str
    guide: str


@dataclass(frozen=True)
class Page:
    code: str
    title: str
    tiles: tuple[str, ...]
    extra: tuple[str, ...] = ()
    trend: Trend | None = None
    note: str = field(default="")


@dataclass(frozen=True)
class Cell:
    """One published figure of a KPI's SOF row for the tile's period: a measure, optionally of
    one breakdown value (e.g. T6.03's share of kategori Anbringelse)."""
    measure: str
    dimension: str | None = None
    value: str | None = None


@dataclass(frozen=True)
class Detail:
    """A tile whose headline is not a plain total, or that sets its figure against another
    ("net against budget"): the headline cell, its caption, and labelled cells beside it."""
    headline: Cell
    caption: str
    beside: tuple[tuple[str, Cell], ...] = ()


#: Tiles read from `public.kpi_value` by these cells instead of `kpi_tile`'s totals. Theme 6's
#: tiles: each money figure against its budget, the placements' share beside the
#: preventive measures', the expensive cases with their cost and the expected state refund.
TILE_DETAIL: dict[str, Detail] = {
    "T6.01": Detail(Cell("net"), "nettoforbrug i år (ÅTD)",
                    (("Budget (ÅTD)", Cell("budget")), ("Forbrug af budget", Cell("share_of_budget")))),
    "T6.02": Detail(Cell("prognosis"), "forventet nettoforbrug for året",
                    (("Årets budget", Cell("budget_year")), ("Afvigelse", Cell("deviation")))),
    "T6.03": Detail(Cell("share_net", "kategori", ANBRINGELSE), "anbringelsers andel af børneområdets nettoforbrug i år (ÅTD)",
                    ((FOREBYGGENDE, Cell("share_net", "kategori", FOREBYGGENDE)),)),
    "T6.04": Detail(Cell("count"), "borgere blandt de dyreste sager",
                    (("Udgift", Cell("cost")), ("Andel af alle udgifter", Cell("share_of_total")),
                     ("Forventet refusion", Cell("estimated_refund")))),
}

PAGES: tuple[Page, ...] = (
    Page("1", "Tema 1: Borgersammensætning", ("T1.01", "T1.02", "T1.03", "T1.04"),
         trend=Trend("T1.01", (("count", "Borgere"),), "Borgere med en aktiv indsats, kvartalets sidste dag",
                     "Søjlerne viser antallet af borgere med en aktiv indsats på hvert kvartals sidste dag.")),
    Page("2.1", "Tema 2.1: Indsatser og ydelser – Voksne", ("T2.02", "T2.03", "T2.04", "T2.13"),
         extra=("T2.01", "T2.09", "T2.10", "T2.11"),
         trend=Trend("T2.13", (("count", "Personer"),), "Borgere på herberg, forsorgshjem og krisecenter",
                     "Søjlerne viser antallet af borgere på herberg, forsorgshjem og krisecenter pr. kvartal."),
         note="Afgørelser og sager i tabellen gælder børne- og voksenområdet tilsammen."),
    Page("2.2", "Tema 2.2: Indsatser og ydelser – Børn", ("T2.05", "T2.06", "T2.07", "T2.12"), extra=("T2.08",),
         trend=Trend("T2.06", (("count", "Anbragte"),), "Anbragte børn og unge, kvartalets sidste dag",
                     "Søjlerne viser antallet af anbragte børn og unge på hvert kvartals sidste dag.")),
    Page("3.1", "Tema 3.1: Service og sikker drift – Voksne", ("T3.01", "T3.06", "T3.07", "T3.09"), extra=("T3.05",),
         trend=Trend("T3.01", (("share", "Fristoverholdelse"),), "Fristoverholdelse pr. kvartal",
                     "Søjlerne viser andelen af afgørelser truffet inden for fristen i hvert kvartal.")),
    Page("3.2", "Tema 3.2: Service og sikker drift – Børn", ("T3.02", "T3.03", "T3.04", "T3.08"),
         trend=Trend("T3.02", (("share", "Inden for 24 timer"),), "Underretninger vurderet inden for 24 timer",
                     "Søjlerne viser andelen af underretninger vurderet inden for 24 timer i hvert kvartal.")),
    Page("4", "Tema 4: Borgerens forløb", ("T4.01", "T4.02", "T4.03", "T4.04"), extra=("T4.05", "T4.06"),
         trend=Trend("T4.05", (("share_improved", "Forbedret"), ("share_unchanged", "Uændret"),
                               ("share_worsened", "Forværret")), "Udvikling på indsatstrappen (VUM)",
                     "Søjlerne viser for hvert kvartal andelen af borgere, hvis funktionsniveau er forbedret, "
                     "uændret eller forværret.")),
    Page("5", "Tema 5: SOF som arbejdsplads", ("T5.01", "T5.02", "T5.03", "T5.04"), extra=("T5.05",),
         trend=Trend("T5.01", (("short_days", "Kort sygefravær"), ("long_days", "Langt sygefravær")),
                     "Udviklingen i sygefraværet: kort og langt sygefravær (sygedage pr. kvartal)",
                     "Søjlerne viser sygedage i alt pr. kvartal, delt i kort og langt sygefravær.")),
    Page("6", "Tema 6: Økonomi og styring", ("T6.01", "T6.02", "T6.03", "T6.04"), extra=("T6.05", "T6.06", "T6.07"),
         trend=Trend("T6.01", (("net", "Nettoforbrug"), ("budget", "Budget")), "Nettoforbrug mod budget pr. kvartal",
                     "Søjlerne viser for hvert kvartal nettoforbruget (udgifter minus indtægter, bogført i kvartalet) "
                     "ved siden af kvartalets periodiserede budget."),
         note="Beløb er i kroner, afrundet til 0,1 mio. kr. (under 1 mio. kr. til hele kroner). Et beløb, der bygger "
              "på færre end 5 borgere, offentliggøres ikke."),
)

#: The data-quality page's tiles, as in the mock-up ("Datakvalitet i SOF").
DQ_TILES = ("DQ01", "DQ02", "DQ03", "DQ04")
DQ_TREND_RULE = "DQ01"
