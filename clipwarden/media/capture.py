"""The camera's recorder: frames in, motion-triggered MP4 clips out.

Per frame, in this order: privacy zones are blacked out (nothing leaves this function unblacked, not even
into the pre-roll buffer), the motion detector looks at it, and the recorder decides whether it belongs
to a clip. A clip starts ``pre_s`` before the motion that triggered it, runs until ``post_s`` after the last
motion, and lasts between ``min_s`` and ``max_s``. A global change (most of the picture changing at once)
counts as motion here, though the detector reports no regions for it. Frames are encoded as they arrive;
only the pre-roll is held raw.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import numpy as np

from clipwarden.domain import Camera, RecordedClip
from clipwarden.media.codec import EncodeSettings, Mp4Writer
from clipwarden.media.motion import Box, MotionConfig, MotionDetector
from clipwarden.media.zones import black_out, ignore_mask, zone_mask


@dataclass(frozen=True)
class CaptureSettings:
    pre_s: float = 5.0  # seconds kept before the motion that triggers a clip
    post_s: float = 8.0  # seconds kept after the last motion
    min_s: float = 20.0  # shortest clip; a window that ends sooner drops it
    max_s: float = 30.0  # longest clip; motion that goes on starts the next one
    min_motion_frames: int = 2  # consecutive frames with motion that trigger a clip


_LIGHT_STRIDE = 8  # light from every 8th pixel each way: plenty for a mean


@dataclass(frozen=True)
class MotionTrack:
    """What the camera measured in each frame of a clip as it recorded it: all its AI gets to read, stored
    with the clip (a recorded event, erased with it) so that a model learns from what the fleet sees."""

    fps: int
    boxes: tuple[tuple[Box, ...], ...]  # motion regions, one entry per frame
    global_change: tuple[bool, ...]  # per frame: recalibrating after most of the picture changed at once
    brightness: tuple[float, ...] = ()  # per frame: mean pixel value, 0..255, to 0.01
    colour: tuple[float, ...] = ()  # per frame: mean |red - blue| to 0.01; near 0 under infrared night vision

    @property
    def frames(self) -> int:
        return len(self.boxes)


def light(frame: np.ndarray) -> tuple[float, float]:
    """A frame's brightness and colour as ``MotionTrack`` records them."""
    sample = frame[::_LIGHT_STRIDE, ::_LIGHT_STRIDE].astype(np.int16)
    return round(float(sample.mean()), 2), round(float(np.abs(sample[..., 2] - sample[..., 0]).mean()), 2)


def lit_track(
    fps: int, boxes: tuple[tuple[Box, ...], ...], global_change: tuple[bool, ...], lights: list[tuple[float, float]]
) -> MotionTrack:
    """A ``MotionTrack`` from its per-frame motion and ``light`` readings."""
    return MotionTrack(fps, boxes, global_change, tuple(b for b, _ in lights), tuple(c for _, c in lights))


def track_document(track: MotionTrack) -> dict[str, Any]:
    """The track as JSON-able data; floats are kept exact, so ``track_from_document`` gives it back equal."""
    return {
        "fps": track.fps,
        "boxes": [[list(box) for box in frame] for frame in track.boxes],
        "global_change": list(track.global_change),
        "brightness": list(track.brightness),
        "colour": list(track.colour),
    }


def track_from_document(document: dict[str, Any]) -> MotionTrack:
    return MotionTrack(
        fps=int(document["fps"]),
        boxes=tuple(tuple(Box(*box) for box in frame) for frame in document["boxes"]),
        global_change=tuple(bool(change) for change in document["global_change"]),
        brightness=tuple(document["brightness"]),
        colour=tuple(document["colour"]),
    )


@dataclass(frozen=True)
class CapturedClip:
    clip: RecordedClip
    track: MotionTrack


def capture_window(
    camera: Camera,
    start: datetime,
    frames: Iterable[np.ndarray],
    settings: CaptureSettings = CaptureSettings(),
    motion: MotionConfig = MotionConfig(),
    encode: EncodeSettings = EncodeSettings(),
) -> Iterator[CapturedClip]:
    """Record the clips in one stretch of frames from ``camera``, the first one taken at ``start``.

    The recorder takes ownership of the frames: it blacks them out in place and may hold up to
    ``pre_s`` of them, so the caller must not reuse their buffers.
    """
    if start.tzinfo is None:
        raise ValueError("start must be timezone-aware")
    shape = (camera.height, camera.width, 3)
    privacy = zone_mask(camera.privacy_zones, camera.width, camera.height)
    detector = MotionDetector(camera.width, camera.height, motion, ignore_mask(camera))
    recorder = _Recorder(camera, start.astimezone(UTC), settings, encode)
    for frame in frames:
        if frame.shape != shape:
            raise ValueError(f"camera {camera.id} gives {shape} frames, got {frame.shape}")
        black_out(frame, privacy)
        boxes = detector.detect(frame)
        if clip := recorder.push(frame, tuple(boxes), detector.calibrating, light(frame)):
            yield clip
    if clip := recorder.finish():
        yield clip


