"""Refusals of requests that bring no valid credential: counted, not logged one by one, and throttled.

Anyone can send such requests, so an audit entry for each would let anyone grow the log without limit.
Instead each source (client address) has its refusals counted per interval, and every interval that saw
any becomes one audit entry (written by the caller: this module does no I/O). A source past its allowance
in an interval is answered 429 until the interval ends; those answers are counted too, so nothing is lost.
Memory stays bounded: past ``max_sources`` sources in one interval, the rest share one count, ``OTHERS``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from clipwarden.times import iso_utc

OTHERS = "*"  # the sources counted together once an interval has seen max_sources of them


@dataclass(frozen=True)
class Allowance:
    """How many refusals without a credential a source gets per interval before it is answered 429."""

    interval: timedelta = timedelta(minutes=1)
    refusals: int = 20  # a person who mistyped a password, or a script with a stale token, stays well under
    max_sources: int = 1024  # the most sources counted apart in one interval; bounds memory and entry size


@dataclass(frozen=True)
class IntervalCount:
    """One interval's refusals: per source, how many were answered with their own status, and how many 429."""

    start: datetime
    end: datetime
    sources: dict[str, tuple[int, int]]  # source -> (refused, throttled)

    def entry(self) -> dict[str, Any]:
        """The audit entry's fields."""
        return {
            "from": iso_utc(self.start),
            "until": iso_utc(self.end),
            "sources": {
                source: {"refused": refused, "throttled": throttled}
                for source, (refused, throttled) in sorted(self.sources.items())
            },
        }


@dataclass(frozen=True)
class Counted:
    """What one refusal comes to: whether to answer 429 (and for how long), and an ended interval to log."""

    retry_after_s: int | None
    ended: IntervalCount | None


@dataclass
class RefusalCounter:
    """Counts refusals without a credential per source in fixed intervals (aligned to the epoch)."""

    allowance: Allowance = field(default_factory=Allowance)
    _start: datetime | None = None
    _sources: dict[str, tuple[int, int]] = field(default_factory=dict)

    def count(self, source: str, at: datetime) -> Counted:
        """Count one refusal of ``source`` at ``at``."""
        ended = self.take_ended(at)
        if self._start is None:
            self._start = self._interval_start(at)
        key = self._key(source)
        refused, throttled = self._sources.get(key, (0, 0))
        if refused < self.allowance.refusals:
            self._sources[key] = (refused + 1, throttled)
            return Counted(None, ended)
        self._sources[key] = (refused, throttled + 1)
        wait = (self._start + self.allowance.interval - at).total_seconds()
        return Counted(max(1, math.ceil(wait)), ended)

    def over_allowance(self, source: str, at: datetime) -> bool:
        """Whether a refusal of ``source`` at ``at`` would be answered 429; counts nothing."""
        if self._start is None or at >= self._start + self.allowance.interval:
            return False
        return self._sources.get(self._key(source), (0, 0))[0] >= self.allowance.refusals

    def take_ended(self, at: datetime) -> IntervalCount | None:
        """The counts of the interval under way, taken out, if it has ended by ``at``."""
        if self._start is None or at < self._start + self.allowance.interval:
            return None
        return self.take_all()

    def take_all(self) -> IntervalCount | None:
        """Every count held, taken out (at shutdown); None if there is none."""
        if self._start is None:
            return None
        counted = IntervalCount(self._start, self._start + self.allowance.interval, self._sources)
        self._start, self._sources = None, {}
        return counted

    def _key(self, source: str) -> str:
        known = source in self._sources or len(self._sources) < self.allowance.max_sources
        return source if known else OTHERS

    def _interval_start(self, at: datetime) -> datetime:
        length = self.allowance.interval.total_seconds()
        return datetime.fromtimestamp(at.timestamp() // length * length, UTC)
