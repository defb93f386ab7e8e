"""How a camera sees at a moment: colour or infrared, and how bright.

``Lighting`` is the camera's state (it keys the backdrop cache); ``Look`` maps a surface colour to the
colour it is drawn with under that lighting, so moving things match the backdrop they are drawn on.
"""

from __future__ import annotations

from dataclasses import dataclass

from clipwarden.sim.layout import Colour

IR_BASE = 22.0  # infrared images are grey, flat and never quite black
IR_GAIN = 0.62
WARM = (0.78, 0.95, 1.08)  # lamp light is yellowish (BGR gains)
# Near-infrared reflectance from surface colour (BGR weights): foliage and grass glow in IR, blue does not.
NIR = (0.05, 0.8, 0.15)


@dataclass(frozen=True)
class Lighting:
    ir: bool
    level: float  # exposure, about 0.2 (dim lamp) to 1 (bright day); quantised so backdrops can be cached
    warm: bool  # lit by a lamp rather than daylight

    @property
    def noise(self) -> float:
        """Noise left in the image after the camera's temporal noise reduction (standard deviation, grey
        levels): more in infrared and in dim light. Real cameras denoise before they encode; raw sensor
        noise would cost the encoder several times the bits and time a camera spends."""
        return 1.5 if self.ir else 0.8 + 1.0 * (1.0 - self.level)


def lighting_for(outdoor: bool, daylight: float, lamp: float) -> Lighting:
    """Outdoors the camera goes IR at dusk; indoors when neither daylight nor a lamp is enough."""
    if outdoor:
        if daylight < 0.2:
            return Lighting(True, 1.0, False)
        return _lighting(False, 0.45 + 0.55 * daylight, False)
    natural = 0.25 + 0.6 * daylight if daylight > 0.05 else 0.0
    if lamp > 0 and lamp * 0.85 >= natural:
        return _lighting(False, 0.2 + 0.65 * lamp, True)
    if natural < 0.3:
        return Lighting(True, 1.0, False)
    return _lighting(False, natural, False)


def _lighting(ir: bool, level: float, warm: bool) -> Lighting:
    return Lighting(ir, round(round(level * 20) / 20, 2), warm)


class Look:
    """Paints colours as the camera sees them under one Lighting."""

    def __init__(self, lighting: Lighting) -> None:
        self.lighting = lighting
        gains = WARM if lighting.warm else (1.0, 1.0, 1.0)
        self._gains = tuple(g * lighting.level for g in gains)
        self._cache: dict[Colour, tuple[float, float, float]] = {}

    def __call__(self, colour: Colour) -> tuple[float, float, float]:
        painted = self._cache.get(colour)
        if painted is None:
            painted = self._paint(colour)
            self._cache[colour] = painted
        return painted

    def _paint(self, colour: Colour) -> tuple[float, float, float]:
        b, g, r = colour
        if self.lighting.ir:
            grey = IR_BASE + IR_GAIN * 0.85 * (NIR[0] * b + NIR[1] * g + NIR[2] * r)
            return (grey, grey, grey)
        gb, gg, gr = self._gains
        return (min(255.0, b * gb), min(255.0, g * gg), min(255.0, r * gr))
