"""The recorder: when clips start and end, how long they are, and what leaves the camera."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from clipwarden.domain import Camera
from clipwarden.media.capture import CapturedClip, CaptureSettings, capture_window, track_document, track_from_document
from clipwarden.media.codec import decode_frames, probe
from clipwarden.media.zones import zone_mask

from .scenes import Blob, frames

FPS = 10
START = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
CAMERA = Camera("cam-1", "hh-1", "Hall", "living_room", width=320, height=180, fps=FPS)
WHOLE_FRAME = ((0.0, 0.0), (1.0, 0.0), (1.0, 1.0), (0.0, 1.0))


def _capture(camera: Camera, seconds: float, blobs: list[Blob], light_on_at: int | None = None) -> list[CapturedClip]:
    scene = frames(camera.width, camera.height, round(seconds * FPS), blobs, light_on_at)
    return list(capture_window(camera, START, scene))


def _walker(start_s: float, end_s: float) -> Blob:
    return Blob(round(start_s * FPS), round(end_s * FPS), 0.1, 0.9, 0.5, 0.1, 0.5)


def test_one_event_makes_one_clip_starting_before_the_motion() -> None:
    (captured,) = _capture(CAMERA, 50, [_walker(10, 13)])
    clip = captured.clip
    # pre_s (5 s) before the motion, then at least min_s (20 s) in all.
    assert clip.started_at == START + timedelta(seconds=5)
    assert clip.duration_s == pytest.approx(CaptureSettings().min_s)
    assert (clip.camera_id, clip.width, clip.height, clip.fps, clip.codec) == ("cam-1", 320, 180, FPS, "h264")
    info = probe(clip.data)
    assert (info.frames, info.width, info.height) == (200, 320, 180)
    assert captured.track.frames == 200 and captured.track.fps == FPS
    moving = [i for i, boxes in enumerate(captured.track.boxes) if boxes]
    assert 49 <= moving[0] <= 51 and moving[-1] <= 81


def test_motion_longer_than_the_minimum_keeps_post_s_after_it() -> None:
    (captured,) = _capture(CAMERA, 60, [_walker(10, 25)])
    assert captured.clip.duration_s == pytest.approx(5 + 15 + 8, abs=0.3)


def test_motion_at_the_window_start_records_from_the_first_frame() -> None:
    (captured,) = _capture(CAMERA, 40, [_walker(1, 4)])
    assert captured.clip.started_at == START
    assert captured.clip.duration_s == pytest.approx(20)


def test_long_motion_is_split_into_back_to_back_clips_of_at_most_max_s() -> None:
    clips = [c.clip for c in _capture(CAMERA, 65, [_walker(10, 55)])]
    assert len(clips) == 2
    assert clips[0].started_at == START + timedelta(seconds=5)
    assert clips[0].duration_s == pytest.approx(30)
    assert clips[1].started_at == clips[0].started_at + timedelta(seconds=30)
    assert all(20 <= c.duration_s <= 30 for c in clips)


def test_a_clip_cut_short_by_the_end_of_the_window_is_dropped() -> None:
    assert _capture(CAMERA, 30, [_walker(20, 25)]) == []


def test_a_light_switched_on_triggers_a_clip_marked_as_a_global_change() -> None:
    (captured,) = _capture(CAMERA, 40, [], light_on_at=100)
    assert captured.clip.started_at == START + timedelta(seconds=5)
    assert any(captured.track.global_change) and not any(captured.track.boxes)


def test_the_track_records_each_frames_light_and_survives_storage_unchanged() -> None:
    (captured,) = _capture(CAMERA, 40, [_walker(10, 13)], light_on_at=300)
    track = captured.track
    assert len(track.brightness) == len(track.colour) == track.frames == probe(captured.clip.data).frames
    decoded = [float(frame[::8, ::8].mean()) for frame in decode_frames(captured.clip.data)]
    # Measured before encoding, within the codec's error of what the MP4 shows.
    assert np.allclose(track.brightness, decoded, atol=2.0)
    assert track_from_document(json.loads(json.dumps(track_document(track)))) == track


def test_motion_inside_a_motion_mask_records_nothing() -> None:
    camera = replace(CAMERA, motion_masks=(WHOLE_FRAME,))
    assert _capture(camera, 40, [_walker(10, 13)]) == []


def test_privacy_zones_are_black_in_the_clip_and_invisible_to_the_detector() -> None:
    zone = ((0.0, 0.0), (0.5, 0.0), (0.5, 1.0), (0.0, 1.0))
    camera = replace(CAMERA, placement="entrance", privacy_zones=(zone,))
    # One walker only inside the zone (ignored), then one crossing the whole frame (recorded).
    inside, crossing = Blob(50, 80, 0.1, 0.3, 0.5, 0.1, 0.5), Blob(150, 180, 0.1, 0.9, 0.5, 0.1, 0.5)
    (captured,) = _capture(camera, 35, [inside, crossing])
    # Triggered by the crossing walker once out of the zone (about 16.5 s in), not by the one inside it.
    assert START + timedelta(seconds=11) <= captured.clip.started_at <= START + timedelta(seconds=12)
    exact = zone_mask([zone], 320, 180, snap=1)
    assert exact is not None
    assert max(int(frame[exact > 0].max()) for frame in decode_frames(captured.clip.data)) <= 8
    assert all(box.x + box.w > 0.45 for boxes in captured.track.boxes for box in boxes)


def test_start_must_be_timezone_aware() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        list(capture_window(CAMERA, datetime(2026, 1, 5), iter([np.zeros((180, 320, 3), np.uint8)])))
