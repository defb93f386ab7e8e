"""Redaction: the people (and pets) in a clip pixelated or reduced to silhouettes before a reviewer sees it.

What to cover is decided from the decoded pixels alone, by foreground segmentation: whatever differs from
the clip's background is covered, so moving things go and the static room stays readable. The work is done
on frames shrunk to ``analysis_width`` columns (160: cells of 12 x 12 pixels at 1920x1080, 4 x 4 at 640x360),
and the mask is scaled up only inside the boxes around what it found, so a frame with nobody in it costs
a shrink of its planes and a few operations on 160 x 90 cells.

- Background: a few of the clip's keyframes, from its first to its last (a seek lands on a keyframe, and
  decoding only those is cheap; the capture stage writes one every 2 s). Each frame is compared with the
  samples lit like it (their typical luma difference from the frame at most ``global_shift``), so a lamp
  switched on mid-clip does not turn the room into foreground: with their per-cell median, and with the
  first and the last of them, which catch someone who arrives and then stands still (a visitor at the
  door) or who stood still and then leaves. A frame lit like none of them (the picture changing as a
  whole) is covered entirely: when unsure, cover.
- The room: someone who stays in one place through the whole clip is in every sample. So the first
  keyframes of a few other clips from the same camera (``room``: a fixed camera sees the same room) are
  one more background: where at least ``room_quorum`` of them are lit like the frame, their per-cell
  median, in which a person who was somewhere in one of them is outvoted by the others. Only the mask
  comes from them; no pixel of another clip reaches the rendition. Decoding them is the costly part, so
  ``pack_room`` and ``unpack_room`` let the caller keep them between views (the review service keeps one
  set per camera and day).
- Foreground: cells whose luma or either chroma differs from any of those backgrounds; opened (sensor
  noise); closed across vertical gaps and filled inside (a shirt the colour of the wall behind it, between
  a head and legs that are not); dilated by ``margin`` cells (limbs, motion blur); joined with the previous frame's.
- Covering: ``pixelate`` paints blocks of ``pixel_cells`` x ``pixel_cells`` cells with their mean colour;
  ``silhouette`` fills the shape with flat dark grey, which keeps its outline (person or pet) and nothing else.

Frames are yuv420p planes stacked as OpenCV's I420 (height * 3 / 2 rows): the decoder's own format, so
nothing is converted to BGR and back. Limits: without room samples (a camera's first clips), someone who
stays still in one place through the whole clip is background, and so is someone who sits where people
sit in most of the room samples too; a moved chair or an opened door is covered as if it were a person;
the spot where someone stood at the start or end of a clip stays covered after they leave it.
"""

from __future__ import annotations

import io
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, get_args

import av
import cv2
import numpy as np

from clipwarden.errors import ClipwardenError
from clipwarden.media.codec import open_input, video_stream

Redaction = Literal["pixelate", "silhouette", "none"]  # none: the owner opted in to unredacted review
REDACTIONS: tuple[Redaction, ...] = get_args(Redaction)


@dataclass(frozen=True)
class RedactionSettings:
    analysis_width: int = 160  # columns the frames are shrunk to for segmentation (90 rows at 16:9)
    keyframes: int = 3  # background samples: the keyframes nearest the start, the end and evenly between
    change_luma: int = 16  # luma difference (limited range, shrunk) that counts as foreground
    change_chroma: int = 8  # the same for either chroma plane
    global_shift: int = 8  # a sample is lit like the frame if their typical luma difference is at most this
    room_quorum: int = 3  # room samples lit like the frame needed before their median counts as a background
    bridge: int = 8  # vertical gaps up to twice this many cells between foreground parts are closed
    margin: int = 2  # cells the foreground is grown by on every side
    pixel_cells: int = 3  # pixelation block side, in cells: 12 pixels at 640x360, 36 at 1920x1080
    silhouette: tuple[int, int, int] = (48, 128, 128)  # Y, U, V a silhouette is filled with: flat dark grey


def yuv420p(frame: av.VideoFrame) -> np.ndarray:
    """A decoded frame as I420 planes (height * 3 / 2 rows of ``width``)."""
    if frame.width % 2 or frame.height % 2:
        raise ClipwardenError(f"not a playable video: odd frame size {frame.width}x{frame.height}")
    return (frame if frame.format.name == "yuv420p" else frame.reformat(format="yuv420p")).to_ndarray()


