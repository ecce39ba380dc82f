"""sofli: management information for a Danish municipal social services administration.

The library behind the Airflow DAGs: everything here is plain Python that runs and is
tested without a scheduler. See docs/architecture.md for the data flow.
"""
