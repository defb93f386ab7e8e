"""Unlearning at the edge: a model marked ``unlearning`` (by a withdrawal or an erasure, in that change's own
transaction: ``store/datasets.py``) is replaced by one that never saw the removed items.

Its snapshot's remaining items make a replacement snapshot (content-addressed like any other, named as the
old one's ``superseded_by``); the shards that held a removed item are retrained from the checkpoint before
the first slice that held one (``learn/models.py``, ``unlearn``), the others kept as they were; the new
model is stored, the old one marked ``unlearned`` with ``replaced_by``, put on the fleet in its place if it
was there, and the old artefact deleted. The same model trained from scratch without the items has the same
bytes, so the same id.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from datetime import datetime
from typing import Any

import numpy as np
from sqlalchemy import Connection, select, update

from clipwarden.errors import ClipwardenError
from clipwarden.learn import models, snapshots
from clipwarden.learn.datasets import item_id_of
from clipwarden.learn.features import FEATURE_NAMES
from clipwarden.learn.training import (
    MODEL_DIR,
    Items,
    deployed_id,
    item_features,
    load_model,
    store_model,
)
from clipwarden.policy import gate
from clipwarden.policy.decision import OWNER_ACCESS, Actor
from clipwarden.services.audit_trail import log_change
from clipwarden.store import Store, datasets
from clipwarden.store.schema import dataset_items, dataset_snapshots, model_deployments, model_items
from clipwarden.store.schema import models as models_table
from clipwarden.times import iso_utc

_models = models_table.c


def forget_pending(store: Store, at: datetime) -> dict[str, str | None]:
    """Replace every model marked ``unlearning``; {its id: the replacing model's id, or None if nothing of
    what it learned may be learned from any more}."""
    with store.connect() as conn:
        pending = conn.execute(
            select(models_table).where(_models.status == "unlearning").order_by(_models.created_at, _models.id)
        ).all()
    return {row.id: _forget(store, row, at) for row in pending}


def models_of_clip(store: Store, actor: Actor, clip_id: str, at: datetime) -> list[dict[str, Any]]:
    """What the clip's owner (or the operator) sees: the models that learned from it, each with whether it
    forgot it since and the model that replaced it."""
    gate.require(store, gate.Ask(actor, "view_metadata", clip_id, OWNER_ACCESS, at))
    return models_for_clip(store, clip_id)


def models_for_clip(store: Store, clip_id: str) -> list[dict[str, Any]]:
    """The models that learned from the clip, oldest first, and which of them forgot it since."""
    item_id = item_id_of(store.data_dir, clip_id)
    with store.connect() as conn:
        rows = conn.execute(
            select(models_table)
            .join(model_items, model_items.c.model_id == _models.id)
            .where(model_items.c.item_id == item_id)
            .order_by(_models.created_at, _models.id)
        ).all()
    return [
        {
            "model_id": row.id,
            "snapshot_id": row.snapshot_id,
            "status": row.status,
            "learned_at": iso_utc(row.created_at),
            "replaced_by": row.replaced_by,
            "unlearned_at": None if row.unlearned_at is None else iso_utc(row.unlearned_at),
        }
        for row in rows
    ]


def _forget(store: Store, old: Any, at: datetime) -> str | None:
    started = time.perf_counter()
    with store.connect() as conn:
        placed = dict(
            conn.execute(
                select(model_items.c.item_id, model_items.c.shard).where(model_items.c.model_id == old.id)
            ).all()
        )
        kept = conn.execute(
            select(dataset_items.c.item_id, dataset_items.c.clip_id, dataset_items.c.record, dataset_items.c.features)
            .where(dataset_items.c.snapshot_id == old.snapshot_id, dataset_items.c.item_id.in_(sorted(placed)))
            .order_by(dataset_items.c.item_id)
        ).all()
    removed = set(placed) - {row.item_id for row in kept}
    if not removed:  # marked, but what it learned is all still there
        with store.begin() as conn:
            conn.execute(update(models_table).where(_models.id == old.id).values(status="active"))
        return str(old.id)
    try:
        model = load_model(store.data_dir, old.sha256)
        items = _items(store, kept)
    except ClipwardenError:  # without its checkpoints or its items' media it cannot be retrained: only retired
        _retire(store, old, at, removed, "its artefact or an item's media could not be read")
        return None
    if not items.item_ids:
        _retire(store, old, at, removed, "none of the items it learned from may be learned from now")
        return None
    with store.begin() as conn:
        replacement = _replacement_snapshot(conn, old.snapshot_id, at)
    retrained, shards = models.unlearn(model, items.item_ids, items.features, items.labels, removed)
    card = old.card | {
        "snapshot_id": replacement["snapshot_id"],
        "snapshot_sha256": replacement["sha256"],
        "items": len(items.item_ids),
        "shard_items": retrained.shard_sizes(),
        "training_metrics": old.card["training_metrics"],
        "unlearned_from": {"model_id": old.id, "items_removed": len(removed), "shards_retrained": shards},
        "train_s": round(time.perf_counter() - started, 3),
    }
    stored = store_model(store, retrained, items, card, at)
    _replace(store, old, stored["model_id"], at, removed, shards)
    return str(stored["model_id"])


def _items(store: Store, kept: Sequence[Any]) -> Items:
    vectors = [item_features(store, row.clip_id, row.features) for row in kept]
    features = (
        np.vstack([vector.reshape(1, -1) for vector in vectors]) if vectors else np.empty((0, len(FEATURE_NAMES)))
    )
    return Items(
        [row.item_id for row in kept],
        [row.record["clip_sha256"] for row in kept],
        features,
        [row.record["label"] for row in kept],
    )


def _replacement_snapshot(conn: Connection, snapshot_id: str, at: datetime) -> dict[str, Any]:
    """The snapshot of the old one's remaining items (stored unless an identical one is), named as its
    ``superseded_by``."""
    old = conn.execute(select(dataset_snapshots).where(dataset_snapshots.c.id == snapshot_id)).one()
    rows = conn.execute(
        select(dataset_items).where(dataset_items.c.snapshot_id == snapshot_id).order_by(dataset_items.c.item_id)
    ).all()
    records = tuple(row.record for row in rows)
    sha256 = snapshots.manifest_sha256(records, old.min_confidence)
    new_id = snapshots.snapshot_id(sha256)
    if conn.execute(select(dataset_snapshots.c.id).where(dataset_snapshots.c.id == new_id)).first() is None:
        excluded = dict(old.excluded) | {"removed_since": old.items - len(rows)}
        fields = {"snapshot_id": new_id, "sha256": sha256, "items": len(rows), "replaces": snapshot_id}
        index = log_change(conn, "dataset_snapshot", at, fields | {"excluded": excluded})
        conn.execute(
            dataset_snapshots.insert().values(
                id=new_id,
                sha256=sha256,
                created_at=at,
                min_confidence=old.min_confidence,
                items=len(rows),
                excluded=excluded,
                audit_index=index,
            )
        )
        conn.execute(
            dataset_items.insert(),
            [
                {
                    "snapshot_id": new_id,
                    "item_id": row.item_id,
                    "clip_id": row.clip_id,
                    "record": row.record,
                    "consent_id": row.consent_id,
                    "features": row.features,
                }
                for row in rows
            ],
        )
    if old.superseded_by is None:
        conn.execute(
            update(dataset_snapshots).where(dataset_snapshots.c.id == snapshot_id).values(superseded_by=new_id)
        )
    return {"snapshot_id": new_id, "sha256": sha256}


def _replace(store: Store, old: Any, new_id: str, at: datetime, removed: set[str], shards: list[int]) -> None:
    with store.begin() as conn:
        was_deployed = deployed_id(conn) == old.id
        _mark_unlearned(conn, old.id, new_id, at)
        fields = {"model_id": old.id, "replaced_by": new_id, "items_removed": len(removed), "shards_retrained": shards}
        log_change(conn, "model_unlearned", at, fields)
        if was_deployed:
            index = log_change(conn, "model_deployed", at, {"model_id": new_id, "replaces": old.id})
            conn.execute(model_deployments.insert().values(model_id=new_id, deployed_at=at, audit_index=index))
    _delete_artefact(store, old.sha256)


def _retire(store: Store, old: Any, at: datetime, removed: set[str], why: str) -> None:
    """Unlearned with no replacement: the fleet falls back to the rules if it was using it."""
    with store.begin() as conn:
        _mark_unlearned(conn, old.id, None, at)
        fields = {"model_id": old.id, "replaced_by": None, "items_removed": len(removed), "why": why}
        log_change(conn, "model_unlearned", at, fields)
    _delete_artefact(store, old.sha256)


def _mark_unlearned(conn: Connection, model_id: str, replaced_by: str | None, at: datetime) -> None:
    conn.execute(
        update(models_table)
        .where(_models.id == model_id)
        .values(status="unlearned", replaced_by=replaced_by, unlearned_at=at)
    )


def _delete_artefact(store: Store, sha256: str) -> None:
    """The old weights learned from what was removed: they go."""
    (store.data_dir / MODEL_DIR / sha256).unlink(missing_ok=True)


datasets.register_unlearner(forget_pending)
