"""The reference folder, checked as a contract and loaded in one place.

The municipality maintains every file (docs/reference-data.md). `check_reference` lists
every problem of a folder (file, line, what is wrong and how to fix it): required files
and columns, keys, dates, areas, organisation validity periods, and the roles the KPIs
and rules select by (`etl.core.roles`): each required role declared, no code in two
roles that exclude each other. `load_reference` runs it first and refuses a folder with
any problem (`ReferenceDataError`), so a municipality's own codes either are declared
or stop the run loudly; they never turn into an empty KPI. `sofli check-reference DIR`
prints the same list.

`read_accounts` and `read_refusion` stay the finance files' readers (the generator reads
them too).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from etl.core.roles import FACILITY, ROLE_BY_KEY, ROLE_FILES, ROLES, excludes, role_frame
from etl.core.vocabulary import AREAS, FACILITY_TYPES

ACCOUNT_COLUMNS = ("funktion", "titel", "area", "kategori", "foranstaltningstype", "kraever_foranstaltning")
REFUSION_COLUMNS = ("aar", "graense_1", "sats_1", "graense_2", "sats_2")
#: A function of the authorised account plan: main account, main function, function (`5.28.21`).
FUNCTION_PATTERN = r"\d\.\d{2}\.\d{2}"


class ReferenceFormatError(ValueError):
    """A reference file does not have its documented shape."""


class ReferenceDataError(ReferenceFormatError):
    """The reference folder breaks its contract; `problems` lists every violation."""

    def __init__(self, folder: Path, problems: list[Problem]):
        self.problems = problems
        lines = "\n".join(f"  {p}" for p in problems)
        super().__init__(f"reference folder {folder} has {len(problems)} problem(s):\n{lines}")


def _read(path: Path, columns: tuple[str, ...]) -> pd.DataFrame:
    if not path.exists():
        raise ReferenceFormatError(f"{path.name}: file not found in {path.parent}")
    frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    if tuple(frame.columns) != columns:
        raise ReferenceFormatError(f"{path.name}: columns {list(frame.columns)}, expected {list(columns)}")
    if frame.empty:
        raise ReferenceFormatError(f"{path.name}: no rows")
    return frame.apply(lambda c: c.str.strip())


def _fail(path: Path, column: str, bad: pd.Series, what: str) -> None:
    if bad.any():
        rows = [int(i) + 2 for i in bad[bad].index[:3]]  # 1-based, after the header line
        raise ReferenceFormatError(f"{path.name}: column {column} {what} (line(s) {rows})")


def read_accounts(path: Path) -> pd.DataFrame:
    """`accounts.csv`: one row per function; `foranstaltningstype` NA where the function has
    none; `kraever_foranstaltning` 0/1 (1: every posting should name its measure, DQ15)."""
    frame = _read(path, ACCOUNT_COLUMNS)
    _fail(path, "funktion", ~frame["funktion"].str.fullmatch(FUNCTION_PATTERN), "is not a function like 5.28.21")
    _fail(path, "funktion", frame["funktion"].duplicated(keep=False), "repeats a function")
    for column in ("titel", "kategori"):
        _fail(path, column, frame[column] == "", "is empty")
    _fail(path, "area", ~frame["area"].isin(AREAS), f"is not one of {', '.join(AREAS)}")
    _fail(path, "kraever_foranstaltning", ~frame["kraever_foranstaltning"].isin(["0", "1"]), "is not 0 or 1")
    return pd.DataFrame({
        "funktion": frame["funktion"].astype("str"),
        "titel": frame["titel"].astype("str"),
        "area": frame["area"].astype("str"),
        "kategori": frame["kategori"].astype("str"),
        "foranstaltningstype": frame["foranstaltningstype"].replace("", None).astype("str"),
        "kraever_foranstaltning": frame["kraever_foranstaltning"].astype("int64"),
    })


def read_refusion(path: Path) -> pd.DataFrame:
    """`refusion.csv`: one row per year; `sats_1` of the yearly cost above `graense_1` (up
    to `graense_2`) plus `sats_2` of the part above `graense_2` (DKK, shares 0-1)."""
    frame = _read(path, REFUSION_COLUMNS)
    _fail(path, "aar", ~frame["aar"].str.fullmatch(r"\d{4}"), "is not a year")
    _fail(path, "aar", frame["aar"].duplicated(keep=False), "repeats a year")
    numbers = {}
    for column in REFUSION_COLUMNS[1:]:
        numbers[column] = pd.to_numeric(frame[column], errors="coerce")
        _fail(path, column, numbers[column].isna(), "is not a number")
    for column in ("sats_1", "sats_2"):
        _fail(path, column, ~numbers[column].between(0, 1), "is not a share between 0 and 1")
    _fail(path, "graense_1", numbers["graense_1"] < 0, "is negative")
    _fail(path, "graense_2", numbers["graense_2"] < numbers["graense_1"], "is below graense_1")
    return pd.DataFrame({"aar": frame["aar"].astype("int64"),
                         **{c: numbers[c].astype("float64") for c in REFUSION_COLUMNS[1:]}}
                        ).sort_values("aar").reset_index(drop=True)


def estimated_refund(cost, row: pd.Series | dict):
    """The state refund of one person's yearly cost by one year's row of `refusion.csv`
    (economy.md, T6.04): `sats_1` × (min(cost, graense_2) − graense_1)⁺ + `sats_2` × (cost − graense_2)⁺.
    Works on a number or a numpy array of costs."""
    cost = np.asarray(cost, dtype=float)
    return (row["sats_1"] * np.maximum(0.0, np.minimum(cost, row["graense_2"]) - row["graense_1"])
            + row["sats_2"] * np.maximum(0.0, cost - row["graense_2"]))


# --- the folder as a contract -------------------------------------------------------

@dataclass(frozen=True)
class Problem:
    """One violation: the file, its line (1 = the header; None: the whole file), what and the fix."""

    file: str
    line: int | None
    message: str
    fix: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.message} — fix: {self.fix}"


ORGANISATION_COLUMNS = ("unit_code", "system", "unit", "center", "area", "valid_from", "valid_to")
PARAGRAPH_COLUMNS = ("paragraph_text", "service_code", "law", "paragraph", "service_area", "area")
DEADLINE_COLUMNS = ("service_code", "deadline_days", "basis")
#: `service_types.csv`: the adult services' types (`voksen.ydelse.ydelsestype`) a breakdown
#: may publish. The contract leaves the column free text (the children's `Type` has the
#: contract's closed list); a type not listed here is read as Ukendt and reported (DQ20).
SERVICE_TYPE_COLUMNS = ("source", "service_type")
#: Sources whose measure type is listed in `service_types.csv`.
LISTED_TYPE_SOURCES = ("voksen",)
#: file -> its columns, in order; every file is required.
REFERENCE_FILES = {
    "organisation.csv": ORGANISATION_COLUMNS, "paragraphs.csv": PARAGRAPH_COLUMNS,
    "deadlines.csv": DEADLINE_COLUMNS, "accounts.csv": ACCOUNT_COLUMNS, "refusion.csv": REFUSION_COLUMNS,
    "service_types.csv": SERVICE_TYPE_COLUMNS,
    **{name: ("role", column) for name, column in ROLE_FILES.values()},
}


def _line(index) -> int:
    return int(index) + 2  # 1-based, after the header line


def _raw(folder: Path, name: str, problems: list[Problem]) -> pd.DataFrame | None:
    """A file's rows as stripped text, or None (with the problem) when it cannot be used."""
    path = folder / name
    columns = REFERENCE_FILES[name]
    if not path.exists():
        problems.append(Problem(name, None, f"file not found in {folder}",
                                f"add {name} with the header line {','.join(columns)}"))
        return None
    try:
        frame = pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8")
    except (pd.errors.ParserError, UnicodeDecodeError, pd.errors.EmptyDataError) as exc:
        problems.append(Problem(name, None, f"cannot be read as UTF-8 CSV ({str(exc).splitlines()[0]})",
                                "save it as comma-separated UTF-8 with a header line"))
        return None
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        problems.append(Problem(name, 1, f"missing column(s) {missing}; the header is {list(frame.columns)}",
                                f"use the header line {','.join(columns)}"))
        return None
    return frame[list(columns)].apply(lambda c: c.str.strip())


