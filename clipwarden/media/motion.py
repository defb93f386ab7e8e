"""Motion detection on a small luma frame, in the manner of Frigate's ImprovedMotionDetector.

Each frame is shrunk to ``frame_height`` rows of luma, blurred and compared with a running average of the
scene; the differences above a threshold, dilated, are the motion regions. Working on 1/13 of the pixels
of a 640x360 frame (1/116 of a 1080p one) is what makes it cheap enough to run on every frame.

Two departures from Frigate, both against false motion:

- Contrast is improved by scaling the difference, not the frames: a low-contrast scene (the 4th to 96th
  percentile of luma spanning less than the full range) gets a proportionally lower threshold. Stretching
  the frames instead, as Frigate does, makes the stretched picture drift whenever the stretch limits
  move (a bright coat leaving the frame), and the slow background reads that drift as motion everywhere.
- The background learns only from pixels that are not moving, plus those that have been changed for
  ``persist_frames`` in a row (a parked car). Blending whole frames in leaves a ghost wherever someone
  walked slowly.

When most of the frame changes at once (a light switched on, lightning, the IR filter flipping) the change
is not motion: the background is reset to the new scene and the detector reports a global change and no
motion until the difference settles.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import NamedTuple

import cv2
import numpy as np


class Box(NamedTuple):
    """A motion region; all four numbers are fractions of the frame's width or height."""

    x: float
    y: float
    w: float
    h: float


@dataclass(frozen=True)
class MotionConfig:
    frame_height: int = 100  # rows of the luma frame the detector works on
    threshold: int = 30  # luma difference from the background that counts as changed
    contour_area: int = 10  # smallest region, in pixels of the small frame, that counts as motion
    improve_contrast: bool = True  # lower the threshold in proportion to the scene's contrast...
    max_contrast_gain: float = 4.0  # ...by at most this factor, so a dark scene's noise is not motion
    contrast_history: int = 50  # frames the contrast is averaged over, so the threshold moves smoothly
    frame_alpha: float = 0.01  # weight of each new frame in the running-average background
    calibration_alpha: float = 0.2  # the same while settling after a global change
    lightning_threshold: float = 0.8  # share of the frame changed at once that means a global change
    calibrated_share: float = 0.05  # changed share below which a recalibration is over
    calibrated_regions: int = 4  # ... and at most this many regions
    persist_frames: int = 50  # a pixel changed this many frames in a row starts to blend into the background
    blur_size: int = 3  # Gaussian blur kernel side, against sensor noise
    dilate_iterations: int = 1  # 3x3 dilations that join the pieces of one moving thing


