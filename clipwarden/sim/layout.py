"""Scene geometry: what stands where in a camera's view, in coordinates normalised to the frame.

A ``SceneLayout`` is data only (shapes to paint, and the places where people walk, sit and stop, pets
perch and cars drive); clipwarden.sim.render turns it into pixels at any resolution. One builder per
placement sits in ``SCENES``; register another with ``@scene("placement")`` to add a scene type.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from clipwarden.domain import Placement

Point = tuple[float, float]
Colour = tuple[int, int, int]  # BGR, as OpenCV draws


@dataclass(frozen=True)
class Rect:
    x0: float
    y0: float
    x1: float
    y1: float

    @property
    def centre(self) -> Point:
        return ((self.x0 + self.x1) / 2, (self.y0 + self.y1) / 2)

    def polygon(self, margin: float = 0.0) -> tuple[Point, ...]:
        x0, y0 = max(0.0, self.x0 - margin), max(0.0, self.y0 - margin)
        x1, y1 = min(1.0, self.x1 + margin), min(1.0, self.y1 + margin)
        return ((x0, y0), (x1, y0), (x1, y1), (x0, y1))


@dataclass(frozen=True)
class Shape:
    """One painted surface. ``rect``: two corners; ``ellipse``: centre and radii; ``poly``: vertices."""

    kind: Literal["rect", "ellipse", "poly"]
    points: tuple[Point, ...]
    colour: Colour
    grain: float = 0.0  # strength of the surface texture (wood, fabric, foliage); 0 is flat


@dataclass(frozen=True)
class Tree:
    crown: tuple[tuple[Point, float], ...]  # foliage blobs: centre and radius (fraction of frame height)
    foliage: Colour

    def bounds(self) -> Rect:
        return Rect(
            min(c[0] - r * 0.6 for c, r in self.crown),
            min(c[1] - r for c, r in self.crown),
            max(c[0] + r * 0.6 for c, r in self.crown),
            max(c[1] + r for c, r in self.crown),
        )


@dataclass(frozen=True)
class SceneLayout:
    placement: Placement
    outdoor: bool
    horizon: float  # y of the wall/floor line indoors, of the sky/ground line outdoors
    upper: Colour  # wall or sky
    lower: Colour  # floor or ground
    lower_grain: float
    shapes: tuple[Shape, ...]  # painted in order over the upper/lower split
    floor: tuple[float, float]  # y range where feet can stand
    person_height: tuple[float, float]  # a standing adult's height (fraction of frame height) at the horizon and at y=1
    entries: tuple[Point, ...]  # where people come into view and leave it (frame edges, doors)
    spots: tuple[Point, ...]  # where people stop (by a cupboard, at a window)
    seats: tuple[Point, ...]  # foot point of someone sitting (sofa, chair, bed edge)
    perches: tuple[Point, ...]  # furniture tops pets jump onto
    window: Rect | None = None  # a window to the outside: sun patches, curtains
    curtain: Colour = (90, 90, 90)
    lamp: Point | None = None  # where lamp light comes from
    door: Point | None = None  # outdoors: the owner's door, just below the camera
    road_y: float | None = None  # outdoors: where car wheels touch the lane
    tree: Tree | None = None
    neighbour_window: Rect | None = None  # someone else's window in view: a privacy zone candidate
    bed: Rect | None = None

    def scale_at(self, y: float) -> float:
        """A standing adult's height, as a fraction of frame height, with feet at normalised ``y``."""
        far, near = self.person_height
        f = (y - self.horizon) / max(1e-6, 1.0 - self.horizon)
        return far + (near - far) * min(1.0, max(0.0, f))


SceneBuilder = Callable[[np.random.Generator], SceneLayout]
SCENES: dict[str, SceneBuilder] = {}


def scene(placement: str) -> Callable[[SceneBuilder], SceneBuilder]:
    def register(builder: SceneBuilder) -> SceneBuilder:
        SCENES[placement] = builder
        return builder

    return register


