"""Rendering one activity window: backdrop variants cycled, moving things drawn on top.

Per frame the cost is one copy of a precomputed noisy backdrop plus a few OpenCV primitives where
something moves; backdrops (texture, lighting, noise) are made once per window, or once per camera
and lighting and cached.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass

import cv2
import numpy as np

from clipwarden.sim.events import ScheduledEvent
from clipwarden.sim.render.backdrop import backdrop_variants
from clipwarden.sim.render.elements import make_element
from clipwarden.sim.render.lighting import Lighting, Look
from clipwarden.sim.render.stage import Stage

EXPOSURE_S = 0.3  # after a lamp switch the camera's exposure settles over this long


@dataclass(frozen=True)
class WindowJob:
    """Everything needed to render one window; SimFleet assembles it from the household's plan."""

    window_id: str
    start_s: float  # seconds since SimConfig.start of the first frame
    n_frames: int
    stage: Stage
    lighting: tuple[tuple[float, Lighting], ...]  # (from time, lighting); the first from start_s
    events: tuple[ScheduledEvent, ...]


def render_window(job: WindowJob) -> Iterator[np.ndarray]:
    """Yield job.n_frames new BGR uint8 frames (height, width, 3), C-contiguous."""
    stage = job.stage
    variants = [backdrop_variants(stage, lighting) for _, lighting in job.lighting]
    looks = [Look(lighting) for _, lighting in job.lighting]
    changes = [at for at, _ in job.lighting]
    elements = [(event.start, event.end, make_element(event, stage)) for event in job.events]
    for k in range(job.n_frames):
        t = job.start_s + k / stage.fps
        segment = max(0, bisect.bisect_right(changes, t) - 1)
        base = variants[segment][k % len(variants[segment])]
        settling = t - changes[segment]
        if segment > 0 and settling < EXPOSURE_S:
            before = variants[segment - 1][k % len(variants[segment - 1])]
            weight = settling / EXPOSURE_S
            frame = cv2.addWeighted(before, 0.5 * (1 - weight), base, 0.5 + 0.5 * weight, 0)
        else:
            frame = base.copy()
        for start, end, item in elements:
            if start <= t < end:
                item.draw(frame, t - start, looks[segment])
        yield frame
