"""Renditions end to end: who is covered and what stays readable, the label on every frame, nothing in the
file that identifies it, and the payload traced back after what a leaker would do to a copy (re-encoding at
CRF 30, scaling to half size, cutting a 10 s excerpt), while unmarked clips and wrong keys trace to nothing.

The clips are synthetic: a textured room with a person-sized figure in striped clothes walking across it.
The tests know where they drew the figure; the redaction does not (it sees pixels only).
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone

import av
import cv2
import numpy as np
import pytest

from clipwarden.errors import ClipwardenError
from clipwarden.media.codec import EncodeSettings, decode_frames, encode_mp4, probe
from clipwarden.media.redact import Redaction, pack_room, room_samples, unpack_room
from clipwarden.media.rendition import make_rendition, redacted_copy, trace
from clipwarden.media.watermark import visible_overlay

from .scenes import background, frames
from .test_codec import HARMLESS_CONTAINER_KEYS, HARMLESS_STREAM_METADATA

WIDTH, HEIGHT, FPS = 640, 360, 10
KEY, PAYLOAD = b"rendition test key", 0x1234_5678_9ABC_DEF0
VIEWED_AT = datetime(2026, 1, 5, 14, 3, tzinfo=UTC)
LEAK = EncodeSettings(preset="medium", crf=30)  # what someone re-encoding a screen capture might use
# Unmarked video reads about 1.5 (under 2 in 480 tries); a readable mark well above.
UNMARKED_CONFIDENCE = 2.5
# The figure: 60 x 160 pixels, walking along the floor from x = 80 to x = 500 over the first 80% of the clip.
FIGURE_W, FIGURE_H, FIGURE_TOP = 60, 160, 170
STILL_BAND = slice(0, 120)  # rows the figure never comes near: the far wall


def _figure_left(index: int, count: int) -> int:
    return 80 + round(420 * min(1.0, index / (0.8 * count)))


def _walk(count: int, seed: int = 0) -> Iterator[np.ndarray]:
    """A figure in horizontal stripes (the detail pixelation must remove) walking across a textured room."""
    return _scene(count, lambda index: _figure_left(index, count), seed)


def _scene(
    count: int, left_at: Callable[[int], int | None], seed: int = 0, noise_seed: int = 1
) -> Iterator[np.ndarray]:
    """The textured room with the striped figure at column ``left_at(index)`` in each frame (None: nobody)."""
    room = background(WIDTH, HEIGHT, seed)
    stripes = np.where((np.arange(FIGURE_H) // 4 % 2 == 0)[:, None, None], 235, 30).astype(np.uint8)
    figure = np.broadcast_to(stripes, (FIGURE_H, FIGURE_W, 3))
    noise = np.random.default_rng(seed + noise_seed)
    for index in range(count):
        frame = room.copy()
        left = left_at(index)
        if left is not None:
            frame[FIGURE_TOP : FIGURE_TOP + FIGURE_H, left : left + FIGURE_W] = figure
        yield cv2.add(frame, noise.integers(0, 4, frame.shape, np.uint8))


def _figure(frame: np.ndarray, index: int, count: int) -> np.ndarray:
    left = _figure_left(index, count)
    return frame[FIGURE_TOP : FIGURE_TOP + FIGURE_H, left : left + FIGURE_W]


def _render(clip: bytes, redaction: Redaction = "pixelate", payload: int = PAYLOAD) -> bytes:
    return make_rendition(clip, pseudonym="rv-7f3a", viewed_at=VIEWED_AT, payload=payload, key=KEY, redaction=redaction)


def _render_in(clip: bytes, room: list[np.ndarray]) -> bytes:
    """A pixelated rendition given room samples of the clip's camera."""
    return make_rendition(clip, pseudonym="rv-7f3a", viewed_at=VIEWED_AT, payload=PAYLOAD, key=KEY, room=room)


