"""Leases: which task a reviewer is offered, for how long it is theirs, and what ends the hold.

A reviewer asking for work is offered the oldest queued task that still wants answers, on a clip this
reviewer never held (one reviewer never answers twice for one clip), whose clip the enforcement point would
let this reviewer see (a preview: nothing is shown, and viewing itself goes through the gate and is logged).
Gold tasks, whose answer is known, are mixed in at ``gold_rate``. A lease ends when its answer is submitted,
when the reviewer stops it ("private content"), when its time runs out (the task wants an answer again), or
when consent, deletion or quarantine takes the clip away. Functions here run in the caller's transaction.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, time, timedelta
from typing import Any, Literal

from sqlalchemy import ColumnElement, Connection, Row, Select, and_, exists, func, select, update

from clipwarden.errors import Conflict, NotFound
from clipwarden.policy import gate
from clipwarden.policy.decision import Actor
from clipwarden.policy.gate import Circumstances
from clipwarden.store.schema import clips, review_leases, review_tasks, view_sessions

HUMAN_REVIEW = "human_review_for_model_improvement"
LIVE = ("active", "submitted")  # leases that hold one of a task's answer slots
EndStatus = Literal["submitted", "expired", "stopped", "revoked"]

_leases, _tasks = review_leases.c, review_tasks.c
TaskRow = Row[Any, Any, Any, Any, Any]  # id, clip_id, gold_label, answers_needed, status
_IN_BATCH = 500


@dataclass(frozen=True)
class ReviewSettings:
    """The review floor's rules; defaults as reported for the original pipeline where there is a report."""

    daily_cap: int = 150  # clips a reviewer may be shown in one UTC day (the reported figure)
    task_time_limit: timedelta = timedelta(minutes=10)  # a lease: about three clips at the reported pace
    gold_rate: float = 0.1  # share of offers that are gold tasks, when any are queued
    max_active: int = 2  # leases one reviewer may hold at once: the clip in view and the next one, prepared
    candidates: int = 40  # queued tasks looked at per offer

    def __post_init__(self) -> None:
        if self.daily_cap < 1 or self.max_active < 1 or self.candidates < 1:
            raise ValueError("daily_cap, max_active and candidates must be positive")
        if not 0.0 <= self.gold_rate <= 1.0:
            raise ValueError(f"gold_rate must be in [0, 1], not {self.gold_rate}")
        if self.task_time_limit <= timedelta(0):
            raise ValueError("task_time_limit must be positive")


@dataclass(frozen=True)
class Lease:
    token: str
    task_id: str
    clip_id: str
    reviewer_id: str
    leased_at: datetime
    expires_at: datetime
    status: str
    gold: bool

    def live_at(self, at: datetime) -> bool:
        return self.status == "active" and at < self.expires_at


def offer(
    conn: Connection, reviewer: Actor, at: datetime, settings: ReviewSettings, holding: Sequence[str] = ()
) -> Lease | None:
    """The reviewer's oldest active lease not in ``holding``, or a new one; None when the daily cap or the
    number of active leases is reached, or when no task may be offered."""
    expire_due(conn, at)
    mine = _active(conn, reviewer.id)
    waiting = [lease for lease in mine if lease.token not in holding]
    if waiting:
        return waiting[0]
    if len(mine) >= settings.max_active or views_today(conn, reviewer.id, at) >= settings.daily_cap:
        return None
    gold_first = _gold_turn(reviewer.id, views_today(conn, reviewer.id, at), settings.gold_rate)
    for gold in (gold_first, not gold_first):
        task = _first_offerable(conn, reviewer, at, settings, gold)
        if task is not None:
            return _grant(conn, reviewer, task, at, settings)
    return None


def lease_of(conn: Connection, reviewer: Actor, token: str, lock: bool = False) -> Lease:
    """The reviewer's lease with this token; another reviewer's, or none, is NotFound (tokens are not probed)."""
    query = select(review_leases, _tasks.gold_label).join(review_tasks, _tasks.id == _leases.task_id)
    query = query.where(_leases.id == token)
    row = conn.execute(query.with_for_update(of=review_leases) if lock else query).first()
    if row is None or row.reviewer_id != reviewer.id:
        raise NotFound("unknown task token")
    return _lease(row)


