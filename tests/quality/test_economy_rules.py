"""DQ15-DQ19 and DQ08 on the finance codes, on small hand-built models (extracted
2025-11-20; 60 days before is 2025-09-21) whose failing records are stated in each test."""

from __future__ import annotations

import pytest

from rule_findings import findings

from etl.core.reference import read_accounts
from etl.core.settings import REPO_ROOT
from etl.quality.rules import RULES

ACCOUNTS = read_accounts(REPO_ROOT / "reference" / "accounts.csv")


def details(model, rule_id: str) -> dict[str, str]:
    out = {}
    for f in RULES[rule_id].check(model):
        out |= dict(zip(f.record_ids[f.failing], f.detail[f.failing]))
    return out


def posting(pid: str, service_key=None, *, art="4.9", funktion="5.28.21", amount=1_000.0, booked="2025-10-01",
            unit="OMK5101", system=None, reference=None, duplicate=False) -> dict:
    return dict(posting_id=pid, booked_date=booked, amount=amount, funktion=funktion, art=art,
                money_class={"4": "expense", "7": "revenue", "8": "revenue"}.get(art[0], "other"), unit_code=unit,
                source_system=system or (service_key.split(":")[0] if service_key else None),
                has_reference=service_key is not None if reference is None else reference,
                service_key=service_key, duplicate=duplicate)


def service(key: str, start="2025-01-01", end=None) -> dict:
    source, service_id = key.split(":")
    return dict(service_key=key, source=source, service_id=service_id, case_key=f"{source}:c{service_id}",
                citizen_key="x", start_date=start, end_date=end, service_type="Aflastning",
                area="Børn og Unge" if source == "boern" else "Voksne")


def link(key: str, end=None, closed=None, deleted=False) -> dict:
    source, service_id = key.split(":")
    return dict(service_key=key, source=source, service_id=service_id, case_key=f"{source}:c{service_id}",
                case_pseudonym="p", citizen_key="x", area="Voksne", start_date="2024-01-01", end_date=end,
                case_closed_date=closed, deleted=deleted)


def commitment(cid: str, service_key, to=None, cancelled=False, system="boern") -> dict:
    return dict(commitment_id=cid, source_system=system, from_date="2024-01-01", to_date=to, rate=100.0,
                rate_unit="døgn", funktion="5.28.21", cancelled=cancelled, service_key=service_key)


def test_dq15_expense_postings_on_case_functions_must_reach_a_measure(make_model):
    model = make_model(ref_account=ACCOUNTS, fact_posting=[
        posting("1", "boern:1"),                                  # reaches its measure
        posting("2"),                                             # no reference: fails
        posting("3", reference=True),                             # a reference, no kilde_system: fails
        posting("4", system="voksen", reference=True),            # names nothing in voksen: fails
        posting("5", duplicate=True),                             # a DQ18 copy: not in the population
        posting("6", art="8.6", funktion="5.28.20"),              # revenue: not in it
        posting("7", funktion="5.38.42"),                         # kraever_foranstaltning = 0: not in it
        posting("8", funktion="5.28.99"),                         # unknown function: not in it (DQ08's)
        posting("9", art="1.1"),                                  # other art: not in it
        posting("10", funktion="5.38.50", amount=-500.0),         # a credit note is an expense posting: fails
    ])
    assert findings(model, "DQ15") == {("oekonomi", "postering"): (5, ["10", "2", "3", "4"])}
    assert details(model, "DQ15") == {
        "2": "foranstaltningsreference mangler", "3": "kilde_system mangler",
        "4": "foranstaltningsreferencen matcher ingen foranstaltning i voksen",
        "10": "foranstaltningsreference mangler"}


def test_dq16_measures_active_60_days_without_posting_or_commitment(make_model):
    model = make_model(
        fact_service=[
            service("boern:1"),                      # paid: passes
            service("boern:2"),                      # only a cancelled commitment: fails
            service("boern:3"),                      # a commitment: passes
            service("boern:4", start="2025-09-21"),  # started exactly 60 days before: in it, fails
            service("boern:5", start="2025-09-22"),  # 59 days: not yet in the population
            service("boern:6", end="2025-11-19"),    # ended the day before: not active
            service("voksen:7", end="2025-11-20"),   # ends on E: active, fails
            service("voksen:8", start=None),         # no start: never active
        ],
        fact_posting=[posting("1", "boern:1", art="1.1")],  # any posting refers to it
        fact_commitment=[commitment("a", "boern:2", cancelled=True), commitment("b", "boern:3")])
    assert findings(model, "DQ16") == {("boern", "Foranstaltning"): (4, ["2", "4"]),
                                       ("voksen", "ydelse"): (1, ["7"])}


