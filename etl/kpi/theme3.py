"""Theme 3 — Service og sikker drift: deadlines and the quality of case work."""

from __future__ import annotations

import pandas as pd

from etl.kpi.aggregate import count_rows, flag_label, in_period, share_rows, with_org
from etl.kpi.catalog import CATALOG, kpi
from etl.model import Model
from etl.periods import Period

#: Barnets Lov §136: a notification must be assessed within 24 hours (24 h itself is in time).
ASSESSMENT_DEADLINE = pd.Timedelta(hours=24)


@kpi("T3.02")
def notifications_assessed_in_time(model: Model, period: Period) -> pd.DataFrame:
    """Share of the period's notifications assessed within 24 hours, plus their count.

    An unassessed notification is late once more than 24 hours have passed by the
    extraction time; before that it could still be in time, so it stays out of the
    share. One assessed before it was received (DQ11) is an event in `count` but its
    dates cannot be used, so it stays out of the share too.
    """
    received = model.fact_notification
    received = received[in_period(received["received_at"], period)]
    time_to_assessment = received["assessed_at"] - received["received_at"]
    assessed = received["assessed_at"].notna()
    contradictory = time_to_assessment < pd.Timedelta(0)
    time_waiting = pd.Timestamp(model.extraction_time) - received["received_at"]
    overdue = ~assessed & (time_waiting > ASSESSMENT_DEADLINE)
    members = with_org(received.assign(
        acute=flag_label(received["acute"]),
        in_time=assessed & ~contradictory & (time_to_assessment <= ASSESSMENT_DEADLINE),
        assessable=(assessed & ~contradictory) | overdue,
    ), model.dim_org, period.end)
    breakdowns = CATALOG["T3.02"].breakdowns
    return pd.concat([
        share_rows(members, "notification_id", "in_time", "assessable", breakdowns),
        count_rows(members, "notification_id", breakdowns),
    ], ignore_index=True)
