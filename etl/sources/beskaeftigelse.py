"""`beskaeftigelse`: monthly employment and education status (file drop, UTF-8 with BOM)."""

from etl.core.tables import TableSpec, col
from etl.core.vocabulary import EMPLOYMENT_STATUSES
from etl.sources.base import Source

SOURCE = Source(
    name="beskaeftigelse",
    title="Beskæftigelses- og uddannelsesstatus",
    kind="file",
    owner="team-data",
    dq_owners=("dq-data@sofli.example",),
    schedule="30 2 * * *",
    description="One row per person and month for persons known to the fagsystemer.",
    tables=(
        TableSpec("beskaeftigelse", (
            col("cpr", "str", description="DDMMYY-SSSS", personal=True),
            col("maaned", "date", description="YYYY-MM, the first of the month"),
            col("status", "str", allowed=EMPLOYMENT_STATUSES),
            col("afsluttet_uddannelse", "bool"),
        ), primary_key=("cpr", "maaned"), file_pattern="beskaeftigelse_{date:%Y%m}.csv",
            delimiter=",", encoding="utf-8-sig", date_formats={"maaned": "%Y-%m"}),
    ),
)
