"""Renditions: the copy of a clip one reviewer sees in one viewing session, and tracing a leaked copy back to it.

A rendition is the stored clip decoded once, its moving people and pets covered (``clipwarden.media.redact``;
not when the owner opted in to unredacted review), the reviewer's pseudonym and the viewing time drawn over
it, the session's payload hidden in it (``clipwarden.media.watermark``), and encoded the way every file
leaves this system (``clipwarden.media.codec``: H.264, faststart, no container metadata). Frames stay in the
decoder's yuv420p planes throughout, into the encoder: nothing is converted to BGR and back.
Before the pass over every frame, redaction reads a few keyframes for the clip's background.

``trace`` reads the payload back from any copy, with the key alone: a video, or one still frame of it saved
as an image (``stills`` makes such frames for a dataset export, each marked again to carry the payload whole).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime

import av
import cv2
import numpy as np

from clipwarden.errors import ClipwardenError
from clipwarden.media.codec import EncodeSettings, Mp4Writer, open_input, video_stream
from clipwarden.media.redact import (
    REDACTIONS,
    Redaction,
    RedactionSettings,
    Redactor,
    background_samples,
    yuv420p,
)
from clipwarden.media.watermark import Payload, TraceResult, Watermarker, WatermarkSettings, extract

# Pixel formats whose first plane is 8-bit luma; anything else is converted to grey to be traced.
_EIGHT_BIT_LUMA_FIRST = frozenset({"yuv420p", "yuvj420p", "yuv422p", "yuvj422p", "yuv444p", "yuvj444p", "nv12", "nv21"})


@dataclass(frozen=True)
class RenditionSettings:
    redaction: RedactionSettings = field(default_factory=RedactionSettings)
    watermark: WatermarkSettings = field(default_factory=WatermarkSettings)
    encode: EncodeSettings = field(default_factory=EncodeSettings)


def make_rendition(
    clip: bytes,
    *,
    pseudonym: str,
    viewed_at: datetime,
    payload: Payload,
    key: bytes,
    redaction: Redaction = "pixelate",
    room: Sequence[np.ndarray] = (),
    settings: RenditionSettings = RenditionSettings(),
    visible: bool = True,
) -> bytes:
    """The MP4 of ``clip`` for one viewing session: redacted, labelled ``pseudonym`` and ``viewed_at``, and
    carrying ``payload`` (an int below 2**64, or 8 bytes) under ``key``. ``room``: samples of other clips of
    the same camera (``redact.room_samples``), from which redaction learns how the room looks without whoever
    stays still in this one. ``visible`` False leaves out the label (a dataset export, whose pixels outside
    tools learn from), keeping the invisible payload.

    Raises ClipwardenError on a bad argument or if ``clip`` is not a playable video.
    """
    label = f"{pseudonym}  {_utc(viewed_at):%Y-%m-%d %H:%M} UTC"
    shown = label if visible else None

    def marker(width: int, height: int, fps: int) -> Watermarker:
        return Watermarker(width, height, fps, label=shown, payload=payload, key=key, settings=settings.watermark)

    return _render(clip, redaction, room, settings, marker)


def redacted_copy(
    clip: bytes,
    *,
    redaction: Redaction = "pixelate",
    room: Sequence[np.ndarray] = (),
    settings: RenditionSettings = RenditionSettings(),
) -> bytes:
    """``clip`` redacted and encoded as a rendition is, with no label and no watermark: the pixels a camera AI
    would learn from if training saw only what reviewers see (``clipwarden study``'s redacted axis).

    Raises ClipwardenError on a bad argument or if ``clip`` is not a playable video.
    """
    return _render(clip, redaction, room, settings, None)


def _render(
    clip: bytes,
    redaction: Redaction,
    room: Sequence[np.ndarray],
    settings: RenditionSettings,
    marker_for: Callable[[int, int, int], Watermarker] | None,
) -> bytes:
    """Decode once, redact, mark (where ``marker_for`` gives a marker for the width, height and fps), encode."""
    if redaction not in REDACTIONS:
        raise ClipwardenError(f"unknown redaction {redaction!r}; one of {', '.join(REDACTIONS)}")
    try:
        with open_input(clip) as container:
            stream = video_stream(container)
            stream.thread_type = "AUTO"  # frame threading is exact; it only makes decoding faster
            width, height, fps = stream.codec_context.width, stream.codec_context.height, _fps(stream)
            marker = None if marker_for is None else marker_for(width, height, fps)
            redactor = None
            if redaction != "none":
                samples = background_samples(clip, settings.redaction)
                redactor = Redactor(width, height, samples, redaction, settings.redaction, room)
            writer = Mp4Writer(width, height, fps, settings.encode)
            for frame in container.decode(stream):
                i420 = yuv420p(frame)
                if redactor is not None:
                    redactor.redact(i420)
                if marker is not None:
                    marker.mark(i420[:height])
                writer.write_i420(i420)
    except av.FFmpegError as error:
        raise ClipwardenError(f"not a playable video: {error}") from error
    if not writer.frames:
        raise ClipwardenError("not a playable video: no decodable frames")
    return writer.close()


def stills(
    video: bytes,
    frames: Sequence[int],
    *,
    payload: Payload,
    key: bytes,
    settings: WatermarkSettings = WatermarkSettings(),
) -> dict[int, bytes]:
    """PNG images of the given frames of ``video`` (a rendition), each marked again on its own so that the one
    picture carries ``payload`` at full strength: a video spreads its mark's evidence over many frames, a
    still has only itself. The mark is informed, so where the frame carries it already little changes."""
    wanted, found = set(frames), {}
    try:
        with open_input(video) as container:
            stream = video_stream(container)
            for index, frame in enumerate(container.decode(stream)):
                if index in wanted:
                    i420 = yuv420p(frame)
                    height = frame.height
                    Watermarker(frame.width, height, 1, label=None, payload=payload, key=key, settings=settings).mark(
                        i420[:height]
                    )
                    found[index] = _png(cv2.cvtColor(i420, cv2.COLOR_YUV2BGR_I420))
    except av.FFmpegError as error:
        raise ClipwardenError(f"not a playable video: {error}") from error
    if missing := wanted - found.keys():
        raise ClipwardenError(f"the video has no frame {min(missing)}")
    return found


def trace(data: bytes, key: bytes, settings: WatermarkSettings = WatermarkSettings()) -> TraceResult:
    """The payload a copy carries under ``key`` (None if none), how sure, and from how many frames.

    Works on the whole copy or any stretch of 2 s or more of it, at its size or scaled down to half, and on
    a still image (PNG or JPEG) of one frame. Raises ClipwardenError if ``data`` is neither a playable video
    nor an image.
    """
    if data.startswith(_IMAGE_SIGNATURES):
        return extract([_image_luma(data)], key, settings)
    return extract(_lumas(data), key, settings)


_IMAGE_SIGNATURES = (b"\x89PNG\r\n\x1a\n", b"\xff\xd8\xff")  # PNG, JPEG


def _png(bgr: np.ndarray) -> bytes:
    done, encoded = cv2.imencode(".png", bgr)
    if not done:
        raise ClipwardenError("could not encode a PNG")
    return bytes(encoded.tobytes())


def _image_luma(data: bytes) -> np.ndarray:
    """The luma plane of an image, as the frame it was made from had it (the same BT.601 conversion)."""
    bgr = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    if bgr is None:
        raise ClipwardenError("not a readable image")
    height, width = bgr.shape[:2]
    bgr = bgr[: height - height % 2, : width - width % 2]  # I420 needs even sides
    return np.ascontiguousarray(cv2.cvtColor(bgr, cv2.COLOR_BGR2YUV_I420)[: bgr.shape[0]])


def _lumas(data: bytes) -> Iterator[np.ndarray]:
    """The luma plane of every frame, of any size: a leaked copy may have been scaled to odd dimensions."""
    try:
        with open_input(data) as container:
            stream = video_stream(container)
            stream.thread_type = "AUTO"
            for frame in container.decode(stream):
                if frame.format.name not in _EIGHT_BIT_LUMA_FIRST:
                    frame = frame.reformat(format="gray")
                plane = frame.planes[0]
                yield np.frombuffer(memoryview(plane), np.uint8).reshape(-1, plane.line_size)[
                    : frame.height, : frame.width
                ]
    except av.FFmpegError as error:
        raise ClipwardenError(f"not a playable video: {error}") from error


def _fps(stream: av.VideoStream) -> int:
    rate = stream.average_rate or stream.guessed_rate
    if not rate or round(rate) < 1:
        raise ClipwardenError("not a playable video: no frame rate")
    return round(rate)


def _utc(moment: datetime) -> datetime:
    if not isinstance(moment, datetime) or moment.tzinfo is None:
        raise ClipwardenError(f"viewed_at must be a timezone-aware datetime, got {moment!r}")
    return moment.astimezone(UTC)
