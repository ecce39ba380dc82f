"""No secrets in the repository: every git-tracked file is scanned for things that look real.

Looked for: private key blocks; AWS, GitHub and Slack tokens; Fernet keys; credentials in
URLs; `password=` / `PASSWORD:` / `secret` / `token` / `key` assignments with a literal
value; and high-entropy values in .env-like files. The obvious dummies the repository
really uses (`change-me` in `.env.example`, `user:pass` in documentation examples, the
demo's documented pseudonymisation key) are allowed by value, not by file, so a real
secret added next to them is still found. The fakes planted in the unit tests below are
assembled at run time, so this file does not trip its own scan.
"""

from __future__ import annotations

import math
import re
import subprocess
from collections import Counter
from pathlib import Path

import pytest

from etl.core.settings import DEMO_PSEUDONYM_KEY, REPO_ROOT

#: Values that are obviously not secrets (compared lower-case, quotes stripped).
DUMMY_VALUES = {
    "change-me", "changeme", "pass", "password", "secret", "example", "dummy", "placeholder", "xxx", "none",
    "null", "true", "false", "admin:admin", "...", "\u2026", "pw", DEMO_PSEUDONYM_KEY,
    # the tests' own throwaway values (tests/quality/test_config.py, the PostgreSQL tests)
    "a-real-secret-of-some-length", "pipeline-test-password", "bi-test-password", "bi-public-test-password", "bi-restricted-test-password",
}
#: Values that are references to a secret kept elsewhere, not the secret itself.
REFERENCE = re.compile(r"^(\$\{?[A-Za-z_][A-Za-z0-9_]*\}?|%\(\w+\)s|\{\{.*\}\}|\{[A-Za-z_]\w*\}|<[^>]*>|[A-Za-z_][\w.]*\(.*|"
                       r"[A-Za-z_][\w]*(\.[A-Za-z_]\w*)+|[A-Z][A-Z0-9_]*|:\w+)$")

PATTERNS = {
    "private key block": re.compile(r"-----BEGIN ((RSA|EC|DSA|OPENSSH|PGP|ENCRYPTED) )?PRIVATE KEY( BLOCK)?-----"),
    "AWS access key id": re.compile(r"\b(AKIA|ASIA)[0-9A-Z]{16}\b"),
    "GitHub token": re.compile(r"\b(gh[pousr]_[A-Za-z0-9]{36,}|github_pat_[A-Za-z0-9_]{40,})\b"),
    "Slack token": re.compile(r"\bxox[abposr]-[0-9A-Za-z-]{10,}"),
    "Fernet key": re.compile(r"(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{43}=(?![A-Za-z0-9=])"),
}
#: `name = value` / `NAME: value` where the name says secret.
ASSIGNMENT = re.compile(
    r"""(?ix)(?P<name>[\w.-]*(password|passwd|pwd|secret|token|api[_-]?key|fernet[_-]?key|pseudonym[_-]?key|
    private[_-]?key|access[_-]?key)[\w-]*)["']?\s*(=|:)\s*(?P<value>b?"[^"\n]*"|b?'[^'\n]*'|[^\s,;#)}\]]+)""")
URL_CREDENTIALS = re.compile(r"[a-z][a-z0-9+.-]*://(?P<user>[^:/@\s]+):(?P<password>[^@/\s]+)@")


def entropy(text: str) -> float:
    counts = Counter(text)
    return -sum(n / len(text) * math.log2(n / len(text)) for n in counts.values())


def is_dummy(value: str) -> bool:
    value = value.strip().removeprefix("b").strip("\"'")
    return (not value or value.lower() in DUMMY_VALUES or bool(REFERENCE.match(value))
            or value.lower().startswith(("change-me", "your-", "example")) or set(value) <= {"*", "x", "X", "."})


def scan_text(path: str, text: str) -> list[str]:
    """Findings as `path:line: kind` (never the value itself)."""
    findings = []
    env_like = Path(path).name.startswith(".env") or path.endswith(".env")
    for number, line in enumerate(text.splitlines(), 1):
        for kind, pattern in PATTERNS.items():
            if pattern.search(line):
                findings.append(f"{path}:{number}: {kind}")
        for match in URL_CREDENTIALS.finditer(line):
            if not is_dummy(match["password"]):
                findings.append(f"{path}:{number}: credentials in a URL")
        for match in ASSIGNMENT.finditer(line):
            value = match["value"]
            if path.endswith(".py") and not value.lstrip("b").startswith(("'", '"')):
                continue  # Python: only literals are secrets; names and calls are references
            if path.endswith(".md") and not re.fullmatch(r"\S*[\d\W_]\S*", value.strip("`")) or len(value) < 6:
                continue  # prose: "a password: in the backend", "PASSWORD=new" are words, not secrets
            if not is_dummy(value):
                findings.append(f"{path}:{number}: literal value for {match['name']}")
        if env_like and "=" in line and not line.lstrip().startswith("#"):
            value = line.split("=", 1)[1].strip().strip("\"'")
            if len(value) >= 20 and entropy(value) > 3.5 and not is_dummy(value):
                findings.append(f"{path}:{number}: high-entropy value")
    return findings


