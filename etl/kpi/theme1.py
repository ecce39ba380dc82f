"""Theme 1 — Borgersammensætning: who the administration helps."""

from __future__ import annotations

import pandas as pd

from etl.kpi.aggregate import active_on, count_rows, with_org
from etl.kpi.catalog import CATALOG, kpi
from etl.kpi.demographics import with_demographics
from etl.model import Model
from etl.periods import Period

#: Facilities where living there is an intervention (§107-§110); not natcaféer, not ABL §105.
RESIDENTIAL_FACILITY_TYPES = (
    "Midlertidigt botilbud §107", "Længerevarende botilbud §108", "Krisecenter §109",
    "Herberg §110", "Forsorgshjem §110",
)


@kpi("T1.01")
def citizens_with_active_intervention(model: Model, period: Period) -> pd.DataFrame:
    """Distinct citizens with an active service, measure or residential stay on E.

    One member row per active service or stay, so a citizen counts in every unit (and
    area) they are active in; target groups are the citizen's, from the cases behind all
    their active services, because the catalogue counts a citizen in each of them.
    """
    status_date = period.end
    services = model.fact_service
    active_services = services.loc[active_on(services["start_date"], services["end_date"], status_date),
                                   ["citizen_key", "unit_code", "area", "target_group"]]
    stays = model.fact_stay
    active_stays = stays.loc[stays["facility_type"].isin(RESIDENTIAL_FACILITY_TYPES)
                             & stays["citizen_key"].notna()
                             & active_on(stays["check_in"], stays["check_out"], status_date),
                             ["citizen_key", "unit_code", "area"]]
    placements = pd.concat([active_services.drop(columns="target_group"), active_stays], ignore_index=True)
    citizen_target_groups = active_services[["citizen_key", "target_group"]].drop_duplicates()
    members = (with_org(placements, model.dim_org, status_date)
               .merge(citizen_target_groups, on="citizen_key", how="left"))
    members = with_demographics(members, model.dim_citizen, status_date)
    return count_rows(members, "citizen_key", CATALOG["T1.01"].breakdowns)
