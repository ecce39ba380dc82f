"""`klage`: the complaints register (ESDH extract)."""

from etl.core.tables import TableSpec, col
from etl.core.vocabulary import (
    APPEALS_OUTCOMES,
    CASE_SYSTEMS,
    COMPLAINT_REASONS,
    COMPLAINT_TYPES,
    RECONSIDERATION_OUTCOMES,
)
from etl.sources.base import Source

SOURCE = Source(
    name="klage",
    title="Klageregister (ESDH)",
    kind="database",
    owner="team-jura",
    dq_owners=("dq-jura@sofli.example",),
    schedule="45 1 * * *",
    description="Complaints with reconsideration and Ankestyrelsen outcomes.",
    tables=(
        TableSpec("klage", (
            col("klage_id", "int"),
            col("modtaget_dato", "date"),
            col("klagetype", "str", allowed=COMPLAINT_TYPES),
            col("aarsag", "str", allowed=COMPLAINT_REASONS),
            col("enhed_kode", "str"),
            col("kilde_system", "str", True, allowed=CASE_SYSTEMS),
            col("sagsreference", "str", True, "a Sagsnummer of boern or a sag_id of voksen"),
            col("genvurdering", "str", True, allowed=RECONSIDERATION_OUTCOMES),
            col("ankestyrelse_udfald", "str", True, allowed=APPEALS_OUTCOMES),
            col("afgjort_dato", "date", True),
            col("opdateret", "datetime"),
        ), primary_key=("klage_id",), watermark="opdateret"),
    ),
)