def build_layout(placement: str, rng: np.random.Generator) -> SceneLayout:
    return SCENES[placement](rng)


WALLS: tuple[Colour, ...] = (
    (200, 215, 225),
    (170, 190, 200),
    (215, 210, 195),
    (180, 200, 185),
    (150, 170, 205),
)
FLOORS: tuple[Colour, ...] = ((60, 100, 140), (80, 120, 160), (120, 130, 135), (95, 95, 110), (50, 75, 110))
FABRICS: tuple[Colour, ...] = ((110, 80, 60), (60, 60, 130), (80, 110, 80), (140, 130, 120), (50, 50, 60))
WOOD: tuple[Colour, ...] = ((45, 80, 120), (60, 100, 140), (35, 55, 80))
BEDDING: tuple[Colour, ...] = (
    (200, 170, 140),
    (170, 190, 220),
    (190, 200, 170),
    (215, 200, 230),
    (160, 160, 160),
)


def _pick(rng: np.random.Generator, options: tuple[Colour, ...]) -> Colour:
    base = options[int(rng.random() * len(options))]
    jitter = rng.random(3) * 25 - 12
    b, g, r = (min(255, max(0, c + int(j))) for c, j in zip(base, jitter.tolist(), strict=True))
    return (b, g, r)


def _shade(colour: Colour, factor: float) -> Colour:
    return (
        int(min(255, colour[0] * factor)),
        int(min(255, colour[1] * factor)),
        int(min(255, colour[2] * factor)),
    )


def _rect(x0: float, y0: float, x1: float, y1: float, colour: Colour, grain: float = 0.0) -> Shape:
    return Shape("rect", ((x0, y0), (x1, y1)), colour, grain)


def _ellipse(cx: float, cy: float, rx: float, ry: float, colour: Colour, grain: float = 0.0) -> Shape:
    return Shape("ellipse", ((cx, cy), (rx, ry)), colour, grain)


def _window(rng: np.random.Generator, horizon: float, avoid: list[tuple[float, float]]) -> Rect:
    """A window on the back wall, clear of the x ranges in ``avoid`` (a door, a wardrobe) if it can be."""
    width = float(rng.uniform(0.16, 0.24))
    candidates = np.linspace(0.04, 0.96 - width, 16)

    def clash(x: float) -> float:
        return sum(max(0.0, min(x + width, hi) - max(x, lo)) for lo, hi in avoid)

    least = min(clash(float(x)) for x in candidates)
    best = [float(x) for x in candidates if clash(float(x)) == least]
    x0 = best[int(rng.integers(len(best)))]
    top = float(rng.uniform(0.06, 0.14))
    return Rect(x0, top, x0 + width, max(top + 0.15, horizon - float(rng.uniform(0.1, 0.16))))


def _window_shapes(win: Rect, curtain: Colour) -> list[Shape]:
    frame = (235, 235, 235)
    mid = (win.x0 + win.x1) / 2
    return [
        _rect(win.x0 - 0.008, win.y0 - 0.012, win.x1 + 0.008, win.y1 + 0.012, frame),
        _rect(win.x0, win.y0, win.x1, win.y1, (225, 200, 170)),  # daylight sky through the glass
        _rect(mid - 0.003, win.y0, mid + 0.003, win.y1, frame),
        _rect(win.x0 - 0.035, win.y0 - 0.02, win.x0 + 0.01, win.y1 + 0.05, curtain, 0.25),
        _rect(win.x1 - 0.01, win.y0 - 0.02, win.x1 + 0.035, win.y1 + 0.05, curtain, 0.25),
    ]


def _door(x0: float, horizon: float, colour: Colour) -> list[Shape]:
    return [
        _rect(x0, horizon - 0.34, x0 + 0.1, horizon + 0.01, colour, 0.2),
        _ellipse(x0 + 0.085, horizon - 0.16, 0.005, 0.008, (60, 160, 190)),
    ]


