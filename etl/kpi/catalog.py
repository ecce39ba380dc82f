"""The nøgletalskatalog: one entry per KPI, the single source for computation and docs.

Every KPI of `shared/spec/kpi-catalogue.md` has an entry here with the metadata the BI
layer shows next to its figures and its lineage: the sources it is built on and the model
tables its computation reads. A theme module attaches the function computing a KPI with
`@kpi("T1.01")`; adding a KPI is one entry here plus one decorated function. The
`mart.kpi_catalog` table and the published `docs/kpi-catalogue.md` are rendered from
these entries, so the catalogue, the numbers and the documentation cannot drift apart.

Lineage: `sources` are the fagsystemer whose data quality the figure depends on; a KPI
is flagged in `mart.dq_kpi_flag` when one of them breached a blocking rule
(`etl.quality.flags`). `cpr` is listed where the KPI uses the CPR extract's demographics
(age group, gender, municipality, birthdays) in its figure or its breakdowns, or counts
T1.01's citizens; `beskaeftigelse` where it uses the employment status. The organisation
and paragraph reference data are not sources (they are versioned with the deployment).
`model_tables` are the tables the computation reads; a test computes every KPI on a
model that records what is read and compares. An entry without lineage, or naming an
unknown source or model table, fails when this module is imported.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType
from typing import Any

import pandas as pd

from etl.core.periods import Period
from etl.model import Model
from etl.model.tables import MODEL_TABLES
from etl.sources import SOURCES

#: A KPI function: model and period in, rows of `aggregate.MEASURE_COLUMNS` out.
ComputeKpi = Callable[[Model, Period], pd.DataFrame]

#: theme number -> (title, owner: the team answering questions about the theme's figures)
THEMES: dict[int, tuple[str, str]] = {
    1: ("Borgersammensætning", "Team Borgeranalyse <lis-borgere@sof.example.org>"),
    2: ("Indsatser og ydelser", "Team Indsatsdata <lis-indsatser@sof.example.org>"),
    3: ("Service og sikker drift", "Team Sagsbehandlingskvalitet <lis-drift@sof.example.org>"),
    4: ("Borgerens forløb", "Team Borgerforløb <lis-forloeb@sof.example.org>"),
    5: ("SOF som arbejdsplads", "HR Analyse <lis-hr@sof.example.org>"),
    6: ("Økonomi og styring", "Team Økonomi <lis-oekonomi@sof.example.org>"),
}

STOCK, FLOW = "stock", "flow"
#: `better` of a KPI or measure: the direction in which its figure improves.
HIGHER, LOWER, NEUTRAL = "higher", "lower", "neutral"
DIRECTIONS = (HIGHER, LOWER, NEUTRAL)

#: Each KPI's tile: (headline measure, better). Not listed: the first measure, neutral
#: (a count of citizens or cases is neither good nor bad in itself).
PRESENTATION: dict[str, tuple[str, str]] = {
    "T1.04": ("share", HIGHER),
    "T2.03": ("median_days", NEUTRAL), "T2.08": ("median_days", NEUTRAL),
    "T2.10": ("cases_per_caseworker", LOWER),
    "T3.01": ("share", HIGHER), "T3.02": ("share", HIGHER), "T3.03": ("share", HIGHER),
    "T3.04": ("median_days", LOWER), "T3.06": ("count", LOWER), "T3.07": ("count", LOWER),
    "T3.08": ("share", HIGHER), "T3.09": ("share", HIGHER),
    "T4.01": ("share", HIGHER), "T4.02": ("share", HIGHER), "T4.03": ("share_365", LOWER),
    "T4.04": ("count", HIGHER), "T4.05": ("share_improved", HIGHER),
    "T5.01": ("per_fte", LOWER), "T5.02": ("share", LOWER), "T5.03": ("count", LOWER), "T5.04": ("count", LOWER),
    "T5.05": ("share", LOWER),
}

#: Danish labels of `kpi_value.measure` (BI's `dim_measure`; the report and the owners' e-mails
#: reuse them) and, where the measure itself has one, the direction in which it is better.
MEASURES: dict[str, tuple[str, str]] = {
    "budget": ("Budget", NEUTRAL), "budget_year": ("Årets budget", NEUTRAL), "cases": ("Sager", NEUTRAL),
    "cases_per_caseworker": ("Sager pr. sagsbehandler", LOWER), "cases_with_cost": ("Sager med udgift", NEUTRAL),
    "caseworkers": ("Sagsbehandlere", NEUTRAL), "children": ("Børn og unge", NEUTRAL),
    "closed": ("Lukkede", NEUTRAL), "completed_education": ("Gennemført uddannelse", HIGHER),
    "cost": ("Udgift", NEUTRAL), "count": ("Antal", NEUTRAL), "created": ("Oprettede", NEUTRAL),
    "decided": ("Afgjorte", NEUTRAL), "deviation": ("Afvigelse", NEUTRAL),
    "estimated_refund": ("Forventet refusion", NEUTRAL), "expense": ("Udgifter", NEUTRAL),
    "long_days": ("Langt sygefravær (dage)", LOWER), "long_persons": ("Ansatte med langt sygefravær", LOWER),
    "max_days": ("Længste (dage)", NEUTRAL), "mean_days": ("Gennemsnit (dage)", NEUTRAL),
    "mean_net_per_case": ("Gennemsnitligt nettoforbrug pr. sag", NEUTRAL), "median_days": ("Median (dage)", NEUTRAL),
    "min_days": ("Korteste (dage)", NEUTRAL), "net": ("Nettoforbrug", NEUTRAL),
    "per_citizen": ("Pr. borger", NEUTRAL), "per_fte": ("Pr. fuldtidsansat", NEUTRAL),
    "persons": ("Personer", NEUTRAL), "prior_year": ("Sidste år", NEUTRAL), "prognosis": ("Prognose", NEUTRAL),
    "received": ("Modtagne", NEUTRAL), "revenue": ("Indtægter", NEUTRAL), "share": ("Andel", NEUTRAL),
    "share_365": ("Andel inden for 365 dage", NEUTRAL), "share_3y": ("Andel inden for 3 år", NEUTRAL),
    "share_improved": ("Forbedret", HIGHER), "share_net": ("Andel af nettoforbruget", NEUTRAL),
    "share_of_budget": ("Forbrug af budget", NEUTRAL), "share_of_total": ("Andel af alle udgifter", NEUTRAL),
    "share_prognosis": ("Andel af prognosen", NEUTRAL), "share_unchanged": ("Uændret", NEUTRAL),
    "share_unknown": ("Andel ukendt", LOWER), "share_voluntary": ("Andel frivillige fratrædelser", NEUTRAL),
    "share_worsened": ("Forværret", LOWER), "short_days": ("Kort sygefravær (dage)", LOWER),
    "short_persons": ("Ansatte med kort sygefravær", LOWER), "sold_places": ("Solgte pladser", NEUTRAL),
    "unit_cost": ("Enhedsudgift", NEUTRAL),
}

#: Danish labels of `kpi_value.dimension` (BI's `dim_dimension`).
DIMENSIONS: dict[str, str] = {
    "acute": "Akut", "age_group": "Aldersgruppe", "area": "Område", "bydel": "Bydel", "category": "Kategori",
    "cause": "Årsag", "complaint_type": "Klagetype", "facility": "Tilbud", "facility_type": "Tilbudstype",
    "foranstaltningstype": "Foranstaltningstype", "force_type": "Type af magtanvendelse", "function": "Funktion",
    "gender": "Køn", "job_category": "Stillingskategori", "kategori": "Kategori", "leave_reason": "Fratrædelsesårsag",
    "measure_type": "Indsatstype", "month": "Måned", "next_step": "Næste skridt",
    "notification_source": "Underretter", "offer_type": "Tilbudstype", "outcome": "Udfald",
    "placement_type": "Anbringelsestype", "service_code": "Ydelse", "source_system": "Fagsystem",
    "status": "Status", "supplier_type": "Leverandørtype", "systems": "Fagsystemer", "target_group": "Målgruppe",
}


@dataclass(frozen=True)
class KpiDefinition:
    kpi_id: str
    theme: int
    theme_title: str
    title: str
    description: str  # plain Danish for a committee reader
    definition: str  # the exact counting rule
    kpi_type: str  # stock (status on E, quarters only) | flow (events in [S, E])
    unit: str  # the headline figure's unit as shown to readers
    measures: tuple[str, ...]  # values of kpi_value.measure
    breakdowns: tuple[str, ...]  # values of kpi_value.dimension (org levels always come on top)
    owner: str
    sources: frozenset[str] = frozenset()  # lineage: the sources it is built on (KPI flags)
    model_tables: frozenset[str] = frozenset()  # lineage: the model tables its computation reads
    compute: ComputeKpi | None = None
    #: A flow KPI's measures that are stocks on E all the same (quarter rows only), e.g. a
    #: prognosis beside the period's spending; a stock KPI's measures are all stocks.
    stock_measures: tuple[str, ...] = ()
    #: The KPI's own settings with their defaults (e.g. T6.04's percentile); a KPI with
    #: params is computed `compute(model, period, params)`, overrides from the settings.
    params: Mapping[str, Any] = field(default_factory=dict, hash=False)
    #: The measure a tile shows (the report and BI's `dim_kpi`); "" means the first measure.
    headline_measure: str = ""
    #: Which way the headline figure is better: higher | lower | neutral (tile and chart colours).
    better: str = "neutral"

    def __post_init__(self) -> None:
        if self.headline_measure and self.headline_measure not in self.measures:
            raise ValueError(f"{self.kpi_id}: headline measure {self.headline_measure!r} is not one of its measures")
        if self.better not in DIRECTIONS:
            raise ValueError(f"{self.kpi_id}: better must be one of {DIRECTIONS}, not {self.better!r}")
        if not self.sources or not self.model_tables:
            raise ValueError(f"{self.kpi_id}: a KPI declares its lineage (sources and model tables it reads)")
        unknown = sorted(self.sources - set(SOURCES)) + sorted(self.model_tables - set(MODEL_TABLES))
        if unknown:
            raise ValueError(f"{self.kpi_id}: lineage names unknown sources or model tables {unknown}")
        if set(self.stock_measures) - set(self.measures) or (self.stock_measures and self.kpi_type == STOCK):
            raise ValueError(f"{self.kpi_id}: stock_measures name measures of a flow KPI")

    @property
    def implemented(self) -> bool:
        return self.compute is not None

    @property
    def headline(self) -> str:
        """The measure shown on the KPI's tile."""
        return self.headline_measure or self.measures[0]

    @property
    def quarter_only_measures(self) -> tuple[str, ...]:
        """The measures reported on quarter rows only (stocks on E)."""
        return self.measures if self.kpi_type == STOCK else self.stock_measures


