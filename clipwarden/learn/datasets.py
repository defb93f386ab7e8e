"""Dataset snapshots at the edge: ask the gate about every clip that could be an item, gather the facts of
those it allows, and store the snapshot with its manifest's hash in the audit log, in one transaction.

The clips considered are those with a consolidated label and those shared one by one (so that a share that
does not cover training is counted in ``excluded``). Each goes through ``gate.decide_and_log`` as the
training job, action ``train``, purpose ``automated_training``, which the training purposes and the tester
program cover and troubleshooting never does; so each inclusion and each exclusion is a logged decision.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, or_, select

from clipwarden.consent import receipts, records
from clipwarden.consent.service import valid_consents_for_clip
from clipwarden.errors import ClipwardenError, NotFound
from clipwarden.learn import snapshots
from clipwarden.learn.snapshots import Candidate, Consented, Label, Selection
from clipwarden.policy import gate
from clipwarden.policy.decision import COVERED_BY, Actor, Decision
from clipwarden.services.audit_trail import log_change
from clipwarden.signing import SigningKey, load_or_create, secret
from clipwarden.store import Store
from clipwarden.store.schema import (
    clips,
    consents,
    consolidations,
    dataset_items,
    dataset_snapshots,
    households,
    review_annotations,
    review_tasks,
)
from clipwarden.times import iso_utc

TRAINING_JOB = Actor("training", "system")
PURPOSE = "automated_training"
_ITEM_KEY = "dataset-items"  # the data dir's secret that keys item pseudonyms

_tasks, _snapshots = review_tasks.c, dataset_snapshots.c


class NothingEligible(ClipwardenError):
    """No clip may be trained on now; the attempt and its decisions are logged, no snapshot is stored."""


def snapshot(store: Store, at: datetime, min_confidence: float = snapshots.DEFAULT_MIN_CONFIDENCE) -> dict[str, Any]:
    """Build and store the snapshot of what the gate allows for training at ``at``; an identical one
    already stored is named again, not stored twice."""
    item_key, signing_key = secret(store.data_dir, _ITEM_KEY), load_or_create(store.data_dir)
    with store.begin() as conn:
        candidates = [_candidate(conn, clip, at, item_key, signing_key) for clip in _considered(conn)]
        chosen = snapshots.choose(candidates, min_confidence)
        if chosen.records:
            return _store(conn, chosen, min_confidence, at)
        log_change(conn, "dataset_snapshot", at, {"refused": "no eligible clip", "excluded": chosen.excluded})
    raise NothingEligible(f"no clip is eligible for training now; excluded: {_counts(chosen.excluded)}")


def list_snapshots(store: Store) -> list[dict[str, Any]]:
    with store.connect() as conn:
        rows = conn.execute(select(dataset_snapshots).order_by(_snapshots.created_at, _snapshots.id)).all()
    return [_summary(row) for row in rows]


def live_snapshot(store: Store, snapshot_id: str, refused: type[ClipwardenError], instead: str) -> Any:
    """The snapshot's row, if it exists (else NotFound) and no erasure superseded it (else ``refused``, saying
    what to do ``instead``): what is trained on or exported must not hold an erased clip."""
    with store.connect() as conn:
        row = conn.execute(select(dataset_snapshots).where(_snapshots.id == snapshot_id)).first()
    if row is None:
        raise NotFound(f"unknown snapshot id: {snapshot_id}")
    if row.superseded_at is not None:
        raise refused(f"snapshot {snapshot_id} was superseded ({row.superseded_reason}); {instead}")
    return row


def show(store: Store, snapshot_id: str) -> dict[str, Any]:
    """One snapshot with its items' lineage, and whether its stored items still give its hash."""
    with store.connect() as conn:
        row = conn.execute(select(dataset_snapshots).where(_snapshots.id == snapshot_id)).first()
        if row is None:
            raise NotFound(f"unknown snapshot id: {snapshot_id}")
        query = select(dataset_items.c.record).where(dataset_items.c.snapshot_id == snapshot_id)
        items = sorted(conn.execute(query).scalars(), key=lambda record: str(record["item_id"]))
    intact = snapshots.manifest_sha256(tuple(items), row.min_confidence) == row.sha256
    return _summary(row) | {"min_confidence": row.min_confidence, "intact": intact, "items": items}


def item_id_of(data_dir: Path, clip_id: str) -> str:
    """The clip's item id in every snapshot of this installation."""
    return _item_id(secret(data_dir, _ITEM_KEY), clip_id)


def _item_id(item_key: bytes, clip_id: str) -> str:
    return "item_" + hmac.new(item_key, clip_id.encode(), "sha256").hexdigest()[:32]


def _considered(conn: Connection) -> list[Any]:
    labelled = select(consolidations.c.clip_id)
    shared = select(consents.c.clip_id).where(consents.c.clip_id.is_not(None))
    query = (
        select(clips.c.id, clips.c.household_id, clips.c.blob_sha256, households.c.jurisdiction)
        .join(households, households.c.id == clips.c.household_id)
        .where(or_(clips.c.id.in_(labelled), clips.c.id.in_(shared)))
        .order_by(clips.c.id)
    )
    return list(conn.execute(query))