@scene("living_room")
def living_room(rng: np.random.Generator) -> SceneLayout:
    hz = float(rng.uniform(0.42, 0.5))
    fabric, wood, curtain = _pick(rng, FABRICS), _pick(rng, WOOD), _pick(rng, FABRICS)
    sofa_x = float(rng.uniform(0.06, 0.4))
    sofa_w = float(rng.uniform(0.34, 0.42))
    door_x = 0.86 if sofa_x < 0.3 else 0.03
    lamp_x = min(0.95, sofa_x + sofa_w + 0.05) if door_x < 0.5 else max(0.05, sofa_x - 0.05)
    win = _window(rng, hz, [(door_x - 0.06, door_x + 0.16), (lamp_x - 0.08, lamp_x + 0.08)])
    seat_y = hz + 0.08
    shapes = [
        *_window_shapes(win, curtain),
        *_door(door_x, hz, wood),
        _ellipse(0.5, hz + 0.33, 0.3, 0.11, _pick(rng, FABRICS), 0.35),  # rug
        _rect(sofa_x, hz - 0.1, sofa_x + sofa_w, seat_y, _shade(fabric, 0.8), 0.3),  # back
        _rect(sofa_x, seat_y - 0.04, sofa_x + sofa_w, seat_y + 0.07, fabric, 0.3),  # seat
        _rect(sofa_x - 0.03, hz - 0.04, sofa_x + 0.01, seat_y + 0.07, _shade(fabric, 0.7), 0.3),
        _rect(sofa_x + sofa_w - 0.01, hz - 0.04, sofa_x + sofa_w + 0.03, seat_y + 0.07, _shade(fabric, 0.7), 0.3),
        _rect(0.38, hz + 0.2, 0.62, hz + 0.24, wood, 0.3),  # coffee table
        _rect(0.4, hz + 0.24, 0.42, hz + 0.3, _shade(wood, 0.7)),
        _rect(0.58, hz + 0.24, 0.6, hz + 0.3, _shade(wood, 0.7)),
        _rect(lamp_x - 0.004, hz - 0.2, lamp_x + 0.004, hz + 0.12, (40, 40, 40)),
        Shape(
            "poly",
            (
                (lamp_x - 0.03, hz - 0.2),
                (lamp_x + 0.03, hz - 0.2),
                (lamp_x + 0.02, hz - 0.27),
                (lamp_x - 0.02, hz - 0.27),
            ),
            (170, 215, 235),
        ),
    ]
    return SceneLayout(
        placement="living_room",
        outdoor=False,
        horizon=hz,
        upper=_pick(rng, WALLS),
        lower=_pick(rng, FLOORS),
        lower_grain=0.35,
        shapes=tuple(shapes),
        floor=(hz + 0.1, 0.97),
        person_height=(0.5, 0.95),
        entries=((-0.06, hz + 0.35), (1.06, hz + 0.3), (door_x + 0.05, hz + 0.02)),
        spots=((0.5, hz + 0.3), (win.centre[0], hz + 0.14), (0.25, hz + 0.45)),
        seats=((sofa_x + sofa_w * 0.3, seat_y + 0.1), (sofa_x + sofa_w * 0.7, seat_y + 0.1)),
        perches=(
            (sofa_x + sofa_w * 0.25, seat_y - 0.04),
            (sofa_x + sofa_w * 0.75, seat_y - 0.04),
            (0.5, hz + 0.2),
        ),
        window=win,
        curtain=curtain,
        lamp=(lamp_x, hz - 0.24),
    )


