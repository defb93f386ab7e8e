"""Span algebra over simulated time (seconds since SimConfig.start): who is home, when it is dark, ...

A ``Spans`` value is a sorted list of disjoint half-open ``(start, end)`` pairs.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterable

import numpy as np

Span = tuple[float, float]
Spans = list[Span]


def normalise(spans: Iterable[Span]) -> Spans:
    """Sort, drop empty spans and merge the ones that overlap or touch."""
    out: Spans = []
    for lo, hi in sorted(s for s in spans if s[1] > s[0]):
        if out and lo <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], hi))
        else:
            out.append((lo, hi))
    return out


def union(*parts: Spans) -> Spans:
    return normalise(span for spans in parts for span in spans)


def intersect(a: Spans, b: Spans) -> Spans:
    out: Spans = []
    i = j = 0
    while i < len(a) and j < len(b):
        lo, hi = max(a[i][0], b[j][0]), min(a[i][1], b[j][1])
        if lo < hi:
            out.append((lo, hi))
        if a[i][1] < b[j][1]:
            i += 1
        else:
            j += 1
    return out


def complement(spans: Spans, lo: float, hi: float) -> Spans:
    out: Spans = []
    cursor = lo
    for start, end in spans:
        if start > cursor:
            out.append((cursor, min(start, hi)))
        cursor = max(cursor, end)
    if cursor < hi:
        out.append((cursor, hi))
    return [s for s in out if s[1] > s[0]]


def subtract(a: Spans, b: Spans) -> Spans:
    if not a:
        return []
    return intersect(a, complement(b, a[0][0], a[-1][1]))


def clip(spans: Spans, lo: float, hi: float) -> Spans:
    return intersect(spans, [(lo, hi)])


def drop_short(spans: Spans, min_length: float) -> Spans:
    return [s for s in spans if s[1] - s[0] >= min_length]


def fill_gaps(spans: Spans, max_gap: float) -> Spans:
    """Join spans separated by at most ``max_gap`` (a lamp is not switched off for two minutes)."""
    out: Spans = []
    for lo, hi in spans:
        if out and lo - out[-1][1] <= max_gap:
            out[-1] = (out[-1][0], hi)
        else:
            out.append((lo, hi))
    return out


def contains(spans: Spans, t: float) -> bool:
    i = bisect.bisect_right(spans, (t, float("inf"))) - 1
    return i >= 0 and spans[i][0] <= t < spans[i][1]


def total(spans: Spans) -> float:
    return sum(hi - lo for lo, hi in spans)


def random_times(rng: np.random.Generator, spans: Spans, per_hour: float) -> list[float]:
    """Times of a Poisson process with ``per_hour`` events an hour, running only inside ``spans``."""
    length = total(spans)
    count = int(rng.poisson(per_hour * length / 3600.0)) if length > 0 else 0
    return sorted(_at_offset(spans, float(u)) for u in rng.uniform(0.0, length, count))


def random_start(rng: np.random.Generator, spans: Spans, length: float) -> float | None:
    """A start time such that ``[start, start + length]`` fits inside one span, or None if none fits."""
    room = [(lo, hi - length) for lo, hi in spans if hi - lo >= length]
    if not room:
        return None
    width = total(room)
    return _at_offset(room, float(rng.uniform(0.0, width))) if width > 0 else room[0][0]


def _at_offset(spans: Spans, offset: float) -> float:
    for lo, hi in spans:
        if offset < hi - lo:
            return lo + offset
        offset -= hi - lo
    return spans[-1][1]
