"""Operating sofli from the Airflow UI, proven in a real browser, on the demo's own night.

The session's demo night (`sofli demo`: the night run by Airflow's scheduler, `demo_night`) is
copied to a folder of its own, and Airflow's four components are started on it as `sofli
airflow` starts them (LocalExecutor, SimpleAuthManager, the SQLite metadata DB of the demo, the
demo's mail sink as `smtp_default`) on a free loopback port. Then Debian's headless Chromium, in
Copenhagen's time zone, driven by Selenium through Debian's chromedriver, logs in, sees every
DAG and no import error, reads the red `data_quality` run's `gate` log (why it is red, in
Copenhagen time), triggers `extract_klage` and waits for it to succeed, and opens the
data-quality page, filters it by status, source and owner and follows a row to its failing
records. Screenshots go to `$SOFLI_TEST_ARTEFACTS` (default `test-artifacts/`,
gitignored).
"""

from __future__ import annotations

import datetime as dt
import os
import shutil
import time
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from etl.core.settings import REPO_ROOT
from etl.ops.local_airflow import LocalAirflow, parse_time, smtp_connection
from etl.ops.mailsink import MailSink
from etl.sources import SOURCES

pytestmark = [pytest.mark.browser, pytest.mark.integration]
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"
EXPECTED_DAGS = {f"extract_{name}" for name in SOURCES} | {"build_model", "publish_kpis", "data_quality", "housekeeping"}

if not (os.path.exists(CHROMIUM) and os.path.exists(CHROMEDRIVER)):
    pytest.skip("no Chromium: apt-get install chromium chromium-driver (scripts/setup.sh does)", allow_module_level=True)
webdriver = pytest.importorskip("selenium.webdriver", reason="selenium is not installed (requirements.txt pins it)")


def wait_for(what: str, check, timeout: float, interval: float = 1.0):  # noqa: ANN001
    """Poll `check` until it returns something true; not rendered yet (any error) means try again."""
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


def artefacts_dir() -> Path:
    path = Path(os.environ.get("SOFLI_TEST_ARTEFACTS", REPO_ROOT / "test-artifacts")) / "browser"
    path.mkdir(parents=True, exist_ok=True)
    return path


@pytest.fixture(scope="module")
def airflow(demo_night, tmp_path_factory):
    assert demo_night["result"].returncode == 0, demo_night["output"][-5000:]
    data_dir = tmp_path_factory.mktemp("ui") / "data"
    shutil.copytree(demo_night["dir"], data_dir)
    with MailSink(data_dir / "mail") as sink, LocalAirflow(
            data_dir, {"SOFLI_MODE": "demo", "AIRFLOW_CONN_SMTP_DEFAULT": smtp_connection(sink.port),
                       "SOFLI_SCHEDULES": "off"}) as local:  # only the runs the tests start
        try:
            local.wait_for_dags(EXPECTED_DAGS)
            yield {"base": local.base, "api": local.api, "username": local.username, "password": local.password,
                   "data_dir": data_dir, "date": demo_night["date"]}
        finally:
            for component in ("api-server", "scheduler", "dag-processor", "triggerer"):
                if local.log_path(component).exists():
                    shutil.copy(local.log_path(component), artefacts_dir() / f"airflow-{component}.log")


@pytest.fixture(scope="module")
def browser(airflow):
    from selenium.webdriver.chrome.options import Options  # noqa: PLC0415 - optional: selenium, skipped without it
    from selenium.webdriver.chrome.service import Service  # noqa: PLC0415 - as above

    options = Options()
    options.binary_location = CHROMIUM
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu", "--window-size=1440,1000"):
        options.add_argument(arg)
    # A browser in Copenhagen: the UI shows times in the browser's zone (Airflow 3.3 has no server setting).
    service = Service(CHROMEDRIVER, env={**os.environ, "TZ": "Europe/Copenhagen"})
    driver = webdriver.Chrome(service=service, options=options)
    driver.set_page_load_timeout(60)
    yield driver
    driver.quit()


