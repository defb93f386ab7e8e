"""SimFleet: the simulated households and cameras, and everything that happens to them.

build_fleet is cheap: it creates households and cameras only. A household's schedule (routine, events,
windows) is planned the first time something asks about it, and pixels only when a window is rendered.
"""

from __future__ import annotations

import math
from collections.abc import Iterator

import numpy as np

from clipwarden.domain import Camera, Household, ModeChange
from clipwarden.errors import NotFound
from clipwarden.sim.config import SimConfig
from clipwarden.sim.planner import ActivityWindow, HouseholdPlan, plan_household
from clipwarden.sim.render import Stage, WindowJob, lighting_for, render_window
from clipwarden.sim.routines import daylight
from clipwarden.sim.seeding import rng_for
from clipwarden.sim.truth import TruthEvent
from clipwarden.sim.world import Home, build_homes


class SimFleet:
    """Households and cameras (what the pipeline knows), their activity windows and frames (what it sees),
    the owners' mode changes (what their apps report), and ground truth (for evaluation only)."""

    def __init__(self, config: SimConfig, homes: list[Home]) -> None:
        self.config = config
        self.households: list[Household] = [h.household for h in homes]
        self.cameras: list[Camera] = [c for h in homes for c in h.cameras]
        self._homes = {h.household.id: h for h in homes}
        self._home_of_camera = {c.id: h for h in homes for c in h.cameras}
        self._rare = _spread_rare_events(config, homes)
        self._plans: dict[str, HouseholdPlan] = {}

    def mode_changes(self) -> list[ModeChange]:
        """Home/away switches as the owners' apps report them, each household's mode at start first."""
        changes = [m for hid in self._homes for m in self._plan(hid).mode_changes]
        return sorted(changes, key=lambda m: (m.at, m.household_id))

    def windows(self, camera_id: str | None = None) -> list[ActivityWindow]:
        """The spans worth rendering, sorted by (start, camera_id)."""
        if camera_id is None:
            found = [w for hid in self._homes for w in self._plan(hid).windows]
        else:
            found = [w for w in self._plan(self._home(camera_id).household.id).windows if w.camera_id == camera_id]
        return sorted(found, key=lambda w: (w.start, w.camera_id))

    def truth(self) -> list[TruthEvent]:
        """What really happened. For evaluation code only; the pipeline never reads it."""
        events = [TruthEvent.of(e, self.config.start) for hid in self._homes for e in self._plan(hid).events]
        return sorted(events, key=lambda e: (e.start, e.camera_id, e.id))

    def render(self, window: ActivityWindow) -> Iterator[np.ndarray]:
        """Exactly window.n_frames BGR frames; each one a new array. Deterministic per (config, window.id)."""
        home = self._home(window.camera_id)
        plan = self._plan(home.household.id)
        if next((w for w in plan.windows if w.id == window.id), None) != window:
            raise NotFound(f"no activity window {window.id!r} in this fleet")
        camera = next(c for c in home.cameras if c.id == window.camera_id)
        cfg = self.config
        start_s = (window.start - cfg.start).total_seconds()
        end_s = start_s + window.n_frames / cfg.fps
        light = daylight(plan.clock.local_hour(start_s), home.household.jurisdiction)
        lamp = plan.lamps.get(camera.id)
        # Daylight is held for the window (it changes over minutes); lamps switch inside it.
        changes = [(start_s, lamp.level_at(start_s) if lamp else 0.0)]
        if lamp:
            changes += [(at, level) for at, level in lamp.switches if start_s < at < end_s]
        job = WindowJob(
            window_id=window.id,
            start_s=start_s,
            n_frames=window.n_frames,
            stage=Stage(cfg.width, cfg.height, cfg.fps, cfg.seed, camera.id, home.layouts[camera.id]),
            lighting=tuple((at, lighting_for(camera.outdoor, light, level)) for at, level in changes),
            events=plan.window_events[window.id],
        )
        return render_window(job)

    def _home(self, camera_id: str) -> Home:
        try:
            return self._home_of_camera[camera_id]
        except KeyError:
            raise NotFound(f"no camera {camera_id!r} in this fleet") from None

    def _plan(self, household_id: str) -> HouseholdPlan:
        plan = self._plans.get(household_id)
        if plan is None:
            intruders, private_scenes = self._rare[household_id]
            plan = plan_household(self.config, self._homes[household_id], intruders, private_scenes)
            self._plans[household_id] = plan
        return plan


def build_fleet(config: SimConfig) -> SimFleet:
    """The fleet for ``config``: the same config always gives the same fleet."""
    return SimFleet(config, build_homes(config))


def _spread_rare_events(config: SimConfig, homes: list[Home]) -> dict[str, tuple[int, int]]:
    """How many break-ins and private scenes each household gets.

    Systematic sampling over the fleet: the fleet total is the expected count rounded up or down at random,
    so a 4-household day with 1.2 expected private scenes has 1 or 2, and never all in one household.
    """
    days = config.hours / 24.0
    rng = rng_for(config.seed, "rare events")
    intruders = _systematic(config.intruder_rate * days * len(homes), len(homes), float(rng.random()))
    eligible = [h.household.id for h in homes if h.cameras_at("bedroom")]
    scenes = _systematic(config.private_scene_rate * days * len(homes), len(eligible), float(rng.random()))
    per_eligible = dict(zip(eligible, scenes, strict=True))
    return {h.household.id: (intruders[i], per_eligible.get(h.household.id, 0)) for i, h in enumerate(homes)}


def _systematic(expected: float, buckets: int, u: float) -> list[int]:
    step = expected / buckets if buckets else 0.0
    return [math.floor((i + 1) * step + u) - math.floor(i * step + u) for i in range(buckets)]
