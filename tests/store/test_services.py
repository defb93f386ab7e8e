"""The use cases over the store, on both backends: registration, ingest, deletion, erasure, retention."""

from __future__ import annotations

import hashlib
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import func, select

from clipwarden import services
from clipwarden.domain import Camera, Household, ModeChange
from clipwarden.errors import ClipwardenError, Conflict, NotFound
from clipwarden.media.capture import MotionTrack, track_from_document
from clipwarden.media.motion import Box
from clipwarden.services import erasure
from clipwarden.store import FileBlobStore, Store, erasure_steps
from clipwarden.store.erasure_steps import ErasureStep

if TYPE_CHECKING:
    from conftest import Fleet
from clipwarden.store.schema import cameras, clips, deletion_certificates, households, mode_changes


def _count(store: Store, table: object, *criteria: object) -> int:
    with store.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(table).where(*criteria)).scalar_one())  # type: ignore[arg-type]


# Registration and modes


def test_registering_twice_updates_in_place(store: Store) -> None:
    services.register_household(store, Household("h1", "EU", "free", "Ada", "1 Street"))
    services.register_household(store, Household("h1", "EU", "plus", "Ada", "2 Street"))
    with store.connect() as conn:
        row = conn.execute(select(households)).one()
    assert (row.plan, row.address, row.status) == ("plus", "2 Street", "active")


@pytest.mark.parametrize(
    "household",
    [Household("h1", "XX", "free"), Household("h1", "EU", "gold")],  # type: ignore[arg-type]
    ids=["jurisdiction", "plan"],
)
def test_unknown_jurisdictions_and_plans_are_refused(store: Store, household: Household) -> None:
    with pytest.raises(ClipwardenError):
        services.register_household(store, household)
    assert _count(store, households) == 0


def test_cameras_need_an_active_household_and_keep_their_owner(store: Store) -> None:
    with pytest.raises(NotFound, match="unknown household id: nobody"):
        services.register_camera(store, Camera("c1", "nobody", "Door", "entrance"))
    services.register_household(store, Household("h1", "EU"))
    services.register_household(store, Household("h2", "EU"))
    services.register_camera(store, Camera("c1", "h1", "Door", "entrance", motion_masks=(((0, 0), (1, 0), (1, 1)),)))
    services.register_camera(store, Camera("c1", "h1", "Front door", "entrance"))
    with pytest.raises(Conflict, match="belongs to household h1"):
        services.register_camera(store, Camera("c1", "h2", "Door", "entrance"))
    with store.connect() as conn:
        row = conn.execute(select(cameras)).one()
    assert (row.household_id, row.name, row.motion_masks) == ("h1", "Front door", [])


def test_mode_is_the_latest_switch_at_or_before_the_time(store: Store) -> None:
    services.register_household(store, Household("h1", "EU"))
    start = datetime(2025, 6, 1, 18, tzinfo=UTC)
    changes = [ModeChange("h1", start, "away"), ModeChange("h1", start + timedelta(hours=2), "home")]
    services.record_mode_changes(store, changes)
    services.record_mode_changes(store, changes)  # a repeated report changes nothing
    assert _count(store, mode_changes) == 2
    assert services.mode_at(store, "h1", start - timedelta(seconds=1)) == "home"
    assert services.mode_at(store, "h1", start) == "away"
    assert services.mode_at(store, "h1", start + timedelta(hours=1)) == "away"
    assert services.mode_at(store, "h1", start + timedelta(hours=2)) == "home"
    with pytest.raises(NotFound):
        services.mode_at(store, "nobody", start)


# Ingest


def test_ingest_stores_the_row_and_the_bytes(store: Store, fleet: Fleet) -> None:
    clip_id = fleet.clip_ids["hh-free"][0]
    clip = services.get_clip(store, clip_id)
    assert clip["id"].startswith("clip_")
    assert (clip["household_id"], clip["camera_id"], clip["status"]) == ("hh-free", "cam-hh-free", "stored")
    assert clip["started_at"] == "2025-01-01T08:00:00Z"
    assert (clip["ai_label"], clip["ai_alert"]) == ("intruder", True)
    assert clip["sha256"] == fleet.sha256(clip_id)
    assert store.blobs.get(clip["sha256"]) == fleet.media[clip_id]


