"""The domain's value lists, each written once.

The contracts (`etl/sources/`, `allowed=`), the model build, the KPI themes, the
data-quality rules and the synthetic generator all name facility types, measure
categories, outcomes and statuses. They import them from here, so a value renamed in a
fagsystem is renamed in one place and a grouping (which facility types are shelters for a
KPI) is a named constant next to the list it is drawn from, not a tuple re-typed per
module. Every grouping is checked against its list when this module is imported.

Values are the fagsystemer's own Danish words, exactly as the extracts carry them.
Deliberately not from here: `benchmarks/kpi_reference.py` and the tests state the lists
they need again, because they check our reading of the catalogue independently.
Which service codes and facility types play a role in a KPI or rule (substance-abuse
treatment, a §110 shelter, ...) is reference data (`reference/service_roles.csv`,
`reference/facility_roles.csv`, read through `etl.core.roles`), not vocabulary.
"""

from __future__ import annotations


def _within(grouping: tuple[str, ...], values: tuple[str, ...]) -> tuple[str, ...]:
    """`grouping`, after checking that every member is one of `values`."""
    stray = [v for v in grouping if v not in values]
    if stray:
        raise ValueError(f"{stray} are not among {values}")
    return grouping


#: The label of a missing or unresolvable value in every breakdown and organisation level
#: (also a value `tilbud.ophold.udskrevet_til` carries itself).
UNKNOWN = "Ukendt"

# --- logical types ---------------------------------------------------------------------

#: The contracts' logical types and the pandas dtype each is held in (pandera schemas,
#: model frames, empty staged frames). Its keys are the logical types (`etl.core.tables`).
PANDAS_DTYPES = {"int": "Int64", "str": "str", "date": "datetime64[s]", "datetime": "datetime64[s]",
                 "bool": "boolean", "decimal": "Float64", "float": "Float64"}

# --- organisation ----------------------------------------------------------------------

AREA_CHILDREN = "Børn og Unge"
AREA_ADULTS = "Voksne"
AREA_CROSS_CUTTING = "Tværgående"
#: The Ét SOF areas of `reference/organisation.csv`. A case's area is its system's
#: (boern: Børn og Unge, voksen: Voksne); Tværgående units (legal, HR) own no cases.
AREAS = (AREA_CHILDREN, AREA_ADULTS, AREA_CROSS_CUTTING)

# --- persons ---------------------------------------------------------------------------

#: Gender as every system and the CPR extract register it.
GENDERS = ("M", "K")
#: CPR status: 01 resident, 80 emigrated, 90 dead.
CPR_STATUSES = ("01", "80", "90")
#: Copenhagen's bydele as the CPR extract names them (`cpr.BYDEL`).
BYDELE = (
    "Indre By", "Østerbro", "Nørrebro", "Vesterbro/Kongens Enghave", "Valby", "Vanløse",
    "Brønshøj-Husum", "Bispebjerg", "Amager Øst", "Amager Vest",
)
#: Monthly employment and education status (`beskaeftigelse.status`).
EMPLOYMENT_STATUSES = ("Beskæftiget", "Uddannelse", "Erhvervspraktik", "Ledig", "Uden for arbejdsstyrken")
#: T1.04, T4.04: the statuses that count as being in work, education or work placement.
IN_WORK_OR_EDUCATION = _within(("Beskæftiget", "Uddannelse", "Erhvervspraktik"), EMPLOYMENT_STATUSES)

# --- cases, decisions, measures ---------------------------------------------------------

#: Target group of a children's case (`boern.Sag.Maalgruppe`).
CHILD_TARGET_GROUPS = ("Handicap", "Socialt udsat")
#: Target group of an adult case (`voksen.sag.maalgruppe`).
ADULT_TARGET_GROUPS = ("Handicap", "Psykiatri", "Hjemløshed", "Rusmiddel", "Socialt udsat")
#: The adult target groups whose citizens the generator assesses (VUM), puts on waiting lists
#: and gives the disability employment mix.
DISABILITY_TARGET_GROUPS = _within(("Handicap", "Psykiatri"), ADULT_TARGET_GROUPS)
#: A decision's outcome (`Udfald` / `udfald`, both systems).
DECISION_OUTCOMES = ("Bevilget", "Delvis bevilget", "Afslag")
#: T3.08: the outcomes that grant something, so a plan or a service follows.
GRANTED = _within(("Bevilget", "Delvis bevilget"), DECISION_OUTCOMES)

