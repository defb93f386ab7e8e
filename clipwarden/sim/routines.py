"""Daily life over simulated time: each occupant's sleep and away periods, the household's home/away
spans that the owner's app reports, and local daylight.

Times are seconds since SimConfig.start (UTC); households live in their own local time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from clipwarden.domain import Jurisdiction, Mode, ModeChange
from clipwarden.sim import intervals as iv
from clipwarden.sim.intervals import Spans
from clipwarden.sim.world import Home, Occupant

DAY = 86400.0
HOUR = 3600.0

# Local sunrise and sunset in early January (the default start), hours. Rough, but north vs south shows.
SUN: dict[Jurisdiction, tuple[float, float]] = {"US": (7.2, 17.1), "EU": (8.0, 16.7), "IN": (7.0, 18.0)}
TWILIGHT_H = 0.75


@dataclass(frozen=True)
class LocalClock:
    start: datetime  # UTC
    utc_offset_h: float
    horizon: float  # seconds simulated

    def local_hour(self, t: float) -> float:
        local = self.start + timedelta(hours=self.utc_offset_h, seconds=t)
        return local.hour + local.minute / 60 + (local.second + local.microsecond / 1e6) / 3600

    def days(self) -> list[tuple[float, int]]:
        """(time of local midnight, weekday) for every local day touching the span, plus one either side."""
        local = self.start + timedelta(hours=self.utc_offset_h)
        midnight = -(local - local.replace(hour=0, minute=0, second=0, microsecond=0)).total_seconds()
        count = math.ceil((self.horizon - midnight) / DAY) + 1
        return [(midnight + k * DAY, (local.weekday() + k) % 7) for k in range(-1, count + 1)]

    def hours(self, lo_h: float, hi_h: float) -> Spans:
        """Spans when the local hour is in [lo_h, hi_h); hi_h above 24 reaches into the next day."""
        return iv.normalise((m + lo_h * HOUR, m + hi_h * HOUR) for m, _ in self.days())


def daylight(hour: float, jurisdiction: Jurisdiction) -> float:
    """0 at night, 1 in full day, a smooth ramp through twilight."""
    sunrise, sunset = SUN[jurisdiction]
    up = (hour - sunrise + TWILIGHT_H / 2) / TWILIGHT_H
    down = (sunset + TWILIGHT_H / 2 - hour) / TWILIGHT_H
    x = min(1.0, max(0.0, min(up, down)))
    return x * x * (3 - 2 * x)


@dataclass(frozen=True)
class Routine:
    away: dict[str, Spans]  # per occupant key
    awake_home: dict[str, Spans]  # per occupant key: home and awake
    household_away: Spans  # nobody home: what the geofence reports as "away"
    anyone_awake: Spans  # someone home and awake
    dark: Spans  # local night, between dusk and dawn

    def awake_at(self, t: float) -> list[str]:
        return [key for key, spans in self.awake_home.items() if iv.contains(spans, t)]

    def mode_changes(self, household_id: str, start: datetime, horizon: float) -> list[ModeChange]:
        """The mode at the start of the span, then every switch inside it."""
        changes = [ModeChange(household_id, start, "away" if iv.contains(self.household_away, 0.0) else "home")]
        for lo, hi in self.household_away:
            switches: tuple[tuple[float, Mode], ...] = ((lo, "away"), (hi, "home"))
            for at, mode in switches:
                if 0.0 < at < horizon:
                    changes.append(ModeChange(household_id, start + timedelta(seconds=at), mode))
        return changes


def build_routine(home: Home, clock: LocalClock, rng: np.random.Generator) -> Routine:
    days = clock.days()
    away: dict[str, Spans] = {}
    asleep: dict[str, Spans] = {}
    for occupant in home.occupants:
        away[occupant.key], asleep[occupant.key] = _occupant_days(occupant, days, rng)
    lo, hi = days[0][0], days[-1][0] + DAY
    awake_home = {k: iv.complement(iv.union(away[k], asleep[k]), lo, hi) for k in away}
    household_away = away[home.occupants[0].key]
    for spans in away.values():
        household_away = iv.intersect(household_away, spans)
    sunrise, sunset = SUN[home.household.jurisdiction]
    return Routine(
        away=away,
        awake_home=awake_home,
        household_away=iv.drop_short(household_away, 5 * 60),
        anyone_awake=iv.union(*awake_home.values()),
        dark=clock.hours(sunset, sunrise + 24),
    )


def _occupant_days(occupant: Occupant, days: list[tuple[float, int]], rng: np.random.Generator) -> tuple[Spans, Spans]:
    """Away and asleep spans of one occupant, drawn day by day."""
    away: Spans = []
    beds: list[float] = []
    wakes: list[float] = []
    for midnight, weekday in days:
        weekend = weekday >= 5

        def at(lo_h: float, hi_h: float, m: float = midnight) -> float:
            return m + float(rng.uniform(lo_h, hi_h)) * HOUR

        wakes.append(at(6.0, 7.5) + (1.5 * HOUR if weekend else 0.0))
        bed = at(20.5, 21.5) if not occupant.adult else at(22.0, 24.5)
        if not weekend and occupant.role == "worker":
            away.append((at(7.5, 9.0), at(16.5, 19.0)))
        elif not weekend and occupant.role == "student":
            away.append((at(7.4, 8.2), at(14.5, 16.5)))
        elif rng.random() < 0.6:
            out = at(9.5, 17.0)
            away.append((out, out + float(rng.uniform(0.75, 3.0)) * HOUR))
        if occupant.adult and rng.random() < 0.15:
            out = at(19.0, 20.5)
            back = out + float(rng.uniform(1.5, 3.0)) * HOUR
            away.append((out, back))
            bed = max(bed, back + 0.5 * HOUR)
        beds.append(bed)
    asleep = iv.normalise(zip(beds, wakes[1:], strict=False))
    return iv.subtract(iv.normalise(away), asleep), asleep
