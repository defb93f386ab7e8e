"""Drive the simulated reviewers through the reviewer HTTP API, as a person's browser would.

The web app is served on a loopback port for the run; each simulated reviewer has an account at its site
and works with its bearer token: asks for the next task, downloads the rendition from the signed URL,
watches (the simulation's stand-in for watching is the clip's true scene, read in `sim.reviewers.Eyes`),
then submits a label or stops the view as private. Reviewers work in simulated time, each at their own
pace, one request at a time (a discrete-event loop); the app's clock is set to the reviewer's moment before
each request. After the queue is drained, the answers are consolidated, and a second pass answers the
adjudication tasks consolidation queued.
"""

from __future__ import annotations

import heapq
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import uvicorn
from sqlalchemy import select

from clipwarden.pipeline.fleet_run import Progress
from clipwarden.review import queue
from clipwarden.review.leases import ReviewSettings
from clipwarden.services import consolidation
from clipwarden.services.users import add_user
from clipwarden.sim import SimFleet
from clipwarden.sim.reviewers import Annotation, Eyes, ReviewerProfile, answer, build_reviewers
from clipwarden.sim.seeding import rng_for
from clipwarden.store import Store
from clipwarden.store.schema import clips, review_leases
from clipwarden.times import iso_utc
from clipwarden.web.app import create_app

ROUNDS = 2  # the first pass, then the adjudications it produced


@dataclass
class SimClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class ReviewRun:
    finished_at: datetime  # when the last reviewer finished, in simulated time
    reviewers: int = 0
    views: int = 0
    rendition_bytes: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)  # answered / flagged_private / lease_ended / refused
    consolidation: dict[str, Any] = field(default_factory=dict)  # the last round's
    adjudications: int = 0  # queued over all rounds

    def as_dict(self) -> dict[str, Any]:
        return {
            "reviewers": self.reviewers,
            "views": self.views,
            "rendition_bytes": self.rendition_bytes,
            "outcomes": dict(sorted(self.outcomes.items())),
            "consolidation": self.consolidation,
            "adjudications": self.adjudications,
            "finished_at": self.finished_at.isoformat(),
        }


@dataclass
class _Seat:
    profile: ReviewerProfile
    token: str


def run_reviewers(
    store: Store,
    fleet: SimFleet,
    start: datetime,
    per_site: int = 2,
    settings: ReviewSettings = ReviewSettings(),
    progress: Progress | None = None,
) -> ReviewRun:
    """Let ``per_site`` simulated reviewers at each site work the queue from ``start`` until it is empty;
    ``progress`` hears of each view against the views so far plus the answers the queue still wants."""
    clock = SimClock(start)
    profiles = build_reviewers(fleet.config.seed, per_site)
    seats = [_Seat(p, add_user(store, "reviewer", None, p.site, start)["token"]) for p in profiles]
    run = ReviewRun(start, reviewers=len(seats))
    eyes = Eyes(fleet)
    app = create_app(store, clock=clock)
    app.state.review_settings = settings
    with _served(app) as client:
        for _ in range(ROUNDS):
            with store.connect() as conn:
                wanted = run.views + queue.answers_wanted(conn)

            def viewed(wanted: int = wanted) -> None:
                if progress:
                    progress("review", run.views, max(wanted, run.views))

            _work_the_queue(store, client, clock, seats, eyes, run, fleet.config.seed, viewed)
            run.consolidation = consolidation.consolidate(store, clock.now)
            run.adjudications += run.consolidation["adjudications_queued"]
            if not run.consolidation["adjudications_queued"]:
                break
    run.finished_at = clock.now
    return run


def _work_the_queue(
    store: Store,
    client: httpx.Client,
    clock: SimClock,
    seats: list[_Seat],
    eyes: Eyes,
    run: ReviewRun,
    seed: int,
    viewed: Callable[[], None],
) -> None:
    ready = [(clock.now, index) for index in range(len(seats))]
    heapq.heapify(ready)
    latest = clock.now
    while ready:
        at, index = heapq.heappop(ready)
        clock.now = at
        finished = _one_task(store, client, clock, seats[index], eyes, run, seed)
        viewed()
        latest = max(latest, clock.now)
        if finished is not None:
            heapq.heappush(ready, (finished, index))
    clock.now = latest


def _one_task(
    store: Store,
    client: httpx.Client,
    clock: SimClock,
    seat: _Seat,
    eyes: Eyes,
    run: ReviewRun,
    seed: int,
) -> datetime | None:
    """One task from asking to answering; the moment the reviewer is free again, or None if no work."""
    auth = {"Authorization": f"Bearer {seat.token}"}
    offered = client.post("/api/review/next", headers=auth)
    if offered.status_code == 204:
        return None
    offered.raise_for_status()
    work = offered.json()
    media = client.get(work["media_url"], headers=auth)
    media.raise_for_status()
    run.views += 1
    run.rendition_bytes += len(media.content)
    camera_id, started_at, duration_s = _scene_of(store, work["task_token"])
    truth, private = eyes.watch(camera_id, started_at, duration_s)
    # The answer's stream is the reviewer's and the recording's, never the task token's: a token is random, and
    # one seed and start must give the same answers (a reviewer never holds one clip twice, so this is unique).
    rng = rng_for(seed, "answers", seat.profile.id, camera_id, iso_utc(started_at))
    given = answer(seat.profile, truth, work["ai_label"] or "no_event", rng, private=private)
    clock.now += timedelta(seconds=given.seconds)
    task = f"/api/review/tasks/{work['task_token']}"
    if isinstance(given, Annotation):
        body = {"label": given.label, "ai_correct": given.ai_correct}
        sent = client.post(f"{task}/annotations", headers=auth, json=body)
        outcome = "answered"
    else:
        sent = client.post(f"{task}/flag-private", headers=auth)
        outcome = "flagged_private"
    run.outcomes[outcome if sent.is_success else ("lease_ended" if sent.status_code == 409 else "refused")] += 1
    return clock.now


def _scene_of(store: Store, task_token: str) -> tuple[str, datetime, float]:
    """Which recording plays behind a task token. The simulation needs it to know what the simulated person
    sees; the reviewer's own requests never carry it."""
    with store.connect() as conn:
        row = conn.execute(
            select(clips.c.camera_id, clips.c.started_at, clips.c.duration_s)
            .join(review_leases, review_leases.c.clip_id == clips.c.id)
            .where(review_leases.c.id == task_token)
        ).one()
    return row.camera_id, row.started_at, row.duration_s


@contextmanager
def _served(app: Any) -> Iterator[httpx.Client]:
    """The app on a free loopback port, in a thread, for the duration of the block."""
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        if not thread.is_alive():
            raise RuntimeError("the review server did not start")
        threading.Event().wait(0.01)
    port = server.servers[0].sockets[0].getsockname()[1]
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
            yield client
    finally:
        server.should_exit = True
        thread.join()
