"""H.264/MP4 writing and reading: what the file says of itself, and what it must not say."""

from __future__ import annotations

import io
import struct
import subprocess
import sys
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from clipwarden.errors import ClipwardenError
from clipwarden.media.codec import EncodeSettings, Mp4Writer, decode_frames, encode_mp4, probe

from .scenes import Blob, frames

WIDTH, HEIGHT, FPS = 320, 180, 10
# What an MP4 must carry to be an MP4 (the ftyp box, as the demuxer reports it); nothing else is allowed.
HARMLESS_CONTAINER_KEYS = {"major_brand", "minor_version", "compatible_brands"}
HARMLESS_STREAM_METADATA = {"language": "und", "handler_name": "VideoHandler"}


@pytest.fixture(scope="module")
def scene() -> list[np.ndarray]:
    return list(frames(WIDTH, HEIGHT, 30, [Blob(0, 30, 0.1, 0.9, 0.5, 0.1, 0.4)]))


@pytest.fixture(scope="module")
def mp4(scene: list[np.ndarray]) -> bytes:
    return encode_mp4(scene, WIDTH, HEIGHT, FPS)


def _top_level_boxes(data: bytes) -> list[str]:
    boxes, offset = [], 0
    while offset + 8 <= len(data):
        size, kind = struct.unpack(">I4s", data[offset : offset + 8])
        if size == 1:  # 64-bit size follows the type
            size = struct.unpack(">Q", data[offset + 8 : offset + 16])[0]
        boxes.append(kind.decode("ascii"))
        offset += size if size else len(data)
    return boxes


def test_probe_reads_back_what_was_encoded(mp4: bytes) -> None:
    info = probe(mp4)
    assert (info.codec, info.width, info.height, info.fps, info.frames) == ("h264", WIDTH, HEIGHT, 10.0, 30)
    assert info.duration_s == pytest.approx(3.0)


def test_probe_reads_a_path(mp4: bytes, tmp_path: Path) -> None:
    path = tmp_path / "clip.mp4"
    path.write_bytes(mp4)
    assert probe(path) == probe(mp4)


def test_index_comes_before_the_media_data(mp4: bytes) -> None:
    boxes = _top_level_boxes(mp4)
    assert boxes[0] == "ftyp"
    assert boxes.index("moov") < boxes.index("mdat")


def test_file_carries_no_identifying_metadata(mp4: bytes) -> None:
    with av.open(io.BytesIO(mp4), "r") as container:
        assert set(container.metadata) <= HARMLESS_CONTAINER_KEYS
        for stream in container.streams:
            assert stream.metadata == HARMLESS_STREAM_METADATA
    for marker in (b"Lavf", b"Lavc", b"creation_time", b"encoder", b"x264", b"\xa9too"):
        assert marker not in mp4
    # The movie header's creation and modification times are zero, not the time of encoding.
    mvhd = mp4.index(b"mvhd") + 4
    assert mp4[mvhd + 4 : mvhd + 12] == bytes(8)


# Encodes the test scene and prints the file's SHA-256; run in a fresh interpreter.
_ENCODE_IN_A_FRESH_PROCESS = """
import hashlib, sys
sys.path.insert(0, sys.argv[1])
from media.scenes import Blob, frames
from clipwarden.media.codec import Mp4Writer, encode_mp4
scene = list(frames(320, 180, 30, [Blob(0, 30, 0.1, 0.9, 0.5, 0.1, 0.4)]))
writer = Mp4Writer(320, 180, 10)
for frame in scene:
    writer.write(frame)
streamed = writer.close()
assert streamed == encode_mp4(scene, 320, 180, 10)
print(hashlib.sha256(streamed).hexdigest())
"""


def test_same_frames_give_the_same_bytes() -> None:
    """The fleet's workers are fresh processes, each encoding its windows in order: the same frames must
    give the same file there. (Within one long-lived process that has also decoded video, libx264 was seen
    to give a few bytes more or less for the same frames now and then; NOTE.md says so.)"""
    tests_dir = str(Path(__file__).parents[1])
    runs = [
        subprocess.run([sys.executable, "-c", _ENCODE_IN_A_FRESH_PROCESS, tests_dir], capture_output=True, text=True)
        for _ in range(2)
    ]
    assert [run.returncode for run in runs] == [0, 0], [run.stderr[-500:] for run in runs]
    assert runs[0].stdout == runs[1].stdout and len(runs[0].stdout.strip()) == 64


def test_keyframes_follow_the_gop_setting(scene: list[np.ndarray]) -> None:
    data = encode_mp4(scene, WIDTH, HEIGHT, FPS, EncodeSettings(gop_s=1.0))
    with av.open(io.BytesIO(data), "r") as container:
        keyframes = [packet.is_keyframe for packet in container.demux(video=0) if packet.size]
    assert sum(keyframes) == 3


def test_decoded_frames_look_like_the_input(scene: list[np.ndarray], mp4: bytes) -> None:
    decoded = list(decode_frames(mp4))
    assert len(decoded) == len(scene)
    assert decoded[0].shape == (HEIGHT, WIDTH, 3) and decoded[0].dtype == np.uint8
    error = np.mean([cv2.absdiff(a, b).mean() for a, b in zip(decoded, scene, strict=True)])
    assert error < 4


def _not_videos(mp4: bytes, tmp_path: Path) -> list[bytes | Path]:
    text = tmp_path / "notes.txt"
    text.write_text("not a video\n" * 100)
    image = cv2.imencode(".png", np.zeros((32, 32, 3), np.uint8))[1].tobytes()
    return [
        b"",
        np.random.default_rng(0).bytes(20_000),
        text,
        tmp_path / "missing.mp4",
        tmp_path,
        image,
        mp4[:200],
        mp4[: len(mp4) // 2],
    ]


def test_probe_rejects_what_is_not_a_video(mp4: bytes, tmp_path: Path) -> None:
    for source in _not_videos(mp4, tmp_path):
        with pytest.raises(ClipwardenError, match=r"^not a playable video: "):
            probe(source)


def test_decoding_garbage_raises_a_clipwarden_error() -> None:
    with pytest.raises(ClipwardenError, match=r"^not a playable video: "):
        list(decode_frames(np.random.default_rng(1).bytes(5_000)))


def test_writer_refuses_a_frame_of_the_wrong_size() -> None:
    writer = Mp4Writer(WIDTH, HEIGHT, FPS)
    with pytest.raises(ValueError, match="expected a 180x320"):
        writer.write(np.zeros((HEIGHT, WIDTH + 2, 3), np.uint8))
    with pytest.raises(ValueError, match="at least one frame"):
        writer.close()