def live_lease(conn: Connection, reviewer: Actor, token: str, at: datetime) -> Lease:
    """The reviewer's lease, locked, which must still be running: Conflict once it has ended."""
    lease = lease_of(conn, reviewer, token, lock=True)
    if lease.status == "active" and at >= lease.expires_at:
        end(conn, [lease.token], "expired", at)
        lease = lease_of(conn, reviewer, token)
    if lease.status != "active":
        raise Conflict(f"the lease on this task has ended ({lease.status})")
    return lease


def views_today(conn: Connection, reviewer_id: str, at: datetime, excluding: str | None = None) -> int:
    """Leases the reviewer took since 00:00 UTC of ``at``'s day (each is one clip shown)."""
    midnight = datetime.combine(at.date(), time(), tzinfo=at.tzinfo)
    query = select(func.count()).select_from(review_leases)
    query = query.where(_leases.reviewer_id == reviewer_id, _leases.leased_at >= midnight, _leases.leased_at <= at)
    if excluding is not None:
        query = query.where(_leases.id != excluding)
    return int(conn.execute(query).scalar_one())


def circumstances(conn: Connection, lease: Lease, at: datetime, settings: ReviewSettings) -> Circumstances:
    """What the gate needs to know of a lease: whether it runs, and the clips shown before it today."""
    return Circumstances(
        lease_active=lease.live_at(at),
        views_today=views_today(conn, lease.reviewer_id, at, excluding=lease.token),
        daily_cap=settings.daily_cap,
    )


def end(conn: Connection, tokens: Sequence[str], status: EndStatus, at: datetime) -> None:
    """End these active leases and their viewing sessions (their renditions are purged after commit)."""
    for start in range(0, len(tokens), _IN_BATCH):
        batch = list(tokens[start : start + _IN_BATCH])
        conn.execute(
            update(review_leases)
            .where(_leases.id.in_(batch), _leases.status == "active")
            .values(status=status, ended_at=at)
        )
        conn.execute(
            update(view_sessions)
            .where(view_sessions.c.lease_id.in_(batch), view_sessions.c.ended_at.is_(None))
            .values(ended_at=at)
        )


def expire_due(conn: Connection, at: datetime) -> list[str]:
    """Leases whose time ran out end as expired; their tasks want an answer again."""
    return _end_where(conn, and_(_leases.status == "active", _leases.expires_at <= at), "expired", at)


def revoke_for_tasks(conn: Connection, task_ids: Sequence[str], at: datetime) -> list[str]:
    return _revoke_where_in(conn, _leases.task_id, task_ids, at)


def revoke_for_clips(conn: Connection, clip_ids: Sequence[str], at: datetime) -> list[str]:
    return _revoke_where_in(conn, _leases.clip_id, clip_ids, at)


def _revoke_where_in(conn: Connection, column: ColumnElement[str], ids: Sequence[str], at: datetime) -> list[str]:
    """End the active leases whose ``column`` is one of ``ids`` as revoked, in batches of IN (...)."""
    revoked: list[str] = []
    for start in range(0, len(ids), _IN_BATCH):
        batch = list(ids[start : start + _IN_BATCH])
        revoked += _end_where(conn, and_(_leases.status == "active", column.in_(batch)), "revoked", at)
    return revoked


def _end_where(conn: Connection, criterion: ColumnElement[bool], status: EndStatus, at: datetime) -> list[str]:
    tokens = sorted(conn.execute(select(_leases.id).where(criterion)).scalars())
    end(conn, tokens, status, at)
    return tokens


def _active(conn: Connection, reviewer_id: str) -> list[Lease]:
    query = select(review_leases, _tasks.gold_label).join(review_tasks, _tasks.id == _leases.task_id)
    query = query.where(_leases.reviewer_id == reviewer_id, _leases.status == "active")
    return [_lease(row) for row in conn.execute(query.order_by(_leases.leased_at, _leases.id))]


def _gold_turn(reviewer_id: str, shown: int, rate: float) -> bool:
    """Whether this offer should be a gold task: a fixed, even spread over each reviewer's offers."""
    digest = hashlib.sha256(f"{reviewer_id}:{shown}".encode()).digest()
    return int.from_bytes(digest[:4], "big") < rate * 2**32