def _entry(kpi_id: str, title: str, kpi_type: str, unit: str, measures: tuple[str, ...],
           breakdowns: tuple[str, ...], description: str, definition: str, *,
           sources: tuple[str, ...], reads: tuple[str, ...], stock_measures: tuple[str, ...] = (),
           params: Mapping[str, Any] | None = None) -> KpiDefinition:
    theme = int(kpi_id[1])
    theme_title, owner = THEMES[theme]
    headline, better = PRESENTATION.get(kpi_id, ("", NEUTRAL))
    return KpiDefinition(kpi_id, theme, theme_title, title, description, definition, kpi_type,
                         unit, measures, breakdowns, owner, frozenset(sources), frozenset(reads),
                         stock_measures=stock_measures, params=MappingProxyType(dict(params or {})),
                         headline_measure=headline, better=better)


#: T1.01's population: citizens active in the case systems or at a facility, with CPR demographics.
CITIZENS = ("boern", "voksen", "tilbud", "cpr")

STOCK_ACTIVE = ("Active on E: start <= E and (end is null or end >= E), on dates; a missing "
                "start date is never active.")

CATALOG: dict[str, KpiDefinition] = {e.kpi_id: e for e in (
    # Theme 1 — Borgersammensætning
    _entry(
        "T1.01", "Borgere med en aktiv indsats", STOCK, "borgere", ("count",),
        ("area", "age_group", "gender", "target_group", "bydel"),
        "Antallet af forskellige borgere, der på opgørelsesdagen modtager mindst én ydelse eller "
        "foranstaltning eller bor på et botilbud, krisecenter, herberg eller forsorgshjem. En borger "
        "tælles én gang i SOF i alt, også når borgeren er kendt i flere fagsystemer.",
        "Distinct citizen_key with >=1 fact_service (voksen.ydelse, boern.Foranstaltning) or fact_stay "
        "at a facility whose type plays a residential role of the reference (facility roles "
        "temporary_housing, long_term_housing, crisis_centre, shelter; shipped: Midlertidigt botilbud §107, "
        "Længerevarende botilbud §108, Krisecenter §109, Herberg §110 and Forsorgshjem §110; not Natcafé, "
        "not Almen bolig ABL §105) active on E. "
        f"{STOCK_ACTIVE} Stays use their check-in and check-out dates; anonymous stays (no citizen) "
        "never count. Organisation: the unit of each active service or stay, so a citizen counts once "
        "in each unit, center and area they are active in and once in SOF; area is the system's area "
        "(a stay's: its facility unit's). age_group: age on E from dim_citizen.birth_date; gender and "
        "bydel from dim_citizen; target_group: every target group of the cases behind the citizen's "
        "active services, Ukendt for a citizen known only from stays; missing values are Ukendt.",
        sources=CITIZENS, reads=("dim_citizen", "fact_service", "fact_stay", "dim_org", "ref_role"),
    ),
    _entry(
        "T1.02", "Borgere i flere fagsystemer", STOCK, "borgere", ("count", "share"), ("systems",),
        "Antallet af borgere med en aktiv indsats i mindst to fagsystemer på samme tid og deres andel "
        "af alle borgere med en aktiv indsats. Viser, hvor mange borgere der har forløb på tværs af "
        "forvaltningen.",
        "Of the T1.01 citizens on E (same selection and organisation), those active on E in >=2 "
        "different source systems: boern and voksen (the source of an active service or measure) and "
        "tilbud (an active stay at a §107-§110 facility). count: distinct such citizens; share: those / "
        "all T1.01 citizens of the org group. A citizen's systems are counted across SOF, so in a unit "
        "the numerator is the unit's T1.01 citizens who are active in several systems anywhere. systems: "
        "the combination, written in the order boern, voksen, tilbud (boern+voksen, boern+tilbud, "
        "voksen+tilbud, boern+voksen+tilbud), given for the citizens in >=2 systems only; its share keeps "
        "all the org group's T1.01 citizens as denominator, so the combinations add up to the total.",
        sources=CITIZENS, reads=("fact_service", "fact_stay", "dim_org", "ref_role"),
    ),
    _entry(
        "T1.03", "Udenbys borgere", STOCK, "andel", ("share", "share_unknown"), ("area",),
        "Andelen af borgerne med en aktiv indsats, der bor i en anden kommune end København. Borgere "
        "uden kendt bopæl vises for sig.",
        "Denominator: every T1.01 citizen on E (same selection and organisation; area as in T1.01). "
        "share: those whose municipality code in dim_citizen is known and is not 0101 (codes compared as "
        "4 digits); share_unknown: those with no code on record (missing from dim_citizen or an empty "
        "code). The code is KOMKOD of the CPR extract of the extraction date (the model keeps no "
        "residence history), so a past quarter is shown with today's residence. Copenhagen residents "
        "are 1 - share - share_unknown.",
        sources=CITIZENS, reads=("dim_citizen", "fact_service", "fact_stay", "dim_org", "ref_role"),
    ),
    _entry(
        "T1.04", "Beskæftigelses- og uddannelsesandel", STOCK, "andel", ("share",), ("target_group",),
        "Andelen af de 18-64-årige borgere med en aktiv indsats, der er i beskæftigelse, uddannelse "
        "eller erhvervspraktik i kvartalets sidste måned. Kun borgere med en kendt status for måneden "
        "tælles med.",
        "Of the T1.01 citizens on E aged 18-64 on E (dim_citizen.birth_date; unknown age: left out) "
        "with a fact_employment_status row for the calendar month of E: share with status "
        "Beskæftiget, Uddannelse or Erhvervspraktik. Citizens without a row for that month are not in "
        "the denominator (for the running quarter the month's file may not have arrived yet: then 0/0, "
        "no value). Organisation and target groups as in T1.01.",
        sources=(*CITIZENS, "beskaeftigelse"), reads=("dim_citizen", "fact_employment_status", "fact_service", "fact_stay", "dim_org", "ref_role"),
    ),
    # Theme 2 — Indsatser og ydelser
    _entry(
        "T2.01", "Afgørelser", FLOW, "afgørelser", ("count",), ("area", "service_code", "outcome"),
        "Antallet af afgørelser truffet i perioden i børne- og voksensystemet, fordelt på område, "
        "ydelse og udfald (bevilget, delvist bevilget eller afslag).",
        "Count of fact_decision rows (both systems) with decision_date in [S, E]. service_code from "
        "the paragraph mapping (unmapped: Ukendt); outcome as registered; area is the system's area; "
        "organisation from the decision's unit_code.",
        sources=("boern", "voksen"), reads=("fact_decision", "dim_org"),
    ),
    _entry(
        "T2.02", "Aktive ydelser", STOCK, "ydelser", ("count",), ("service_code", "area"),
        "Antallet af igangværende ydelser og foranstaltninger på kvartalets sidste dag, fordelt på "
        "paragraf, fx § 85, § 107 og § 108.",
        "Count of fact_service rows (voksen.ydelse and boern.Foranstaltning) active on E. "
        f"{STOCK_ACTIVE} A service ending before it starts is never active. service_code from the "
        "paragraph mapping (the old Serviceloven children's paragraphs map to their Barnets Lov "
        "codes; unmapped: Ukendt); area is the system's area; organisation from the unit of the "
        "service's case.",
        sources=("boern", "voksen"), reads=("fact_service", "dim_org"),
    ),
    _entry(
        "T2.03", "Opholdslængde §107", FLOW, "dage", ("count", "mean_days", "median_days"), (),
        "Antallet af afsluttede ophold på midlertidige botilbud (§ 107) i perioden og deres "
        "gennemsnitlige og mediane længde i dage.",
        "Stays (tilbud.ophold, services are not stays) at facilities of the facility role "
        "temporary_housing (shipped: Midlertidigt botilbud §107) with check-out date in [S, E]: count = every such stay, anonymous ones and ones with "
        "contradictory dates included. Duration = check-out date - check-in date in days "
        "(timestamps cut to their date); mean_days (numerator: summed days, denominator: stays with "
        "usable dates) and median_days (lower median) over the stays whose check-out date is not "
        "before their check-in date (DQ06 rows are left out). Organisation from the facility's "
        "unit; area the facility unit's area.",
        sources=("tilbud",), reads=("fact_stay", "dim_org", "ref_role"),
    ),
    _entry(
        "T2.04", "Belægning", FLOW, "andel", ("share",), ("facility_type",),
        "Belægningsprocenten: hvor stor en del af tilbuddenes pladsdøgn der var optaget i perioden, "
        "opgjort pr. tilbudstype.",
        "share = occupied bed-nights / available bed-nights in [S, E] (numerator and denominator "
        "stored; NULL when no capacity), per facility type and for every facility type, natcaféer "
        "included (they count only here). A night belongs to the date it starts: a stay occupies "
        "the dates from its check-in date up to, not including, its check-out date (a stay checked "
        "in and out on the same date occupies none), an open stay up to and including E, clipped "
        "to [S, E]; overlapping stays each occupy their nights; anonymous stays count; stays with "
        "check-out before check-in (DQ06) and stays at a facility missing from dim_facility are left "
        "out. Capacity = places x days the facility was "
        "active in [S, E], active_from and active_to both included (active_to missing: active to "
        "E). Organisation (area, center, unit) from the facility's unit, resolved on E.",
        sources=("tilbud",), reads=("dim_facility", "fact_stay", "dim_org"),
    ),
    _entry(
        "T2.05", "Støttende indsatser til børn (forebyggende)", FLOW, "indsatser", ("count",),
        ("measure_type", "target_group", "age_group"),
        "Antallet af forebyggende og støttende indsatser til børn og unge, der er startet i perioden, "
        "fordelt på type, målgruppe og alder.",
        "Count of fact_service rows of source boern and category Forebyggende with start_date in "
        "[S, E] (a measure without a start date never counts). measure_type = the measure's type "
        "(service_type); target_group = that of its case (Handicap / Socialt udsat); age_group = "
        "the child's age in whole years on the start date; missing values are Ukendt. "
        "Organisation from the case's unit; area is the system's area.",
        sources=("boern", "cpr"), reads=("dim_citizen", "fact_service", "dim_org"),
    ),
    _entry(
        "T2.06", "Anbragte børn og unge", STOCK, "børn og unge", ("count",),
        ("placement_type", "target_group", "age_group"),
        "Antallet af børn og unge, der er anbragt uden for hjemmet på kvartalets sidste dag, fordelt "
        "på anbringelsestype, målgruppe og alder. Et barn tælles én gang i alt, men med under hver "
        "anbringelsestype, det har.",
        "Distinct citizen_key with >=1 fact_service of source boern and category Anbringelse active "
        f"on E. {STOCK_ACTIVE} placement_type (service_type) and target_group are those of each "
        "active placement, a child counting once under every value it has; age_group: age on E; "
        "missing values are Ukendt. Organisation from the placement's unit_code; area is the "
        "system's area.",
        sources=("boern", "cpr"), reads=("dim_citizen", "fact_service", "dim_org"),
    ),
    _entry(
        "T2.07", "Nyanbringelser", FLOW, "anbringelser", ("count", "children"),
        ("placement_type", "target_group", "age_group"),
        "Antallet af børn og unge, der er blevet anbragt i perioden uden at have været anbragt dagen "
        "før. Skift mellem anbringelsessteder tælles ikke som nye anbringelser.",
        "Placements (fact_service of source boern, category Anbringelse) with start_date in [S, E] "
        "for a child (citizen_key) with no placement active on the day before that start date "
        "(start_date <= that day and (end_date is null or end_date >= that day)), so a placement "
        "following one that ended the day before or later is a move, not a new placement. count: "
        "those placements; children: distinct citizen_key among them. placement_type = "
        "service_type; target_group of the case; age_group: age on the start date. Organisation "
        "from the case's unit; area is the system's area.",
        sources=("boern", "cpr"), reads=("dim_citizen", "fact_service", "dim_org"),
    ),
    _entry(
        "T2.08", "Anbringelsesvarighed", FLOW, "dage",
        ("count", "mean_days", "median_days", "min_days", "max_days"),
        ("placement_type", "target_group"),
        "Hvor længe de anbringelser, der er afsluttet i perioden, har varet: gennemsnit, median, "
        "korteste og længste varighed i dage.",
        "Placements (fact_service of source boern, category Anbringelse) with end_date in [S, E]: "
        "count = every such placement (each placement row, also a move between placements). "
        "Duration = end_date - start_date in days: mean_days (numerator: summed days, denominator: "
        "usable placements), median_days (lower median), min_days and max_days over the placements "
        "whose dates are usable (start present, end not before start; the others count in count "
        "only). placement_type = service_type; target_group of the case.",
        sources=("boern",), reads=("fact_service", "dim_org"),
    ),
    _entry(
        "T2.09", "Åbne sager", STOCK, "sager", ("count",), ("area",),
        "Antallet af åbne sager på kvartalets sidste dag i børne- og voksensystemet, fordelt på "
        "område, center og enhed.",
        "Count of fact_case rows (both systems; soft-deleted cases are not in the model) open on "
        "E: opened_date <= E and (closed_date is null or closed_date >= E). Area is the system's "
        "area, also when the unit code is unknown (then center and unit are Ukendt); "
        "organisation from the case's unit.",
        sources=("boern", "voksen"), reads=("fact_case", "dim_org"),
    ),
    _entry(
        "T2.10", "Sager pr. sagsbehandler", STOCK, "sager pr. sagsbehandler",
        ("cases_per_caseworker", "cases", "caseworkers"), (),
        "Det gennemsnitlige antal åbne sager pr. sagsbehandler på kvartalets sidste dag. Fordelingen "
        "pr. sagsbehandler vises kun internt og pseudonymt.",
        "Cases open on E as in T2.09 that have a caseworker. cases: those cases; caseworkers: "
        "distinct caseworkers (caseworker_key, the pseudonym of system and caseworker id) with "
        ">=1 of them; cases_per_caseworker = cases / caseworkers (numerator and denominator "
        "stored). The case's unit gives the organisation, so a caseworker with open cases in two "
        "units counts once in each and once in SOF. Org level caseworker (org_key = the "
        "caseworker pseudonym) gives each caseworker's own open cases: the distribution per "
        "caseworker, internal output only.",
        sources=("boern", "voksen"), reads=("fact_case", "dim_org"),
    ),
    _entry(
        "T2.11", "Nye sager / lukkede sager", FLOW, "sager", ("created", "closed"), ("area",),
        "Antallet af sager, der er oprettet, og antallet, der er lukket, i perioden.",
        "created: fact_case rows with opened_date in [S, E]; closed: fact_case rows with "
        "closed_date in [S, E] (a case opened and closed in the period counts in both). Area is "
        "the system's area; organisation from the case's unit, resolved on E.",
        sources=("boern", "voksen"), reads=("fact_case", "dim_org"),
    ),
    _entry(
        "T2.12", "Underretninger", FLOW, "underretninger", ("count", "children"),
        ("notification_source", "age_group", "acute"),
        "Antallet af underretninger om børn og unge modtaget i perioden og antallet af forskellige "
        "børn, de drejer sig om, fordelt på hvem der har underrettet, alder og om underretningen var "
        "akut.",
        "Notifications with received_at date in [S, E]: count = every notification (also those "
        "assessed before received, DQ11, and those without a known child); children = distinct "
        "citizen_key (a notification without a child counts in count only). age_group: the "
        "child's age on the received date; acute as true/false; notification_source as "
        "registered. Organisation from the notification's unit (the child's case unit); area is "
        "the system's area.",
        sources=("boern", "cpr"), reads=("dim_citizen", "fact_notification", "dim_org"),
    ),
    _entry(
        "T2.13", "Borgere på herberg, forsorgshjem og krisecenter", STOCK, "personer", ("count",),
        ("facility_type",),
        "Antallet af personer, der bor på herberg, forsorgshjem eller krisecenter på kvartalets "
        "sidste dag. Anonyme ophold tælles hver for sig.",
        "Distinct citizen_key with a stay open on E (check-in date <= E and (check-out is null or "
        "check-out date >= E)) at a facility of the facility roles crisis_centre or shelter (shipped: "
        "Krisecenter §109, Herberg §110 and Forsorgshjem §110), "
        "plus every anonymous stay (no citizen) open on E as one person of its own. A person with "
        "stays at two facility types counts once in the total and once under each type. "
        "Natcaféer are not included. Organisation from the facility's unit.",
        sources=("tilbud",), reads=("fact_stay", "dim_org", "ref_role"),
    ),
    # Theme 3 — Service og sikker drift
    _entry(
        "T3.01", "Fristoverholdelse", FLOW, "andel", ("share",), ("service_code",),
        "Andelen af afgørelser i perioden, der er truffet inden for den udmeldte "
        "sagsbehandlingsfrist for ydelsen. Københavns mål er 80 procent.",
        "Decisions (both systems) with decision_date in [S, E], an application_date and a service "
        "code that has a deadline in ref_deadline (never the decision's own FristDato): share with "
        "decision_date - application_date <= deadline_days (numerator and denominator stored). "
        "Every outcome counts; decisions with an unmapped paragraph, a service code without a "
        "deadline, or a decision date before the application date (contradictory) are left out. "
        "service_code from the paragraph mapping (old SEL children's paragraphs map to their "
        "Barnets Lov codes); organisation from the decision's case unit; area is the system's area.",
        sources=("boern", "voksen"), reads=("fact_decision", "ref_deadline", "dim_org"),
    ),
    _entry(
        "T3.02", "Underretninger vurderet inden for 24 timer", FLOW, "andel", ("share", "count"),
        ("acute",),
        "Andelen af underretninger modtaget i perioden, der er vurderet inden for 24 timer, som "
        "Barnets Lov § 136 kræver. En underretning, der endnu ikke er vurderet, tæller som for sent, "
        "når der er gået 24 timer.",
        "Notifications with received_at date in [S, E]; count: all of them. share: numerator = "
        "assessed_at - received_at <= 24 h (exactly 24 h is in time); denominator = the assessed ones "
        "plus the unassessed ones received more than 24 h before the extraction time (late). Left out "
        "of the share: unassessed ones received 24 h or less before the extraction time, and ones "
        "assessed before received (DQ11). Organisation from the notification's unit_code (the child's "
        "case unit); area is the system's area; acute as true/false.",
        sources=("boern",), reads=("fact_notification", "dim_org"),
    ),
    _entry(
        "T3.03", "Rettidige børnefaglige undersøgelser", FLOW, "andel", ("share",), (),
        "Andelen af børnefaglige undersøgelser afsluttet i perioden, der blev afsluttet inden for fire "
        "måneder, som Barnets Lov § 20 kræver.",
        "Investigations (fact_investigation: Barnets Lov §20, formerly SEL §50) with completed_date "
        "in [S, E]: share with completed_date <= start_date + 4 months (same day-of-month rule, "
        "clipped to the month's last day: 2025-01-31 + 4 months = 2025-05-31, 2025-10-31 + 4 "
        "months = 2026-02-28; completing on that day is in time). Completed before started "
        "(contradictory): left out. Organisation from the case's unit; area Børn og Unge.",
        sources=("boern",), reads=("fact_investigation", "dim_org"),
    ),
    _entry(
        "T3.04", "Sagstid fra underretning til afsluttet undersøgelse", FLOW, "dage",
        ("count", "median_days", "mean_days"), (),
        "Hvor mange dage der går fra en underretning, til den børnefaglige undersøgelse er afsluttet, "
        "for undersøgelser afsluttet i perioden.",
        "Investigations with completed_date in [S, E] whose child (citizen_key) had a notification "
        "with received date in [start_date - 12 months, start_date] (both ends included, same "
        "day-of-month rule): count. Days = completed_date - the received date of the latest such "
        "notification; median_days (lower median) and mean_days (numerator: summed days, "
        "denominator: investigations with usable dates) leave out investigations completed before "
        "they started. Organisation from the case's unit; area Børn og Unge.",
        sources=("boern",), reads=("fact_investigation", "fact_notification", "dim_org"),
    ),
    _entry(
        "T3.05", "Klager", FLOW, "klager", ("received", "decided"),
        ("complaint_type", "cause", "source_system", "outcome"),
        "Antallet af klager modtaget i perioden og antallet afgjort i perioden fordelt på udfald, fx "
        "medhold ved genvurdering eller stadfæstet, omgjort eller hjemvist i Ankestyrelsen.",
        "received: complaints with received_date in [S, E]; decided: complaints with decided_date in "
        "[S, E]. outcome (decided only) = Medhold when the reconsideration gave it, else "
        "Ankestyrelsen's outcome: Stadfæstet, Omgjort (Ændret and Ophævet together), Hjemvist, "
        "Afvist; a decided complaint not about a decision (complaint_type other than Afgørelse) "
        "with neither is Behandlet, a decision complaint with neither Ukendt. complaint_type, cause and "
        "source_system as registered (missing: Ukendt). Organisation (area, center, unit) from "
        "the complaint's own unit_code.",
        sources=("klage",), reads=("fact_complaint", "dim_org"),
    ),
    _entry(
        "T3.06", "Venteliste til botilbud", STOCK, "personer", ("count", "median_days"),
        ("offer_type",),
        "Antallet af borgere, der venter på en plads i et botilbud på kvartalets sidste dag, og hvor "
        "længe de har ventet indtil nu (median i dage).",
        "Waiting-list rows active on E: listed_date <= E and (left_date is null or left_date >= "
        "E). count: distinct citizen_key; median_days: lower median of E - listed_date in days "
        "over those rows (a person on two lists contributes both waits; denominator: the rows). "
        "offer_type as registered (§107, §108, ABL §105). Waiting lists carry no unit: reported "
        "for SOF and the area Voksne only.",
        sources=("voksen",), reads=("fact_waiting_list",),
    ),
    _entry(
        "T3.07", "Magtanvendelser", FLOW, "magtanvendelser", ("count", "persons"),
        ("facility_type", "facility", "force_type"),
        "Antallet af registrerede magtanvendelser på tilbuddene i perioden og antallet af forskellige "
        "borgere, de vedrører.",
        "Use-of-force registrations with occurred_at date in [S, E]: count = every registration; "
        "persons = distinct citizen_key (a registration without a person counts in count only). "
        "facility = facility_id; facility_type and organisation (area, center, unit) from the "
        "facility in dim_facility (unknown facility: Ukendt); force_type as registered.",
        sources=("tilbud",), reads=("dim_facility", "fact_use_of_force", "dim_org"),
    ),
    _entry(
        "T3.08", "Barnets plan til tiden", FLOW, "andel", ("share",), (),
        "Andelen af bevilgede støttende indsatser og anbringelser med samtykke, hvor barnets plan er "
        "lavet senest tre måneder efter afgørelsen. Der måles på afgørelser fra tre måneder før "
        "perioden, så fristen er udløbet for dem alle.",
        "Decisions of the boern system with outcome Bevilget or Delvis bevilget and a service code of "
        "the service role plan_required (shipped: BL32 and BL46, which their SEL predecessors map to; "
        "BL47, without consent, is not in it) dated in [S - 3 months, (E + 1 day) - 3 months - 1 day], i.e. the quarter or "
        "year-to-date span three months earlier (a running quarter: its days so far, three months "
        "earlier): share with a plan linked to the decision (fact_plan.decision_key) dated no later "
        "than decision date + 3 months (same day-of-month rule; Barnets Lov §§91-92); a plan dated "
        "before the decision is in time. Organisation from the decision's case unit; area is the "
        "system's area.",
        sources=("boern",), reads=("fact_decision", "fact_plan", "dim_org", "ref_role"),
    ),
    _entry(
        "T3.09", "Rusmiddelbehandling inden for 14 dage", FLOW, "andel", ("share",), (),
        "Andelen af borgere, der er startet i rusmiddelbehandling i perioden senest 14 dage efter, at "
        "de bad om det (behandlingsgarantien).",
        "Services with a service code of the service role substance_treatment (shipped: SEL101, SEL §101 "
        "and its successor in the Rusmiddelbehandlingsloven) with start_date in [S, E] whose decision (decision_key) has an "
        "application date: share (of services) with start_date - application_date <= 14 days (day "
        "14 in time). Services without a decision or application date, and ones started before "
        "the application (contradictory), are left out. Organisation from the case's unit.",
        sources=("voksen",), reads=("fact_decision", "fact_service", "dim_org", "ref_role"),
    ),
    # Theme 4 — Borgerens forløb
    _entry(
        "T4.01", "Fra herberg til bolig", FLOW, "andel", ("count", "share"), ("next_step",),
        "Andelen af borgere, der forlader et herberg eller forsorgshjem og inden for 90 dage kommer "
        "videre i et botilbud eller egen bolig.",
        "Persons (citizen_key; anonymous stays never count) with a stay at a facility of the facility "
        "role shelter (shipped: Herberg §110 and Forsorgshjem §110) with check-out date in [S, E]; "
        "count: those persons, always reported. Next steps: a service of the service role "
        "temporary_housing (shipped: SEL107) starting or a stay at a facility of the facility role "
        "temporary_housing (shipped: Midlertidigt botilbud §107) checked in (§107); the same for the "
        "roles long_term_housing (shipped: SEL108 / Længerevarende botilbud §108) (§108); any stay at a "
        "facility of a residential role (§107-§110) checked out with discharged_to Egen bolig, the shelter stay itself "
        "included (Egen bolig; natcaféer are no step). A "
        "discharged_to of §107 or §108 without such a service or stay is not a next step. Each person "
        "counts once, by the earliest next step dated 0 to 90 days after the date of any of their "
        "check-outs in the period (day 90 included; a tie on one day goes §107, §108, Egen bolig). "
        "share: persons with a next step / all the persons; next_step: persons by their first next "
        "step / all the persons, so the next steps add up to the total share. Organisation: the unit "
        "of each shelter left in the period. The share is reported only when E + 90 days <= the "
        "extraction date. "
        "Before that the measure is not yet available: value, numerator and denominator "
        "NULL at every org level (no breakdown rows), never 0.",
        sources=("voksen", "tilbud"), reads=("fact_service", "fact_stay", "dim_org", "ref_role"),
    ),
    _entry(
        "T4.02", "Fastholdt i egen bolig", FLOW, "andel", ("share",), (),
        "Andelen af borgere, der for et år siden flyttede fra herberg eller forsorgshjem til egen "
        "bolig, og som ikke er vendt tilbage inden for 12 måneder.",
        "Cohort: persons with a stay at a facility of the facility role shelter (shipped: Herberg §110 "
        "and Forsorgshjem §110) checked out to Egen bolig "
        "(discharged_to) with check-out date in the same period one year earlier ([S, E] shifted back "
        "one year, 29 February -> 28 February; for ÅTD the year to date a year earlier); each person "
        "once, by their first such check-out, in the unit of that shelter. share: those with no §110 "
        "stay checked in at or after that check-out time and on or before the check-out date + 12 "
        "months (same day-of-month rule, the last day included) / the cohort. Reported only when the "
        "cohort period's last day + 12 months <= the extraction date. "
        "Before that the measure is not yet available: value, numerator and denominator "
        "NULL at every org level (no breakdown rows), never 0.",
        sources=("tilbud",), reads=("fact_stay", "dim_org", "ref_role"),
    ),
    _entry(
        "T4.03", "Genindskrivning i rusmiddelbehandling", FLOW, "andel", ("share_365", "share_3y"), (),
        "Andelen af borgere, der efter afsluttet rusmiddelbehandling starter en ny behandling inden "
        "for et år eller tre år.",
        "Persons with a service of the service role substance_treatment (shipped: SEL101, SEL §101 and "
        "its successor) with end date in [S, E], in the unit of each such service. share_365: those with "
        "another such service "
        "starting 1 to 365 days after the end date of one ended in the period (day 365 included; one "
        "starting on the day another ended is a transfer, not a restart) / those persons; share_3y: "
        "the same with a start after the end date and on or before end date + 3 years (29 February -> "
        "28 February). share_365 is reported only when E + 365 days <= the extraction date, share_3y "
        "only when E + 3 years <= it. "
        "Before that the measure is not yet available: value, numerator and denominator "
        "NULL at every org level (no breakdown rows), never 0.",
        sources=("voksen",), reads=("fact_service", "dim_org", "ref_role"),
    ),
    _entry(
        "T4.04", "Uddannelse og beskæftigelse", FLOW, "borgere", ("count", "completed_education"),
        ("status", "target_group"),
        "Antallet af voksne borgere med en aktiv indsats, der i perioden er kommet i beskæftigelse, "
        "uddannelse eller praktik, og antallet af uddannelser, de har afsluttet i perioden.",
        "Event months: calendar months whose first day lies in [S, E]. count: distinct citizens with a "
        "fact_employment_status row with status Beskæftiget, Uddannelse or Erhvervspraktik for an event "
        "month and a row with another status for the month before (a month without a row is unknown, "
        "not a month without work). completed_education: rows with completed_education true for an "
        "event month (one education per citizen and month). Either counts only when the citizen is "
        "18-64 on the first day of the event month and has a T1.01 intervention (service, measure or "
        "residential stay) active on some day from the first day of the month before to the event "
        "month's last day (at most E). Organisation: the unit of each such intervention; target_group: "
        "those of the cases behind them (Ukendt for stays only), as in T1.01; status: the status of the "
        "event month.",
        sources=(*CITIZENS, "beskaeftigelse"), reads=("dim_citizen", "fact_employment_status", "fact_service", "fact_stay", "dim_org", "ref_role"),
    ),
    _entry(
        "T4.05", "Udvikling på indsatstrappen (VUM)", FLOW, "andel",
        ("share_improved", "share_unchanged", "share_worsened"), ("target_group",),
        "Hvor stor en del af de borgere, der er vurderet igen i perioden, der har fået et lavere, "
        "uændret eller højere funktionsniveau end ved forrige vurdering. Et lavere niveau betyder, at "
        "borgeren er kommet ned ad indsatstrappen.",
        "Persons with a functional assessment dated in [S, E] and one dated before their latest one in "
        "the period (which may itself lie in the period): the latest assessment in the period is "
        "compared with the latest dated before it (assessments on one date ordered by assessment_id). "
        "share_improved: level lower; share_unchanged: level equal; share_worsened: level higher; each "
        "/ the persons compared. Organisation and target groups from the person's adult (voksen) cases "
        "open on the date of the latest assessment (opened_date <= date and (closed_date null or >= "
        "date)), a person counting in every such case's unit and target group; with none open, unit, "
        "center and target group are Ukendt and the area is Voksne.",
        sources=("voksen",), reads=("fact_assessment", "fact_case", "dim_org"),
    ),
    _entry(
        "T4.06", "Tidligere anbragte med voksensag", FLOW, "andel", ("share",), (),
        "Andelen af tidligere anbragte unge, der har fået en sag i voksensystemet mellem deres 18- og "
        "22-års fødselsdag. Måles på de unge, der er fyldt 22 i perioden.",
        "Citizens (cross-system citizen_key) whose 22nd birthday lies in [S, E] and who had a boern "
        "measure of category Anbringelse active on their 18th birthday (start_date <= it and (end_date "
        "null or >= it)); birthdays from dim_citizen.birth_date, a 29 February birthday falling on 1 "
        "March in other years (as ages are counted); no birth date: not in the population. share: "
        "those with a voksen case opened from the 18th to the 22nd birthday, both days included / all "
        "of them. Organisation: the unit of each placement active on the 18th birthday.",
        sources=("boern", "voksen", "cpr"), reads=("dim_citizen", "fact_case", "fact_service", "dim_org"),
    ),
    # Theme 5 — SOF som arbejdsplads
    _entry(
        "T5.01", "Sygefravær", FLOW, "sygedage pr. fuldtidsansat pr. år",
        ("per_fte", "short_days", "long_days", "short_persons", "long_persons"), ("job_category",),
        "Antal sygedage om året pr. fuldtidsansat (egen sygdom og arbejdsskade) i perioden, og hvor "
        "mange af sygedagene der er kort fravær (op til 14 dage) og langt fravær (15 dage eller mere).",
        "Absences of type Egen sygdom or Arbejdsskade; absence days = calendar days of the absence in "
        "[S, E], both ends included (an open absence runs to E; to_date before from_date: left out). "
        "Average FTE = sum over the period's days of the fte of employees employed that day "
        "(hired_date <= day and (left_date is null or left_date >= day)) / days in the period. "
        "per_fte = absence days / average FTE x 365 / days in the period (numerator: absence days, "
        "denominator: average FTE). short_days / long_days split the absence days by the whole "
        "absence's length to_date - from_date + 1 (an open one: E - from_date + 1): <= 14 short, "
        ">= 15 long, even when only part of it falls in the period. short_persons / long_persons: "
        "distinct employees with short / long absence days in the cell (the persons behind the days; "
        "public output blanks the cell's days when either is 1-4). Organisation and job category "
        "from the employee.",
        sources=("hr",), reads=("dim_employee", "fact_absence", "dim_org"),
    ),
    _entry(
        "T5.02", "Personaleomsætning", FLOW, "andel", ("share", "share_voluntary"),
        ("job_category", "leave_reason", "month"),
        "Hvor stor en del af medarbejderne der er fratrådt i perioden i forhold til det gennemsnitlige "
        "antal ansatte. Dødsfald tælles ikke med, og den frivillige personaleomsætning ser også bort "
        "fra pension. Tallet findes også for hver måned.",
        "share: employees with left_date in [S, E] and leave_reason not Død (a missing reason counts) / "
        "average headcount; share_voluntary: the same leavers without Pension / average headcount. "
        "Average headcount = employees employed per day (hired_date <= day <= left_date, both "
        "included) summed over the period's days / the days in the period. Organisation and "
        "job_category from the employee (the org of the unit on E). month: the same per calendar "
        "month of the period (YYYY-MM; leavers that month / the month's average headcount, the "
        "running month up to E). leave_reason: leavers with that reason / the org group's whole "
        "average headcount, so the reasons add up to the total (Død under share and Død and Pension "
        "under share_voluntary are 0).",
        sources=("hr",), reads=("dim_employee", "dim_org"),
    ),
    _entry(
        "T5.03", "Forgæves rekrutteringer", FLOW, "rekrutteringer", ("count", "share"),
        ("job_category",),
        "Antallet af stillingsopslag, der er afsluttet i perioden uden at stillingen blev besat, og "
        "deres andel af de afsluttede rekrutteringer.",
        "Recruitments with closed_date in [S, E]. count: those with result Forgæves; share: Forgæves / "
        "(Besat + Forgæves) among them; Annulleret or no result is in neither. Organisation from the "
        "recruitment's unit_code (area from the unit), job_category as registered.",
        sources=("hr",), reads=("fact_recruitment", "dim_org"),
    ),
    _entry(
        "T5.04", "Vold og trusler", FLOW, "hændelser", ("count",), ("category", "facility"),
        "Antallet af registrerede episoder med vold, trusler og chikane mod medarbejdere i perioden.",
        "Count of fact_incident rows with incident_date in [S, E], with or without a known employee. "
        "Organisation from the incident's unit_code (area from the unit); category as registered; "
        "facility: the facility id (Ukendt when none is registered).",
        sources=("hr",), reads=("fact_incident", "dim_org"),
    ),
    _entry(
        "T5.05", "Hændelser efterfulgt af langt sygefravær", FLOW, "andel", ("share",), ("category",),
        "Andelen af episoder med vold og trusler, hvor den berørte medarbejder inden for 14 dage "
        "får et langt sygefravær.",
        "Incidents with incident_date in [S, E] and an employee_key: share with an absence of that "
        "employee of type Egen sygdom or Arbejdsskade lasting >= 15 days in all (to_date - from_date + "
        "1; an open one by its length so far on the extraction date; to_date before from_date: left "
        "out) whose from_date is 0 to 14 days after the incident date (day 14 included). Organisation "
        "from the incident's unit_code. An absence starting on day 14 shows whether it is long on its "
        "15th day, so the share is reported only when E + 28 days <= the extraction date. "
        "Before that the measure is not yet available: value, numerator and denominator "
        "NULL at every org level (no breakdown rows), never 0.",
        sources=("hr",), reads=("fact_absence", "fact_incident", "dim_org"),
    ),
)}


