"""The dataset snapshots' part of every erasure: an erased clip's items leave the snapshots that held them,
and those snapshots are marked superseded, since their manifest can no longer be rebuilt.

It lives in the store, below the learning stage that builds snapshots, so that the services import it and
no deletion runs without it (``services/__init__.py``).
"""

from __future__ import annotations

from collections import defaultdict

from sqlalchemy import Connection, delete, update

from clipwarden.store import Store
from clipwarden.store.erasure_steps import ALL_SUBJECTS, Artefact, ErasureScope, ErasureStep, register_erasure_step
from clipwarden.store.schema import dataset_items, dataset_snapshots

_IN_BATCH = 500  # ids per IN (...): both backends cap the parameters of one statement
_WHY = {"clip": "a clip was deleted", "household": "a household was erased", "retention": "clips expired"}


def _erase_items(conn: Connection, store: Store, scope: ErasureScope) -> list[Artefact]:
    held: dict[str, list[str]] = defaultdict(list)
    ids = list(scope.clip_ids)
    for start in range(0, len(ids), _IN_BATCH):
        batch = ids[start : start + _IN_BATCH]
        removed = conn.execute(
            delete(dataset_items)
            .where(dataset_items.c.clip_id.in_(batch))
            .returning(dataset_items.c.snapshot_id, dataset_items.c.clip_id)
        )
        for snapshot_id, clip_id in removed:
            held[snapshot_id].append(clip_id)
    for snapshot_id, clip_ids in held.items():
        conn.execute(
            update(dataset_snapshots)
            .where(dataset_snapshots.c.id == snapshot_id, dataset_snapshots.c.superseded_at.is_(None))
            .values(
                superseded_at=scope.at,
                superseded_reason=f"erasure: {_WHY[scope.subject_type]}; {len(clip_ids)} of its items removed",
            )
        )
    return [
        {"kind": "dataset_snapshot", "snapshot_id": snapshot_id, "clip_ids": sorted(clip_ids), "superseded": True}
        for snapshot_id, clip_ids in sorted(held.items())
    ]


register_erasure_step(ErasureStep("dataset_snapshots", ALL_SUBJECTS, _erase_items, order=41))
