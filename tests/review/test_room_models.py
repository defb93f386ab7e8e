"""The room model through what reviewers and owners do: built once per camera and day and reused by every view
of that day's clips, erased (and certified) with any clip it came from, never used once one of them is gone
or quarantined, and built again from the clips that remain."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Any

import numpy as np
import pytest
from sqlalchemy import select, update

from clipwarden import services
from clipwarden.media.redact import room_samples
from clipwarden.policy.decision import Actor
from clipwarden.services import owner, reviewer, room_models
from clipwarden.services.screening import quarantine
from clipwarden.services.users import add_user
from clipwarden.store import Store
from clipwarden.store.schema import clips, deletion_certificates
from clipwarden.store.schema import room_models as model_rows

REVIEW = "human_review_for_model_improvement"


class Builds:
    """Counts the clips whose room samples are decoded."""

    def __init__(self) -> None:
        self.clips = 0

    def __call__(self, media: Iterable[bytes]) -> list[np.ndarray]:
        samples = room_samples(media)
        self.clips += len(samples)
        return samples


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> Builds:
    counter = Builds()
    monkeypatch.setattr(room_models, "room_samples", counter)
    return counter


def _models(store: Store) -> list[Any]:
    with store.connect() as conn:
        return list(conn.execute(select(model_rows).order_by(model_rows.c.camera_id, model_rows.c.day)))


def _room(store: Store, fleet: Any, clip_id: str, count: int = 5) -> list[str]:
    """The clips whose samples a view of ``clip_id`` gets, told apart by their pixels."""
    found = room_models.room_for(store, clip_id, count, fleet.start + timedelta(hours=12))
    known = {other: room_samples([media])[0] for other, media in fleet.media.items()}
    return [next(other for other, sample in known.items() if np.array_equal(sample, kept)) for kept in found]


def _owner(store: Store, fleet: Any, household_id: str) -> Actor:
    user_id = add_user(store, "owner", household_id, None, fleet.start)["user_id"]
    return Actor(user_id, "owner", household_id=household_id)


def _reviewers_on_shared_clips(store: Store, fleet: Any, count: int) -> list[Actor]:
    """hh-plus's clips shared for review at us-sea, and ``count`` reviewers there."""
    at = fleet.start + timedelta(hours=4)
    owner_actor = _owner(store, fleet, "hh-plus")
    for clip_id in fleet.clip_ids["hh-plus"]:
        owner.share_clip(store, owner_actor, clip_id, [REVIEW], None, False, ["us-sea"], at)
    return [
        Actor(add_user(store, "reviewer", None, "us-sea", at)["user_id"], "reviewer", site="us-sea")
        for _ in range(count)
    ]


def test_views_of_a_camera_s_clips_of_one_day_build_its_model_once(store: Store, fleet: Any, builds: Builds) -> None:
    at = fleet.start + timedelta(hours=5)
    for number, who in enumerate(_reviewers_on_shared_clips(store, fleet, 3)):
        work = reviewer.request_work(store, who, f"credential-{number}", at)
        assert work is not None and work["redacted"]
    assert builds.clips == 3  # the day's 3 clips decoded once for 3 views
    [model] = _models(store)
    assert (model.camera_id, model.day, model.sources) == ("cam-hh-plus", fleet.start.date(), fleet.clip_ids["hh-plus"])
    assert room_models.model_store(store).exists(model.sha256)


def test_a_view_gets_the_nearest_other_valid_clips_of_its_camera_and_day(store: Store, fleet: Any) -> None:
    camera = fleet.camera_of(fleet.free)
    ids = list(fleet.clip_ids[fleet.free.id])
    for hour in range(3, 7):  # hours 0-2 come with the fleet; one clip an hour
        recording = fleet.recording(camera.id, fleet.start + timedelta(hours=hour), 500 + hour)
        ids.append(services.ingest_clip(store, recording, fleet.pet))
        fleet.media[ids[-1]] = recording.data
    assert _room(store, fleet, ids[3], 2) == [ids[2], ids[4]]  # the nearest first, on either side
    assert _room(store, fleet, ids[3], 4) == [ids[i] for i in (2, 4, 1, 5)]
    services.delete_clip(store, ids[2])
    with store.begin() as conn:
        quarantine(conn, ids[4], fleet.start, "private content")
    assert _room(store, fleet, ids[3], 2) == [ids[1], ids[5]]  # neither the deleted nor the quarantined one
    assert _room(store, fleet, ids[6], 9) == [ids[i] for i in (5, 3, 1, 0)]  # and only this camera's
    # Across midnight: the model of the next day holds the nearest clips before it too, and goes with them.
    next_day = services.ingest_clip(store, fleet.recording(camera.id, fleet.start + timedelta(days=1), 600), fleet.pet)
    assert _room(store, fleet, next_day, 2) == [ids[6], ids[5]]
    certificate = services.delete_clip(store, ids[6])
    days = [artefact["day"] for artefact in certificate["artefacts"] if artefact["kind"] == "room_model"]
    assert days == [fleet.start.date().isoformat(), (fleet.start + timedelta(days=1)).date().isoformat()]


