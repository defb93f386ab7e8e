"""Elements for false motion ("environment"): lamps, sun patches, curtains, rain, insects, trees.

None of these is a person or an animal, yet each changes pixels the way motion does; they are what
an "intruder vs nothing" model must learn to ignore.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from clipwarden.sim.events import ScheduledEvent
from clipwarden.sim.render.elements import Element, element
from clipwarden.sim.render.lighting import Lighting, Look
from clipwarden.sim.render.stage import Stage


def _add_sprite(frame: np.ndarray, sprite: np.ndarray, x0: int, y0: int) -> None:
    """Add ``sprite`` (saturating) with its top-left corner at (x0, y0), clipped to the frame."""
    h, w = frame.shape[:2]
    sh, sw = sprite.shape[:2]
    fx0, fy0, fx1, fy1 = max(0, x0), max(0, y0), min(w, x0 + sw), min(h, y0 + sh)
    if fx0 >= fx1 or fy0 >= fy1:
        return
    roi = frame[fy0:fy1, fx0:fx1]
    cv2.add(roi, sprite[fy0 - y0 : fy1 - y0, fx0 - x0 : fx1 - x0], dst=roi)


def _sample(frame: np.ndarray, x: float, y: float) -> tuple[float, float, float]:
    """The mean colour around (x, y) of the frame before this element draws: a moving surface drawn in it
    matches the backdrop's lighting (colour, lamp or infrared) without recomputing it."""
    h, w = frame.shape[:2]
    xi, yi = min(w - 3, max(2, round(x))), min(h - 3, max(2, round(y)))
    b, g, r = frame[yi - 2 : yi + 3, xi - 2 : xi + 3].reshape(-1, 3).mean(axis=0)
    return (float(b), float(g), float(r))


def _envelope(tau: float, duration: float, ramp: float) -> float:
    """0 -> 1 -> 0: fades in over ``ramp`` of the duration and out over the last ``ramp``."""
    edge = max(1e-6, duration * ramp)
    return max(0.0, min(1.0, tau / edge, (duration - tau) / edge))


@element("lights")
class LampSwitch(Element):
    """A lamp switched on or off. The change outlasts the event, so it is part of the camera's lighting
    timeline (planner.LampTimeline) and the backdrop; there is nothing to draw on top."""

    def draw(self, frame: np.ndarray, tau: float, look: Look) -> None:
        return None


@element("sun_patch")
class SunPatch(Element):
    """Sunlight through the window lands on the floor as a cloud clears, drifts, and fades again."""

    LEVELS = 8

    def __init__(self, event: ScheduledEvent, stage: Stage, rng: np.random.Generator) -> None:
        super().__init__(event, stage, rng)
        layout = stage.layout
        win = layout.window
        assert win is not None, "sun patches are scheduled only where there is a window"
        slant = float(rng.uniform(-0.12, 0.12))
        top, bottom = layout.horizon + 0.03, min(0.97, layout.horizon + float(rng.uniform(0.2, 0.35)))
        corners = [(win.x0, top), (win.x1, top), (win.x1 + slant, bottom), (win.x0 + slant, bottom)]
        pts = np.array([stage.px(c) for c in corners], np.float32)
        self.x0, self.y0 = int(pts[:, 0].min()) - 4, int(pts[:, 1].min()) - 4
        size = (int(pts[:, 1].max()) - self.y0 + 5, int(pts[:, 0].max()) - self.x0 + 5)
        mask = np.zeros(size, np.float32)
        cv2.fillPoly(mask, [np.rint(pts - (self.x0, self.y0)).astype(np.int32)], 1.0)
        soft = cv2.GaussianBlur(mask, (0, 0), max(1.0, stage.height / 180))
        warm = np.array([70.0, 95.0, 110.0], np.float32)
        self.sprites = [(soft[..., None] * warm * (k / self.LEVELS)).astype(np.uint8) for k in range(self.LEVELS + 1)]
        self.drift = float(rng.uniform(-0.03, 0.03)) * stage.width / max(1.0, self.duration)
        self.flicker = float(rng.uniform(0.3, 0.8))

    def draw(self, frame: np.ndarray, tau: float, look: Look) -> None:
        strength = _envelope(tau, self.duration, 0.25) * (0.8 + 0.2 * math.sin(2 * math.pi * self.flicker * tau))
        level = round(strength * self.LEVELS)
        if level:
            _add_sprite(frame, self.sprites[level], self.x0 + round(self.drift * tau), self.y0)


