"""The published nøgletalskatalog is rendered from the catalogue and kept in sync."""

from __future__ import annotations

import pytest

from etl.core.settings import REPO_ROOT
from etl.kpi import CATALOG
from etl.kpi.docs import render_catalogue_markdown

PUBLISHED = REPO_ROOT / "docs" / "kpi-catalogue.md"


def test_render_lists_every_kpi_with_its_metadata():
    text = render_catalogue_markdown()
    for d in CATALOG.values():
        assert f"### {d.kpi_id} {d.title}" in text
        assert d.description in text and d.definition in text
    assert text.count("| Beregnes | ja |") == sum(d.implemented for d in CATALOG.values())
    assert "## Tema 5 — SOF som arbejdsplads" in text


@pytest.mark.skipif(not PUBLISHED.exists(), reason="docs/kpi-catalogue.md not generated yet")
def test_published_catalogue_is_up_to_date():
    assert PUBLISHED.read_text(encoding="utf-8") == render_catalogue_markdown(), (
        "docs/kpi-catalogue.md is stale: regenerate it with python -m etl.ops.docs_gen")