def test_dq17_open_commitments_on_ended_measures(make_model):
    model = make_model(
        dim_measure_link=[
            link("boern:1", end="2025-06-30"),
            link("boern:2", end="2025-06-30"),
            link("boern:3", end="2025-06-30"),
            link("boern:4", end="2026-03-31"),                        # not ended
            link("boern:5", closed="2025-08-31"),                     # its case closed: ended then
            link("boern:6", deleted=True),                            # soft-deleted, no end
            link("boern:7", end="2025-12-31", closed="2025-10-31"),  # the earlier of the two
        ],
        fact_commitment=[
            commitment("1", "boern:1"),                  # open: fails
            commitment("2", "boern:2", to="2025-07-31"),  # after the end: fails
            commitment("3", "boern:3", to="2025-06-30"),  # closed on the end: passes
            commitment("4", "boern:4"),                  # measure not ended: not in the population
            commitment("5", "boern:5", to="2025-12-31"),  # after the case's close: fails
            commitment("6", "boern:6", to="2025-05-01"),  # deleted, closed long ago: passes
            commitment("7", "boern:6"),                  # deleted, still open: fails
            commitment("8", "boern:1", cancelled=True),  # cancelled: not in it
            commitment("9", None),                       # reaches no measure: not in it
            commitment("10", "boern:7", to="2025-10-31"),  # closed on the case's close: passes
        ])
    # population: 1, 2, 3, 5, 6, 7 and 10
    assert findings(model, "DQ17") == {("oekonomi", "disponering"): (7, ["1", "2", "5", "7"])}
    assert details(model, "DQ17")["1"] == "åben disponering (ingen til-dato) på indsats ophørt 2025-06-30"
    assert details(model, "DQ17")["2"] == "til-dato 2025-07-31 efter indsatsens ophør 2025-06-30"
    assert details(model, "DQ17")["7"].endswith("(indsatsen er slettet)")


def test_dq18_every_copy_after_the_first(make_model):
    model = make_model(fact_posting=[posting("1"), posting("2", duplicate=True), posting("3", duplicate=True),
                                     posting("4", art="1.1")])
    assert findings(model, "DQ18") == {("oekonomi", "postering"): (4, ["2", "3"])}


def test_dq19_function_and_unit_with_expense_this_year_without_budget(make_model):
    model = make_model(
        fact_posting=[
            posting("1", funktion="5.28.21", unit="OMK5101"),                     # budgeted
            posting("2", funktion="5.28.20", unit="OMK5102", amount=500.0),       # no budget: fails
            posting("3", funktion="5.38.52", unit="OMK6501", amount=300.0),
            posting("4", funktion="5.38.52", unit="OMK6501", amount=-300.0),     # nets to 0: not in it
            posting("5", funktion="5.38.50", unit="OMK6502", booked="2024-12-31"),  # last year: not in it
            posting("6", funktion="5.38.50", unit="OMK6502", art="7.1", amount=-900.0),  # revenue: not in it
            posting("7", funktion="5.28.23", unit="OMK5103"),                     # only a line of 2024: fails
            posting("8", funktion="5.28.24", unit="OMK5201"),                     # a Korrigeret line counts
            posting("9", funktion="5.28.24", unit="OMK5104", duplicate=True),     # a copy: not in it
            posting("10", funktion="5.28.21", unit="OMK5101", booked="2025-11-21"),  # after E
        ],
        fact_budget=[
            dict(budget_id="a", year=2025, month=1, funktion="5.28.21", unit_code="OMK5101", amount=10.0,
                 version="Oprindeligt"),
            dict(budget_id="b", year=2024, month=12, funktion="5.28.23", unit_code="OMK5103", amount=10.0,
                 version="Oprindeligt"),
            dict(budget_id="c", year=2025, month=12, funktion="5.28.24", unit_code="OMK5201", amount=0.0,
                 version="Korrigeret"),
        ])
    assert findings(model, "DQ19") == {("oekonomi", "budget"): (4, ["5.28.20/OMK5102", "5.28.23/OMK5103"])}
    assert details(model, "DQ19")["5.28.20/OMK5102"] == "500,00 kr. udgift i 2025 uden budget"


def test_dq08_a_finance_row_counts_once_however_many_codes_are_unknown(make_model):
    model = make_model(
        ref_account=ACCOUNTS,
        fact_posting=[posting("1"), posting("2", funktion="5.28.99"), posting("3", unit="OMK9999"),
                      posting("4", funktion="5.28.2", unit="XX")],
        fact_budget=[dict(budget_id="b1", year=2025, month=1, funktion="5.38.59", unit_code="OMK5101", amount=1.0,
                          version="Oprindeligt")])
    found = findings(model, "DQ08")
    assert found[("oekonomi", "postering")] == (4, ["2", "3", "4"])
    assert found[("oekonomi", "budget")] == (1, ["b1"])
    assert details(model, "DQ08")["4"] == "funktion '5.28.2' og enhedskode 'XX' findes ikke i referencedata"
    kinds = {}
    for f in RULES["DQ08"].check(model):
        if f.source == "oekonomi":
            kinds |= dict(zip(f.record_ids, f.breakdowns["code_kind"]))
    assert kinds == {"1": "function", "2": "function", "3": "unit", "4": "function", "b1": "function"}


@pytest.mark.parametrize("rule_id", ["DQ15", "DQ16", "DQ17", "DQ18", "DQ19"])
def test_an_empty_economy_finds_nothing(make_model, rule_id):
    assert all(not failing for _, failing in findings(make_model(ref_account=ACCOUNTS), rule_id).values())
