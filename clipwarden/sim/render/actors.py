"""Elements for people, pets and cars: each plans a route through the scene and draws along it.

Behaviour is in the routes: residents walk purposefully or sit down, visitors come to the door and wait,
intruders move slowly and stop, crouch and reach at several spots, pets dart and jump onto furniture.
"""

from __future__ import annotations

import math
from abc import abstractmethod
from dataclasses import replace

import numpy as np

from clipwarden.sim.events import ScheduledEvent
from clipwarden.sim.layout import Colour, Point
from clipwarden.sim.render.elements import Element, element
from clipwarden.sim.render.figures import (
    CAR_PAINT,
    CAT_COATS,
    DOG_COATS,
    Appearance,
    Pose,
    draw_car,
    draw_couple,
    draw_person,
    draw_pet,
)
from clipwarden.sim.render.lighting import Look
from clipwarden.sim.render.motion import Route, Stop
from clipwarden.sim.render.stage import Stage
from clipwarden.sim.seeding import rng_for

SHEET: Colour = (225, 225, 230)


def _appearance(stage: Stage, actor: str, *, intruder: bool = False) -> Appearance:
    """The same actor key gives the same person on every camera and in every window."""
    return Appearance.draw(rng_for(stage.seed, "actor", actor), intruder=intruder)


def _one(rng: np.random.Generator, points: tuple[Point, ...]) -> Point:
    return points[int(rng.integers(len(points)))]


def _floor_point(rng: np.random.Generator, stage: Stage) -> tuple[float, float]:
    lo, hi = stage.layout.floor
    return stage.px((float(rng.uniform(0.1, 0.9)), float(rng.uniform(lo, hi))))


class Walker(Element):
    """A person along a route; subclasses choose the route and the gait."""

    cadence = 0.9  # strides a second
    stride = 1.0
    intruder = False

    def __init__(self, event: ScheduledEvent, stage: Stage, rng: np.random.Generator) -> None:
        super().__init__(event, stage, rng)
        self.appearance = _appearance(stage, event.actor, intruder=self.intruder)
        start, stops = self.plan(rng)
        self.route = Route(start, stops, self.duration)

    @abstractmethod
    def plan(self, rng: np.random.Generator) -> tuple[tuple[float, float], list[Stop]]:
        """Where the person comes from, and the stops of their route."""

    def draw(self, frame: np.ndarray, tau: float, look: Look) -> None:
        at = self.route.at(tau)
        pose = Pose(
            at.x,
            at.y,
            self.stage.person_height(at.y),
            facing=at.facing,
            phase=2 * math.pi * self.cadence * at.walked,
            stride=self.stride if at.moving else 0.0,
            crouch=1.0 if at.pose == "crouch" else 0.0,
            sitting=at.pose == "sit",
            reach=1.0 if at.pose == "reach" else 0.0,
        )
        draw_person(frame, pose, self.appearance, look)


@element("resident")
class Resident(Walker):
    def plan(self, rng: np.random.Generator) -> tuple[tuple[float, float], list[Stop]]:
        layout, px = self.stage.layout, self.stage.px
        if self.event.variant in ("leave", "arrive") and layout.door is not None:
            door, gate = px((layout.door[0], 1.05)), px((0.5, layout.floor[0]))
            street = px(_one(rng, layout.entries))
            if self.event.variant == "leave":
                return door, [Stop(*gate), Stop(*street)]
            return street, [Stop(*gate), Stop(*door)]
        come, go = px(_one(rng, layout.entries)), px(_one(rng, layout.entries))
        pattern = rng.choice(["pass", "sit", "stop"] if layout.seats else ["pass", "stop"])
        if pattern == "sit":
            seat = px(_one(rng, layout.seats))
            return come, [
                Stop(*seat, dwell=self.duration * 0.55, pose="sit", facing=float(rng.choice([-1.0, 1.0]))),
                Stop(*go),
            ]
        middle = px(_one(rng, layout.spots)) if pattern == "stop" else _floor_point(rng, self.stage)
        return come, [Stop(*middle, dwell=self.duration * (0.4 if pattern == "stop" else 0.0)), Stop(*go)]


@element("visitor")
class Visitor(Walker):
    """Comes up the path to the door, waits (ringing, holding a parcel), and leaves the way it came."""

    def plan(self, rng: np.random.Generator) -> tuple[tuple[float, float], list[Stop]]:
        layout, px = self.stage.layout, self.stage.px
        street = px(_one(rng, layout.entries))
        gate = px((0.5, layout.floor[0]))
        door = (
            px((layout.door[0] + float(rng.uniform(-0.06, 0.06)), 0.86)) if layout.door else px(_one(rng, layout.spots))
        )
        wait = Stop(*door, dwell=self.duration * 0.5, pose="reach" if rng.random() < 0.4 else "stand", facing=0.0)
        return street, [Stop(*gate), wait, Stop(*gate), Stop(*px(_one(rng, layout.entries)))]


@element("intruder")
class Intruder(Walker):
    """Moves slowly, stops at several spots, crouches and tries things, lingers."""

    cadence = 0.6
    stride = 0.6
    intruder = True

    def plan(self, rng: np.random.Generator) -> tuple[tuple[float, float], list[Stop]]:
        layout, px = self.stage.layout, self.stage.px
        spots = [*layout.spots, *([(layout.door[0], 0.9)] if layout.door else [])]
        count = min(len(spots), int(rng.integers(2, 4)))
        chosen = [spots[i] for i in rng.choice(len(spots), count, replace=False)]
        hold = self.duration * 0.6 / count
        stops = [Stop(*px(p), dwell=hold, pose=str(rng.choice(["crouch", "reach", "stand"])), pace=0.8) for p in chosen]
        return px(_one(rng, layout.entries)), [*stops, Stop(*px(_one(rng, layout.entries)))]


