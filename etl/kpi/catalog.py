"""The nøgletalskatalog: one entry per KPI, the single source for computation and docs.

Every KPI of `shared/spec/kpi-catalogue.md` has an entry here with the metadata the BI
layer shows next to its figures. A theme module attaches the function computing a KPI
with `@kpi("T1.01")`; adding a KPI is one entry here plus one decorated function. The
`mart.kpi_catalog` table and the published `docs/kpi-catalogue.md` are rendered from
these entries, so the catalogue, the numbers and the documentation cannot drift apart.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, replace

import pandas as pd

from etl.model import Model
from etl.periods import Period

#: A KPI function: model and period in, rows of `aggregate.MEASURE_COLUMNS` out.
ComputeKpi = Callable[[Model, Period], pd.DataFrame]

#: theme number -> (title, owner: the team answering questions about the theme's figures)
THEMES: dict[int, tuple[str, str]] = {
    1: ("Borgersammensætning", "Team Borgeranalyse <lis-borgere@sof.example.org>"),
    2: ("Indsatser og ydelser", "Team Indsatsdata <lis-indsatser@sof.example.org>"),
    3: ("Service og sikker drift", "Team Sagsbehandlingskvalitet <lis-drift@sof.example.org>"),
    4: ("Borgerens forløb", "Team Borgerforløb <lis-forloeb@sof.example.org>"),
    5: ("SOF som arbejdsplads", "HR Analyse <lis-hr@sof.example.org>"),
}

STOCK, FLOW = "stock", "flow"


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
    compute: ComputeKpi | None = None

    @property
    def implemented(self) -> bool:
        return self.compute is not None


def _entry(kpi_id: str, title: str, kpi_type: str, unit: str, measures: tuple[str, ...],
           breakdowns: tuple[str, ...], description: str, definition: str) -> KpiDefinition:
    theme = int(kpi_id[1])
    theme_title, owner = THEMES[theme]
    return KpiDefinition(kpi_id, theme, theme_title, title, description, definition, kpi_type,
                         unit, measures, breakdowns, owner)


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
        "at a facility of type Midlertidigt botilbud §107, Længerevarende botilbud §108, Krisecenter "
        "§109, Herberg §110 or Forsorgshjem §110 (not Natcafé, not Almen bolig ABL §105) active on E. "
        f"{STOCK_ACTIVE} Stays use their check-in and check-out dates; anonymous stays (no citizen) "
        "never count. Organisation: the unit of each active service or stay, so a citizen counts once "
        "in each unit, center and area they are active in and once in SOF; area is the system's area "
        "(a stay's: its facility unit's). age_group: age on E from dim_citizen.birth_date; gender and "
        "bydel from dim_citizen; target_group: every target group of the cases behind the citizen's "
        "active services, Ukendt for a citizen known only from stays; missing values are Ukendt.",
    ),
    _entry(
        "T1.02", "Borgere i flere fagsystemer", STOCK, "borgere", ("count", "share"),
        ("system_combination",),
        "Antallet af borgere med en aktiv indsats i mindst to fagsystemer på samme tid og deres andel "
        "af alle borgere med en aktiv indsats. Viser, hvor mange borgere der har forløb på tværs af "
        "forvaltningen.",
        "Of the T1.01 citizens on E, those active in >=2 different source systems (boern, voksen, "
        "tilbud): count, and share = those / all T1.01 citizens. system_combination lists the systems "
        "a citizen is active in, e.g. boern+voksen.",
    ),
    _entry(
        "T1.03", "Udenbys borgere", STOCK, "andel", ("share", "share_unknown"), ("area",),
        "Andelen af borgerne med en aktiv indsats, der bor i en anden kommune end København. Borgere "
        "uden kendt bopæl vises for sig.",
        "Denominator: every T1.01 citizen on E. share: those whose municipality code (KOMKOD) on E is "
        "not 0101; share_unknown: those with no residence on record.",
    ),
    _entry(
        "T1.04", "Beskæftigelses- og uddannelsesandel", STOCK, "andel", ("share",), ("target_group",),
        "Andelen af de 18-64-årige borgere med en aktiv indsats, der er i beskæftigelse, uddannelse "
        "eller erhvervspraktik i kvartalets sidste måned. Kun borgere med en kendt status for måneden "
        "tælles med.",
        "Of the T1.01 citizens aged 18-64 on E with a fact_employment_status row for the month of E: "
        "share with status Beskæftiget, Uddannelse or Erhvervspraktik. Target group as in T1.01.",
    ),
    # Theme 2 — Indsatser og ydelser
    _entry(
        "T2.01", "Afgørelser", FLOW, "afgørelser", ("count",), ("area", "service_code", "outcome"),
        "Antallet af afgørelser truffet i perioden i børne- og voksensystemet, fordelt på område, "
        "ydelse og udfald (bevilget, delvist bevilget eller afslag).",
        "Count of fact_decision rows (both systems) with decision_date in [S, E]. service_code from "
        "the paragraph mapping (unmapped: Ukendt); outcome as registered; area is the system's area; "
        "organisation from the decision's unit_code.",
    ),
    _entry(
        "T2.02", "Aktive ydelser", STOCK, "ydelser", ("count",), ("service_code", "area"),
        "Antallet af igangværende ydelser og foranstaltninger på kvartalets sidste dag, fordelt på "
        "paragraf, fx § 85, § 107 og § 108.",
        f"Count of fact_service rows active on E. {STOCK_ACTIVE} Unmapped paragraph: service_code "
        "Ukendt.",
    ),
    _entry(
        "T2.03", "Opholdslængde §107", FLOW, "dage", ("count", "mean_days", "median_days"), (),
        "Antallet af afsluttede ophold på midlertidige botilbud (§ 107) i perioden og deres "
        "gennemsnitlige og mediane længde i dage.",
        "Stays at Midlertidigt botilbud §107 facilities with check-out date in [S, E] (services are "
        "not stays): count; mean and lower median of check-out date - check-in date in days over the "
        "stays whose dates are usable (check-out not before check-in).",
    ),
    _entry(
        "T2.04", "Belægning", FLOW, "andel", ("share",), ("facility_type",),
        "Belægningsprocenten: hvor stor en del af tilbuddenes pladsdøgn der var optaget i perioden, "
        "opgjort pr. tilbudstype.",
        "Occupied bed-nights / available bed-nights in [S, E] per facility type. A stay occupies the "
        "nights from its check-in date to its check-out date (exclusive), a night belonging to the "
        "date it starts, clipped to the period; overlapping stays each occupy their nights; stays "
        "with check-out before check-in are left out. Capacity = places x days the facility was "
        "active in the period, active_from and active_to included. Natcaféer count here (only here).",
    ),
    _entry(
        "T2.05", "Støttende indsatser til børn (forebyggende)", FLOW, "indsatser", ("count",),
        ("measure_type", "target_group", "age_group"),
        "Antallet af forebyggende og støttende indsatser til børn og unge, der er startet i perioden, "
        "fordelt på type, målgruppe og alder.",
        "Count of fact_service rows of source boern and category Forebyggende with start_date in "
        "[S, E]; measure_type = service_type; target group of the case; age on the start date.",
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
    ),
    _entry(
        "T2.07", "Nyanbringelser", FLOW, "anbringelser", ("count",),
        ("placement_type", "target_group", "age_group"),
        "Antallet af børn og unge, der er blevet anbragt i perioden uden at have været anbragt dagen "
        "før. Skift mellem anbringelsessteder tælles ikke som nye anbringelser.",
        "Placements (boern, category Anbringelse) with start_date in [S, E] for a child with no "
        "placement active the day before that start date. Age on the start date.",
    ),
    _entry(
        "T2.08", "Anbringelsesvarighed", FLOW, "dage",
        ("count", "mean_days", "median_days", "min_days", "max_days"),
        ("placement_type", "target_group"),
        "Hvor længe de anbringelser, der er afsluttet i perioden, har varet: gennemsnit, median, "
        "korteste og længste varighed i dage.",
        "Placements (boern, category Anbringelse) with end_date in [S, E]: count; end_date - "
        "start_date in days: mean, lower median, min and max over the placements whose dates are "
        "usable (start present, end not before start).",
    ),
    _entry(
        "T2.09", "Åbne sager", STOCK, "sager", ("count",), ("area",),
        "Antallet af åbne sager på kvartalets sidste dag i børne- og voksensystemet, fordelt på "
        "område, center og enhed.",
        "Count of fact_case rows open on E: opened_date <= E and (closed_date is null or closed_date "
        ">= E). Area is the system's area.",
    ),
    _entry(
        "T2.10", "Sager pr. sagsbehandler", STOCK, "sager pr. sagsbehandler",
        ("per_caseworker", "count"), (),
        "Det gennemsnitlige antal åbne sager pr. sagsbehandler på kvartalets sidste dag. Fordelingen "
        "pr. sagsbehandler vises kun internt og pseudonymt.",
        "per_caseworker: cases open on E with a caseworker / distinct caseworkers (system, id) with "
        ">=1 open case; count: open cases with a caseworker. The case's unit gives the organisation; "
        "org level caseworker carries the distribution per caseworker (internal output only).",
    ),
    _entry(
        "T2.11", "Nye sager / lukkede sager", FLOW, "sager", ("created", "closed"), ("area",),
        "Antallet af sager, der er oprettet, og antallet, der er lukket, i perioden.",
        "created: fact_case rows with opened_date in [S, E]; closed: with closed_date in [S, E].",
    ),
    _entry(
        "T2.12", "Underretninger", FLOW, "underretninger", ("count", "children"),
        ("notification_source", "age_group", "acute"),
        "Antallet af underretninger om børn og unge modtaget i perioden og antallet af forskellige "
        "børn, de drejer sig om, fordelt på hvem der har underrettet, alder og om underretningen var "
        "akut.",
        "Notifications with received date in [S, E]: count (every notification, also those assessed "
        "before received); children: distinct citizen_key. Age on the received date; acute as "
        "true/false.",
    ),
    _entry(
        "T2.13", "Borgere på herberg, forsorgshjem og krisecenter", STOCK, "personer", ("count",),
        ("facility_type",),
        "Antallet af personer, der bor på herberg, forsorgshjem eller krisecenter på kvartalets "
        "sidste dag. Anonyme ophold tælles hver for sig.",
        "Distinct citizen_key with a stay open on E at a Krisecenter §109, Herberg §110 or "
        "Forsorgshjem §110 facility, plus every anonymous stay open on E as one person. Natcaféer are "
        "not included.",
    ),
    # Theme 3 — Service og sikker drift
    _entry(
        "T3.01", "Fristoverholdelse", FLOW, "andel", ("share",), ("service_code",),
        "Andelen af afgørelser i perioden, der er truffet inden for den udmeldte "
        "sagsbehandlingsfrist for ydelsen. Københavns mål er 80 procent.",
        "Decisions with decision_date in [S, E], an application date and a service code with a "
        "deadline in ref_deadline (never the decision's own FristDato): share with decision_date - "
        "application_date <= deadline_days. Every outcome counts; unmapped paragraphs and decisions "
        "dated before their application are left out.",
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
    ),
    _entry(
        "T3.03", "Rettidige børnefaglige undersøgelser", FLOW, "andel", ("share",), (),
        "Andelen af børnefaglige undersøgelser afsluttet i perioden, der blev afsluttet inden for fire "
        "måneder, som Barnets Lov § 20 kræver.",
        "Investigations (Barnets Lov §20, formerly SEL §50) with completed_date in [S, E]: share with "
        "completed_date <= start_date + 4 months (same day-of-month rule: 2025-01-31 + 4 months = "
        "2025-05-31, 2025-10-31 + 4 months = 2026-02-28). Completed before started: left out.",
    ),
    _entry(
        "T3.04", "Sagstid fra underretning til afsluttet undersøgelse", FLOW, "dage",
        ("count", "median_days", "mean_days"), (),
        "Hvor mange dage der går fra en underretning, til den børnefaglige undersøgelse er afsluttet, "
        "for undersøgelser afsluttet i perioden.",
        "Investigations with completed_date in [S, E] whose child had a notification received in "
        "[start_date - 12 months, start_date]: count; lower median and mean of completed_date - the "
        "latest such received date, in days.",
    ),
    _entry(
        "T3.05", "Klager", FLOW, "klager", ("received", "decided"),
        ("complaint_type", "cause", "source_system", "outcome"),
        "Antallet af klager modtaget i perioden og antallet afgjort i perioden fordelt på udfald, fx "
        "medhold ved genvurdering eller stadfæstet, omgjort eller hjemvist i Ankestyrelsen.",
        "received: complaints with received_date in [S, E]; decided: complaints with decided_date in "
        "[S, E] by outcome = Medhold when the reconsideration gave it, else Ankestyrelsen's outcome "
        "(Stadfæstet, Omgjort for Ændret and Ophævet together, Hjemvist, Afvist).",
    ),
    _entry(
        "T3.06", "Venteliste til botilbud", STOCK, "personer", ("count", "median_days"),
        ("offer_type",),
        "Antallet af borgere, der venter på en plads i et botilbud på kvartalets sidste dag, og hvor "
        "længe de har ventet indtil nu (median i dage).",
        "Distinct citizen_key on a waiting list on E (listed_date <= E and (left_date is null or "
        "left_date >= E)); median_days: lower median of E - listed_date over those waiting rows.",
    ),
    _entry(
        "T3.07", "Magtanvendelser", FLOW, "magtanvendelser", ("count", "persons"),
        ("facility_type", "facility", "force_type"),
        "Antallet af registrerede magtanvendelser på tilbuddene i perioden og antallet af forskellige "
        "borgere, de vedrører.",
        "Use-of-force registrations with occurred_at date in [S, E]: count; persons: distinct "
        "citizen_key.",
    ),
    _entry(
        "T3.08", "Barnets plan til tiden", FLOW, "andel", ("share",), (),
        "Andelen af bevilgede støttende indsatser og anbringelser med samtykke, hvor barnets plan er "
        "lavet senest tre måneder efter afgørelsen. Der måles på afgørelser fra tre måneder før "
        "perioden, så fristen er udløbet for dem alle.",
        "Granted decisions (Bevilget or Delvis bevilget) on service code BL32 or BL46 (including their "
        "SEL predecessors; not BL47) dated in the period shifted back 3 months: share with a plan "
        "(fact_plan.decision_key) dated no later than decision date + 3 months (Barnets Lov §§91-92).",
    ),
    _entry(
        "T3.09", "Rusmiddelbehandling inden for 14 dage", FLOW, "andel", ("share",), (),
        "Andelen af borgere, der er startet i rusmiddelbehandling i perioden senest 14 dage efter, at "
        "de bad om det (behandlingsgarantien).",
        "Services with service code SEL101 (SEL §101 and its successor) with start_date in [S, E] "
        "whose decision has an application date: share with start_date - application_date <= 14 "
        "days; started before the application: left out.",
    ),
    # Theme 4 — Borgerens forløb
    _entry(
        "T4.01", "Fra herberg til bolig", FLOW, "andel", ("count", "share"), ("next_step",),
        "Andelen af borgere, der forlader et herberg eller forsorgshjem og inden for 90 dage kommer "
        "videre i et botilbud eller egen bolig.",
        "Persons with a Herberg §110 or Forsorgshjem §110 stay with check-out date in [S, E]: count; "
        "share who within 90 days after check-out start a §107 service or stay, a §108 one, or are "
        "discharged to Egen bolig, each person counted once by their first next step. The share is "
        "reported only when E + 90 days <= the extraction date.",
    ),
    _entry(
        "T4.02", "Fastholdt i egen bolig", FLOW, "andel", ("share",), (),
        "Andelen af borgere, der for et år siden flyttede fra herberg eller forsorgshjem til egen "
        "bolig, og som ikke er vendt tilbage inden for 12 måneder.",
        "Persons who left a §110 stay to Egen bolig in the same quarter one year earlier: share with "
        "no new §110 stay checked in within the 12 months after check-out.",
    ),
    _entry(
        "T4.03", "Genindskrivning i rusmiddelbehandling", FLOW, "andel", ("share_365", "share_3y"), (),
        "Andelen af borgere, der efter afsluttet rusmiddelbehandling starter en ny behandling inden "
        "for et år eller tre år.",
        "Persons with a substance-abuse treatment (SEL101) ended in the period: share who start a new "
        "one within 365 days (reported once 365 days have passed by the extraction date) and within "
        "3 years.",
    ),
    _entry(
        "T4.04", "Uddannelse og beskæftigelse", FLOW, "borgere", ("count", "completed_education"),
        ("status", "target_group"),
        "Antallet af voksne borgere med en aktiv indsats, der i perioden er kommet i beskæftigelse, "
        "uddannelse eller praktik, og antallet, der har afsluttet en uddannelse.",
        "T1.01 citizens aged 18-64 who in the period go from a month without to a month with status "
        "Beskæftiget, Uddannelse or Erhvervspraktik (count); completed_education: those with a "
        "completed education in a month of the period.",
    ),
    _entry(
        "T4.05", "Udvikling på indsatstrappen (VUM)", FLOW, "andel",
        ("share_improved", "share_unchanged", "share_worsened"), ("target_group",),
        "Hvor stor en del af de borgere, der er vurderet igen i perioden, der har fået et lavere, "
        "uændret eller højere funktionsniveau end ved forrige vurdering. Et lavere niveau betyder, at "
        "borgeren er kommet ned ad indsatstrappen.",
        "Persons with a functional assessment in the period and an earlier one, comparing their "
        "latest assessment in the period with the latest before it: shares improved (level down), "
        "unchanged and worsened (level up). Target group of the person's adult cases open on the "
        "date of the latest assessment (Ukendt when none is open).",
    ),
    _entry(
        "T4.06", "Tidligere anbragte med voksensag", FLOW, "andel", ("share",), (),
        "Andelen af tidligere anbragte unge, der har fået en sag i voksensystemet mellem deres 18- og "
        "22-års fødselsdag. Måles på de unge, der er fyldt 22 i perioden.",
        "Young people who turned 22 in the period and had a placement active on their 18th birthday: "
        "share with a case in the adult system opened between their 18th and 22nd birthdays.",
    ),
    # Theme 5 — SOF som arbejdsplads
    _entry(
        "T5.01", "Sygefravær", FLOW, "sygedage pr. fuldtidsansat pr. år",
        ("per_fte", "short_days", "long_days"), ("job_category",),
        "Antal sygedage om året pr. fuldtidsansat (egen sygdom og arbejdsskade) i perioden, og hvor "
        "mange af sygedagene der er kort fravær (op til 14 dage) og langt fravær (15 dage eller mere).",
        "Absences of type Egen sygdom or Arbejdsskade; absence days = calendar days of the absence in "
        "[S, E], both ends included (an open absence runs to E; to_date before from_date: left out). "
        "Average FTE = sum over the period's days of the fte of employees employed that day "
        "(hired_date <= day and (left_date is null or left_date >= day)) / days in the period. "
        "per_fte = absence days / average FTE x 365 / days in the period (numerator: absence days, "
        "denominator: average FTE). short_days / long_days split the absence days by the whole "
        "absence's length to_date - from_date + 1 (an open one: E - from_date + 1): <= 14 short, "
        ">= 15 long, even when only part of it falls in the period. Organisation and job category "
        "from the employee.",
    ),
    _entry(
        "T5.02", "Personaleomsætning", FLOW, "andel", ("share", "share_voluntary"),
        ("job_category", "leave_reason"),
        "Hvor stor en del af medarbejderne der er fratrådt i perioden i forhold til det gennemsnitlige "
        "antal ansatte. Dødsfald tælles ikke med, og den frivillige personaleomsætning ser også bort "
        "fra pension.",
        "Employees with left_date in [S, E] / average headcount over the period's days; share counts "
        "leavers except Død; share_voluntary also excludes Pension.",
    ),
    _entry(
        "T5.03", "Forgæves rekrutteringer", FLOW, "rekrutteringer", ("count", "share"),
        ("job_category",),
        "Antallet af stillingsopslag, der er afsluttet i perioden uden at stillingen blev besat, og "
        "deres andel af de afsluttede rekrutteringer.",
        "Recruitments with closed_date in [S, E] and result Forgæves (count); share = Forgæves / "
        "(Besat + Forgæves) of those closed in the period; Annulleret is neither.",
    ),
    _entry(
        "T5.04", "Vold og trusler", FLOW, "hændelser", ("count",), ("category", "facility"),
        "Antallet af registrerede episoder med vold, trusler og chikane mod medarbejdere i perioden.",
        "Incidents with incident_date in [S, E]; organisation from the incident's unit_code.",
    ),
    _entry(
        "T5.05", "Hændelser efterfulgt af langt sygefravær", FLOW, "andel", ("share",), ("category",),
        "Andelen af episoder med vold og trusler, hvor den berørte medarbejder inden for 14 dage "
        "får et langt sygefravær.",
        "Incidents in [S, E] with a known employee: share followed by a long sickness absence (Egen "
        "sygdom or Arbejdsskade lasting >= 15 days) of that employee starting within 14 days after "
        "the incident date, day 14 included.",
    ),
)}


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
