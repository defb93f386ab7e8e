"""Plain data shared by every stage of the pipeline.

These are the facts a real deployment would hold about its accounts and devices: what an owner
registered, how a camera is configured, and what the owner's app reported. Nothing here is ground
truth about what happened in front of a camera; that stays inside ``clipwarden.sim``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Jurisdiction = Literal["US", "EU", "IN"]
JURISDICTIONS: tuple[Jurisdiction, ...] = ("US", "EU", "IN")

Placement = Literal["entrance", "living_room", "kitchen", "bedroom", "backyard"]
PLACEMENTS: tuple[Placement, ...] = ("entrance", "living_room", "kitchen", "bedroom", "backyard")
OUTDOOR_PLACEMENTS: frozenset[str] = frozenset({"entrance", "backyard"})

# CONTRACT: labels with fixed meanings.
Label = Literal["intruder", "resident", "visitor", "pet", "vehicle", "environment", "no_event"]
LABELS: tuple[Label, ...] = ("intruder", "resident", "visitor", "pet", "vehicle", "environment", "no_event")

Mode = Literal["home", "away"]

# A polygon in coordinates normalised to the frame (0..1 on both axes), so that one camera
# configuration holds at any resolution.
Zone = tuple[tuple[float, float], ...]

# Retention of stored clips by subscription plan. The free tier keeps 24 hours (the reported figure).
PLAN_RETENTION_HOURS: dict[str, int] = {"free": 24, "plus": 30 * 24, "pro": 60 * 24}


@dataclass(frozen=True)
class Household:
    id: str
    jurisdiction: Jurisdiction
    plan: str = "free"
    # Personal data the pipeline holds for the account; reviewers must never see it (DESIGN invariant 4).
    owner_name: str = ""
    address: str = ""

    @property
    def retention_hours(self) -> int:
        return PLAN_RETENTION_HOURS[self.plan]


@dataclass(frozen=True)
class Camera:
    id: str
    household_id: str
    name: str
    placement: Placement
    width: int = 640
    height: int = 360
    fps: int = 10
    # Areas the motion detector ignores (a tree, a road); pixels are still recorded.
    motion_masks: tuple[Zone, ...] = field(default_factory=tuple)
    # Areas blacked out in the pixels before anything leaves the camera (a neighbour's window).
    privacy_zones: tuple[Zone, ...] = field(default_factory=tuple)

    @property
    def outdoor(self) -> bool:
        return self.placement in OUTDOOR_PLACEMENTS


@dataclass(frozen=True)
class ModeChange:
    """The owner's app switched the household between home and away (geofence or by hand)."""

    household_id: str
    at: datetime
    mode: Mode


@dataclass(frozen=True)
class RecordedClip:
    """One motion-triggered recording as the camera uploads it: an MP4 file and what it says of itself."""

    camera_id: str
    started_at: datetime  # timezone-aware UTC, time of the first frame
    duration_s: float
    width: int
    height: int
    fps: int
    codec: str  # "h264"
    data: bytes  # the MP4 file, privacy zones already black


@dataclass(frozen=True)
class AiVerdict:
    """The camera AI's reading of a clip, made from its pixels and the household's mode."""

    label: Label
    alert: bool  # a person while the household is away
    confidence: float  # 0..1
    model_id: str | None = None  # the learned model that made it; None: the rules
