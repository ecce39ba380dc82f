"""One task module per DAG family: the functions the DAG files call, one per Airflow task.

`extract` (the `extract_<source>` DAGs), `model` (`build_model`), `kpis` (`publish_kpis`),
`quality` (`data_quality`), `close_quarter`, `housekeeping`. Each takes names, dates and
ids and returns a small dict of paths and counts; `orchestration` holds what every DAG
shares (assets, default arguments, run dates) and is the only module here importing Airflow.
"""
