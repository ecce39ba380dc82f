"""`voksen`: the adult social and disability case system (SQL Server in production)."""

from etl.core.tables import TableSpec, col
from etl.core.vocabulary import (
    ADULT_TARGET_GROUPS,
    DECISION_OUTCOMES,
    GENDERS,
    WAITING_LIST_LEAVE_REASONS,
    WAITING_LIST_OFFER_TYPES,
)
from etl.sources.base import Source

TS = col("opdateret", "datetime", description="change timestamp (local time)")
DELETED = col("slettet", "bool", description="soft delete: 1 counts nowhere")

SOURCE = Source(
    name="voksen",
    title="Voksen- og handicapsagssystem",
    kind="database",
    owner="team-voksen",
    dq_owners=("dq-voksen@sofli.example",),
    schedule="15 1 * * *",
    description="Adult area: citizens, cases, decisions, services, waiting lists, VUM assessments.",
    tables=(
        TableSpec("borger", (
            col("borger_id", "str", description="uniqueidentifier"),
            col("cpr", "str", True, "usually DDMMYYSSSS, sometimes with a dash", personal=True),
            col("foedselsdato", "date"),
            col("koen", "str", allowed=GENDERS),
            TS,
        ), primary_key=("borger_id",), watermark="opdateret"),
        TableSpec("sag", (
            col("sag_id", "int"),
            col("borger_id", "str"),
            col("oprettet", "date"),
            col("lukket", "date", True),
            col("enhed_kode", "str"),
            col("sagsbehandler_id", "int", True),
            col("maalgruppe", "str", allowed=ADULT_TARGET_GROUPS),
            TS, DELETED,
        ), primary_key=("sag_id",), watermark="opdateret", soft_delete="slettet"),
        TableSpec("afgoerelse", (
            col("afgoerelse_id", "int"),
            col("sag_id", "int"),
            col("paragraf", "str"),
            col("ansoegt_dato", "date", True),
            col("afgoerelse_dato", "date"),
            col("frist_dato", "date", True),
            col("udfald", "str", allowed=DECISION_OUTCOMES),
            TS,
        ), primary_key=("afgoerelse_id",), watermark="opdateret"),
        TableSpec("ydelse", (
            col("ydelse_id", "int"),
            col("sag_id", "int"),
            col("afgoerelse_id", "int", True),
            col("paragraf", "str"),
            col("ydelsestype", "str"),
            col("start_dato", "date", True),
            col("slut_dato", "date", True),
            col("tilbud_id", "int", True, "a tilbud row when delivered at a facility"),
            TS, DELETED,
        ), primary_key=("ydelse_id",), watermark="opdateret", soft_delete="slettet"),
        TableSpec("venteliste", (
            col("venteliste_id", "int"),
            col("borger_id", "str"),
            col("tilbudstype", "str", allowed=WAITING_LIST_OFFER_TYPES),
            col("opskrevet_dato", "date"),
            col("afgang_dato", "date", True),
            col("afgang_aarsag", "str", True, allowed=WAITING_LIST_LEAVE_REASONS),
            TS,
        ), primary_key=("venteliste_id",), watermark="opdateret"),
        TableSpec("funktionsvurdering", (
            col("vurdering_id", "int"),
            col("borger_id", "str"),
            col("dato", "date"),
            col("niveau", "int", description="VUM 0 ingen .. 4 fuldstændig nedsat", min_value=0, max_value=4),
            TS,
        ), primary_key=("vurdering_id",), watermark="opdateret"),
    ),
)
