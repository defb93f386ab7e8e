"""What the auditor console reads: the independent replay, checked inclusion proofs, and the clips in
quarantine.

The quarantine list reads ``clip_controls`` only: the clip's id, when and why it was quarantined; never the
clip's row, owner or media, which stay behind the enforcement point.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from clipwarden.audit import api as audit_api
from clipwarden.audit.entries import parse_leaf
from clipwarden.audit.log import AuditLog
from clipwarden.audit.replay import replay
from clipwarden.store import Store
from clipwarden.store.schema import clip_controls
from clipwarden.times import iso_utc


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
