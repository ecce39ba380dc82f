"""One synthetic population, so a person keeps one CPR number in every system.

CPR numbers follow the real structure (sources.md): `DDMMYY` is the birth date, the 7th
digit together with `YY` gives the century, the last digit is odd for men. Modulus-11
is deliberately not honoured (it is not guaranteed since 2007). Numbers are drawn at run
time from the seed, so no real person's number is ever written into the repository.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from etl.synth.timeline import NAT_DAY, year_of

#: Roles a person can have; employees are kept apart from clients (never in the CPR file).
CLIENT_ROLES = ("child", "adult", "stay")
ROLES = (*CLIENT_ROLES, "employee")

# Allowed 7th digits per birth-year range (the century rule read backwards).
_SEVENTH_DIGITS = (
    (1900, 1936, (0, 1, 2, 3)),
    (1937, 1999, (0, 1, 2, 3, 4, 9)),
    (2000, 2036, (4, 5, 6, 7, 8, 9)),
    (2037, 2057, (5, 6, 7, 8)),
)


class PersonRegistry:
    """Every person the generator creates, with a CPR number unique across all systems."""

    def __init__(self, rng: np.random.Generator) -> None:
        self._rng = rng
        self._birth: list[np.ndarray] = []
        self._male: list[np.ndarray] = []
        self._role: list[np.ndarray] = []
        self._cpr = np.empty(0, dtype="int64")  # the CPR as a number, one per person
        self.death = np.empty(0, dtype="datetime64[D]")  # set where a system records a death

    def __len__(self) -> int:
        return len(self._cpr)

    def add(self, birth: np.ndarray, male: np.ndarray, role: str) -> np.ndarray:
        """Register persons; returns their person ids (positions in the registry)."""
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}")
        birth = birth.astype("datetime64[D]")
        male = np.asarray(male, dtype=bool)
        first_id = len(self)
        cpr = self._unique_numbers(birth, male)
        self._birth.append(birth)
        self._male.append(male)
        self._role.append(np.full(len(birth), role))
        self._cpr = np.concatenate([self._cpr, cpr])
        self.death = np.concatenate([self.death, np.full(len(birth), NAT_DAY)])
        return np.arange(first_id, len(self))

    def frame(self) -> pd.DataFrame:
        """person_id, birth, male, role and the canonical 10-digit CPR text."""
        return pd.DataFrame({
            "person_id": np.arange(len(self)),
            "birth": np.concatenate(self._birth) if self._birth else np.empty(0, "datetime64[D]"),
            "male": np.concatenate(self._male) if self._male else np.empty(0, bool),
            "role": np.concatenate(self._role) if self._role else np.empty(0, str),
            "cpr": pd.Series(self._cpr).astype(str).str.zfill(10),
            "death": self.death,
        })

    def birth_of(self, person_ids: np.ndarray) -> np.ndarray:
        return np.concatenate(self._birth)[person_ids]

    def male_of(self, person_ids: np.ndarray) -> np.ndarray:
        return np.concatenate(self._male)[person_ids]

    def cpr_numbers(self, person_ids: np.ndarray) -> np.ndarray:
        """The CPR as the integer an HR export stores (leading zero lost)."""
        return self._cpr[person_ids]

    def _unique_numbers(self, birth: np.ndarray, male: np.ndarray) -> np.ndarray:
        year = year_of(birth)
        month = birth.astype("datetime64[M]").astype("int64") % 12 + 1
        day = (birth - birth.astype("datetime64[M]").astype("datetime64[D]")).astype("int64") + 1
        date_part = day * 10_000 + month * 100 + year % 100
        numbers = np.zeros(len(birth), dtype="int64")
        todo = np.ones(len(birth), dtype=bool)
        while todo.any():
            serial = self._serials(year[todo], male[todo])
            numbers[todo] = date_part[todo] * 10_000 + serial
            clash = np.isin(numbers, self._cpr)
            _, first = np.unique(numbers, return_index=True)
            repeated = np.ones(len(numbers), dtype=bool)
            repeated[first] = False
            todo = clash | repeated
        return numbers

    def _serials(self, year: np.ndarray, male: np.ndarray) -> np.ndarray:
        seventh = np.full(len(year), -1)
        for first_year, last_year, digits in _SEVENTH_DIGITS:
            in_range = (year >= first_year) & (year <= last_year)
            seventh[in_range] = np.asarray(digits)[self._rng.integers(0, len(digits), in_range.sum())]
        if (seventh < 0).any():
            raise ValueError("birth year outside 1900-2057 cannot get a CPR number")
        middle = self._rng.integers(0, 100, len(year))
        last = 2 * self._rng.integers(0, 5, len(year)) + male
        return seventh * 1000 + middle * 10 + last


def with_separator(cpr: pd.Series, separator: pd.Series | str) -> pd.Series:
    """`DDMMYY` + separator + `SSSS` (separator '' gives the 10-character form)."""
    return cpr.str[:6] + separator + cpr.str[6:]


def replacement_numbers(rng: np.random.Generator, cpr: pd.Series) -> pd.Series:
    """Erstatningspersonnumre: 6 added to the day's first digit, or letters in positions 8-9."""
    letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    day_plus_sixty = (cpr.str[0].astype(int) + 6).astype(str) + cpr.str[1:]
    with_letters = (cpr.str[:7] + pd.Series(letters[rng.integers(0, 26, len(cpr))], index=cpr.index)
                    + pd.Series(letters[rng.integers(0, 26, len(cpr))], index=cpr.index) + cpr.str[9])
    return day_plus_sixty.where(rng.random(len(cpr)) < 0.5, with_letters)


def unparseable_numbers(rng: np.random.Generator, rendered: pd.Series) -> pd.Series:
    """Typing errors no parser can repair: two digits short, or day 00."""
    digits = rendered.str.replace(r"[^0-9A-Z]", "", regex=True)
    too_short = digits.str[:8]
    day_zero = "00" + rendered.str[2:]
    return too_short.where(rng.random(len(rendered)) < 0.5, day_zero)
