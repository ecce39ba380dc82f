"""The production deployment files stay valid (no Docker engine needed)."""

import shutil
import subprocess

import pytest
import yaml

from etl.core.settings import REPO_ROOT

CELERY_SERVICES = {"airflow-apiserver", "airflow-scheduler", "airflow-dag-processor", "airflow-triggerer",
                   "airflow-worker", "airflow-init", "postgres", "redis", "mailpit"}


def test_compose_file_parses_and_has_the_celery_deployment():
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    assert set(compose["services"]) == CELERY_SERVICES
    worker = compose["services"]["airflow-worker"]
    assert worker["command"] == "celery worker"
    env = compose["x-airflow-common"]["environment"]
    assert env["AIRFLOW__CORE__EXECUTOR"] == "CeleryExecutor"
    assert env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == "http://airflow-apiserver:8080/execution/"
    assert env["AIRFLOW__API_AUTH__JWT_SECRET"] == "${AIRFLOW_JWT_SECRET}"  # a secret from .env, never inline
    assert "landing:/data" in compose["x-airflow-common"]["volumes"]


def test_compose_initialises_the_warehouse_with_its_least_privilege_roles():
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    env = compose["x-airflow-common"]["environment"]
    assert env["SOFLI_WAREHOUSE_URL"].startswith("postgresql+psycopg2://sofli_pipeline:${WAREHOUSE_PASSWORD}@")
    init = compose["services"]["airflow-init"]
    assert "sofli warehouse-init" in init["command"][-1]
    assert init["environment"]["SOFLI_WAREHOUSE_ADMIN_URL"].endswith("@postgres/warehouse")
    example = (REPO_ROOT / ".env.example").read_text().splitlines()
    assert {"WAREHOUSE_PASSWORD=change-me", "WAREHOUSE_BI_PASSWORD=change-me",
            "WAREHOUSE_BI_PUBLIC_PASSWORD=change-me", "WAREHOUSE_BI_RESTRICTED_PASSWORD=change-me"} <= set(example)


def test_no_service_publishes_a_port_beyond_this_host_but_airflow():
    """Issue 21: the mail relay's UI has no login; only Airflow's UI (with its login) is published."""
    compose = yaml.safe_load((REPO_ROOT / "docker-compose.yml").read_text())
    published = {name: [str(p) for p in service.get("ports", [])] for name, service in compose["services"].items()}
    assert published["mailpit"] == ["127.0.0.1:8025:8025"]
    assert {name for name, ports in published.items() for p in ports if not p.startswith("127.0.0.1:")} <= {
        "airflow-apiserver"}


def test_env_example_has_only_dummies_and_env_is_ignored():
    example = (REPO_ROOT / ".env.example").read_text().splitlines()
    secrets = [line.split("=", 1)[1] for line in example
               if "=" in line and not line.startswith("#") and any(k in line for k in ("PASSWORD", "SECRET", "KEY"))]
    assert secrets and all(value == "change-me" for value in secrets)
    assert ".env" in (REPO_ROOT / ".gitignore").read_text().splitlines()


@pytest.mark.skipif(shutil.which("docker-compose") is None, reason="Debian's docker-compose is not installed")
def test_docker_compose_config_accepts_it(tmp_path):
    """Debian's docker-compose validates the file without an engine, with .env from the example."""
    (tmp_path / ".env").write_text((REPO_ROOT / ".env.example").read_text())
    shutil.copy(REPO_ROOT / "docker-compose.yml", tmp_path / "docker-compose.yml")
    result = subprocess.run(["docker-compose", "config", "--quiet"], cwd=tmp_path, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
