"""The built-in event sources: who and what moves in front of each camera, and when.

Each source reads the household's routine (sleep, work, home/away), its cameras and pets, and proposes
occurrences at plausible times: residents while someone is home and awake, intruders only while nobody
is, visitors by day, cats mostly at night, lamps at dusk, insects at the lens after dark.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from clipwarden.sim import intervals as iv
from clipwarden.sim.events import Occurrence, Part, SourceContext, event_source
from clipwarden.sim.routines import HOUR

# How often residents cross each room, relative to SimConfig.resident_rate.
ROOM_TRAFFIC = {"living_room": 1.0, "kitchen": 0.8, "bedroom": 0.4, "backyard": 0.25}


def _daytime(ctx: SourceContext) -> iv.Spans:
    return ctx.within(iv.complement(ctx.routine.dark, ctx.earliest, ctx.latest))


def _single(
    ctx: SourceContext, rng: np.random.Generator, camera_id: str, kind: str, t: float, actor: str
) -> Occurrence:
    return (Part(camera_id, kind, t, ctx.duration(kind, rng), actor),)


@event_source("comings_and_goings")
def comings_and_goings(ctx: SourceContext, rng: np.random.Generator) -> Iterator[Occurrence]:
    """Occupants walk out of the front door when they leave and up to it when they come back."""
    for camera in ctx.home.cameras_at("entrance"):
        for occupant, spans in ctx.routine.away.items():
            for lo, hi in spans:
                leaving = ctx.duration("resident", rng)
                yield (Part(camera.id, "resident", lo - leaving, leaving, occupant, "leave"),)
                yield (Part(camera.id, "resident", hi, ctx.duration("resident", rng), occupant, "arrive"),)


@event_source("residents")
def residents(ctx: SourceContext, rng: np.random.Generator) -> Iterator[Occurrence]:
    for camera in ctx.home.cameras_at(*ROOM_TRAFFIC):
        spans = ctx.within(ctx.routine.anyone_awake)
        if camera.outdoor:
            spans = iv.intersect(spans, _daytime(ctx))
        for t in iv.random_times(rng, spans, ctx.config.resident_rate * ROOM_TRAFFIC[camera.placement]):
            awake = ctx.routine.awake_at(t)
            if awake:
                yield _single(ctx, rng, camera.id, "resident", t, awake[int(rng.integers(len(awake)))])


@event_source("pets")
def pets(ctx: SourceContext, rng: np.random.Generator) -> Iterator[Occurrence]:
    """Cats roam mostly at night (the classic false alarm), dogs by day; both rarely outdoors."""
    day, night = _daytime(ctx), ctx.within(ctx.routine.dark)
    for pet in ctx.home.pets:
        day_weight, night_weight = (0.6, 1.0) if pet.species == "cat" else (1.0, 0.25)
        for camera in ctx.home.cameras:
            if camera.placement == "entrance":
                continue
            rate = ctx.config.pet_rate * (0.4 if camera.outdoor else 1.0)
            times = iv.random_times(rng, day, rate * day_weight) + iv.random_times(rng, night, rate * night_weight)
            for t in sorted(times):
                yield _single(ctx, rng, camera.id, pet.species, t, pet.key)


@event_source("visitors")
def visitors(ctx: SourceContext, rng: np.random.Generator) -> Iterator[Occurrence]:
    """Deliveries and friends ring at the front door by day, whether anyone is home or not."""
    hid = ctx.home.household.id
    for camera in ctx.home.cameras_at("entrance"):
        for n, t in enumerate(iv.random_times(rng, ctx.within(ctx.clock.hours(8.0, 20.0)), ctx.config.visitor_rate)):
            yield _single(ctx, rng, camera.id, "visitor", t, f"{hid}/{camera.id}/visitor{n}")


@event_source("vehicles")
def vehicles(ctx: SourceContext, rng: np.random.Generator) -> Iterator[Occurrence]:
    for camera in ctx.home.cameras:
        if not camera.outdoor:
            continue
        rate = ctx.config.vehicle_rate
        times = iv.random_times(rng, _daytime(ctx), rate) + iv.random_times(
            rng, ctx.within(ctx.routine.dark), rate * 0.4
        )
        for n, t in enumerate(sorted(times)):
            variant = "stop" if rng.random() < 0.3 else "pass"
            duration = ctx.duration("car", rng)
            yield (Part(camera.id, "car", t, duration, f"{camera.id}/car{n}", variant),)


@event_source("lights")
def lights(ctx: SourceContext, rng: np.random.Generator) -> Iterator[Occurrence]:
    """Lamps go on at dusk while someone is up and off at bedtime: a sudden change of the whole picture."""
    for camera_id, spans in ctx.lamps.items():
        for lo, hi in spans:
            for at, variant in ((lo, "on"), (hi, "off")):
                if ctx.earliest <= at <= ctx.latest - 3:
                    yield (Part(camera_id, "lights", at, 3.0, f"{camera_id}/lamp", variant),)


@event_source("indoor_effects")
def indoor_effects(ctx: SourceContext, rng: np.random.Generator) -> Iterator[Occurrence]:
    """Sun patches crossing the floor at midday, curtains moving in a draught."""
    midday = iv.intersect(ctx.clock.hours(9.5, 15.5), _daytime(ctx))
    everywhere = [(ctx.earliest, ctx.latest)]
    for camera in ctx.home.cameras:
        if camera.outdoor or ctx.home.layouts[camera.id].window is None:
            continue
        for kind, spans, weight in (("sun_patch", midday, 1.5), ("curtain", everywhere, 0.8)):
            for t in iv.random_times(rng, spans, ctx.config.environment_rate * weight):
                yield _single(ctx, rng, camera.id, kind, t, f"{camera.id}/{kind}")


@event_source("outdoor_effects")
def outdoor_effects(ctx: SourceContext, rng: np.random.Generator) -> Iterator[Occurrence]:
    """Insects at the IR-lit lens after dark, gusts through trees, and showers while it rains."""
    showers = _rain_spells(ctx, rng)
    for camera in ctx.home.cameras:
        if not camera.outdoor:
            continue
        effects = [
            ("insect", ctx.within(ctx.routine.dark), ctx.config.environment_rate * 2.0),
            ("rain", showers, 1.5),
        ]
        if ctx.home.layouts[camera.id].tree is not None:
            effects.append(("tree", [(ctx.earliest, ctx.latest)], ctx.config.environment_rate))
        for kind, spans, rate in effects:
            for t in iv.random_times(rng, spans, rate):
                yield _single(ctx, rng, camera.id, kind, t, f"{camera.id}/{kind}")


def _rain_spells(ctx: SourceContext, rng: np.random.Generator) -> iv.Spans:
    """Weather is the household's, shared by its cameras: some local days get a spell of rain."""
    spells = []
    for midnight, _ in ctx.clock.days():
        if rng.random() < ctx.config.rain_chance:
            start = midnight + float(rng.uniform(0.0, 22.0)) * HOUR
            spells.append((start, start + float(rng.uniform(0.5, 2.0)) * HOUR))
    return ctx.within(iv.normalise(spells))


