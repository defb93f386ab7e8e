"""Ground truth: what really happened in front of each camera. Evaluation code only (DESIGN invariant 7).

The pipeline must never import this module; it sees pixels and mode changes, like a real backend.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from clipwarden.sim.events import ScheduledEvent


@dataclass(frozen=True)
class TruthEvent:
    id: str
    household_id: str
    camera_id: str
    label: str  # one of clipwarden.domain.LABELS except "no_event"
    kind: str  # finer: "cat", "car", "lights", "private_scene", ... (clipwarden.sim.events.KINDS)
    start: datetime  # when it is visible or moving in that camera's view, UTC
    end: datetime
    sensitive: bool  # intimate footage that must never reach a reviewer

    @classmethod
    def of(cls, event: ScheduledEvent, origin: datetime) -> TruthEvent:
        return cls(
            id=event.id,
            household_id=event.household_id,
            camera_id=event.camera_id,
            label=event.label,
            kind=event.kind,
            start=origin + timedelta(seconds=event.start),
            end=origin + timedelta(seconds=event.end),
            sensitive=event.sensitive,
        )


# When several things happen in one clip, the clip's true label is the one that matters most to an owner.
TRUTH_PRIORITY: tuple[str, ...] = ("intruder", "visitor", "resident", "vehicle", "pet", "environment")


def seen_in(camera_id: str, start: datetime, end: datetime, events: Sequence[TruthEvent]) -> tuple[str, bool]:
    """What really happened in that camera's view between ``start`` and ``end``: the label that matters
    most ("no_event" if nothing), and whether any of it was a private scene."""
    seen = [e for e in events if e.camera_id == camera_id and e.start < end and start < e.end]
    if not seen:
        return "no_event", False
    labels = {e.label for e in seen}
    return next(name for name in TRUTH_PRIORITY if name in labels), any(e.sensitive for e in seen)
