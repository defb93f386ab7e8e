"""Decode a few frames a second from a clip, shrunk, for analyses that need the gist rather than every frame.

Decoding is most of the cost of looking at a clip, so the decoder skips what a shrunk sample does not
need: frames that no other frame refers to (H.264's non-reference B-frames, about a third of the work) and
the in-loop deblocking filter (another sixth; shrinking averages the block edges away). Of the frames
left, only those nearest the sampling times are converted to BGR and shrunk.
"""

from __future__ import annotations

import av
import cv2
import numpy as np

from clipwarden.errors import ClipwardenError
from clipwarden.media.codec import open_input, to_bgr, video_stream


def sample_frames(source: bytes, per_second: float, width: int) -> list[np.ndarray]:
    """About ``per_second`` frames for each second of the clip, as BGR uint8 ``width`` columns wide.

    Raises ClipwardenError if ``source`` is not a playable video.
    """
    if per_second <= 0 or width < 1:
        raise ValueError("per_second and width must be positive")
    samples: list[np.ndarray] = []
    try:
        with open_input(source) as container:
            stream = video_stream(container)
            stream.thread_type = "AUTO"
            stream.codec_context.options = {"skip_loop_filter": "all"}
            stream.codec_context.skip_frame = "NONREF"
            first: float | None = None
            for frame in container.decode(stream):
                at = float(frame.time or 0.0)
                first = at if first is None else first
                # The first decoded frame at or after each sampling time stands for it.
                if at - first >= len(samples) / per_second - 1e-6:
                    samples.append(_shrink(frame, width))
    except av.FFmpegError as error:
        raise ClipwardenError(f"not a playable video: {error}") from error
    if not samples:
        raise ClipwardenError("not a playable video: no decodable frames")
    return samples


def _shrink(frame: av.VideoFrame, width: int) -> np.ndarray:
    """The frame as BGR, ``width`` columns wide (area-averaged, so noise averages out too)."""
    bgr = to_bgr(frame)
    height = max(1, round(bgr.shape[0] * width / bgr.shape[1]))
    return cv2.resize(bgr, (width, height), interpolation=cv2.INTER_AREA)
