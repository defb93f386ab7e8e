"""The sensitive-content screen: private scenes are flagged from pixels and placement, ordinary ones are not.

Scenes come from the simulator, recorded the way the pipeline records them; the tests read its ground
truth to pick windows (they are evaluation code), which clipwarden.media.screen never does. A few
synthetic clips pin down single signals.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from datetime import timedelta

import cv2
import numpy as np
import pytest

from clipwarden.domain import Camera, Placement
from clipwarden.errors import ClipwardenError
from clipwarden.media.capture import CapturedClip, capture_window
from clipwarden.media.codec import encode_mp4
from clipwarden.media.screen import ScreenResult, ScreenSettings, screen_clip
from clipwarden.sim import ActivityWindow, SimConfig, SimFleet, build_fleet
from clipwarden.sim.truth import TruthEvent

from .scenes import Blob

SKIN = "large skin-coloured area"
PAIR = "two people close together"
PERSON = "a person in view"
CONTENT = {SKIN, PAIR, PERSON}  # what a clip shows, as against where and when it was taken
# UTC hours that are midday where each jurisdiction's households live (local offsets in clipwarden.sim.world).
MIDDAY_UTC = {"US": range(18, 21), "EU": range(11, 14), "IN": range(6, 9)}


@pytest.fixture(scope="module")
def fleet() -> SimFleet:
    # Private scenes at 2 per household-day: enough to find some, too few to overlap (lamps stay on).
    # Half the default resolution keeps rendering quick; the screen shrinks frames to 160 columns anyway.
    return build_fleet(SimConfig(seed=3, households=6, private_scene_rate=2.0, width=320, height=180))


def _events(fleet: SimFleet, window: ActivityWindow) -> list[TruthEvent]:
    end = window.start + timedelta(seconds=window.n_frames / fleet.config.fps)
    return [e for e in fleet.truth() if e.camera_id == window.camera_id and e.start < end and e.end > window.start]


def _windows(
    fleet: SimFleet, wanted: Callable[[Camera, ActivityWindow, list[TruthEvent]], bool]
) -> list[ActivityWindow]:
    cameras = {camera.id: camera for camera in fleet.cameras}
    return [w for w in fleet.windows() if wanted(cameras[w.camera_id], w, _events(fleet, w))]


def _record(fleet: SimFleet, window: ActivityWindow) -> list[CapturedClip]:
    camera = next(c for c in fleet.cameras if c.id == window.camera_id)
    return list(capture_window(camera, window.start, fleet.render(window)))


def _shows(clip: CapturedClip, event: TruthEvent) -> bool:
    """Whether any frame of the clip falls inside the event."""
    recorded = clip.clip
    frame_times = (
        recorded.started_at + timedelta(seconds=k / recorded.fps)
        for k in range(round(recorded.duration_s * recorded.fps))
    )
    return any(event.start <= at < event.end for at in frame_times)


def _placement(fleet: SimFleet, clip: CapturedClip) -> Placement:
    return next(c.placement for c in fleet.cameras if c.id == clip.clip.camera_id)


def test_private_scenes_from_the_simulator_are_flagged_with_what_they_show(fleet: SimFleet) -> None:
    windows = _windows(fleet, lambda _, __, events: any(e.sensitive for e in events))[:2]
    assert len(windows) == 2
    for window in windows:
        scene = next(e for e in _events(fleet, window) if e.sensitive)
        clips = [clip for clip in _record(fleet, window) if _shows(clip, scene)]
        assert clips
        for clip in clips:
            result = screen_clip(clip.clip.data, _placement(fleet, clip))
            assert result.flagged, (clip.clip.started_at, result)
            assert CONTENT & set(result.reasons), result
            assert "bedroom camera" in result.reasons


@pytest.mark.parametrize(
    "kind",
    ["cat", "resident", "lights"],
)
def test_ordinary_scenes_from_the_simulator_are_not_flagged(fleet: SimFleet, kind: str) -> None:
    households = {h.id: h for h in fleet.households}

    def wanted(camera: Camera, window: ActivityWindow, events: list[TruthEvent]) -> bool:
        if [e.kind for e in events] != [kind]:
            return False
        if kind != "resident":
            return True
        # A single resident walking in a living room in daylight.
        midday = MIDDAY_UTC[households[camera.household_id].jurisdiction]
        return camera.placement == "living_room" and window.start.hour in midday

    window = _windows(fleet, wanted)[0]
    clips = _record(fleet, window)
    assert clips
    for clip in clips:
        result = screen_clip(clip.clip.data, _placement(fleet, clip))
        assert not result.flagged, result
        assert PAIR not in result.reasons, result


# Synthetic clips: a dim bedroom with skin-coloured walls, where the context (dark, bedroom) is all there.

WIDTH, HEIGHT, FPS = 320, 180, 10
WALL = (50, 60, 80)  # BGR: a beige wall under a dim lamp, inside the skin ranges
SKIN_TONE = (95, 125, 170)
CLOTHES = (120, 60, 40)


def _dim_bedroom(blobs: list[Blob], seconds: float = 20) -> bytes:
    rng = np.random.default_rng(0)
    base = np.empty((HEIGHT, WIDTH, 3), np.uint8)
    base[:] = WALL
    count = round(seconds * FPS)
    scene = []
    for i in range(count):
        frame = base.copy()
        for blob in blobs:
            if blob.start <= i < blob.end:
                t = (i - blob.start) / max(1, blob.end - blob.start - 1)
                centre = (round((blob.x0 + (blob.x1 - blob.x0) * t) * WIDTH), round(blob.y * HEIGHT))
                axes = (round(blob.w * WIDTH / 2), round(blob.h * HEIGHT / 2))
                cv2.ellipse(frame, centre, axes, 0, 0, 360, blob.colour, -1)
        scene.append(cv2.add(frame, rng.integers(0, 3, frame.shape, np.uint8)))
    return encode_mp4(scene, WIDTH, HEIGHT, FPS)


def _person(x0: float, x1: float, colour: tuple[int, int, int]) -> Blob:
    """A person-sized upright ellipse crossing the room from 5 s to 15 s."""
    return Blob(5 * FPS, 15 * FPS, x0, x1, 0.55, 0.12, 0.6, colour)


def test_a_skin_coloured_wall_with_nothing_moving_is_not_flagged() -> None:
    result = screen_clip(_dim_bedroom([]), "bedroom")
    assert not result.flagged
    assert result.reasons == ("dark picture", "bedroom camera")


def test_a_clothed_person_walking_past_a_skin_coloured_wall_shows_no_skin() -> None:
    result = screen_clip(_dim_bedroom([_person(0.2, 0.8, CLOTHES)]), "living_room")
    assert result.reasons == (PERSON, "dark picture")
    assert not result.flagged


def test_anyone_in_a_dark_bedroom_is_held_even_without_skin_showing() -> None:
    # Night vision shows no colour, and two people one behind the other make one blob: recall first.
    result = screen_clip(_dim_bedroom([_person(0.2, 0.8, CLOTHES)]), "bedroom")
    assert result.flagged
    assert result.reasons == (PERSON, "dark picture", "bedroom camera")


def test_two_bare_people_close_together_are_flagged_for_what_they_show() -> None:
    pair = [_person(0.2, 0.6, SKIN_TONE), _person(0.34, 0.74, SKIN_TONE)]
    result = screen_clip(_dim_bedroom(pair), "bedroom")
    assert result.flagged
    assert {SKIN, PAIR} <= set(result.reasons)
    # The same pixels from a living-room camera still score lower: placement is one of the signals.
    elsewhere = screen_clip(_dim_bedroom(pair), "living_room")
    assert elsewhere.score < result.score and "bedroom camera" not in elsewhere.reasons


def test_the_threshold_and_weights_are_settings() -> None:
    data = _dim_bedroom([])
    default = screen_clip(data, "bedroom")
    assert not default.flagged
    assert screen_clip(data, "bedroom", replace(ScreenSettings(), threshold=default.score)).flagged
    no_context = replace(ScreenSettings(), weight_light=0.0, weight_bedroom=0.0)
    assert screen_clip(data, "bedroom", no_context).score == 0.0


@pytest.mark.parametrize("data", [b"", b"not a video at all", b"\x00\x00\x00\x18ftypmp42" + bytes(200)])
def test_bytes_that_are_not_a_video_raise(data: bytes) -> None:
    with pytest.raises(ClipwardenError, match="not a playable video"):
        screen_clip(data, "bedroom")


def test_the_result_reads_as_plain_data() -> None:
    result = ScreenResult(flagged=True, score=0.8, reasons=(SKIN, "dark picture"))
    assert result.as_dict() == {"flagged": True, "score": 0.8, "reasons": [SKIN, "dark picture"]}
    assert json.loads(json.dumps(result.as_dict())) == result.as_dict()
