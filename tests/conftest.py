"""Shared fixtures: a demo data folder built once per session by the real CLI path."""

from __future__ import annotations

import os
import re

import pytest

#: CPR-shaped strings: DDMMYY-SSSS, ten digits, nine digits (lost leading zero), and
#: replacement numbers with letters in positions 8-9.
CPR_PATTERNS = [
    re.compile(r"(?<!\d)[0-9]{6}-[0-9]{4}(?!\d)"),
    re.compile(r"(?<![0-9A-Za-z])[0-9]{9,10}(?![0-9A-Za-z])"),
    re.compile(r"(?<![0-9A-Za-z])[0-9]{6}-?[0-9][A-Z]{2}[0-9](?![0-9A-Za-z])"),
]


def cpr_like(text: str) -> list[str]:
    return [m.group(0) for p in CPR_PATTERNS for m in p.finditer(text)]


@pytest.fixture(autouse=True)
def _no_airflow_home_leak(monkeypatch):
    """Unit tests never touch a developer's real Airflow or data folder."""
    monkeypatch.delenv("SOFLI_PSEUDONYM_KEY", raising=False)
    if "AIRFLOW_HOME" not in os.environ:
        monkeypatch.setenv("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
