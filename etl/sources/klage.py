"""`klage`: the complaints register (ESDH extract)."""

from etl.core.tables import TableSpec, col
from etl.sources.base import Source

SOURCE = Source(
    name="klage",
    title="Klageregister (ESDH)",
    kind="database",
    owner="team-jura",
    schedule="45 1 * * *",
    description="Complaints with reconsideration and Ankestyrelsen outcomes.",
    tables=(
        TableSpec("klage", (
            col("klage_id", "int"),
            col("modtaget_dato", "date"),
            col("klagetype", "str", allowed=("Afgørelse", "Sagsbehandlingstid", "Personale", "Tilbud", "Andet")),
            col("aarsag", "str"),
            col("enhed_kode", "str"),
            col("kilde_system", "str", True, allowed=("boern", "voksen")),
            col("sagsreference", "str", True, "a Sagsnummer of boern or a sag_id of voksen"),
            col("genvurdering", "str", True, allowed=("Medhold", "Fastholdt")),
            col("ankestyrelse_udfald", "str", True, allowed=("Stadfæstet", "Ændret", "Ophævet", "Hjemvist", "Afvist")),
            col("afgjort_dato", "date", True),
            col("opdateret", "datetime"),
        ), primary_key=("klage_id",), watermark="opdateret"),
    ),
)
