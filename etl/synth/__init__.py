"""Synthetic fagsystemer: the embedded default data for newcomers, tests and load tests.

`generate(out_dir, profile, seed, extraction_date, db_urls, quirk_rates)` writes the six
database sources (the five case and HR systems and the finance system; SQLite files, or
any SQLAlchemy URL) and the two file sources in exactly the shape of the extract contracts
in `etl.sources`, with real-world defects planted at known rates and counted exactly in
the returned report.
"""

from etl.synth.generator import generate
from etl.synth.profiles import DEFAULT_EXTRACTION_DATE, PROFILES, Profile

__all__ = ["DEFAULT_EXTRACTION_DATE", "PROFILES", "Profile", "generate"]
