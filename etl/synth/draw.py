"""Small vectorised drawing helpers shared by the builders."""

from __future__ import annotations

import zlib
from collections.abc import Mapping

import numpy as np


def stream(seed: int, name: str) -> np.random.Generator:
    """An independent random stream per builder, so one builder's draws never shift another's."""
    return np.random.default_rng([seed, zlib.crc32(name.encode())])


def choose(rng: np.random.Generator, weights: Mapping[str, float], n: int) -> np.ndarray:
    """`n` labels drawn with the given (unnormalised) weights."""
    labels = np.array(list(weights), dtype=object)
    p = np.array(list(weights.values()), dtype=float)
    return labels[rng.choice(len(labels), n, p=p / p.sum())]


def choose_from(rng: np.random.Generator, options: tuple, n: int) -> np.ndarray:
    """`n` values drawn uniformly from `options`."""
    return np.array(options, dtype=object)[rng.integers(0, len(options), n)]


def ids_in_order(*keys: np.ndarray, first: int = 1) -> np.ndarray:
    """Sequential ids following the order of `keys` (the first key sorts first), like an
    identity column that numbers rows in the order they were created."""
    order = np.lexsort(tuple(reversed(keys)))
    ids = np.empty(len(order), dtype="int64")
    ids[order] = np.arange(first, first + len(order))
    return ids


def explode(counts: np.ndarray) -> np.ndarray:
    """The parent position of each child when parent i has counts[i] children."""
    return np.repeat(np.arange(len(counts)), counts)


def guids(rng: np.random.Generator, n: int) -> np.ndarray:
    """Random (version 4) uniqueidentifiers, upper case as SQL Server shows them."""
    raw = rng.integers(0, 256, size=(n, 16), dtype=np.uint8)
    raw[:, 6] = (raw[:, 6] & 0x0F) | 0x40
    raw[:, 8] = (raw[:, 8] & 0x3F) | 0x80
    hex_pairs = np.array([f"{b:02X}" for b in range(256)])[raw]
    text = np.full(n, "", dtype="<U36")
    for position in range(16):
        if position in (4, 6, 8, 10):
            text = np.char.add(text, "-")
        text = np.char.add(text, hex_pairs[:, position])
    return text.astype(object)
