"""The learned camera AI's features: the clip's MP4 decoded, its motion found again and summarised."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from clipwarden.domain import PLACEMENTS, Camera
from clipwarden.errors import ClipwardenError
from clipwarden.learn.features import FEATURE_NAMES, clip_features
from clipwarden.media.codec import encode_mp4

CAMERA = Camera("cam-1", "hh-1", "Hall", "living_room", width=320, height=180, fps=10)
FRAMES = 80


def _mp4(figure: tuple[float, float] | None, seed: int = 0) -> bytes:
    """A textured room; with ``figure`` (width, height as shares of the frame), a box crossing it from the
    second second on."""
    rng = np.random.default_rng(seed)
    coarse = rng.integers(40, 200, (12, 20, 3), np.uint8)
    room = cv2.resize(coarse, (CAMERA.width, CAMERA.height), interpolation=cv2.INTER_CUBIC)
    frames = []
    for i in range(FRAMES):
        frame = room.copy()
        if figure is not None and i >= 20:
            w, h = round(figure[0] * CAMERA.width), round(figure[1] * CAMERA.height)
            x = round((0.1 + 0.6 * (i - 20) / (FRAMES - 20)) * CAMERA.width)
            y = CAMERA.height - h - 5
            cv2.rectangle(frame, (x, y), (x + w, y + h), (70, 60, 150), -1)
        frames.append(frame)
    return encode_mp4(frames, CAMERA.width, CAMERA.height, CAMERA.fps)


def _named(vector: np.ndarray) -> dict[str, float]:
    assert vector.shape == (len(FEATURE_NAMES),)
    return dict(zip(FEATURE_NAMES, vector.tolist(), strict=True))


def test_a_tall_figure_reads_as_tall_moving_and_low_in_the_frame() -> None:
    features = _named(clip_features(_mp4((0.1, 0.6)), CAMERA, away=True))
    assert 4.0 <= features["motion_s"] <= 6.5
    assert 0.5 <= features["height_q50"] <= 0.8
    assert features["aspect_q50"] > 2.0
    assert features["bottom_q50"] > 0.9
    assert features["speed_median"] > 0.0
    assert features["duration_s"] == FRAMES / CAMERA.fps
    assert features["away"] == 1.0 and features["outdoor"] == 0.0
    assert [features[f"placement_{p}"] for p in PLACEMENTS] == [float(p == "living_room") for p in PLACEMENTS]


def test_a_wide_low_figure_differs_from_a_tall_one() -> None:
    tall = _named(clip_features(_mp4((0.1, 0.6)), CAMERA, away=False))
    wide = _named(clip_features(_mp4((0.4, 0.15)), CAMERA, away=False))
    assert wide["aspect_q50"] < 1.0 < tall["aspect_q50"]
    assert wide["height_q50"] < tall["height_q50"]
    assert tall["away"] == wide["away"] == 0.0


def test_a_still_room_has_no_motion_and_the_same_media_give_the_same_vector() -> None:
    still = _mp4(None)
    features = _named(clip_features(still, CAMERA, away=False))
    assert features["motion_s"] == features["height_q50"] == features["regions_max"] == 0.0
    assert features["brightness"] > 0.0
    assert np.array_equal(clip_features(still, CAMERA, away=False), clip_features(still, CAMERA, away=False))


def test_media_that_do_not_decode_are_refused() -> None:
    with pytest.raises(ClipwardenError):
        clip_features(b"not a video", CAMERA, away=False)
