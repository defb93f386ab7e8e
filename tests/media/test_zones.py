"""Zone masks, and privacy zones that stay black through lossy encoding."""

from __future__ import annotations

import cv2
import numpy as np

from clipwarden.domain import Camera, Zone
from clipwarden.media.codec import EncodeSettings, decode_frames, encode_mp4
from clipwarden.media.zones import DEBLOCK_MARGIN, MACROBLOCK, black_out, ignore_mask, zone_mask

from .scenes import Blob, frames

# Decoded pixels inside a privacy zone may be this bright at most (measured: 2 at 1920x1080, CRF 23).
BLACK = 8
NEIGHBOURS_WINDOW: Zone = ((0.1, 0.1), (0.33, 0.12), (0.3, 0.45), (0.12, 0.4))
GARDEN: Zone = ((0.6, 0.5), (0.9, 0.5), (0.9, 0.9), (0.6, 0.9))


def test_no_zones_no_mask() -> None:
    assert zone_mask((), 640, 360) is None


def test_exact_mask_follows_the_polygon() -> None:
    mask = zone_mask([((0.25, 0.0), (0.5, 0.0), (0.5, 1.0), (0.25, 1.0))], 640, 360, snap=1)
    assert mask is not None and mask.dtype == np.uint8 and mask.shape == (360, 640)
    columns = np.flatnonzero(mask.max(axis=0))
    assert (columns[0], columns[-1]) == (160, 320)
    assert set(np.unique(mask)) == {0, 255}


def test_overlapping_zones_are_a_union() -> None:
    square: Zone = ((0.2, 0.2), (0.6, 0.2), (0.6, 0.6), (0.2, 0.6))
    shifted: Zone = tuple((x + 0.2, y + 0.2) for x, y in square)
    both, one = zone_mask([square, shifted], 400, 400, snap=1), zone_mask([square], 400, 400, snap=1)
    assert both is not None and one is not None
    assert both[200, 200] == 255  # inside the overlap
    assert np.all(both[one > 0] == 255)


def test_privacy_mask_is_whole_macroblocks_around_the_zone() -> None:
    exact = zone_mask([NEIGHBOURS_WINDOW, GARDEN], 1280, 720, snap=1)
    snapped = zone_mask([NEIGHBOURS_WINDOW, GARDEN], 1280, 720)
    assert exact is not None and snapped is not None
    assert np.all(snapped[exact > 0] == 255)  # it only grows
    blocks = snapped.reshape(720 // MACROBLOCK, MACROBLOCK, 1280 // MACROBLOCK, MACROBLOCK)
    assert np.all(blocks.min(axis=(1, 3)) == blocks.max(axis=(1, 3)))  # each block all in or all out
    # ... and not by more than the deblocking margin plus one block.
    reach = DEBLOCK_MARGIN + MACROBLOCK
    grown = np.ones((2 * reach + 1, 2 * reach + 1), np.uint8)
    assert np.all(cv2.dilate(exact, grown)[snapped > 0] == 255)


def test_black_out_works_in_place() -> None:
    frame = np.full((64, 64, 3), 200, np.uint8)
    mask = np.zeros((64, 64), np.uint8)
    mask[:16, :16] = 255
    assert black_out(frame, mask) is frame
    assert frame[:16, :16].max() == 0 and frame[16:, 16:].min() == 200
    assert black_out(frame, None) is frame


def test_privacy_zone_decodes_black_in_every_frame_at_1080p() -> None:
    width, height = 1920, 1080
    zones = [NEIGHBOURS_WINDOW, GARDEN]
    privacy, inside = zone_mask(zones, width, height), zone_mask(zones, width, height, snap=1)
    assert privacy is not None and inside is not None
    # Bright things crossing the zones, and a light switched on halfway.
    blobs = [Blob(0, 12, 0.05, 0.95, 0.3, 0.1, 0.5), Blob(0, 12, 0.95, 0.4, 0.7, 0.3, 0.2, (0, 0, 255))]
    scene = [black_out(f, privacy) for f in frames(width, height, 12, blobs, light_on_at=6)]
    data = encode_mp4(scene, width, height, 10, EncodeSettings(crf=23))
    brightest = [int(frame[inside > 0].max()) for frame in decode_frames(data)]
    assert len(brightest) == 12
    assert max(brightest) <= BLACK


def test_the_detector_ignores_motion_masks_and_privacy_zones() -> None:
    tree: Zone = ((0.0, 0.0), (0.2, 0.0), (0.2, 0.2), (0.0, 0.2))
    camera = Camera("cam-1", "hh-1", "Yard", "backyard", 320, 160, motion_masks=(tree,), privacy_zones=(GARDEN,))
    ignore = ignore_mask(camera)
    motion = zone_mask(camera.motion_masks, 320, 160, snap=1)
    privacy = zone_mask(camera.privacy_zones, 320, 160)
    assert ignore is not None and motion is not None and privacy is not None
    assert np.array_equal(ignore, np.maximum(motion, privacy))
    assert ignore_mask(Camera("cam-2", "hh-1", "Hall", "kitchen")) is None
