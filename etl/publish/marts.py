"""The BI contract: one description per published table (`mart` internal, `public` suppressed,
`restricted` the caseworker-level output).

The warehouse DDL in `sql/warehouse/` and `docs/bi-contract.md` are generated from these,
and every frame is conformed to them before it is written.
"""

from dataclasses import replace

from etl.core.tables import TableSpec, col

#: public.kpi_value_current.value_status: the table holds the first three, the views add stale.
VALUE_STATUSES = ("shown", "suppressed", "not_available", "stale")
#: The organisation levels of mart.kpi_value; the computed set also has CASEWORKER rows, which
#: are published only in the schema `restricted` (issue 21).
ORG_LEVELS = ("sof", "area", "center", "unit")
CASEWORKER = "caseworker"

KPI_VALUE = TableSpec("kpi_value", (
    col("kpi_id", "str", description="catalogue id, e.g. T3.02"),
    col("measure", "str", description="count, share, mean_days, median_days, per_fte, ..."),
    col("period_type", "str", description="quarter | ytd", allowed=("quarter", "ytd")),
    col("period", "str", description="the quarter, e.g. 2025-Q3 (ytd: 1 Jan to its end)"),
    col("period_start", "date"), col("period_end", "date"),
    col("org_level", "str", description="sof | area | center | unit (caseworker rows: "
        "restricted.kpi_value_caseworker)", allowed=ORG_LEVELS),
    col("org_key", "str", description="SOF, the area/center/unit name (a caseworker pseudonym: only in "
        "restricted.kpi_value_caseworker)"),
    col("dimension", "str", True, "NULL for the total, else e.g. age_group"),
    col("dimension_value", "str", True, "e.g. 12-17; Ukendt for unknown"),
    col("value", "float", True, "the figure; NULL when not available"),
    col("numerator", "float", True), col("denominator", "float", True),
    col("unit", "str", description="count, share, days, per_fte, ...; theme 6's money dkk (kroner, unrounded), "
        "dkk_per_day, dkk_per_citizen"),
    col("provisional", "bool", description="true for the running quarter"),
    col("version", "int", description="0 = nightly (live); 1.. = frozen publications"),
    col("run_id", "str"), col("computed_at", "datetime", description="when computed, Copenhagen local time (naive)"),
    col("period_key", "str", description="the period's key in dim_period: kind:start:end, e.g. "
        "quarter:2025-10-01:2025-12-31; unlike `period` unique per period"),
    col("comparison", "str", description="current: the period itself (a whole quarter, or the running quarter); "
        "last_year_twin: the running quarter's same dates one year earlier, only a comparison for kpi_tile",
        allowed=("current", "last_year_twin")),
    col("org_id", "str", description="the organisation's key in dim_org (org_level:org_key); caseworker rows: "
        "caseworker:pseudonym, in restricted.dim_caseworker"),
    col("value_status", "str", description="shown | suppressed (public: fewer than 5, or a complement) | "
        "not_available (no figure: nothing to count); the views add stale", allowed=VALUE_STATUSES[:3]),
), primary_key=("version", "kpi_id", "measure", "period_key", "org_level", "org_key", "dimension", "dimension_value"),
    description="One row per KPI x measure x period x organisation level x breakdown value. The declared key is "
                "unique (a UNIQUE index; NULL dimension counts as one value).")

#: kpi_value's caseworker rows (T2.05's caseload, T6.06's money per caseworker): the same columns and key,
#: in the schema `restricted`, read only by the case-review leaders' role (docs/security.md).
KPI_VALUE_CASEWORKER = TableSpec(
    "kpi_value_caseworker",
    tuple(replace(c, description="caseworker", allowed=(CASEWORKER,)) if c.name == "org_level" else
          replace(c, description="the caseworker's pseudonym (restricted.dim_caseworker.caseworker_key)")
          if c.name == "org_key" else c for c in KPI_VALUE.columns),
    primary_key=KPI_VALUE.primary_key,
    description="The caseworker rows of kpi_value (org_level caseworker, a pseudonym in org_key, org_id "
                "caseworker:pseudonym), every version; published and frozen with mart.kpi_value in one "
                "transaction. Restricted: never in mart or public.")