@element("private_scene")
class PrivateScene(Element):
    """A couple walks in, sits close together on the bed by a dim lamp, and walks out again."""

    def __init__(self, event: ScheduledEvent, stage: Stage, rng: np.random.Generator) -> None:
        super().__init__(event, stage, rng)
        layout, px = stage.layout, stage.px
        first, second = (_appearance(stage, key) for key in event.actor.split("+"))
        self.pair = (replace(first, top=first.skin), replace(second, top=second.skin))  # bare shoulders
        bed_x, bed_y = (layout.bed.centre[0], layout.bed.y1) if layout.bed else (0.5, 0.75)
        self.seat = px((bed_x, bed_y - 0.02))  # on the edge of the bed
        self.height = stage.person_height(self.seat[1])
        self.walk = min(6.0, self.duration * 0.15)
        door = px(_one(rng, layout.entries))
        spots = [(self.seat[0] + d * self.height, self.seat[1]) for d in (-0.09, 0.09)]
        self.walk_in = [Route((door[0], door[1] + 8 * k), [Stop(*s)], self.walk) for k, s in enumerate(spots)]
        self.walk_out = [Route(s, [Stop(door[0], door[1] + 8 * k)], self.walk) for k, s in enumerate(spots)]

    def draw(self, frame: np.ndarray, tau: float, look: Look) -> None:
        if self.walk <= tau < self.duration - self.walk:
            sway = math.sin(2 * math.pi * 0.2 * (tau - self.walk))
            draw_couple(frame, self.seat[0], self.seat[1], self.height, self.pair, sway, SHEET, look)
            return
        routes, local = (self.walk_in, tau) if tau < self.walk else (self.walk_out, tau - (self.duration - self.walk))
        for route, person in zip(routes, self.pair, strict=True):
            at = route.at(local)
            pose = Pose(
                at.x,
                at.y,
                self.stage.person_height(at.y),
                at.facing,
                2 * math.pi * 0.9 * at.walked,
                1.0 if at.moving else 0.0,
            )
            draw_person(frame, pose, person, look)


@element("cat", "dog")
class Pet(Element):
    """Darts about at uneven speed, pauses, jumps onto furniture and off again."""

    def __init__(self, event: ScheduledEvent, stage: Stage, rng: np.random.Generator) -> None:
        super().__init__(event, stage, rng)
        layout, px = stage.layout, stage.px
        cat = event.kind == "cat"
        coats = CAT_COATS if cat else DOG_COATS
        self.coat = coats[int(rng_for(stage.seed, "actor", event.actor).integers(len(coats)))]
        self.body = 0.28 if cat else 0.42  # body length relative to a standing adult
        self.cadence = 2.6 if cat else 2.0
        stops: list[Stop] = []
        for _ in range(int(rng.integers(2, 6))):
            perch = layout.perches and rng.random() < (0.45 if cat else 0.15)
            point = px(_one(rng, layout.perches)) if perch else _floor_point(rng, stage)
            hop = stage.person_height(point[1]) * 0.25 if perch or (stops and stops[-1].hop) else 0.0
            stops.append(Stop(*point, dwell=float(rng.uniform(0.0, 2.5)), pace=float(rng.uniform(0.4, 2.5)), hop=hop))
        stops.append(Stop(*px(_one(rng, layout.entries)), pace=2.0))
        self.route = Route(px(_one(rng, layout.entries)), stops, self.duration, min_moving=0.5)

    def draw(self, frame: np.ndarray, tau: float, look: Look) -> None:
        at = self.route.at(tau)
        size = self.stage.person_height(at.y) * self.body
        phase = 2 * math.pi * self.cadence * at.walked * max(1.0, at.speed)
        draw_pet(frame, self.event.kind, at.x, at.y, size, at.facing, phase, at.moving, self.coat, look)


@element("car")
class Car(Element):
    """Drives along the road through the view; a "stop" car pulls up for a while (a drop-off) first."""

    def __init__(self, event: ScheduledEvent, stage: Stage, rng: np.random.Generator) -> None:
        super().__init__(event, stage, rng)
        road = stage.layout.road_y if stage.layout.road_y is not None else stage.layout.floor[0]
        self.y = road * stage.height
        self.length = stage.person_height(self.y) * 2.5
        self.paint = CAR_PAINT[int(rng.integers(len(CAR_PAINT)))]
        ends = [-0.6 * self.length, stage.width + 0.6 * self.length]
        if rng.random() < 0.5:
            ends.reverse()
        stops = [Stop(ends[1], self.y)]
        if event.variant == "stop":
            stops.insert(0, Stop(stage.width * float(rng.uniform(0.3, 0.7)), self.y, dwell=self.duration * 0.5))
        self.route = Route((ends[0], self.y), stops, self.duration)

    def draw(self, frame: np.ndarray, tau: float, look: Look) -> None:
        at = self.route.at(tau)
        lights = look.lighting.ir or look.lighting.level < 0.55
        draw_car(frame, at.x, self.y, self.length, at.facing, self.paint, look, lights)
