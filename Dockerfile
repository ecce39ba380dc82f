# The production image: Airflow 3.3 with this project installed (never _PIP_ADDITIONAL_REQUIREMENTS).
FROM apache/airflow:3.3.2-python3.11
USER root
# unixODBC for pyodbc; Microsoft's msodbcsql18 for SQL Server sources is installed from
# Microsoft's repository in your registry mirror (not a Debian package).
RUN apt-get update \
 && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends unixodbc odbc-postgresql libpango-1.0-0 libpangoft2-1.0-0 \
 && rm -rf /var/lib/apt/lists/*
USER airflow
COPY --chown=airflow:root requirements.txt pyproject.toml /opt/sofli/
COPY --chown=airflow:root etl /opt/sofli/etl
COPY --chown=airflow:root schemas /opt/sofli/schemas
# Editable, so the code finds sql/, reference/ and config/ beside it in /opt/sofli (REPO_ROOT).
RUN pip install --no-cache-dir -r /opt/sofli/requirements.txt && pip install --no-cache-dir --no-deps -e /opt/sofli
COPY --chown=airflow:root dags /opt/airflow/dags
COPY --chown=airflow:root plugins /opt/airflow/plugins
COPY --chown=airflow:root reference /opt/sofli/reference
COPY --chown=airflow:root config /opt/sofli/config
COPY --chown=airflow:root sql /opt/sofli/sql