DIM_PERIOD = TableSpec("dim_period", (
    col("period_key", "str", description="kind:start:end (kpi_value.period_key)"),
    col("period_type", "str", allowed=("quarter", "ytd")),
    col("period", "str", description="the quarter label, e.g. 2025-Q3 (not unique: see comparison)"),
    col("year", "int"), col("quarter", "int"), col("period_start", "date"), col("period_end", "date"),
    col("comparison", "str", allowed=("current", "last_year_twin")),
    col("label", "str", description="Danish label, e.g. 3. kvartal 2025 / ÅTD 3. kvartal 2025"),
    col("label_short", "str", description="e.g. 3. kv. 2025"),
    col("period_type_label", "str", description="Kvartal / År til dato (ÅTD)"),
    col("sort_key", "int", description="sort the labels by this (chronological; twin after its quarter)"),
    col("status", "str", description="provisional (running quarter) | closed | frozen (the quarter has a current "
                                     "frozen version in kpi_version)", allowed=("provisional", "closed", "frozen")),
    col("last_year_period_key", "str", True, "the same period one year earlier, as kpi_tile compares it"),
), primary_key=("period_key",), description="Every period of kpi_value (all versions): Danish labels, sort keys, state.")

DIM_ORG = TableSpec("dim_org", (
    col("org_id", "str", description="org_level:org_key (kpi_value.org_id)"),
    col("org_level", "str", allowed=("sof", "area", "center", "unit")),
    col("org_key", "str", description="the name at its level (kpi_value.org_key)"),
    col("org_level_label", "str", description="SOF i alt / Område / Center / Enhed"),
    col("org_level_sort", "int", description="1 sof .. 4 unit"),
    col("parent_org_id", "str", True, "the level above (a unit's center as of its latest validity); NULL for SOF"),
    col("area", "str", True), col("center", "str", True), col("unit", "str", True),
    col("codes", "str", True, "the systems' unit codes behind a unit (comma-separated)"),
    col("valid_from", "date", True, "first day of any code behind it (NULL: Ukendt, SOF)"),
    col("valid_to", "date", True, "last day; NULL while valid"),
), primary_key=("org_id",), description="The organisation as kpi_value names it: SOF, areas, centers, units "
                                        "(and Ukendt), with the hierarchy and validity. History: dim_org_code.")

DIM_ORG_CODE = TableSpec("dim_org_code", (
    col("unit_code", "str"), col("system", "str"), col("valid_from", "date"), col("valid_to", "date", True),
    col("unit", "str"), col("center", "str"), col("area", "str"),
    col("org_id", "str", description="the unit in dim_org"),
), primary_key=("unit_code", "valid_from"),
    description="Every system's unit code with its validity: where a unit belonged when (reference organisation).")

DIM_CASEWORKER = TableSpec("dim_caseworker", (
    col("org_id", "str", description="caseworker:pseudonym (mart.kpi_value.org_id)"),
    col("caseworker_key", "str", description="the pseudonym (kpi_value.org_key at org level caseworker)"),
    col("unit_org_id", "str", description="the unit (dim_org) of the caseworker's most recently opened case"),
), primary_key=("org_id",), description="Caseworker pseudonyms tied to a unit (mart.dim_org). Restricted: never in "
                                        "mart or public.")

DIM_KPI = TableSpec("dim_kpi", (
    col("kpi_id", "str"), col("theme", "int"), col("theme_title", "str"), col("title", "str"),
    col("description", "str"), col("kpi_type", "str", allowed=("stock", "flow")), col("unit", "str"),
    col("headline_measure", "str", description="the measure the tile shows (dim_measure)"),
    col("better", "str", description="higher | lower | neutral: which way the headline is better",
        allowed=("higher", "lower", "neutral")),
    col("sort_key", "int"), col("implemented", "bool"),
), primary_key=("kpi_id",), description="The KPIs with their tile's headline measure and direction.")

DIM_MEASURE = TableSpec("dim_measure", (
    col("measure", "str"), col("label", "str", description="Danish label, e.g. Median (dage)"),
    col("better", "str", allowed=("higher", "lower", "neutral")),
), primary_key=("measure",), description="Danish labels of kpi_value.measure.")

DIM_DIMENSION = TableSpec("dim_dimension", (
    col("dimension", "str"), col("label", "str", description="Danish label, e.g. Aldersgruppe"),
), primary_key=("dimension",), description="Danish labels of kpi_value.dimension (NULL: the total).")

KPI_CATALOG = TableSpec("kpi_catalog", (
    col("kpi_id", "str"), col("theme", "int"), col("theme_title", "str"), col("title", "str"),
    col("description", "str"), col("definition", "str"), col("kpi_type", "str", allowed=("stock", "flow")),
    col("unit", "str"), col("measures", "str"), col("breakdowns", "str"), col("owner", "str"),
    col("implemented", "bool", description="false: defined in the catalogue, not computed yet"),
), primary_key=("kpi_id",), description="The nøgletalskatalog: every KPI's metadata.")