def _each(problems: list[Problem], name: str, bad: pd.Series, message, fix: str) -> None:
    """One problem per failing row; `message` is a text or a function of the row."""
    for index in bad[bad].index:
        problems.append(Problem(name, _line(index), message(index) if callable(message) else message, fix))


def _dates(frame: pd.DataFrame, column: str, name: str, problems: list[Problem], optional: bool = False) -> pd.Series:
    parsed = pd.to_datetime(frame[column].replace("", None), format="%Y-%m-%d", errors="coerce")
    bad = parsed.isna() & ~((frame[column] == "") & optional)
    _each(problems, name, bad, lambda i: f"{column} {frame.at[i, column]!r} is not a date",
          f"write {column} as YYYY-MM-DD" + (" or leave it empty" if optional else ""))
    return parsed


def _check_organisation(frame: pd.DataFrame, problems: list[Problem]) -> None:
    name = "organisation.csv"
    for column in ("unit_code", "system", "unit", "center"):
        _each(problems, name, frame[column] == "", f"{column} is empty", f"fill in {column}")
    _each(problems, name, ~frame["area"].isin(AREAS), lambda i: f"area {frame.at[i, 'area']!r} is not a known area",
          f"use one of {', '.join(AREAS)}")
    start = _dates(frame, "valid_from", name, problems)
    end = _dates(frame, "valid_to", name, problems, optional=True)
    _each(problems, name, end < start, "valid_to is before valid_from", "swap or correct the dates")
    _each(problems, name, frame.duplicated(["unit_code", "valid_from"], keep="first"),
          lambda i: f"unit {frame.at[i, 'unit_code']} from {frame.at[i, 'valid_from']} is listed twice",
          "keep one row per unit and valid_from")
    periods = pd.DataFrame({"code": frame["unit_code"], "start": start,
                            "end": end.fillna(pd.Timestamp("9999-12-31")).astype(start.dtype)}).dropna(subset=["start"])
    periods = periods.sort_values(["code", "start"])
    previous_end = periods.groupby("code")["end"].shift()
    overlap = (periods["start"] <= previous_end) & ~frame.loc[periods.index].duplicated(["unit_code", "valid_from"])
    _each(problems, name, overlap.reindex(frame.index, fill_value=False),
          lambda i: f"unit {frame.at[i, 'unit_code']}: validity from {frame.at[i, 'valid_from']} overlaps "
                    "the unit's earlier period",
          "end the earlier period (valid_to) the day before this one starts")


