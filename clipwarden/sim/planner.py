"""From proposals to a household's schedule: which events happen, and the activity windows around them.

Proposals are taken in priority order; each one joins the windows it touches or opens new ones, and is
dropped whole if that would stretch a window past MAX_WINDOW_S. A window is its events padded with
LEAD_S of idle before and TAIL_S after; windows of one camera never overlap.
"""

from __future__ import annotations

import bisect
import math
from collections import defaultdict
from dataclasses import dataclass
from datetime import datetime, timedelta

from clipwarden.domain import ModeChange
from clipwarden.sim import intervals as iv
from clipwarden.sim import sources  # noqa: F401  (registers the built-in event sources)
from clipwarden.sim.config import SimConfig
from clipwarden.sim.events import (
    EVENT_SOURCES,
    KINDS,
    LAMP_LEVELS,
    LEAD_S,
    MAX_WINDOW_S,
    TAIL_S,
    Occurrence,
    Part,
    ScheduledEvent,
    SourceContext,
)
from clipwarden.sim.routines import LocalClock, Routine, build_routine
from clipwarden.sim.seeding import rng_for
from clipwarden.sim.world import Home

LAMP_ROOMS = ("living_room", "kitchen")


@dataclass(frozen=True)
class ActivityWindow:
    """A span of one camera's time worth rendering: events plus idle lead-in and tail."""

    id: str
    camera_id: str
    start: datetime  # UTC, time of the first frame
    n_frames: int  # frames at the camera's fps


@dataclass(frozen=True)
class LampTimeline:
    """A camera's lamp level over time: where it stood at the start, then every switch."""

    initial: float
    switches: tuple[tuple[float, float], ...]  # (time, level), in time order

    def level_at(self, t: float) -> float:
        i = bisect.bisect_right([at for at, _ in self.switches], t)
        return self.switches[i - 1][1] if i else self.initial


@dataclass(frozen=True)
class HouseholdPlan:
    clock: LocalClock
    events: tuple[ScheduledEvent, ...]
    windows: tuple[ActivityWindow, ...]
    window_events: dict[str, tuple[ScheduledEvent, ...]]  # by window id
    lamps: dict[str, LampTimeline]  # by camera id
    mode_changes: tuple[ModeChange, ...]


@dataclass(frozen=True)
class _Cluster:
    lo: int
    hi: int
    parts: tuple[Part, ...]


def plan_household(config: SimConfig, home: Home, intruders: int, private_scenes: int) -> HouseholdPlan:
    hid = home.household.id
    clock = LocalClock(config.start, home.utc_offset_h, config.seconds)
    routine = build_routine(home, clock, rng_for(config.seed, "routine", hid))
    lamps = _lamp_spans(config, home, routine)
    ctx = SourceContext(config, home, clock, routine, lamps, intruders, private_scenes)
    proposals = [
        occurrence
        for name, source in EVENT_SOURCES.items()
        for occurrence in source(ctx, rng_for(config.seed, "source", name, hid))
    ]
    clusters = _resolve(proposals, ctx.earliest, ctx.latest)
    events: list[ScheduledEvent] = []
    windows: list[ActivityWindow] = []
    window_events: dict[str, tuple[ScheduledEvent, ...]] = {}
    for camera in home.cameras:
        numbered = _number(hid, camera.id, clusters.get(camera.id, []))
        for n, cluster in enumerate(clusters.get(camera.id, [])):
            window = ActivityWindow(
                id=f"{camera.id}/w{n:04d}",
                camera_id=camera.id,
                start=config.start + timedelta(seconds=cluster.lo),
                n_frames=(cluster.hi - cluster.lo) * config.fps,
            )
            windows.append(window)
            window_events[window.id] = tuple(sorted((numbered[p] for p in cluster.parts), key=lambda e: e.start))
        events.extend(numbered.values())
    return HouseholdPlan(
        clock=clock,
        events=tuple(sorted(events, key=lambda e: (e.start, e.camera_id))),
        windows=tuple(windows),
        window_events=window_events,
        lamps={
            c.id: _lamp_timeline(lamps.get(c.id, []), [e for e in events if e.camera_id == c.id])
            for c in home.cameras
            if not c.outdoor
        },
        mode_changes=tuple(routine.mode_changes(hid, config.start, config.seconds)),
    )


