"""The simulated days: the owners act and the reviewers work their sites' shifts on one simulated timeline.

Each step is an event at a moment of simulated time, and the events are carried out in time order, so that the
audit log is written in time order and the queue never offers a task that no owner has shared yet:

- the owners' actions and the tester intakes (``owner_run.Owners``);
- each site's shift (``sim.reviewers.SiteDefaults``: 09:00 to 17:00 local time): its start runs retention (a
  clip past its retention leaves the queue before anyone is offered it) and seats the site's reviewers; its end
  consolidates the answers so far, and the adjudications that queues go to whoever is on shift;
- a reviewer on shift asks for a task; with none, waits until one is queued (a share, a tester intake, an
  adjudication) or the next shift. A task in view is answered when the reviewer's time for it is up: an owner
  who withdraws meanwhile ends the lease, and the answer is refused;
- when the owners' days end, the closing shift: every site's reviewers work what is still queued until it is
  empty, consolidation's adjudications included, so that the period's labels can train the model.

At one instant, a shift's edge comes first, then the owners, then answers, then requests for work.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial

from clipwarden.pipeline.fleet_run import Progress
from clipwarden.pipeline.owner_run import OwnerRun, Owners
from clipwarden.pipeline.review_run import ReviewFloor, ReviewRun, Seat
from clipwarden.review import queue
from clipwarden.review.leases import ReviewSettings
from clipwarden.services import consolidation, retention
from clipwarden.sim import SimFleet
from clipwarden.sim.owners import OwnerAction, OwnerBehaviour
from clipwarden.sim.reviewers import SITE_DEFAULTS
from clipwarden.store import Store

SHIFT_EDGE, OWNER, ANSWER, ASK = range(4)  # the order of events at one instant


@dataclass
class Days:
    owners: OwnerRun
    review: ReviewRun
    expired: dict[str, int]  # clips_expired, consents_expired: by the sweeps at the shifts' starts


class _Events:
    """Events in time order; ties by kind, then by the order they were scheduled in (deterministic)."""

    def __init__(self) -> None:
        self._heap: list[tuple[datetime, int, int, Callable[[datetime], None]]] = []
        self._scheduled = 0

    def push(self, at: datetime, kind: int, step: Callable[[datetime], None]) -> None:
        heapq.heappush(self._heap, (at, kind, self._scheduled, step))
        self._scheduled += 1

    def pop(self) -> tuple[datetime, Callable[[datetime], None]]:
        at, _, _, step = heapq.heappop(self._heap)
        return at, step

    def __bool__(self) -> bool:
        return bool(self._heap)


def live_days(
    store: Store,
    fleet: SimFleet,
    clip_ids: list[str],
    behaviour: OwnerBehaviour,
    per_site: int,
    settings: ReviewSettings = ReviewSettings(),
    progress: Progress | None = None,
) -> Days:
    """The owners' and reviewers' days over the fleet's hours, then the closing shift; returns what they did."""
    start = fleet.config.start
    end = start + timedelta(hours=fleet.config.hours)
    owners = Owners(store, fleet, clip_ids, behaviour)
    with ReviewFloor(store, fleet, start, per_site, settings) as floor:
        days = _Timeline(store, owners, floor, progress)
        days.plan(start, end)
        days.run()
        days.close()
    return Days(owners.run, floor.run, days.expired)


class _Timeline:
    def __init__(self, store: Store, owners: Owners, floor: ReviewFloor, progress: Progress | None) -> None:
        self._store, self._owners, self._floor, self._progress = store, owners, floor, progress
        self._events = _Events()
        self._on_shift: set[str] = set()
        self._closing = False
        self._idle = set(range(len(floor.seats)))  # seats neither watching nor due to ask
        self._owner_steps = 0
        self.expired = {"clips_expired": 0, "consents_expired": 0}

    def plan(self, start: datetime, end: datetime) -> None:
        for at, action in self._owners.timeline:
            self._events.push(at, OWNER, partial(self._owner_acts, action=action))
        for site in sorted({seat.profile.site for seat in self._floor.seats}):
            for begins, ends in SITE_DEFAULTS[site].shifts(start, end):
                self._events.push(max(begins, start), SHIFT_EDGE, partial(self._shift_begins, site=site))
                if ends < end:
                    self._events.push(ends, SHIFT_EDGE, partial(self._shift_ends, site=site))
        self._events.push(end, SHIFT_EDGE, self._closing_shift)

    def run(self) -> None:
        while self._events:
            at, step = self._events.pop()
            self._floor.clock.now = at
            step(at)
        self._floor.run.finished_at = self._floor.clock.now

    def close(self) -> None:
        """After the closing shift's queue is empty: consolidate, and work the adjudications that queues until
        none is left (a clip is adjudicated once)."""
        while self._consolidate(self._floor.clock.now):
            self._wake(self._floor.clock.now)
            self.run()

    def _owner_acts(self, at: datetime, action: OwnerAction | str) -> None:
        queued = self._owners.queued()
        self._owners.act(at, action)
        self._owner_steps += 1
        if self._progress:
            self._progress("owners", self._owner_steps, len(self._owners.timeline))
        if self._owners.queued() > queued:
            self._wake(at)

    def _shift_begins(self, at: datetime, site: str) -> None:
        self._on_shift.add(site)
        self._floor.run.shifts += 1
        self._sweep(at)
        self._wake(at)

    def _shift_ends(self, at: datetime, site: str) -> None:
        self._on_shift.discard(site)
        if self._consolidate(at):
            self._wake(at)

    def _closing_shift(self, at: datetime) -> None:
        self._closing = True
        self._floor.run.shifts += 1
        self._sweep(at)
        self._wake(at)

    def _sweep(self, at: datetime) -> None:
        swept = retention.sweep(self._store, at)
        self.expired["clips_expired"] += len(swept["expired"])
        self.expired["consents_expired"] += len(swept["consents_expired"])

    def _consolidate(self, at: datetime) -> int:
        """Consolidate the answers so far; the number of adjudications it queued."""
        review = self._floor.run
        review.consolidation = consolidation.consolidate(self._store, at)
        review.adjudications += review.consolidation["adjudications_queued"]
        return int(review.consolidation["adjudications_queued"])

    def _working(self, seat: Seat) -> bool:
        return self._closing or seat.profile.site in self._on_shift

    def _wake(self, at: datetime) -> None:
        """Idle reviewers on shift ask for work now."""
        for index in sorted(self._idle):
            if self._working(self._floor.seats[index]):
                self._idle.discard(index)
                self._events.push(at, ASK, partial(self._ask, index=index))

    def _ask(self, at: datetime, index: int) -> None:
        seat = self._floor.seats[index]
        due = self._floor.take(seat) if self._working(seat) else None
        if due is None:
            self._idle.add(index)
            return
        self._report_views()
        self._events.push(due, ANSWER, partial(self._answer, index=index))

    def _answer(self, at: datetime, index: int) -> None:
        self._floor.send(self._floor.seats[index])
        self._events.push(at, ASK, partial(self._ask, index=index))

    def _report_views(self) -> None:
        if self._progress:
            views = self._floor.run.views
            with self._store.connect() as conn:
                self._progress("review", views, views + queue.answers_wanted(conn))
