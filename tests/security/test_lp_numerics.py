"""The audit's LPs on a component HiGHS's presolve cannot solve (found at Copenhagen scale)."""

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import scipy.optimize

import etl.publish.audit as audit

#: A component of T6.07 (money in hundreds of millions beside counts of one) from a daytime
#: refresh of the generated Copenhagen profile (`benchmarks/run_chain.py`): synthetic figures,
#: its unknowns numbered 0..n-1. With presolve, HiGHS reports the cone LP a solve error and the
#: plain LP's second round "model status unknown, primal infeasible", on an LP the true figures
#: satisfy; the publish task failed on it.
FIXTURE = Path(__file__).parent / "fixtures" / "t607_lp.npz"


def _system() -> tuple[np.ndarray, pd.DataFrame, pd.DataFrame, np.ndarray, np.ndarray]:
    f = np.load(FIXTURE)
    terms = pd.DataFrame({"con": f["con"], "entry": f["entry"], "coef": f["coef"]})
    cons = pd.DataFrame({"eq": f["eq"], "rhs": f["rhs"]})
    return np.arange(len(f["true"])), terms, cons, f["lower"], f["true"]


def _highs(monkeypatch, retry: dict | None) -> list[int]:
    """Every LP of `_determine` by HiGHS as given, and where it fails, once more as `retry`
    says (None: no retry); returns the statuses seen."""
    real, statuses = scipy.optimize.linprog, []

    def linprog(*args, **kwargs):
        result = real(*args, **kwargs)
        statuses.append(result.status)
        return real(*args, **{**kwargs, **retry}) if result.status and retry else result

    monkeypatch.setattr(audit, "_linprog", lambda objective, **problem: linprog(objective, method="highs", **problem))
    return statuses


def test_presolve_fails_on_this_component(monkeypatch):
    """The fixture still shows the failure (else the test below proves nothing)."""
    statuses = _highs(monkeypatch, None)
    with pytest.raises(AssertionError, match="LP failed"):
        audit._determine(*_system())
    assert 4 in statuses


def test_the_audit_answers_as_the_interior_point_method(monkeypatch):
    """Retried without presolve, the dual simplex (the audit's way) and the interior-point
    method (another algorithm) pin the same unknowns: zeros, whose blanking hides nothing."""
    got = audit._determine(*_system())
    _highs(monkeypatch, {"method": "highs-ipm", "options": {"presolve": False}})
    assert got.tolist() == audit._determine(*_system()).tolist()
    true = _system()[4]
    assert got.sum() == 6 and (true[got] == 0).all()