def test_the_motion_track_is_stored_with_the_clip_and_goes_with_its_media(store: Store, fleet: Fleet) -> None:
    track = MotionTrack(10, ((), (Box(0.1, 0.2, 0.3, 0.4),)), (False, True), (12.5, 80.25), (0.5, 3.0))
    recording = fleet.recording("cam-hh-free", fleet.start + timedelta(minutes=5), seed=9)
    clip_id = services.ingest_clip(store, recording, fleet.pet, track)
    stored = _motion_track(store, clip_id)
    assert stored is not None and track_from_document(stored) == track
    assert _motion_track(store, fleet.clip_ids["hh-free"][0]) is None  # uploaded without one
    services.delete_clip(store, clip_id)
    assert _count(store, clips, clips.c.id == clip_id, clips.c.motion_track.is_(None)) == 1  # SQL NULL, not 'null'


def _motion_track(store: Store, clip_id: str) -> dict[str, object] | None:
    with store.connect() as conn:
        document: dict[str, object] | None = conn.execute(
            select(clips.c.motion_track).where(clips.c.id == clip_id)
        ).scalar_one()
    return document


def test_ingest_is_idempotent(store: Store, fleet: Fleet) -> None:
    again = services.ingest_clip(store, fleet.recording("cam-hh-free", fleet.start, seed=0), fleet.pet)
    assert again == fleet.clip_ids["hh-free"][0]
    assert _count(store, clips) == 6
    assert len(fleet.files_in_blob_dir(store.data_dir)) == 6


def test_a_deleted_clip_uploaded_again_stays_deleted(store: Store, fleet: Fleet) -> None:
    clip_id = fleet.clip_ids["hh-free"][0]
    services.delete_clip(store, clip_id)
    assert services.ingest_clip(store, fleet.recording("cam-hh-free", fleet.start, seed=0), fleet.pet) == clip_id
    assert services.get_clip(store, clip_id)["status"] == "deleted"
    assert not store.blobs.exists(fleet.sha256(clip_id))


def test_ingest_refuses_unknown_cameras_and_naive_times(store: Store, fleet: Fleet) -> None:
    with pytest.raises(NotFound, match="unknown camera id: cam-x"):
        services.ingest_clip(store, fleet.recording("cam-x", fleet.start, seed=99), fleet.pet)
    naive = replace(fleet.recording("cam-hh-free", fleet.start, seed=99), started_at=fleet.start.replace(tzinfo=None))
    with pytest.raises(ClipwardenError, match="no time zone"):
        services.ingest_clip(store, naive, fleet.pet)
    assert _count(store, clips) == 6
    assert hashlib.sha256(fleet.recording("x", fleet.start, 99).data).hexdigest() not in fleet.files_in_blob_dir(
        store.data_dir
    )


def test_retention_follows_the_plan(store: Store, fleet: Fleet) -> None:
    free = services.get_clip(store, fleet.clip_ids["hh-free"][0])
    plus = services.get_clip(store, fleet.clip_ids["hh-plus"][0])
    assert free["expires_at"] == "2025-01-02T08:00:00Z"  # 24 hours
    assert plus["expires_at"] == "2025-01-31T08:00:00Z"  # 30 days


# Listing and export


def test_list_shows_stored_clips_in_recording_order(store: Store, fleet: Fleet) -> None:
    listed = services.list_clips(store, "hh-plus")
    assert [clip["id"] for clip in listed] == fleet.clip_ids["hh-plus"]
    assert len(services.list_clips(store)) == 6
    with pytest.raises(NotFound, match="unknown household id: nobody"):
        services.list_clips(store, "nobody")


def test_export_writes_the_exact_bytes(store: Store, fleet: Fleet, tmp_path: Path) -> None:
    clip_id = fleet.clip_ids["hh-plus"][1]
    exported = services.export_clip(store, clip_id, tmp_path / "copy.mp4")
    assert (tmp_path / "copy.mp4").read_bytes() == fleet.media[clip_id]
    assert exported == {
        "id": clip_id,
        "path": str(tmp_path / "copy.mp4"),
        "sha256": fleet.sha256(clip_id),
    }
    into_dir = services.export_clip(store, clip_id, tmp_path)
    assert Path(into_dir["path"]) == tmp_path / f"{clip_id}.mp4"


def test_export_refuses_corrupt_media_and_writes_nothing(store: Store, fleet: Fleet, tmp_path: Path) -> None:
    clip_id = fleet.clip_ids["hh-plus"][1]
    sha = services.get_clip(store, clip_id)["sha256"]
    assert isinstance(store.blobs, FileBlobStore)
    store.blobs.path(sha).write_bytes(b"tampered")
    with pytest.raises(ClipwardenError, match="corrupt"):
        services.export_clip(store, clip_id, tmp_path / "copy.mp4")
    assert not (tmp_path / "copy.mp4").exists()


# Deletion


