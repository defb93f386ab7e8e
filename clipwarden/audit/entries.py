"""Audit log entries: what a leaf says, and its exact bytes.

A leaf is the canonical JSON (sorted keys, no spaces, UTF-8) of
``{"index": i, "at": "2025-01-01T08:00:00Z", "kind": KIND, ...fields}``. The index inside the leaf makes a
dropped, inserted or reordered row detectable from the leaves alone. ``kind`` is any ``[a-z_]+`` word; the
fields are any JSON values (no NaN or infinities, whose JSON is not portable). The kinds in use:

- ``decision``: the enforcement point's answer, allow and deny alike:
  ``actor: {id, role, site}, action, resource: {type, id}, purpose, allow, reason``
- ``notice_published``: ``purpose, version, sha256, material``
- ``consent_given``: ``consent_id, household_id, clip_id (or null), purposes, notice_versions,
  allow_unredacted, sites``
- ``consent_withdrawn``: ``consent_id, by``
- ``clip_deleted``: ``clip_id``; ``household_erased``: ``household_id``
- ``clip_expired``, ``clip_quarantined``, ``label`` and further state changes, with the fields their
  writers document.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any

from clipwarden.times import iso_utc

KIND_PATTERN = re.compile(r"[a-z_]{1,64}")


def canonical_json(document: Any) -> bytes:
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode()


def make_leaf(index: int, kind: str, at: datetime, fields: dict[str, Any]) -> bytes:
    """The leaf bytes of entry ``index``. Fields may repeat ``index``, ``at`` or ``kind`` (an event document
    that carries its own time) but not contradict them. Raises ValueError for a bad kind or a contradiction,
    and TypeError or ValueError for fields that JSON cannot hold."""
    if not KIND_PATTERN.fullmatch(kind):
        raise ValueError(f"audit entry kind {kind!r} is not a [a-z_]+ word of at most 64 letters")
    envelope = {"index": index, "at": iso_utc(at), "kind": kind}
    clash = sorted(name for name, value in envelope.items() if fields.get(name, value) != value)
    if clash:
        raise ValueError(f"audit entry fields contradict the entry's own {', '.join(clash)}")
    return canonical_json({**fields, **envelope})


def parse_leaf(leaf: bytes) -> dict[str, Any]:
    """The entry a leaf holds; ValueError if it is not a JSON object with an integer index, at and kind."""
    try:
        entry = json.loads(leaf.decode())
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ValueError(f"leaf is not JSON: {error}") from None
    if not isinstance(entry, dict):
        raise ValueError("leaf is not a JSON object")
    index = entry.get("index")
    if type(index) is not int:
        raise ValueError("leaf has no integer index")
    if not isinstance(entry.get("at"), str) or not KIND_PATTERN.fullmatch(str(entry.get("kind"))):
        raise ValueError("leaf has no at or kind")
    return entry