def wait_text(driver, text: str, timeout: float = 90) -> None:  # noqa: ANN001
    wait_for(f"'{text}' on {driver.current_url}", lambda: text in driver.find_element("tag name", "body").text, timeout, 0.5)


def screenshot(driver, name: str) -> Path:  # noqa: ANN001
    path = artefacts_dir() / f"{name}.png"
    driver.save_screenshot(str(path))
    return path


def run_url(airflow, dag_id: str, run_id: str) -> str:
    return f"{airflow['base']}/dags/{dag_id}/runs/{urllib.parse.quote(run_id, safe='')}"


def test_log_in_and_see_every_dag_without_import_errors(airflow, browser):
    browser.get(airflow["base"] + "/")
    username = wait_for("the login form", lambda: browser.find_element("name", "username"), 120, 0.5)
    username.send_keys(airflow["username"])
    browser.find_element("name", "password").send_keys(airflow["password"])
    browser.find_element("css selector", "button[type=submit]").click()
    wait_for("the logged-in UI", lambda: "login" not in browser.current_url, 120, 0.5)
    browser.get(airflow["base"] + "/dags")
    parsed = {d["dag_id"] for d in airflow["api"].get("/api/v2/dags?limit=100")["dags"]}
    assert EXPECTED_DAGS <= parsed
    for dag_id in sorted(parsed):  # every DAG of the folder, this test's list or newer ones
        wait_text(browser, dag_id)
    assert airflow["api"].get("/api/v2/importErrors")["total_entries"] == 0
    assert "Import Error" not in browser.find_element("tag name", "body").text
    screenshot(browser, "01-dag-list")


def test_the_red_data_quality_run_s_gate_log_says_why_in_copenhagen_time(airflow, browser):
    """The demo's `data_quality` run is red for its data: the gate's log lists each breach."""
    api = airflow["api"]
    run = api.runs("data_quality")[-1]
    assert run["state"] == "failed"
    assert api.task_states("data_quality", run["dag_run_id"]) == {"run_rules": "success", "alert_owners": "success",
                                                                  "gate": "failed"}
    browser.get(run_url(airflow, "data_quality", run["dag_run_id"]) + "/tasks/gate")
    wait_text(browser, "DATA QUALITY BREACH DQ01", 60)
    body = browser.find_element("tag name", "body").text
    screenshot(browser, "02-data-quality-gate-log")
    assert "gate fails" in body and "DataQualityBreach" in body and "Log file not found" not in body
    # the page shows the run's and the gate task's start (they may fall in different minutes)
    tis = api.get(api.run_path("data_quality", run["dag_run_id"]) + "/taskInstances?limit=1000")["task_instances"]
    gate = next(t for t in tis if t["task_id"] == "gate")
    started = parse_time(api.run("data_quality", run["dag_run_id"])["start_date"])
    moments = [started, parse_time(gate["start_date"])]
    local = [m.astimezone(ZoneInfo("Europe/Copenhagen")) for m in moments]
    assert any(f"{m:%Y-%m-%d %H:%M}" in body for m in local), (local, body[:2000])  # as Copenhagen reads it
    assert f"{local[0]:%H:%M}" != f"{started.astimezone(dt.UTC):%H:%M}"  # (so not UTC)
    assert abs((dt.datetime.now(dt.UTC) - started).total_seconds()) < 6 * 3600  # dated when it ran


