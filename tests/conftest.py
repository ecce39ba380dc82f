"""Shared fixtures: a demo data folder built once per session by the real CLI path."""

from __future__ import annotations

import os

import pytest

@pytest.fixture(autouse=True)
def _no_airflow_home_leak(monkeypatch):
    """Unit tests never touch a developer's real Airflow or data folder."""
    monkeypatch.delenv("SOFLI_PSEUDONYM_KEY", raising=False)
    if "AIRFLOW_HOME" not in os.environ:
        monkeypatch.setenv("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
