"""`tilbud`: facilities, stays and use of force (SQL Server in production)."""

from etl.core.tables import TableSpec, col
from etl.core.vocabulary import FACILITY_TYPES, FORCE_TYPES, STAY_EXITS
from etl.sources.base import Source

TS = col("opdateret", "datetime", description="change timestamp (local time)")

SOURCE = Source(
    name="tilbud",
    title="Tilbuds- og belægningssystem",
    kind="database",
    owner="team-tilbud",
    dq_owners=("dq-tilbud@sofli.example",),
    schedule="30 1 * * *",
    description="Provider side: facilities with capacity, stays (incl. anonymous), use of force.",
    tables=(
        TableSpec("tilbud", (
            col("tilbud_id", "int"),
            col("tilbudstype", "str", allowed=FACILITY_TYPES),
            col("enhed_kode", "str"),
            col("pladser", "int", min_value=0),
            col("aktiv_fra", "date"),
            col("aktiv_til", "date", True),
            TS,
        ), primary_key=("tilbud_id",), watermark="opdateret"),
        TableSpec("ophold", (
            col("ophold_id", "int"),
            col("tilbud_id", "int"),
            col("cpr", "str", True, "missing for anonymous stays", personal=True),
            col("indskrevet", "datetime"),
            col("udskrevet", "datetime", True),
            col("udskrevet_til", "str", True, allowed=STAY_EXITS),
            TS,
        ), primary_key=("ophold_id",), watermark="opdateret"),
        TableSpec("magtanvendelse", (
            col("magt_id", "int"),
            col("tilbud_id", "int"),
            col("cpr", "str", True, personal=True),
            col("tidspunkt", "datetime"),
            col("type", "str", allowed=FORCE_TYPES),
            TS,
        ), primary_key=("magt_id",), watermark="opdateret"),
    ),
)
