"""A database fagsystem that times out or refuses the login fails its own extract loudly,
naming source, table and cause, and its last good extract stays current (the isolation
test in tests/reliability/ shows the other sources and the model carrying on)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import socket
import threading

import pytest

from etl.core.settings import REPO_ROOT, Settings
from etl.extract.land import ExtractError
from etl.synth import generate
from etl.tasks import extract as extract_tasks

pytestmark = [pytest.mark.postgres, pytest.mark.integration]
DAY1, DAY2 = dt.date(2025, 11, 14), dt.date(2025, 11, 15)


@pytest.fixture
def silent_server():
    """A TCP port that accepts connections and never answers: a server that hangs."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    accepted = []
    stop = threading.Event()

    def serve():
        listener.settimeout(0.2)
        while not stop.is_set():
            try:
                accepted.append(listener.accept()[0])
            except OSError:
                continue
    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield listener.getsockname()[1]
    stop.set()
    thread.join()
    for conn in accepted:
        conn.close()
    listener.close()


@pytest.fixture
def klage_night1(postgres, tmp_path):
    url = postgres.new_database("failures_klage")
    generate(tmp_path / "sources", "demo", seed=5, extraction_date=DAY1, db_urls={"klage": url})
    settings = Settings(tmp_path, REPO_ROOT / "reference", "demo")
    return settings, url


@pytest.mark.parametrize("failure", ["timeout", "authentication"])
def test_a_hanging_or_refusing_database_fails_its_extract_and_keeps_the_last_good_one(
        klage_night1, postgres, silent_server, monkeypatch, failure):
    settings, url = klage_night1
    extract_tasks.extract_source("klage", DAY1, "night1", dataclasses.replace(settings, source_locations={"klage": url}))
    current = (settings.staged_dir / "klage" / "CURRENT.json").read_text()

    if failure == "timeout":
        broken = f"postgresql+psycopg2://sofli@127.0.0.1:{silent_server}/klage?connect_timeout=2"
        cause = "timeout expired"
    else:  # the login is refused: no such role (the cluster trusts loopback, so no password to get wrong)
        broken = postgres.url.set(username="sofli_no_such_login", database="failures_klage").render_as_string(
            hide_password=False)
        cause = 'role "sofli_no_such_login" does not exist'
    with pytest.raises(ExtractError, match=f"^klage\\.klage: OperationalError: .*{cause}"):
        extract_tasks.extract_source("klage", DAY2, "night2",
                                     dataclasses.replace(settings, source_locations={"klage": broken}))
    assert (settings.staged_dir / "klage" / "CURRENT.json").read_text() == current
    assert json.loads(current)["extract_date"] == DAY1.isoformat()
    assert not (settings.staged_dir / "klage" / "klage" / f"extract_date={DAY2}").exists()