@scene("kitchen")
def kitchen(rng: np.random.Generator) -> SceneLayout:
    hz = float(rng.uniform(0.45, 0.52))
    cabinet, top, curtain = _pick(rng, WOOD + WALLS), _pick(rng, FLOORS), _pick(rng, FABRICS)
    counter_x1 = float(rng.uniform(0.55, 0.72))
    # The window sits over the worktop, between the wall cabinets.
    win_x = float(rng.uniform(0.08, counter_x1 - 0.3))
    win = Rect(win_x, hz - 0.4, win_x + 0.2, hz - 0.19)
    table_x = float(rng.uniform(0.3, 0.55))
    shapes = [
        _rect(0.0, hz - 0.42, win.x0 - 0.04, hz - 0.24, cabinet, 0.2),
        _rect(win.x1 + 0.04, hz - 0.42, counter_x1, hz - 0.24, cabinet, 0.2),
        *_window_shapes(win, curtain),
        _rect(0.0, hz - 0.14, counter_x1, hz + 0.08, _shade(cabinet, 0.85), 0.2),  # counter front
        _rect(0.0, hz - 0.15, counter_x1 + 0.01, hz - 0.12, top, 0.1),  # worktop
        _rect(counter_x1 + 0.01, hz - 0.38, counter_x1 + 0.1, hz + 0.08, (215, 215, 220)),  # fridge
        _rect(table_x, hz + 0.22, table_x + 0.26, hz + 0.26, _pick(rng, WOOD), 0.3),
        _rect(table_x + 0.01, hz + 0.26, table_x + 0.025, hz + 0.36, (40, 60, 80)),
        _rect(table_x + 0.235, hz + 0.26, table_x + 0.25, hz + 0.36, (40, 60, 80)),
        _rect(table_x - 0.06, hz + 0.2, table_x - 0.02, hz + 0.36, _shade(cabinet, 0.7)),  # chair
    ]
    return SceneLayout(
        placement="kitchen",
        outdoor=False,
        horizon=hz,
        upper=_pick(rng, WALLS),
        lower=(150, 155, 160),
        lower_grain=0.2,
        shapes=tuple(shapes),
        floor=(hz + 0.1, 0.97),
        person_height=(0.52, 0.95),
        entries=((-0.06, hz + 0.3), (1.06, hz + 0.35)),
        spots=((0.15, hz + 0.13), (counter_x1 * 0.6, hz + 0.13), (counter_x1 + 0.05, hz + 0.14)),
        seats=((table_x - 0.04, hz + 0.38),),
        perches=((0.1, hz - 0.15), (counter_x1 * 0.5, hz - 0.15), (table_x + 0.13, hz + 0.22)),
        window=win,
        curtain=curtain,
        lamp=(0.5, 0.02),
    )


@scene("bedroom")
def bedroom(rng: np.random.Generator) -> SceneLayout:
    hz = float(rng.uniform(0.4, 0.48))
    blanket, wood, curtain = _pick(rng, BEDDING), _pick(rng, WOOD), _pick(rng, FABRICS)
    bed_x = float(rng.uniform(0.22, 0.4))
    bed = Rect(bed_x, hz - 0.02, bed_x + 0.38, hz + 0.26)
    wardrobe_x = 0.02 if bed_x > 0.3 else 0.8
    win = _window(rng, hz, [(bed.x0 - 0.02, bed.x1 + 0.1), (wardrobe_x - 0.05, wardrobe_x + 0.22)])
    stand_x = bed.x1 + 0.02
    shapes = [
        *_window_shapes(win, curtain),
        _rect(wardrobe_x, hz - 0.4, wardrobe_x + 0.17, hz + 0.04, wood, 0.3),
        _rect(wardrobe_x + 0.083, hz - 0.38, wardrobe_x + 0.087, hz + 0.02, _shade(wood, 0.6)),
        _rect(bed.x0 - 0.01, hz - 0.16, bed.x1 + 0.01, hz + 0.02, _shade(wood, 0.8), 0.3),  # headboard
        _rect(bed.x0, bed.y0, bed.x1, bed.y1, (230, 230, 235), 0.1),  # sheet
        _rect(bed.x0, hz + 0.07, bed.x1, bed.y1 + 0.02, blanket, 0.35),
        _ellipse(bed.x0 + 0.09, hz + 0.025, 0.07, 0.03, (245, 245, 245)),
        _ellipse(bed.x1 - 0.09, hz + 0.025, 0.07, 0.03, (245, 245, 245)),
        _rect(stand_x, hz - 0.02, stand_x + 0.07, hz + 0.09, _shade(wood, 0.9), 0.2),
        Shape(
            "poly",
            (
                (stand_x + 0.015, hz - 0.02),
                (stand_x + 0.055, hz - 0.02),
                (stand_x + 0.045, hz - 0.07),
                (stand_x + 0.025, hz - 0.07),
            ),
            (170, 215, 235),
        ),
    ]
    return SceneLayout(
        placement="bedroom",
        outdoor=False,
        horizon=hz,
        upper=_pick(rng, WALLS),
        lower=_pick(rng, FLOORS),
        lower_grain=0.35,
        shapes=tuple(shapes),
        floor=(bed.y1 + 0.04, 0.97),
        person_height=(0.5, 0.95),
        entries=((-0.06, 0.85), (1.06, 0.8)),
        spots=((wardrobe_x + 0.085, hz + 0.12), (win.centre[0], bed.y1 + 0.08)),
        seats=((bed.x0 + 0.12, bed.y1 + 0.1), (bed.x1 - 0.12, bed.y1 + 0.1)),
        perches=((bed.x0 + 0.1, hz + 0.1), (bed.centre[0], hz + 0.12), (bed.x1 - 0.08, hz + 0.1)),
        window=win,
        curtain=curtain,
        lamp=(stand_x + 0.035, hz - 0.05),
        bed=bed,
    )