def _candidate(conn: Connection, clip: Any, at: datetime, item_key: bytes, signing_key: SigningKey) -> Candidate:
    decision = gate.decide_and_log(conn, gate.Ask(TRAINING_JOB, "train", clip.id, PURPOSE, at))
    allowed = decision.allow
    return Candidate(
        clip_id=clip.id,
        item_id=_item_id(item_key, clip.id),
        clip_sha256=clip.blob_sha256,
        residency=clip.jurisdiction,
        gate_reason=decision.reason,
        consented=_consented(conn, clip, decision, at, signing_key) if allowed else None,
        label=_label(conn, clip.id) if allowed else None,
    )


def _consented(conn: Connection, clip: Any, decision: Decision, at: datetime, signing_key: SigningKey) -> Consented:
    """The consent the allowing decision rests on, with the purpose and notice version it covers training
    by (tried in the gate's order) and the SHA-256 of the receipt its owner holds."""
    valid = next(
        grant
        for purpose in sorted(COVERED_BY[PURPOSE])
        for grant in valid_consents_for_clip(conn, clip.id, clip.household_id, purpose, at)
        if grant.consent_id == decision.consent_id
    )
    recorded = records.load(conn, valid.consent_id)
    assert recorded is not None
    receipt = receipts.signed_receipt(signing_key, *recorded)
    return Consented(
        consent_id=valid.consent_id,
        purpose=valid.purpose,
        notice_version=valid.notice_version,
        receipt_sha256=hashlib.sha256(receipt.encode()).hexdigest(),
        unredacted=decision.unredacted,
    )


def _label(conn: Connection, clip_id: str) -> Label | None:
    """The clip's latest consolidated label, or its gold answer; None if it has neither."""
    latest = conn.execute(
        select(consolidations)
        .where(consolidations.c.clip_id == clip_id)
        .order_by(consolidations.c.decided_at.desc(), consolidations.c.task_id)
        .limit(1)
    ).first()
    gold = conn.execute(
        select(_tasks.gold_label).where(_tasks.clip_id == clip_id, _tasks.gold_label.is_not(None)).limit(1)
    ).scalar()
    if gold is not None:  # a known answer
        label, confidence, settled = gold, 1.0, True
    elif latest is not None:
        label, confidence, settled = latest.label, latest.confidence, not latest.needs_review
    else:
        return None
    answers = review_annotations.c
    found = conn.execute(
        select(answers.id, _tasks.stage)
        .join(review_tasks, _tasks.id == answers.task_id)
        .where(answers.clip_id == clip_id)
        .order_by(answers.id)
    ).all()
    return Label(
        label=label,
        confidence=confidence,
        settled=settled,
        annotation_ids=tuple(row.id for row in found),
        adjudicated=any(row.stage == "adjudicate" for row in found),
        gold=gold is not None,
    )


def _store(conn: Connection, chosen: Selection, min_confidence: float, at: datetime) -> dict[str, Any]:
    sha256 = snapshots.manifest_sha256(chosen.records, min_confidence)
    snapshot_id = snapshots.snapshot_id(sha256)
    existing = conn.execute(select(_snapshots.id).where(_snapshots.sha256 == sha256)).first() is not None
    fields = {"snapshot_id": snapshot_id, "sha256": sha256, "items": len(chosen.records), "excluded": chosen.excluded}
    audit_index = log_change(conn, "dataset_snapshot", at, fields | {"existing": existing})
    if not existing:
        conn.execute(
            dataset_snapshots.insert().values(
                id=snapshot_id,
                sha256=sha256,
                created_at=at,
                min_confidence=min_confidence,
                items=len(chosen.records),
                excluded=chosen.excluded,
                audit_index=audit_index,
            )
        )
        conn.execute(
            dataset_items.insert(),
            [
                {
                    "snapshot_id": snapshot_id,
                    "item_id": record["item_id"],
                    "clip_id": clip_id,
                    "record": record,
                    "consent_id": record["consent_id"],
                }
                for clip_id, record in chosen.clip_records
            ],
        )
    return fields | {"audit_index": audit_index, "existing": existing}


def _summary(row: Any) -> dict[str, Any]:
    return {
        "snapshot_id": row.id,
        "sha256": row.sha256,
        "created_at": iso_utc(row.created_at),
        "items": row.items,
        "excluded": row.excluded,
        "audit_index": row.audit_index,
        "superseded_by": row.superseded_by,
        "superseded_at": None if row.superseded_at is None else iso_utc(row.superseded_at),
        "superseded_reason": row.superseded_reason,
    }


def _counts(excluded: dict[str, int]) -> str:
    return ", ".join(f"{reason} {count}" for reason, count in excluded.items()) or "no clip was considered"
