"""Rendered frames: the right shape, reproducible in any order or process, still when idle, moving if not."""

from __future__ import annotations

import hashlib
import itertools
import subprocess
import sys
from collections.abc import Iterable
from datetime import timedelta

import cv2
import numpy as np
import pytest

from clipwarden.errors import NotFound
from clipwarden.sim import ActivityWindow, SimConfig, SimFleet, build_fleet
from clipwarden.sim.events import LEAD_S, TAIL_S
from clipwarden.sim.truth import TruthEvent


@pytest.fixture(scope="module")
def fleet() -> SimFleet:
    return build_fleet(SimConfig())


def _digest(frames: Iterable[np.ndarray]) -> str:
    h = hashlib.sha256()
    for frame in frames:
        h.update(frame.tobytes())
    return h.hexdigest()


def _first_window_with(fleet: SimFleet, kind: str) -> tuple[ActivityWindow, TruthEvent]:
    """The first window whose first event is of ``kind``, and that event."""
    truth = fleet.truth()
    for window in fleet.windows():
        end = window.start + timedelta(seconds=window.n_frames / fleet.config.fps)
        events = [e for e in truth if e.camera_id == window.camera_id and window.start <= e.start < end]
        if events and events[0].kind == kind:
            return window, events[0]
    raise AssertionError(f"no window starts with a {kind}")


def _short_windows(fleet: SimFleet, count: int) -> list[ActivityWindow]:
    return sorted(fleet.windows(), key=lambda w: (w.n_frames, w.id))[:count]


def test_frames_have_the_configured_shape(fleet: SimFleet) -> None:
    window = _short_windows(fleet, 1)[0]
    frames = list(fleet.render(window))
    assert len(frames) == window.n_frames
    for frame in frames:
        assert frame.shape == (360, 640, 3) and frame.dtype == np.uint8 and frame.flags.c_contiguous
        assert frame.flags.writeable
    assert not any(np.shares_memory(a, b) for a, b in itertools.pairwise(frames))


def test_rendering_is_the_same_in_any_order(fleet: SimFleet) -> None:
    windows = _short_windows(fleet, 3)
    forward = {w.id: _digest(fleet.render(w)) for w in windows}
    fresh = build_fleet(SimConfig())
    backward = {w.id: _digest(fresh.render(w)) for w in reversed(windows)}
    assert forward == backward
    assert len(set(forward.values())) == 3


def test_rendering_is_the_same_in_another_process(fleet: SimFleet) -> None:
    window = _short_windows(fleet, 1)[0]
    script = (
        "import hashlib; from clipwarden.sim import SimConfig, build_fleet\n"
        "f = build_fleet(SimConfig()); h = hashlib.sha256()\n"
        f"w = next(w for w in f.windows() if w.id == {window.id!r})\n"
        "[h.update(x.tobytes()) for x in f.render(w)]\nprint(h.hexdigest())\n"
    )
    out = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == _digest(fleet.render(window))


def test_full_hd_at_30_fps_renders() -> None:
    big = build_fleet(SimConfig(width=1920, height=1080, fps=30, households=1))
    window = _short_windows(big, 1)[0]
    count = 0
    for frame in big.render(window):
        assert frame.shape == (1080, 1920, 3)
        count += 1
    assert count == window.n_frames and count >= (LEAD_S + TAIL_S) * 30


def test_an_unknown_window_is_not_found(fleet: SimFleet) -> None:
    window = fleet.windows()[0]
    with pytest.raises(NotFound):
        fleet.render(ActivityWindow("cam-7-0000-0/w9999", window.camera_id, window.start, 10))
    with pytest.raises(NotFound):
        fleet.render(ActivityWindow(window.id, window.camera_id, window.start, window.n_frames + 1))


@pytest.mark.parametrize(
    "kind",
    ["resident", "intruder", "visitor", "cat", "car", "lights", "insect", "sun_patch", "curtain", "tree"],
)
def test_frames_are_still_in_the_lead_in_and_change_during_the_event(fleet: SimFleet, kind: str) -> None:
    window, event = _first_window_with(fleet, kind)
    fps = fleet.config.fps
    first = round((event.start - window.start).total_seconds() * fps)
    last = round((event.end - window.start).total_seconds() * fps)
    assert first >= LEAD_S * fps
    frames = itertools.islice(fleet.render(window), last)
    background = previous = quiet = next(frames)

    def changed(frame: np.ndarray) -> np.ndarray:  # far beyond sensor noise; infrared is low-contrast
        return cv2.cvtColor(cv2.absdiff(frame, background), cv2.COLOR_BGR2GRAY) > 25

    steps, lead_in_changes, event_changes, contrasts = [], [], [], []
    for k, frame in enumerate(frames, start=1):
        if k < first:
            steps.append(float(cv2.absdiff(frame, previous).mean()))
            lead_in_changes.append(float(changed(frame).mean()))
            quiet = frame
        elif k > first and k % 2:
            mask = changed(frame)
            event_changes.append(float(mask.mean()))
            # Around what changed, frames differ far more than the lead-in's noise does in the same place.
            region = cv2.dilate(mask.view(np.uint8), np.ones((7, 7), np.uint8)) > 0
            if region.any():
                noise = max(1.0, float(cv2.absdiff(quiet, background)[region].mean()))
                contrasts.append(float(cv2.absdiff(frame, background)[region].mean()) / noise)
        previous = frame
    assert max(steps) < 6.0, "the idle lead-in shows only sensor noise"
    assert max(lead_in_changes) < 1e-4
    assert max(event_changes) > 5e-4, f"{kind}: too few pixels change during the event"
    assert max(contrasts) > 3.0, f"{kind}: {max(contrasts):.1f}"


def test_outdoor_cameras_see_in_infrared_at_night(fleet: SimFleet) -> None:
    window, _ = _first_window_with(fleet, "insect")  # insects come to the lens only after dark
    frame = next(iter(fleet.render(window)))
    assert np.array_equal(frame[..., 0], frame[..., 1]) and np.array_equal(frame[..., 1], frame[..., 2])


def test_private_scene_shows_large_skin_areas_in_a_dim_room(fleet: SimFleet) -> None:
    scene = next(e for e in fleet.truth() if e.sensitive)
    window = [w for w in fleet.windows(scene.camera_id) if w.start <= scene.start][-1]
    fps = fleet.config.fps
    frames = list(fleet.render(window))
    middle = frames[round(((scene.start - window.start).total_seconds() + 15) * fps)]
    idle = frames[0]

    def skin(frame: np.ndarray) -> np.ndarray:
        ycrcb = cv2.cvtColor(frame, cv2.COLOR_BGR2YCrCb)
        return cv2.inRange(ycrcb, (0, 133, 77), (255, 173, 127)) > 0

    changed = cv2.absdiff(middle, idle).max(axis=2) > 30
    assert float((changed & skin(middle)).mean()) > 0.01, "skin-coloured areas appear where the people are"
    assert float(idle.mean()) < 110, "the bedroom is dim"
    assert not np.array_equal(idle[..., 0], idle[..., 2]), "by lamp light, in colour"
