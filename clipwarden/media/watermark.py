"""Watermarks on a reviewer's view of a clip: one the reviewer sees, and one a leaked copy gives away.

Visible: the reviewer's pseudonym and the viewing time, in lines of text tiled diagonally over the whole
picture, so no crop that keeps a useful part of it is free of the text. The letters are a luma shift (lighter,
with a darker outline) rather than paint, so the picture shows through and they read on any background.

Invisible: a 64-bit payload (the viewing session), keyed by a secret, in the luma plane of every frame.
Informed spread spectrum on a coarse grid:

- The frame is a grid of cells (80 x 45) defined relative to its size: 24 x 24 pixels at 1920x1080, 8 x 8 at
  640x360, 4 x 4 in a copy scaled down to 320x180. A cell's reading is its mean luma less the mean of its
  eight neighbours' (a Laplacian at grid scale), which takes away lighting and most of the picture.
- The codeword is the payload and a 32-bit keyed check (HMAC-SHA256 of the payload): 96 bits. A permutation
  drawn from the key gives each bit 34 cells, each with a sign drawn from the key; a bit's correlation is
  the signed mean of its cells' readings. Without the key it is unknown which cells carry which bit.
- Embedding is informed: the embedder measures the picture's own correlation for each bit and adds the
  least-squares smallest cell change that brings each bit to +-``strength``, leaving alone bits that the
  picture already pushes that way. So the picture does not interfere with its own mark, which is what lets
  34 cells carry a bit at 2 luma levels (about 41 dB PSNR). The change stays the same from frame to frame
  until the picture has changed enough to weaken a bit (someone moving), and is then fitted again.

Why it survives what a leaker does to a copy:

- re-encoding (x264 at CRF 30): cell means are the low frequencies a codec keeps best, and a mark that does
  not change from frame to frame is carried by P-frames by reference, at almost no bitrate;
- scaling down to half size: the grid is relative to the frame, so every cell keeps its place and its mean;
- cutting an excerpt: every frame carries the whole codeword; extraction averages the cell means of the
  frames it gets, so any 2 s (20 to 60 frames) is enough.

Extraction is blind (the key alone). The bits are the correlations' signs; when the check fails, the
``chase_bits`` least reliable bits are tried flipped (Chase decoding: 256 candidates), so a copy with a few
weak bits still reads, and an unmarked video or a wrong key passes the check with probability 256 / 2**32
(6e-8). The confidence is the typical bit's correlation over the spread of the weaker half (a z-score per
bit): about 1.5 when there is no mark (under 2 in 480 tries), 3 and more when there is.

Limits: cropping, rotation, mirroring or a change of aspect ratio move the grid (the visible mark covers
those); someone holding many renditions made with one key could estimate the pattern by averaging them.
"""

from __future__ import annotations

import hashlib
import hmac
import itertools
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

import cv2
import numpy as np

from clipwarden.errors import ClipwardenError

Payload = int | bytes
PAYLOAD_BYTES = 8
CHECK_BYTES = 4
CODE_BITS = 8 * (PAYLOAD_BYTES + CHECK_BYTES)
# A cell's neighbours, averaged: the part of its reading that is subtracted.
_NEIGHBOURS = np.array([[1, 1, 1], [1, 0, 1], [1, 1, 1]], np.float64) / 8
# Ordered dither for each cell's 4 x 4 sub-blocks, so integer pixel changes average to a fractional cell change.
_DITHER = (np.array([[0, 8, 2, 10], [12, 4, 14, 6], [3, 11, 1, 9], [15, 7, 13, 5]], np.float32) + 0.5) / 16
_FONT = cv2.FONT_HERSHEY_SIMPLEX
_FONT_PIXELS = 22  # height of Hershey simplex capitals at scale 1


