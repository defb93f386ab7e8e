"""What the auditor console reads: the independent replay, the log's entries filtered and each checked
against the tree from its own bytes, inclusion and consistency proofs checked, and the clips in quarantine.

The quarantine list reads ``clip_controls`` only: the clip's id, when and why it was quarantined; never the
clip's row, owner or media, which stay behind the enforcement point.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select

from clipwarden.audit import api as audit_api
from clipwarden.audit.entries import parse_leaf
from clipwarden.audit.log import AuditLog
from clipwarden.audit.merkle import leaf_hash, verify_consistency, verify_inclusion
from clipwarden.audit.replay import replay
from clipwarden.errors import ClipwardenError
from clipwarden.store import Store
from clipwarden.store.schema import audit_entries, clip_controls
from clipwarden.times import iso_utc

ENTRIES_PER_PAGE = 50
_ROWS_PER_FETCH = 500


@dataclass(frozen=True)
class EntryFilter:
    """Which entries the console lists: of a kind, naming an actor or a clip (an id or pseudonym found as a
    whole value anywhere in the entry), within a time range; None: any."""

    kind: str | None = None
    actor: str | None = None
    clip: str | None = None
    since: datetime | None = None
    until: datetime | None = None


def entry_kinds(store: Store) -> list[str]:
    """The kinds the log holds: the choices of the console's kind filter."""
    with store.connect() as conn:
        return sorted(conn.execute(select(audit_entries.c.kind).distinct()).scalars())


def browse(
    store: Store, log: AuditLog, wanted: EntryFilter, before: int | None = None, limit: int = ENTRIES_PER_PAGE
) -> dict[str, Any]:
    """Up to ``limit`` entries matching ``wanted``, newest first, below index ``before``; each with its fields
    and whether its own leaf bytes hash into the current tree head (an inclusion proof checked). ``older``
    is the ``before`` of the next page, None on the last; ``kinds``: the kinds the log holds."""
    kinds = entry_kinds(store)
    if wanted.kind is not None and wanted.kind not in kinds:
        raise ClipwardenError(f"kind {wanted.kind!r} is not one of the kinds the log holds")
    column = audit_entries.c
    query = select(column.idx, column.leaf).order_by(column.idx.desc())
    if wanted.kind is not None:
        query = query.where(column.kind == wanted.kind)
    if before is not None:
        query = query.where(column.idx < before)
    if wanted.since is not None:
        query = query.where(column.at >= wanted.since)
    if wanted.until is not None:
        query = query.where(column.at <= wanted.until)
    needles = [f'"{value}"'.encode() for value in (wanted.actor, wanted.clip) if value]
    found: list[dict[str, Any]] = []
    older = None
    with store.connect() as conn:
        for index, leaf in conn.execute(query.execution_options(yield_per=_ROWS_PER_FETCH)):
            if not all(needle in bytes(leaf) for needle in needles):
                continue
            if len(found) == limit:
                older = found[-1]["index"]
                break
            found.append(_listed(log, int(index), bytes(leaf)))
    return {"entries": found, "older": older, "kinds": kinds}


def _listed(log: AuditLog, index: int, leaf: bytes) -> dict[str, Any]:
    proof = log.inclusion_proof(index)
    included = verify_inclusion(leaf_hash(leaf), index, proof.size, proof.path, proof.root_hash)
    try:
        entry = parse_leaf(leaf)
    except ValueError:
        return {"index": index, "at": None, "kind": "unreadable leaf", "fields": {}, "included": included}
    fields = {key: value for key, value in entry.items() if key not in ("index", "at", "kind")}
    return {"index": index, "at": entry["at"], "kind": entry["kind"], "fields": fields, "included": included}


def checked_consistency(log: AuditLog, first: int, second: int | None = None) -> dict[str, Any]:
    """The consistency proof between the tree heads of sizes ``first`` and ``second`` (default: the whole
    log), checked as an outside verifier would: the smaller tree is a prefix of the larger one."""
    document = audit_api.consistency(log, first, second)
    verified = verify_consistency(
        document["first"],
        document["second"],
        bytes.fromhex(document["first_root"]),
        bytes.fromhex(document["second_root"]),
        [bytes.fromhex(node) for node in document["path"]],
    )
    return document | {"verified": verified}


def replay_log(log: AuditLog) -> dict[str, Any]:
    """``audit replay``: every logged view re-derived from the log's own consent history."""
    return replay(entry.leaf for entry in log.iter_entries()).as_dict()


def checked_inclusion(log: AuditLog, index: int, size: int | None = None) -> dict[str, Any]:
    """``audit prove`` and the console's proof: the proof checked from the entry's own leaf bytes (never its
    stored hash), and the entry's kind and time as that leaf says, so the auditor sees what was proved."""
    proof = log.inclusion_proof(index, size)
    try:
        entry = parse_leaf(proof.leaf)
    except ValueError:
        entry = {"kind": "unreadable leaf", "at": None}
    return audit_api.inclusion_document(proof) | {"kind": entry["kind"], "at": entry["at"]}


def quarantined_clips(store: Store) -> list[dict[str, Any]]:
    """Clips a reviewer flagged as private (or the operator quarantined), oldest first."""
    query = (
        select(clip_controls.c.clip_id, clip_controls.c.quarantined_at, clip_controls.c.quarantine_reason)
        .where(clip_controls.c.quarantined_at.is_not(None))
        .order_by(clip_controls.c.quarantined_at, clip_controls.c.clip_id)
    )
    with store.connect() as conn:
        rows = conn.execute(query).all()
    return [
        {"clip_id": row.clip_id, "quarantined_at": iso_utc(row.quarantined_at), "reason": row.quarantine_reason}
        for row in rows
    ]
