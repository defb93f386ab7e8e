"""Camera zones as pixel masks, and blacking out privacy zones.

A zone is a polygon in coordinates normalised to the frame, so one camera configuration holds at any
resolution. A privacy zone must still be black after lossy H.264 encoding. The encoder codes 16x16
macroblocks; a block that is only partly black gets its edge smeared across the zone by prediction and
quantisation, so privacy masks are grown outward to whole macroblocks (the zone can only grow), after a
margin wider than the reach of H.264's deblocking filter (3 pixels either side of a block edge), which
otherwise blends the neighbours into the zone's outermost pixels.
"""

from __future__ import annotations

from collections.abc import Sequence

import cv2
import numpy as np

from clipwarden.domain import Camera, Zone

MACROBLOCK = 16  # H.264 luma macroblock side, in pixels
DEBLOCK_MARGIN = 4  # pixels


def zone_mask(zones: Sequence[Zone], width: int, height: int, *, snap: int = MACROBLOCK) -> np.ndarray | None:
    """A uint8 mask, 255 inside any zone, or None when there are no zones.

    ``snap`` grows the mask by DEBLOCK_MARGIN and then outward to a grid of that many pixels: the
    macroblock grid by default, for privacy zones; pass ``snap=1`` for the exact polygons (motion masks).
    """
    if not zones:
        return None
    mask = np.zeros((height, width), np.uint8)
    scale = np.array([width, height], np.float64)
    for zone in zones:
        # One polygon per call: fillPoly given several treats overlaps as holes.
        cv2.fillPoly(mask, [np.round(np.asarray(zone, np.float64) * scale).astype(np.int32)], 255)
    return _snap_outward(mask, snap) if snap > 1 else mask


def ignore_mask(camera: Camera) -> np.ndarray | None:
    """What the camera's motion detector ignores: its motion masks and its (snapped) privacy zones."""
    masks = [
        mask
        for mask in (
            zone_mask(camera.privacy_zones, camera.width, camera.height),
            zone_mask(camera.motion_masks, camera.width, camera.height, snap=1),
        )
        if mask is not None
    ]
    return np.maximum.reduce(masks) if masks else None


def black_out(frame: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    """Set the pixels under ``mask`` to 0 in place; returns ``frame``."""
    if mask is not None:
        frame[mask > 0] = 0
    return frame


def _snap_outward(mask: np.ndarray, grid: int) -> np.ndarray:
    """Fill every grid cell that holds a masked pixel or one within DEBLOCK_MARGIN of it."""
    mask = cv2.dilate(mask, np.ones((2 * DEBLOCK_MARGIN + 1,) * 2, np.uint8))
    height, width = mask.shape
    rows, cols = -(-height // grid), -(-width // grid)
    padded = np.zeros((rows * grid, cols * grid), np.uint8)
    padded[:height, :width] = mask
    cells = padded.reshape(rows, grid, cols, grid).max(axis=(1, 3))
    return np.repeat(np.repeat(cells, grid, axis=0), grid, axis=1)[:height, :width].copy()