def tracked_files() -> list[str]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO_ROOT, capture_output=True, check=True).stdout
    return [p for p in out.decode().split("\0") if p]


def test_no_tracked_file_holds_a_secret():
    files = tracked_files()
    assert len(files) > 100 and ".env.example" in files
    findings = []
    for path in files:
        full = REPO_ROOT / path
        if not full.is_file():
            continue  # deleted in the working tree
        data = full.read_bytes()
        if b"\0" in data[:4096]:
            continue  # binary
        findings += scan_text(path, data.decode("utf-8", errors="replace"))
    assert findings == []


def test_dotenv_is_ignored_and_only_the_example_is_tracked():
    ignored = subprocess.run(["git", "check-ignore", ".env"], cwd=REPO_ROOT, capture_output=True, text=True)
    assert ignored.stdout.strip() == ".env"
    assert [p for p in tracked_files() if Path(p).name.startswith(".env")] == [".env.example"]


def fake(*parts: str) -> str:
    return "".join(parts)


@pytest.mark.parametrize("path, line, kind", [
    ("deploy/key.pem", fake("-----BEGIN ", "RSA PRIVATE KEY-----"), "private key block"),
    ("id_ed25519", fake("-----BEGIN ", "OPENSSH PRIVATE KEY-----"), "private key block"),
    ("etl/x.py", fake("aws = 'AK", "IAQ3EGUKZ6TNM7XWRA'"), "AWS access key id"),
    ("ci.yml", fake("token: gh", "p_", "a1B2c3D4e5F6g7H8i9J0k1L2m3N4o5P6q7R8"), "GitHub token"),
    ("notify.sh", fake("curl -H 'x: xo", "xb-1234567890-abcdefghij'"), "Slack token"),
    ("settings.cfg", fake("FERNET = ", "q6sMsLQQ0kT8xqRMnr1kHXrYw", "G7zM1sE9ZjPfa3cLJ8="), "Fernet key"),
    ("docs/ops.md", fake("mssql://sofli:", "Tr0ub4dor&3x@replica/DUBU"), "credentials in a URL"),
    (".env.example", fake("WAREHOUSE_PASSWORD", "=hunter2hunter2"), "literal value for WAREHOUSE_PASSWORD"),
    ("docker-compose.yml", fake("  POSTGRES_", "PASS", "WORD: ", "s3cr3t-prod"), "literal value for POSTGRES_PASSWORD"),
    ("etl/core/settings.py", fake("pass", 'word = "', 'Sommer2025!"'), "literal value for password"),
    ("etl/core/settings.py", fake('SOFLI_PSEUDONYM_KEY', '="k9#Qz!v7Lm2pX4wR8tY"'), "literal value for SOFLI_PSEUDONYM_KEY"),
    ("docs/operations.md", fake("run with WAREHOUSE_", "PASS", "WORD=Sommer2025!"), "literal value for WAREHOUSE_PASSWORD"),
    (".env", fake("SOME_SETTING=", "9fQ2xLm7Pz4Kt8Wv3Rj6Nb1Yc5Hd0Sg"), "high-entropy value"),
])
def test_a_planted_fake_secret_is_caught(path, line, kind):
    findings = scan_text(path, "# harmless\n" + line + "\n")
    assert findings and findings[0] == f"{path}:2: {kind}"
    assert not any(line.split()[-1][-8:] in f for f in findings)  # findings never quote the value


@pytest.mark.parametrize("path, line", [
    (".env.example", "POSTGRES_PASSWORD=change-me"), (".env.example", "AIRFLOW_FERNET_KEY=change-me"),
    (".env.example", "SOFLI_PSEUDONYM_KEY=change-me"), (".env.example", "AIRFLOW_ADMIN_USERS=admin:admin"),
    ("docker-compose.yml", "postgresql+psycopg2://${POSTGRES_USER}:${POSTGRES_PASSWORD}@postgres/airflow"),
    ("docker-compose.yml", "  AIRFLOW__CORE__FERNET_KEY: ${AIRFLOW_FERNET_KEY}"),
    ("README.md", "mssql+pyodbc://user:pass@replica/DUBU"),
    ("etl/tasks/orchestration.py", '"password": conn.password or None,'),
    ("etl/quality/alerts.py", "password: str | None = None,"),
    ("etl/core/settings.py", f'DEMO_PSEUDONYM_KEY = "{DEMO_PSEUDONYM_KEY}"'),
])
def test_the_dummies_and_references_in_use_are_allowed(path, line):
    assert scan_text(path, line) == []
