"""A throwaway PostgreSQL cluster (initdb + pg_ctl on a temporary folder and port).

For tests and CI only: `.ci/run` starts one with `python tests/support/pgcluster.py start <dir>` and
exports the URL it prints as `SOFLI_TEST_PG_URL`; the test fixture starts its own when
that variable is unset and the Debian server binaries are installed. Trust authentication
on loopback only; the folder is deleted on stop. Never for production data.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

SUPERUSER = "postgres"
_BIN_DIRS = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)


def server_binaries() -> Path | None:
    """The folder holding `initdb` and `pg_ctl` (newest Debian version), or None."""
    for folder in _BIN_DIRS:
        if (folder / "initdb").exists() and (folder / "pg_ctl").exists():
            return folder
    found = shutil.which("initdb")
    return Path(found).resolve().parent if found else None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _as_owner(command: list[str], owner: str | None) -> list[str]:
    """initdb refuses to run as root: run the server as the `postgres` system user then."""
    return ["runuser", "-u", owner, "--", *command] if owner else command


@dataclass
class Cluster:
    folder: Path
    port: int
    owner: str | None

    @property
    def url(self) -> str:
        return f"postgresql+psycopg2://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def database_url(self, database: str, user: str = SUPERUSER, password: str | None = None) -> str:
        auth = f"{user}:{password}" if password else user
        return f"postgresql+psycopg2://{auth}@127.0.0.1:{self.port}/{database}"

    def stop(self) -> None:
        binaries = server_binaries()
        subprocess.run(_as_owner([str(binaries / "pg_ctl"), "-D", str(self.folder / "data"), "-m", "immediate",
                                  "stop"], self.owner), check=False, capture_output=True)
        shutil.rmtree(self.folder, ignore_errors=True)


def start(folder: Path | None = None, port: int | None = None) -> Cluster:
    """initdb a new cluster in `folder` and start it on `port` (free ones by default)."""
    binaries = server_binaries()
    if binaries is None:
        raise RuntimeError("PostgreSQL server binaries not found (apt-get install postgresql)")
    folder = Path(folder or tempfile.mkdtemp(prefix="sofli-pg-"))
    folder.mkdir(parents=True, exist_ok=True)
    port = port or _free_port()
    owner = SUPERUSER if os.geteuid() == 0 else None
    if owner:
        shutil.chown(folder, owner)
    data = folder / "data"
    subprocess.run(_as_owner([str(binaries / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust",
                              "--encoding=UTF8", "--locale=C.UTF-8"], owner), check=True, capture_output=True)
    options = f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off"
    subprocess.run(_as_owner([str(binaries / "pg_ctl"), "-D", str(data), "-o", options, "-l",
                              str(folder / "server.log"), "-w", "-t", "60", "start"], owner),
                   check=True, capture_output=True)
    return Cluster(folder, port, owner)


def main(argv: list[str]) -> int:
    if len(argv) >= 2 and argv[0] == "start":
        cluster = start(Path(argv[1]))
        (Path(argv[1]) / "port").write_text(str(cluster.port))
        print(cluster.url)
        return 0
    if len(argv) >= 2 and argv[0] == "stop":
        folder = Path(argv[1])
        if (folder / "port").exists():
            Cluster(folder, int((folder / "port").read_text()), SUPERUSER if os.geteuid() == 0 else None).stop()
        return 0
    print("usage: python tests/support/pgcluster.py start|stop <folder>", file=sys.stderr)
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
