"""`cpr`: the daily population-register extract (file drop, latin-1, `;`)."""

from etl.core.tables import TableSpec, col
from etl.core.vocabulary import BYDELE, CPR_STATUSES, GENDERS
from etl.sources.base import Source

SOURCE = Source(
    name="cpr",
    title="CPR-udtræk",
    kind="file",
    owner="team-data",
    dq_owners=("dq-data@sofli.example",),
    schedule="15 2 * * *",
    description="Every person any fagsystem knows: birth date, gender, municipality, bydel, status.",
    tables=(
        TableSpec("cpr", (
            col("PNR", "str", description="10 digits without dash", personal=True),
            col("FOED_DATO", "date"),
            col("KOEN", "str", allowed=GENDERS),
            col("KOMKOD", "str", description="4 digits, 0101 = Copenhagen"),
            col("BYDEL", "str", True, allowed=BYDELE),
            col("STATUS", "str", allowed=CPR_STATUSES),
            col("STATUS_DATO", "date"),
        ), primary_key=("PNR",), file_pattern="cpr_{date:%Y%m%d}.csv", delimiter=";",
            encoding="cp1252", date_formats={"FOED_DATO": "%Y%m%d", "STATUS_DATO": "%Y%m%d"}),
    ),
)
