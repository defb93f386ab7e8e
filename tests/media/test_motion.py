"""The motion detector: moving things, still scenes, masked areas and lights switched on."""

from __future__ import annotations

import numpy as np

from clipwarden.media.motion import Box, MotionConfig, MotionDetector
from clipwarden.media.zones import zone_mask

from .scenes import Blob, frames

WIDTH, HEIGHT = 640, 360
WALKER = Blob(20, 60, 0.1, 0.7, 0.55, 0.08, 0.5)


def _run(scene: list[np.ndarray], mask: np.ndarray | None = None) -> tuple[MotionDetector, list[list[Box]]]:
    detector = MotionDetector(WIDTH, HEIGHT, MotionConfig(), mask)
    return detector, [detector.detect(frame) for frame in scene]


def test_a_moving_blob_is_motion_where_it_is() -> None:
    _, boxes = _run(list(frames(WIDTH, HEIGHT, 80, [WALKER])))
    assert not any(boxes[:20]) and not any(boxes[61:])
    assert sum(bool(b) for b in boxes[20:60]) >= 38
    for i in (30, 45):
        box = max(boxes[i], key=lambda b: b.w * b.h)
        centre_x = WALKER.x0 + (WALKER.x1 - WALKER.x0) * (i - WALKER.start) / (WALKER.end - WALKER.start - 1)
        assert abs(box.x + box.w / 2 - centre_x) < 0.05
        assert abs(box.y + box.h / 2 - WALKER.y) < 0.05
        assert 0.4 < box.h < 0.65


def test_a_still_scene_is_not_motion() -> None:
    _, boxes = _run(list(frames(WIDTH, HEIGHT, 100)))
    assert not any(boxes)


def test_motion_in_a_masked_area_is_ignored() -> None:
    mask = zone_mask([((0.0, 0.0), (0.8, 0.0), (0.8, 1.0), (0.0, 1.0))], WIDTH, HEIGHT, snap=1)
    _, boxes = _run(list(frames(WIDTH, HEIGHT, 80, [WALKER])), mask)
    assert not any(boxes)


def test_a_light_switched_on_is_a_global_change_not_motion() -> None:
    later = Blob(60, 90, 0.2, 0.8, 0.5, 0.08, 0.5)
    detector = MotionDetector(WIDTH, HEIGHT, MotionConfig(), None)
    boxes, calibrating = [], []
    for frame in frames(WIDTH, HEIGHT, 90, [later], light_on_at=30):
        boxes.append(detector.detect(frame))
        calibrating.append(detector.calibrating)
    assert detector.last_global_change == 30
    assert calibrating[30] and not any(calibrating[:30]) and not any(calibrating[35:])
    assert not any(boxes[:60])
    # The detector works again in the new light.
    assert sum(bool(b) for b in boxes[60:90]) >= 28