@dataclass
class _Clip:
    """A clip being recorded: its encoder and its motion track so far."""

    first: int  # index in the window of its first frame
    writer: Mp4Writer
    boxes: list[tuple[Box, ...]] = field(default_factory=list)
    global_change: list[bool] = field(default_factory=list)
    light: list[tuple[float, float]] = field(default_factory=list)
    last_active: int = -1  # index in the window of the last frame with motion or a global change

    def add(
        self, index: int, frame: np.ndarray, boxes: tuple[Box, ...], global_change: bool, light: tuple[float, float]
    ) -> None:
        self.writer.write(frame)
        self.boxes.append(boxes)
        self.global_change.append(global_change)
        self.light.append(light)
        if boxes or global_change:
            self.last_active = index

    @property
    def frames(self) -> int:
        return len(self.boxes)


class _Recorder:
    """Idle with a pre-roll buffer, or recording one clip.

    The pre-roll is emptied into each clip it starts, so consecutive clips never share frames: when motion
    goes on past ``max_s`` the next frame triggers the next clip and the two follow on without a gap.
    """

    def __init__(self, camera: Camera, start: datetime, settings: CaptureSettings, encode: EncodeSettings) -> None:
        fps = camera.fps
        self._camera, self._start, self._settings, self._encode = camera, start, settings, encode
        self._post, self._min, self._max = (round(s * fps) for s in (settings.post_s, settings.min_s, settings.max_s))
        self._pre = round(settings.pre_s * fps)
        # The trigger frames themselves plus pre_s before the first of them.
        self._preroll: deque[tuple[int, np.ndarray, tuple[Box, ...], bool, tuple[float, float]]] = deque(
            maxlen=self._pre + settings.min_motion_frames
        )
        self._index = 0
        self._streak = 0  # consecutive frames with motion, up to this one
        self._clip: _Clip | None = None

    def push(
        self, frame: np.ndarray, boxes: tuple[Box, ...], global_change: bool, light: tuple[float, float]
    ) -> CapturedClip | None:
        index, self._index = self._index, self._index + 1
        self._streak = self._streak + 1 if boxes else 0
        clip = self._clip
        if clip is None:
            self._preroll.append((index, frame, boxes, global_change, light))
            # A global change is one event by nature, so it triggers alone: the camera cannot tell a
            # light switched on by a person from the sun coming out, and records it for the camera AI.
            if self._streak < self._settings.min_motion_frames and not global_change:
                return None
            first = index - max(self._streak, 1) + 1 - self._pre  # pre_s before the trigger's first frame
            preroll = [sample for sample in self._preroll if sample[0] >= first]
            clip = self._clip = _Clip(preroll[0][0], self._new_writer())
            for sample in preroll:
                clip.add(*sample)
            self._preroll.clear()
        else:
            clip.add(index, frame, boxes, global_change, light)
        if clip.frames >= self._max or (clip.frames >= self._min and index - clip.last_active >= self._post):
            self._clip = None
            return self._finished(clip)
        return None

    def finish(self) -> CapturedClip | None:
        """The clip in progress when the frames run out, if it is long enough to keep."""
        clip, self._clip = self._clip, None
        return self._finished(clip) if clip is not None and clip.frames >= self._min else None

    def _new_writer(self) -> Mp4Writer:
        return Mp4Writer(self._camera.width, self._camera.height, self._camera.fps, self._encode)

    def _finished(self, clip: _Clip) -> CapturedClip:
        fps = self._camera.fps
        recorded = RecordedClip(
            camera_id=self._camera.id,
            started_at=self._start + timedelta(seconds=clip.first / fps),
            duration_s=clip.frames / fps,
            width=self._camera.width,
            height=self._camera.height,
            fps=fps,
            codec="h264",
            data=clip.writer.close(),
        )
        return CapturedClip(recorded, lit_track(fps, tuple(clip.boxes), tuple(clip.global_change), clip.light))