@element("curtain")
class Curtain(Element):
    """One curtain by the window billows in a draught."""

    def __init__(self, event: ScheduledEvent, stage: Stage, rng: np.random.Generator) -> None:
        super().__init__(event, stage, rng)
        win = stage.layout.window
        assert win is not None, "curtains are scheduled only where there is a window"
        left = bool(rng.integers(2))
        self.outer = (win.x0 - 0.035 if left else win.x1 + 0.035) * stage.width
        self.inner = (win.x0 + 0.01 if left else win.x1 - 0.01) * stage.width
        self.top, self.bottom = (win.y0 - 0.02) * stage.height, (win.y1 + 0.05) * stage.height
        self.amplitude = float(rng.uniform(0.03, 0.07)) * stage.width * (1 if left else -1)
        self.rate = float(rng.uniform(0.4, 1.0))
        self.colours: dict[Lighting, tuple[float, float, float]] = {}

    def draw(self, frame: np.ndarray, tau: float, look: Look) -> None:
        if look.lighting not in self.colours:
            middle = ((self.outer + self.inner) / 2, (self.top + self.bottom) / 2)
            self.colours[look.lighting] = _sample(frame, *middle)
        gust = _envelope(tau, self.duration, 0.3) * math.sin(2 * math.pi * self.rate * tau)
        rows = np.linspace(0.0, 1.0, 9)
        inner = [(self.inner + self.amplitude * gust * f * f, self.top + (self.bottom - self.top) * f) for f in rows]
        outer = [
            (self.outer + 0.5 * self.amplitude * gust * f * f, self.top + (self.bottom - self.top) * f)
            for f in rows[::-1]
        ]
        outline = np.rint(np.array(inner + outer)).astype(np.int32)
        cv2.fillPoly(frame, [outline], self.colours[look.lighting])


@element("rain")
class Rain(Element):
    """A shower: streaks falling across the whole view, cycled from a few precomputed layers."""

    LAYERS = 4

    def __init__(self, event: ScheduledEvent, stage: Stage, rng: np.random.Generator) -> None:
        super().__init__(event, stage, rng)
        w, h = stage.width, stage.height
        slant = float(rng.uniform(-0.3, 0.3))
        count = max(40, w * h // 2500)
        self.layers = []
        for _ in range(self.LAYERS):
            layer = np.zeros((h, w, 3), np.uint8)
            xs, ys = rng.uniform(0, w, count), rng.uniform(0, h, count)
            lengths = rng.uniform(0.03, 0.07, count) * h
            values = rng.integers(35, 80, count)
            for x, y, length, value in zip(xs, ys, lengths, values, strict=True):
                end = (round(x + slant * length), round(y + length))
                cv2.line(layer, (round(x), round(y)), end, (int(value),) * 3, max(1, h // 360))
            self.layers.append(layer)

    def draw(self, frame: np.ndarray, tau: float, look: Look) -> None:
        cv2.add(frame, self.layers[int(tau * 15) % self.LAYERS], dst=frame)


@element("insect")
class Insect(Element):
    """A moth at the lens at night: a large, blurred, bright blob lit by the IR lamp, flitting about."""

    def __init__(self, event: ScheduledEvent, stage: Stage, rng: np.random.Generator) -> None:
        super().__init__(event, stage, rng)
        w, h = stage.width, stage.height
        radius = int(h * float(rng.uniform(0.04, 0.09)))
        grid = np.arange(-2 * radius, 2 * radius + 1, dtype=np.float32)
        blob = np.exp(-(grid[:, None] ** 2 + grid[None, :] ** 2) / (radius**2))  # ~0 at the sprite's edge
        self.sprite = np.repeat((blob * float(rng.uniform(150, 230))).astype(np.uint8)[..., None], 3, axis=2)
        self.half = 2 * radius
        self.centre = (float(rng.uniform(0.2, 0.8)) * w, float(rng.uniform(0.2, 0.8)) * h)
        self.waves = [
            (float(rng.uniform(0.08, 0.2)) * w, float(rng.uniform(0.5, 3.0)), float(rng.uniform(0, 6.3)))
            for _ in range(4)
        ]

    def draw(self, frame: np.ndarray, tau: float, look: Look) -> None:
        (ax, fx, px), (bx, gx, qx), (ay, fy, py), (by, gy, qy) = self.waves
        x = self.centre[0] + ax * math.sin(fx * tau * 6.28 + px) + 0.5 * bx * math.sin(gx * tau * 11.0 + qx)
        y = self.centre[1] + 0.6 * ay * math.sin(fy * tau * 6.28 + py) + 0.4 * by * math.sin(gy * tau * 9.0 + qy)
        _add_sprite(frame, self.sprite, round(x) - self.half, round(y) - self.half)


@element("tree")
class TreeInWind(Element):
    """A gust sways the tree's crown."""

    def __init__(self, event: ScheduledEvent, stage: Stage, rng: np.random.Generator) -> None:
        super().__init__(event, stage, rng)
        tree = stage.layout.tree
        assert tree is not None, "wind in trees is scheduled only where there is a tree"
        self.amplitude = float(rng.uniform(0.012, 0.03)) * stage.width
        self.rate = float(rng.uniform(0.5, 1.2))
        w, h = stage.width, stage.height
        # Ellipses as layout.py paints the crown: radii are fractions of frame height, x squeezed for 16:9.
        self.blobs = [
            ((cx * w, cy * h), (max(1, round(r * 0.5625 * w)), max(1, round(r * h)))) for (cx, cy), r in tree.crown
        ]
        self.colours: dict[Lighting, list[tuple[float, float, float]]] = {}

    def draw(self, frame: np.ndarray, tau: float, look: Look) -> None:
        if look.lighting not in self.colours:
            self.colours[look.lighting] = [_sample(frame, *centre) for centre, _ in self.blobs]
        colours = self.colours[look.lighting]
        gust = _envelope(tau, self.duration, 0.3)
        for n, ((cx, cy), axes) in enumerate(self.blobs):
            dx = self.amplitude * gust * math.sin(2 * math.pi * self.rate * tau + n)
            cv2.ellipse(frame, (round(cx + dx), round(cy)), axes, 0, 0, 360, colours[n], -1)
