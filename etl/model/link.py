"""Link: CPR normalisation, keyed pseudonyms and the cross-system citizen model.

This is the only stage that reads CPR numbers. It normalises every form the sources use
(dashes, spaces, lost leading zeros), recognises replacement numbers, matches persons
deterministically on the normalised number and replaces it by an HMAC-SHA256 pseudonym
before anything is written. A plain hash would not do: there are only ~3.6 million valid
numbers per century, so an unkeyed hash is reversed by brute force in seconds.

Persons without a usable number are not guessed: each source person id becomes a
citizen of its own (`id_kind = source_id`) and is counted (DQ05).
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from etl.core.storage import atomic_write_json

#: What a normalised identifier is.
KIND_CPR, KIND_REPLACEMENT, KIND_INVALID, KIND_MISSING = "cpr", "replacement", "invalid", "missing"


def century_of(seventh_digit: pd.Series, yy: pd.Series) -> pd.Series:
    """The century rule of the CPR register (7th digit with the two-digit year)."""
    d7, yy = seventh_digit.astype("Int64"), yy.astype("Int64")
    century = pd.Series(1900, index=d7.index, dtype="Int64")
    century = century.mask(d7.isin([4, 9]) & (yy <= 36), 2000)
    century = century.mask(d7.isin([5, 6, 7, 8]) & (yy <= 57), 2000)
    century = century.mask(d7.isin([5, 6, 7, 8]) & (yy > 57), 1800)
    return century.where(d7.notna())


def normalise_cpr(values: pd.Series) -> pd.DataFrame:
    """Normalise raw CPR values of any source form.

    Returns a frame aligned with `values` with `cpr` (ten characters or NA), `kind`
    (cpr / replacement / invalid / missing), `birth_date` and `gender` from the digits.
    Modulus-11 is never checked (not guaranteed since 2007).

    Each distinct value is normalised once: the employment register repeats a person's
    number every month, so this is ~15x less string work there than row by row.
    """
    codes, uniques = pd.factorize(values)
    if len(uniques) == len(values):
        return _normalise_distinct(values)
    distinct = pd.concat([pd.Series(uniques, dtype=values.dtype), pd.Series([None], dtype=values.dtype)],
                         ignore_index=True)  # the last row stands for a missing value
    normalised = _normalise_distinct(distinct)
    rows = normalised.take(np.where(codes >= 0, codes, len(uniques)))
    return rows.set_axis(values.index)


def _normalise_distinct(values: pd.Series) -> pd.DataFrame:
    """`_normalise_text`, with the ASCII values (every number a source stores) in Arrow's
    vectorised kernels and only the rest in Python: the same frame (property-tested)."""
    text = pa.array(values.astype("str"), from_pandas=True).cast(pa.large_string())
    ascii_ = np.asarray(pc.string_is_ascii(text).fill_null(True))
    if ascii_.all():
        return _normalise_ascii(text, values.index)
    at = np.arange(len(values))
    out = pd.concat([_normalise_ascii(text.filter(pa.array(ascii_)), pd.Index(at[ascii_])),
                     _normalise_text(values.iloc[~ascii_]).set_axis(at[~ascii_])])
    return out.sort_index().set_axis(values.index)


#: Python's `\s` on ASCII (str.isspace): RE2's `\s` leaves out \v and \x1c-\x1f.
_ASCII_SPACE_OR_DASH = r"[\t\n\x0b\x0c\r\x1c-\x1f \-]"


def _int_at(text: pa.Array, start: int, stop: int) -> np.ndarray:
    """Characters [start, stop) of each text as an integer; the texts are all digits there."""
    return np.asarray(pc.cast(pc.utf8_slice_codeunits(text, start, stop), pa.int64()))


def _normalise_ascii(text: pa.Array, index: pd.Index) -> pd.DataFrame:
    """`_normalise_text` of ASCII texts, column-wise in Arrow and numpy."""
    large = text.type
    text = pc.replace_substring_regex(pc.ascii_upper(text), _ASCII_SPACE_OR_DASH, "")
    text = pc.if_else(pc.equal(text, ""), pa.scalar(None, large), text)
    nine = pc.match_substring_regex(text, r"^[0-9]{9}$").fill_null(False)  # a number column lost a leading 0
    text = pc.if_else(nine, pc.binary_join_element_wise(pa.scalar("0", large), text, pa.scalar("", large)), text)
    digits = np.asarray(pc.match_substring_regex(text, r"^[0-9]{10}$").fill_null(False))
    lettered = np.asarray(pc.match_substring_regex(text, r"^[0-9]{7}[A-Z]{2}[0-9]$").fill_null(False))
    shaped = digits | lettered
    shaped_text = pc.if_else(pa.array(shaped), text, pa.scalar("0000000000", large))  # digits where read
    day, month, yy, d7, last = (_int_at(shaped_text, a, b) for a, b in ((0, 2), (2, 4), (4, 6), (6, 7), (9, 10)))
    shifted_day = shaped & (day > 60)  # replacement: 6 added to the day's first digit
    real_day = np.where(shifted_day, day - 60, day)
    century = np.select([np.isin(d7, [4, 9]) & (yy <= 36), np.isin(d7, [5, 6, 7, 8]) & (yy <= 57),
                         np.isin(d7, [5, 6, 7, 8])], [2000, 2000, 1800], 1900)
    real_month = (month >= 1) & (month <= 12)
    first_of_month = ((century + yy - 1970) * 12 + np.where(real_month, month - 1, 0)).astype("datetime64[M]")
    month_days = ((first_of_month + 1).astype("datetime64[D]") - first_of_month.astype("datetime64[D]")).astype(int)
    dated = shaped & real_month & (real_day >= 1) & (real_day <= month_days)

    kind = np.full(len(day), KIND_INVALID, dtype=object)
    kind[digits & dated & ~shifted_day] = KIND_CPR
    kind[((digits & shifted_day) | lettered) & dated] = KIND_REPLACEMENT
    kind[np.asarray(pc.is_null(text))] = KIND_MISSING
    usable = (kind == KIND_CPR) | (kind == KIND_REPLACEMENT)
    birth = first_of_month.astype("datetime64[D]") + np.where(usable, real_day - 1, 0)
    return pd.DataFrame({
        "cpr": pd.Series(pd.array(pc.if_else(pa.array(usable), text, pa.scalar(None, large)), dtype="str"),
                         index=index),
        "kind": pd.Series(kind, index=index, dtype="str"),
        "birth_date": pd.Series(np.where(usable, birth, np.datetime64("NaT")).astype("datetime64[s]"), index=index),
        "gender": pd.Series(np.where(usable, np.where(last % 2 == 1, "M", "K"), None), index=index, dtype="str"),
    })


def _normalise_text(values: pd.Series) -> pd.DataFrame:
    """`_normalise_distinct` value by value with Python's string rules: the definition, and
    the path of text outside ASCII (Unicode spaces, digits and case)."""
    text = values.astype("str").str.upper().str.replace(r"[\s\-]", "", regex=True)
    text = text.where(values.notna() & (text != ""))
    # A number column loses one leading zero (day 01-09): nine digits are padded back.
    text = text.mask(text.str.fullmatch(r"\d{9}").fillna(False).astype(bool), "0" + text)
    digits = text.str.fullmatch(r"\d{10}").fillna(False).astype(bool)
    lettered = text.str.fullmatch(r"\d{7}[A-Z]{2}\d").fillna(False).astype(bool)
    shaped = digits | lettered

    day = pd.to_numeric(text.str.slice(0, 2).where(shaped), errors="coerce").astype("Int64")
    month = pd.to_numeric(text.str.slice(2, 4).where(shaped), errors="coerce").astype("Int64")
    yy = pd.to_numeric(text.str.slice(4, 6).where(shaped), errors="coerce").astype("Int64")
    d7 = pd.to_numeric(text.str.slice(6, 7).where(shaped), errors="coerce").astype("Int64")
    shifted_day = (day > 60).fillna(False).astype(bool)  # replacement: 6 added to the day's first digit
    real_day = day.where(~shifted_day, day - 60)
    year = century_of(d7, yy) + yy
    birth = pd.to_datetime(pd.DataFrame({"year": year, "month": month, "day": real_day}).astype("float"),
                           errors="coerce")
    dated = birth.notna()

    kind = pd.Series(KIND_INVALID, index=values.index, dtype="str")
    kind = kind.mask(digits & dated & ~shifted_day, KIND_CPR)
    kind = kind.mask(((digits & shifted_day) | lettered) & dated, KIND_REPLACEMENT)
    kind = kind.mask(text.isna(), KIND_MISSING)
    usable = kind.isin([KIND_CPR, KIND_REPLACEMENT])
    last = pd.to_numeric(text.str.slice(9, 10).where(usable), errors="coerce")
    gender = pd.Series(np.where(last % 2 == 1, "M", "K"), index=values.index, dtype="str").where(last.notna())
    return pd.DataFrame({
        "cpr": text.where(usable),
        "kind": kind,
        "birth_date": birth.where(usable).astype("datetime64[s]"),
        "gender": gender,
    })


class Pseudonymiser:
    """HMAC-SHA256 pseudonyms under one secret key: stable across runs and systems."""

    def __init__(self, key: bytes):
        if not key:
            raise ValueError("an empty pseudonymisation key is refused")
        self._key = key
        # HMAC's keyed inner and outer states, computed once: copying them per value is
        # the same HMAC-SHA256 as `hmac.new`, at a third of its cost (tested against it).
        block = hashlib.sha256().block_size
        padded = (hashlib.sha256(key).digest() if len(key) > block else key).ljust(block, b"\0")
        self._inner = hashlib.sha256(bytes(b ^ 0x36 for b in padded))
        self._outer = hashlib.sha256(bytes(b ^ 0x5C for b in padded))

    def one(self, namespace: str, value: str) -> str:
        inner = self._inner.copy()
        inner.update(f"{namespace}:{value}".encode())
        outer = self._outer.copy()
        outer.update(inner.digest())
        return outer.hexdigest()[:32]

    def many(self, namespace: str, values: pd.Series) -> pd.Series:
        """Pseudonyms for a column; NA stays NA. Hashes each distinct value once."""
        codes, uniques = pd.factorize(values)
        hashed = np.array([self.one(namespace, str(v)) for v in uniques.tolist()] + [None], dtype=object)
        return pd.Series(hashed[codes], index=values.index, dtype="str")  # code -1 (NA) takes the None

    def person(self, cpr: pd.Series, fallback_ids: pd.Series) -> pd.Series:
        """A citizen key: from the normalised CPR when usable, else from the source id."""
        from_cpr = self.many("person", cpr)
        from_id = self.many("source-person", fallback_ids.where(from_cpr.isna()))  # hash only what is used
        return from_cpr.fillna(from_id).astype("str")


def link_persons(rows: pd.DataFrame, pseudonymiser: Pseudonymiser) -> pd.DataFrame:
    """Link source person rows to citizens.

    `rows` has `source`, `source_table`, `source_person_id` and raw `cpr`. Returns the
    `link_person` frame plus the normalised demographics (`kind`, `birth_date`,
    `gender`) and the normalised `cpr` (dropped by the caller before anything is saved).
    """
    norm = normalise_cpr(rows["cpr"])
    fallback = rows["source"] + ":" + rows["source_table"] + ":" + rows["source_person_id"].astype(str)
    citizen_key = pseudonymiser.person(norm["cpr"], fallback)
    method = norm["kind"].map({KIND_CPR: "cpr", KIND_REPLACEMENT: "replacement"}).fillna("unlinked")
    return pd.DataFrame({
        "source": rows["source"].to_numpy(), "source_table": rows["source_table"].to_numpy(),
        "source_person_id": rows["source_person_id"].astype(str).to_numpy(),
        "citizen_key": citizen_key.to_numpy(), "match_method": method.to_numpy(),
        "match_confidence": np.where(method == "unlinked", 0.0, 1.0),
        "kind": norm["kind"].to_numpy(), "cpr": norm["cpr"].to_numpy(),
        "birth_date": norm["birth_date"].to_numpy(), "gender": norm["gender"].to_numpy(),
    })


def key_fingerprint(key: bytes) -> str:
    """A short, non-reversible label of a key for logs and the marker (not the key)."""
    return hmac.new(key, b"sofli-key-fingerprint", hashlib.sha256).hexdigest()[:12]


class KeyMismatchError(RuntimeError):
    """The pseudonymisation key is not the one the live model was built with."""


def _model_metas(model_dir: Path) -> list[Path]:
    return [m for m in [Path(model_dir) / "model.json", *sorted(Path(model_dir).glob("backfill/*/model.json"))]
            if m.exists()]


def check_key_fingerprint(model_dir: Path, key: bytes) -> None:
    """Refuse a build whose key differs from the live model's: a changed key without
    `sofli rekey` would give every citizen a new pseudonym and break every longitudinal link."""
    live = Path(model_dir) / "model.json"
    recorded = json.loads(live.read_text()).get("key_fingerprint") if live.exists() else None
    if recorded and recorded != key_fingerprint(key):
        raise KeyMismatchError(
            f"the pseudonymisation key (fingerprint {key_fingerprint(key)}) is not the one the live model was "
            f"built with ({recorded}): rotate with `sofli rekey` (docs/security.md), or restore the key")


def record_key_fingerprint(model_dir: Path, key: bytes) -> None:
    """Write the key's fingerprint into the live (and backfill) model metadata."""
    for meta in _model_metas(model_dir):
        atomic_write_json(meta, {**json.loads(meta.read_text()), "key_fingerprint": key_fingerprint(key)})
