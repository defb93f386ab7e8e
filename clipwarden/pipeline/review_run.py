"""Drive the simulated reviewers through the reviewer HTTP API, as a person's browser would.

The web app is served on a loopback port; each simulated reviewer has an account at its site and works with
its bearer token: asks for the next task, downloads the rendition from the signed URL, watches (the
simulation's stand-in for watching is the clip's true scene, read in `sim.reviewers.Eyes`), then submits a
label or stops the view as private. ``ReviewFloor`` does one step of one reviewer at a time, in simulated time:
the app's clock is set to the step's moment, so that ``pipeline.days`` can interleave the reviewers' steps with
the owners' actions and every entry of the audit log is written in time order.
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx
import uvicorn
from sqlalchemy import select

from clipwarden.review.leases import ReviewSettings
from clipwarden.services.users import add_user
from clipwarden.sim import SimFleet
from clipwarden.sim.reviewers import Annotation, Eyes, PrivateFlag, ReviewerProfile, answer, build_reviewers
from clipwarden.sim.seeding import rng_for
from clipwarden.store import Store
from clipwarden.store.schema import clips, review_leases
from clipwarden.times import iso_utc
from clipwarden.web.app import create_app


@dataclass
class SimClock:
    now: datetime

    def __call__(self) -> datetime:
        return self.now


@dataclass
class ReviewRun:
    finished_at: datetime  # when the last reviewer finished, in simulated time
    reviewers: int = 0
    shifts: int = 0  # site shifts worked, the closing one included
    views: int = 0
    rendition_bytes: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)  # answered / flagged_private / lease_ended / refused
    consolidation: dict[str, Any] = field(default_factory=dict)  # the last one's
    adjudications: int = 0  # queued over all consolidations

    def as_dict(self) -> dict[str, Any]:
        return {
            "reviewers": self.reviewers,
            "shifts": self.shifts,
            "views": self.views,
            "rendition_bytes": self.rendition_bytes,
            "outcomes": dict(sorted(self.outcomes.items())),
            "consolidation": self.consolidation,
            "adjudications": self.adjudications,
            "finished_at": self.finished_at.isoformat(),
        }


@dataclass
class _Work:
    """A task a reviewer is watching: where to send the answer, and the answer the person will give."""

    task: str
    given: Annotation | PrivateFlag


@dataclass
class Seat:
    profile: ReviewerProfile
    token: str
    work: _Work | None = None


class ReviewFloor:
    """The simulated reviewers at their seats, working through the served app. Use as a context manager."""

    def __init__(
        self, store: Store, fleet: SimFleet, start: datetime, per_site: int, settings: ReviewSettings = ReviewSettings()
    ) -> None:
        self.clock = SimClock(start)
        self._store, self._seed, self._eyes = store, fleet.config.seed, Eyes(fleet)
        profiles = build_reviewers(fleet.config.seed, per_site)
        self.seats = [Seat(p, add_user(store, "reviewer", None, p.site, start)["token"]) for p in profiles]
        self.run = ReviewRun(start, reviewers=len(self.seats))
        self._app = create_app(store, clock=self.clock)
        self._app.state.review_settings = settings
        self._client: httpx.Client | None = None
        self._open = ExitStack()

    def __enter__(self) -> ReviewFloor:
        self._client = self._open.enter_context(_served(self._app))
        return self

    def __exit__(self, *exc: object) -> None:
        self._open.close()
        self._client = None

    def take(self, seat: Seat) -> datetime | None:
        """The reviewer asks for a task and watches it: when the answer will be sent, or None if no work."""
        client, auth = self._http(), _auth(seat)
        offered = client.post("/api/review/next", headers=auth)
        if offered.status_code == 204:
            return None
        offered.raise_for_status()
        work = offered.json()
        media = client.get(work["media_url"], headers=auth)
        media.raise_for_status()
        self.run.views += 1
        self.run.rendition_bytes += len(media.content)
        camera_id, started_at, duration_s = _scene_of(self._store, work["task_token"])
        truth, private = self._eyes.watch(camera_id, started_at, duration_s)
        # The answer's stream is the reviewer's and the recording's, never the task token's: a token is random,
        # and one seed and start must give the same answers (a reviewer never holds one clip twice).
        rng = rng_for(self._seed, "answers", seat.profile.id, camera_id, iso_utc(started_at))
        given = answer(seat.profile, truth, work["ai_label"] or "no_event", rng, private=private)
        seat.work = _Work(f"/api/review/tasks/{work['task_token']}", given)
        return self.clock.now + timedelta(seconds=given.seconds)

    def send(self, seat: Seat) -> None:
        """The reviewer sends the answer to the task in view (or stops it as private)."""
        if seat.work is None:
            raise RuntimeError(f"reviewer {seat.profile.id} has no task in view")
        client, auth, work, seat.work = self._http(), _auth(seat), seat.work, None
        if isinstance(work.given, Annotation):
            body = {"label": work.given.label, "ai_correct": work.given.ai_correct}
            sent = client.post(f"{work.task}/annotations", headers=auth, json=body)
            outcome = "answered"
        else:
            sent = client.post(f"{work.task}/flag-private", headers=auth)
            outcome = "flagged_private"
        if not sent.is_success:
            outcome = "lease_ended" if sent.status_code == 409 else "refused"
        self.run.outcomes[outcome] += 1

    def _http(self) -> httpx.Client:
        if self._client is None:
            raise RuntimeError("the review floor is not open: use it as a context manager")
        return self._client


def _auth(seat: Seat) -> dict[str, str]:
    return {"Authorization": f"Bearer {seat.token}"}


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
