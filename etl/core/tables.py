"""One description per table.

Every table the pipeline reads or publishes is described once here as a `TableSpec`.
The pandera schemas (`schemas/`), the warehouse DDL (`sql/warehouse/`), the extract SQL
check and the docs are all generated from these descriptions, so they cannot drift apart.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass, field

from etl.core.identifiers import safe_identifier
from etl.core.vocabulary import PANDAS_DTYPES

#: Logical types of the contracts (the keys of the one pandas dtype map); every dialect
#: and pandas dtype is derived from these.
LOGICAL_TYPES = tuple(PANDAS_DTYPES)
_DECIMAL = re.compile(r"decimal\((\d+),(\d+)\)")


@dataclass(frozen=True)
class Column:
    name: str
    type: str
    nullable: bool = False
    description: str = ""
    allowed: tuple[str, ...] | None = None  # closed set of values (checked after parsing)
    min_value: float | None = None
    max_value: float | None = None
    personal: bool = False  # a direct identifier (CPR): lives only in landing/quarantine/link
    # The contract's declared SQL type where the logical type's default is too narrow:
    # `bigint` for an int, `decimal(p,s)` for a decimal (amounts are `decimal(14,2)`).
    sql_type: str | None = None

    def __post_init__(self) -> None:
        safe_identifier(self.name)  # names become SQL identifiers (etl/core/identifiers.py)
        if self.type not in LOGICAL_TYPES:
            raise ValueError(f"column {self.name}: unknown logical type {self.type!r}")
        if self.sql_type is not None and not (
                (self.type == "int" and self.sql_type == "bigint")
                or (self.type == "decimal" and _DECIMAL.fullmatch(self.sql_type))):
            raise ValueError(f"column {self.name}: sql_type {self.sql_type!r} does not fit logical type {self.type}")

    @property
    def decimal_digits(self) -> tuple[int, int] | None:
        """(precision, scale) of a declared `decimal(p,s)`, else None."""
        match = _DECIMAL.fullmatch(self.sql_type or "")
        return (int(match[1]), int(match[2])) if match else None


@dataclass(frozen=True)
class TableSpec:
    name: str
    columns: tuple[Column, ...]
    primary_key: tuple[str, ...] = ()
    description: str = ""
    watermark: str | None = None  # change timestamp for incremental extraction
    soft_delete: str | None = None  # bit column; rows with 1 count nowhere
    expect_rows: bool = True  # zero rows is a structural failure
    file_pattern: str | None = None  # file sources: e.g. "cpr_{date:%Y%m%d}.csv"
    delimiter: str = ","
    encoding: str = "utf-8"
    date_formats: dict[str, str] = field(default_factory=dict)  # column -> strptime format

    def __post_init__(self) -> None:
        safe_identifier(self.name)
        for name in (*self.primary_key, *filter(None, (self.watermark, self.soft_delete))):
            self.column(name)  # keys and flags name contract columns, nothing else

    @property
    def column_names(self) -> list[str]:
        return [c.name for c in self.columns]

    def column(self, name: str) -> Column:
        for c in self.columns:
            if c.name == name:
                return c
        raise KeyError(f"{self.name} has no column {name!r}")

    def schema_hash(self) -> str:
        """A stable hash of names, types and nullability: changes when the contract does."""
        payload = [(c.name, c.type, c.nullable) for c in self.columns]
        return hashlib.sha256(json.dumps(payload).encode()).hexdigest()[:16]


def col(name: str, type_: str, nullable: bool = False, description: str = "", **kw) -> Column:
    """Short constructor so contracts read like the spec's tables."""
    return Column(name, type_, nullable, description, **kw)
