"""Backdrops: a camera's still scene as pixels, painted once and reused for every frame of a window.

The albedo (surfaces, colours, texture) depends on the camera only, the noisy variants of the lit
backdrop on the camera and its Lighting; both are cached. Cycling the variants makes consecutive idle
frames differ only by sensor noise, as a real still scene does.
"""

from __future__ import annotations

from functools import lru_cache

import cv2
import numpy as np

from clipwarden.sim.layout import Colour, Shape
from clipwarden.sim.render.lighting import IR_BASE, IR_GAIN, NIR, WARM, Lighting
from clipwarden.sim.render.stage import Stage
from clipwarden.sim.seeding import rng_for

NIGHT_SKY = (12, 10, 10)


@lru_cache(maxsize=8)
def backdrop_variants(stage: Stage, lighting: Lighting) -> tuple[np.ndarray, ...]:
    """A few noisy copies of the lit backdrop (grey sensor noise, shared by the channels), to be cycled.

    Read-only and cached per camera and lighting; the noise is keyed by them too, so every window of a
    camera under the same lighting sees the same sequence, whatever was rendered before.
    """
    base = lit_backdrop(stage, lighting)
    rng = rng_for(stage.seed, "noise", stage.camera_id, lighting)
    count = 6 if stage.width * stage.height <= 1_000_000 else 4
    variants = []
    for _ in range(count):
        noise = np.rint(rng.standard_normal(base.shape[:2], dtype=np.float32) * lighting.noise).astype(np.int16)
        variant = cv2.add(base, cv2.merge([noise, noise, noise]), dtype=cv2.CV_8U)  # saturating
        variant.setflags(write=False)
        variants.append(variant)
    return tuple(variants)


def lit_backdrop(stage: Stage, lighting: Lighting) -> np.ndarray:
    """The still scene under ``lighting``, uint8 BGR."""
    surface = albedo(stage, night=lighting.ir)
    light = _illumination(stage, lighting)
    if lighting.ir:
        reflected = cv2.transform(surface, np.array([NIR], np.float32))
        grey = cv2.convertScaleAbs(cv2.multiply(reflected, light, scale=IR_GAIN), beta=IR_BASE)
        return cv2.cvtColor(grey, cv2.COLOR_GRAY2BGR)
    gains = WARM if lighting.warm else (1.0, 1.0, 1.0)
    per_channel = cv2.merge([light * (g * lighting.level) for g in gains])
    return cv2.multiply(surface, per_channel, dtype=cv2.CV_8U)  # saturating


@lru_cache(maxsize=4)
def albedo(stage: Stage, night: bool) -> np.ndarray:
    """Surface colours with texture, float32 BGR 0..255, before any lighting; at night the sky is dark."""
    layout, w, h = stage.layout, stage.width, stage.height
    hz = round(layout.horizon * h)
    flat = np.empty((h, w, 3), np.uint8)
    flat[:hz] = NIGHT_SKY if night and layout.outdoor else layout.upper
    flat[hz:] = layout.lower
    grain = np.zeros((h, w), np.float32)
    grain[hz:] = layout.lower_grain
    for shape in layout.shapes:
        _paint(flat, shape, shape.colour, stage)
        _paint(grain, shape, shape.grain, stage)
    image = flat.astype(np.float32)
    if layout.outdoor:  # sky lightens towards the horizon
        image[:hz] *= np.linspace(0.85, 1.1, hz, dtype=np.float32)[:, None, None]
    relief = 1.0 + grain * _texture(stage)
    surface = np.minimum(cv2.multiply(image, cv2.merge([relief, relief, relief])), 255.0)
    surface.setflags(write=False)
    return surface


def _texture(stage: Stage) -> np.ndarray:
    """Zero-mean surface texture: fine grain plus horizontal streaks (planks, weave, furrows)."""
    rng = rng_for(stage.seed, "texture", stage.camera_id)
    h, w = stage.height, stage.width
    fine = cv2.GaussianBlur(rng.standard_normal((h, w), dtype=np.float32), (0, 0), max(0.8, h / 400))
    streaks = cv2.GaussianBlur(rng.standard_normal((h, 1), dtype=np.float32), (0, 0), max(1.0, h / 300))
    return 0.35 * fine / max(1e-6, float(fine.std())) + 0.25 * streaks / max(1e-6, float(streaks.std()))


def _paint(target: np.ndarray, shape: Shape, colour: Colour | float, stage: Stage) -> None:
    """Fill ``shape`` with ``colour`` (a BGR colour, or one value on a single-channel map)."""
    w, h = stage.width, stage.height
    if shape.kind == "rect":
        (x0, y0), (x1, y1) = shape.points
        cv2.rectangle(target, (round(x0 * w), round(y0 * h)), (round(x1 * w), round(y1 * h)), colour, -1)
    elif shape.kind == "ellipse":
        (cx, cy), (rx, ry) = shape.points
        centre = (round(cx * w), round(cy * h))
        cv2.ellipse(target, centre, (max(1, round(rx * w)), max(1, round(ry * h))), 0, 0, 360, colour, -1)
    else:
        points = np.array([(round(x * w), round(y * h)) for x, y in shape.points], np.int32)
        cv2.fillPoly(target, [points], colour)


def _illumination(stage: Stage, lighting: Lighting) -> np.ndarray:
    """How strongly each pixel is lit (about 0.4..1.5), float32 (h, w)."""
    layout, w, h = stage.layout, stage.width, stage.height
    ys = np.linspace(0.0, 1.0, h, dtype=np.float32)[:, None]
    xs = np.linspace(0.0, 1.0, w, dtype=np.float32)[None, :]
    vignette = 1.0 - 0.25 * ((xs - 0.5) ** 2 * 2 + (ys - 0.5) ** 2 * 2)
    if lighting.ir:
        # The camera's own IR lamp: bright in the middle and near, fading to the edges and into the distance.
        reach = (
            np.clip((ys - layout.horizon * 0.7) / (1.0 - layout.horizon * 0.7), 0.35, 1.0) if layout.outdoor else 1.0
        )
        return (vignette**2 * (0.5 + 0.5 * reach)).astype(np.float32)
    if lighting.warm and layout.lamp is not None:
        lx, ly = layout.lamp
        glow = np.exp(-(((xs - lx) * w / h) ** 2 + (ys - ly) ** 2) / 0.08)
        return (vignette * (0.75 + 0.6 * glow)).astype(np.float32)
    if layout.window is not None:
        wx, wy = layout.window.centre
        glow = np.exp(-(((xs - wx) * w / h) ** 2 + (ys - wy) ** 2) / 0.3)
        return (vignette * (0.85 + 0.3 * glow)).astype(np.float32)
    return vignette.astype(np.float32)
