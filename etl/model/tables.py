"""The canonical, pseudonymous model: one description per fact and dimension.

These are the frames the link/model stage writes (Parquet under `<data>/model/`) and the
KPI and data-quality stages read. No column here ever holds a CPR: persons appear only
as `citizen_key`, the keyed HMAC pseudonym made in `etl.model.link`.

Conventions: keys are strings `"<source>:<id>"` so ids from different systems never
collide; dates and timestamps are pandas datetime64 with NaT for missing; soft-deleted
and quarantined rows are not in the model at all; `area` is the system's area
(`Børn og Unge` / `Voksne`), `unit_code` the raw source code (resolved to unit, center
and area by `dim_org` at the date a KPI needs, `Ukendt` when unknown).
"""

from etl.core.tables import TableSpec, col

CITIZEN = col("citizen_key", "str", description="HMAC-SHA256 pseudonym of the person")
CITIZEN_OPT = col("citizen_key", "str", True, "pseudonym; NULL for anonymous rows")
UNIT = col("unit_code", "str", True, "raw unit code from the source; resolve with dim_org")
AREA = col("area", "str", description="the system's area: Børn og Unge / Voksne")
TARGET = col("target_group", "str", True, "målgruppe of the case")

MODEL_TABLES: dict[str, TableSpec] = {t.name: t for t in (
    TableSpec("dim_citizen", (
        CITIZEN,
        col("id_kind", "str", description="cpr | replacement | source_id (no usable CPR)"),
        col("birth_date", "date", True),
        col("gender", "str", True, "M / K"),
        col("municipality_code", "str", True, "KOMKOD on the extraction date; NULL = unknown"),
        col("bydel", "str", True),
        col("cpr_status", "str", True, "01 active, 80 emigrated, 90 dead"),
    ), primary_key=("citizen_key",), description="One row per person of the cross-system citizen model."),
    TableSpec("link_person", (
        col("source", "str"), col("source_table", "str"),
        col("source_person_id", "str", description="the source's own person/row id"),
        CITIZEN,
        col("match_method", "str", description="cpr | replacement | unlinked"),
        col("match_confidence", "float", description="1.0 deterministic CPR match; 0.0 unlinked"),
    ), primary_key=("source", "source_table", "source_person_id"),
        description="How every source person row was linked (or not) to a citizen."),
    TableSpec("link_finding", (
        col("rule_id", "str", description="DQ05 (unusable CPR), DQ09 (one CPR, several ids), DQ22 (CPR in a text field)"),
        col("source", "str"), col("source_table", "str"), col("record_id", "str"),
        col("failing", "bool"),
        col("detail", "str", True, "missing / invalid / replacement / duplicate; DQ22: the column's name"),
    ), description="Findings only the link step and the free-text guard can make (they alone see CPR); no CPR in it."),
    TableSpec("dim_org", (
        col("unit_code", "str"), col("system", "str"), col("unit", "str"), col("center", "str"),
        col("area", "str"), col("valid_from", "date"), col("valid_to", "date", True),
    ), description="Ét SOF organisation with validity dates (reference data)."),
    TableSpec("dim_paragraph", (
        col("paragraph_text", "str"), col("service_code", "str"), col("law", "str"),
        col("paragraph", "str"), col("service_area", "str"), col("area", "str"),
    ), primary_key=("paragraph_text",), description="Paragraph texts -> canonical service code."),
    TableSpec("ref_deadline", (
        col("service_code", "str"), col("deadline_days", "int"), col("basis", "str"),
    ), primary_key=("service_code",), description="Published case-processing deadlines."),
    TableSpec("ref_account", (
        col("funktion", "str", description="the authorised account plan's function, e.g. 5.28.21"),
        col("titel", "str"), col("area", "str", description="Børn og Unge / Voksne / Tværgående"),
        col("kategori", "str"), col("foranstaltningstype", "str", True),
        col("kraever_foranstaltning", "int", description="1: every posting should name its measure (DQ15)"),
    ), primary_key=("funktion",), description="Finance functions (reference/accounts.csv)."),
    TableSpec("ref_refusion", (
        col("aar", "int"), col("graense_1", "float"), col("sats_1", "float"),
        col("graense_2", "float"), col("sats_2", "float"),
    ), primary_key=("aar",), description="State refund thresholds for særligt dyre enkeltsager (reference/refusion.csv)."),
    TableSpec("ref_role", (
        col("role", "str", description="a role registered in etl/core/roles.py, e.g. substance_treatment"),
        col("kind", "str", description="service (a service code) | facility (a tilbudstype)"),
        col("code", "str", description="the service code or facility type declared in the role"),
    ), primary_key=("kind", "role", "code"),
        description="Which codes play the roles KPIs and rules select by (reference/service_roles.csv, facility_roles.csv)."),
    TableSpec("ref_service_type", (
        col("source", "str", description="the source whose free-text type column is listed (voksen)"),
        col("service_type", "str", description="a type a breakdown may publish (voksen.ydelse.ydelsestype)"),
    ), primary_key=("source", "service_type"),
        description="The adult services' types a breakdown may publish (reference/service_types.csv); others are Ukendt."),
    TableSpec("fact_case", (
        col("case_key", "str"), col("source", "str"), col("case_id", "str"),
        col("case_number", "str", True, "Sagsnummer (boern) / sag_id (voksen)"),
        CITIZEN, col("opened_date", "date"), col("closed_date", "date", True), UNIT,
        col("caseworker_key", "str", True, "pseudonym of (system, caseworker id)"),
        col("caseworker_id", "str", True, "the source's own caseworker id (an employee's internal id, never a "
                                          "CPR): only for the data owners' failing-records attachment"),
        TARGET, AREA,
    ), primary_key=("case_key",)),
    TableSpec("fact_decision", (
        col("decision_key", "str"), col("source", "str"), col("decision_id", "str"),
        col("case_key", "str"), CITIZEN, col("paragraph_text", "str"),
        col("service_code", "str", True, "NULL when the paragraph is unmapped (DQ08)"),
        col("application_date", "date", True), col("decision_date", "date"),
        col("deadline_date", "date", True, "the decision's own FristDato (DQ01)"),
        col("outcome", "str"), UNIT, TARGET, AREA,
    ), primary_key=("decision_key",)),
    TableSpec("fact_service", (
        col("service_key", "str"), col("source", "str"), col("service_id", "str"),
        col("case_key", "str"), CITIZEN, col("decision_key", "str", True),
        col("paragraph_text", "str"), col("service_code", "str", True),
        col("category", "str", True, "Anbringelse / Forebyggende (children); NULL for adults"),
        col("service_type", "str", True, "Type / ydelsestype; Ukendt when not on the contract's or the reference's list"),
        col("service_type_listed", "bool", description="false: the source's type was not on its list (DQ20)"),
        col("start_date", "date", True), col("end_date", "date", True),
        col("supplier", "str", True), col("facility_id", "str", True), UNIT, TARGET, AREA,
    ), primary_key=("service_key",), description="voksen.ydelse and boern.Foranstaltning."),
    TableSpec("dim_facility", (
        col("facility_id", "str"), col("facility_type", "str"), UNIT,
        col("places", "int"), col("active_from", "date"), col("active_to", "date", True),
    ), primary_key=("facility_id",)),
    TableSpec("fact_stay", (
        col("stay_key", "str"), col("stay_id", "str"), col("facility_id", "str"),
        col("facility_type", "str"), CITIZEN_OPT,
        col("has_cpr", "bool", description="false = anonymous stay"),
        col("check_in", "datetime"), col("check_out", "datetime", True),
        col("discharged_to", "str", True), UNIT, AREA,
    ), primary_key=("stay_key",), description="tilbud.ophold; area from the facility's unit."),
    TableSpec("fact_notification", (
        col("notification_id", "str"), col("child_id", "str", True), CITIZEN_OPT,
        col("received_at", "datetime"), col("assessed_at", "datetime", True),
        col("notification_source", "str"), col("acute", "bool"), UNIT, AREA,
    ), primary_key=("notification_id",), description="Underretning; unit = the child's case unit."),
    TableSpec("fact_investigation", (
        col("investigation_id", "str"), col("case_key", "str"), CITIZEN,
        col("paragraph_text", "str"), col("service_code", "str", True),
        col("start_date", "date"), col("deadline_date", "date", True),
        col("completed_date", "date", True), UNIT,
    ), primary_key=("investigation_id",)),
    TableSpec("fact_plan", (
        col("plan_id", "str"), col("case_key", "str"), col("decision_key", "str", True),
        col("plan_date", "date"), col("next_followup_date", "date", True),
    ), primary_key=("plan_id",)),
    TableSpec("fact_complaint", (
        col("complaint_id", "str"), col("received_date", "date"), col("complaint_type", "str"),
        col("cause", "str"), UNIT, col("source_system", "str", True),
        col("case_reference", "str", True, "as registered"),
        col("case_key", "str", True, "the case it matches after normalisation (DQ03)"),
        col("reconsideration", "str", True), col("appeals_outcome", "str", True),
        col("decided_date", "date", True),
    ), primary_key=("complaint_id",)),
    TableSpec("fact_use_of_force", (
        col("force_id", "str"), col("facility_id", "str"), CITIZEN_OPT,
        col("occurred_at", "datetime"), col("force_type", "str"),
    ), primary_key=("force_id",)),
    TableSpec("fact_waiting_list", (
        col("waiting_id", "str"), CITIZEN, col("offer_type", "str"),
        col("listed_date", "date"), col("left_date", "date", True), col("left_reason", "str", True),
    ), primary_key=("waiting_id",)),
    TableSpec("fact_assessment", (
        col("assessment_id", "str"), CITIZEN, col("assessment_date", "date"), col("level", "int"),
    ), primary_key=("assessment_id",), description="VUM functional assessments, level 0-4."),
    TableSpec("fact_employment_status", (
        CITIZEN, col("month", "date"), col("status", "str"), col("completed_education", "bool"),
    ), primary_key=("citizen_key", "month")),
    TableSpec("dim_employee", (
        col("employee_key", "str", description="HMAC pseudonym (namespace employee) of hr's medarbejder_nr"),
        col("employee_id", "str", description="hr's own medarbejder_nr: the record id its data owner looks up in "
                                              "mart.dq_failure (not a CPR); the only place beside the pseudonym"),
        UNIT, col("job_category", "str"), col("hired_date", "date"),
        col("left_date", "date", True), col("leave_reason", "str", True), col("fte", "float"),
    ), primary_key=("employee_key",), description="hr.medarbejder without CPR, keyed by a pseudonym."),
    TableSpec("fact_absence", (
        col("absence_id", "str"), col("employee_key", "str"), col("absence_type", "str"),
        col("from_date", "date"), col("to_date", "date", True),
    ), primary_key=("absence_id",)),
    TableSpec("fact_recruitment", (
        col("recruitment_id", "str"), UNIT, col("job_category", "str"),
        col("posted_date", "date"), col("closed_date", "date", True), col("result", "str", True),
    ), primary_key=("recruitment_id",)),
    TableSpec("dim_measure_link", (
        col("service_key", "str", description="as fact_service.service_key: `<source>:<id>`"),
        col("source", "str", description="boern / voksen"), col("service_id", "str"),
        col("case_key", "str"),
        col("case_pseudonym", "str", description="HMAC pseudonym of the case (restricted.case_cost): never its id or number"),
        CITIZEN, col("caseworker_key", "str", True, "the case's caseworker pseudonym"),
        col("unit_code", "str", True, "the case's raw unit code"), AREA,
        col("category", "str", True, "Kategori (children); NULL for adults"),
        col("service_type", "str", True, "Type / ydelsestype: the money's foranstaltningstype"),
        col("start_date", "date", True), col("end_date", "date", True),
        col("case_closed_date", "date", True),
        col("deleted", "bool", description="the measure or its case is soft-deleted: its money still links, "
                                           "it is never active and its commitments count 0"),
    ), primary_key=("service_key",),
        description="Every measure and service, soft-deleted ones and those of a deleted case included: what "
                    "money reaches through foranstaltning_ref (theme 6). fact_service holds the live ones."),
    TableSpec("fact_posting", (
        col("posting_id", "str", description="postering_id"), col("booked_date", "date", description="bogfoert_dato"),
        col("period_from", "date", True), col("period_to", "date", True),
        col("amount", "float", description="DKK as booked (expense arts positive, revenue arts negative)"),
        col("funktion", "str", description="function of the account plan; kategori etc. from ref_account"),
        col("art", "str"), col("money_class", "str", description="expense (art 4.*) / revenue (7.*, 8.*) / other"),
        col("unit_code", "str", True, "the finance unit (enhed_kode): organisation of T6.01, T6.02, T6.03, T6.05"),
        col("creditor_type", "str", True, "Egen / Anden kommune / Privat; NULL on journal entries and revenue"),
        col("source_system", "str", True, "kilde_system of the reference"),
        col("has_reference", "bool", description="a foranstaltning_ref was registered (normalised non-empty)"),
        col("service_key", "str", True, "the measure it reaches (dim_measure_link) after normalisation, in the "
                                        "named system only; NULL: reaches only its function and unit"),
        col("duplicate", "bool", description="DQ18: a later copy (same bilag, amount, function, system and "
                                             "reference as a lower postering_id): counts nowhere"),
    ), primary_key=("posting_id",), description="oekonomi.postering: the money, linked to measures."),
    TableSpec("fact_budget", (
        col("budget_id", "str"), col("year", "int"), col("month", "int"), col("funktion", "str"),
        col("unit_code", "str", True, "finance unit (enhed_kode)"), col("amount", "float", description="DKK, net"),
        col("version", "str", description="Oprindeligt / Korrigeret"),
    ), primary_key=("budget_id",), description="oekonomi.budget: the periodised budget."),
    TableSpec("fact_commitment", (
        col("commitment_id", "str"), col("source_system", "str"),
        col("from_date", "date"), col("to_date", "date", True, "NULL: open"),
        col("rate", "float", description="takst, DKK per rate_unit"),
        col("rate_unit", "str", description="døgn / måned / engangs"),
        col("funktion", "str", description="the function the committed cost will be booked on (its kategori)"),
        col("cancelled", "bool", description="annulleret: counts nowhere"),
        col("service_key", "str", True, "the measure it commits (dim_measure_link) after normalisation"),
    ), primary_key=("commitment_id",), description="oekonomi.disponering: commitments of granted measures."),
    TableSpec("fact_incident", (
        col("incident_id", "str"), col("employee_key", "str", True), UNIT,
        col("facility_id", "str", True), col("incident_date", "date"), col("category", "str"),
    ), primary_key=("incident_id",)),
)}
