"""Erasure as a plan over every store that holds a person's data (after ethyca/fides).

Deleting a clip, erasing a household and expiring clips all run one plan. The caller fixes the scope
first (the subject and the clips it covers, as they were before anything changed); then each registered
``ErasureStep`` that applies removes what its part of the system holds and reports it as artefacts. The
artefacts, and each step's check afterwards that what it removed is gone, make the deletion certificate.

Later stages (review queues, renditions, exports, training sets) add their own steps with
``register_erasure_step`` (``store/erasure_steps.py``, below them all) when their module is imported.
Steps run by ``order`` inside the deletion's transaction, so a failing step undoes every row change; clip
media goes last, because deleted bytes cannot be rolled back.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, func, select, update

from clipwarden.services import erasure_requests
from clipwarden.store import Store, datasets
from clipwarden.store.erasure_steps import (
    ALL_SUBJECTS,
    Artefact,
    ErasureScope,
    ErasureStep,
    erasure_steps,
    register_erasure_step,
)
from clipwarden.store.schema import (
    cameras,
    clips,
    dataset_snapshots,
    deletion_certificates,
    households,
    mode_changes,
    models,
)
from clipwarden.times import iso_utc

_IN_BATCH = 500  # ids per IN (...): both backends cap the parameters of one statement


def erase(conn: Connection, store: Store, scope: ErasureScope, request_id: str | None = None) -> dict[str, Any]:
    """Run the steps that apply to ``scope`` in the caller's transaction; store and return the certificate.
    With ``request_id``, the erasure answers that request and closes it in the same transaction."""
    request = erasure_requests.open_request(conn, request_id) if request_id is not None else None
    reports = [(step, step.run(conn, store, scope)) for step in erasure_steps() if scope.subject_type in step.subjects]
    artefacts = [artefact for _, found in reports for artefact in found]
    verified = all(step.verify(store, found) for step, found in reports)
    certificate = build_certificate(f"cert_{uuid.uuid4().hex}", scope, artefacts, verified)
    if request is not None:
        certificate["request"] = {key: request[key] for key in ("id", "received_at", "deadline")}
        certificate["request"]["within_deadline"] = scope.at <= datetime.fromisoformat(request["deadline"])
    conn.execute(
        deletion_certificates.insert().values(
            id=certificate["certificate_id"],
            subject_type=scope.subject_type,
            subject_id=scope.subject_id,
            issued_at=scope.at,
            document=certificate,
        )
    )
    if request is not None:
        erasure_requests.close(conn, request["id"], certificate["certificate_id"], scope.at)
    return certificate


def build_certificate(
    certificate_id: str, scope: ErasureScope, artefacts: Sequence[Artefact], verified: bool
) -> dict[str, Any]:
    """The certificate; ``snapshots`` and ``models`` name the training sets and models that held the erased
    clips (their replacements are filled in by ``completed`` once the models were retrained), ``exports`` the
    dataset exports that carried them out of the system's reach."""
    return {
        "certificate_id": certificate_id,
        "subject": {"type": scope.subject_type, "id": scope.subject_id},
        "issued_at": iso_utc(scope.at),
        "artefacts": list(artefacts),
        "snapshots": [
            {"snapshot_id": found["snapshot_id"], "superseded_by": None}
            for found in artefacts
            if found["kind"] == "dataset_snapshot"
        ],
        "models": [
            {"model_id": found["model_id"], "replaced_by": None} for found in artefacts if found["kind"] == "model"
        ],
        # Copies that left the system before the erasure: named so that the owner knows, never claimed removed.
        "exports": [
            {key: found[key] for key in ("export_id", "snapshot_id", "format", "created_at")}
            for found in artefacts
            if found["kind"] == "dataset_export"
        ],
        "verified": verified,
    }


def completed(store: Store, certificate: dict[str, Any], at: datetime) -> dict[str, Any]:
    """Once the erasure committed: retrain the models it marked for unlearning, and name in the certificate
    the snapshots and models that replaced those that held the erased clips."""
    datasets.settle(store, at)
    if not certificate["snapshots"] and not certificate["models"]:
        return certificate
    with store.begin() as conn:
        for snapshot in certificate["snapshots"]:
            snapshot["superseded_by"] = conn.execute(
                select(dataset_snapshots.c.superseded_by).where(dataset_snapshots.c.id == snapshot["snapshot_id"])
            ).scalar()
        for model in certificate["models"]:
            replaced = select(models.c.replaced_by).where(models.c.id == model["model_id"])
            model["replaced_by"] = conn.execute(replaced).scalar()
        conn.execute(
            update(deletion_certificates)
            .where(deletion_certificates.c.id == certificate["certificate_id"])
            .values(document=certificate)
        )
    return certificate


