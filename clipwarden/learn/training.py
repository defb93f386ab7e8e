"""Training and deploying the camera AI at the edge: a snapshot's items, each still allowed by the enforcement
point, read through the store; a sharded model written as a content-addressed artefact with its model card;
deployment after the artefact's hash is checked again.

Each item's clip is asked for at training time (``gate.check``, the training job, action ``train``, purpose
``automated_training``): a snapshot is a list made earlier, and a clip whose consent was withdrawn since must
not be learned from. Items the gate now refuses are skipped and counted in the card.
"""

from __future__ import annotations

import hashlib
import platform
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Connection, select, update

from clipwarden import services
from clipwarden.domain import Camera, Label
from clipwarden.errors import ClipwardenError, NotFound
from clipwarden.learn import models
from clipwarden.learn.datasets import PURPOSE, TRAINING_JOB, live_snapshot
from clipwarden.learn.features import FEATURE_NAMES, FeatureJob, many_features
from clipwarden.media.capture import track_from_document
from clipwarden.policy import gate
from clipwarden.services.audit_trail import log_change
from clipwarden.store import Store
from clipwarden.store.schema import cameras, clips, dataset_items, model_deployments, model_items
from clipwarden.store.schema import models as models_table
from clipwarden.times import iso_utc

MODEL_DIR = "models"
DEFAULT_SHARDS = 4
DEFAULT_SEED = 0
_DEPENDENCIES = ("lightgbm", "numpy", "av", "opencv-python-headless")
_models, _deployments = models_table.c, model_deployments.c


class ModelRefused(ClipwardenError):
    """Training or deployment was refused; nothing was stored."""


def train(
    store: Store,
    snapshot_id: str,
    shards: int,
    seed: int,
    at: datetime,
    slices: int = models.DEFAULT_SLICES,
    workers: int = 1,
) -> dict[str, Any]:
    """Train a model on the snapshot's items the gate still allows, store it, and return its summary; the
    features of clips no earlier training read are read over ``workers`` processes."""
    if shards < 1 or slices < 1:
        raise ModelRefused(f"--shards and --slices must be at least 1, not {shards} and {slices}")
    started = time.perf_counter()
    snapshot = live_snapshot(store, snapshot_id, ModelRefused, "train on a new one")
    items, skipped = read_items(store, snapshot_id, at, workers)
    if not items.item_ids:
        raise ModelRefused(f"snapshot {snapshot_id}: the gate allows none of its items now ({_counts(skipped)})")
    fit_started = time.perf_counter()
    model = models.train(items.item_ids, items.keys, items.features, items.labels, FEATURE_NAMES, shards, seed, slices)
    card = {
        "snapshot_id": snapshot_id,
        "snapshot_sha256": snapshot.sha256,
        "model": "LightGBM boosters, one per shard, trained slice by slice (SISA); mean of the shards' probabilities",
        "features": list(FEATURE_NAMES),
        "shards": shards,
        "slices": slices,
        "rounds_per_slice": models.ROUNDS_PER_SLICE,
        "seed": seed,
        "shard_items": model.shard_sizes(),
        "items": len(items.item_ids),
        "skipped": skipped,
        "training_metrics": _training_metrics(model, items.features, items.labels),
        "features_s": round(fit_started - started, 3),
        "fit_s": round(time.perf_counter() - fit_started, 3),
        "dependencies": {name: version(name) for name in _DEPENDENCIES} | {"python": platform.python_version()},
    }
    card["train_s"] = round(time.perf_counter() - started, 3)
    return store_model(store, model, items, card, at)


def list_models(store: Store) -> list[dict[str, Any]]:
    with store.connect() as conn:
        rows = conn.execute(select(models_table).order_by(_models.created_at, _models.id)).all()
        deployed = deployed_id(conn)
    return [_summary(row, deployed) for row in rows]


def deploy(store: Store, model_id: str, at: datetime) -> dict[str, Any]:
    """Put an active model on the fleet, after checking its artefact still has the hash of its card."""
    with store.begin() as conn:
        row = conn.execute(select(models_table).where(_models.id == model_id)).first()
        if row is None:
            raise NotFound(f"unknown model id: {model_id}")
        if row.status != "active":
            raise ModelRefused(f"model {model_id} is {row.status}; only an active model can be deployed")
        read_artefact(store.data_dir, row.sha256)
        index = log_change(conn, "model_deployed", at, {"model_id": model_id, "sha256": row.sha256})
        conn.execute(model_deployments.insert().values(model_id=model_id, deployed_at=at, audit_index=index))
    return {"model_id": model_id, "deployed_at": iso_utc(at), "audit_index": index}


