"""Theme 2 — Indsatser og ydelser: the administration's production."""

from __future__ import annotations

import pandas as pd

from etl.kpi.aggregate import active_on, count_rows, in_period, with_org
from etl.kpi.catalog import CATALOG, kpi
from etl.kpi.demographics import with_demographics
from etl.model import Model
from etl.periods import Period


@kpi("T2.01")
def decisions(model: Model, period: Period) -> pd.DataFrame:
    """Decisions dated in the period, both systems; every outcome is an event."""
    decided = model.fact_decision
    decided = decided[in_period(decided["decision_date"], period)]
    members = with_org(decided, model.dim_org, period.end)
    return count_rows(members, "decision_key", CATALOG["T2.01"].breakdowns)


@kpi("T2.06")
def placed_children(model: Model, period: Period) -> pd.DataFrame:
    """Distinct children with an active placement (anbringelse) on E.

    One member row per active placement, so a child with two placement types counts
    under both types but once in the total.
    """
    status_date = period.end
    services = model.fact_service
    placements = services[(services["source"] == "boern") & (services["category"] == "Anbringelse")
                          & active_on(services["start_date"], services["end_date"], status_date)]
    members = with_demographics(with_org(placements, model.dim_org, status_date),
                                model.dim_citizen, status_date)
    members = members.rename(columns={"service_type": "placement_type"})
    return count_rows(members, "citizen_key", CATALOG["T2.06"].breakdowns)
