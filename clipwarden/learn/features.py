"""Per-clip features for the learned camera AI: the clip's motion track summarised into a fixed vector.

The track is the one the camera recorded as it captured the clip (``media.capture.MotionTrack``, stored with
the clip), so training reads exactly what the deployed model reads on the fleet and neither decodes video.
A clip stored without one, and a redacted copy (what training on redacted pixels would see), is decoded and
the camera's motion detector run over it again. Only what a real upload carries goes in: the pixels (privacy
zones already black), the camera's configuration and the household's home/away mode as the app recorded
it; never the simulator's truth.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np

from clipwarden.domain import LABELS, PLACEMENTS, Camera
from clipwarden.errors import ClipwardenError
from clipwarden.media import camera_ai
from clipwarden.media.capture import MotionTrack, light, lit_track
from clipwarden.media.codec import decode_frames
from clipwarden.media.motion import Box, MotionConfig, MotionDetector
from clipwarden.media.rendition import redacted_copy
from clipwarden.media.zones import ignore_mask

QUANTILES = (0.1, 0.5, 0.9)
_SHAPES = ("height", "width", "aspect", "bottom", "centre_x", "area")

FEATURE_NAMES: tuple[str, ...] = (
    *(f"{shape}_q{round(100 * q)}" for shape in _SHAPES for q in QUANTILES),
    "motion_s",
    "motion_share",
    "global_change_share",
    "regions_median",
    "regions_max",
    "speed_median",
    "brightness",
    "colour",
    "duration_s",
    "outdoor",
    "away",
    *(f"placement_{placement}" for placement in PLACEMENTS),
    # The rules' verdict on the same track: a model that starts from it learns where the rules go wrong,
    # which a few hundred labels can teach where learning every label from scratch could not.
    *(f"rules_{label}" for label in LABELS),
    "rules_confidence",
)


def observe(data: bytes, camera: Camera) -> MotionTrack:
    """The track of a clip that came without one (or a copy of it, such as a redacted one): its MP4
    decoded and the camera's motion detector run over it. ClipwardenError if it does not decode."""
    detector = MotionDetector(camera.width, camera.height, MotionConfig(), ignore_mask(camera))
    boxes: list[tuple[Box, ...]] = []
    calibrating: list[bool] = []
    lights: list[tuple[float, float]] = []
    for frame in decode_frames(data):
        boxes.append(tuple(detector.detect(frame)))
        calibrating.append(detector.calibrating)
        lights.append(light(frame))
    return lit_track(camera.fps, tuple(boxes), tuple(calibrating), lights)


def clip_features(data: bytes, camera: Camera, away: bool) -> np.ndarray:
    """The features of an MP4 with no recorded track."""
    return summarise(observe(data, camera), camera, away)


@dataclass(frozen=True)
class FeatureJob:
    """One stored clip to read: its camera, the household's mode when it was recorded, and the track its
    camera recorded with it, else its MP4."""

    camera: Camera
    away: bool
    track: MotionTrack | None = None
    data: bytes = b""
    # True: read the MP4 as reviewers see it (people pixelated, ``media.rendition.redacted_copy``), with these
    # room samples of the camera's other clips; what a model would learn if training saw only redacted pixels.
    redacted: bool = False
    room: tuple[np.ndarray, ...] = ()

    @property
    def decodes(self) -> bool:
        return self.redacted or self.track is None


_JOBS_PER_WORKER = 8  # fewer clips than this per process do not pay for starting it


def many_features(jobs: Sequence[FeatureJob], workers: int = 1) -> list[np.ndarray | None]:
    """The features of each job, in order; None for a clip that does not decode. A recorded track is
    summarised at once; MP4s to decode are read over up to ``workers`` processes."""
    decoding = [index for index, job in enumerate(jobs) if job.decodes]
    decoded = dict(zip(decoding, _decode_all([jobs[index] for index in decoding], workers), strict=True))
    return [decoded[index] if index in decoded else _features_or_none(job) for index, job in enumerate(jobs)]


def _decode_all(jobs: Sequence[FeatureJob], workers: int) -> list[np.ndarray | None]:
    workers = min(workers, len(jobs) // _JOBS_PER_WORKER)
    if workers <= 1:
        return [_features_or_none(job) for job in jobs]
    # spawn, not fork: callers run threads (progress display, database pool).
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(workers, mp_context=context, initializer=cv2.setNumThreads, initargs=(1,)) as pool:
        return list(pool.map(_features_or_none, jobs, chunksize=4))


def _features_or_none(job: FeatureJob) -> np.ndarray | None:
    if job.track is not None and not job.redacted:
        return summarise(job.track, job.camera, job.away)
    try:
        data = redacted_copy(job.data, room=job.room) if job.redacted else job.data
        return clip_features(data, job.camera, job.away)
    except ClipwardenError:
        return None


def summarise(track: MotionTrack, camera: Camera, away: bool) -> np.ndarray:
    """The fixed vector ``FEATURE_NAMES`` describes; a clip without motion has zeros for its shapes."""
    moving = [frame for frame in track.boxes if frame]
    largest = [max(frame, key=lambda b: b.w * b.h) for frame in moving]
    frames = max(track.frames, 1)
    rules = camera_ai.classify(track, camera, away)
    values = [
        *_shape_quantiles(largest, camera),
        len(moving) / track.fps,
        len(moving) / frames,
        sum(track.global_change) / frames,
        float(np.median([len(frame) for frame in moving])) if moving else 0.0,
        float(max((len(frame) for frame in moving), default=0)),
        _speed(largest, track.fps),
        float(np.mean(track.brightness)) if track.brightness else 0.0,
        float(np.mean(track.colour)) if track.colour else 0.0,
        track.frames / track.fps,
        float(camera.outdoor),
        float(away),
        *(float(camera.placement == placement) for placement in PLACEMENTS),
        *(float(rules.label == label) for label in LABELS),
        rules.confidence,
    ]
    return np.asarray(values, dtype=np.float64)


def _shape_quantiles(largest: list[Box], camera: Camera) -> list[float]:
    if not largest:
        return [0.0] * (len(_SHAPES) * len(QUANTILES))
    boxes = np.asarray(largest, dtype=np.float64)
    x, y, w, h = boxes.T
    aspect = (h * camera.height) / np.maximum(w * camera.width, 1e-9)  # height over width, in pixels
    columns = (h, w, aspect, y + h, x + w / 2, w * h)
    return [float(q) for column in columns for q in np.quantile(column, QUANTILES)]


def _speed(largest: list[Box], fps: int) -> float:
    """Median movement of the largest region's centre between moving frames, in frame widths a second."""
    if len(largest) < 2:
        return 0.0
    centres = np.asarray([b.x + b.w / 2 for b in largest])
    return float(np.median(np.abs(np.diff(centres)))) * fps