@dataclass(frozen=True)
class WatermarkSettings:
    # Invisible payload.
    grid: tuple[int, int] = (80, 45)  # cells across and down: 4 x 4 pixels in a 320x180 copy, the smallest read
    strength: float = 2.0  # luma levels each bit's correlation is brought to (about 41 dB PSNR)
    check_s: float = 0.2  # seconds between measurements of the picture, each of which may lead to a re-fit
    refit_below: float = 0.75  # share of the strength a bit may fall to as the picture changes before a re-fit
    chase_bits: int = 8  # least reliable bits tried flipped when the check fails (2**8 candidates)
    # Visible label.
    text_height: float = 0.04  # letter height, as a share of the frame height
    text_shift: int = 40  # luma levels the letters are lightened, and their outline darkened, by
    text_angle: float = 30.0  # degrees the lines of text rise from left to right
    line_spacing: float = 6.0  # distance between lines, in letter heights
    text_gap: float = 0.5  # space between repeats along a line, as a share of the text's width


@dataclass(frozen=True)
class TraceResult:
    payload: int | None  # None: no watermark made with this key
    confidence: float  # per-bit z-score: about 1.5 on unmarked video (under 2), 3 and more on a readable mark
    frames: int  # frames the reading was averaged over


class Watermarker:
    """Marks the luma planes of one rendition's frames, in order: the visible label and the invisible payload.

    ``mark`` changes the plane in place by a precomputed pattern (the label and the invisible mark), applied
    as a saturating lighten and darken: 8-bit operations, several times faster than one signed add. The
    invisible part is fitted to the first frame. Every ``check_s`` the picture is measured again, and the
    mark fitted again if the picture has changed enough (someone walked in) to pull a bit's correlation
    below ``refit_below`` of the strength; a still picture keeps its pattern, which costs the encoder nothing.
    """

    def __init__(
        self,
        width: int,
        height: int,
        fps: float,
        *,
        label: str | None,
        payload: Payload,
        key: bytes,
        settings: WatermarkSettings = WatermarkSettings(),
    ) -> None:
        self._chips = _chips(_checked_key(key), settings.grid)
        self._signs = np.where(_codeword(payload_bytes(payload), key), 1.0, -1.0)
        self._settings = settings
        self._size = (width, height)
        overlay = visible_overlay(width, height, label, settings) if label else np.zeros((height, width), np.int16)
        self._overlay_means = _cell_means(overlay.astype(np.float32), settings.grid)
        self._label = _lighten_darken(overlay)
        self._dither = np.tile(_DITHER, settings.grid[::-1])
        self._pattern: tuple[np.ndarray, np.ndarray] | None = None  # lighten, darken: the label and the mark
        self._lift = np.zeros(CODE_BITS)  # what the mark adds to each bit's correlation
        self._check_every = max(1, round(settings.check_s * fps))
        self._frames = 0

    def mark(self, luma: np.ndarray) -> None:
        if self._pattern is None or self._frames % self._check_every == 0:
            host = self._chips.correlate(_cell_means(luma, self._settings.grid) + self._overlay_means)
            floor = self._settings.refit_below * self._settings.strength
            if self._pattern is None or np.min(self._signs * (host + self._lift)) < floor:
                self._pattern = self._fit(host)
        self._frames += 1
        lighten, darken = self._pattern
        cv2.add(luma, lighten, dst=luma)
        cv2.subtract(luma, darken, dst=luma)

    def _fit(self, host: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The label plus the smallest cell change that brings every bit's correlation to +-strength."""
        columns, rows = self._settings.grid
        target = self._signs * np.maximum(self._settings.strength, self._signs * host)
        self._lift = target - host
        cells = self._chips.spread(self._lift).astype(np.float32)
        fine = cv2.resize(cells, (4 * columns, 4 * rows), interpolation=cv2.INTER_NEAREST)
        parts = _lighten_darken(np.floor(fine + self._dither))
        # A pixel lightened by one and darkened by the other ends up shifted by the difference, as it should.
        lighten, darken = (
            cv2.add(cv2.resize(part, self._size, interpolation=cv2.INTER_NEAREST), label)
            for part, label in zip(parts, self._label, strict=True)
        )
        return lighten, darken


def extract(lumas: Iterable[np.ndarray], key: bytes, settings: WatermarkSettings = WatermarkSettings()) -> TraceResult:
    """Read the payload from the luma planes of a copy (any size, any stretch of it), with the key alone."""
    chips = _chips(_checked_key(key), settings.grid)
    total, frames = np.zeros(settings.grid[::-1]), 0
    for luma in lumas:
        total += _cell_means(luma, settings.grid)
        frames += 1
    if not frames:
        raise ClipwardenError("nothing to trace: no frames")
    correlation = chips.correlate(total / frames)
    bits = _decode(correlation, key, settings.chase_bits)
    signs = np.where(correlation > 0 if bits is None else bits, 1.0, -1.0)
    payload = None if bits is None else int.from_bytes(np.packbits(bits[: 8 * PAYLOAD_BYTES]).tobytes(), "big")
    return TraceResult(payload, _confidence(signs * correlation), frames)


def visible_overlay(
    width: int, height: int, label: str, settings: WatermarkSettings = WatermarkSettings()
) -> np.ndarray:
    """The label tiled diagonally over a ``width`` x ``height`` frame, as a luma shift (int16, 0 where not drawn)."""
    text = label.encode("ascii", "replace").decode()  # the Hershey fonts have ASCII only
    scale = settings.text_height * height / _FONT_PIXELS
    thickness = max(1, round(1.5 * scale))
    (text_width, text_height), _ = cv2.getTextSize(text, _FONT, scale, thickness)
    # Draw level lines on a square canvas that covers the frame at any rotation, then turn it.
    side = int(np.hypot(width, height)) + 1
    letters = np.zeros((side, side), np.uint8)
    step = text_width + max(1, round(settings.text_gap * text_width))
    line_step = max(text_height + 1, round(settings.line_spacing * text_height))
    for line, y in enumerate(range(text_height, side + text_height, line_step)):
        for x in range(-(line * step // 3) % step - step, side, step):  # each line starts a third further on
            cv2.putText(letters, text, (x, y), _FONT, scale, 255, thickness, cv2.LINE_AA)
    turn = cv2.getRotationMatrix2D((side / 2, side / 2), settings.text_angle, 1.0)
    turn[:, 2] -= np.array(((side - width) / 2, (side - height) / 2))
    drawn = cv2.warpAffine(letters, turn, (width, height))
    outline = cv2.subtract(cv2.dilate(drawn, np.ones((3, 3), np.uint8)), drawn)
    shift = (drawn.astype(np.float32) - outline) * (settings.text_shift / 255)
    return np.rint(shift).astype(np.int16)


def payload_bytes(payload: Payload) -> bytes:
    """The 8 bytes a payload is embedded as: an int in [0, 2**64) big-endian, or 8 bytes as they are."""
    if isinstance(payload, bytes):
        if len(payload) != PAYLOAD_BYTES:
            raise ClipwardenError(f"watermark payload must be {PAYLOAD_BYTES} bytes, got {len(payload)}")
        return payload
    if isinstance(payload, bool) or not isinstance(payload, int) or not 0 <= payload < 1 << (8 * PAYLOAD_BYTES):
        raise ClipwardenError(f"watermark payload must be an integer in [0, 2**64), got {payload!r}")
    return payload.to_bytes(PAYLOAD_BYTES, "big")


@dataclass(frozen=True)
class _Chips:
    """One key's layout of the codeword's bits over the grid's cells."""

    cells: np.ndarray  # (CODE_BITS, cells per bit): each bit's cells, as flat indices into the grid
    weights: np.ndarray  # the same shape: each cell's sign over the cells per bit
    gram_inverse: np.ndarray  # (CODE_BITS, CODE_BITS): the inverse of G G^T, where correlations = G @ means
    grid: tuple[int, int]  # columns, rows

    def correlate(self, means: np.ndarray) -> np.ndarray:
        """Each bit's correlation: the signed mean of its cells' readings (mean less the neighbours' mean)."""
        readings = means - cv2.filter2D(means, -1, _NEIGHBOURS)  # border readings are wrong, and never used
        return (readings.ravel()[self.cells] * self.weights).sum(axis=1)

    def spread(self, changes: np.ndarray) -> np.ndarray:
        """The smallest cell change (least squares: G^T (G G^T)^-1 changes) that moves each bit's correlation
        by ``changes``. G^T is the weights spread back through the readings: onto each cell, less an eighth
        onto each of its neighbours (zero outside the grid)."""
        weighted = np.zeros(self.grid[::-1])
        # einsum, not @: a BLAS call here would wake OpenBLAS's threads, which then spin on a busy machine.
        np.put(weighted, self.cells, self.weights * np.einsum("ij,j->i", self.gram_inverse, changes)[:, None])
        return weighted - cv2.filter2D(weighted, -1, _NEIGHBOURS, borderType=cv2.BORDER_CONSTANT)


@lru_cache(maxsize=16)
def _chips(key: bytes, grid: tuple[int, int]) -> _Chips:
    columns, rows = grid
    seed = hashlib.sha256(b"clipwarden watermark cells\0" + key).digest()
    rng = np.random.default_rng(int.from_bytes(seed, "big"))
    # Border cells have no full neighbourhood, and are the first thing a crop or a letterbox takes.
    interior = np.arange(rows * columns).reshape(rows, columns)[1:-1, 1:-1].ravel()
    per_bit = interior.size // CODE_BITS
    if per_bit < 8:
        raise ClipwardenError(f"watermark grid {columns}x{rows} is too small for {CODE_BITS} bits")
    cells = rng.permutation(interior)[: CODE_BITS * per_bit].reshape(CODE_BITS, per_bit)
    weights = rng.choice((-1.0, 1.0), cells.shape) / per_bit
    # G as a matrix, once, for its Gram matrix: a bit's row is its weights less their spill onto the neighbours.
    dense = np.zeros((CODE_BITS, rows * columns))
    np.put_along_axis(dense, cells, weights, axis=1)
    spill = [cv2.filter2D(w.reshape(rows, columns), -1, _NEIGHBOURS, borderType=cv2.BORDER_CONSTANT) for w in dense]
    g = dense - np.stack(spill).reshape(CODE_BITS, -1)
    return _Chips(cells, weights, np.linalg.inv(np.einsum("ik,jk->ij", g, g)), grid)  # einsum: see spread()


def _lighten_darken(pattern: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A signed pattern as the two 8-bit amounts it lightens and darkens by."""
    return np.clip(pattern, 0, 255).astype(np.uint8), np.clip(-pattern, 0, 255).astype(np.uint8)


def _cell_means(luma: np.ndarray, grid: tuple[int, int]) -> np.ndarray:
    """Mean luma per cell. Halving is OpenCV's fastest shrink; it is done in 8 bits down to 2 x 2 or more
    pixels per cell (each already the mean of 4 x 4 or more), whose rounding the last step, in floating
    point, averages down."""
    columns, rows = grid
    image = luma
    while image.shape[1] >= 4 * columns and image.shape[0] >= 4 * rows:
        image = cv2.resize(image, (image.shape[1] // 2, image.shape[0] // 2), interpolation=cv2.INTER_AREA)
    return cv2.resize(image.astype(np.float32), grid, interpolation=cv2.INTER_AREA).astype(np.float64)


def _checked_key(key: bytes) -> bytes:
    if not isinstance(key, bytes) or not key:
        raise ClipwardenError("watermark key must be non-empty bytes")
    return key


def _check(payload: bytes, key: bytes) -> bytes:
    return hmac.new(key, b"clipwarden watermark check\0" + payload, hashlib.sha256).digest()[:CHECK_BYTES]


def _codeword(payload: bytes, key: bytes) -> np.ndarray:
    return np.unpackbits(np.frombuffer(payload + _check(payload, key), np.uint8)).astype(bool)


def _decode(correlation: np.ndarray, key: bytes, chase_bits: int) -> np.ndarray | None:
    """The codeword whose check holds, from the correlations' signs with up to ``chase_bits`` weakest flipped."""
    hard = correlation > 0
    weakest = np.argsort(np.abs(correlation))[:chase_bits]
    for count in range(len(weakest) + 1):  # fewer flips first: the likelier reading
        for flips in itertools.combinations(weakest, count):
            bits = hard.copy()
            bits[list(flips)] ^= True
            data = np.packbits(bits).tobytes()
            if hmac.compare_digest(_check(data[:PAYLOAD_BYTES], key), data[PAYLOAD_BYTES:]):
                return bits
    return None


def _confidence(margins: np.ndarray) -> float:
    """The typical bit's margin over the spread of the weaker half (median over median less 16th percentile).

    Bits the picture already pushed past the strength sit far above the rest and would inflate a plain
    standard deviation; the weaker half is what errors come from.
    """
    typical = float(np.median(margins))
    spread = typical - float(np.percentile(margins, 16))
    return typical / spread if spread > 0 else 0.0
