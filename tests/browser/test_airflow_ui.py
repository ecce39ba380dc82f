"""Operating sofli from the Airflow UI, proven in a real browser.

Starts a real Airflow (`airflow standalone`: api-server, scheduler, dag-processor and
triggerer; SimpleAuthManager; SQLite metadata DB) on a free loopback port with a temp
AIRFLOW_HOME, these DAGs and plugins, and the demo data, after the pipeline functions have
filled the warehouse with data-quality results. Then Debian's headless Chromium, driven by
Selenium through Debian's chromedriver, logs in, sees every DAG and no import error,
triggers `extract_klage`, waits for its run to succeed and opens the data-quality page.
Screenshots go to `$SOFLI_TEST_ARTEFACTS` (default `test-artifacts/`, gitignored).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path

import pytest
from extracts import extract_all

from etl.core.settings import REPO_ROOT, Settings
from etl.sources import SOURCES
from etl.synth import generate
from etl.tasks import kpis as kpi_tasks
from etl.tasks import model as model_tasks
from etl.tasks import quality as dq_tasks

pytestmark = [pytest.mark.browser, pytest.mark.integration]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
EXTRACTION_DATE = dt.date(2025, 11, 15)
EXPECTED_DAGS = {f"extract_{name}" for name in SOURCES} | {"build_model", "publish_kpis", "data_quality", "housekeeping"}

if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip("no Chromium: apt-get install chromium chromium-driver (scripts/setup.sh does)", allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (requirements.txt pins it)")


def artefacts_dir() -> Path:
    path = Path(os.environ.get("SOFLI_TEST_ARTEFACTS", REPO_ROOT / "test-artifacts")) / "browser"
    path.mkdir(parents=True, exist_ok=True)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def build_demo_warehouse(data_dir: Path) -> None:
    """The night's pipeline functions on generated demo sources: a warehouse with DQ results
    (two runs, so the page has a trend)."""

    generate(data_dir / "sources", profile="demo", seed=42, extraction_date=EXTRACTION_DATE)
    settings = Settings(data_dir, REPO_ROOT / "reference", "demo")
    extract_all(EXTRACTION_DATE, "browser-test", settings)
    model_tasks.build_model(EXTRACTION_DATE, settings)
    staged = kpi_tasks.compute_kpis("browser-test", settings, history_quarters=1)
    kpi_tasks.publish_kpis(kpi_tasks.audit_kpis(staged), settings)
    dq_tasks.run_data_quality("browser-test-1", settings)
    dq_tasks.run_data_quality("browser-test-2", settings)


class Api:
    """Airflow's REST API as the admin user (a JWT from /auth/token)."""

    def __init__(self, base: str, username: str, password: str):
        self.base = base
        token = self._call("POST", "/auth/token", {"username": username, "password": password}, token=None)
        self.token = token["access_token"]

    def _call(self, method: str, path: str, body: dict | None = None, token: str | None = "") -> dict:
        headers = {"Content-Type": "application/json"}
        if token is not None:
            headers["Authorization"] = f"Bearer {token or self.token}"
        request = urllib.request.Request(self.base + path, method=method, headers=headers,
                                         data=json.dumps(body).encode() if body is not None else None)
        with urllib.request.urlopen(request, timeout=30) as response:
            return json.loads(response.read() or b"{}")

    def get(self, path: str) -> dict:
        return self._call("GET", path)

    def post(self, path: str, body: dict) -> dict:
        return self._call("POST", path, body)

    def patch(self, path: str, body: dict) -> dict:
        return self._call("PATCH", path, body)


def wait_for(what: str, check, timeout: float, interval: float = 1.0):  # noqa: ANN001
    deadline = time.monotonic() + timeout
    last = None
    while time.monotonic() < deadline:
        try:
            last = check()
            if last:
                return last
        except Exception as error:  # noqa: BLE001 - not up yet, not rendered yet: try again
            last = error
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what} (last: {last!r})")