def deployed_model(store: Store) -> tuple[str, models.ShardedModel] | None:
    """The model on the fleet now, checked against its hash; None while the rules are (also while the
    deployed model is being unlearned, or was retired)."""
    with store.connect() as conn:
        model_id = deployed_id(conn)
        row = conn.execute(select(_models.sha256, _models.status).where(_models.id == model_id)).first()
    if model_id is None or row is None or row.status != "active":
        return None
    return model_id, load_model(store.data_dir, row.sha256)


def load_model(data_dir: Path, sha256: str) -> models.ShardedModel:
    try:
        return models.load(read_artefact(data_dir, sha256))
    except ValueError as error:
        raise ModelRefused(f"model artefact {sha256}: {error}") from None


def read_artefact(data_dir: Path, sha256: str) -> bytes:
    """The artefact's bytes; ModelRefused if it is missing or no longer hashes to ``sha256``."""
    path = data_dir / MODEL_DIR / sha256
    if not path.is_file():
        raise ModelRefused(f"model artefact {sha256} is missing from the data dir")
    data = path.read_bytes()
    if hashlib.sha256(data).hexdigest() != sha256:
        raise ModelRefused(f"model artefact {sha256} was altered on disk: its SHA-256 no longer matches its card")
    return data


@dataclass(frozen=True)
class Items:
    """Training items in item-id order: ids, keys (their clips' SHA-256: where they go in the model), feature
    rows, labels, and the rows computed just now."""

    item_ids: list[str]
    keys: list[str]
    features: np.ndarray
    labels: list[Label]
    computed: dict[str, list[float]] = field(default_factory=dict)  # item id -> features, to cache


def read_items(store: Store, snapshot_id: str, at: datetime, workers: int = 1) -> tuple[Items, dict[str, int]]:
    """Features and labels of the items the gate allows now; the others counted by reason. Features cached
    beside the items by an earlier training are taken as they are (they come from the same stored MP4); the
    others are read over ``workers`` processes."""
    with store.connect() as conn:
        rows = conn.execute(
            select(dataset_items.c.item_id, dataset_items.c.clip_id, dataset_items.c.record, dataset_items.c.features)
            .where(dataset_items.c.snapshot_id == snapshot_id)
            .order_by(dataset_items.c.item_id)
        ).all()
    skipped: Counter[str] = Counter()
    allowed = []
    for row in rows:
        decision = gate.check(store, gate.Ask(TRAINING_JOB, "train", row.clip_id, PURPOSE, at))
        if decision.allow:
            allowed.append(row)
        else:
            skipped[decision.reason] += 1
    uncached = [row for row in allowed if row.features is None or len(row.features) != len(FEATURE_NAMES)]
    jobs = [_job(store, row.clip_id) for row in uncached]
    read = dict(zip((row.item_id for row in uncached), many_features(jobs, workers), strict=True))
    items = Items([], [], np.empty((0, len(FEATURE_NAMES))), [])
    vectors: list[np.ndarray] = []
    for row in allowed:
        vector = read[row.item_id] if row.item_id in read else np.asarray(row.features)
        if vector is None:
            skipped["unreadable media"] += 1
            continue
        if row.item_id in read:
            items.computed[row.item_id] = vector.ravel().tolist()
        vectors.append(vector.reshape(1, -1))
        items.item_ids.append(row.item_id)
        items.keys.append(row.record["clip_sha256"])
        items.labels.append(row.record["label"])
    if vectors:
        items = Items(items.item_ids, items.keys, np.vstack(vectors), items.labels, items.computed)
    return items, dict(sorted(skipped.items()))


def item_features(store: Store, clip_id: str, cached: list[float] | None = None) -> np.ndarray:
    """The features cached beside an item if they match ``FEATURE_NAMES``, else read from its clip
    (ClipwardenError if it has no track and its MP4 does not decode)."""
    if cached is not None and len(cached) == len(FEATURE_NAMES):
        return np.asarray(cached)
    [features] = many_features([_job(store, clip_id)])
    if features is None:
        raise ClipwardenError(f"clip {clip_id}: its media does not decode")
    return features


def _job(store: Store, clip_id: str) -> FeatureJob:
    """The clip's recorded track, or its MP4 where it was stored without one."""
    with store.connect() as conn:
        clip = conn.execute(select(clips).where(clips.c.id == clip_id)).one()
        camera = camera_of(conn, clip.camera_id)
    away = services.mode_at(store, clip.household_id, clip.started_at) == "away"
    if clip.motion_track is not None:
        return FeatureJob(camera, away, track=track_from_document(clip.motion_track))
    return FeatureJob(camera, away, data=store.blobs.get(clip.blob_sha256))


