"""Which sources each KPI is built on: a KPI is flagged when one of them breached a blocking rule.

Read off the definitions in `kpi-catalogue.md`. `cpr` is listed where the KPI uses the
CPR extract's demographics (age group, gender, municipality, birthdays) in its figure
or its breakdowns; `beskaeftigelse` where it uses the employment status. The organisation
and paragraph reference data are not sources (they are versioned in the repository).
A test checks that every id of `etl.kpi.CATALOG` is mapped, so a new KPI cannot be
added without saying what it depends on.
"""

from __future__ import annotations

_CITIZENS = frozenset({"boern", "voksen", "tilbud", "cpr"})  # T1.01's population

KPI_SOURCES: dict[str, frozenset[str]] = {
    # Theme 1: the cross-system citizen model
    "T1.01": _CITIZENS,
    "T1.02": _CITIZENS,
    "T1.03": _CITIZENS,
    "T1.04": _CITIZENS | {"beskaeftigelse"},
    # Theme 2: production
    "T2.01": frozenset({"boern", "voksen"}),
    "T2.02": frozenset({"boern", "voksen"}),
    "T2.03": frozenset({"tilbud"}),
    "T2.04": frozenset({"tilbud"}),
    "T2.05": frozenset({"boern", "cpr"}),
    "T2.06": frozenset({"boern", "cpr"}),
    "T2.07": frozenset({"boern", "cpr"}),
    "T2.08": frozenset({"boern"}),
    "T2.09": frozenset({"boern", "voksen"}),
    "T2.10": frozenset({"boern", "voksen"}),
    "T2.11": frozenset({"boern", "voksen"}),
    "T2.12": frozenset({"boern", "cpr"}),
    "T2.13": frozenset({"tilbud"}),
    # Theme 3: service and deadlines
    "T3.01": frozenset({"boern", "voksen"}),
    "T3.02": frozenset({"boern"}),
    "T3.03": frozenset({"boern"}),
    "T3.04": frozenset({"boern"}),
    "T3.05": frozenset({"klage"}),
    "T3.06": frozenset({"voksen"}),
    "T3.07": frozenset({"tilbud"}),
    "T3.08": frozenset({"boern"}),
    "T3.09": frozenset({"voksen"}),
    # Theme 4: trajectories across systems
    "T4.01": frozenset({"tilbud", "voksen"}),
    "T4.02": frozenset({"tilbud"}),
    "T4.03": frozenset({"voksen"}),
    "T4.04": _CITIZENS | {"beskaeftigelse"},
    "T4.05": frozenset({"voksen"}),
    "T4.06": frozenset({"boern", "voksen", "cpr"}),
    # Theme 5: SOF as a workplace
    "T5.01": frozenset({"hr"}),
    "T5.02": frozenset({"hr"}),
    "T5.03": frozenset({"hr"}),
    "T5.04": frozenset({"hr"}),
    "T5.05": frozenset({"hr"}),
}