@event_source("intruders")
def intruders(ctx: SourceContext, rng: np.random.Generator) -> Iterator[Occurrence]:
    """A break-in while nobody is home: the door first, then room after room, lingering in each."""
    hid = ctx.home.household.id
    outdoor = [c for c in ctx.home.cameras if c.outdoor]
    indoor = [c for c in ctx.home.cameras if not c.outdoor]
    margin = 120.0  # keep clear of the moment the household leaves or comes back
    away = ctx.within(ctx.routine.household_away)
    for n in range(ctx.intruders):
        route = [outdoor[i] for i in rng.permutation(len(outdoor))] + [indoor[i] for i in rng.permutation(len(indoor))]
        durations = [ctx.duration("intruder", rng) for _ in route]
        gaps = [float(rng.uniform(15.0, 60.0)) for _ in route]
        start = iv.random_start(rng, away, sum(durations) + sum(gaps) + 2 * margin)
        if start is None:
            continue
        t = start + margin
        parts = []
        for camera, duration, gap in zip(route, durations, gaps, strict=True):
            parts.append(Part(camera.id, "intruder", t, duration, f"{hid}/intruder{n}"))
            t += duration + gap
        yield tuple(parts)


@event_source("private_scenes")
def private_scenes(ctx: SourceContext, rng: np.random.Generator) -> Iterator[Occurrence]:
    """Two people close together in the bedroom late at night, by a dim bedside lamp switched on before
    and off after: the footage that must never reach a reviewer. A single adult's partner visits."""
    bedrooms = ctx.home.cameras_at("bedroom")
    adults = [o.key for o in ctx.home.occupants if o.adult][:2]
    if not bedrooms:
        return
    both_home = iv.subtract(ctx.clock.hours(21.5, 25.0), iv.union(*(ctx.routine.away[a] for a in adults)))
    room = ctx.within(both_home)
    pair = "+".join(adults if len(adults) == 2 else [adults[0], f"{ctx.home.household.id}/partner"])
    camera = bedrooms[0]
    for _ in range(ctx.private_scenes):
        duration = ctx.duration("private_scene", rng)
        before, after = float(rng.uniform(60.0, 150.0)), float(rng.uniform(60.0, 150.0))
        start = iv.random_start(rng, room, 3.0 + before + duration + after + 3.0)
        if start is None:
            continue
        scene_at = start + 3.0 + before
        yield (
            Part(camera.id, "lights", start, 3.0, f"{camera.id}/lamp", "dim"),
            Part(camera.id, "private_scene", scene_at, duration, pair),
            Part(camera.id, "lights", scene_at + duration + after, 3.0, f"{camera.id}/lamp", "off"),
        )