DQ_RULE = TableSpec("dq_rule", (
    col("rule_id", "str"), col("title", "str"), col("description", "str"),
    col("severity", "str", allowed=("error", "warning")),
    col("threshold_kind", "str", allowed=("rate", "count")), col("threshold", "float"),
    col("owners", "str", description="comma-separated e-mail addresses"),
    col("sources", "str", description="comma-separated sources in scope"),
), primary_key=("rule_id",))

DQ_RESULT = TableSpec("dq_result", (
    col("run_id", "str"), col("run_date", "date", description="the extraction date"),
    col("computed_at", "datetime"), col("rule_id", "str"), col("source", "str"),
    col("dimension", "str", True, "NULL for the rule total, else decision_month, case_type, ..."),
    col("dimension_value", "str", True),
    col("population", "int"), col("failing", "int"), col("rate", "float", True),
    col("threshold_kind", "str"), col("threshold", "float"), col("severity", "str"),
    col("status", "str", True, "pass | breach on totals; NULL on breakdown rows"),
    col("previous_failing", "int", True, "failing rows in the previous run (trend)"),
), description="Run x rule x source x breakdown.")

DQ_FAILURE = TableSpec("dq_failure", (
    col("run_id", "str"), col("rule_id", "str"), col("source", "str"), col("source_table", "str"),
    col("record_id", "str", description="the source's own record id; never a CPR"),
    col("detail", "str", True),
    col("case_number", "str", True, "the source's own case number (Sagsnummer / sag_id) of the record's case, "
                                    "where the record belongs to a case"),
    col("unit_code", "str", True, "the source's unit code of the record, where it has one"),
), description="The failing source records of each rule, for the data owner to fix. The caseworker id is not "
               "here: it reaches only the owners' e-mail attachment (docs/security.md).")

SOURCE_FRESHNESS = TableSpec("source_freshness", (
    col("source", "str"),
    col("last_success_at", "datetime", True, "when the current extract became current (NULL: none yet)"),
    col("extract_date", "date", True, "the extraction date of the source's current good extract"),
    col("rows", "int", True, "rows staged in the current extract"),
    col("age_hours", "float", True, "hours between last_success_at and checked_at; information only, "
                                    "not what makes a source stale"),
    col("days_behind", "int", True, "days the current extract's date is behind the night's extraction date "
                                    "(0: tonight's; negative when a past night is checked again)"),
    col("stale", "bool", description="no good extract, or more days behind the night's extraction date than "
                                     "the source's allowance (default 0: one day behind is stale); DQ10"),
    col("checked_at", "datetime", description="when the data-quality run checked"),
), primary_key=("source",), description="One row per source: how current the extract the model used is, judged "
                                        "on the night's extraction date (DQ10's facts).")

DATA_FRESHNESS = TableSpec("data_freshness", (
    col("source", "str"),
    col("extract_date", "date", True, "the extraction date of the source's extract the published KPIs were "
                                      "computed from (NULL: the model had none)"),
    col("refreshed_at", "datetime", True, "when that extract became current, Copenhagen local time (naive); "
                                          "the page's \"Opdateret kl. HH.MM\""),
    col("kind", "str", description="night (the nightly extract), or daytime (`refresh_daytime` re-read a "
                                   "database source during the day)", allowed=("night", "daytime")),
    col("kpi_run_id", "str", description="the run whose KPI values (kpi_value.run_id, version 0) it describes"),
    col("published_at", "datetime", description="when those KPI values were computed (kpi_value.computed_at)"),
), primary_key=("source",),
    description="One row per source: from which extract, refreshed when and by which kind of run, the published "
                "nightly version (0) of kpi_value was computed. Written in the same transaction as the KPI rows; "
                "in public too (nothing personal).")

DQ_KPI_FLAG = TableSpec("dq_kpi_flag", (
    col("kpi_id", "str", description="catalogue id of a KPI built on a blocked or stale source"),
    col("run_id", "str", description="the data-quality run that raised the flag (dq_result.run_id)"),
    col("blocked_by", "str", description="comma-separated rule@source of the breached blocking rules, e.g. "
                                         "DQ02@boern,DQ10@cpr; empty when only stale"),
    col("flagged_at", "datetime", description="when (Copenhagen time)"),
    col("stale", "bool", description="true when a source the KPI reads is stale (DQ10): its current extract is "
                                     "older than the night's, so the figure does not reflect tonight's data"),
    col("stale_sources", "str", True, "comma-separated stale sources the KPI reads, e.g. klage; NULL when none"),
    col("kpi_run_id", "str", True, "the publish_kpis run whose values (kpi_value.run_id, version 0) were flagged"),
), primary_key=("kpi_id", "run_id"),
    description="KPIs of a data-quality run built on a source whose blocking rule breached or that is stale; "
                "the values stay in kpi_value, flagged here. Also in public (no record ids, nothing personal): "
                "BI and the report mark the flagged tiles.")

