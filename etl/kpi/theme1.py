"""Theme 1 — Borgersammensætning: who the administration helps.

T1.01's selection (a citizen with an active service, measure or residential stay) is the
population of T1.02-T1.04 and, over other dates, of T4.04: `intervention_rows` gives every
row that can make someone such a citizen, `active_members` those rows active on a date.
"""

from __future__ import annotations

import datetime as dt

import numpy as np
import pandas as pd

from etl.core.periods import Period
from etl.core.roles import facility_group
from etl.core.vocabulary import IN_WORK_OR_EDUCATION
from etl.kpi.aggregate import (
    active_on,
    age_at,
    count_rows,
    part_share_rows,
    share_rows,
    with_org,
)
from etl.kpi.catalog import CATALOG, kpi
from etl.kpi.demographics import with_demographics
from etl.model import Model

#: The source systems a citizen can be active in, in the order their combination is written.
SYSTEMS = ("boern", "voksen", "tilbud")
#: Kommunekode of Copenhagen (KOMKOD).
COPENHAGEN = "0101"
WORKING_AGE = (18, 64)


def intervention_rows(model: Model) -> pd.DataFrame:
    """Every service, measure and residential stay of a citizen, whatever its dates.

    Columns: citizen_key, system (`boern` / `voksen` from the service's source, `tilbud`
    for a stay), unit_code, area, target_group (the case's; NULL for a stay), start, end.
    Anonymous stays and stays at natcaféer or ABL §105 housing are not interventions.
    """
    return model.derived(("intervention_rows",), lambda: _intervention_rows(model))


def _intervention_rows(model: Model) -> pd.DataFrame:
    services = model.fact_service
    stays = model.fact_stay
    stays = stays[stays["facility_type"].isin(facility_group(model.ref_role, "residential")) & stays["citizen_key"].notna()]
    return pd.concat([
        pd.DataFrame({"citizen_key": services["citizen_key"], "system": services["source"],
                      "unit_code": services["unit_code"], "area": services["area"],
                      "target_group": services["target_group"],
                      "start": services["start_date"], "end": services["end_date"]}),
        pd.DataFrame({"citizen_key": stays["citizen_key"], "system": "tilbud",
                      "unit_code": stays["unit_code"], "area": stays["area"],
                      "target_group": pd.Series(pd.NA, index=stays.index, dtype="str"),
                      "start": stays["check_in"], "end": stays["check_out"]}),
    ], ignore_index=True)


def citizen_target_groups(interventions: pd.DataFrame) -> pd.DataFrame:
    """citizen_key x target_group: every target group of the cases behind the citizen's
    services among `interventions`; a citizen with only stays gets none (read as Ukendt)."""
    from_services = interventions[interventions["system"] != "tilbud"]
    return from_services[["citizen_key", "target_group"]].drop_duplicates()


def active_members(model: Model, status_date: dt.date) -> pd.DataFrame:
    """T1.01's members on `status_date`: one row per active service or stay (x target group).

    A citizen counts in every unit (and area) they are active in; target groups are the
    citizen's, from the cases behind all their active services, because the catalogue
    counts a citizen in each of them. Columns of `intervention_rows` plus org_area,
    org_center, org_unit.
    """
    def compute() -> pd.DataFrame:
        interventions = intervention_rows(model)
        active = interventions[active_on(interventions["start"], interventions["end"], status_date)]
        placements = with_org(active.drop(columns="target_group"), model.dim_org, status_date)
        return placements.merge(citizen_target_groups(active), on="citizen_key", how="left")
    return model.derived(("active_members", status_date), compute, slot="active_members")


@kpi("T1.01")
def citizens_with_active_intervention(model: Model, period: Period) -> pd.DataFrame:
    """Distinct citizens with an active service, measure or residential stay on E."""
    members = with_demographics(active_members(model, period.end), model.dim_citizen, period.end)
    return count_rows(members, "citizen_key", CATALOG["T1.01"].breakdowns)


