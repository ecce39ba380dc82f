"""The suppression audit's answers, kept from one publish to the next.

The audit (`etl.publish.audit`) is a pure function: the same KPI rows with the same true
figures, the same blanked cells, the same organisation file and the same attacker give the
same recovered rows. A daytime refresh asks it many questions the night already answered
(every closed quarter is the night's, figures and blanks alike), and a KPI whose figures did
not change since the last publish asks all of its questions again. So each answer is kept
under a fingerprint of everything it depends on, and asked again only when that changes:

- the rows as the attacker reads them (`AUDIT_COLUMNS`: keys, true figures, unit; in order);
- which of them are published blank;
- the organisation file the parents are read from;
- the attacker itself: the source of `etl/publish/audit.py` and of `org_parents`'s module,
  and the numpy, scipy and pandas versions (HiGHS ships with scipy): a changed attacker
  never reads an old attacker's answers, with no version number to forget to bump.

An answer is the positions (in those rows) of the rows whose non-zero figure the attacker
recovers: no figure, no key, nothing personal. The fingerprints cover the true figures, so the
memo lives beside them in the restricted KPI zone (`kpi/audit_memo.json`, 0600). A missing or
unreadable memo is an empty one (the audit runs in full, with a warning if it was unreadable),
and an answer naming a row its question does not have is asked again: a cache never fails a
publish. Each publish writes the answers it used, so the file holds one
publish's worth, never a history.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import numpy as np
import pandas as pd
import scipy

from etl.core.storage import make_private, private_dir

log = logging.getLogger(__name__)

#: What the audit reads of a KPI row (`Audit.of_publication` keeps only these: a column the
#: attacker starts reading must be added here, or it raises instead of being left out of the key).
AUDIT_COLUMNS = ("kpi_id", "measure", "period_type", "period_start", "period_end", "org_level", "org_key",
                 "dimension", "dimension_value", "version", "value", "numerator", "denominator", "unit")
_DATES = ("period_start", "period_end")
_NUMBERS = ("value", "numerator", "denominator")


def _attacker() -> bytes:
    """The attacker's code and the libraries whose arithmetic it rests on."""
    from etl.publish import audit, suppression  # noqa: PLC0415 - audit imports this module's callers

    digest = hashlib.blake2b(digest_size=16)
    for module in (audit, suppression):
        digest.update(Path(module.__file__).read_bytes())
    digest.update(f"numpy {np.__version__} scipy {scipy.__version__} pandas {pd.__version__}".encode())
    return digest.digest()


def _row_hashes(rows: pd.DataFrame) -> np.ndarray:
    """One 64-bit hash per row of what the attacker reads, however the rows were read (dates as
    text or timestamps, no value as None, NaN or NA, a version as int or float)."""
    columns = {}
    for c in AUDIT_COLUMNS:
        values = rows[c] if c in rows.columns else pd.Series(None, index=rows.index, dtype=object)
        if c in _DATES:
            columns[c] = pd.to_datetime(values).dt.normalize().astype("datetime64[ns]")
        elif c in _NUMBERS:
            columns[c] = pd.to_numeric(values, errors="coerce").astype("float64")
        elif c == "version":
            columns[c] = values.fillna(0).astype("int64")
        else:
            columns[c] = values.astype("string")
    return pd.util.hash_pandas_object(pd.DataFrame(columns), index=False).to_numpy()


class AuditMemo:
    """Answers by fingerprint: `answers` as read from the last publish, `used` what this one
    asked (and what `save` writes). Of the questions asked, `hits` were answered by the last
    publish, `repeats` earlier in this one, and `misses` by the attacker."""

    def __init__(self, answers: dict[str, list[int]] | None = None):
        self.answers = dict(answers or {})
        self.used: dict[str, list[int]] = {}
        self.hits = 0
        self.repeats = 0
        self.misses = 0

    @classmethod
    def load(cls, path: Path) -> AuditMemo:
        if not path.exists():
            return cls()
        try:
            answers = json.loads(path.read_text())["answers"]
            if not isinstance(answers, dict) or not all(
                    isinstance(v, list) and all(type(i) is int and i >= 0 for i in v) for v in answers.values()):
                raise ValueError("answers is not a map of lists of row positions")
        except (OSError, ValueError, KeyError, TypeError) as error:
            log.warning("the suppression audit's memo %s is unreadable (%s): every KPI is audited in full", path, error)
            return cls()
        return cls(answers)

    def save(self, path: Path) -> None:
        """The answers this publish used, written aside and moved into place."""
        tmp = private_dir(path.parent) / f".{path.name}.{os.getpid()}.tmp"
        tmp.write_text(json.dumps({"answers": self.used}))
        make_private(tmp).replace(path)

    @staticmethod
    def context(dim_org: pd.DataFrame) -> bytes:
        """The part of every fingerprint that is the same for the whole publish."""
        digest = hashlib.blake2b(_attacker(), digest_size=16)
        digest.update(pd.util.hash_pandas_object(dim_org.astype("string"), index=False).to_numpy().tobytes())
        digest.update(",".join(dim_org.columns).encode())
        return digest.digest()

    @staticmethod
    def rows_digest(context: bytes, rows: pd.DataFrame) -> bytes:
        """The fingerprint of one set of rows, in order (the answers are positions in it)."""
        return hashlib.blake2b(context + _row_hashes(rows).tobytes(), digest_size=16).digest()

    def recovered(self, rows_digest: bytes, blanked: np.ndarray, compute) -> np.ndarray:
        """`compute()`'s answer for these rows with `blanked` published blank, from an earlier
        publish (or earlier in this one) when one is kept."""
        blanked = np.asarray(blanked, dtype=bool)
        key = hashlib.blake2b(rows_digest + len(blanked).to_bytes(8, "little") + np.packbits(blanked).tobytes(),
                              digest_size=16).hexdigest()
        if key in self.used:
            self.repeats += 1
            return np.asarray(self.used[key], dtype=np.int64)
        known = self.answers.get(key)
        if known is not None and any(i >= len(blanked) for i in known):  # no answer to this question
            log.warning("the suppression audit's memo answers with a row the question does not have: asked again")
            known = None
        if known is not None:
            self.hits += 1
            found = np.asarray(known, dtype=np.int64)
        else:
            self.misses += 1
            found = np.asarray(compute(), dtype=np.int64)
        self.used[key] = found.tolist()
        return found

    def tally(self) -> tuple[dict[str, list[int]], int, int, int]:
        """What a forked worker hands back to the parent's memo (`merge`)."""
        return self.used, self.hits, self.repeats, self.misses

    def merge(self, used: dict[str, list[int]], hits: int, repeats: int, misses: int) -> None:
        """What a forked worker asked, into this (the parent's) memo."""
        self.used.update(used)
        self.hits += hits
        self.repeats += repeats
        self.misses += misses
