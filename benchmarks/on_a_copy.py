"""Run a benchmark's timed part on a fresh copy of a data folder, in a process whose imports come
from a given checkout first: the A/B of a change on the same data (`refresh_publish.py`,
`refresh_extract.py`). The timed part is the script itself called with `--child`, printing its
figures as one JSON line last."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path


def run_on_a_copy(script: str, data_dir: Path, code: Path, *child_args: str) -> dict:
    """`script <copy of data_dir> --child *child_args` with `code`'s `etl` on the path; its figures."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(code.resolve()), os.environ.get("PYTHONPATH", "")])}
    with tempfile.TemporaryDirectory() as scratch:
        copy = Path(scratch) / "data"
        shutil.copytree(data_dir, copy)
        done = subprocess.run([sys.executable, script, str(copy), "--child", *child_args], env=env,
                              capture_output=True, text=True, check=False, cwd=code)
        if done.returncode:
            sys.exit(done.stderr[-3000:])
        return json.loads(done.stdout.strip().splitlines()[-1])