def _reencode(data: bytes, first: int = 0, count: int | None = None, scale: int = 1) -> bytes:
    """Frames [first, first + count) of ``data``, scaled down by ``scale``, re-encoded as a leaker would."""
    size = (WIDTH // scale, HEIGHT // scale)
    excerpt = itertools.islice(decode_frames(data), first, None if count is None else first + count)
    return encode_mp4((cv2.resize(f, size, interpolation=cv2.INTER_AREA) for f in excerpt), *size, FPS, LEAK)


@pytest.fixture(scope="module")
def walk() -> bytes:
    return encode_mp4(_walk(40), WIDTH, HEIGHT, FPS)


@pytest.fixture(scope="module")
def renditions(walk: bytes) -> dict[str, list[np.ndarray]]:
    """Decoded frames of the original and of each kind of rendition."""
    decoded = {"original": list(decode_frames(walk))}
    for redaction in ("pixelate", "silhouette", "none"):
        decoded[redaction] = list(decode_frames(_render(walk, redaction)))
    return decoded


@pytest.fixture(scope="module")
def served(walk: bytes) -> bytes:
    return _render(walk)


def _luma(frame: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY).astype(np.float64)


# Redaction


def test_pixelation_wipes_out_the_moving_figure_and_leaves_the_room(renditions: dict[str, list[np.ndarray]]) -> None:
    count = len(renditions["original"])
    for index in (5, 20, 30):
        shown, plain = _luma(renditions["pixelate"][index]), _luma(renditions["none"][index])
        # The stripes (4 pixels) are averaged away inside blocks of 12.
        assert np.abs(_figure(shown, index, count) - _figure(plain, index, count)).mean() > 40
        assert _figure(shown, index, count).std() < 0.5 * _figure(plain, index, count).std()
        # The far wall is the same in both (same watermarks; only the codec's noise differs).
        assert np.abs(shown[STILL_BAND] - plain[STILL_BAND]).mean() < 3


def test_a_redacted_copy_covers_the_figure_and_carries_no_mark(
    walk: bytes, renditions: dict[str, list[np.ndarray]]
) -> None:
    """What the study's redacted-training axis reads: the rendition's pixelation, without label or payload."""
    copy = list(decode_frames(redacted_copy(walk)))
    count = len(copy)
    letters = visible_overlay(WIDTH, HEIGHT, "rv-7f3a  2026-01-05 14:03 UTC")[STILL_BAND] > 20
    for index in (5, 20, 30):
        shown, original = _luma(copy[index]), _luma(renditions["original"][index])
        assert _figure(shown, index, count).std() < 0.5 * _figure(original, index, count).std()
        # Where a rendition's label would lie on the far wall, the copy is the original (a label shifts it > 20).
        assert np.abs(shown[STILL_BAND] - original[STILL_BAND])[letters].mean() < 3
    assert trace(redacted_copy(walk), KEY).payload is None


def test_silhouettes_fill_the_figure_with_flat_grey(renditions: dict[str, list[np.ndarray]]) -> None:
    count = len(renditions["original"])
    for index in (5, 20, 30):
        figure = _figure(_luma(renditions["silhouette"][index]), index, count)
        # Flat dark grey, apart from the visible label drawn over it.
        assert np.median(figure) < 70 and np.percentile(figure, 75) - np.percentile(figure, 25) < 10
        still = _luma(renditions["silhouette"][index])[STILL_BAND] - _luma(renditions["none"][index])[STILL_BAND]
        assert np.abs(still).mean() < 3


def test_without_redaction_the_figure_stays_as_it_was(renditions: dict[str, list[np.ndarray]]) -> None:
    count = len(renditions["original"])
    for index in (5, 20, 30):
        shown, original = _luma(renditions["none"][index]), _luma(renditions["original"][index])
        shown_figure, original_figure = _figure(shown, index, count), _figure(original, index, count)
        assert np.corrcoef(shown_figure.ravel(), original_figure.ravel())[0, 1] > 0.9
        assert shown_figure.std() > 0.8 * original_figure.std()


def test_someone_still_through_the_whole_clip_is_covered_given_other_clips_of_the_room() -> None:
    still_at = 300
    clip = encode_mp4(_scene(30, lambda _: still_at), WIDTH, HEIGHT, FPS)
    # Other clips of the same camera: the empty room, and once someone standing elsewhere (outvoted).
    elsewhere = (None, None, 80, None)
    room = room_samples(
        encode_mp4(_scene(6, lambda _, at=at: at, noise_seed=9 + n), WIDTH, HEIGHT, FPS)
        for n, at in enumerate(elsewhere)
    )
    plain = list(decode_frames(_render(clip, "none")))
    alone = list(decode_frames(_render(clip)))
    roomed = list(decode_frames(_render_in(clip, room)))
    box = (slice(FIGURE_TOP, FIGURE_TOP + FIGURE_H), slice(still_at, still_at + FIGURE_W))
    for index in (0, 15, 29):
        shown, unredacted = _luma(roomed[index]), _luma(plain[index])
        assert shown[box].std() < 0.5 * unredacted[box].std()  # the stripes are gone
        assert np.abs(shown[STILL_BAND] - unredacted[STILL_BAND]).mean() < 3  # the wall is not covered
        # Where the other clip's visitor stood is not covered: one room sample in four is outvoted.
        assert np.abs(shown[box[0], 80:140] - unredacted[box[0], 80:140]).mean() < 3
        # From the clip alone, whoever never moves is part of the room: the limit the room samples lift.
        assert _luma(alone[index])[box].std() > 0.8 * unredacted[box].std()


def test_room_samples_kept_between_views_redact_exactly_as_fresh_ones() -> None:
    clip = encode_mp4(_scene(10, lambda _: 300), WIDTH, HEIGHT, FPS)
    room = room_samples(encode_mp4(_scene(4, lambda _: None, noise_seed=n), WIDTH, HEIGHT, FPS) for n in range(3))
    assert _render_in(clip, unpack_room(pack_room(room))) == _render_in(clip, room)


def test_what_is_not_packed_room_samples_is_refused() -> None:
    for data in (b"not an array", pack_room([np.zeros((9, 16), np.uint8)])):
        with pytest.raises(ClipwardenError, match="not packed room samples"):
            unpack_room(data)


def test_room_clips_of_another_shape_or_lit_otherwise_are_left_out() -> None:
    clip = encode_mp4(_scene(20, lambda _: 300), WIDTH, HEIGHT, FPS)
    square = room_samples([encode_mp4((f[:, :480] for f in _scene(4, lambda _: None)), 480, HEIGHT, FPS)] * 3)
    dark = room_samples(
        encode_mp4((f // 3 for f in _scene(4, lambda _: None, noise_seed=n)), WIDTH, HEIGHT, FPS) for n in range(3)
    )
    plain = _luma(list(decode_frames(_render(clip, "none")))[10])
    for room in (square, dark):
        shown = _render_in(clip, room)
        assert np.abs(_luma(list(decode_frames(shown))[10]) - plain).mean() < 3


def test_a_lamp_switched_on_does_not_turn_the_room_into_foreground() -> None:
    # No one moves; the light goes up by 70 levels at 3 s. Keyframes every 2 s give samples on both sides.
    clip = encode_mp4(frames(WIDTH, HEIGHT, 60, light_on_at=30), WIDTH, HEIGHT, FPS)
    pixelated, plain = (list(decode_frames(_render(clip, redaction))) for redaction in ("pixelate", "none"))
    for index in (10, 45, 59):  # before, after and at the end
        assert np.abs(_luma(pixelated[index]) - _luma(plain[index])).mean() < 3


# Watermarks and the file


def test_the_label_is_drawn_on_every_frame(renditions: dict[str, list[np.ndarray]]) -> None:
    overlay = visible_overlay(WIDTH, HEIGHT, "rv-7f3a  2026-01-05 14:03 UTC")
    letters, untouched = overlay > 20, overlay == 0
    for shown, original in zip(renditions["none"], renditions["original"], strict=True):
        shift = _luma(shown) - _luma(original)
        assert shift[letters].mean() > 20
        assert np.abs(shift[untouched]).mean() < 3


def test_the_label_says_who_and_when_in_utc(walk: bytes) -> None:
    local = VIEWED_AT.astimezone(timezone(timedelta(hours=5, minutes=30)))
    assert make_rendition(walk, pseudonym="rv-7f3a", viewed_at=local, payload=PAYLOAD, key=KEY) == _render(walk)
    other_reviewer = make_rendition(walk, pseudonym="rv-0000", viewed_at=VIEWED_AT, payload=PAYLOAD, key=KEY)
    assert other_reviewer != _render(walk)


def test_the_rendition_is_the_clip_s_size_length_and_rate(walk: bytes, served: bytes) -> None:
    shown, original = probe(served), probe(walk)
    assert (shown.width, shown.height, shown.fps, shown.frames) == (original.width, original.height, FPS, 40)


def test_the_rendition_carries_no_identifying_metadata(served: bytes) -> None:
    with av.open(io.BytesIO(served), "r") as container:
        assert set(container.metadata) <= HARMLESS_CONTAINER_KEYS
        for stream in container.streams:
            assert stream.metadata == HARMLESS_STREAM_METADATA
    for marker in (b"Lavf", b"Lavc", b"creation_time", b"encoder", b"x264", b"\xa9too", b"rv-7f3a"):
        assert marker not in served
    mvhd = served.index(b"mvhd") + 4
    assert served[mvhd + 4 : mvhd + 12] == bytes(8)


# Tracing a leaked copy


def test_the_served_copy_traces_to_its_session(served: bytes) -> None:
    result = trace(served, KEY)
    assert (result.payload, result.frames) == (PAYLOAD, 40)
    assert result.confidence > 5


def test_a_copy_re_encoded_at_crf_30_still_traces(served: bytes) -> None:
    result = trace(_reencode(served), KEY)
    assert result.payload == PAYLOAD and result.confidence > UNMARKED_CONFIDENCE


def test_a_copy_scaled_to_half_size_still_traces(served: bytes) -> None:
    copy = _reencode(served, scale=2)
    assert probe(copy).width == WIDTH // 2
    result = trace(copy, KEY)
    assert result.payload == PAYLOAD and result.confidence > UNMARKED_CONFIDENCE


def test_a_copy_scaled_to_an_odd_size_in_another_pixel_format_still_traces(served: bytes) -> None:
    # 4:4:4 allows odd sizes, which 4:2:0 does not; 3/4 of the size is no power of two either.
    size = (481, 271)
    buffer = io.BytesIO()
    with av.open(buffer, "w", format="mp4") as container:
        stream = container.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = *size, "yuv444p"
        for frame in decode_frames(served):
            scaled: np.ndarray = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
            container.mux(stream.encode(av.VideoFrame.from_ndarray(scaled, format="bgr24")))
        container.mux(stream.encode(None))
    assert trace(buffer.getvalue(), KEY).payload == PAYLOAD


def test_a_10_s_excerpt_from_the_middle_of_a_long_clip_still_traces() -> None:
    clip = encode_mp4(_walk(250, seed=3), WIDTH, HEIGHT, FPS)
    excerpt = _reencode(_render(clip), first=80, count=100)
    assert probe(excerpt).duration_s == pytest.approx(10.0)
    result = trace(excerpt, KEY)
    assert (result.payload, result.frames) == (PAYLOAD, 100)
    assert result.confidence > UNMARKED_CONFIDENCE


def test_unmarked_clips_and_wrong_keys_trace_to_nothing(walk: bytes, served: bytes) -> None:
    for clip in (walk, _reencode(walk), encode_mp4(_walk(20, seed=5), WIDTH, HEIGHT, FPS)):
        result = trace(clip, KEY)
        assert result.payload is None and result.confidence < UNMARKED_CONFIDENCE
    assert trace(served, b"another key").payload is None


def test_each_session_s_copy_traces_to_its_own_payload(walk: bytes) -> None:
    for payload in (1, 2**64 - 1):
        assert trace(_render(walk, "none", payload=payload), KEY).payload == payload


# Bad input


def test_what_is_not_a_video_is_refused(walk: bytes) -> None:
    for data in (b"", b"not a video at all" * 100, walk[: len(walk) // 3]):
        with pytest.raises(ClipwardenError, match=r"^not a playable video"):
            _render(data)
        with pytest.raises(ClipwardenError, match=r"^not a playable video"):
            trace(data, KEY)


def test_bad_arguments_are_refused(walk: bytes) -> None:
    with pytest.raises(ClipwardenError, match="unknown redaction 'blur'"):
        _render(walk, "blur")  # type: ignore[arg-type]
    with pytest.raises(ClipwardenError, match="timezone-aware"):
        make_rendition(walk, pseudonym="rv", viewed_at=datetime(2026, 1, 5), payload=1, key=KEY)
    with pytest.raises(ClipwardenError, match="payload"):
        make_rendition(walk, pseudonym="rv", viewed_at=VIEWED_AT, payload=-1, key=KEY)
    with pytest.raises(ClipwardenError, match="key"):
        make_rendition(walk, pseudonym="rv", viewed_at=VIEWED_AT, payload=1, key=b"")