# Built-in steps: the clip store and the household's own rows.


def _clip_rows(conn: Connection, store: Store, scope: ErasureScope) -> list[Artefact]:
    # The row stays as a tombstone (id, camera, start) so that a re-upload is recognised, not stored.
    retire = update(clips).values(
        status=scope.clip_status,
        deleted_at=scope.at,
        ai_label=None,
        ai_alert=None,
        ai_confidence=None,
        motion_track=None,
        thumbnail=None,
    )
    ids = scope.clip_ids
    for start in range(0, len(ids), _IN_BATCH):
        conn.execute(retire.where(clips.c.id.in_(ids[start : start + _IN_BATCH])))
    return [{"kind": "clip_row", "clip_id": clip.id, "status": scope.clip_status} for clip in scope.clips]


def _cameras(conn: Connection, store: Store, scope: ErasureScope) -> list[Artefact]:
    removed = conn.execute(
        delete(cameras).where(cameras.c.household_id == scope.subject_id).returning(cameras.c.id)
    ).scalars()
    return [{"kind": "camera", "camera_id": camera_id} for camera_id in sorted(removed)]


def _mode_changes(conn: Connection, store: Store, scope: ErasureScope) -> list[Artefact]:
    result = conn.execute(delete(mode_changes).where(mode_changes.c.household_id == scope.subject_id))
    return [{"kind": "mode_changes", "household_id": scope.subject_id, "rows": result.rowcount}]


def _household_personal_data(conn: Connection, store: Store, scope: ErasureScope) -> list[Artefact]:
    conn.execute(
        update(households)
        .where(households.c.id == scope.subject_id)
        .values(owner_name="", address="", status="erased", erased_at=scope.at)
    )
    fields = ["owner_name", "address"]
    return [{"kind": "household_personal_data", "household_id": scope.subject_id, "fields": fields}]


def _clip_media(conn: Connection, store: Store, scope: ErasureScope) -> list[Artefact]:
    # In hash order, so that concurrent erasures take the blobs' locks in one order.
    stored = sorted((clip for clip in scope.clips if clip.status == "stored"), key=lambda c: (c.sha256, c.id))
    artefacts = []
    for clip in stored:
        removed = _release_blob(conn, store, clip.sha256)
        artefact: Artefact = {
            "kind": "clip_media",
            "clip_id": clip.id,
            "sha256": clip.sha256,
            "bytes": clip.size_bytes,
            "removed": removed,
        }
        if not removed:
            artefact["kept_because"] = "another stored clip has identical bytes"
        artefacts.append(artefact)
    return artefacts


def _release_blob(conn: Connection, store: Store, sha256: str) -> bool:
    """Remove the blob unless a stored clip still uses the same bytes; True if it is gone. The clips in
    scope are no longer "stored" by now: the clip_rows step ran first."""
    store.lock_blob(conn, sha256)
    still_used = conn.execute(
        select(func.count()).select_from(clips).where(clips.c.blob_sha256 == sha256, clips.c.status == "stored")
    ).scalar_one()
    if not still_used:
        store.blobs.delete(sha256)
    return not store.blobs.exists(sha256)


def _clip_media_gone(store: Store, artefacts: list[Artefact]) -> bool:
    return all(not store.blobs.exists(artefact["sha256"]) for artefact in artefacts if artefact["removed"])


for _step in (
    ErasureStep("clip_rows", ALL_SUBJECTS, _clip_rows, order=10),
    ErasureStep("cameras", frozenset({"household"}), _cameras, order=20),
    ErasureStep("mode_changes", frozenset({"household"}), _mode_changes, order=20),
    ErasureStep("household_personal_data", frozenset({"household"}), _household_personal_data, order=30),
    ErasureStep("clip_media", ALL_SUBJECTS, _clip_media, _clip_media_gone, order=100),
):
    register_erasure_step(_step)