class MotionDetector:
    """Finds motion regions in consecutive frames of one camera.

    ``mask`` is full-resolution uint8, 255 where motion is ignored (motion masks and privacy zones).
    After each ``detect``, ``calibrating`` says whether the detector is settling after a global change
    and ``last_global_change`` is the index of the last frame that caused one (None if none yet).
    """

    def __init__(self, width: int, height: int, config: MotionConfig, mask: np.ndarray | None) -> None:
        if not 1 <= config.persist_frames <= 255:
            raise ValueError("persist_frames must be in 1..255")  # counted in saturating uint8
        self.config = config
        self.size = (max(1, round(config.frame_height * width / height)), config.frame_height)  # (w, h)
        # Any small pixel that touches an ignored area is ignored, so masked motion cannot leak out.
        self._ignore = None if mask is None else cv2.resize(mask, self.size, interpolation=cv2.INTER_AREA) > 0
        self._kernel = np.ones((3, 3), np.uint8)
        self._background: np.ndarray | None = None  # float32 running average of the small frame
        self._changed_for = np.zeros(self.size[::-1], np.uint8)  # frames each pixel has been changed
        self._ones = np.ones_like(self._changed_for)
        self._contrast: list[float] | None = None  # recent luma spans (96th - 4th percentile)...
        self._contrast_sum = 0.0  # ...and their sum
        self.frames = 0
        self.calibrating = False
        self.last_global_change: int | None = None

    def detect(self, frame: np.ndarray) -> list[Box]:
        """The motion regions in ``frame`` (BGR, full resolution); empty while calibrating."""
        config = self.config
        small, gain = self._prepare(frame)
        if self._background is None:
            self._background = small.astype(np.float32)
        difference = cv2.absdiff(small, cv2.convertScaleAbs(self._background))
        _, changed = cv2.threshold(difference, config.threshold / gain, 255, cv2.THRESH_BINARY)
        changed = cv2.dilate(changed, self._kernel, iterations=config.dilate_iterations)
        contours, _ = cv2.findContours(changed, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
        areas = [cv2.contourArea(contour) for contour in contours]
        regions = [cv2.boundingRect(c) for c, a in zip(contours, areas, strict=True) if a > config.contour_area]
        share = sum(areas) / (self.size[0] * self.size[1])
        index, self.frames = self.frames, self.frames + 1

        if share > config.lightning_threshold:
            self._recalibrate(small, index)
            return []
        if self.calibrating:
            self.calibrating = share >= config.calibrated_share or len(regions) > config.calibrated_regions
            cv2.accumulateWeighted(small, self._background, config.calibration_alpha)
            return []
        self._learn_background(small, changed)
        width, height = self.size
        return [Box(x / width, y / height, w / width, h / height) for x, y, w, h in regions]

    def _prepare(self, frame: np.ndarray) -> tuple[np.ndarray, float]:
        """Full-resolution BGR -> small, masked, blurred luma, and the contrast gain for it."""
        # Shrinking first converts 1/13 of the pixels (at 640x360). Bilinear reads only the pixels it
        # needs, where area averaging reads them all (10x slower). The blur below smooths the aliasing.
        small = cv2.cvtColor(cv2.resize(frame, self.size, interpolation=cv2.INTER_LINEAR), cv2.COLOR_BGR2GRAY)
        gain = self._contrast_gain(small) if self.config.improve_contrast else 1.0
        if self._ignore is not None:
            small[self._ignore] = 0  # the same in every frame, so never different from the background
        return cv2.GaussianBlur(small, (self.config.blur_size, self.config.blur_size), 0), gain

    def _contrast_gain(self, small: np.ndarray) -> float:
        """How much a stretch of the scene's luma to the full range would magnify a difference."""
        # 4th and 96th percentiles from the histogram: sorting the pixels would cost 10x more.
        cumulative = cv2.calcHist([small], [0], None, [256], [0, 256]).ravel().cumsum()
        low, high = np.searchsorted(cumulative, (0.04 * cumulative[-1], 0.96 * cumulative[-1]))
        span = float(max(high - low, 1))
        history = self.config.contrast_history
        if self._contrast is None:
            self._contrast, self._contrast_sum = [span] * history, span * history
        slot = self.frames % history
        self._contrast_sum += span - self._contrast[slot]
        self._contrast[slot] = span
        return min(255 * history / self._contrast_sum, self.config.max_contrast_gain)

    def _recalibrate(self, small: np.ndarray, index: int) -> None:
        """Start again from this frame: new background, and the contrast of the new lighting only."""
        self.calibrating = True
        self.last_global_change = index
        self._background = small.astype(np.float32)
        self._changed_for[:] = 0
        self._contrast = None

    def _learn_background(self, small: np.ndarray, changed: np.ndarray) -> None:
        """Blend the frame into the background where it is still, or has been changed for long."""
        assert self._background is not None
        # Saturating uint8 arithmetic: the count stops at 255, and drops to 0 where nothing changed.
        self._changed_for = cv2.bitwise_and(cv2.add(self._changed_for, self._ones), changed)
        persist = self.config.persist_frames
        _, persistent = cv2.threshold(self._changed_for, persist - 1, 255, cv2.THRESH_BINARY)
        learn = cv2.bitwise_or(cv2.bitwise_not(changed), persistent)
        cv2.accumulateWeighted(small, self._background, self.config.frame_alpha, mask=learn)
