"""Names vulture cannot see used (`tests/test_lint.py::test_no_dead_code`); never imported.

Each line names what reads it. Add a name here only when something vulture cannot follow
uses it; a function that only tests call belongs in `tests/support/`, not here.
"""
# ruff: noqa: F821, B018 - bare names and attributes are the whitelist's syntax

_ = object()

# Serialised with `as_dict()` / `dataclasses.asdict` into manifests, validation.json and XCom.
_.base_extract_date  # etl/extract/incremental.py ExtractPlan, etl/validate/table.py ValidationResult
_.last_full_extract_date
_.staged_path  # etl/validate/table.py ValidationResult
_.quarantine_path
_.rows_carried
_.rows_total
_.source_files
_.kpi_rows  # etl/publish/freeze.py Frozen (mart.kpi_version)
_.public_rows
_.restricted_rows  # Frozen: restricted.kpi_value_caseworker rows of the version (the freeze task returns it)

# Read by the Jinja template of the committee report (etl/report/template.py).
_.last_year_label
_.chart
_.chart_guide
_.guides
_.flag_notes  # etl/report/render.py RenderedPage
_.appendix
_.ytd_last_year  # etl/report/render.py Tile
_.quarter_figure
_.quarter_last_year
_.basis
_.direction

# Read through getattr by name (etl/synth/tilbud.py `_attribute`).
_.stays_per_run
_.runs_per_person
_.anonymous_share
_.adult_system_share
_.women_share

# Called by libraries: aiosmtpd's handler API, sqlite3's connection attribute, Airflow's plugin manager.
_.handle_DATA  # etl/ops/mailsink.py
_.session
_.text_factory  # etl/extract/land.py
SofliStatusPlugin  # plugins/sofli_status.py
SQLITE_CONNECT_ARGS  # etl/ops/local_airflow.py: Airflow imports them by the dotted path in its config
SQLITE_ASYNC_CONNECT_ARGS
_.fastapi_apps
_.external_views
data_quality_page
failing_records  # plugins/sofli_status.py: FastAPI route of a row's failing records

# Parameters a signature must have: a task's upstream XCom (dags/data_quality.py `gate` runs
# after `alert_owners`), the context manager protocol's traceback (etl/core/storage.py).
alerts
tb

# Read by the tests as the definition they check.
ALLOWED_TAGS  # etl/tasks/orchestration.py: the governance test's allowed DAG tags
AREAS  # etl/core/vocabulary.py: the areas reference/organisation.csv must use
NOT_IN_MODEL  # etl/model/registry.py: contract tables the model does not read (tests/test_architecture.py)
sources_feeding  # etl/model/registry.py: a model table's lineage, checked against the KPI catalogue's
_.mail_dir  # etl/core/settings.py: where `sofli demo` keeps its e-mails (the CLI still spells it out)

# Issue 19: stored through `ValidationResult.as_dict()` (validation.json, the report), and a driver setting.
_.extra_columns  # etl/validate/table.py: columns delivered beyond the contract (DQ20 reads them back)
_.rows_withdrawn  # etl/validate/table.py: base rows of a key quarantined as a duplicate
_.isolation_level  # etl/publish/warehouse.py: pysqlite's own transactions off, so the staging DDL is inside ours

# Issue 21: the CPR scans the tests run over every output (tests/support/cpr_scan.py).
find_cpr  # etl/core/privacy.py: the CPRs found, so a failing test shows what leaked
