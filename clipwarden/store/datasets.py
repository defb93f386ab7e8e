"""The training sets' part of every erasure and withdrawal: a clip's items leave the snapshots that held them,
those snapshots are marked superseded (their manifest can no longer be rebuilt), and the models that learned
one of the items are marked ``unlearning`` in the same transaction, so that no withdrawal or erasure can
commit without it.

The retraining itself (``learn/unlearning.py``) needs the model's artefacts and runs once the transaction
committed: it registers here (``register_unlearner``), below the services that call ``settle``, and a model
left ``unlearning`` (by a process that never loaded it) is settled by the next ``settle`` or by
``clipwarden models unlearn``. The erasure step is registered here too, so that the services import it.

Exports of a snapshot are files outside the system: an erasure cannot reach them. Its step names each export
that carried an erased clip, so that the deletion certificate says where copies went; the export's rows stay,
as the record of what left (and so that ``trace`` still names the export of a leaked copy).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, delete, or_, select, update

from clipwarden.store import Store
from clipwarden.store.erasure_steps import ALL_SUBJECTS, Artefact, ErasureScope, ErasureStep, register_erasure_step
from clipwarden.store.schema import (
    dataset_export_items,
    dataset_exports,
    dataset_items,
    dataset_snapshots,
    model_items,
    models,
)
from clipwarden.times import iso_utc

_IN_BATCH = 500  # ids per IN (...): both backends cap the parameters of one statement
_WHY = {"clip": "a clip was deleted", "household": "a household was erased", "retention": "clips expired"}

Unlearner = Callable[[Store, datetime], dict[str, str | None]]
_UNLEARNERS: list[Unlearner] = []


def register_unlearner(unlearner: Unlearner) -> None:
    if unlearner not in _UNLEARNERS:
        _UNLEARNERS.append(unlearner)


def settle(store: Store, at: datetime) -> dict[str, str | None]:
    """Retrain every model marked ``unlearning``; {unlearned model id: the model that replaced it, or None}."""
    replaced: dict[str, str | None] = {}
    for unlearner in _UNLEARNERS:
        replaced |= unlearner(store, at)
    return replaced


def retract_clips(conn: Connection, clip_ids: Iterable[str], at: datetime, why: str) -> list[Artefact]:
    ids = list(clip_ids)
    batches = [dataset_items.c.clip_id.in_(ids[i : i + _IN_BATCH]) for i in range(0, len(ids), _IN_BATCH)]
    return _retract(conn, batches, at, why)


def retract_consent(conn: Connection, consent_id: str, at: datetime, why: str) -> list[Artefact]:
    return _retract(conn, [dataset_items.c.consent_id == consent_id], at, why)


def _retract(conn: Connection, conditions: Sequence[ColumnElement[bool]], at: datetime, why: str) -> list[Artefact]:
    """Delete the matching items, supersede their snapshots, mark the models that learned them."""
    held: dict[str, list[str]] = defaultdict(list)
    item_ids: set[str] = set()
    for condition in conditions:
        removed = conn.execute(
            delete(dataset_items)
            .where(condition)
            .returning(dataset_items.c.snapshot_id, dataset_items.c.clip_id, dataset_items.c.item_id)
        )
        for snapshot_id, clip_id, item_id in removed:
            held[snapshot_id].append(clip_id)
            item_ids.add(item_id)
    for snapshot_id, clip_ids in held.items():
        conn.execute(
            update(dataset_snapshots)
            .where(dataset_snapshots.c.id == snapshot_id, dataset_snapshots.c.superseded_at.is_(None))
            .values(superseded_at=at, superseded_reason=f"{why}; {len(clip_ids)} of its items removed")
        )
    snapshots = [
        {"kind": "dataset_snapshot", "snapshot_id": snapshot_id, "clip_ids": sorted(clip_ids), "superseded": True}
        for snapshot_id, clip_ids in sorted(held.items())
    ]
    return snapshots + _mark_models(conn, sorted(item_ids))


def _mark_models(conn: Connection, item_ids: list[str]) -> list[Artefact]:
    learned: set[str] = set()
    for start in range(0, len(item_ids), _IN_BATCH):
        batch = item_ids[start : start + _IN_BATCH]
        learned.update(conn.execute(select(model_items.c.model_id).where(model_items.c.item_id.in_(batch))).scalars())
    marked = conn.execute(
        update(models)
        .where(models.c.id.in_(sorted(learned)), models.c.status.in_(("active", "unlearning")))
        .values(status="unlearning")
        .returning(models.c.id)
    ).scalars()
    return [{"kind": "model", "model_id": model_id, "status": "unlearning"} for model_id in sorted(marked)]


def _erase_items(conn: Connection, store: Store, scope: ErasureScope) -> list[Artefact]:
    return retract_clips(conn, scope.clip_ids, scope.at, f"erasure: {_WHY[scope.subject_type]}")


def exports_withdrawn(store: Store, consent_id: str, clip_id: str | None) -> list[dict[str, str]]:
    """The exports that carried what a withdrawal covers: items allowed by the consent, and the clip of a share
    (whose withdrawal excludes the clip under every consent). Copies outside the system's reach: named only."""
    exported = dataset_export_items.c
    covered = (
        exported.consent_id == consent_id
        if clip_id is None
        else or_(exported.consent_id == consent_id, exported.clip_id == clip_id)
    )
    with store.connect() as conn:
        rows = conn.execute(
            select(dataset_exports)
            .where(dataset_exports.c.id.in_(select(exported.export_id).where(covered)))
            .order_by(dataset_exports.c.created_at, dataset_exports.c.id)
        ).all()
    return [_named(row) for row in rows]


def _exports_holding(conn: Connection, store: Store, scope: ErasureScope) -> list[Artefact]:
    """The exports that carried an erased clip: named, not removed (their files are outside our reach)."""
    carried: dict[str, list[str]] = defaultdict(list)
    ids = list(scope.clip_ids)
    exported = dataset_export_items.c
    for start in range(0, len(ids), _IN_BATCH):
        query = select(exported.export_id, exported.clip_id).where(exported.clip_id.in_(ids[start : start + _IN_BATCH]))
        for export_id, clip_id in conn.execute(query):
            carried[export_id].append(clip_id)
    if not carried:
        return []
    rows = conn.execute(
        select(dataset_exports)
        .where(dataset_exports.c.id.in_(sorted(carried)))
        .order_by(dataset_exports.c.created_at, dataset_exports.c.id)
    ).all()
    return [
        {"kind": "dataset_export", **_named(row), "clip_ids": sorted(carried[row.id]), "outside_reach": True}
        for row in rows
    ]


def _named(row: Any) -> dict[str, str]:
    return {
        "export_id": row.id,
        "snapshot_id": row.snapshot_id,
        "format": row.format,
        "created_at": iso_utc(row.created_at),
    }


register_erasure_step(ErasureStep("dataset_snapshots", ALL_SUBJECTS, _erase_items, order=41))
register_erasure_step(ErasureStep("dataset_exports", ALL_SUBJECTS, _exports_holding, order=42))
