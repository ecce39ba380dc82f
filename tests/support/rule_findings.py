"""What a data-quality rule found, in the shape the rule tests compare with exact values."""

from __future__ import annotations

from etl.quality.rules import RULES


def findings(model, rule_id: str) -> dict[tuple[str, str], tuple[int, list[str]]]:
    """(source, source_table) -> (population, sorted failing record ids)."""
    out: dict[tuple[str, str], tuple[int, list[str]]] = {}
    for f in RULES[rule_id].check(model):
        population, failing = out.get((f.source, f.source_table), (0, []))
        out[(f.source, f.source_table)] = (population + len(f.record_ids),
                                           sorted(failing + f.record_ids[f.failing].tolist()))
    return out
