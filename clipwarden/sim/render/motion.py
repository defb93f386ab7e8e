"""Routes: where a figure is at each moment of its event, fitted exactly to the event's duration.

A route is a start point and stops; each stop is reached by walking (or running, or jumping) and then
held for a while in a pose. Speeds are scaled so the route takes exactly the event's duration, which
keeps pixels consistent with the schedule that truth reports.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Stop:
    x: float  # pixels
    y: float
    dwell: float = 0.0  # seconds held here
    pose: str = "stand"  # while held: "stand", "sit", "crouch", "reach"
    pace: float = 1.0  # relative speed of the leg that leads here
    hop: float = 0.0  # height in pixels of a jump on the way here (a cat onto the sofa)
    facing: float | None = None  # while held; None keeps the direction of arrival


@dataclass(frozen=True)
class Where:
    x: float
    y: float
    moving: bool
    facing: float
    pose: str
    walked: float  # seconds spent moving so far: drives the gait phase
    speed: float  # relative pace of the current leg


@dataclass(frozen=True)
class _Segment:
    t0: float
    t1: float
    x0: float
    y0: float
    x1: float
    y1: float
    moving: bool
    facing: float
    pose: str
    hop: float
    pace: float
    walked0: float


class Route:
    def __init__(
        self, start: tuple[float, float], stops: Sequence[Stop], duration: float, min_moving: float = 0.3
    ) -> None:
        dwell = sum(s.dwell for s in stops)
        effort = 0.0
        x, y = start
        for s in stops:
            effort += math.hypot(s.x - x, s.y - y) / s.pace
            x, y = s.x, s.y
        # Hold times give way if the walking would not fit: the event's duration is fixed.
        room = duration * (1.0 - min_moving) if effort > 0 else duration
        dwell_scale = min(1.0, room / dwell) if dwell > 0 else 1.0
        moving_time = duration - dwell * dwell_scale
        self._segments: list[_Segment] = []
        t, walked, facing = 0.0, 0.0, 1.0
        x, y = start
        for s in stops:
            length = math.hypot(s.x - x, s.y - y)
            leg = moving_time * (length / s.pace) / effort if effort > 0 else 0.0
            if leg > 0:
                if abs(s.x - x) > 0.4 * abs(s.y - y):
                    facing = 1.0 if s.x > x else -1.0
                elif abs(s.y - y) > 0:
                    facing = 0.0
                self._segments.append(_Segment(t, t + leg, x, y, s.x, s.y, True, facing, "walk", s.hop, s.pace, walked))
                t, walked = t + leg, walked + leg
            hold = s.dwell * dwell_scale
            if hold > 0:
                held = facing if s.facing is None else s.facing
                self._segments.append(_Segment(t, t + hold, s.x, s.y, s.x, s.y, False, held, s.pose, 0.0, 0.0, walked))
                t += hold
            x, y = s.x, s.y
        if not self._segments:
            self._segments.append(_Segment(0.0, duration, x, y, x, y, False, facing, "stand", 0.0, 0.0, 0.0))
        self._starts = [s.t0 for s in self._segments]

    def at(self, tau: float) -> Where:
        seg = self._segments[max(0, bisect.bisect_right(self._starts, tau) - 1)]
        if not seg.moving:
            return Where(seg.x0, seg.y0, False, seg.facing, seg.pose, seg.walked0, 0.0)
        f = min(1.0, max(0.0, (tau - seg.t0) / max(1e-9, seg.t1 - seg.t0)))
        lift = seg.hop * math.sin(math.pi * f)
        x, y = seg.x0 + (seg.x1 - seg.x0) * f, seg.y0 + (seg.y1 - seg.y0) * f - lift
        return Where(x, y, True, seg.facing, "walk", seg.walked0 + (tau - seg.t0), seg.pace)