def _tree(rng: np.random.Generator, x: float, base: float, size: float) -> tuple[Tree, list[Shape]]:
    foliage = (int(rng.integers(40, 70)), int(rng.integers(100, 140)), int(rng.integers(40, 70)))
    blobs = tuple(
        (
            (x + float(rng.uniform(-0.6, 0.6)) * size * 0.6, base - size * float(rng.uniform(0.9, 1.5))),
            size * float(rng.uniform(0.35, 0.5)),
        )
        for _ in range(5)
    )
    trunk = _rect(x - size * 0.05, base - size, x + size * 0.05, base, (40, 60, 80), 0.3)
    crown = [_ellipse(c[0], c[1], r * 0.5625, r, _shade(foliage, float(rng.uniform(0.85, 1.1))), 0.5) for c, r in blobs]
    return Tree(blobs, foliage), [trunk, *crown]


def _houses(rng: np.random.Generator, hz: float) -> tuple[list[Shape], Rect]:
    """A row of neighbours' houses along the horizon, and one of their windows."""
    shapes: list[Shape] = []
    windows: list[Rect] = []
    x = float(rng.uniform(-0.1, 0.0))
    while x < 1.0:
        width = float(rng.uniform(0.18, 0.28))
        top = hz - float(rng.uniform(0.1, 0.14))
        wall = _pick(rng, WALLS)
        shapes.append(_rect(x, top, x + width, hz, wall, 0.15))
        shapes.append(
            Shape("poly", ((x - 0.01, top), (x + width + 0.01, top), (x + width / 2, top - 0.06)), (60, 60, 120))
        )
        win = Rect(x + width * 0.3, top + 0.03, x + width * 0.45, top + 0.07)
        shapes.append(_rect(win.x0, win.y0, win.x1, win.y1, (90, 80, 60)))
        if win.x0 > 0.05 and win.x1 < 0.95:
            windows.append(win)
        x += width + float(rng.uniform(0.02, 0.06))
    return shapes, windows[int(rng.integers(len(windows)))] if windows else Rect(0.4, hz - 0.1, 0.46, hz - 0.06)


SKY: Colour = (225, 195, 160)
GRASS: Colour = (70, 130, 85)


