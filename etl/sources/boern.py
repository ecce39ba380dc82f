"""`boern`: the children and families case system (DUBU-like; SQL Server in production)."""

from etl.core.tables import TableSpec, col
from etl.core.vocabulary import (
    CHILD_TARGET_GROUPS,
    DECISION_OUTCOMES,
    GENDERS,
    MEASURE_CATEGORIES,
    MEASURE_TYPES,
    NOTIFICATION_SOURCES,
    SUPPLIERS,
)
from etl.sources.base import Source

TS = col("OpdateretTid", "datetime", description="change timestamp (local time)")
DELETED = col("Slettet", "bool", description="soft delete: 1 counts nowhere")

SOURCE = Source(
    name="boern",
    title="Børne- og familiesagssystem",
    kind="database",
    owner="team-boern",
    dq_owners=("dq-boern@sofli.example",),
    schedule="0 1 * * *",
    description="Children's authority side: cases, notifications, investigations, measures, decisions, plans.",
    tables=(
        TableSpec("Barn", (
            col("BarnId", "int"),
            col("CPR", "str", True, "DDMMYY-SSSS; missing for unborn/unregistered", personal=True),
            col("Foedselsdato", "date"),
            col("Koen", "str", allowed=GENDERS),
            TS,
        ), primary_key=("BarnId",), watermark="OpdateretTid", description="One row per child."),
        TableSpec("Sag", (
            col("SagId", "int"),
            col("BarnId", "int"),
            col("Sagsnummer", "str", description="e.g. BS-2023-004512"),
            col("OprettetDato", "date"),
            col("LukketDato", "date", True),
            col("EnhedKode", "str", description="unit code, mapped by the organisation reference"),
            col("SagsbehandlerId", "int", True),
            col("Maalgruppe", "str", allowed=CHILD_TARGET_GROUPS),
            TS, DELETED,
        ), primary_key=("SagId",), watermark="OpdateretTid", soft_delete="Slettet"),
        TableSpec("Underretning", (
            col("UnderretningId", "int"),
            col("BarnId", "int", True),
            col("ModtagetTid", "datetime"),
            col("VurderetTid", "datetime", True),
            col("Kilde", "str", allowed=NOTIFICATION_SOURCES),
            col("Akut", "bool"),
            TS,
        ), primary_key=("UnderretningId",), watermark="OpdateretTid"),
        TableSpec("Undersoegelse", (
            col("UndersoegelseId", "int"),
            col("SagId", "int"),
            col("Paragraf", "str"),
            col("StartDato", "date"),
            col("FristDato", "date", True),
            col("AfsluttetDato", "date", True),
            TS,
        ), primary_key=("UndersoegelseId",), watermark="OpdateretTid"),
        TableSpec("Foranstaltning", (
            col("ForanstaltningId", "int"),
            col("SagId", "int"),
            col("Paragraf", "str"),
            col("Kategori", "str", allowed=MEASURE_CATEGORIES),
            col("Type", "str", allowed=MEASURE_TYPES),
            col("StartDato", "date", True),
            col("SlutDato", "date", True),
            col("Leverandoer", "str", allowed=SUPPLIERS),
            TS, DELETED,
        ), primary_key=("ForanstaltningId",), watermark="OpdateretTid", soft_delete="Slettet"),
        TableSpec("Afgoerelse", (
            col("AfgoerelseId", "int"),
            col("SagId", "int"),
            col("Paragraf", "str"),
            col("AnsoegningDato", "date", True),
            col("AfgoerelseDato", "date"),
            col("FristDato", "date", True),
            col("Udfald", "str", allowed=DECISION_OUTCOMES),
            TS,
        ), primary_key=("AfgoerelseId",), watermark="OpdateretTid"),
        TableSpec("Handleplan", (
            col("HandleplanId", "int"),
            col("SagId", "int"),
            col("AfgoerelseId", "int", True, "the decision the plan belongs to"),
            col("Dato", "date"),
            col("NaesteOpfoelgning", "date", True),
            TS,
        ), primary_key=("HandleplanId",), watermark="OpdateretTid", description="Barnets Lov §§91-92 barnets plan."),
        TableSpec("Sagsbehandler", (
            col("SagsbehandlerId", "int"),
            col("EnhedKode", "str"),
            col("Aktiv", "bool"),
            TS,
        ), primary_key=("SagsbehandlerId",), watermark="OpdateretTid", description="No names or initials."),
    ),
)