def _first_offerable(
    conn: Connection, reviewer: Actor, at: datetime, settings: ReviewSettings, gold: bool
) -> TaskRow | None:
    """The first candidate this reviewer may be offered, locked. Candidates are read without locks; each
    is then locked alone (SKIP LOCKED: one another offer holds is passed over, not waited for) and its
    free answer slots counted again, in a statement after the lock, so that concurrent offers never give
    a task more leases than it wants answers (PostgreSQL runs each statement on a fresh snapshot)."""
    query = select(_tasks.id).where(_tasks.status == "queued", ~_held_before(reviewer))
    if gold:
        query = query.where(_tasks.gold_label.is_not(None))
    else:
        query = query.where(_tasks.gold_label.is_(None), _taken() < _tasks.answers_needed)
    candidates = list(conn.execute(in_queue_order(query).limit(settings.candidates)).scalars())
    busy: list[str] = []  # locked by another offer just now: tried again, waiting, if nothing else is free
    for task_id in candidates:
        task = _locked_task(conn, task_id, wait=False)
        if task is None:
            busy.append(task_id)
        elif _offerable(conn, reviewer, task, at, settings, gold):
            return task
    for task_id in busy:
        task = _locked_task(conn, task_id, wait=True)
        if task is not None and _offerable(conn, reviewer, task, at, settings, gold):
            return task
    return None


def in_queue_order(query: Select[Any]) -> Select[Any]:
    """Oldest task first. Tasks queued at one instant (a consolidation's adjudications, clips that ended
    together) go in the order of their recordings, then of their stage, and only then of their ids: an id
    is random, and the order decides who answers which clip, so with ids first one seed gave other answers."""
    recording = query.join(clips, clips.c.id == _tasks.clip_id)
    return recording.order_by(_tasks.created_at, clips.c.started_at, clips.c.camera_id, _tasks.stage, _tasks.id)


def _locked_task(conn: Connection, task_id: str, wait: bool) -> TaskRow | None:
    columns = (_tasks.id, _tasks.clip_id, _tasks.gold_label, _tasks.answers_needed, _tasks.status)
    query = select(*columns).where(_tasks.id == task_id).with_for_update(skip_locked=not wait)
    return conn.execute(query).first()


def _offerable(
    conn: Connection, reviewer: Actor, task: TaskRow, at: datetime, settings: ReviewSettings, gold: bool
) -> bool:
    """Still queued, a free answer slot counted after the lock, and the gate would let this reviewer see it."""
    if task.status != "queued":
        return False
    if not gold and conn.execute(select(_taken_of(task.id))).scalar_one() >= task.answers_needed:
        return False
    would_see = Circumstances(lease_active=True, views_today=0, daily_cap=settings.daily_cap)
    return gate.preview(conn, gate.Ask(reviewer, "view_media", task.clip_id, HUMAN_REVIEW, at, would_see)).allow


def _held_before(reviewer: Actor) -> Any:
    return exists().where(_leases.clip_id == _tasks.clip_id, _leases.reviewer_id == reviewer.id)


def _taken() -> Any:
    """Live leases on the task of the enclosing query."""
    return (
        select(func.count())
        .select_from(review_leases)
        .where(_leases.task_id == _tasks.id, _leases.status.in_(LIVE))
        .scalar_subquery()
    )


def _taken_of(task_id: str) -> Any:
    return (
        select(func.count())
        .select_from(review_leases)
        .where(_leases.task_id == task_id, _leases.status.in_(LIVE))
        .scalar_subquery()
    )


def _grant(conn: Connection, reviewer: Actor, task: TaskRow, at: datetime, settings: ReviewSettings) -> Lease:
    token = f"tt_{secrets.token_urlsafe(24)}"
    values = {
        "id": token,
        "task_id": task.id,
        "clip_id": task.clip_id,
        "reviewer_id": reviewer.id,
        "site": reviewer.site or "",
        "leased_at": at,
        "expires_at": at + settings.task_time_limit,
        "status": "active",
    }
    conn.execute(review_leases.insert().values(values))
    return Lease(
        token, task.id, task.clip_id, reviewer.id, at, values["expires_at"], "active", task.gold_label is not None
    )


def _lease(row: Row[Any]) -> Lease:
    return Lease(
        token=row.id,
        task_id=row.task_id,
        clip_id=row.clip_id,
        reviewer_id=row.reviewer_id,
        leased_at=row.leased_at,
        expires_at=row.expires_at,
        status=row.status,
        gold=row.gold_label is not None,
    )