def _check_paragraphs(frame: pd.DataFrame, problems: list[Problem]) -> None:
    name = "paragraphs.csv"
    for column in ("paragraph_text", "service_code"):
        _each(problems, name, frame[column] == "", f"{column} is empty", f"fill in {column}")
    _each(problems, name, frame["paragraph_text"].duplicated(keep="first") & (frame["paragraph_text"] != ""),
          lambda i: f"paragraph text {frame.at[i, 'paragraph_text']!r} is mapped twice",
          "keep one row per paragraph text (one text maps to one service code)")
    _each(problems, name, ~frame["area"].isin(AREAS), lambda i: f"area {frame.at[i, 'area']!r} is not a known area",
          f"use one of {', '.join(AREAS)}")


def _check_deadlines(frame: pd.DataFrame, service_codes: set[str], problems: list[Problem]) -> None:
    name = "deadlines.csv"
    days = pd.to_numeric(frame["deadline_days"], errors="coerce")
    _each(problems, name, days.isna() | (days < 0) | (days % 1 != 0),
          lambda i: f"deadline_days {frame.at[i, 'deadline_days']!r} is not a whole number of days",
          "write the deadline in whole days, e.g. 56")
    _each(problems, name, frame["service_code"].duplicated(keep="first"),
          lambda i: f"service code {frame.at[i, 'service_code']} has two deadlines", "keep one row per service code")
    if service_codes:
        _each(problems, name, ~frame["service_code"].isin(service_codes),
              lambda i: f"service code {frame.at[i, 'service_code']!r} is not a service code of paragraphs.csv",
              "use the service code paragraphs.csv maps to, or add the paragraph")


def _check_service_types(frame: pd.DataFrame, problems: list[Problem]) -> None:
    name = "service_types.csv"
    _each(problems, name, ~frame["source"].isin(LISTED_TYPE_SOURCES),
          lambda i: f"source {frame.at[i, 'source']!r} does not list its types here",
          f"use one of {', '.join(LISTED_TYPE_SOURCES)} (the children's types are the boern contract's list)")
    _each(problems, name, frame["service_type"] == "", "service_type is empty", "fill in service_type")
    _each(problems, name, frame.duplicated(["source", "service_type"], keep="first"),
          lambda i: f"{frame.at[i, 'service_type']!r} is listed twice", "delete the repeated line")
    for source in LISTED_TYPE_SOURCES:
        if not (frame["source"] == source).any():
            problems.append(Problem(name, None, f"no type listed for {source}: every service would be Ukendt",
                                    f"add a line {source},<ydelsestype> for each type your system uses"))


def _check_finance(folder: Path, problems: list[Problem]) -> None:
    for name, reader in (("accounts.csv", read_accounts), ("refusion.csv", read_refusion)):
        if (folder / name).exists():
            try:
                reader(folder / name)
            except ReferenceFormatError as exc:
                problems.append(Problem(name, None, str(exc).removeprefix(f"{name}: "),
                                        "correct the file as documented in docs/reference-data.md"))


