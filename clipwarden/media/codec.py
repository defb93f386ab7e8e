"""H.264/MP4 read and write (PyAV).

Files are written the way a camera should upload them: H.264 in yuv420p, MP4 with the index at the front
(faststart, so a viewer can start playing before the download ends), and nothing in the file that says
who, where, when or with what it was made: no creation time, no muxer or encoder tags, and the x264
version-and-options SEI is stripped from the bitstream. Encoding is single-threaded so that the same
frames always give the same bytes; the pipeline runs cameras in parallel processes instead.
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

import av
import cv2
import numpy as np
from av.bitstream import BitStreamFilterContext
from av.codec.context import Flags

from clipwarden.errors import ClipwardenError

# Containers a camera video comes in. FFmpeg reads much else as "video" (still images, text files as
# ANSI art), none of which is a recording.
_VIDEO_CONTAINERS = frozenset({"mov,mp4,m4a,3gp,3g2,mj2", "matroska,webm", "avi", "mpegts"})
# filter_units: drop SEI NAL units (type 6); libx264 writes its version and full option string there.
_STRIP_SEI = "filter_units=remove_types=6"


@dataclass(frozen=True)
class EncodeSettings:
    preset: str = "veryfast"  # x264 speed/size trade-off
    crf: int = 23  # x264 constant quality; lower is better and bigger
    gop_s: float = 2.0  # seconds between keyframes, so viewers can seek


class Mp4Writer:
    """Streams frames into an in-memory MP4: ``w.write(bgr)`` (or ``w.write_i420(planes)``) per frame, then
    ``data = w.close()``."""

    def __init__(self, width: int, height: int, fps: int, settings: EncodeSettings = EncodeSettings()) -> None:
        if width % 2 or height % 2:
            raise ValueError(f"H.264 in yuv420p needs an even width and height, not {width}x{height}")
        self.width, self.height, self.fps = width, height, fps
        self.frames = 0
        self._buffer = io.BytesIO()
        self._container = av.open(
            self._buffer,
            "w",
            format="mp4",
            container_options={"movflags": "+faststart", "fflags": "+bitexact"},
            # faststart moves the index to the front in a second pass that reopens the output for
            # reading; give it a snapshot of what has been written (the muxer flushes first).
            io_open=lambda _url, _flags, _options: io.BytesIO(self._buffer.getvalue()),
        )
        stream = self._container.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        stream.options = {"preset": settings.preset, "crf": str(settings.crf), "threads": "1"}
        stream.codec_context.gop_size = max(1, round(settings.gop_s * fps))
        stream.codec_context.flags |= Flags.bitexact
        self._stream = stream
        self._time_base = Fraction(1, fps)
        self._strip_sei: BitStreamFilterContext | None = None  # needs the opened encoder's parameters

    def write(self, frame: np.ndarray) -> None:
        """Add a BGR frame. It is converted with OpenCV (BT.601, limited range, as the decoders read it):
        the conversion FFmpeg would do inside the encoder does not always give the same result for the
        same frame within one process, and the same frames must give the same bytes."""
        if frame.shape != (self.height, self.width, 3) or frame.dtype != np.uint8:
            raise ValueError(f"expected a {self.height}x{self.width} BGR uint8 frame, got {frame.shape}")
        self.write_i420(cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420))

    def write_i420(self, planes: np.ndarray) -> None:
        """Add a frame given as yuv420p planes stacked as OpenCV lays them out (height * 3/2 rows)."""
        if planes.shape != (self.height * 3 // 2, self.width) or planes.dtype != np.uint8:
            raise ValueError(f"expected {self.height * 3 // 2}x{self.width} I420 uint8 planes, got {planes.shape}")
        video_frame = av.VideoFrame.from_ndarray(planes, format="yuv420p")
        video_frame.pts, video_frame.time_base = self.frames, self._time_base
        self._mux(self._stream.encode(video_frame))
        self.frames += 1

    def close(self) -> bytes:
        """Flush the encoder and return the finished file."""
        if self.frames == 0:
            raise ValueError("an MP4 needs at least one frame")
        self._mux(self._stream.encode(None))
        if self._strip_sei is not None:
            self._mux(self._strip_sei.filter(None))
        self._container.close()
        return self._buffer.getvalue()

    def _mux(self, packets: Iterable[av.Packet]) -> None:
        for packet in packets:
            if self._strip_sei is None:
                self._strip_sei = BitStreamFilterContext(_STRIP_SEI, self._stream)
            for filtered in self._strip_sei.filter(packet):
                filtered.stream = self._stream
                self._container.mux(filtered)


def encode_mp4(
    frames: Iterable[np.ndarray],
    width: int,
    height: int,
    fps: int,
    settings: EncodeSettings = EncodeSettings(),
) -> bytes:
    writer = Mp4Writer(width, height, fps, settings)
    for frame in frames:
        writer.write(frame)
    return writer.close()


@dataclass(frozen=True)
class VideoInfo:
    codec: str
    width: int
    height: int
    fps: float
    frames: int
    duration_s: float


def probe(source: bytes | Path) -> VideoInfo:
    """Read what a file says of itself, checking that it holds a video whose first frame decodes.

    Frames are counted from the demuxed packets (cheap); only the first one is decoded.
    """
    try:
        with open_input(source) as container:
            stream = video_stream(container)
            codec, frames, decoded = stream.codec_context, 0, False
            for packet in container.demux(stream):
                if packet.size:
                    frames += 1
                    # Decode only until the first frame comes out (the decoder may hold a few back).
                    decoded = decoded or bool(codec.decode(packet))
            decoded = decoded or bool(codec.decode(None))
            if not decoded:
                raise ClipwardenError("not a playable video: no decodable frames")
            if frames < stream.frames:
                raise ClipwardenError(f"not a playable video: truncated ({frames} of {stream.frames} frames)")
            fps = float(stream.average_rate or stream.guessed_rate or 0)
            return VideoInfo(
                codec=codec.name,
                width=codec.width,
                height=codec.height,
                fps=fps,
                frames=frames,
                duration_s=frames / fps if fps else float(stream.duration or 0) * float(stream.time_base or 0),
            )
    except av.FFmpegError as error:
        raise ClipwardenError(f"not a playable video: {error}") from error


def decode_frames(source: bytes | Path) -> Iterator[np.ndarray]:
    """Yield every frame as BGR uint8."""
    try:
        with open_input(source) as container:
            stream = video_stream(container)
            stream.thread_type = "AUTO"  # frame threading is exact; it only makes decoding faster
            for frame in container.decode(stream):
                yield to_bgr(frame)
    except av.FFmpegError as error:
        raise ClipwardenError(f"not a playable video: {error}") from error


def keyframe_jpeg(source: bytes | Path, width: int = 160, quality: int = 80) -> bytes:
    """A small JPEG of the keyframe at or before the middle of the recording: the clip's own pixels (privacy
    zones are black in them already), ``width`` pixels wide."""
    try:
        with open_input(source) as container:
            stream = video_stream(container)
            if container.duration:
                container.seek(container.duration // 2)  # in AV_TIME_BASE units; lands on the keyframe before
            frame = to_bgr(next(container.decode(stream)))
    except (av.FFmpegError, StopIteration) as error:
        raise ClipwardenError(f"not a playable video: {error or 'no frame'}") from error
    height = max(2, round(frame.shape[0] * width / frame.shape[1] / 2) * 2)
    small = cv2.resize(frame, (width, height), interpolation=cv2.INTER_AREA)
    encoded, jpeg = cv2.imencode(".jpg", small, [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not encoded:
        raise ClipwardenError("the keyframe could not be encoded as JPEG")
    return jpeg.tobytes()


def to_bgr(frame: av.VideoFrame) -> np.ndarray:
    """The decoded frame as BGR uint8. yuv420p (what cameras and this encoder write) is converted by
    OpenCV: several times faster than FFmpeg's swscale, and swscale's conversion leaves this thread's
    floating-point state so that the next libx264 encode in it no longer gives the same bytes."""
    if frame.format.name == "yuv420p":
        return cv2.cvtColor(frame.to_ndarray(), cv2.COLOR_YUV2BGR_I420)
    return frame.to_ndarray(format="bgr24")


def open_input(source: bytes | Path) -> av.container.InputContainer:
    """Open a file, or bytes in memory, for reading; check it with ``video_stream``."""
    return av.open(io.BytesIO(source) if isinstance(source, bytes | bytearray) else str(source), "r")


def video_stream(container: av.container.InputContainer) -> av.VideoStream:
    """The container's video stream; ClipwardenError if it is not a recording."""
    if container.format.name not in _VIDEO_CONTAINERS:
        raise ClipwardenError(f"not a playable video: not a video container ({container.format.name})")
    if not container.streams.video:
        raise ClipwardenError("not a playable video: no video stream")
    return container.streams.video[0]