def test_trigger_extract_klage_and_see_it_succeed(airflow, browser):
    api = airflow["api"]
    api.patch("/api/v2/dags/extract_klage", {"is_paused": False})
    run = api.post("/api/v2/dags/extract_klage/dagRuns",
                   {"logical_date": None, "conf": {"extract_date": airflow["date"]}, "note": "browser test"})
    run_path = f"/api/v2/dags/extract_klage/dagRuns/{urllib.parse.quote(run['dag_run_id'], safe='')}"
    state = wait_for("the extract_klage run to finish",
                     lambda: (s := api.get(run_path)["state"]) in ("success", "failed") and s, 600)
    browser.get(f"{airflow['base']}/dags/extract_klage/runs/{urllib.parse.quote(run['dag_run_id'], safe='')}")
    wait_text(browser, "publish")
    screenshot(browser, "03-extract-klage-run")
    assert state == "success", state
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
    screenshot(browser, "04-data-quality-in-ui")
    demo_dq_run = airflow["api"].runs("data_quality")[-1]["dag_run_id"]
    assert demo_dq_run in body and "DQ01" in body and "Source freshness" in body
    browser.get(airflow["base"] + "/sofli-dq/")
    wait_text(browser, "Source freshness")
    screenshot(browser, "05-data-quality-page")
    rows = browser.find_elements("css selector", "#dq-rules tbody tr")
    assert len(rows) >= 14
    assert browser.find_elements("css selector", "#dq-freshness tbody tr[data-source=klage]")


def test_the_data_quality_page_filters_by_status_owner_and_source_and_links_the_failing_records(airflow, browser):
    from selenium.webdriver.support.ui import Select  # noqa: PLC0415 - optional: selenium, skipped without it

    def shown() -> list[tuple[str, str, str]]:
        return [(r.get_attribute("data-rule"), r.get_attribute("data-source"), r.get_attribute("data-status"))
                for r in browser.find_elements("css selector", "#dq-rules > tbody > tr")]

    browser.get(airflow["base"] + "/sofli-dq/")
    wait_text(browser, "Source freshness")
    everything = shown()
    statuses = [status for _, _, status in everything]
    assert "breach" in statuses and "pass" in statuses
    assert statuses == sorted(statuses, key=lambda s: s != "breach")  # breaches first

    Select(browser.find_element("name", "status")).select_by_value("breach")  # status, through the form
    browser.find_element("id", "dq-filter-apply").click()
    breaches = wait_for("only breaches", lambda: "status=breach" in browser.current_url
                        and {s for _, _, s in shown()} == {"breach"} and shown(), 30, 0.5)
    assert len(breaches) < len(everything)
    screenshot(browser, "06-data-quality-breaches")

    Select(browser.find_element("name", "status")).select_by_value("")
    Select(browser.find_element("name", "source")).select_by_value("boern")  # source
    browser.find_element("id", "dq-filter-apply").click()
    wait_for("only boern", lambda: "source=boern" in browser.current_url
             and {src for _, src, _ in shown()} == {"boern"}, 30, 0.5)

    # owner: the link the owners' e-mail carries; dq-jura owns klage's registrations only
    browser.get(airflow["base"] + "/sofli-dq/?owner=" + urllib.parse.quote("dq-jura@sofli.example"))
    wait_text(browser, "Source freshness")
    jura = shown()
    assert jura and {src for _, src, _ in jura} == {"klage"}
    assert Select(browser.find_element("name", "owner")).first_selected_option.get_attribute("value") == \
        "dq-jura@sofli.example"

    browser.get(airflow["base"] + "/sofli-dq/?status=breach&source=boern")  # a breach's failing records
    wait_text(browser, "Source freshness")
    link = browser.find_elements("css selector", "#dq-rules a.records")[0]
    expected = link.text  # "1.234 rækker"
    link.click()
    wait_text(browser, "Fejlende rækker")
    assert browser.find_elements("css selector", "#dq-failures tbody tr")
    assert expected.split()[0] in browser.find_element("id", "dq-failures-count").text
    screenshot(browser, "07-data-quality-failing-records")


def test_the_data_quality_page_needs_a_login(airflow):
    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.urlopen(airflow["base"] + "/sofli-dq/", timeout=10)
    assert refused.value.code in (401, 403)