def camera_of(conn: Connection, camera_id: str) -> Camera:
    row = conn.execute(select(cameras).where(cameras.c.id == camera_id)).one()
    return Camera(
        id=row.id,
        household_id=row.household_id,
        name=row.name,
        placement=row.placement,
        width=row.width,
        height=row.height,
        fps=row.fps,
        motion_masks=tuple(tuple((x, y) for x, y in zone) for zone in row.motion_masks),
        privacy_zones=tuple(tuple((x, y) for x, y in zone) for zone in row.privacy_zones),
    )


def _training_metrics(model: models.ShardedModel, features: np.ndarray, labels: list[Label]) -> dict[str, Any]:
    """How the model does on its own training items (the snapshot's labels; no ground truth is read)."""
    predicted = [label for label, _ in model.predict(features)]
    right = sum(p == t for p, t in zip(predicted, labels, strict=True))
    return {"training_accuracy": round(right / len(labels), 4), "labels": dict(sorted(Counter(labels).items()))}


def store_model(
    store: Store, model: models.ShardedModel, items: Items, card: dict[str, Any], at: datetime
) -> dict[str, Any]:
    """Write the artefact under its hash and record the model, the items it learned and where they sit,
    and the features computed for it; the same weights again name the stored model."""
    artefact = models.dump(model)
    sha256 = hashlib.sha256(artefact).hexdigest()
    card = card | {"sha256": sha256}
    model_id = "mdl_" + sha256[:16]
    path = store.data_dir / MODEL_DIR / sha256
    path.parent.mkdir(parents=True, exist_ok=True)
    if not path.exists():
        temporary = path.with_suffix(".partial")
        temporary.write_bytes(artefact)
        temporary.replace(path)
    with store.begin() as conn:
        existing = conn.execute(select(_models.id).where(_models.id == model_id)).first() is not None
        fields = {"model_id": model_id, "snapshot_id": card["snapshot_id"], "sha256": sha256, "existing": existing}
        index = log_change(conn, "model_trained", at, fields | {"skipped": card["skipped"]})
        _cache_features(conn, card["snapshot_id"], items.computed)
        if not existing:
            _insert_model(conn, model_id, model, items.item_ids, card, at, index)
    return {
        "model_id": model_id,
        "snapshot_id": card["snapshot_id"],
        "shards": card["shards"],
        "seed": card["seed"],
        "train_s": card["train_s"],
        "sha256": sha256,
        "existing": existing,
        "audit_index": index,
        "card": card,
    }


def _insert_model(
    conn: Connection,
    model_id: str,
    model: models.ShardedModel,
    item_ids: list[str],
    card: dict[str, Any],
    at: datetime,
    audit_index: int,
) -> None:
    conn.execute(
        models_table.insert().values(
            id=model_id,
            snapshot_id=card["snapshot_id"],
            sha256=card["sha256"],
            shards=card["shards"],
            seed=card["seed"],
            status="active",
            created_at=at,
            card=card,
            audit_index=audit_index,
        )
    )
    placed = [(item_id, *model.place(item_id)) for item_id in item_ids]
    conn.execute(
        model_items.insert(),
        [
            {"model_id": model_id, "item_id": item_id, "shard": shard, "slice": slice_}
            for item_id, shard, slice_ in placed
        ],
    )


def _cache_features(conn: Connection, snapshot_id: str, computed: dict[str, list[float]]) -> None:
    for item_id, vector in computed.items():
        conn.execute(
            update(dataset_items)
            .where(dataset_items.c.snapshot_id == snapshot_id, dataset_items.c.item_id == item_id)
            .values(features=vector)
        )


def deployed_id(conn: Connection) -> str | None:
    latest = select(_deployments.model_id).order_by(_deployments.deployed_at.desc(), _deployments.id.desc())
    return conn.execute(latest.limit(1)).scalar()


def _summary(row: Any, deployed: str | None) -> dict[str, Any]:
    return {
        "model_id": row.id,
        "snapshot_id": row.snapshot_id,
        "status": row.status,
        "deployed": row.id == deployed,
        "sha256": row.sha256,
        "shards": row.shards,
        "seed": row.seed,
        "created_at": iso_utc(row.created_at),
        "training_accuracy": row.card["training_metrics"]["training_accuracy"],
        "replaced_by": row.replaced_by,
        "unlearned_at": None if row.unlearned_at is None else iso_utc(row.unlearned_at),
    }


def _counts(skipped: dict[str, int]) -> str:
    return ", ".join(f"{reason}: {count}" for reason, count in skipped.items()) or "it has no items"
