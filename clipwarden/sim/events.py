"""The event vocabulary: kinds of things that move in front of a camera, and the seam for adding more.

An event source looks at a household (its cameras, routine, pets, weather) and proposes occurrences:
groups of parts, one per camera view, that happen together or not at all (an intruder's walk from the
front door through the living room is one occurrence). planner.py decides which proposals fit and turns
them into ScheduledEvents and ActivityWindows. Register a source with ``@event_source("name")`` and its
kinds in ``KINDS``; give each kind a renderer element in clipwarden.sim.render.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

import numpy as np

from clipwarden.domain import Label
from clipwarden.sim import intervals as iv
from clipwarden.sim.config import SimConfig
from clipwarden.sim.routines import LocalClock, Routine
from clipwarden.sim.world import Home

# Idle before the first event of a window: 5 s of pre-capture, and a still background for the motion
# detector to start from.
LEAD_S = 7
# Idle after the last event: a clip starts 5 s before the motion it caught and lasts at least 20 s, so
# an event of 3 s or more needs 12 s after it, and the recorder's post-capture is 8 s; one to spare.
TAIL_S = 16
MAX_WINDOW_S = 180  # proposals that would grow a window beyond this are dropped


@dataclass(frozen=True)
class KindSpec:
    label: Label
    seconds: tuple[float, float]  # how long one is visible in one view
    # Lower goes first when proposals compete for time at a camera: rare events and state changes (a lamp
    # switched on lights every later window) must never be crowded out by a passing cat.
    priority: int
    sensitive: bool = False


KINDS: dict[str, KindSpec] = {
    "intruder": KindSpec("intruder", (20.0, 60.0), 0),
    "private_scene": KindSpec("resident", (30.0, 60.0), 0, sensitive=True),
    "lights": KindSpec("environment", (3.0, 3.0), 0),
    "visitor": KindSpec("visitor", (15.0, 50.0), 1),
    "resident": KindSpec("resident", (6.0, 40.0), 2),
    "car": KindSpec("vehicle", (5.0, 25.0), 2),
    "cat": KindSpec("pet", (4.0, 25.0), 3),
    "dog": KindSpec("pet", (4.0, 25.0), 3),
    "sun_patch": KindSpec("environment", (20.0, 60.0), 4),
    "curtain": KindSpec("environment", (8.0, 40.0), 4),
    "rain": KindSpec("environment", (10.0, 45.0), 4),
    "insect": KindSpec("environment", (3.0, 15.0), 4),
    "tree": KindSpec("environment", (8.0, 30.0), 4),
}

# What a lights event switches the camera's lamp to (planner.LampTimeline reads it).
LAMP_LEVELS: dict[str, float] = {"on": 1.0, "dim": 0.45, "off": 0.0}


@dataclass(frozen=True)
class Part:
    """One view of one proposed occurrence."""

    camera_id: str
    kind: str
    start: float  # seconds since SimConfig.start
    duration: float
    actor: str  # appearance key: the same person or pet looks the same in every view
    variant: str = ""  # a hint for the renderer: "leave"/"arrive" at the door, "on"/"off"/"dim" for lights

    @property
    def end(self) -> float:
        return self.start + self.duration


Occurrence = tuple[Part, ...]


@dataclass(frozen=True)
class ScheduledEvent:
    """Something that happened in one camera's view: what the renderer draws and what truth reports."""

    id: str
    household_id: str
    camera_id: str
    kind: str
    start: float
    end: float
    actor: str
    variant: str = ""

    @property
    def label(self) -> Label:
        return KINDS[self.kind].label

    @property
    def sensitive(self) -> bool:
        return KINDS[self.kind].sensitive


@dataclass(frozen=True)
class SourceContext:
    """What an event source may look at for one household."""

    config: SimConfig
    home: Home
    clock: LocalClock
    routine: Routine
    lamps: dict[str, list[tuple[float, float]]]  # lit spans per indoor camera, from the routine
    intruders: int  # break-ins this household gets (spread over the fleet by fleet.py)
    private_scenes: int

    @property
    def earliest(self) -> float:
        """Events start late enough for a full lead-in and end early enough for a full tail."""
        return float(LEAD_S)

    @property
    def latest(self) -> float:
        return self.config.seconds - TAIL_S

    def within(self, spans: iv.Spans) -> iv.Spans:
        """The part of ``spans`` where events may happen (routines reach a day beyond the span)."""
        return iv.clip(spans, self.earliest, self.latest)

    def duration(self, kind: str, rng: np.random.Generator) -> float:
        lo, hi = KINDS[kind].seconds
        return float(rng.uniform(lo, hi))


EventSource = Callable[[SourceContext, np.random.Generator], Iterable[Occurrence]]
EVENT_SOURCES: dict[str, EventSource] = {}


def event_source(name: str) -> Callable[[EventSource], EventSource]:
    """Register a source; it gets its own random stream, so adding one leaves the others' events alone."""

    def register(source: EventSource) -> EventSource:
        EVENT_SOURCES[name] = source
        return source

    return register
