"""Atomic writes: how every file under the data folder is written (the layout is
`etl.core.zones`).

Every file is written under a temporary name in its final folder and renamed into place,
so a reader (or a crash) never sees half a file. A partition counts only when its
manifest exists and its checksum matches: the manifest is written last, as the commit.

Everything written here is the pipeline's own: folders are created 0700 and files 0600,
set explicitly after creation, so a permissive umask (002 on many servers) never makes
the restricted zones (landing, staged, quarantine, model: CPR until the link step)
readable by another account.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq


#: Modes of what the pipeline writes, whatever the umask.
PRIVATE_DIR, PRIVATE_FILE = 0o700, 0o600


def private_dir(folder: Path) -> Path:
    """`mkdir -p` whose created folders are 0700 (existing ones are left as they are)."""
    folder = Path(folder)
    missing = []
    probe = folder
    while not probe.exists():
        missing.append(probe)
        probe = probe.parent
    for level in reversed(missing):
        level.mkdir(mode=PRIVATE_DIR, exist_ok=True)
        os.chmod(level, PRIVATE_DIR)
    return folder


def make_private(path: Path) -> Path:
    """A file written by the pipeline: 0600 (before it is renamed into place)."""
    os.chmod(path, PRIVATE_FILE)
    return path


def remove_stale_temporaries(folder: Path) -> int:
    """Delete `.<name>.<pid>.tmp` files a killed run left behind (they were never renamed
    into place, so no reader ever trusted them). Returns how many were removed."""
    if not folder.exists():
        return 0
    stale = list(folder.glob(".*.tmp"))
    for path in stale:
        path.unlink(missing_ok=True)
    return len(stale)


def atomic_write_bytes(path: Path, data: bytes) -> None:
    private_dir(path.parent)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    os.chmod(tmp, PRIVATE_FILE)
    with open(fd, "wb") as fh:
        fh.write(data)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def atomic_write_json(path: Path, payload: dict[str, Any]) -> None:
    atomic_write_bytes(path, json.dumps(payload, indent=2, sort_keys=True, default=str).encode())


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


class AtomicParquetWriter:
    """Streams record batches into `path` through a temporary file; `commit()` renames.

    Used as a context manager: an exception (or a killed process) leaves only the
    temporary file behind, never a partial `path`.
    """

    def __init__(self, path: Path, schema: pa.Schema):
        private_dir(path.parent)
        remove_stale_temporaries(path.parent)
        self.path = path
        self.tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
        self.rows = 0
        self._writer = pq.ParquetWriter(self.tmp, schema, compression="zstd")

    def write(self, table: pa.Table) -> None:
        if table.num_rows:
            self._writer.write_table(table)
            self.rows += table.num_rows

    def commit(self) -> None:
        self._writer.close()
        os.replace(make_private(self.tmp), self.path)

    def __enter__(self) -> AtomicParquetWriter:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        if exc_type is None:
            self.commit()
        else:
            self._writer.close()
            self.tmp.unlink(missing_ok=True)


def write_parquet_atomic(path: Path, table: pa.Table) -> None:
    with AtomicParquetWriter(path, table.schema) as writer:
        writer.write(table)


def write_frame_atomic(path: Path, frame) -> None:
    """A pandas frame as `write_parquet_atomic` writes a table: renamed into place, 0600, its
    folder 0700 when created (the KPI and data-quality zones hold caseworker and citizen
    pseudonyms, as the model does). Dtypes come back as written (pandas' schema metadata)."""
    write_parquet_atomic(path, pa.Table.from_pandas(frame, preserve_index=False))