def _lamp_spans(config: SimConfig, home: Home, routine: Routine) -> dict[str, iv.Spans]:
    """When each living room and kitchen lamp is on: someone is up and it is dark outside.

    Switches too close to either end of the span are moved past it, so that every switch the renderer
    shows is also an event with its own lead-in and tail.
    """
    base = iv.drop_short(iv.fill_gaps(iv.intersect(routine.anyone_awake, routine.dark), 15 * 60), 10 * 60)
    lo_limit, hi_limit = LEAD_S, config.seconds - TAIL_S - 3
    out: dict[str, iv.Spans] = {}
    for camera in home.cameras_at(*LAMP_ROOMS):
        rng = rng_for(config.seed, "lamp", camera.id)
        spans = []
        for lo, hi in base:
            on, off = lo + float(rng.uniform(0, 600)), hi - float(rng.uniform(0, 600))
            on = min(on, 0.0) if on < lo_limit else on
            off = max(off, config.seconds) if off > hi_limit else off
            spans.append((on, off))
        out[camera.id] = iv.drop_short(iv.clip(iv.normalise(spans), -1.0, config.seconds + 1.0), 60)
    return out


def _lamp_timeline(spans: iv.Spans, events: list[ScheduledEvent]) -> LampTimeline:
    switches = tuple(
        (e.start, LAMP_LEVELS[e.variant]) for e in sorted(events, key=lambda e: e.start) if e.kind == "lights"
    )
    return LampTimeline(1.0 if iv.contains(spans, 0.0) else 0.0, switches)


def _order(occurrence: Occurrence) -> tuple[int, float, str, str]:
    first = occurrence[0]
    return (min(KINDS[p.kind].priority for p in occurrence), first.start, first.camera_id, first.kind)


def _resolve(proposals: list[Occurrence], earliest: float, latest: float) -> dict[str, list[_Cluster]]:
    """Accept proposals in priority order; returns each camera's windows (as clusters) in time order."""
    clusters: dict[str, list[_Cluster]] = defaultdict(list)
    for occurrence in sorted(proposals, key=_order):
        if any(p.start < earliest or p.end > latest for p in occurrence):
            continue
        updated = {}
        for camera_id in {p.camera_id for p in occurrence}:
            fresh = [_cluster(p) for p in occurrence if p.camera_id == camera_id]
            merged = _insert(clusters[camera_id], fresh)
            if merged is None:
                break
            updated[camera_id] = merged
        else:
            clusters.update(updated)
    return clusters


def _cluster(part: Part) -> _Cluster:
    return _Cluster(math.floor(part.start - LEAD_S), math.ceil(part.end + TAIL_S), (part,))


def _insert(existing: list[_Cluster], fresh: list[_Cluster]) -> list[_Cluster] | None:
    """``existing`` with ``fresh`` merged in, or None if a window would grow past MAX_WINDOW_S."""
    lo, hi = min(c.lo for c in fresh), max(c.hi for c in fresh)
    # Only clusters that can touch [lo, hi) take part; the rest stay as they are.
    first = bisect.bisect_right([c.hi for c in existing], lo)
    last = bisect.bisect_left([c.lo for c in existing], hi)
    merged: list[_Cluster] = []
    for c in sorted([*existing[first:last], *fresh], key=lambda c: c.lo):
        if merged and c.lo < merged[-1].hi:
            top = merged[-1]
            merged[-1] = _Cluster(top.lo, max(top.hi, c.hi), top.parts + c.parts)
        else:
            merged.append(c)
    if any(c.hi - c.lo > MAX_WINDOW_S for c in merged):
        return None
    return existing[:first] + merged + existing[last:]


def _number(household_id: str, camera_id: str, clusters: list[_Cluster]) -> dict[Part, ScheduledEvent]:
    """Give a camera's events ids in time order, keyed by the part each came from."""
    parts = sorted((p for c in clusters for p in c.parts), key=lambda p: (p.start, p.kind, p.actor))
    return {
        p: ScheduledEvent(
            id=f"{camera_id}/e{n:04d}",
            household_id=household_id,
            camera_id=camera_id,
            kind=p.kind,
            start=p.start,
            end=p.end,
            actor=p.actor,
            variant=p.variant,
        )
        for n, p in enumerate(parts)
    }