#: Theme 6's money: which postings count, and how a posting reaches a measure (economy.md).
MONEY = ("Money: fact_posting rows on expense arts (4.*) and revenue arts (7.*, 8.*) by booking date in [S, E]; "
         "other arts and DQ18's duplicate copies count nowhere. expense = the sum on expense arts (a credit note "
         "there reduces it); revenue = minus the sum on revenue arts; net = expense - revenue. A posting reaches "
         "its measure, case, citizen and caseworker through foranstaltning_ref (trimmed, a letter prefix with - "
         "and leading zeros removed, matched in the named kilde_system only; a soft-deleted measure still "
         "links), else only its function and finance unit. kategori and function from ref_account by funktion "
         "(unknown: Ukendt); foranstaltningstype: the linked measure's type, else the function's, else Ukendt. "
         "Amounts in DKK, unrounded.")
PROGNOSIS = ("Prognosis on E for E's year: net of the postings booked 1 January to E, plus for every commitment "
             "not cancelled the cost of the days from max(E + 1, fra_dato) to min(til_dato, its measure's end, "
             "31 December), both counted: døgn takst x days; måned takst x (days covered in each month / days "
             "in that month), summed; engangs takst when E < fra_dato <= min(31 December, the measure's end). A "
             "commitment of a soft-deleted measure counts 0; one reaching no measure is capped by til_dato and 31 "
             "December only. Committed cost takes the kategori of the commitment's own funktion. A past E uses "
             "the commitments as extracted (no history of them).")