@scene("entrance")
def entrance(rng: np.random.Generator) -> SceneLayout:
    hz = float(rng.uniform(0.28, 0.34))
    road0, road1 = hz, hz + 0.08
    houses, neighbour = _houses(rng, hz)
    tree_left = bool(rng.integers(2))
    tree, tree_shapes = _tree(rng, 0.14 if tree_left else 0.86, hz + 0.25, 0.22)
    drive_x = 0.7 if tree_left else 0.05
    shapes = [
        *houses,
        _rect(0.0, road0, 1.0, road1, (85, 85, 90), 0.2),
        *(_rect(x, road0 + 0.036, x + 0.05, road0 + 0.044, (200, 220, 225)) for x in np.arange(0.02, 1.0, 0.12)),
        _rect(0.0, road1, 1.0, road1 + 0.03, (160, 165, 170), 0.15),  # pavement
        Shape(
            "poly",
            ((0.46, road1 + 0.03), (0.54, road1 + 0.03), (0.68, 1.0), (0.32, 1.0)),
            (150, 160, 175),
            0.25,
        ),  # path
        Shape(
            "poly",
            (
                (drive_x + 0.05, road1 + 0.03),
                (drive_x + 0.2, road1 + 0.03),
                (drive_x + 0.28, 1.0),
                (drive_x - 0.02, 1.0),
            ),
            (120, 120, 125),
            0.2,
        ),
        *tree_shapes,
        _ellipse(0.26 if not tree_left else 0.74, 0.75, 0.08, 0.05, (50, 110, 60), 0.5),  # bush
    ]
    return SceneLayout(
        placement="entrance",
        outdoor=True,
        horizon=hz,
        upper=SKY,
        lower=GRASS,
        lower_grain=0.5,
        shapes=tuple(shapes),
        floor=(road1 + 0.02, 0.98),
        person_height=(0.16, 0.9),
        entries=((-0.04, road1 + 0.02), (1.04, road1 + 0.02)),
        spots=((0.5, road1 + 0.06), (0.38, 0.7), (0.62, 0.7)),
        seats=(),
        perches=((0.26 if not tree_left else 0.74, 0.72),),
        door=(0.5, 0.97),
        road_y=road0 + 0.06,
        tree=tree,
        neighbour_window=neighbour,
    )


@scene("backyard")
def backyard(rng: np.random.Generator) -> SceneLayout:
    hz = float(rng.uniform(0.3, 0.36))
    houses, neighbour = _houses(rng, hz - 0.02)
    shed_x = float(rng.uniform(0.05, 0.2)) if rng.integers(2) else float(rng.uniform(0.65, 0.8))
    tree, tree_shapes = _tree(rng, 0.9 - shed_x * 0.8, hz + 0.3, 0.25)
    shapes = [
        *houses,
        _rect(0.0, hz - 0.05, 1.0, hz, (50, 95, 60), 0.4),  # hedge
        _rect(0.0, hz, 1.0, hz + 0.07, (120, 125, 130), 0.3),  # back lane
        _rect(shed_x, hz + 0.02, shed_x + 0.16, hz + 0.2, _pick(rng, WOOD), 0.35),
        Shape(
            "poly",
            ((shed_x - 0.01, hz + 0.02), (shed_x + 0.17, hz + 0.02), (shed_x + 0.08, hz - 0.04)),
            (50, 50, 70),
        ),
        _rect(0.2, 0.82, 0.8, 1.0, (140, 150, 165), 0.3),  # patio
        *tree_shapes,
    ]
    return SceneLayout(
        placement="backyard",
        outdoor=True,
        horizon=hz,
        upper=SKY,
        lower=GRASS,
        lower_grain=0.5,
        shapes=tuple(shapes),
        floor=(hz + 0.1, 0.98),
        person_height=(0.18, 0.85),
        entries=((-0.04, 0.7), (1.04, 0.75), (0.5, 1.02)),
        spots=((shed_x + 0.08, hz + 0.24), (0.5, 0.6), (0.3, 0.85)),
        seats=(),
        perches=((shed_x + 0.08, hz + 0.02), (0.5, 0.82)),
        road_y=hz + 0.06,
        tree=tree,
        neighbour_window=neighbour,
    )
