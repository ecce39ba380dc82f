"""`oekonomi`: the finance system's postings, budget and commitments (SQL Server in production).

In production this is the finance system's reporting replica (KMD Opus, Prisme, ØS
Indsigt) joined with the case systems' payment modules, which hold the commitments and
send the postings (`../shared/spec/economy.md`, source 8). Amounts are DKK, `decimal(14,2)`.
It runs after the case systems, so a night's postings and commitments meet the same
night's measures.
"""

from etl.core.tables import TableSpec, col
from etl.core.vocabulary import BUDGET_VERSIONS, CASE_SYSTEMS, SUPPLIERS, TARIFF_UNITS
from etl.sources.base import Source

TS = col("opdateret", "datetime", description="change timestamp (local time)")
MONEY = "decimal(14,2)"

SOURCE = Source(
    name="oekonomi",
    title="Økonomisystem (posteringer, budget og dispositioner)",
    kind="database",
    owner="team-oekonomi",
    dq_owners=("dq-oekonomi@sofli.example",),
    schedule="45 2 * * *",
    description="Finance: postings on functions and units (linked to measures where paid through a case system), "
                "the periodised budget per function, unit and month, and the commitments of granted measures.",
    tables=(
        TableSpec("postering", (
            col("postering_id", "int", description="the finance system's posting id (bigint)", sql_type="bigint"),
            col("bogfoert_dato", "date", description="booking date: money flows are counted by it"),
            col("periode_fra", "date", True, "first day of the service period the payment covers"),
            col("periode_til", "date", True, "last day of the service period; before 1 January of the "
                                              "year booked: a prior-year posting"),
            col("beloeb", "decimal", description="DKK, signed as booked: expenses positive, revenue negative, "
                                                  "a credit note negative on an expense art", sql_type=MONEY),
            col("funktion", "str", description="function of the authorised account plan (e.g. 5.28.21), "
                                                "mapped by reference/accounts.csv"),
            col("art", "str", description="4.* expense, 7.* and 8.* revenue (7.1 sale of places, 8.6 refund); "
                                           "other arts are outside every money figure"),
            col("enhed_kode", "str", description="finance unit code, mapped by reference/organisation.csv "
                                                  "(system oekonomi)"),
            col("kreditor_type", "str", True, "the creditor's kind; NULL on journal entries and revenue",
                allowed=SUPPLIERS),
            col("kilde_system", "str", True, "the case system holding the measure", allowed=CASE_SYSTEMS),
            col("foranstaltning_ref", "str", True, "the case system's measure or service id (normalised "
                                                    "before matching: trimmed, letter prefix and leading zeros removed)"),
            col("bilag", "str", description="voucher number; a credit note carries the voucher it reverses"),
            TS,
        ), primary_key=("postering_id",), watermark="opdateret",
            description="One row per posting; money reaches a measure, case and citizen through foranstaltning_ref."),
        TableSpec("budget", (
            col("budget_id", "int"),
            col("aar", "int", description="budget year", min_value=1900, max_value=2999),
            col("maaned", "int", description="month 1-12 (the periodised budget)", min_value=1, max_value=12),
            col("funktion", "str", description="function of the authorised account plan"),
            col("enhed_kode", "str", description="finance unit code"),
            col("beloeb", "decimal", description="DKK, net (expense minus revenue) for the month", sql_type=MONEY),
            col("version", "str", description="the original budget, or the corrected one after revisions",
                allowed=BUDGET_VERSIONS),
            TS,
        ), primary_key=("budget_id",), watermark="opdateret",
            description="One row per year, month, function, finance unit and version."),
        TableSpec("disponering", (
            col("disponering_id", "int"),
            col("kilde_system", "str", description="the case system holding the measure", allowed=CASE_SYSTEMS),
            col("foranstaltning_ref", "str", description="the case system's measure or service id"),
            col("fra_dato", "date", description="first day committed"),
            col("til_dato", "date", True, "last day committed; NULL: open"),
            col("takst", "decimal", description="DKK per takst_enhed", sql_type=MONEY),
            col("takst_enhed", "str", description="per day, per month (pro rata by days) or once",
                allowed=TARIFF_UNITS),
            col("funktion", "str", description="function the committed cost will be booked on"),
            col("annulleret", "bool", description="cancelled: counts nowhere"),
            TS,
        ), primary_key=("disponering_id",), watermark="opdateret",
            description="Commitments of granted measures (the payment modules): what the rest of the year will cost."),
    ),
)
