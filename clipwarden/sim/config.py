"""SimConfig: every knob of a simulated fleet, with its default and its valid range in one place."""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime

from clipwarden.errors import ClipwardenError

_INT_RANGES: dict[str, tuple[int, int]] = {
    "households": (1, 10_000),
    "cameras_per_household": (1, 5),
    "width": (160, 3840),
    "height": (160, 3840),
    "fps": (1, 60),
}
_RATES = (
    "resident_rate",
    "pet_rate",
    "visitor_rate",
    "vehicle_rate",
    "environment_rate",
    "rain_chance",
    "intruder_rate",
    "private_scene_rate",
)


@dataclass(frozen=True)
class SimConfig:
    """What decides a simulated fleet. Equal configs give the same fleet, events and pixels."""

    seed: int = 7
    households: int = 4
    cameras_per_household: int = 2
    hours: float = 24.0
    # Fixed (a Monday) so that a seed alone reproduces a run.
    start: datetime = datetime(2026, 1, 5, tzinfo=UTC)
    width: int = 640
    height: int = 360
    fps: int = 10

    # Expected events per camera-hour of the time each kind can happen (clipwarden.sim.sources says when).
    resident_rate: float = 0.3  # indoor cameras, while someone is home and awake
    pet_rate: float = 0.3  # per pet; cats favour the night, dogs the day
    visitor_rate: float = 0.2  # entrance cameras, 08:00-20:00 local
    vehicle_rate: float = 0.2  # outdoor cameras, fewer at night
    environment_rate: float = 0.06  # per effect a camera can show: curtains, sun patches, insects, wind
    rain_chance: float = 0.35  # chance that a household gets a rain spell on a given local day
    # Rare events, per household-day. They are spread over the fleet by systematic sampling, so a fleet
    # whose expected count is 1.2 gets 1 or 2, never 0: small runs still contain them.
    intruder_rate: float = 0.5  # break-ins, only while the household is away
    private_scene_rate: float = 0.3  # placed in households with a bedroom camera

    def __post_init__(self) -> None:
        for name, (low, high) in _INT_RANGES.items():
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
                raise ClipwardenError(f"sim config: {name} must be an integer in {low}..{high}, got {value!r}")
        if isinstance(self.seed, bool) or not isinstance(self.seed, int) or self.seed < 0:
            raise ClipwardenError(f"sim config: seed must be a non-negative integer, got {self.seed!r}")
        for name in ("width", "height"):
            if getattr(self, name) % 2:
                raise ClipwardenError(f"sim config: {name} must be even (H.264 4:2:0), got {getattr(self, name)}")
        if not _finite(self.hours) or not 0 < self.hours <= 24 * 31:
            raise ClipwardenError(f"sim config: hours must be in (0, {24 * 31}], got {self.hours!r}")
        if not isinstance(self.start, datetime) or self.start.tzinfo is None:
            raise ClipwardenError(f"sim config: start must be a timezone-aware datetime, got {self.start!r}")
        object.__setattr__(self, "start", self.start.astimezone(UTC))
        for name in _RATES:
            value = getattr(self, name)
            if not _finite(value) or value < 0:
                raise ClipwardenError(f"sim config: {name} must be a finite number >= 0, got {value!r}")
        if self.rain_chance > 1:
            raise ClipwardenError(f"sim config: rain_chance is a probability, got {self.rain_chance!r}")

    @property
    def seconds(self) -> float:
        """Length of the simulated span."""
        return self.hours * 3600.0


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