KPI_VERSION = TableSpec("kpi_version", (
    col("version", "int", description="the publication number, unique across quarters (kpi_value.version); "
                                      "0, the nightly version, never appears here"),
    col("quarter", "str", description="the closed quarter it publishes, e.g. 2025-Q3"),
    col("frozen_at", "datetime"), col("frozen_by", "str", description="who closed or re-published it"),
    col("reason", "str", description="why: the quarterly close, or what a re-publication corrects"),
    col("run_id", "str", description="the Airflow run (or CLI call) that froze it"),
    col("source_run_id", "str", description="the nightly run whose version 0 was copied"),
    col("dq_run_id", "str", True, "the data-quality run frozen with it (mart.dq_result_frozen)"),
    col("kpi_rows", "int", description="rows of mart.kpi_value with this version"),
    col("public_rows", "int", description="rows of public.kpi_value with this version"),
    col("is_current", "bool", description="true for the quarter's latest version: the one BI and the report show"),
), primary_key=("version",),
    description="Frozen publications of a closed quarter (`close_quarter`): who, when and why. Rows of "
                "kpi_value with this version are never changed again; the quarter's own periods plus the closed "
                "periods before it (its last-year twins and the history the report's trends use).")

DQ_RESULT_FROZEN = TableSpec(
    "dq_result_frozen",
    (col("version", "int", description="kpi_version.version"), col("quarter", "str"), *DQ_RESULT.columns),
    description="The data-quality results (mart.dq_result of `dq_run_id`) as they stood when a version was frozen.")

CASE_COST = TableSpec("case_cost", (
    col("year", "int", description="the year the figures are for"),
    col("status_date", "date", description="the day they describe: the extraction date in its year, 31 December "
                                           "for the year before"),
    col("case_key", "str", description="pseudonym of the case (HMAC under the pseudonymisation key): never its "
                                       "id or case number"),
    col("source", "str", description="the case system: boern / voksen"),
    col("citizen_key", "str", description="pseudonym of the citizen"),
    col("caseworker_key", "str", True, "pseudonym of the case's caseworker; NULL: none registered"),
    col("area", "str", description="the case system's area"),
    col("center", "str", description="the case's unit's center on status_date (Ukendt: unknown unit)"),
    col("unit", "str", description="the case's unit on status_date (Ukendt: unknown unit)"),
    col("kategori", "str", description="the kategori (reference/accounts.csv) carrying most of the case's "
                                       "prognosis; Ukendt when it has none"),
    col("net_ytd", "float", description="DKK: net of the postings reaching the case, booked 1 January to "
                                        "status_date (DQ18 copies left out)"),
    col("committed_remainder", "float", description="DKK: what its open commitments still cost from the day "
                                                    "after status_date to 31 December (T6.02's rule)"),
    col("prognosis", "float", description="DKK: net_ytd + committed_remainder (T6.02)"),
    col("active_measures", "int", description="its measures and services active on status_date (soft-deleted "
                                              "ones never)"),
    col("next_deadline", "date", True, "the earliest of its latest plan's follow-up date and the deadlines of "
                                       "its investigations open on status_date (an overdue one included)"),
    col("next_deadline_kind", "str", True, "plan_followup / investigation"),
    col("run_id", "str"), col("computed_at", "datetime"),
), primary_key=("year", "case_key"),
    description="Gladsaxe's caseworker overview (theme 6): one row per case and year (the extraction date's and "
                "the one before) with money, committed cost or an active measure. Restricted: never in mart or "
                "public.")

MART_TABLES = {t.name: t for t in (KPI_VALUE, KPI_CATALOG, DQ_RULE, DQ_RESULT, DQ_FAILURE, DQ_KPI_FLAG,
                                      SOURCE_FRESHNESS, DATA_FRESHNESS, KPI_VERSION, DQ_RESULT_FROZEN,
                                      DIM_PERIOD, DIM_ORG, DIM_ORG_CODE, DIM_KPI, DIM_MEASURE, DIM_DIMENSION)}
#: The schema `restricted` (issue 21): caseworker-level output, for the case-review leaders' role only.
RESTRICTED_TABLES = {t.name: t for t in (KPI_VALUE_CASEWORKER, DIM_CASEWORKER, CASE_COST)}
#: Every published table by name (the names are unique across the schemas).
TABLES = {**MART_TABLES, **RESTRICTED_TABLES}
#: Tables whose declared key the warehouse enforces with a UNIQUE index.
KEYED_TABLES = ("kpi_value", "kpi_value_caseworker", "dim_period", "dim_org", "dim_org_code", "dim_caseworker",
                "dim_kpi", "dim_measure", "dim_dimension")
