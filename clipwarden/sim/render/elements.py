"""Scene elements: the registry that maps an event kind to the thing that draws it.

An element is made once per event and window, from the event and a random stream keyed by the event's
id, so it draws the same pixels whichever window or process renders it. Register a new kind with
``@element("kind")`` (and give it a KindSpec in clipwarden.sim.events).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable
from typing import TypeVar

import numpy as np

from clipwarden.errors import ClipwardenError
from clipwarden.sim.events import ScheduledEvent
from clipwarden.sim.render.lighting import Look
from clipwarden.sim.render.stage import Stage
from clipwarden.sim.seeding import rng_for


class Element(ABC):
    """One thing that moves in view during one event."""

    def __init__(self, event: ScheduledEvent, stage: Stage, rng: np.random.Generator) -> None:
        self.event = event
        self.stage = stage
        self.duration = event.end - event.start

    @abstractmethod
    def draw(self, frame: np.ndarray, tau: float, look: Look) -> None:
        """Draw into ``frame`` as seen ``tau`` seconds into the event (0 <= tau < duration)."""


E = TypeVar("E", bound=type[Element])
ELEMENTS: dict[str, type[Element]] = {}


def element(*kinds: str) -> Callable[[E], E]:
    def register(cls: E) -> E:
        for kind in kinds:
            ELEMENTS[kind] = cls
        return cls

    return register


def make_element(event: ScheduledEvent, stage: Stage) -> Element:
    cls = ELEMENTS.get(event.kind)
    if cls is None:
        raise ClipwardenError(f"no scene element is registered for event kind {event.kind!r}")
    return cls(event, stage, rng_for(stage.seed, "element", event.id))
