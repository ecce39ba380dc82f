"""The demo profile generated twice for the synth tests: with the default defects, and as its
clean twin (every quirk rate 0). Session-scoped: every synth test module reads the same two."""

from __future__ import annotations

from pathlib import Path

import pytest

from etl.synth import generate
from etl.synth.profiles import DEFAULT_QUIRK_RATES


@pytest.fixture(scope="session")
def demo(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("demo")
    return out, generate(out, profile="demo", seed=42)


@pytest.fixture(scope="session")
def clean(tmp_path_factory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("clean")
    return out, generate(out, profile="demo", seed=42, quirk_rates=dict.fromkeys(DEFAULT_QUIRK_RATES, 0.0))