PERSONS = ("Money cells carry the number of distinct citizens behind them (internal persons_behind) for "
           "suppression in public.")

#: The lineage of the money KPIs.
ECONOMY = ("oekonomi", "boern", "voksen")
MONEY_TABLES = ("fact_posting", "dim_measure_link", "ref_account", "dim_org")

CATALOG.update({e.kpi_id: e for e in (
    _entry(
        "T6.01", "Forbrug mod periodiseret budget", FLOW, "kr.",
        ("expense", "revenue", "net", "budget", "deviation", "share_of_budget", "prior_year"),
        ("kategori", "foranstaltningstype", "function"),
        "Udgifter, indtægter og nettoforbrug bogført i perioden holdt op mod budgettet for periodens "
        "måneder, og hvor meget af forbruget der er betaling for ydelser fra tidligere år.",
        f"{MONEY} budget: fact_budget lines per year, month, function and finance unit, the Korrigeret "
        "lines where any exist else the Oprindeligt ones, summed over the months of [S, E]: a month wholly "
        "inside counts whole, the month holding an E short of its month end (a provisional quarter, and its "
        "twin a year earlier) pro rata by days (day of E / days in the month). deviation = net - budget; "
        "share_of_budget = net / budget (numerator net, denominator budget). prior_year: net of the "
        "period's postings whose period_to is before 1 January of E's year (NULL period_to: never). "
        "Organisation: the posting's (and the budget line's) finance unit (enhed_kode, organisation.csv "
        "system oekonomi), area from the unit. budget, deviation and share_of_budget are NULL in the "
        "foranstaltningstype rows (the budget has no type). function: the function code. "
        f"{PERSONS}",
        sources=("oekonomi", "boern", "voksen"), reads=(*MONEY_TABLES, "fact_budget"),
    ),
    _entry(
        "T6.02", "Prognose for året", STOCK, "kr.", ("prognosis", "budget_year", "deviation"),
        ("kategori", "foranstaltningstype"),
        "Det forventede nettoforbrug for hele året: hvad der er bogført til og med opgørelsesdagen plus "
        "hvad de åbne dispositioner vil koste resten af året, holdt op mod årets budget.",
        f"{MONEY} {PROGNOSIS} budget_year: the budget in force (Korrigeret else Oprindeligt, per month) for "
        "all twelve months of E's year; deviation = prognosis - budget_year. Organisation: a posting's "
        "finance unit, a commitment's measure's case unit (Ukendt when it reaches no measure), the budget "
        "line's finance unit; area from the unit. budget_year and deviation are NULL in the "
        f"foranstaltningstype rows. Last year: the prognosis on the same date a year earlier. {PERSONS}",
        sources=ECONOMY, reads=(*MONEY_TABLES, "fact_budget", "fact_commitment"),
    ),
    _entry(
        "T6.03", "Anbringelser mod forebyggende indsatser", FLOW, "andel",
        ("net", "share_net", "prognosis", "share_prognosis"), ("kategori",),
        "Hvordan børneområdets nettoforbrug og prognose fordeler sig på anbringelser og forebyggende "
        "indsatser, hver som andel af børneområdet i alt.",
        f"{MONEY} Only functions whose ref_account area is Børn og Unge (an unknown function is outside). "
        "net: the children's net in [S, E] per kategori; share_net = the kategori's net / the children's "
        "net of the same organisation group (the total row: the children's net over itself). prognosis and "
        f"share_prognosis: the same for T6.02's prognosis on E ({PROGNOSIS}), on quarter rows only (a stock). "
        "Organisation as T6.01 (net) and T6.02 (prognosis). Last year's shares are the same period a year "
        f"earlier. {PERSONS}",
        sources=ECONOMY, reads=(*MONEY_TABLES, "fact_commitment"), stock_measures=("prognosis", "share_prognosis"),
    ),
    _entry(
        "T6.04", "Særligt dyre enkeltsager", STOCK, "borgere",
        ("count", "cost", "share_of_total", "estimated_refund"), ("kategori",),
        "De dyreste sager: de 10 % (indstilleligt 10-15 %) af borgerne med udgifter, der koster mest i år "
        "efter prognosen, hvad de koster, deres andel af alle udgifter og den forventede statsrefusion.",
        f"{MONEY} Per citizen (money reaching them through measure -> case -> citizen; unlinked money is "
        f"outside): cost = the prognosis on E ({PROGNOSIS}). Citizens with cost > 0 (in whole øre) are "
        "ranked by cost descending, then citizen key; the top ceil(N x p / 100) are selected, p the "
        "configured percent (SOFLI_EXPENSIVE_CASES_PERCENT, default 10, allowed 10-15), once for SOF. count: "
        "the selected citizens; cost: their cost; share_of_total = their cost / the cost of all citizens "
        "with cost > 0; estimated_refund: per selected citizen sats_1 x max(0, min(cost, graense_2) - "
        "graense_1) + sats_2 x max(0, cost - graense_2) with ref_refusion's row for E's year (no row: NULL). "
        "Groups split the selected citizens' money: area (org level) from ref_account by the money's "
        "function, center and unit from the case's unit, kategori by the money's function; count there = "
        "selected citizens whose cost in the group is > 0, share_of_total = their cost in the group / all "
        "positive-cost citizens' cost in the group, and each citizen's refund is split pro rata to their cost "
        f"in the group. {PERSONS}",
        sources=ECONOMY, reads=(*MONEY_TABLES, "fact_commitment", "ref_refusion"),
        params={"percent": 10.0},
    ),
    _entry(
        "T6.05", "Egne mod købte indsatser", FLOW, "kr.", ("expense", "sold_places"),
        ("supplier_type", "kategori"),
        "Udgifterne fordelt på egne tilbud, andre kommuners og private leverandører, og indtægterne fra "
        "pladser, kommunens egne tilbud har solgt til andre kommuner.",
        f"{MONEY} expense: every expense-art posting in [S, E], linked to a measure or not; supplier_type: "
        "the posting's kreditor_type (Egen, Anden kommune, Privat; Ukendt when NULL). sold_places: the "
        "revenue on art 7.1 (sale of places), reported under supplier_type Egen (and in the totals and "
        f"kategori rows). Organisation: the finance unit. {PERSONS}",
        sources=ECONOMY, reads=MONEY_TABLES,
    ),
    _entry(
        "T6.06", "Forbrug pr. sagsbehandler", FLOW, "kr.",
        ("net", "prognosis", "cases_with_cost", "mean_net_per_case"), ("foranstaltningstype",),
        "Nettoforbruget på de sager, hver sagsbehandler har, antallet af sager med udgifter og det "
        "gennemsnitlige forbrug pr. sag, og årets prognose for sagerne.",
        f"{MONEY} Only money reaching a case (through its measure). net: of the period (quarter rows: the "
        "quarter's net, ÅTD rows: the year's); cases_with_cost: distinct cases whose net in the group is "
        "not 0 (in whole øre); mean_net_per_case = net / cases_with_cost; prognosis (quarter rows only, "
        f"a stock): {PROGNOSIS} Organisation through the case: its unit, its system's area; org level "
        "caseworker (internal only, never in public): the case's caseworker pseudonym, Ukendt for cases "
        f"without one (they count in totals and type rows too). {PERSONS}",
        sources=ECONOMY, reads=(*MONEY_TABLES, "fact_commitment"), stock_measures=("prognosis",),
    ),
    _entry(
        "T6.07", "Enhedsudgift", FLOW, "kr. pr. døgn", ("unit_cost", "per_citizen"),
        ("foranstaltningstype", "kategori"),
        "Hvad en indsats koster pr. døgn og pr. borger: nettoforbruget på indsatserne af en type delt med "
        "antal døgn, indsatserne var aktive, og med antal borgere, pengene nåede.",
        f"{MONEY} Only postings reaching a measure. unit_cost = their net / the measure-days of the "
        "group: per measure and service (fact_service's live ones; soft-deleted ones are never active) the "
        "days in [S, E] on which it is active (start <= day <= end or open; a missing start is never "
        "active), summed (numerator net, denominator days). per_citizen = the same net / the distinct "
        "citizens those postings reach. The net is by booking date, the days are service days (a known "
        "mismatch: a quarter's net pays partly for the quarter before). Type: the measure's type (else the "
        "function's, else Ukendt); kategori and organisation through the measure: the kategori of the "
        "function its money is booked on (its latest commitment's, else its latest expense posting's, else "
        f"Ukendt), its case's unit and its system's area. {PERSONS}",
        sources=ECONOMY, reads=(*MONEY_TABLES, "fact_commitment"),
    ),
)})


def kpi(kpi_id: str) -> Callable[[ComputeKpi], ComputeKpi]:
    """Attach the decorated function to catalogue entry `kpi_id` as its computation."""
    def register(compute: ComputeKpi) -> ComputeKpi:
        if kpi_id not in CATALOG:
            raise KeyError(f"{kpi_id} is not in the KPI catalogue")
        if CATALOG[kpi_id].implemented:
            raise ValueError(f"{kpi_id} already has a computation")
        CATALOG[kpi_id] = replace(CATALOG[kpi_id], compute=compute)
        return compute
    return register


#: Danish label per measure code, for people reading a figure (the demo's summary, the report):
#: the labels of `MEASURES`, BI's `dim_measure`, so every reader shows the same words.
MEASURE_LABELS: dict[str, str] = {m: label for m, (label, _) in MEASURES.items()}


def measure_label(measure: str) -> str:
    """A measure's Danish label; an unlabelled measure shows its code (a test keeps the table complete)."""
    return MEASURE_LABELS.get(measure, measure)
