"""`hr`: HR, payroll and absence export (SQL Server view in production)."""

from etl.core.tables import TableSpec, col
from etl.core.vocabulary import ABSENCE_TYPES, INCIDENT_CATEGORIES, JOB_CATEGORIES, LEAVE_REASONS, RECRUITMENT_RESULTS
from etl.sources.base import Source

TS = col("opdateret", "datetime")

SOURCE = Source(
    name="hr",
    title="HR-, løn- og fraværsudtræk",
    kind="database",
    owner="team-hr",
    dq_owners=("dq-hr@sofli.example",),
    schedule="0 2 * * *",
    description="Employees, absences, recruitments and work-environment incidents.",
    tables=(
        TableSpec("medarbejder", (
            col("medarbejder_nr", "int"),
            col("cpr", "int", description="a number: leading zeros are lost", personal=True),
            col("enhed_kode", "str", description="payroll org code, e.g. 4010234"),
            col("stillingskategori", "str", allowed=JOB_CATEGORIES),
            col("ansat_dato", "date"),
            col("fratraadt_dato", "date", True),
            col("fratraedelsesaarsag", "str", True, allowed=LEAVE_REASONS),
            col("beskaeftigelsesgrad", "decimal", min_value=0, max_value=1),
            TS,
        ), primary_key=("medarbejder_nr",), watermark="opdateret"),
        TableSpec("fravaer", (
            col("fravaer_id", "int"),
            col("medarbejder_nr", "int"),
            col("fravaerstype", "str", allowed=ABSENCE_TYPES),
            col("fra_dato", "date"),
            col("til_dato", "date", True),
            TS,
        ), primary_key=("fravaer_id",), watermark="opdateret"),
        TableSpec("rekruttering", (
            col("rekruttering_id", "int"),
            col("enhed_kode", "str"),
            col("stillingskategori", "str", allowed=JOB_CATEGORIES),
            col("opslaaet_dato", "date"),
            col("afsluttet_dato", "date", True),
            col("resultat", "str", True, allowed=RECRUITMENT_RESULTS),
            TS,
        ), primary_key=("rekruttering_id",), watermark="opdateret"),
        TableSpec("arbejdsmiljoe_haendelse", (
            col("haendelse_id", "int"),
            col("medarbejder_nr", "int", True),
            col("enhed_kode", "str"),
            col("tilbud_id", "int", True),
            col("dato", "date"),
            col("kategori", "str", allowed=INCIDENT_CATEGORIES),
            TS,
        ), primary_key=("haendelse_id",), watermark="opdateret"),
    ),
)