@pytest.fixture(scope="module")
def airflow(tmp_path_factory):
    started = time.monotonic()
    data_dir = tmp_path_factory.mktemp("ui") / "data"
    build_demo_warehouse(data_dir)
    home = data_dir / "airflow"
    home.mkdir(parents=True)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    bin_dir = str(Path(sys.executable).parent)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "SOFLI_"))}
    env.update({
        "PATH": bin_dir + os.pathsep + env.get("PATH", ""),
        "SOFLI_DATA_DIR": str(data_dir), "SOFLI_MODE": "demo",
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(REPO_ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(REPO_ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DEFAULT_TIMEZONE": "Europe/Copenhagen",
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{base}/execution/",
        "AIRFLOW__API__HOST": "127.0.0.1", "AIRFLOW__API__PORT": str(port), "AIRFLOW__API__BASE_URL": base,
        "AIRFLOW__API__WORKERS": "1",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__SCHEDULER_HEARTBEAT_SEC": "1",
    })
    log_path = data_dir / "airflow-standalone.log"
    log = log_path.open("wb")
    process = subprocess.Popen([os.path.join(bin_dir, "airflow"), "standalone"], env=env, stdout=log,
                               stderr=subprocess.STDOUT, start_new_session=True, cwd=data_dir)
    try:
        passwords = home / "simple_auth_manager_passwords.json.generated"
        wait_for("Airflow's api-server", lambda: process.poll() is None and passwords.exists()
                 and urllib.request.urlopen(f"{base}/api/v2/monitor/health", timeout=5).status == 200, 120)
        username, password = next(iter(json.loads(passwords.read_text()).items()))
        api = Api(base, username, password)
        wait_for("every DAG parsed", lambda: EXPECTED_DAGS <= {d["dag_id"] for d in api.get("/api/v2/dags?limit=100")["dags"]},
                 90)
        yield {"base": base, "api": api, "username": username, "password": password, "data_dir": data_dir,
               "log": log_path, "setup_seconds": time.monotonic() - started}
    finally:
        os.killpg(process.pid, 15)  # the process group we started: api-server, scheduler, ...
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, 9)
        log.close()
        shutil.copy(log_path, artefacts_dir() / "airflow-standalone.log")


@pytest.fixture(scope="module")
def browser(airflow):
    from selenium.webdriver.chrome.options import Options  # noqa: PLC0415 - optional: importorskip above
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415 - optional: importorskip above

    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1440,1000"):
        options.add_argument(arg)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def wait_text(driver, text: str, timeout: float = 30) -> None:  # noqa: ANN001
    wait_for(f"'{text}' on {driver.current_url}", lambda: text in driver.find_element("tag name", "body").text, timeout, 0.5)


def screenshot(driver, name: str) -> Path:  # noqa: ANN001
    path = artefacts_dir() / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def test_log_in_and_see_every_dag_without_import_errors(airflow, browser):
    browser.get(airflow["base"] + "/")
    username = wait_for("the login form", lambda: browser.find_element("name", "username"), 30, 0.5)
    username.send_keys(airflow["username"])
    browser.find_element("name", "password").send_keys(airflow["password"])
    browser.find_element("css selector", "button[type=submit]").click()
    wait_for("the logged-in UI", lambda: "login" not in browser.current_url, 30, 0.5)
    browser.get(airflow["base"] + "/dags")
    parsed = {d["dag_id"] for d in airflow["api"].get("/api/v2/dags?limit=100")["dags"]}
    assert EXPECTED_DAGS <= parsed
    for dag_id in sorted(parsed):  # every DAG of the folder, this test's list or newer ones
        wait_text(browser, dag_id)
    assert airflow["api"].get("/api/v2/importErrors")["total_entries"] == 0
    assert "Import Error" not in browser.find_element("tag name", "body").text
    screenshot(browser, "01-dag-list")


def test_trigger_extract_klage_and_see_it_succeed(airflow, browser):
    api = airflow["api"]
    api.patch("/api/v2/dags/extract_klage", {"is_paused": False})
    run = api.post("/api/v2/dags/extract_klage/dagRuns",
                   {"logical_date": None, "conf": {"extract_date": EXTRACTION_DATE.isoformat()},
                    "note": "browser test"})
    run_path = f"/api/v2/dags/extract_klage/dagRuns/{urllib.parse.quote(run['dag_run_id'], safe='')}"
    state = wait_for("the extract_klage run to finish",
                     lambda: (s := api.get(run_path)["state"]) in ("success", "failed") and s, 120)
    browser.get(f"{airflow['base']}/dags/extract_klage/runs/{urllib.parse.quote(run['dag_run_id'], safe='')}")
    wait_text(browser, "publish")
    screenshot(browser, "02-extract-klage-run")
    assert state == "success", airflow["log"].read_text()[-5000:]
    tasks = api.get(run_path + "/taskInstances")["task_instances"]
    assert tasks and {t["state"] for t in tasks} == {"success"}, [(t["task_id"], t["state"]) for t in tasks]


def test_the_data_quality_page_in_the_ui(airflow, browser):
    browser.get(airflow["base"] + "/dags")
    wait_for("the Browse menu", lambda: browser.find_element("xpath", "//*[normalize-space(text())='Browse']"), 30, 0.5).click()
    wait_for("the nav link", lambda: browser.find_element("xpath", "//*[normalize-space(text())='Data quality']"),
             30, 0.5).click()
    wait_for("the plugin route", lambda: browser.current_url.endswith("/plugin/sofli-dq"), 30, 0.5)
    frame = wait_for("the page's iframe", lambda: browser.find_element("tag name", "iframe"), 30, 0.5)
    browser.switch_to.frame(frame)
    try:
        wait_text(browser, "Latest status per rule and source")
        body = browser.find_element("tag name", "body").text
    finally:
        browser.switch_to.default_content()
    screenshot(browser, "03-data-quality-in-ui")
    assert "browser-test-2" in body and "DQ01" in body and "Source freshness" in body
    browser.get(airflow["base"] + "/sofli-dq/")
    wait_text(browser, "Source freshness")
    screenshot(browser, "04-data-quality-page")
    rows = browser.find_elements("css selector", "#dq-rules tbody tr")
    assert len(rows) >= 14
    assert browser.find_elements("css selector", "#dq-freshness tbody tr[data-source=klage]")


def test_the_data_quality_page_needs_a_login(airflow):
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(airflow["base"] + "/sofli-dq/", timeout=10)
    assert refused.value.code in (401, 403)