def test_deleting_a_source_clip_erases_the_model_and_the_certificate_lists_it(store: Store, fleet: Any) -> None:
    first, second, third = fleet.clip_ids["hh-plus"]
    assert _room(store, fleet, first) == [second, third]
    [model] = _models(store)
    certificate = owner.delete_clip(store, _owner(store, fleet, "hh-plus"), second, fleet.start + timedelta(hours=6))
    listed = [artefact for artefact in certificate["artefacts"] if artefact["kind"] == "room_model"]
    assert listed == [
        {
            "kind": "room_model",
            "camera_id": "cam-hh-plus",
            "day": fleet.start.date().isoformat(),
            "sha256": model.sha256,
            "sources": [first, second, third],
        }
    ]
    assert certificate["verified"] and _models(store) == []
    assert not room_models.model_store(store).exists(model.sha256)
    assert _room(store, fleet, first) == [third]  # built again from the clips that remain
    assert [model.sources for model in _models(store)] == [[first, third]]


def test_expiry_and_household_erasure_erase_the_models_of_their_clips(store: Store, fleet: Any) -> None:
    for household in ("hh-free", "hh-plus"):
        _room(store, fleet, fleet.clip_ids[household][0])
    swept = services.sweep_retention(store, fleet.start + timedelta(hours=24, minutes=30))  # the free plan's first clip
    assert [model.camera_id for model in _models(store)] == ["cam-hh-plus"]
    with store.connect() as conn:
        certificate = conn.execute(
            select(deletion_certificates.c.document).where(deletion_certificates.c.id == swept["certificate_id"])
        ).scalar_one()
    assert [artefact["camera_id"] for artefact in certificate["artefacts"] if artefact["kind"] == "room_model"] == [
        "cam-hh-free"
    ]
    erased = owner.erase_household(store, _owner(store, fleet, "hh-plus"), "hh-plus", fleet.start + timedelta(hours=25))
    assert any(artefact["kind"] == "room_model" for artefact in erased["artefacts"])
    assert _models(store) == [] and not any(room_models.model_store(store).iter_paths())


def test_a_model_is_never_used_once_a_source_is_quarantined_or_expired(store: Store, fleet: Any) -> None:
    # Marked directly, as a path that skips the erasure step would: the check before each use still holds.
    first, second, third = fleet.clip_ids["hh-plus"]
    assert _room(store, fleet, first) == [second, third]
    with store.begin() as conn:
        quarantine(conn, second, fleet.start, "private content")
    assert _room(store, fleet, first) == [third]
    with store.begin() as conn:
        conn.execute(update(clips).where(clips.c.id == third).values(status="expired"))
    assert _room(store, fleet, first) == []
    assert _room(store, fleet, third) == [first]
    assert [model.sources for model in _models(store)] == [[first]]


def test_a_clip_past_its_retention_is_no_source_before_the_sweep_runs(store: Store, fleet: Any) -> None:
    first, second, third = fleet.clip_ids["hh-plus"]
    with store.begin() as conn:  # the plan's retention of the second clip ends before the view
        conn.execute(update(clips).where(clips.c.id == second).values(expires_at=fleet.start + timedelta(hours=6)))
    assert _room(store, fleet, first) == [third]


def test_stopping_a_view_for_private_content_erases_the_model(store: Store, fleet: Any) -> None:
    who = _reviewers_on_shared_clips(store, fleet, 1)[0]
    at = fleet.start + timedelta(hours=5)
    work = reviewer.request_work(store, who, "credential", at)
    assert work is not None and len(_models(store)) == 1
    sha256 = _models(store)[0].sha256
    reviewer.flag_private(store, who, work["task_token"], at)
    assert _models(store) == [] and not room_models.model_store(store).exists(sha256)
