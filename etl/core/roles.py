"""The roles a KPI or data-quality rule selects rows by, declared in the reference folder.

A municipality maps its paragraphs to service codes of its own (`paragraphs.csv`), so
which service code *is* substance-abuse treatment, or a plan-requiring measure, cannot
be written in code: `reference/service_roles.csv` (`role,service_code`) says so. The
facility types are the `tilbud` contract's closed list (`etl.core.vocabulary`), but
which type *plays* a role (a §110 shelter, a crisis centre, a natcafé, temporary or
long-term housing) is the municipality's classification too: `reference/facility_roles.csv`
(`role,facility_type`).

This module is the one registry of roles: each names the KPIs and rules that read it,
whether the reference must declare it, and the roles it excludes. The catalogue's own
groupings (T2.13's "herberg, forsorgshjem og krisecenter", DQ05's "§109 facilities and
natcaféer") are unions of roles, written once in `FACILITY_GROUPS`, because they are the
binding text's definitions, not the municipality's.

The roles are loaded with the reference into the model table `ref_role` (role, kind,
code), so KPI and rule functions take them from the model like any other reference.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

SERVICE, FACILITY = "service", "facility"
#: kind -> (file in the reference folder, its code column)
ROLE_FILES = {SERVICE: ("service_roles.csv", "service_code"), FACILITY: ("facility_roles.csv", "facility_type")}


@dataclass(frozen=True)
class Role:
    """A role: its kind (`service` or `facility`), name, who reads it and what it means."""

    kind: str
    name: str
    readers: tuple[str, ...]
    meaning: str
    required: bool = True  # the reference must declare it at least once


#: The KPIs whose population is T1.01's active citizens: a stay at a residential
#: facility (`FACILITY_GROUPS["residential"]`) makes a citizen active.
_ACTIVE = ("T1.01", "T1.02", "T1.03", "T1.04", "T4.04")

ROLES: tuple[Role, ...] = (
    Role(SERVICE, "substance_treatment", ("T3.09", "T4.03"),
         "substance-abuse treatment (behandlingsgarantien, restarts)"),
    Role(SERVICE, "plan_required", ("T3.08",),
         "granted children's measures that require a child's plan within 3 months (not §47)"),
    Role(SERVICE, "temporary_housing", ("T4.01",), "a temporary housing service (next step §107)"),
    Role(SERVICE, "long_term_housing", ("T4.01",), "a long-term housing service (next step §108)"),
    Role(FACILITY, "shelter", ("T4.01", "T4.02", "T2.13", "DQ12", *_ACTIVE),
         "§110 shelters: herberg and forsorgshjem"),
    Role(FACILITY, "crisis_centre", ("T2.13", "DQ05", *_ACTIVE), "§109 crisis centres"),
    Role(FACILITY, "natcafe", ("DQ05", "DQ12"), "natcaféer: a night, not a stay", required=False),
    Role(FACILITY, "temporary_housing", ("T2.03", "T4.01", *_ACTIVE),
         "temporary housing facilities (§107)"),
    Role(FACILITY, "long_term_housing", ("T4.01", *_ACTIVE),
         "long-term housing facilities (§108)"),
)
ROLE_BY_KEY: dict[tuple[str, str], Role] = {(r.kind, r.name): r for r in ROLES}

def excludes(a: Role, b: Role) -> bool:
    """Roles of one kind exclude each other: a service code is not both treatment and
    housing, a facility type not both a shelter and a crisis centre."""
    return a.kind == b.kind and a.name != b.name


#: The catalogue's groupings of facility roles (binding text, so code; which types play
#: each role is reference data).
FACILITY_GROUPS: dict[str, tuple[str, ...]] = {
    # §107-§110: a named stay makes a citizen active (T1.01-T1.04, T4.04) and a check-out
    # to Egen bolig is a T4.01 next step. Not natcaféer, not ABL §105 housing.
    "residential": ("temporary_housing", "long_term_housing", "crisis_centre", "shelter"),
    # T2.13 "herberg, forsorgshjem og krisecenter".
    "shelters_and_crisis_centres": ("shelter", "crisis_centre"),
    # DQ12: walked into and out of on one's own (§110 and natcaféer).
    "self_referred": ("shelter", "natcafe"),
    # DQ05 resolved reading: anonymous stays are legitimate at §109 facilities and natcaféer.
    "anonymous_allowed": ("crisis_centre", "natcafe"),
    # T4.01: a stay checked in here is a housing next step.
    "housing": ("temporary_housing", "long_term_housing"),
}

ROLE_COLUMNS = ("role", "kind", "code")


def role_frame(declared: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """The `ref_role` table from the two role files (already validated)."""
    parts = [pd.DataFrame({"role": frame["role"], "kind": kind, "code": frame[ROLE_FILES[kind][1]]})
             for kind, frame in declared.items()]
    return pd.concat(parts, ignore_index=True)[list(ROLE_COLUMNS)] if parts else pd.DataFrame(columns=ROLE_COLUMNS)


def codes(ref_role: pd.DataFrame, kind: str, *roles: str) -> tuple[str, ...]:
    """The codes declared for any of `roles` of `kind` (an unregistered role is a bug here)."""
    for name in roles:
        if (kind, name) not in ROLE_BY_KEY:
            raise KeyError(f"no {kind} role {name!r} is registered in etl/core/roles.py")
    chosen = ref_role[(ref_role["kind"] == kind) & ref_role["role"].isin(roles)]
    return tuple(dict.fromkeys(chosen["code"].astype(str)))


def service_codes(ref_role: pd.DataFrame, *roles: str) -> tuple[str, ...]:
    return codes(ref_role, SERVICE, *roles)


def facility_types(ref_role: pd.DataFrame, *roles: str) -> tuple[str, ...]:
    return codes(ref_role, FACILITY, *roles)


def facility_group(ref_role: pd.DataFrame, group: str) -> tuple[str, ...]:
    """The facility types of one of the catalogue's groupings (`FACILITY_GROUPS`)."""
    return facility_types(ref_role, *FACILITY_GROUPS[group])


def role_of(ref_role: pd.DataFrame, kind: str, values: pd.Series, roles: tuple[str, ...]) -> pd.Series:
    """Per value the first of `roles` it is declared under (NULL: none)."""
    mapping: dict[str, str] = {}
    for name in roles:
        for code in codes(ref_role, kind, name):
            mapping.setdefault(code, name)
    return values.map(mapping)