ANBRINGELSE = "Anbringelse"
FOREBYGGENDE = "Forebyggende"
#: The two case systems, by their source names: the system a complaint names
#: (`klage.kilde_system`) and the one holding a measure that money is booked on
#: (`oekonomi.*.kilde_system`).
CASE_SYSTEMS = ("boern", "voksen")
#: A children's measure is a placement or a preventive measure (`Foranstaltning.Kategori`).
MEASURE_CATEGORIES = (ANBRINGELSE, FOREBYGGENDE)
#: The contract's measure types (`Foranstaltning.Type`), per category: the breakdowns of
#: T2.05-T2.08 and theme 6 publish only these (anything else is Ukendt and a DQ20 finding).
PLACEMENT_TYPES = ("Plejefamilie", "Netværksplejefamilie", "Kommunal plejefamilie", "Døgninstitution",
                   "Opholdssted", "Eget værelse", "Kostskole/efterskole")
PREVENTIVE_TYPES = ("Familiebehandling", "Aflastning", "Kontaktperson", "Praktisk pædagogisk støtte",
                    "Døgnophold for familien", "Netværksgruppe")
MEASURE_TYPES = PLACEMENT_TYPES + PREVENTIVE_TYPES
#: Placements the generator gives only to teenagers (14+).
TEEN_ONLY_PLACEMENT_TYPES = _within(("Eget værelse", "Kostskole/efterskole"), PLACEMENT_TYPES)
#: Who delivers a children's measure (`Foranstaltning.Leverandoer`), and the kind of
#: creditor a posting pays (`oekonomi.postering.kreditor_type`).
OWN_SUPPLIER = "Egen"
SUPPLIERS = (OWN_SUPPLIER, "Anden kommune", "Privat")
#: Who sent a notification (`Underretning.Kilde`).
NOTIFICATION_SOURCES = ("Skole", "Dagtilbud", "Politi", "Sundhedsvæsen", "Anonym", "Forælder", "Andet")

# --- complaints -------------------------------------------------------------------------

COMPLAINT_ABOUT_DECISION = "Afgørelse"
#: What a complaint is about (`klage.klagetype`); only decision complaints are reconsidered and appealed.
COMPLAINT_TYPES = (COMPLAINT_ABOUT_DECISION, "Sagsbehandlingstid", "Personale", "Tilbud", "Andet")
#: The cause of a complaint per complaint type (`klage.aarsag`, T3.05's breakdown): a closed
#: list, so a free-text value (or anything else) is read as `Ukendt` and never published.
COMPLAINT_REASONS_BY_TYPE = {
    COMPLAINT_ABOUT_DECISION: ("Afslag på ansøgning", "Utilstrækkelig bevilling", "Uenighed i vurderingen",
                               "Manglende begrundelse"),
    "Sagsbehandlingstid": ("Lang sagsbehandlingstid", "Overskredet frist"),
    "Personale": ("Personalets optræden", "Manglende tilbagemelding"),
    "Tilbud": ("Forhold på tilbuddet", "Manglende støtte på tilbuddet"),
    "Andet": ("Aktindsigt", "Andet"),
}
COMPLAINT_REASONS = tuple(dict.fromkeys(r for reasons in COMPLAINT_REASONS_BY_TYPE.values() for r in reasons))
MEDHOLD = "Medhold"
#: The municipality's reconsideration of a decision complaint (`klage.genvurdering`).
RECONSIDERATION_OUTCOMES = (MEDHOLD, "Fastholdt")
#: Ankestyrelsen's outcome (`klage.ankestyrelse_udfald`).
APPEALS_OUTCOMES = ("Stadfæstet", "Ændret", "Ophævet", "Hjemvist", "Afvist")

# --- facilities and stays ---------------------------------------------------------------

HERBERG = "Herberg §110"
FORSORGSHJEM = "Forsorgshjem §110"
NATCAFE = "Natcafé"
KRISECENTER = "Krisecenter §109"
MIDLERTIDIGT_BOTILBUD = "Midlertidigt botilbud §107"
LAENGEREVARENDE_BOTILBUD = "Længerevarende botilbud §108"
ALMEN_BOLIG = "Almen bolig ABL §105"
#: Every facility type (`tilbud.tilbudstype`), in the contract's order.
FACILITY_TYPES = (HERBERG, FORSORGSHJEM, NATCAFE, KRISECENTER, MIDLERTIDIGT_BOTILBUD,
                  LAENGEREVARENDE_BOTILBUD, ALMEN_BOLIG)

# Named groupings of facility types the synthetic generator builds its world from. Which
# types play which role in a KPI or rule (shelter, crisis centre, natcafé, housing) is
# reference data: `reference/facility_roles.csv`, read through `etl.core.roles`.

