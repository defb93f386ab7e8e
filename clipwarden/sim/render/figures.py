"""People, pets and cars drawn with OpenCV primitives: articulated, cheap, and at any scale.

Each function draws one figure in one pose into a frame; elements.py and actors.py decide the poses.
Colours go through a Look, so figures match the backdrop's lighting (colour, lamp-lit or infrared).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import cv2
import numpy as np

from clipwarden.sim.layout import Colour
from clipwarden.sim.render.lighting import Look

# Realistic skin tones, light to dark (BGR).
SKIN_TONES: tuple[Colour, ...] = (
    (196, 224, 255),
    (170, 205, 241),
    (148, 190, 234),
    (125, 172, 224),
    (105, 150, 198),
    (80, 120, 175),
    (60, 95, 141),
    (45, 70, 110),
    (35, 55, 85),
)
HAIR: tuple[Colour, ...] = ((20, 20, 25), (30, 45, 70), (40, 70, 110), (90, 150, 200), (150, 150, 150))
CLOTHES: tuple[Colour, ...] = (
    (140, 60, 30),
    (40, 40, 160),
    (50, 130, 50),
    (200, 200, 200),
    (30, 30, 30),
    (120, 90, 60),
    (60, 160, 200),
    (150, 80, 140),
    (90, 90, 90),
    (180, 130, 60),
)
DARK_CLOTHES: tuple[Colour, ...] = ((25, 25, 25), (40, 35, 30), (50, 45, 45), (30, 30, 45))
CAT_COATS: tuple[Colour, ...] = (
    (25, 25, 25),
    (60, 120, 200),
    (120, 120, 125),
    (220, 225, 230),
    (70, 90, 110),
)
DOG_COATS: tuple[Colour, ...] = ((40, 70, 120), (25, 25, 30), (90, 160, 210), (220, 220, 225), (60, 90, 140))
CAR_PAINT: tuple[Colour, ...] = ((40, 40, 40), (200, 200, 205), (40, 40, 170), (150, 90, 30), (140, 140, 140))


def _choose(rng: np.random.Generator, options: tuple[Colour, ...]) -> Colour:
    return options[int(rng.integers(len(options)))]


@dataclass(frozen=True)
class Appearance:
    skin: Colour
    hair: Colour
    top: Colour
    bottom: Colour
    shoes: Colour
    height: float  # relative to an average adult
    build: float  # relative width
    hood: bool = False

    @classmethod
    def draw(cls, rng: np.random.Generator, *, intruder: bool = False) -> Appearance:
        """A random person; intruders wear dark clothes and a hood."""
        clothes = DARK_CLOTHES if intruder else CLOTHES
        return cls(
            skin=_choose(rng, SKIN_TONES),
            hair=_choose(rng, HAIR),
            top=_choose(rng, clothes),
            bottom=_choose(rng, DARK_CLOTHES if intruder or rng.random() < 0.5 else CLOTHES),
            shoes=_choose(rng, DARK_CLOTHES),
            height=float(rng.uniform(0.88, 1.08)),
            build=float(rng.uniform(0.85, 1.2)),
            hood=intruder,
        )


@dataclass(frozen=True)
class Pose:
    x: float  # foot point, pixels
    y: float
    height: float  # standing height at this depth, pixels
    facing: float = 1.0  # -1 walking left, 1 right, 0 towards or away from the camera
    phase: float = 0.0  # gait phase, radians
    stride: float = 0.0  # 0 standing still .. 1 full walking stride
    crouch: float = 0.0  # 0 upright .. 1 crouching
    sitting: bool = False
    reach: float = 0.0  # arms raised forward, 0..1 (trying a handle, holding a parcel)


def _pt(x: float, y: float) -> tuple[int, int]:
    return (round(x), round(y))


def draw_person(img: np.ndarray, p: Pose, a: Appearance, look: Look) -> None:
    h = p.height * a.height
    if h < 6:
        return
    side = p.facing
    skin, top, bottom = look(a.skin), look(a.top), look(a.bottom)
    leg_w = max(1, round(0.075 * h * a.build))
    arm_w = max(1, round(0.055 * h * a.build))
    hip = (p.x - side * 0.12 * h, p.y - 0.27 * h) if p.sitting else (p.x, p.y - h * (0.5 - 0.2 * p.crouch))
    shoulder = (hip[0] + side * 0.12 * h * p.crouch, hip[1] - 0.3 * h)
    for sign in (-1.0, 1.0):
        hx = hip[0] + sign * 0.04 * h * (1 - abs(side))
        if p.sitting:
            knee = (hx + side * 0.22 * h + sign * 0.02 * h, hip[1])
            foot = (knee[0], p.y)
        else:
            swing = sign * p.stride * 0.5 * math.sin(p.phase)
            thigh, shin = swing + 1.0 * p.crouch, 0.5 * swing - 0.9 * p.crouch
            knee = (hx + side * 0.25 * h * math.sin(thigh), hip[1] + 0.25 * h * math.cos(thigh))
            lift = p.stride * 0.04 * h * max(0.0, math.sin(p.phase * sign)) * (1 - abs(side))
            foot = (knee[0] + side * 0.25 * h * math.sin(shin), knee[1] + 0.25 * h * math.cos(shin) - lift)
        cv2.line(img, _pt(hx, hip[1]), _pt(*knee), bottom, leg_w)
        cv2.line(img, _pt(*knee), _pt(*foot), bottom, leg_w)
        cv2.circle(img, _pt(*foot), max(1, leg_w // 2 + 1), look(a.shoes), -1)
    half_top = 0.11 * h * a.build * (1 - 0.45 * abs(side))
    half_hip = 0.085 * h * a.build * (1 - 0.35 * abs(side))
    torso = np.array(
        [
            _pt(shoulder[0] - half_top, shoulder[1]),
            _pt(shoulder[0] + half_top, shoulder[1]),
            _pt(hip[0] + half_hip, hip[1] + 0.02 * h),
            _pt(hip[0] - half_hip, hip[1] + 0.02 * h),
        ],
        np.int32,
    )
    cv2.fillPoly(img, [torso], top)
    for sign in (-1.0, 1.0):
        base = (shoulder[0] + sign * half_top * 0.85, shoulder[1] + 0.03 * h)
        upper = -sign * p.stride * 0.45 * math.sin(p.phase) + 1.3 * p.reach + 0.6 * p.crouch
        lower = upper + 0.25 + 0.3 * p.reach
        elbow = (base[0] + side * 0.17 * h * math.sin(upper), base[1] + 0.17 * h * math.cos(upper))
        hand = (elbow[0] + side * 0.16 * h * math.sin(lower), elbow[1] + 0.16 * h * math.cos(lower))
        cv2.line(img, _pt(*base), _pt(*elbow), top, arm_w)
        cv2.line(img, _pt(*elbow), _pt(*hand), top, arm_w)
        cv2.circle(img, _pt(*hand), max(1, arm_w // 2 + 1), skin, -1)
    _head(img, (shoulder[0] + side * 0.01 * h, shoulder[1] - 0.09 * h), h, side, a, look)


def _head(img: np.ndarray, centre: tuple[float, float], h: float, side: float, a: Appearance, look: Look) -> None:
    axes = (max(1, round(0.055 * h)), max(1, round(0.068 * h)))
    if a.hood:
        hood_axes = (round(axes[0] * 1.3), round(axes[1] * 1.25))
        cv2.ellipse(img, _pt(*centre), hood_axes, 0, 0, 360, look(a.top), -1)
        face = (centre[0] + side * 0.015 * h, centre[1] + 0.01 * h)
        cv2.ellipse(
            img,
            _pt(*face),
            (max(1, round(axes[0] * 0.7)), max(1, round(axes[1] * 0.7))),
            0,
            0,
            360,
            look(a.skin),
            -1,
        )
        return
    cv2.ellipse(img, _pt(*centre), axes, 0, 0, 360, look(a.skin), -1)
    cv2.ellipse(img, _pt(centre[0] - side * 0.01 * h, centre[1] - 0.012 * h), axes, 0, 180, 360, look(a.hair), -1)


def draw_couple(
    img: np.ndarray,
    x: float,
    seat_y: float,
    h: float,
    pair: tuple[Appearance, Appearance],
    sway: float,
    blanket: Colour,
    look: Look,
) -> None:
    """Two people sitting close on a bed, bare shoulders and arms, a blanket over their laps.

    Abstract shapes only; what matters downstream is what a screen for intimate footage looks for:
    two people close together, large skin-coloured areas, a dim bedroom.
    """
    hip_y = seat_y - 0.02 * h
    for sign, a in zip((-1.0, 1.0), pair, strict=True):
        skin = look(a.skin)
        cx = x + sign * (0.085 - 0.02 * sway) * h
        lean = -sign * (10 + 8 * sway)
        cv2.ellipse(img, _pt(cx, hip_y - 0.17 * h), _axes(0.085 * h, 0.16 * h), lean, 0, 360, skin, -1)
        cv2.ellipse(img, _pt(cx - sign * 0.015 * h, hip_y - 0.3 * h), _axes(0.1 * h, 0.04 * h), lean, 0, 360, skin, -1)
        cv2.ellipse(
            img,
            _pt(cx + sign * 0.1 * h, hip_y - 0.16 * h),
            _axes(0.03 * h, 0.12 * h),
            -lean,
            0,
            360,
            skin,
            -1,
        )
        cv2.ellipse(
            img,
            _pt(x, hip_y - 0.23 * h + sign * 0.02 * h),
            _axes(0.12 * h, 0.028 * h),
            sign * 15,
            0,
            360,
            skin,
            -1,
        )
        _head(img, (cx - sign * 0.035 * h * (1 + sway), hip_y - 0.4 * h), h, -sign * 0.5, a, look)
    corners = [
        (x - 0.25 * h, hip_y - 0.05 * h),
        (x + 0.25 * h, hip_y - 0.05 * h),
        (x + 0.28 * h, hip_y + 0.12 * h),
        (x - 0.28 * h, hip_y + 0.12 * h),
    ]
    cv2.fillPoly(img, [np.array([_pt(*c) for c in corners], np.int32)], look(blanket))


def _axes(rx: float, ry: float) -> tuple[int, int]:
    return (max(1, round(rx)), max(1, round(ry)))


def draw_pet(
    img: np.ndarray,
    species: str,
    x: float,
    y: float,
    size: float,
    facing: float,
    phase: float,
    moving: bool,
    coat: Colour,
    look: Look,
) -> None:
    """A cat or dog side-on; ``size`` is its body length in pixels, (x, y) where its paws touch."""
    f = 1.0 if facing >= 0 else -1.0
    dog = species == "dog"
    fur = look(coat)
    leg_len, body_y = (0.36 * size, y - 0.45 * size) if dog else (0.26 * size, y - 0.32 * size)
    leg_w = max(1, round(size * (0.08 if dog else 0.06)))
    for n, at in enumerate((-0.28, -0.2, 0.2, 0.28)):
        swing = 0.35 * math.sin(phase + n * math.pi / 2) if moving else 0.0
        top = (x + at * size, body_y + 0.05 * size)
        cv2.line(
            img,
            _pt(*top),
            _pt(top[0] + leg_len * math.sin(swing), top[1] + leg_len * math.cos(swing)),
            fur,
            leg_w,
        )
    cv2.ellipse(img, _pt(x, body_y), _axes(0.42 * size, (0.16 if dog else 0.15) * size), 0, 0, 360, fur, -1)
    wag = math.sin(phase * (3.0 if dog else 0.7))
    tail = np.array(
        [
            _pt(
                x - f * (0.4 + 0.12 * k) * size,
                body_y - (0.05 + (0.1 if dog else 0.12) * k + 0.03 * wag * k) * size,
            )
            for k in range(4)
        ],
        np.int32,
    )
    cv2.polylines(img, [tail], False, fur, max(1, leg_w // 2 + 1))
    head = (x + f * 0.45 * size, body_y - (0.17 if dog else 0.18) * size)
    if dog:
        cv2.ellipse(img, _pt(*head), _axes(0.13 * size, 0.11 * size), 0, 0, 360, fur, -1)
        cv2.ellipse(
            img,
            _pt(head[0] + f * 0.12 * size, head[1] + 0.03 * size),
            _axes(0.08 * size, 0.05 * size),
            0,
            0,
            360,
            fur,
            -1,
        )
        cv2.ellipse(
            img,
            _pt(head[0] - f * 0.05 * size, head[1] + 0.02 * size),
            _axes(0.03 * size, 0.08 * size),
            0,
            0,
            360,
            look((20, 30, 40)),
            -1,
        )
    else:
        r = 0.13 * size
        cv2.circle(img, _pt(*head), max(1, round(r)), fur, -1)
        for dx in (-0.6, 0.5):
            ear = [
                _pt(head[0] + (dx - 0.3) * r, head[1] - 0.6 * r),
                _pt(head[0] + (dx + 0.3) * r, head[1] - 0.6 * r),
                _pt(head[0] + dx * r, head[1] - 1.5 * r),
            ]
            cv2.fillPoly(img, [np.array(ear, np.int32)], fur)
    if look.lighting.ir:  # eyeshine: eyes reflect the camera's IR lamp
        cv2.circle(
            img,
            _pt(head[0] + f * 0.05 * size, head[1] - 0.02 * size),
            max(1, round(0.025 * size)),
            (250.0, 250.0, 250.0),
            -1,
        )


def draw_car(
    img: np.ndarray, x: float, y: float, length: float, facing: float, paint: Colour, look: Look, lights: bool
) -> None:
    """A car side-on; (x, y) is the middle of where its wheels touch the road."""
    f = 1.0 if facing >= 0 else -1.0
    L = length
    body = look(paint)
    cv2.rectangle(img, _pt(x - L / 2, y - 0.3 * L), _pt(x + L / 2, y - 0.1 * L), body, -1)
    cabin = [(-0.3, -0.3), (-0.2, -0.47), (0.15, -0.47), (0.3, -0.3)]
    cv2.fillPoly(img, [np.array([_pt(x + f * cx * L, y + cy * L) for cx, cy in cabin], np.int32)], body)
    glass = [(-0.25, -0.31), (-0.18, -0.44), (0.13, -0.44), (0.24, -0.31)]
    cv2.fillPoly(img, [np.array([_pt(x + f * cx * L, y + cy * L) for cx, cy in glass], np.int32)], look((70, 60, 50)))
    for wx in (-0.3, 0.3):
        cv2.circle(img, _pt(x + wx * L, y - 0.1 * L), max(1, round(0.1 * L)), look((20, 20, 20)), -1)
        cv2.circle(img, _pt(x + wx * L, y - 0.1 * L), max(1, round(0.045 * L)), look((150, 150, 150)), -1)
    front = (x + f * 0.48 * L, y - 0.24 * L)
    if lights:  # headlights flare, in colour and in infrared alike
        cv2.ellipse(
            img,
            _pt(front[0] + f * 0.12 * L, front[1]),
            _axes(0.16 * L, 0.07 * L),
            0,
            0,
            360,
            (235.0, 245.0, 250.0),
            -1,
        )
        cv2.circle(img, _pt(x - f * 0.49 * L, y - 0.24 * L), max(1, round(0.03 * L)), (40.0, 40.0, 230.0), -1)
    else:
        cv2.ellipse(img, _pt(*front), _axes(0.03 * L, 0.025 * L), 0, 0, 360, look((200, 230, 240)), -1)
