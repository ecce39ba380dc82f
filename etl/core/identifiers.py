"""SQL identifiers: only names from the registry, and only names that cannot break out.

SQL text is composed with f-strings in a few places (extract SQL rendered from the
contracts, the probe of a source table, warehouse DDL, schema attachment). Values always
travel as bind parameters; identifiers cannot, so every table, column and schema name is
checked here when its description is built (`etl.core.tables` calls `safe_identifier` for
every `TableSpec` and `Column`). The rule is deliberately strict: an ASCII letter or
underscore, then ASCII letters, digits and underscores, at most 63 characters (the
PostgreSQL limit) — no quote, space, semicolon, dash, dot or non-ASCII letter, so a
name is the same token quoted or unquoted on SQL Server, PostgreSQL and SQLite.
"""

from __future__ import annotations

import re

IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]{0,62}")


def safe_identifier(name: object) -> str:
    """`name` unchanged when it is a safe SQL identifier; else ValueError naming it."""
    if not isinstance(name, str) or not IDENTIFIER.fullmatch(name):
        raise ValueError(f"not a safe SQL identifier: {name!r}")
    return name


def quoted(name: str) -> str:
    """The identifier double-quoted (ANSI), after checking it."""
    return f'"{safe_identifier(name)}"'
