"""Synthetic scenes for the media tests: a textured room, moving blobs, a light switched on.

The simulator is a separate stage; these tests draw their own frames so that a change there cannot hide
or cause a failure here.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np


@dataclass(frozen=True)
class Blob:
    """A filled ellipse moving in a straight line over frames [start, end); positions and sizes normalised."""

    start: int
    end: int
    x0: float
    x1: float
    y: float
    w: float
    h: float
    colour: tuple[int, int, int] = (230, 230, 230)


def crossing(count: int) -> Blob:
    """A person-sized figure walking across the room over ``count`` frames, in a colour the
    sensitive-content screen does not take for skin."""
    return Blob(0, count, 0.15, 0.85, 0.58, 0.1, 0.5, colour=(70, 60, 150))


def background(width: int, height: int, seed: int = 0) -> np.ndarray:
    """A smooth random texture, like walls and furniture out of focus."""
    coarse = np.random.default_rng(seed).integers(40, 200, (max(1, height // 16), max(1, width // 16), 3), np.uint8)
    return cv2.resize(coarse, (width, height), interpolation=cv2.INTER_CUBIC)


def frames(
    width: int,
    height: int,
    count: int,
    blobs: Sequence[Blob] = (),
    light_on_at: int | None = None,
    seed: int = 0,
) -> Iterator[np.ndarray]:
    """``count`` frames of the scene, each with a little sensor noise; from ``light_on_at`` on, brighter."""
    rng = np.random.default_rng(seed + 1)
    base = background(width, height, seed)
    for i in range(count):
        frame = base.copy()
        for blob in blobs:
            if blob.start <= i < blob.end:
                t = (i - blob.start) / max(1, blob.end - blob.start - 1)
                centre = (round((blob.x0 + (blob.x1 - blob.x0) * t) * width), round(blob.y * height))
                axes = (round(blob.w * width / 2), round(blob.h * height / 2))
                cv2.ellipse(frame, centre, axes, 0, 0, 360, blob.colour, -1)
        if light_on_at is not None and i >= light_on_at:
            frame = cv2.add(frame, np.full_like(frame, 70))
        yield cv2.add(frame, rng.integers(0, 4, frame.shape, np.uint8))
