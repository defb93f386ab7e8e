"""The watermarks on their own: the invisible payload's embedding maths, its faintness and its keying, what an
unmarked picture reads as, and where the visible label is drawn. What a leaker does to a whole rendition
(re-encoding, scaling, excerpts) is in test_rendition.py."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from clipwarden.errors import ClipwardenError
from clipwarden.media.redact import planes
from clipwarden.media.watermark import (
    TraceResult,
    Watermarker,
    WatermarkSettings,
    extract,
    payload_bytes,
    visible_overlay,
)

from .scenes import Blob, frames

WIDTH, HEIGHT, FPS = 640, 360, 10
KEY, PAYLOAD = b"test session key", 0xC0FFEE_0123_4567
LABEL = "rv-7f3a  2026-01-05 14:03 UTC"


def _lumas(seed: int, count: int = 20) -> list[np.ndarray]:
    """Luma planes of a textured room with a moving blob: the hardest case for a mark that must not depend on
    the picture (random 16-pixel patches, much of the texture at the mark's own scale)."""
    scene = frames(WIDTH, HEIGHT, count, [Blob(0, count, 0.2, 0.8, 0.6, 0.15, 0.5)], seed=seed)
    return [planes(cv2.cvtColor(frame, cv2.COLOR_BGR2YUV_I420))[0] for frame in scene]


def _marked(lumas: list[np.ndarray], label: str | None = None, payload: int = PAYLOAD) -> list[np.ndarray]:
    marker = Watermarker(WIDTH, HEIGHT, FPS, label=label, payload=payload, key=KEY)
    out = [luma.copy() for luma in lumas]
    for luma in out:
        marker.mark(luma)
    return out


def test_a_marked_frame_reads_back_with_every_bit_at_full_strength() -> None:
    lumas = _lumas(seed=1, count=1)
    result = extract(_marked(lumas), KEY)
    assert (result.payload, result.frames) == (PAYLOAD, 1)
    # Informed embedding: the picture's own correlation is cancelled, so bits sit at +-strength, tightly.
    assert result.confidence > 10


def test_the_payload_reads_back_through_the_visible_label_too() -> None:
    assert extract(_marked(_lumas(seed=2), label=LABEL), KEY).payload == PAYLOAD


def test_payload_as_bytes_is_the_same_mark_as_the_int() -> None:
    lumas = _lumas(seed=3, count=1)
    as_bytes = Watermarker(WIDTH, HEIGHT, FPS, label=None, payload=PAYLOAD.to_bytes(8, "big"), key=KEY)
    luma = lumas[0].copy()
    as_bytes.mark(luma)
    assert np.array_equal(luma, _marked(lumas)[0])
    assert payload_bytes(PAYLOAD) == PAYLOAD.to_bytes(8, "big")


def test_the_invisible_mark_is_faint() -> None:
    lumas = _lumas(seed=4)
    marked = _marked(lumas)
    error = np.mean([np.mean((a.astype(np.float64) - b) ** 2) for a, b in zip(marked, lumas, strict=True)])
    assert 10 * np.log10(255**2 / error) >= 40
    # It changes most pixels a little, none by much.
    change = np.abs(marked[0].astype(np.int16) - lumas[0])
    assert change.max() <= 12 and (change > 0).mean() > 0.3


def test_unmarked_pictures_and_wrong_keys_give_no_payload() -> None:
    for seed in range(6):
        result = extract(_lumas(seed=10 + seed, count=5), KEY)
        assert result.payload is None
        assert result.confidence < 3
    wrong = extract(_marked(_lumas(seed=5)), b"some other key")
    assert wrong.payload is None and wrong.confidence < 3


def test_different_payloads_make_different_marks_that_read_back_as_themselves() -> None:
    lumas = _lumas(seed=6, count=3)
    for payload in (0, 1, 2**63, 2**64 - 1):
        assert extract(_marked(lumas, payload=payload), KEY).payload == payload


def test_a_frame_with_no_picture_reads_as_nothing() -> None:
    flat = [np.full((HEIGHT, WIDTH), 16, np.uint8)] * 3
    assert extract(flat, KEY) == TraceResult(None, 0.0, 3)


def test_the_mark_is_laid_out_by_the_key() -> None:
    lumas = _lumas(seed=7, count=1)
    other = Watermarker(WIDTH, HEIGHT, FPS, label=None, payload=PAYLOAD, key=b"another key")
    luma = lumas[0].copy()
    other.mark(luma)
    difference = luma.astype(np.int16) - _marked(lumas)[0]
    assert np.abs(difference).mean() > 0.5  # not the same pattern under another key


def test_the_label_is_drawn_all_over_the_frame() -> None:
    overlay = visible_overlay(WIDTH, HEIGHT, LABEL)
    drawn = overlay != 0
    assert 0.03 < drawn.mean() < 0.2  # readable, and most of the picture untouched
    # The strokes' cores reach the full shift (within what OpenCV's anti-aliasing, which differs between its
    # 4.x and 5.x releases, leaves of a rotated stroke), the outlines the opposite one.
    full = WatermarkSettings().text_shift
    assert 0.75 * full <= overlay.max() <= full and -full <= overlay.min() <= -0.75 * full
    # Every quarter of the frame (any crop keeping a quarter of the picture) holds some of the text.
    for rows in (slice(0, HEIGHT // 2), slice(HEIGHT // 2, HEIGHT)):
        for columns in (slice(0, WIDTH // 2), slice(WIDTH // 2, WIDTH)):
            assert drawn[rows, columns].mean() > 0.02


def test_marking_with_a_label_shifts_the_pixels_where_it_is_drawn() -> None:
    lumas = _lumas(seed=8, count=1)
    labelled, plain = _marked(lumas, label=LABEL)[0], _marked(lumas)[0]
    letters = visible_overlay(WIDTH, HEIGHT, LABEL) >= 0.75 * WatermarkSettings().text_shift
    assert letters.any()
    shift = labelled.astype(np.int16) - plain
    assert shift[letters].mean() > 30
    assert np.abs(shift[visible_overlay(WIDTH, HEIGHT, LABEL) == 0]).mean() < 1


def test_a_label_that_is_not_ascii_is_still_drawn() -> None:
    assert (visible_overlay(WIDTH, HEIGHT, "révi€wer 7") != 0).any()


@pytest.mark.parametrize("payload", [-1, 2**64, True, 1.5, b"short", b"nine byte"])
def test_a_payload_that_does_not_fit_is_refused(payload: object) -> None:
    with pytest.raises(ClipwardenError, match="payload"):
        Watermarker(WIDTH, HEIGHT, FPS, label=None, payload=payload, key=KEY)  # type: ignore[arg-type]


def test_a_key_must_be_bytes() -> None:
    for key in (b"", "text key"):
        with pytest.raises(ClipwardenError, match="key"):
            extract(_lumas(seed=9, count=1), key)  # type: ignore[arg-type]


def test_nothing_to_read_is_an_error() -> None:
    with pytest.raises(ClipwardenError, match="no frames"):
        extract([], KEY)