def test_delete_removes_the_media_and_certifies_it(store: Store, fleet: Fleet) -> None:
    clip_id = fleet.clip_ids["hh-free"][1]
    sha = fleet.sha256(clip_id)
    certificate = services.delete_clip(store, clip_id)
    assert certificate["subject"] == {"type": "clip", "id": clip_id}
    assert certificate["verified"] is True
    assert {"kind": "clip_row", "clip_id": clip_id, "status": "deleted"} in certificate["artefacts"]
    media = [a for a in certificate["artefacts"] if a["kind"] == "clip_media"]
    assert media == [
        {
            "kind": "clip_media",
            "clip_id": clip_id,
            "sha256": sha,
            "bytes": len(fleet.media[clip_id]),
            "removed": True,
        }
    ]
    assert sha not in fleet.files_in_blob_dir(store.data_dir)
    assert clip_id not in [clip["id"] for clip in services.list_clips(store)]
    with store.connect() as conn:
        stored = conn.execute(select(deletion_certificates.c.document)).scalar_one()
        row = conn.execute(select(clips).where(clips.c.id == clip_id)).one()
    assert stored == certificate
    assert (row.status, row.ai_label, row.deleted_at is not None) == ("deleted", None, True)


def test_deleting_twice_or_an_unknown_clip_is_refused(store: Store, fleet: Fleet) -> None:
    clip_id = fleet.clip_ids["hh-free"][1]
    services.delete_clip(store, clip_id)
    with pytest.raises(Conflict, match=f"clip {clip_id} is already deleted"):
        services.delete_clip(store, clip_id)
    with pytest.raises(NotFound, match="unknown clip id: clip_nope"):
        services.delete_clip(store, "clip_nope")
    assert _count(store, deletion_certificates) == 1


def test_bytes_shared_by_two_clips_go_with_the_last_one(store: Store, fleet: Fleet) -> None:
    services.register_camera(store, Camera("cam-2", "hh-free", "Garden", "backyard"))
    twin = services.ingest_clip(
        store, fleet.recording("cam-2", fleet.start, seed=0), fleet.pet
    )  # same bytes as the first clip
    first = fleet.clip_ids["hh-free"][0]
    sha = fleet.sha256(first)
    kept = services.delete_clip(store, first)
    assert [a["removed"] for a in kept["artefacts"] if a["kind"] == "clip_media"] == [False]
    assert kept["verified"] is True
    assert store.blobs.get(sha) == fleet.media[first]
    gone = services.delete_clip(store, twin)
    assert [a["removed"] for a in gone["artefacts"] if a["kind"] == "clip_media"] == [True]
    assert not store.blobs.exists(sha)