#: Facilities a person walks into and out of on their own (§110 and natcaféer): the
#: generator plants its forgotten check-outs there (DQ12 reads the roles instead).
SELF_REFERRED_FACILITY_TYPES = _within((HERBERG, FORSORGSHJEM, NATCAFE), FACILITY_TYPES)
#: §109, §110 and natcaféer: run by private operators the generator's economy pays per place
#: and month (etl/synth/oekonomi.py), so no measure stands behind their money.
SHELTERS_AND_NATCAFE = _within((HERBERG, FORSORGSHJEM, NATCAFE, KRISECENTER), FACILITY_TYPES)
#: The §107/§108 botilbud: the generator's housing that follows a shelter stay.
BOTILBUD_107_108 = _within((MIDLERTIDIGT_BOTILBUD, LAENGEREVARENDE_BOTILBUD), FACILITY_TYPES)
#: Where a person lives for years rather than stays (§107, §108, ABL §105): the generator's
#: residents (their employment status, their future admissions).
HOUSING_FACILITY_TYPES = _within((MIDLERTIDIGT_BOTILBUD, LAENGEREVARENDE_BOTILBUD, ALMEN_BOLIG), FACILITY_TYPES)

OWN_HOME = "Egen bolig"
#: Where a stay ended (`tilbud.ophold.udskrevet_til`); the source itself registers Ukendt.
STAY_EXITS = (OWN_HOME, "§107", "§108", "Andet herberg", "Hospital", "Fængsel", UNKNOWN)
#: Use of force as registered (`tilbud.magtanvendelse.type`).
FORCE_TYPES = ("Fastholdelse", "Tilbageholdelse i boligen", "Personlig alarm", "Flytning uden samtykke", "Andet")
#: What an adult waits for (`voksen.venteliste.tilbudstype`): a §107, §108 or ABL §105 place.
WAITING_LIST_OFFER_TYPES = ("§107", "§108", "ABL §105")
#: Why an adult left the waiting list (`voksen.venteliste.afgang_aarsag`).
WAITING_LIST_LEAVE_REASONS = ("Tilbudt plads", "Udgået", "Død", "Fraflyttet")

# --- the economy (source 8) -------------------------------------------------------------

#: A budget line is the original budget or the corrected one (`oekonomi.budget.version`).
ORIGINAL_BUDGET, CORRECTED_BUDGET = "Oprindeligt", "Korrigeret"
BUDGET_VERSIONS = (ORIGINAL_BUDGET, CORRECTED_BUDGET)
#: What a commitment's tariff is per (`oekonomi.disponering.takst_enhed`): a day, a month
#: (pro rata by days) or once.
TARIFF_UNITS = ("døgn", "måned", "engangs")

# --- the workplace ----------------------------------------------------------------------

#: Job category (`hr.medarbejder.stillingskategori`, `hr.rekruttering.stillingskategori`).
JOB_CATEGORIES = ("Socialrådgiver", "Pædagog", "Social- og sundhedsassistent", "Administration", "Leder",
                  "Behandler", "Øvrige")
#: Staff working with residents: the generator gives them the higher incident rate.
CARE_JOB_CATEGORIES = _within(("Pædagog", "Social- og sundhedsassistent", "Behandler", "Øvrige"), JOB_CATEGORIES)
#: Why an employee left (`hr.medarbejder.fratraedelsesaarsag`).
LEAVE_REASONS = ("Egen opsigelse", "Afskediget", "Pension", "Udløb", "Død")
#: T5.02: leaving by death is no turnover; retiring is turnover but not voluntary.
LEAVE_REASONS_NOT_TURNOVER = _within(("Død",), LEAVE_REASONS)
LEAVE_REASONS_NOT_VOLUNTARY = _within(("Død", "Pension"), LEAVE_REASONS)
#: Kind of absence (`hr.fravaer.fravaerstype`).
ABSENCE_TYPES = ("Egen sygdom", "Arbejdsskade", "Barns sygdom", "Ferie", "Barsel", "Andet")
#: T5.01, T5.05: the absence types that are sickness absence.
SICKNESS_ABSENCE_TYPES = _within(("Egen sygdom", "Arbejdsskade"), ABSENCE_TYPES)
RECRUITMENT_FILLED = "Besat"
RECRUITMENT_FAILED = "Forgæves"
#: How a recruitment ended (`hr.rekruttering.resultat`).
RECRUITMENT_RESULTS = (RECRUITMENT_FILLED, RECRUITMENT_FAILED, "Annulleret")
#: Kind of work-environment incident (`hr.arbejdsmiljoe_haendelse.kategori`).
INCIDENT_CATEGORIES = ("Fysisk vold", "Trussel", "Chikane", "Andet")
