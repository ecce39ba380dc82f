import datetime as dt

from etl.core.periods import add_months, last_closed_quarter, quarter_periods, reporting_periods, shift_years

D = dt.date


def test_same_day_of_month_rule():
    assert add_months(D(2025, 1, 31), 4) == D(2025, 5, 31)
    assert add_months(D(2025, 10, 31), 4) == D(2026, 2, 28)
    assert add_months(D(2023, 10, 31), 4) == D(2024, 2, 29)
    assert add_months(D(2025, 11, 15), 3) == D(2026, 2, 15)


def test_last_year_of_a_leap_day_is_the_28th():
    assert shift_years(D(2028, 2, 29), -1) == D(2027, 2, 28)


def test_running_quarter_ends_on_the_extraction_date_and_is_provisional():
    quarter, ytd = quarter_periods(2025, 4, D(2025, 11, 15))
    assert (quarter.start, quarter.end, quarter.provisional) == (D(2025, 10, 1), D(2025, 11, 15), True)
    assert (ytd.start, ytd.end, ytd.kind) == (D(2025, 1, 1), D(2025, 11, 15), "ytd")
    twin = quarter.last_year()
    assert (twin.label, twin.start, twin.end, twin.provisional) == ("2024-Q4", D(2024, 10, 1), D(2024, 11, 15), False)


def test_nightly_periods_cover_running_and_closed_quarters_with_last_year_twins():
    periods = reporting_periods(D(2025, 11, 15), history_quarters=1)
    keys = {(p.kind, p.label, p.end) for p in periods}
    assert keys == {
        ("quarter", "2025-Q4", D(2025, 11, 15)), ("ytd", "2025-Q4", D(2025, 11, 15)),
        ("quarter", "2025-Q3", D(2025, 9, 30)), ("ytd", "2025-Q3", D(2025, 9, 30)),
        ("quarter", "2024-Q4", D(2024, 11, 15)), ("ytd", "2024-Q4", D(2024, 11, 15)),
        ("quarter", "2024-Q3", D(2024, 9, 30)), ("ytd", "2024-Q3", D(2024, 9, 30)),
    }
    assert last_closed_quarter(D(2025, 11, 15)) == "2025-Q3"
    assert last_closed_quarter(D(2025, 1, 1)) == "2024-Q4"