def planes(i420: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Views of the Y, U and V planes of an I420 array."""
    height, width = i420.shape[0] * 2 // 3, i420.shape[1]
    chroma = i420[height:].reshape(2, height // 2, width // 2)
    return i420[:height], chroma[0], chroma[1]


def analysis_size(width: int, height: int, settings: RedactionSettings = RedactionSettings()) -> tuple[int, int]:
    columns = min(width, settings.analysis_width)
    return columns, max(1, round(height * columns / width))


def shrink(i420: np.ndarray, size: tuple[int, int]) -> np.ndarray:
    """The frame at ``size`` (columns, rows) as a (rows, columns, 3) Y, U, V image.

    Linear scaling reads 2 x 2 pixels per cell: noise is halved, and the segmentation's opening and
    thresholds absorb the rest as well as a full area mean does, at a fraction of the cost.
    """
    return cv2.merge([cv2.resize(plane, size, interpolation=cv2.INTER_LINEAR) for plane in planes(i420)])


def background_samples(clip: bytes, settings: RedactionSettings = RedactionSettings()) -> list[np.ndarray]:
    """Shrunk keyframes of the clip, at or before ``settings.keyframes`` evenly spaced times from its start to
    its end, each once.

    Raises ClipwardenError if ``clip`` is not a playable video.
    """
    samples: dict[int | None, np.ndarray] = {}  # by presentation time: a long GOP gives one keyframe twice
    try:
        with open_input(clip) as container:
            stream = video_stream(container)
            stream.codec_context.skip_frame = "NONKEY"  # after a seek, only the keyframe it lands on is decoded
            stream.codec_context.options = {"skip_loop_filter": "all"}  # deblocking is lost in the shrink anyway
            start, span = stream.start_time or 0, stream.duration or 0
            for index in range(settings.keyframes):
                container.seek(start + span * index // max(1, settings.keyframes - 1), stream=stream)
                frame = next(container.decode(stream), None)
                if frame is not None and frame.pts not in samples:
                    i420 = yuv420p(frame)
                    samples[frame.pts] = shrink(i420, analysis_size(frame.width, frame.height, settings))
    except av.FFmpegError as error:
        raise ClipwardenError(f"not a playable video: {error}") from error
    if not samples:
        raise ClipwardenError("not a playable video: no decodable keyframes")
    return list(samples.values())


def room_samples(clips: Iterable[bytes], settings: RedactionSettings = RedactionSettings()) -> list[np.ndarray]:
    """The first keyframe of each clip, shrunk: given other clips of one camera, the room as it usually looks.

    Raises ClipwardenError if a clip is not a playable video.
    """
    return [_first_keyframe(clip, settings) for clip in clips]


def pack_room(samples: Sequence[np.ndarray]) -> bytes:
    """Room samples as one NPY array (samples x rows x columns x 3), to be kept and unpacked for later views."""
    buffer = io.BytesIO()
    np.save(buffer, np.stack(samples), allow_pickle=False)
    return buffer.getvalue()


def unpack_room(data: bytes) -> list[np.ndarray]:
    """The room samples ``pack_room`` packed. Raises ClipwardenError if ``data`` is not such an array."""
    try:
        stacked = np.load(io.BytesIO(data), allow_pickle=False)
    except (ValueError, EOFError) as error:
        raise ClipwardenError(f"not packed room samples: {error}") from error
    if stacked.dtype != np.uint8 or stacked.ndim != 4 or stacked.shape[-1] != 3:
        raise ClipwardenError(f"not packed room samples: an array of {stacked.dtype}, shape {stacked.shape}")
    return list(stacked)


def _first_keyframe(clip: bytes, settings: RedactionSettings) -> np.ndarray:
    # The first packet is decoded and the decoder drained at once: waiting for the frames after it, as
    # decode() does to settle their order, costs twice as much.
    try:
        with open_input(clip) as container:
            stream = video_stream(container)
            context = stream.codec_context
            context.skip_frame = "NONKEY"
            context.options = {"skip_loop_filter": "all"}
            for packet in container.demux(stream):
                frames = [*context.decode(packet), *context.decode(None)]
                if frames:
                    frame = frames[0]
                    return shrink(yuv420p(frame), analysis_size(frame.width, frame.height, settings))
    except av.FFmpegError as error:
        raise ClipwardenError(f"not a playable video: {error}") from error
    raise ClipwardenError("not a playable video: no decodable keyframes")


class Redactor:
    """Covers what moves in each frame of one clip, in order, given the clip's background samples and, where
    there are any, room samples from other clips of the same camera."""

    def __init__(
        self,
        width: int,
        height: int,
        backgrounds: list[np.ndarray],
        method: Literal["pixelate", "silhouette"] = "pixelate",
        settings: RedactionSettings = RedactionSettings(),
        room: Sequence[np.ndarray] = (),
    ) -> None:
        self._width, self._height = width, height
        self._size = analysis_size(width, height, settings)
        self._samples = np.stack(backgrounds)
        self._sample_lumas = [np.ascontiguousarray(sample[..., 0]) for sample in backgrounds]
        fitting = [sample for sample in room if sample.shape == self._samples.shape[1:]]
        self._room = np.stack(fitting) if fitting else np.empty((0, *self._samples.shape[1:]), np.uint8)
        self._room_lumas = [np.ascontiguousarray(sample[..., 0]) for sample in fitting]
        self._bounds_by_lit: dict[bytes, tuple[np.ndarray, np.ndarray]] = {}
        self._bounds: tuple[np.ndarray, np.ndarray] | None = None  # for the samples lit like the last frame
        self._method = method
        self._settings = settings
        self._previous: np.ndarray = np.zeros(self._size[::-1], np.uint8)
        self._speck = np.ones((3, 3), np.uint8)
        self._grow = _disc(settings.margin)
        # Upright: the parts of a body that match the background are between parts above and below that do not.
        self._bridge = np.ones((2 * settings.bridge + 1, 3), np.uint8)

    def redact(self, i420: np.ndarray) -> np.ndarray:
        """Cover the foreground of one frame in place; returns the mask (rows x columns of cells, 0 or 255)."""
        small = shrink(i420, self._size)
        mask = self.foreground(small)
        for outline in _outlines(mask):
            self._cover(i420, small, mask, self._aligned(*cv2.boundingRect(outline)))
        return mask

    def foreground(self, small: np.ndarray) -> np.ndarray:
        """The cells of a shrunk frame to cover (uint8, 0 or 255), joined with the previous frame's."""
        changed = self._changed(small)
        moving: np.ndarray
        if changed is None:
            moving = np.full(small.shape[:2], 255, np.uint8)
        else:
            opened = cv2.morphologyEx(changed, cv2.MORPH_OPEN, self._speck)
            closed = cv2.morphologyEx(opened, cv2.MORPH_CLOSE, self._bridge)
            moving = cv2.dilate(_filled(closed), self._grow)
        joined = cv2.bitwise_or(moving, self._previous)
        self._previous = moving
        return joined

    def _changed(self, small: np.ndarray) -> np.ndarray | None:
        """The cells that differ from the backgrounds lit like the frame (0 or 255); None if none is lit like it.

        Which samples are lit like the frame is looked at again only when most of the picture differs, which
        is what switching a lamp does.
        """
        if self._bounds is not None:
            changed = cv2.bitwise_not(cv2.inRange(small, *self._bounds))
            if 2 * cv2.countNonZero(changed) <= changed.size:
                return changed
        self._bounds = self._lit_bounds(small)
        return None if self._bounds is None else cv2.bitwise_not(cv2.inRange(small, *self._bounds))

    def _lit_bounds(self, small: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
        """Per cell and channel, the range a frame's value may take without differing from any background.

        The backgrounds come from the samples lit like this frame: their median, the first and the last. The
        median alone takes in someone who stands still through most of the samples; the first and the last
        catch them if they came or went. The median of the room samples lit like the frame, when there are
        ``room_quorum`` of them, catches someone who stays still throughout. What differs from any of these
        is covered (when unsure, cover), so the spot where someone stood at the start or the end stays
        covered. None if no sample of the clip is lit like the frame. Cached per set of samples.
        """
        luma = cv2.extractChannel(small, 0)
        lit, room_lit = self._lit_like(luma, self._sample_lumas), self._lit_like(luma, self._room_lumas)
        if not lit.any():
            return None
        if room_lit.sum() < self._settings.room_quorum:
            room_lit[:] = False
        which = lit.tobytes() + room_lit.tobytes()
        if which not in self._bounds_by_lit:
            samples = self._samples[lit]
            references = [np.median(samples, axis=0).astype(np.uint8), samples[0], samples[-1]]
            if room_lit.any():
                references.append(np.median(self._room[room_lit], axis=0).astype(np.uint8))
            stacked = np.stack(references)
            limits = np.array([self._settings.change_luma, *2 * [self._settings.change_chroma]], np.int16)
            # |x - r| <= limit for every reference r  <=>  max(r) - limit <= x <= min(r) + limit
            low = np.clip(stacked.max(axis=0) - limits, 0, 255).astype(np.uint8)
            high = np.clip(stacked.min(axis=0) + limits, 0, 255).astype(np.uint8)
            self._bounds_by_lit[which] = (low, high)
        return self._bounds_by_lit[which]

    def _lit_like(self, luma: np.ndarray, sample_lumas: list[np.ndarray]) -> np.ndarray:
        """Which samples are lit like the frame: the typical (median) cell's luma differs by at most the
        shift, so half the cells do."""
        shift = self._settings.global_shift
        return np.array(
            [
                2 * cv2.countNonZero(cv2.inRange(cv2.absdiff(sample, luma), 0, shift)) >= luma.size
                for sample in sample_lumas
            ],
            dtype=bool,
        )

    def _aligned(self, x: int, y: int, w: int, h: int) -> tuple[int, int, int, int]:
        """A box of cells grown outwards to whole pixelation blocks: (x0, y0, x1, y1) in cells."""
        block, (columns, rows) = self._settings.pixel_cells, self._size
        x0, y0 = x // block * block, y // block * block
        return x0, y0, min(columns, math.ceil((x + w) / block) * block), min(rows, math.ceil((y + h) / block) * block)

    def _cover(self, i420: np.ndarray, small: np.ndarray, mask: np.ndarray, box: tuple[int, int, int, int]) -> None:
        """Paint the mask's cells in ``box`` on every plane: block colours, or the silhouette's."""
        x0, y0, x1, y1 = box
        columns, rows = self._size
        # Even pixel edges, so that the chroma planes' box is the luma box halved.
        left, right = (2 * round(x * self._width / columns / 2) for x in (x0, x1))
        top, bottom = (2 * round(y * self._height / rows / 2) for y in (y0, y1))
        luma, u, v = planes(i420)
        colours = cv2.split(self._colours(small[y0:y1, x0:x1]))  # split at cell scale: at full scale it is slow
        # Nearest keeps the mask's cells whole; linear and the threshold round a silhouette's outline.
        scaling = cv2.INTER_NEAREST if self._method == "pixelate" else cv2.INTER_LINEAR
        for step, targets in ((1, [(luma, colours[0])]), (2, [(u, colours[1]), (v, colours[2])])):
            size = ((right - left) // step, (bottom - top) // step)
            scaled = cv2.resize(mask[y0:y1, x0:x1], size, interpolation=scaling)
            _, shape = cv2.threshold(scaled, 127, 255, cv2.THRESH_BINARY)
            for plane, colour in targets:
                paint = cv2.resize(colour, size, interpolation=cv2.INTER_NEAREST)
                cv2.copyTo(paint, shape, plane[top // step : bottom // step, left // step : right // step])

    def _colours(self, cells: np.ndarray) -> np.ndarray:
        """What each cell of a box is painted with: the mean colour of its block, or the silhouette's."""
        if self._method == "silhouette":
            return np.full_like(cells, self._settings.silhouette)
        block, (rows, columns) = self._settings.pixel_cells, cells.shape[:2]
        blocks = (math.ceil(columns / block), math.ceil(rows / block))
        return cv2.resize(
            cv2.resize(cells, blocks, interpolation=cv2.INTER_AREA), (columns, rows), interpolation=cv2.INTER_NEAREST
        )


def _disc(radius: int) -> np.ndarray:
    return cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * radius + 1, 2 * radius + 1))


def _outlines(mask: np.ndarray) -> Sequence[np.ndarray]:
    return cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)[0]


def _filled(mask: np.ndarray) -> np.ndarray:
    """The mask (0 or 255) with every background region it encloses filled in."""
    return cv2.drawContours(np.zeros_like(mask), _outlines(mask), -1, 255, cv2.FILLED)
