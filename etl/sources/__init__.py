"""The source registry: one entry per fagsystem.

Adding a fagsystem is adding a module with its `SOURCE` here, its extract SQL in
`sql/extract/<source>/` and nothing else: the DAG factory, the schemas, the landing
layout and data-quality scoping all read this registry.
"""

from etl.sources import beskaeftigelse, boern, cpr, hr, klage, oekonomi, tilbud, voksen
from etl.sources.base import Source

SOURCES: dict[str, Source] = {
    m.SOURCE.name: m.SOURCE for m in (boern, voksen, tilbud, klage, hr, cpr, beskaeftigelse, oekonomi)
}


def get_source(name: str) -> Source:
    try:
        return SOURCES[name]
    except KeyError:
        raise KeyError(f"unknown source {name!r}; known: {', '.join(SOURCES)}") from None
