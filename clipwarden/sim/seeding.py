"""Stable random streams: one numpy Generator per (seed, purpose, name), the same in every process.

Python's hash() is salted per process, so streams are keyed by a BLAKE2 digest of their parts instead.
Giving every household, camera, event and window its own stream means that adding one of them, or
rendering windows in another order, changes nothing else.
"""

from __future__ import annotations

import hashlib

import numpy as np


def stable_seed(*parts: object) -> int:
    text = "\x1f".join(str(part) for part in parts)
    return int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest(), "little")


def rng_for(*parts: object) -> np.random.Generator:
    return np.random.default_rng(stable_seed(*parts))