def test_later_stages_add_their_own_erasure_steps(store: Store, fleet: Fleet, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(erasure_steps, "_STEPS", list(erasure_steps.erasure_steps()))
    seen: list[tuple[str, ...]] = []

    def review_queue(conn: object, store: Store, scope: erasure_steps.ErasureScope) -> list[dict[str, object]]:
        seen.append(scope.clip_ids)
        return [{"kind": "review_task", "clip_id": clip_id} for clip_id in scope.clip_ids]

    erasure_steps.register_erasure_step(ErasureStep("review_queue", erasure_steps.ALL_SUBJECTS, review_queue))
    clip_id = fleet.clip_ids["hh-free"][0]
    certificate = services.delete_clip(store, clip_id)
    assert seen == [(clip_id,)]
    assert {"kind": "review_task", "clip_id": clip_id} in certificate["artefacts"]
    with pytest.raises(ValueError, match="registered already"):
        erasure_steps.register_erasure_step(ErasureStep("review_queue", erasure_steps.ALL_SUBJECTS, review_queue))


def test_a_failing_step_leaves_the_clip_and_its_bytes_in_place(
    store: Store, fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(erasure_steps, "_STEPS", list(erasure_steps.erasure_steps()))

    def broken(conn: object, store: Store, scope: erasure_steps.ErasureScope) -> list[dict[str, object]]:
        raise RuntimeError("the training-set store is down")

    erasure_steps.register_erasure_step(ErasureStep("training_sets", erasure_steps.ALL_SUBJECTS, broken))
    clip_id = fleet.clip_ids["hh-free"][0]
    with pytest.raises(RuntimeError):
        services.delete_clip(store, clip_id)
    assert services.get_clip(store, clip_id)["status"] == "stored"
    assert store.blobs.get(services.get_clip(store, clip_id)["sha256"]) == fleet.media[clip_id]
    assert _count(store, deletion_certificates) == 0


# Household erasure


def test_erasing_a_household_removes_its_media_and_personal_data(store: Store, fleet: Fleet) -> None:
    services.record_mode_changes(store, [ModeChange("hh-free", fleet.start, "away")])
    free_shas = {fleet.sha256(c) for c in fleet.clip_ids["hh-free"]}
    certificate = services.erase_household(store, "hh-free")
    assert certificate["subject"] == {"type": "household", "id": "hh-free"}
    assert certificate["verified"] is True
    kinds = [a["kind"] for a in certificate["artefacts"]]
    assert kinds.count("clip_media") == kinds.count("clip_row") == 3
    assert {"kind": "camera", "camera_id": "cam-hh-free"} in certificate["artefacts"]
    assert {"kind": "mode_changes", "household_id": "hh-free", "rows": 1} in certificate["artefacts"]
    assert free_shas.isdisjoint(fleet.files_in_blob_dir(store.data_dir))
    assert len(fleet.files_in_blob_dir(store.data_dir)) == 3  # the other household's
    with store.connect() as conn:
        row = conn.execute(select(households).where(households.c.id == "hh-free")).one()
    assert (row.owner_name, row.address, row.status) == ("", "", "erased")
    assert _count(store, cameras, cameras.c.household_id == "hh-free") == 0
    assert _count(store, mode_changes) == 0
    assert services.list_clips(store, "hh-free") == []
    assert [c["id"] for c in services.list_clips(store, "hh-plus")] == fleet.clip_ids["hh-plus"]


def test_an_erased_household_stays_erased(store: Store, fleet: Fleet) -> None:
    services.erase_household(store, "hh-free")
    with pytest.raises(Conflict, match="hh-free is erased"):
        services.erase_household(store, "hh-free")
    with pytest.raises(ClipwardenError, match="was erased"):
        services.register_household(store, fleet.free)
    with pytest.raises(ClipwardenError):
        services.register_camera(store, fleet.camera_of(fleet.free))
    with pytest.raises(ClipwardenError):
        services.ingest_clip(store, fleet.recording("cam-hh-free", fleet.start + timedelta(days=1), seed=77), fleet.pet)
    assert services.list_clips(store, "hh-free", statuses=("stored", "deleted", "expired"))[0]["status"] == "deleted"
    assert hashlib.sha256(fleet.recording("x", fleet.start, 77).data).hexdigest() not in fleet.files_in_blob_dir(
        store.data_dir
    )


# Retention


def test_sweep_expires_exactly_the_clips_past_retention(store: Store, fleet: Fleet) -> None:
    assert services.sweep_retention(store, fleet.start + timedelta(hours=23)) == {
        "expired": [],
        "certificate_id": None,
    }
    assert len(services.list_clips(store)) == 6
    # Free keeps 24 hours: 25 hours on, the first two free clips (at +0h, +1h) are past it, the third is not.
    swept = services.sweep_retention(store, fleet.start + timedelta(hours=25))
    assert swept["expired"] == fleet.clip_ids["hh-free"][:2]
    gone = {fleet.sha256(c) for c in swept["expired"]}
    assert gone.isdisjoint(fleet.files_in_blob_dir(store.data_dir))
    assert len(fleet.files_in_blob_dir(store.data_dir)) == 4
    assert services.get_clip(store, swept["expired"][0])["status"] == "expired"
    # Plus keeps 30 days.
    assert services.sweep_retention(store, fleet.start + timedelta(days=29))["expired"] == fleet.clip_ids["hh-free"][2:]
    assert services.sweep_retention(store, fleet.start + timedelta(days=31))["expired"] == fleet.clip_ids["hh-plus"]
    assert fleet.files_in_blob_dir(store.data_dir) == set()
    assert services.list_clips(store) == []


def test_fleet_stats_count_stored_clips(store: Store, fleet: Fleet) -> None:
    services.delete_clip(store, fleet.clip_ids["hh-plus"][0])
    stats = services.fleet_stats(store)
    assert stats == {
        "clips": 5,
        "clips_by_label": {"intruder": 1, "pet": 4},
        "alerts": 1,
        "bytes_stored": sum(len(fleet.media[c]) for c in fleet.clip_ids["hh-free"] + fleet.clip_ids["hh-plus"][1:]),
        "households": 2,
        "cameras": 2,
    }


def test_erasures_larger_than_one_statement_go_in_batches(
    store: Store, fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(erasure, "_IN_BATCH", 4)
    swept = services.sweep_retention(store, fleet.start + timedelta(days=365))
    assert sorted(swept["expired"]) == sorted(fleet.all_clip_ids)
    every = services.list_clips(store, statuses=("stored", "deleted", "expired"))
    assert [clip["status"] for clip in every] == ["expired"] * 6
