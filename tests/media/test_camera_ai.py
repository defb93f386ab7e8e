"""The camera AI's baseline: plausible labels from the shapes in a motion track."""

from __future__ import annotations

from datetime import UTC, datetime

from clipwarden.domain import Camera, Placement
from clipwarden.media.camera_ai import classify
from clipwarden.media.capture import MotionTrack, capture_window
from clipwarden.media.motion import Box

from .scenes import Blob, frames

FPS = 10


def _camera(placement: Placement = "living_room") -> Camera:
    return Camera("cam-1", "hh-1", "Camera", placement, width=640, height=360, fps=FPS)


def _track(boxes: list[tuple[Box, ...]], idle: int = 100, global_change: int = 0) -> MotionTrack:
    frames_ = [*boxes, *[()] * idle]
    changes = [True] * global_change + [False] * (len(frames_) - global_change)
    return MotionTrack(FPS, tuple(frames_), tuple(changes))


def _moving(w: float, h: float, bottom: float, frames_: int = 40, speed: float = 0.01) -> list[tuple[Box, ...]]:
    return [(Box(0.1 + speed * i, bottom - h, w, h),) for i in range(frames_)]


TALL = _moving(w=0.1, h=0.55, bottom=0.9)
SMALL_LOW = _moving(w=0.08, h=0.1, bottom=0.95, speed=0.03)
WIDE = _moving(w=0.45, h=0.2, bottom=0.8)


def test_a_tall_blob_is_a_person_and_an_intruder_while_away() -> None:
    verdict = classify(_track(TALL), _camera(), away=True)
    assert (verdict.label, verdict.alert) == ("intruder", True)
    assert 0.5 < verdict.confidence <= 1


def test_a_person_at_home_is_a_resident_or_at_the_entrance_a_visitor() -> None:
    assert classify(_track(TALL), _camera(), away=False).label == "resident"
    assert classify(_track(TALL), _camera("entrance"), away=False).label == "visitor"
    assert not classify(_track(TALL), _camera("entrance"), away=False).alert


def test_a_small_low_quick_blob_is_a_pet_and_no_alert_even_while_away() -> None:
    verdict = classify(_track(SMALL_LOW), _camera(), away=True)
    assert (verdict.label, verdict.alert) == ("pet", False)


def test_a_wide_blob_is_a_vehicle_outdoors_only() -> None:
    assert classify(_track(WIDE), _camera("backyard"), away=True).label == "vehicle"
    assert classify(_track(WIDE), _camera("kitchen"), away=True).label != "vehicle"


def test_a_global_change_is_environment() -> None:
    verdict = classify(_track([], idle=200, global_change=2), _camera(), away=True)
    assert (verdict.label, verdict.alert) == ("environment", False)


def test_many_small_scattered_regions_are_environment() -> None:
    rain = [tuple(Box((i * 7 + k * 13) % 90 / 100, k / 10, 0.02, 0.03) for k in range(8)) for i in range(60)]
    assert classify(_track(rain), _camera("backyard"), away=True).label == "environment"


def test_nothing_much_is_no_event() -> None:
    verdict = classify(_track(TALL[:3], idle=200), _camera(), away=True)
    assert (verdict.label, verdict.alert) == ("no_event", False)


def test_a_recorded_walker_is_read_as_a_person() -> None:
    camera = Camera("cam-2", "hh-1", "Hall", "living_room", width=320, height=180, fps=FPS)
    scene = frames(320, 180, 300, [Blob(50, 90, 0.1, 0.9, 0.5, 0.1, 0.5)])
    (captured,) = capture_window(camera, datetime(2026, 1, 5, tzinfo=UTC), scene)
    assert classify(captured.track, camera, away=True).label == "intruder"
