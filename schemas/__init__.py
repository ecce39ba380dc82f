"""pandera schemas, generated from the one description of each table (`etl.core.tables`).

Nobody writes a schema by hand: `schema_for(spec)` turns a `TableSpec` (source contract,
model table or published table) into a `DataFrameSchema` with the contract's dtypes,
nullability, allowed values, ranges and primary-key uniqueness. The owner and the
schema version travel in `metadata`.
"""

from __future__ import annotations

import pandera.pandas as pa

from etl.core.tables import TableSpec
from etl.core.vocabulary import PANDAS_DTYPES


def schema_for(spec: TableSpec, owner: str = "", strict: bool = True,
               extra_allowed: tuple[str, ...] = ()) -> pa.DataFrameSchema:
    """`extra_allowed`: values every closed list also accepts (validation keeps an unknown
    categorical value as `Ukendt`)."""
    columns = {}
    for c in spec.columns:
        checks = []
        if c.allowed is not None:
            checks.append(pa.Check.isin([*c.allowed, *extra_allowed], name=f"allowed_values:{c.name}"))
        if c.min_value is not None:
            checks.append(pa.Check.ge(c.min_value, name=f"min:{c.name}"))
        if c.max_value is not None:
            checks.append(pa.Check.le(c.max_value, name=f"max:{c.name}"))
        columns[c.name] = pa.Column(PANDAS_DTYPES[c.type], checks=checks, nullable=c.nullable,
                                    description=c.description or None)
    return pa.DataFrameSchema(
        columns,
        strict=strict,
        unique=list(spec.primary_key) or None,
        report_duplicates="all",
        name=spec.name,
        metadata={"owner": owner, "schema_version": spec.schema_hash()},
    )