def _check_roles(kind: str, frame: pd.DataFrame, service_codes: set[str], problems: list[Problem]) -> None:
    name, column = ROLE_FILES[kind]
    known = sorted(r.name for r in ROLES if r.kind == kind)
    _each(problems, name, ~frame["role"].apply(lambda role: (kind, role) in ROLE_BY_KEY),
          lambda i: f"role {frame.at[i, 'role']!r} is not a {kind} role", f"use one of {', '.join(known)}")
    _each(problems, name, frame[column] == "", f"{column} is empty", f"fill in {column}")
    _each(problems, name, frame.duplicated(["role", column], keep="first"),
          lambda i: f"{frame.at[i, column]!r} is declared twice as {frame.at[i, 'role']}", "delete the repeated line")
    if kind == FACILITY:
        _each(problems, name, ~frame[column].isin(FACILITY_TYPES) & (frame[column] != ""),
              lambda i: f"facility type {frame.at[i, column]!r} is not a tilbudstype of the tilbud contract",
              f"use one of {', '.join(FACILITY_TYPES)}")
    elif service_codes:
        _each(problems, name, ~frame[column].isin(service_codes) & (frame[column] != ""),
              lambda i: f"service code {frame.at[i, column]!r} is not a service code of paragraphs.csv",
              "use a service code paragraphs.csv maps paragraph texts to")
    for role in ROLES:
        if role.kind == kind and role.required and not (frame["role"] == role.name).any():
            problems.append(Problem(name, None, f"required role {role.name!r} ({role.meaning}; read by "
                                    f"{', '.join(role.readers)}) is not declared",
                                    f"add a line {role.name},<{column}> for each of your codes in this role"))
    declared = frame[frame["role"].apply(lambda role: (kind, role) in ROLE_BY_KEY)]
    first_role: dict[str, tuple[str, int]] = {}
    for index, row in declared.iterrows():
        code, role = row[column], ROLE_BY_KEY[(kind, row["role"])]
        if code in first_role and excludes(ROLE_BY_KEY[(kind, first_role[code][0])], role):
            problems.append(Problem(name, _line(index), f"{code!r} is declared as {role.name} and as "
                                    f"{first_role[code][0]} (line {first_role[code][1]}); the two exclude each other",
                                    "keep the code in one of the two roles"))
        first_role.setdefault(code, (role.name, _line(index)))


def check_reference(folder: Path) -> list[Problem]:
    """Every problem of the reference folder, in file order (empty: the folder is usable)."""
    folder = Path(folder)
    problems: list[Problem] = []
    if not folder.is_dir():
        return [Problem(str(folder), None, "is not a folder", "point SOFLI_REFERENCE_DIR at the reference folder")]
    raw = {name: _raw(folder, name, problems) for name in REFERENCE_FILES}
    if raw["organisation.csv"] is not None:
        _check_organisation(raw["organisation.csv"], problems)
    service_codes: set[str] = set()
    if raw["paragraphs.csv"] is not None:
        _check_paragraphs(raw["paragraphs.csv"], problems)
        service_codes = set(raw["paragraphs.csv"]["service_code"]) - {""}
    if raw["deadlines.csv"] is not None:
        _check_deadlines(raw["deadlines.csv"], service_codes, problems)
    if raw["service_types.csv"] is not None:
        _check_service_types(raw["service_types.csv"], problems)
    _check_finance(folder, problems)
    for kind, (name, _column) in ROLE_FILES.items():
        if raw[name] is not None:
            _check_roles(kind, raw[name], service_codes, problems)
    return problems


def load_reference(folder: Path) -> dict[str, pd.DataFrame]:
    """The reference as model tables, after `check_reference` found nothing wrong
    (`ReferenceDataError` lists every problem otherwise)."""
    folder = Path(folder)
    problems = check_reference(folder)
    if problems:
        raise ReferenceDataError(folder, problems)

    def read(name: str) -> pd.DataFrame:
        return pd.read_csv(folder / name, dtype=str, keep_default_na=False, encoding="utf-8").apply(
            lambda c: c.str.strip())[list(REFERENCE_FILES[name])]

    org = read("organisation.csv")
    for c in ("valid_from", "valid_to"):
        org[c] = pd.to_datetime(org[c].replace("", None), format="%Y-%m-%d")
    deadlines = read("deadlines.csv")
    deadlines["deadline_days"] = deadlines["deadline_days"].astype("int64")
    return {"dim_org": org, "dim_paragraph": read("paragraphs.csv"), "ref_deadline": deadlines,
            "ref_account": read_accounts(folder / "accounts.csv"),
            "ref_refusion": read_refusion(folder / "refusion.csv"),
            "ref_service_type": read("service_types.csv"),
            "ref_role": role_frame({kind: read(name) for kind, (name, _c) in ROLE_FILES.items()})}