def system_combinations(members: pd.DataFrame) -> pd.DataFrame:
    """Per citizen: the number of source systems they are active in and their combination
    (`boern+voksen`, `boern+voksen+tilbud` …, systems in the order of `SYSTEMS`)."""
    citizens, citizen_keys = pd.factorize(members["citizen_key"], sort=True)
    systems = pd.Index(SYSTEMS).get_indexer(members["system"])
    present = np.zeros((len(citizen_keys), len(SYSTEMS)), dtype=bool)
    known = citizens >= 0
    present[citizens[known & (systems >= 0)], systems[known & (systems >= 0)]] = True
    # each pattern of systems present, as a bit mask, and its label
    patterns = present.astype(np.int64) @ (1 << np.arange(len(SYSTEMS)))
    labels = np.array(["+".join(s for i, s in enumerate(SYSTEMS) if mask >> i & 1)
                       for mask in range(1 << len(SYSTEMS))], dtype=object)
    return pd.DataFrame({"citizen_key": pd.Series(citizen_keys, dtype=members["citizen_key"].dtype),
                         "n_systems": present.sum(axis=1), "systems": pd.array(labels[patterns], dtype="str")})


@kpi("T1.02")
def citizens_in_several_systems(model: Model, period: Period) -> pd.DataFrame:
    """T1.01 citizens active in two or more source systems on E: count and share.

    Whether a citizen is in several systems is a fact about the citizen across SOF, so in
    a unit the numerator is the unit's T1.01 citizens who are active in several systems
    anywhere. The `systems` breakdown splits the numerator by combination; its share has
    the org group's T1.01 citizens as denominator, so the combinations add up to the total.
    """
    members = active_members(model, period.end)
    combinations = system_combinations(members)
    members = members.merge(combinations, on="citizen_key", how="left")
    members = members.assign(several=members["n_systems"] >= 2)
    members["systems"] = members["systems"].where(members["several"])
    breakdowns = CATALOG["T1.02"].breakdowns
    return pd.concat([
        count_rows(members[members["several"]], "citizen_key", breakdowns),
        part_share_rows(members, "citizen_key", "several", breakdowns),
    ], ignore_index=True)


@kpi("T1.03")
def citizens_from_other_municipalities(model: Model, period: Period) -> pd.DataFrame:
    """Share of T1.01 citizens resident outside Copenhagen, and share with no residence on record.

    The municipality is dim_citizen's (the CPR extract of the extraction date). A citizen
    missing from dim_citizen or without a code there counts under `share_unknown`, never
    under `share`; both have every T1.01 citizen as denominator.
    """
    members = active_members(model, period.end)
    residence = model.dim_citizen[["citizen_key", "municipality_code"]]
    members = members.merge(residence, on="citizen_key", how="left")
    code = members["municipality_code"].astype("str").str.strip().str.zfill(4)
    unknown = code.isna() | code.eq("0000")
    members = members.assign(elsewhere=~unknown & code.ne(COPENHAGEN), unknown=unknown, everyone=True)
    breakdowns = CATALOG["T1.03"].breakdowns
    return pd.concat([
        share_rows(members, "citizen_key", "elsewhere", "everyone", breakdowns),
        share_rows(members, "citizen_key", "unknown", "everyone", breakdowns, measure="share_unknown"),
    ], ignore_index=True)


@kpi("T1.04")
def share_in_work_or_education(model: Model, period: Period) -> pd.DataFrame:
    """Of T1.01 citizens aged 18-64 on E with a status row for E's month: share in work,
    education or work placement. Citizens without such a row are not in the denominator."""
    members = active_members(model, period.end)
    births = model.dim_citizen[["citizen_key", "birth_date"]]
    members = members.merge(births, on="citizen_key", how="left")
    age = age_at(members["birth_date"], pd.Series(pd.Timestamp(period.end), index=members.index))
    month = pd.Timestamp(period.end).replace(day=1)
    statuses = model.fact_employment_status
    statuses = statuses.loc[statuses["month"] == month, ["citizen_key", "status"]]
    members = members.merge(statuses, on="citizen_key", how="left")
    low, high = WORKING_AGE
    members = members.assign(
        in_population=(age >= low).fillna(False) & (age <= high).fillna(False) & members["status"].notna(),
        in_work=members["status"].isin(IN_WORK_OR_EDUCATION))
    members = members[members["in_population"]]
    return share_rows(members, "citizen_key", "in_work", "in_population", CATALOG["T1.04"].breakdowns)
